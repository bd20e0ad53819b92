"""The sign-in overlay's keys (issue #15, a gap after item 6): while it shows, keys are watched on its own
window's QWindow only. A key typed into another window (a dialog over the booth, another top-level window
of the program) reaches that window's field, neither eaten nor sent to the PIN pad; a key for a widget
behind the overlay in the booth window (a lane's field that kept the focus) never reaches that widget and
goes to the PIN pad instead; the overlay's own username field takes its keys. Keys are sent as the platform
sends them: to the window's QWindow (QTest on a QWindow), not to a widget directly.
"""

from __future__ import annotations

from typing import Any

import pytest
from people_driving import ATTENDANT, WAIT_MS, seed_people

from PySide6.QtCore import QEvent, QObject
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialog, QLineEdit, QVBoxLayout, QWidget

from booth.config import Settings
from booth.engine import Engine
from ui.people.sign_in import SignInOverlay
from ui.shell.booth_lock import BoothLock
from ui.shell.kiosk import staff_verifier
from ui.shell.main_window import BoothWindow


@pytest.fixture
def signin_window(qtbot: Any, settings: Settings, engine: Engine) -> BoothWindow:
    seed_people(engine)
    window = BoothWindow(settings, engine, operator="测试员", sign_in=True)
    qtbot.addWidget(window)
    window.resize(1600, 900)
    window.show()
    qtbot.waitExposed(window)
    overlay = window.staff_screens.sign_in
    qtbot.waitUntil(lambda: ATTENDANT in overlay.people_buttons, timeout=WAIT_MS)
    return window


def focus_in(qtbot: Any, top: QWidget, field: QWidget) -> None:
    top.activateWindow()
    field.setFocus()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is field, timeout=WAIT_MS)


def type_into(top: QWidget, keys: str) -> None:
    """``keys`` as a keyboard types them into ``top``'s window: through its QWindow."""
    handle = top.windowHandle()
    assert handle is not None
    for key in keys:
        QTest.keyClick(handle, key)


def test_keys_typed_into_a_dialog_over_the_sign_in_reach_the_dialog(
    qtbot: Any, signin_window: BoothWindow
) -> None:
    overlay = signin_window.staff_screens.sign_in
    assert overlay.isVisible()
    dialog = QDialog(signin_window)
    field = QLineEdit(dialog)
    QVBoxLayout(dialog).addWidget(field)
    dialog.show()
    qtbot.waitExposed(dialog)
    try:
        focus_in(qtbot, dialog, field)
        type_into(dialog, "ab12")
        assert field.text() == "ab12"  # not eaten
        assert overlay.pad.field.text() == "" and overlay.username.text() == ""  # nor sent to the overlay
    finally:
        dialog.close()


def test_keys_typed_into_another_window_reach_it(qtbot: Any, signin_window: BoothWindow) -> None:
    overlay = signin_window.staff_screens.sign_in
    other = QWidget()
    qtbot.addWidget(other)
    field = QLineEdit(other)
    other.show()
    qtbot.waitExposed(other)
    try:
        focus_in(qtbot, other, field)
        type_into(other, "x39")
        assert field.text() == "x39"
        assert overlay.pad.field.text() == ""
    finally:
        other.close()


def test_keys_for_a_field_behind_the_sign_in_go_to_its_pin_pad(
    qtbot: Any, signin_window: BoothWindow
) -> None:
    overlay: SignInOverlay = signin_window.staff_screens.sign_in
    behind = QLineEdit(signin_window.lane_panel("X1"))  # a lane's field that kept the focus at a sign-out
    behind.show()
    focus_in(qtbot, signin_window, behind)
    type_into(signin_window, "1234")
    assert behind.text() == ""
    assert overlay.pad.field.text() == "1234"  # the keyboard's PIN is not lost
    # the overlay's own username field takes what is typed into it
    focus_in(qtbot, signin_window, overlay.username)
    type_into(signin_window, "ab")
    assert overlay.username.text() == "ab" and overlay.pad.field.text() == "1234"
    # signed in (hidden): keys reach the field behind again
    overlay.hide()
    focus_in(qtbot, signin_window, behind)
    type_into(signin_window, "7")
    assert behind.text() == "7"


def test_the_overlay_watches_its_window_not_the_application(qtbot: Any, signin_window: BoothWindow) -> None:
    """What its filter is called for while it shows: the booth window and its QWindow, never the events of
    other objects (an application-wide filter would be called for every paint and timer of the program)."""
    overlay = signin_window.staff_screens.sign_in
    keys = overlay._keys
    assert keys is not None
    watched: list[QObject] = []
    original = keys.eventFilter

    def recording(obj: QObject, event: QEvent) -> bool:
        watched.append(obj)
        return original(obj, event)

    lane = signin_window.lane_panel("X1")
    behind = QLineEdit(lane)
    behind.show()
    focus_in(qtbot, signin_window, behind)
    keys.eventFilter = recording  # type: ignore[method-assign]
    try:
        lane.repaint()
        QApplication.sendEvent(lane, QEvent(QEvent.Type.UpdateRequest))
        type_into(signin_window, "5")
        qtbot.wait(50)
    finally:
        del keys.eventFilter
    assert watched, "the filter saw nothing, not even the key"
    assert {id(o) for o in watched} <= {id(signin_window), id(signin_window.windowHandle())}
    assert overlay.pad.field.text() == "5" and behind.text() == ""


def test_keys_typed_into_a_screen_over_the_sign_in_reach_it(
    qtbot: Any, signin_window: BoothWindow, engine: Engine
) -> None:
    """A screen of the same window laid over the sign-in (the lock screen's "leave the program", which a
    kiosk's refused close opens while nobody is signed in) takes the keys typed into it: the supervisor's
    name typed on a keyboard is not eaten, nor sent to the sign-in's PIN pad behind it."""
    overlay = signin_window.staff_screens.sign_in
    booth_lock = BoothLock(signin_window, staff_verifier(engine), idle_lock_s=0, guard_close=False)
    lock = booth_lock.lock
    try:
        lock.request_exit()
        assert lock.mode == "supervisor" and lock.isVisible() and overlay.isVisible()
        focus_in(qtbot, signin_window, lock.supervisor_name)
        type_into(signin_window, "9001")
        assert lock.supervisor_name.text() == "9001"
        assert overlay.pad.field.text() == "" and overlay.username.text() == ""
        # a key for the lanes behind both still goes to the screen on top's PIN pad, not to the lanes
        behind = QLineEdit(signin_window.lane_panel("X1"))
        behind.show()
        focus_in(qtbot, signin_window, behind)
        type_into(signin_window, "4")
        assert behind.text() == "" and lock.pad.field.text() == "4" and overlay.pad.field.text() == ""
    finally:
        booth_lock.stop()
