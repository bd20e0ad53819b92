"""The idle lock on a real window and engine: the booth locks itself, a car paid through the Bolink sandbox
behind the lock still gets its gate opened, a wrong PIN keeps the lock, the attendant's PIN lifts it.

PINs are checked by the engine's real booth.staff.Staff (SQLite in tmp_path) on its office thread.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterator
from typing import Any

import pytest
from lane_driving import bring_car, driver_pays

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit, QPushButton, QWidget

from booth.config import KioskSettings, Settings
from booth.domain.lane import LaneState
from booth.engine import Engine, GateCommanded
from ui.kit.refusals import refusal_words
from ui.people.lock_screen import LockScreen
from ui.shell.kiosk import KioskSession, staff_verifier
from ui.shell.main_window import BoothWindow

WAIT_MS = 10_000
ATTENDANT, ATTENDANT_PIN = "ceshi", "2468"
SUPERVISOR, SUPERVISOR_PIN = "boss", "9753"
IDLE_S = 0.3


@pytest.fixture
def people(engine: Engine) -> None:
    staff = engine.staff
    engine.office(staff.add_person, SUPERVISOR, "主管", "supervisor", SUPERVISOR_PIN, by="system").result(10)
    engine.office(staff.add_person, ATTENDANT, "测试员", "attendant", ATTENDANT_PIN, by=SUPERVISOR).result(10)


@pytest.fixture
def kiosk(settings: Settings, engine: Engine, people: None, qtbot: Any) -> Iterator[KioskSession]:
    window = BoothWindow(settings, engine, operator=ATTENDANT)
    qtbot.addWidget(window)
    session = KioskSession(window, KioskSettings(enabled=True, idle_lock_s=IDLE_S), staff_verifier(engine))
    window.show_for_booth(kiosk=True)
    session.start()
    qtbot.waitExposed(window)
    # the attendant signs in (the window's sign-in screen does this with the same Staff); the lock follows
    window.set_operator(engine.office(engine.staff.authenticate, ATTENDANT, ATTENDANT_PIN).result(10))
    assert session.lock.attendant == ATTENDANT
    yield session
    session.stop()


def tap(qtbot: Any, button: QPushButton) -> None:
    assert button.isVisible() and button.isEnabled(), f"{button.text()!r} cannot be tapped now"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def type_pin(qtbot: Any, lock: LockScreen, pin: str) -> None:
    for digit in pin:
        tap(qtbot, lock.pad.keys[digit])
    tap(qtbot, lock.pad.confirm_button)


def test_idle_lock_lanes_work_behind_it_and_the_attendant_unlocks(
    kiosk: KioskSession, engine: Engine, qtbot: Any
) -> None:
    window, lock = kiosk.window, kiosk.lock
    assert kiosk.idle.armed and not lock.is_locked
    with qtbot.waitSignal(lock.lockedChanged, timeout=WAIT_MS) as locked:
        pass  # nobody touches the booth
    assert locked.args == [True]
    assert lock.is_locked and lock.isVisible()
    assert lock.geometry() == window.centralWidget().rect()  # covers the lanes, inside the window
    assert not kiosk.idle.armed  # locked: nothing more to count

    # a car arrives and its driver pays by QR while the booth is locked
    gates: list[GateCommanded] = []
    window.bridge.gateCommanded.connect(gates.append)
    panel = window.lane_panel("X1")
    bring_car(engine, "X1", "苏A12345")
    qtbot.waitUntil(lambda: panel.view.state is LaneState.AWAITING_PAYMENT and bool(panel.view.code_url),
                    timeout=WAIT_MS)
    driver_pays(engine, "X1")
    qtbot.waitUntil(lambda: panel.view.state is LaneState.GATE_OPEN, timeout=WAIT_MS)
    assert [(g.lane_id, g.reason) for g in gates] == [("X1", "paid")]
    assert lock.lane_labels["X1"].text() == "东出口 · 道闸已开"  # the attendant sees it on the lock screen
    assert lock.is_locked

    # a wrong PIN: still locked, and the attendant is told why
    type_pin(qtbot, lock, "1357")
    qtbot.waitUntil(lambda: lock.message.text().startswith("PIN 不正确"), timeout=WAIT_MS)
    assert lock.is_locked and lock.isVisible()
    assert lock.pad.field.text() == ""

    with qtbot.waitSignal(lock.unlocked, timeout=WAIT_MS) as unlocked:
        type_pin(qtbot, lock, ATTENDANT_PIN)
    assert unlocked.args == [ATTENDANT]
    assert not lock.isVisible() and not lock.is_locked
    assert kiosk.idle.armed  # counting again
    assert window.isVisible()


def test_a_touch_resets_the_idle_count(kiosk: KioskSession, qtbot: Any) -> None:
    kiosk.idle.timer.setInterval(600_000)  # this test looks at the count, not at a lock
    kiosk.idle.restart()
    before = kiosk.idle.resets
    qtbot.mouseClick(kiosk.window.lane_panel("X1"), Qt.MouseButton.LeftButton)
    qtbot.keyClick(kiosk.window.lane_panel("X2"), Qt.Key.Key_A)
    assert kiosk.idle.resets >= before + 3  # press, release, key
    assert kiosk.idle.armed and not kiosk.lock.is_locked


def test_keys_never_reach_a_field_behind_the_lock(kiosk: KioskSession, qtbot: Any) -> None:
    behind = QLineEdit(kiosk.window.lane_panel("X1"))
    behind.show()
    behind.setFocus()
    kiosk.lock.lock()
    qtbot.keyClicks(behind, "12")
    assert behind.text() == ""
    assert kiosk.lock.pad.field.text() == "12"  # typed into the PIN pad instead


def test_supervisor_may_leave_from_the_lock_screen(kiosk: KioskSession, qtbot: Any) -> None:
    lock = kiosk.lock
    lock.lock()
    tap(qtbot, lock.exit_button)
    assert lock.mode == "supervisor"
    tap(qtbot, lock.cancel_button)
    assert lock.mode == "locked"  # cancelling goes back to the lock, not to the lanes
    tap(qtbot, lock.exit_button)
    lock.supervisor_name.setText(SUPERVISOR)
    with qtbot.waitSignal(kiosk.guard.exitAllowed, timeout=WAIT_MS):
        type_pin(qtbot, lock, SUPERVISOR_PIN)
    qtbot.waitUntil(lambda: not kiosk.window.isVisible(), timeout=WAIT_MS)


def test_a_verifier_that_fails_shows_its_message_and_stays_locked(qtbot: Any) -> None:
    """The injected verifier's contract: a future that fails with an exception carrying ``.message``."""

    class Refused(Exception):
        def __init__(self, message: str) -> None:
            super().__init__(message)
            self.message = message

    pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="test-verifier")

    def verify(username: str, pin: str, role: str | None) -> concurrent.futures.Future[object]:
        def check() -> object:
            raise Refused(f"the office is closed for {username}")

        return pool.submit(check)

    host = QWidget()
    qtbot.addWidget(host)
    host.resize(900, 900)
    host.show()
    lock = LockScreen(host, verify, attendant="ceshi")
    try:
        lock.lock()
        type_pin(qtbot, lock, "2468")
        qtbot.waitUntil(lambda: lock.message.text() == "the office is closed for ceshi", timeout=WAIT_MS)
        assert lock.is_locked
    finally:
        pool.shutdown(wait=True)


def test_refusal_words_for_each_staff_code() -> None:
    from booth.office.staff import AuthError

    assert refusal_words(AuthError("wrong_pin", "wrong PIN", remaining=2)) == "PIN 不正确（还可再试 2 次）"
    assert refusal_words(AuthError("not_supervisor", "not a supervisor")) == "需要主管的 PIN"
    assert refusal_words(AuthError("locked", "locked")) == "输错次数过多，已暂时锁定"
    assert refusal_words(RuntimeError("boom")) == "RuntimeError: boom"


def test_nobody_signed_in_means_no_idle_lock(kiosk: KioskSession) -> None:
    kiosk.window.set_operator(None)  # signed out: the sign-in screen is what covers the lanes now
    assert kiosk.lock.attendant == ""
    kiosk.idle.timer.timeout.emit()  # the idle time is up
    assert not kiosk.lock.is_locked and not kiosk.lock.isVisible()
    assert kiosk.idle.armed  # counts again, for when someone signs in
