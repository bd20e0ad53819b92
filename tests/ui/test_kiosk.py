"""Kiosk mode on a real window and engine (Bolink sandbox): escape attempts are refused, and only a
supervisor's PIN — checked by the engine's real Staff on its office thread — lets the window close."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QGuiApplication, QKeyEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QPushButton

from booth.config import KioskSettings, Settings
from booth.engine import Engine
from ui.shell.booth_lock import BoothLock
from ui.shell.kiosk import KioskSession, escape_name, staff_verifier
from ui.shell.main_window import BoothWindow

WAIT_MS = 10_000
ATTENDANT, ATTENDANT_PIN = "ceshi", "2468"
SUPERVISOR, SUPERVISOR_PIN = "boss", "9753"


@pytest.fixture
def people(engine: Engine) -> None:
    """A supervisor and an attendant in the engine's own database (real scrypt PIN hashes)."""
    staff = engine.staff
    engine.office(staff.add_person, SUPERVISOR, "主管", "supervisor", SUPERVISOR_PIN, by="system").result(10)
    engine.office(staff.add_person, ATTENDANT, "测试员", "attendant", ATTENDANT_PIN, by=SUPERVISOR).result(10)


@pytest.fixture
def kiosk(settings: Settings, engine: Engine, people: None, qtbot: Any) -> Iterator[KioskSession]:
    window = BoothWindow(settings, engine, operator=ATTENDANT)
    qtbot.addWidget(window)
    settings_ = KioskSettings(enabled=True, hide_cursor=True)
    lock = BoothLock(window, staff_verifier(engine), idle_lock_s=0, guard_close=False)
    session = KioskSession(window, settings_, lock)
    window.show_for_booth(kiosk=True)
    session.start()
    qtbot.waitExposed(window)
    # the attendant signs in (the window's sign-in screen does this with the same Staff); the lock follows
    window.set_operator(engine.office(engine.staff.authenticate, ATTENDANT, ATTENDANT_PIN).result(10))
    assert session.lock.attendant == ATTENDANT
    yield session
    session.stop()  # the owner closes the window (as run_window does on SIGTERM)


def full_screen(window: BoothWindow) -> bool:
    """Full screen as asked of the platform window (offscreen's 800x800 screen is smaller than the window's
    minimum size, so QWidget's own state falls back to normal when the plugin fits the geometry)."""
    handle = window.windowHandle()
    return handle is not None and handle.windowState() == Qt.WindowState.WindowFullScreen


def tap(qtbot: Any, button: QPushButton) -> None:
    assert button.isVisible() and button.isEnabled(), f"{button.text()!r} cannot be tapped now"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def type_pin(qtbot: Any, session: KioskSession, pin: str) -> None:
    pad = session.lock.pad
    for digit in pin:
        tap(qtbot, pad.keys[digit])
    tap(qtbot, pad.confirm_button)


def test_kiosk_window_is_frameless_full_screen_without_a_pointer(kiosk: KioskSession) -> None:
    window = kiosk.window
    assert full_screen(window)
    assert window.windowFlags() & Qt.WindowType.FramelessWindowHint
    cursor = QGuiApplication.overrideCursor()
    assert cursor is not None and cursor.shape() == Qt.CursorShape.BlankCursor
    kiosk.stop()
    assert QGuiApplication.overrideCursor() is None  # the pointer is back once the guard is gone


def test_close_is_refused_and_asks_for_a_supervisor(kiosk: KioskSession, qtbot: Any) -> None:
    window = kiosk.window
    with qtbot.waitSignal(kiosk.guard.refused, timeout=WAIT_MS) as refused:
        assert window.close() is False
    assert refused.args == ["close"]
    assert window.isVisible()
    assert kiosk.lock.isVisible() and kiosk.lock.mode == "supervisor"
    tap(qtbot, kiosk.lock.cancel_button)  # changed their mind: back to the lanes
    assert not kiosk.lock.isVisible() and kiosk.lock.mode == "hidden"
    assert window.isVisible()


@pytest.mark.parametrize(
    ("key", "modifiers", "name", "asks_supervisor"),
    [
        (Qt.Key.Key_F4, Qt.KeyboardModifier.AltModifier, "Alt+F4", True),
        (Qt.Key.Key_Escape, Qt.KeyboardModifier.NoModifier, "Escape", False),
        (Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier, "Ctrl+Q", True),
        (Qt.Key.Key_W, Qt.KeyboardModifier.ControlModifier, "Ctrl+W", True),
        (Qt.Key.Key_Tab, Qt.KeyboardModifier.AltModifier, "Alt+Tab", False),
    ],
)
def test_escape_keys_are_refused(
    kiosk: KioskSession, qtbot: Any, key: Qt.Key, modifiers: Qt.KeyboardModifier, name: str,
    asks_supervisor: bool,
) -> None:
    window = kiosk.window
    seen: list[str] = []
    kiosk.guard.refused.connect(seen.append)
    # the key goes to the widget with focus, as a real keyboard's would (the window if none has it)
    target = QApplication.focusWidget() or window
    qtbot.keyClick(target, key, modifiers)
    assert seen == [name]
    assert window.isVisible() and full_screen(window)
    assert kiosk.lock.mode == ("supervisor" if asks_supervisor else "hidden")


def test_escape_names_leave_ordinary_keys_alone() -> None:
    def press(key: Qt.Key, mods: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> str | None:
        return escape_name(QKeyEvent(QEvent.Type.KeyPress, key, mods))

    assert press(Qt.Key.Key_F4, Qt.KeyboardModifier.AltModifier) == "Alt+F4"
    assert press(Qt.Key.Key_F2, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier) == (
        "Ctrl+Alt+F2"
    )
    assert press(Qt.Key.Key_Super_L) == "Super"
    assert press(Qt.Key.Key_5) is None
    assert press(Qt.Key.Key_Q) is None  # a plain Q (a plate letter) is typed as usual
    assert press(Qt.Key.Key_F4) is None


def test_only_a_supervisor_pin_lets_the_window_close(kiosk: KioskSession, engine: Engine, qtbot: Any) -> None:
    window, lock = kiosk.window, kiosk.lock
    kiosk.load_supervisors(engine)
    qtbot.waitUntil(lambda: [b.text() for b in lock.supervisor_buttons] == [SUPERVISOR], timeout=WAIT_MS)
    assert window.close() is False
    assert lock.mode == "supervisor"

    # an attendant's own (right) PIN is not a supervisor's
    qtbot.keyClicks(lock.supervisor_name, ATTENDANT)
    type_pin(qtbot, kiosk, ATTENDANT_PIN)
    qtbot.waitUntil(lambda: lock.message.text() == "需要主管的 PIN", timeout=WAIT_MS)
    assert window.isVisible() and lock.mode == "supervisor"

    # the supervisor, picked with one tap, with a wrong PIN: still refused, and told how many tries are left
    tap(qtbot, lock.supervisor_buttons[0])
    assert lock.supervisor_name.text() == SUPERVISOR
    type_pin(qtbot, kiosk, "1111")
    qtbot.waitUntil(lambda: lock.message.text().startswith("PIN 不正确"), timeout=WAIT_MS)
    assert "还可再试" in lock.message.text()
    assert window.isVisible() and not kiosk.guard.exit_allowed

    with qtbot.waitSignal(kiosk.guard.exitAllowed, timeout=WAIT_MS) as allowed:
        type_pin(qtbot, kiosk, SUPERVISOR_PIN)
    assert allowed.args == [SUPERVISOR]
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=WAIT_MS)
    assert QGuiApplication.overrideCursor() is None


def test_pin_keys_are_big_enough_to_tap(kiosk: KioskSession, qtbot: Any) -> None:
    kiosk.lock.lock()
    tap(qtbot, kiosk.lock.unlock_button)  # the lock bar's "unlock" opens the PIN pad's card
    target = kiosk.window.sizes.target
    buttons = [b for b in kiosk.lock.findChildren(QPushButton) if b.isVisible()]
    # ten digits, clear, backspace, confirm, back; the bar's unlock and the supervisor's way out
    assert len(buttons) >= 16
    for button in buttons:
        assert button.width() >= target and button.height() >= target, f"{button.text()!r} is too small"
    # (test_lock_screen unlocks the booth; here the fixture's stop() leaves it to the window's close)


def test_the_guard_watches_the_windows_own_qwindow_not_the_whole_application(
    kiosk: KioskSession, qtbot: Any
) -> None:
    """Kiosk mode made the window frameless, which made its QWindow again: the guard and the idle lock
    follow the current one, where a keyboard's keys arrive (an application-wide filter would run Python for
    every paint and layout of the booth: see ui/kit/window_input.py)."""
    window = kiosk.window
    handle = window.windowHandle()
    assert handle is not None
    assert kiosk.guard.input is not None and kiosk.guard.input.handle is handle
    assert kiosk.idle.input.handle is handle
    seen: list[str] = []
    kiosk.guard.refused.connect(seen.append)
    QTest.keyClick(handle, Qt.Key.Key_F4, Qt.KeyboardModifier.AltModifier)  # through the platform window
    assert seen == ["Alt+F4"]
    kiosk.stop()
    assert kiosk.guard.input is None and kiosk.idle.input.handle is None
    QTest.keyClick(handle, Qt.Key.Key_F4, Qt.KeyboardModifier.AltModifier)
    assert seen == ["Alt+F4"]  # no longer watched
