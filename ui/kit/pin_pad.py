"""A large on-screen PIN pad for a touch screen: digits, backspace, clear and "confirm".

The PIN never shows (only dots), and the pad itself holds no secret beyond the digits typed so far; whoever
receives ``submitted`` checks it (off the GUI thread) and clears the pad.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QGridLayout, QLineEdit, QPushButton, QSizePolicy, QVBoxLayout, QWidget

BACKSPACE = "⌫"
#: more digits than any PIN the staff module accepts: a longer entry is a mistake, refused key by key
PIN_MAX_DIGITS = 12


class PinPad(QWidget):
    """Ten digits in the telephone layout plus backspace, clear and confirm; every key at least ``target``.

    Signals (GUI thread): ``submitted(str)`` when confirm is tapped (or Enter pressed) with digits typed.
    """

    submitted = Signal(str)

    def __init__(self, target: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("pinPad")
        self.field = QLineEdit()
        self.field.setObjectName("pinField")
        self.field.setEchoMode(QLineEdit.EchoMode.Password)
        self.field.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.field.setMinimumHeight(target)
        self.field.setMaxLength(PIN_MAX_DIGITS)
        self.field.setReadOnly(True)  # digits come from the keys (or the keyboard, through keyPressEvent)
        self.field.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.keys: dict[str, QPushButton] = {}
        grid = QGridLayout()
        grid.setSpacing(8)
        for row, keys in enumerate(("123", "456", "789")):
            for col, key in enumerate(keys):
                grid.addWidget(self._key(key, target, partial(self.press, key)), row, col)
        grid.addWidget(self._key(self.tr("清除"), target, self.clear, name="clear"), 3, 0)
        grid.addWidget(self._key("0", target, partial(self.press, "0")), 3, 1)
        grid.addWidget(self._key(BACKSPACE, target, partial(self.press, BACKSPACE), name="backspace"), 3, 2)
        self.confirm_button = self._key(self.tr("确定"), target, self.submit, name="confirm")
        self.confirm_button.setObjectName("pinConfirm")
        grid.addWidget(self.confirm_button, 4, 0, 1, 3)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        layout.addWidget(self.field)
        layout.addLayout(grid)
        layout.addStretch(1)  # given more height than it needs, the keys stay right under the field
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

    def _key(self, text: str, target: int, on_press: Callable[[], None], *, name: str = "") -> QPushButton:
        button = QPushButton(text)
        button.setObjectName("pinKey")
        button.setMinimumSize(target, target)
        button.setMaximumHeight(int(target * 1.5))
        button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        button.clicked.connect(lambda _checked=False: on_press())
        self.keys[name or text] = button
        return button

    def press(self, key: str) -> None:
        text = self.field.text()
        if key == BACKSPACE:
            self.field.setText(text[:-1])
        elif key.isdigit() and len(key) == 1 and len(text) < PIN_MAX_DIGITS:
            self.field.setText(text + key)

    def clear(self) -> None:
        self.field.clear()

    def submit(self) -> None:
        pin = self.field.text()
        if pin:
            self.submitted.emit(pin)

    def set_busy(self, busy: bool) -> None:
        """While a PIN is being checked the keys are off, so one PIN is checked once."""
        for button in self.keys.values():
            button.setEnabled(not busy)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """A USB keypad or keyboard types the same digits."""
        key = event.key()
        if Qt.Key.Key_0 <= key <= Qt.Key.Key_9:
            self.press(event.text())
        elif key == Qt.Key.Key_Backspace:
            self.press(BACKSPACE)
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.submit()
        else:
            super().keyPressEvent(event)
