"""People in UI tests: a supervisor and an attendant in the engine's database, and tapping a PIN in."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QLabel, QLineEdit, QPushButton, QTextBrowser, QWidget

from booth.engine import Engine
from booth.office.shifts import Shifts
from booth.office.staff import Staff
from ui.kit.pin_pad import PinPad

WAIT_MS = 10_000
ATTENDANT, ATTENDANT_NAME, ATTENDANT_PIN = "1001", "王芳", "1234"
SUPERVISOR, SUPERVISOR_NAME, SUPERVISOR_PIN = "9001", "李主管", "9999"


def seed_people(engine: Engine) -> tuple[Staff, Shifts]:
    """A supervisor and an attendant (cheap scrypt: PINs are checked with the cost stored with them)."""
    db = engine.database
    staff = Staff(db, engine.settings.staff, scrypt_n=2**10)
    staff.add_person(SUPERVISOR, SUPERVISOR_NAME, "supervisor", SUPERVISOR_PIN, by="system")
    staff.add_person(ATTENDANT, ATTENDANT_NAME, "attendant", ATTENDANT_PIN, by=SUPERVISOR)
    return staff, Shifts(db, engine.settings.shifts, staff)


def tap(qtbot: Any, button: QAbstractButton) -> None:
    assert button.isVisible() and button.isEnabled(), f"{button.text()!r} cannot be tapped now"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def button(container: QWidget, text: str) -> QPushButton:
    """The one visible button labelled ``text`` in ``container``."""
    found = [b for b in container.findChildren(QPushButton) if b.text() == text and b.isVisible()]
    assert len(found) == 1, f"expected one button {text!r}, found {len(found)}"
    return found[0]


def enter_pin(qtbot: Any, pad: PinPad, pin: str) -> None:
    """Tap the digits on the on-screen pad, then its confirm key."""
    for digit in pin:
        tap(qtbot, pad.keys[digit])
    tap(qtbot, pad.confirm_button)


def visible_texts(root: QWidget) -> Iterable[str]:
    """Every text a person could read in ``root`` now (labels, fields, buttons, browsers, placeholders)."""
    for widget in [root, *root.findChildren(QWidget)]:
        if not widget.isVisible():
            continue
        if isinstance(widget, QLabel | QAbstractButton):
            yield widget.text()
        if isinstance(widget, QLineEdit):
            yield widget.text()
            yield widget.placeholderText()
        if isinstance(widget, QTextBrowser):
            yield widget.toPlainText()
        yield widget.toolTip()
