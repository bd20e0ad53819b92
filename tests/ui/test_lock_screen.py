"""The lock on a real window and engine: the booth locks itself (in kiosk mode and out of it); behind the
lock each lane keeps its plate, amount and QR in view and updating, a car paid through the Bolink sandbox
gets its gate opened, and no button of the attendant's does anything; a wrong PIN keeps the lock, the
attendant's PIN lifts it and puts back what the lock put away.

PINs are checked by the engine's real booth.staff.Staff (SQLite in tmp_path) on its office thread.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from lane_driving import bring_car, driver_pays
from qr_reading import decode_qr

from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractButton, QApplication, QLineEdit, QPushButton, QWidget

from booth.config import KioskSettings, Settings
from booth.domain.lane import LaneState
from booth.engine import Engine, GateCommanded
from ui.kit.i18n import current_language, switch_language
from ui.kit.refusals import refusal_words
from ui.kit.style import Sizes
from ui.kit.wording import yuan
from ui.lanes.actions import CashPanel
from ui.people.lock_screen import LockScreen
from ui.shell.booth_lock import BoothLock
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
def idle_s() -> float:
    """The idle lock's time (a test that locks by itself makes it 0: never)."""
    return IDLE_S


@pytest.fixture
def kiosk(
    settings: Settings, engine: Engine, people: None, qtbot: Any, idle_s: float
) -> Iterator[KioskSession]:
    window = BoothWindow(settings, engine, operator=ATTENDANT)
    qtbot.addWidget(window)
    lock = BoothLock(window, staff_verifier(engine), idle_lock_s=idle_s, guard_close=False)
    session = KioskSession(window, KioskSettings(enabled=True), lock)
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
    if lock.is_locked and not lock.card_open:
        tap(qtbot, lock.unlock_button)  # the lock bar's "unlock" opens the PIN pad
    for digit in pin:
        tap(qtbot, lock.pad.keys[digit])
    tap(qtbot, lock.pad.confirm_button)


def seen_qr(window: BoothWindow, lane_id: str) -> list[str]:
    """The QR codes a phone would read in lane ``lane_id``'s QR box, as the window draws it: the window is
    rendered with everything over the lane (the lock screen) on top."""
    qr = window.lane_panel(lane_id).qr
    area = QRect(qr.mapTo(window, QPoint(0, 0)), qr.size())
    return decode_qr(window.grab(area).toImage())


def driver_side_in_view(window: BoothWindow, lane_id: str) -> None:
    panel = window.lane_panel(lane_id)
    view = panel.view
    assert view.plate is not None and view.due_fen is not None and view.code_url
    for widget in (panel.plate_label, panel.amount, panel.qr, panel.state_message):
        assert widget.isVisible(), widget.objectName()
    assert panel.amount.text() == yuan(view.due_fen)
    assert panel.qr.url == view.code_url and panel.qr.module_px() > 0
    assert seen_qr(window, lane_id) == [view.code_url]  # drawn, and not covered by the lock


def test_idle_lock_lanes_work_behind_it_and_the_attendant_unlocks(
    kiosk: KioskSession, engine: Engine, qtbot: Any
) -> None:
    window, lock = kiosk.window, kiosk.lock
    assert kiosk.idle.armed and not lock.is_locked
    with qtbot.waitSignal(lock.lockedChanged, timeout=WAIT_MS) as locked:
        pass  # nobody touches the booth
    assert locked.args == [True]
    assert lock.is_locked and lock.isVisible()
    assert lock.geometry() == window.centralWidget().rect()  # over the lanes, inside the window
    assert not lock.card_open  # the lanes in view: the PIN pad only when "unlock" is tapped
    assert not kiosk.idle.armed  # locked: nothing more to count

    # a car arrives while the booth is locked: its plate, amount and QR are on screen for its driver
    gates: list[GateCommanded] = []
    window.bridge.gateCommanded.connect(gates.append)
    panel = window.lane_panel("X1")
    bring_car(engine, "X1", "苏A12345")
    qtbot.waitUntil(lambda: panel.view.state is LaneState.AWAITING_PAYMENT and bool(panel.view.code_url),
                    timeout=WAIT_MS)
    driver_side_in_view(window, "X1")
    assert panel.plate_label.text().replace("·", "").replace(" ", "") == "苏A12345"
    first_due = panel.view.due_fen
    # the driver pays by QR behind the lock: the gate opens and the lane says so
    driver_pays(engine, "X1")
    qtbot.waitUntil(lambda: panel.view.state is LaneState.GATE_OPEN, timeout=WAIT_MS)
    assert [(g.lane_id, g.reason) for g in gates] == [("X1", "paid")]
    assert panel.state_words.text() == "道闸已开" and panel.state_words.isVisible()
    engine.vehicle_passed("X1").result(10)
    qtbot.waitUntil(lambda: panel.view.state is LaneState.IDLE, timeout=WAIT_MS)

    # the next car, parked for less: the amount and the QR follow it, still behind the lock
    bring_car(engine, "X1", "苏B67890", parked=timedelta(minutes=40))
    qtbot.waitUntil(lambda: panel.view.plate == "苏B67890" and panel.view.state is LaneState.AWAITING_PAYMENT
                    and bool(panel.view.code_url), timeout=WAIT_MS)
    assert panel.view.due_fen != first_due
    driver_side_in_view(window, "X1")
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


def within_reach(window: BoothWindow, lock: LockScreen) -> list[QAbstractButton]:
    """Every button on screen but the lock's own, and those the lock put away (a lane's open panel, the
    sync panel): hidden, they still take a click sent to them directly."""
    put_away = [*window.panels.values(), window.sync_panel]
    return [b for b in window.findChildren(QAbstractButton) if not lock.isAncestorOf(b)
            and (b.isVisible() or any(w.isAncestorOf(b) for w in put_away))]


@pytest.mark.parametrize("idle_s", [0.0])
def test_locked_no_button_of_the_attendant_does_anything_and_unlocking_restores_them(
    kiosk: KioskSession, engine: Engine, qtbot: Any
) -> None:
    window, lock = kiosk.window, kiosk.lock
    x1, x2 = window.lane_panel("X1"), window.lane_panel("X2")
    bring_car(engine, "X1", "苏A12345")
    bring_car(engine, "X2", "京AD12345", parked=timedelta(minutes=50))
    qtbot.waitUntil(lambda: all(p.view.state is LaneState.AWAITING_PAYMENT and p.view.code_url
                                for p in (x1, x2)), timeout=WAIT_MS)
    # the attendant was taking cash at X1 (typed 100) and had the sync panel open when they left
    tap(qtbot, x1.action_buttons["cash"])
    cash = x1.open_action()
    assert isinstance(cash, CashPanel)
    qtbot.keyClicks(cash.field, "100")
    window.open_sync_panel()
    assert window.sync_panel.isVisible()
    enabled_before = {a: b.isEnabled() for a, b in x2.action_buttons.items()}
    assert enabled_before["cash"] and enabled_before["free_release"]

    lock.lock()
    # the panel is put away (the lane's QR back in view), the sheet hidden, each lane says it is locked
    assert x1.open_action() is None and not window.sync_panel.isVisible()
    for lane_id in ("X1", "X2"):
        driver_side_in_view(window, lane_id)
        assert window.lane_panel(lane_id).lock_note.isVisible()
    language, views = current_language(), {p.lane_id: p.view for p in (x1, x2)}
    submitted: list[object] = []
    window.bridge.commandDone.connect(submitted.append)
    buttons = within_reach(window, lock)
    assert len(buttons) > 40
    for button in buttons:
        if button.isVisible():
            assert not button.isEnabled(), f"{button.text()!r} can be used while locked"
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)  # visible or not: nothing may happen
    qtbot.wait(200)
    assert submitted == [] and {p.lane_id: p.view for p in (x1, x2)} == views
    assert x1.open_action() is None and x2.open_action() is None
    assert not window.sync_panel.isVisible() and not window.staff_screens.sign_in.isVisible()
    assert current_language() == language and window.person is not None
    assert lock.is_locked and not lock.card_open

    with qtbot.waitSignal(lock.unlocked, timeout=WAIT_MS):
        type_pin(qtbot, lock, ATTENDANT_PIN)
    # as it was: the cash panel open again with what was typed, the sync panel back, the buttons usable
    assert x1.open_action() is cash and cash.field.text() == "100"
    assert window.sync_panel.isVisible()
    assert {a: b.isEnabled() for a, b in x2.action_buttons.items()} == enabled_before
    assert not x1.lock_note.isVisible() and x2.action_bar.isVisible()
    for button in [*window.staff_screens.buttons, window.language_button, window.sync_indicator]:
        assert button.isEnabled()


@pytest.mark.parametrize("idle_s", [0.0])
def test_a_panel_put_away_for_a_car_that_left_is_closed_in_words(
    kiosk: KioskSession, engine: Engine, qtbot: Any
) -> None:
    window, lock = kiosk.window, kiosk.lock
    x1 = window.lane_panel("X1")
    bring_car(engine, "X1", "苏A12345")
    qtbot.waitUntil(lambda: x1.view.state is LaneState.AWAITING_PAYMENT and bool(x1.view.code_url),
                    timeout=WAIT_MS)
    tap(qtbot, x1.action_buttons["cash"])
    qtbot.keyClicks(x1.panels["cash"].field, "50")
    lock.lock()
    driver_pays(engine, "X1")  # the driver paid by QR meanwhile and left
    qtbot.waitUntil(lambda: x1.view.state is LaneState.GATE_OPEN, timeout=WAIT_MS)
    engine.vehicle_passed("X1").result(10)
    bring_car(engine, "X1", "苏B67890")
    qtbot.waitUntil(lambda: x1.view.plate == "苏B67890", timeout=WAIT_MS)
    with qtbot.waitSignal(lock.unlocked, timeout=WAIT_MS):
        type_pin(qtbot, lock, ATTENDANT_PIN)
    assert x1.open_action() is None
    assert x1.feedback.text() == "车辆已变化，「收现金」已关闭"  # not silently: the attendant is told


def test_the_idle_lock_works_out_of_kiosk_mode_and_closing_then_needs_a_supervisor(
    settings: Settings, engine: Engine, people: None, qtbot: Any
) -> None:
    window = BoothWindow(settings, engine, operator=ATTENDANT)
    qtbot.addWidget(window)
    booth_lock = BoothLock(window, staff_verifier(engine), idle_lock_s=IDLE_S)  # no KioskSession
    window.show_for_booth(kiosk=False)
    booth_lock.start()
    qtbot.waitExposed(window)
    window.set_operator(engine.office(engine.staff.authenticate, ATTENDANT, ATTENDANT_PIN).result(10))
    lock = booth_lock.lock
    try:
        assert not window.windowFlags() & Qt.WindowType.FramelessWindowHint  # a normal window
        with qtbot.waitSignal(lock.lockedChanged, timeout=WAIT_MS) as locked:
            pass  # nobody touches the booth
        assert locked.args == [True] and lock.is_locked
        assert not window.lane_panel("X1").action_buttons["manual_lift"].isEnabled()
        # the window manager's close button: the lanes would stop, so a supervisor is asked for
        assert window.close() is False
        assert window.isVisible() and lock.mode == "supervisor"
        tap(qtbot, lock.cancel_button)
        assert lock.mode == "locked"
        with qtbot.waitSignal(lock.unlocked, timeout=WAIT_MS):
            type_pin(qtbot, lock, ATTENDANT_PIN)
        assert window.lane_panel("X1").action_buttons["manual_lift"].isEnabled()
        assert booth_lock.idle.armed
    finally:
        booth_lock.stop()
    assert window.close()  # the owner closes it (unlocked, or after stop()): no PIN


@pytest.mark.parametrize("idle_s", [0.0])
def test_the_unlock_card_closes_itself_when_nobody_types(kiosk: KioskSession, qtbot: Any) -> None:
    lock = kiosk.lock
    lock.lock()
    lock.card_timer.setInterval(200)
    tap(qtbot, lock.unlock_button)
    tap(qtbot, lock.pad.keys["4"])
    assert lock.card_open and lock.pad.field.text() == "4"
    qtbot.waitUntil(lambda: not lock.card_open, timeout=WAIT_MS)
    assert lock.is_locked and lock.pad.field.text() == ""  # the lanes in full view again, still locked


@pytest.mark.parametrize("idle_s", [600.0])  # this test looks at the count, not at a lock
def test_a_touch_resets_the_idle_count(kiosk: KioskSession, qtbot: Any) -> None:
    before = kiosk.idle.resets
    qtbot.mouseClick(kiosk.window.lane_panel("X1"), Qt.MouseButton.LeftButton)
    qtbot.keyClick(kiosk.window.lane_panel("X2"), Qt.Key.Key_A)
    assert kiosk.idle.resets >= before + 3  # press, release, key
    assert kiosk.idle.armed and not kiosk.lock.is_locked


@pytest.mark.parametrize("idle_s", [0.0])  # it locks by itself (the 0.3-s idle lock locked a slow run first)
def test_keys_never_reach_a_field_behind_the_lock(kiosk: KioskSession, qtbot: Any) -> None:
    """A keyboard's keys (through the window's QWindow, as the platform delivers them) go to the PIN pad."""
    window = kiosk.window
    behind = QLineEdit(window.lane_panel("X1"))
    behind.show()
    behind.setFocus()
    handle = window.windowHandle()
    assert handle is not None
    QTest.keyClick(handle, Qt.Key.Key_3)
    assert behind.text() == "3"  # unlocked: the field takes its keys
    kiosk.lock.lock()
    for key in (Qt.Key.Key_1, Qt.Key.Key_2):
        QTest.keyClick(handle, key)
    assert behind.text() == "3"
    assert kiosk.lock.pad.field.text() == "12"  # typed into the PIN pad instead (its card opened)
    assert kiosk.lock.card_open
    kiosk.lock.close_card()
    assert QApplication.instance() is not None
    assert kiosk.lock not in QApplication.instance().children()  # not an application-wide filter


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
        lock.stop()
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


@pytest.mark.parametrize("idle_s", [0.0])
def test_a_new_layout_while_locked_keeps_the_lanes_locked(
    kiosk: KioskSession, engine: Engine, qtbot: Any
) -> None:
    """The window chooses another layout for its size (the lanes are made again) while locked: the new
    lanes are locked too, and the panel put away opens again (for the same car) on unlock."""
    window, lock = kiosk.window, kiosk.lock
    x1 = window.lane_panel("X1")
    bring_car(engine, "X1", "苏A12345")
    qtbot.waitUntil(lambda: x1.view.state is LaneState.AWAITING_PAYMENT and bool(x1.view.code_url),
                    timeout=WAIT_MS)
    tap(qtbot, x1.action_buttons["free_release"])
    lock.lock()
    window.lane_row.remake(Sizes.for_screen(compact=not window.sizes.compact))
    remade = window.lane_panel("X1")
    assert remade is not x1 and remade.locked
    assert remade.open_action() is None and remade.lock_note.isVisibleTo(remade)
    assert not any(b.isEnabled() for b in remade.action_buttons.values())
    with qtbot.waitSignal(lock.unlocked, timeout=WAIT_MS):
        type_pin(qtbot, lock, ATTENDANT_PIN)
    panel = remade.open_action()
    assert panel is not None and panel.action == "free_release"
    assert remade.action_buttons["cash"].isEnabled() and not remade.lock_note.isVisibleTo(remade)


# ------------------------------------------------------------------------------------------ lock now
@pytest.mark.parametrize("idle_s", [0.0])  # no idle lock: only the tap locks
def test_lock_now_one_tap_on_the_top_bar_locks_as_the_idle_lock_does(
    kiosk: KioskSession, engine: Engine, qtbot: Any
) -> None:
    """Issue #15: the attendant leaving the booth locks it at once with one tap (the idle lock is off here,
    so only the tap can have locked it); the same lock: lanes in view and working, actions off."""
    window, lock = kiosk.window, kiosk.lock
    lock_button = kiosk.booth_lock.lock_button
    assert window.top_bar.isAncestorOf(lock_button)
    x1 = window.lane_panel("X1")
    bring_car(engine, "X1", "苏A12345")
    qtbot.waitUntil(lambda: x1.view.state is LaneState.AWAITING_PAYMENT and bool(x1.view.code_url),
                    timeout=WAIT_MS)
    assert not lock.is_locked
    with qtbot.waitSignal(lock.lockedChanged, timeout=WAIT_MS) as locked:
        tap(qtbot, lock_button)
    assert locked.args == [True] and lock.is_locked and lock.isVisible() and not lock.card_open
    driver_side_in_view(window, "X1")
    assert x1.lock_note.isVisible() and not x1.action_buttons["cash"].isEnabled()
    assert not lock_button.isEnabled()  # under the lock bar, off with the other top-bar buttons
    # behind the lock the driver still pays and the gate opens
    driver_pays(engine, "X1")
    qtbot.waitUntil(lambda: x1.view.state is LaneState.GATE_OPEN, timeout=WAIT_MS)
    with qtbot.waitSignal(lock.unlocked, timeout=WAIT_MS):
        type_pin(qtbot, lock, ATTENDANT_PIN)
    assert lock_button.isEnabled() and x1.action_buttons["manual_lift"].isVisible()


@pytest.mark.parametrize("idle_s", [0.0])
def test_lock_now_is_off_while_nobody_is_signed_in(kiosk: KioskSession, qtbot: Any) -> None:
    """Nobody could lift a lock with no signed-in attendant: the button is off, and locking does nothing."""
    window, booth_lock = kiosk.window, kiosk.booth_lock
    window.set_operator(None)
    assert not booth_lock.lock_button.isEnabled()
    booth_lock.lock_now()
    assert not kiosk.lock.is_locked
    window.set_operator(kiosk.window.engine.office(
        kiosk.window.engine.staff.authenticate, ATTENDANT, ATTENDANT_PIN).result(10))
    assert booth_lock.lock_button.isEnabled()


# ------------------------------------------------------------------------------------------ language
@pytest.fixture
def back_to_chinese(qtbot: Any) -> Iterator[None]:
    yield
    app = QApplication.instance()
    if current_language() != "zh_CN" and app is not None:
        switch_language(app, "zh_CN")


@pytest.mark.parametrize("idle_s", [0.0])
def test_the_language_switches_on_the_lock_screen_and_nothing_else_changes(
    kiosk: KioskSession, engine: Engine, qtbot: Any, back_to_chinese: None
) -> None:
    """Issue #15: the driver's words and the lock's words follow a switch of language made while locked;
    the booth stays locked, no command is sent, and switching back works the same way."""
    window, lock = kiosk.window, kiosk.lock
    x1 = window.lane_panel("X1")
    bring_car(engine, "X1", "苏A12345")
    qtbot.waitUntil(lambda: x1.view.state is LaneState.AWAITING_PAYMENT and bool(x1.view.code_url),
                    timeout=WAIT_MS)
    lock.lock()
    assert current_language() == "zh_CN" and x1.state_words.text() == "待付款"
    assert lock.title.text() == "已锁屏" and lock.language_button.text() == "English"
    submitted: list[object] = []
    window.bridge.commandDone.connect(submitted.append)
    view = x1.view

    tap(qtbot, lock.language_button)
    assert current_language() == "en"
    qtbot.waitUntil(lambda: lock.title.text() == "Screen locked", timeout=WAIT_MS)  # LanguageChange, posted
    assert lock.is_locked and lock.isVisible() and not lock.card_open
    assert lock.title.text() == "Screen locked" and lock.language_button.text() == "中文"
    assert ATTENDANT in lock.bar_prompt.text() and "暂时离开" not in lock.bar_prompt.text()
    assert x1.state_words.text() == "Awaiting payment"  # the driver's words
    assert x1.lock_note.isVisible() and not x1.action_buttons["cash"].isEnabled()
    driver_side_in_view(window, "X1")
    assert not window.language_button.isEnabled()  # the top bar's, under the lock bar: still off

    tap(qtbot, lock.language_button)
    assert current_language() == "zh_CN"
    qtbot.waitUntil(lambda: lock.title.text() == "已锁屏", timeout=WAIT_MS)
    assert x1.state_words.text() == "待付款" and lock.is_locked
    qtbot.wait(100)
    assert submitted == [] and x1.view == view
    with qtbot.waitSignal(lock.unlocked, timeout=WAIT_MS):
        type_pin(qtbot, lock, ATTENDANT_PIN)
    assert window.language_button.isEnabled()


@pytest.mark.parametrize("idle_s", [0.0])
def test_a_refused_pin_is_said_again_in_the_language_switched_to(
    kiosk: KioskSession, qtbot: Any, back_to_chinese: None
) -> None:
    """The refusal under the PIN pad (its words and the tries left) follows a switch made on the lock bar;
    it stayed in the language the PIN was refused in."""
    lock = kiosk.lock
    lock.lock()
    type_pin(qtbot, lock, "1357")
    qtbot.waitUntil(lambda: lock.message.text() == "PIN 不正确（还可再试 4 次）", timeout=WAIT_MS)
    tap(qtbot, lock.language_button)
    qtbot.waitUntil(lambda: lock.title.text() == "Screen locked", timeout=WAIT_MS)  # LanguageChange, posted
    assert lock.message.text() == "Wrong PIN (4 tries left)" and lock.is_locked
    tap(qtbot, lock.language_button)
    qtbot.waitUntil(lambda: lock.title.text() == "已锁屏", timeout=WAIT_MS)
    assert lock.message.text() == "PIN 不正确（还可再试 4 次）"
    with qtbot.waitSignal(lock.unlocked, timeout=WAIT_MS):
        type_pin(qtbot, lock, ATTENDANT_PIN)
