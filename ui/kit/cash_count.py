"""Counting a cash drawer by touch, note by note: one row per denomination (its name, −, how many, +, what
they make), and a digit pad that types into the field last tapped.

The shift's open (the float counted into the drawer) and its close (the blind count) use the same rows, so
the attendant counts the same way at both ends of a shift. The rows only count: what the total means (a
float, a close) is for the screen that shows them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import partial

from PySide6.QtCore import QCoreApplication, Qt, Signal
from PySide6.QtGui import QFocusEvent, QMouseEvent
from PySide6.QtWidgets import (
    QGridLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QScroller,
    QSizePolicy,
    QWidget,
)

from booth.office.shifts import MAX_PIECES
from ui.kit.keypads import BACKSPACE, MONEY_PARTIAL
from ui.kit.wording import yuan

_PIECES = re.compile(r"^\d{1,6}$")
# digits a count field holds (more than MAX_PIECES, so a slip shows as a clear refusal, not a cut)
COUNT_MAX_LEN = 6


class TapField(QLineEdit):
    """A field that tells when it is tapped, so the on-screen pad types into the one last tapped."""

    tapped = Signal()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        super().mousePressEvent(event)
        self.tapped.emit()

    def focusInEvent(self, event: QFocusEvent) -> None:
        super().focusInEvent(event)
        self.tapped.emit()


def _key(text: str, target: int, on_press: partial[None]) -> QPushButton:
    button = QPushButton(text)
    button.setObjectName("key")
    button.setMinimumSize(target, target)
    button.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
    button.clicked.connect(lambda _checked=False: on_press())
    return button


class DigitPad(QWidget):
    """0-9, a point and ⌫ for the field ``select`` names: a count takes whole pieces, a money field (the
    float handed over) also a point and two decimals."""

    def __init__(self, target: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("digitPad")
        self.field: QLineEdit | None = None
        self._money = False
        self.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Maximum)  # keys together
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(6)
        self.keys: dict[str, QPushButton] = {}
        for row, keys in enumerate(("789", "456", "123", ".0" + BACKSPACE)):
            for col, key in enumerate(keys):
                button = self.keys[key] = _key(key, target, partial(self.press, key))
                grid.addWidget(button, row, col)

    def select(self, field: QLineEdit, *, money: bool = False) -> None:
        self.field, self._money = field, money

    def press(self, key: str) -> None:
        field = self.field
        if field is None:
            return
        text = field.text()
        if key == BACKSPACE:
            field.setText(text[:-1])
        elif self._money:
            candidate = ("0" if key == "." and not text else "") + text + key
            if MONEY_PARTIAL.match(candidate):
                field.setText(candidate)
        elif key.isdigit() and len(text) < COUNT_MAX_LEN:
            field.setText(("" if text == "0" else text) + key)


class CountRows(QScrollArea):
    """The rows of a count, scrolled by a finger when they do not fit. ``pad`` (if given) types into the
    count tapped last.

    Signals (GUI thread): ``changed()`` after any count changed.
    """

    changed = Signal()

    def __init__(
        self, denominations: Sequence[int], target: int, *, pad: DigitPad | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.denominations = tuple(denominations)
        self.pad = pad
        self.count_fields: dict[int, TapField] = {}
        self.subtotals: dict[int, QLabel] = {}
        self.minus_buttons: dict[int, QPushButton] = {}
        self.plus_buttons: dict[int, QPushButton] = {}
        grid = QGridLayout()
        grid.setHorizontalSpacing(6)
        grid.setVerticalSpacing(4)
        for row, denomination in enumerate(self.denominations):
            name = QLabel(yuan(denomination))
            name.setObjectName("fieldName")
            minus = _key("−", target, partial(self.step_count, denomination, -1))
            plus = _key("+", target, partial(self.step_count, denomination, 1))
            field = TapField()
            field.setObjectName("entry")
            field.setMaxLength(COUNT_MAX_LEN)
            field.setAlignment(Qt.AlignmentFlag.AlignCenter)
            field.setMinimumSize(target * 2, target)
            field.setPlaceholderText("0")
            field.textChanged.connect(self._on_changed)
            field.tapped.connect(partial(self.select, field))
            subtotal = QLabel("")
            subtotal.setObjectName("fieldValue")
            subtotal.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            subtotal.setMinimumWidth(target * 3)
            grid.addWidget(name, row, 0)
            grid.addWidget(minus, row, 1)
            grid.addWidget(field, row, 2)
            grid.addWidget(plus, row, 3)
            grid.addWidget(subtotal, row, 4)
            self.count_fields[denomination] = field
            self.subtotals[denomination] = subtotal
            self.minus_buttons[denomination] = minus
            self.plus_buttons[denomination] = plus
        grid.setColumnStretch(4, 1)
        counts = QWidget()
        counts.setLayout(grid)
        self.setWidgetResizable(True)
        self.setFrameShape(QScrollArea.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setWidget(counts)
        QScroller.grabGesture(self.viewport(), QScroller.ScrollerGestureType.TouchGesture)
        self._refresh()

    def select(self, field: QLineEdit) -> None:
        if self.pad is not None:
            self.pad.select(field)

    def select_first(self) -> None:
        if self.denominations:
            self.select(self.count_fields[self.denominations[0]])

    def clear(self) -> None:
        for field in self.count_fields.values():
            field.clear()

    def step_count(self, denomination: int, delta: int) -> None:
        field = self.count_fields[denomination]
        self.select(field)
        text = field.text().strip()
        current = int(text) if _PIECES.match(text) else 0
        field.setText(str(max(0, min(MAX_PIECES, current + delta))))

    def counts(self) -> dict[int, int]:
        """The pieces per denomination; ValueError names the first field that is not a count."""
        pieces: dict[int, int] = {}
        for denomination, field in self.count_fields.items():
            text = field.text().strip()
            if not text:
                pieces[denomination] = 0
                continue
            if not _PIECES.match(text) or int(text) > MAX_PIECES:
                words = QCoreApplication.translate(
                    "CashCount", "%1 的数量「%2」不正确：请输入 0 至 %3 的整数"
                )
                raise ValueError(
                    words.replace("%1", yuan(denomination)).replace("%2", text).replace("%3", str(MAX_PIECES))
                )
            pieces[denomination] = int(text)
        return pieces

    def counted_fen(self) -> int | None:
        """The total counted, or None while a field holds something that is not a count."""
        try:
            return sum(d * n for d, n in self.counts().items())
        except ValueError:
            return None

    def _on_changed(self) -> None:
        self._refresh()
        self.changed.emit()

    def _refresh(self) -> None:
        for denomination, field in self.count_fields.items():
            text = field.text().strip()
            ok = not text or (_PIECES.match(text) is not None and int(text) <= MAX_PIECES)
            pieces = int(text) if text and ok else 0
            invalid = QCoreApplication.translate("CashCount", "无效")
            self.subtotals[denomination].setText(yuan(denomination * pieces) if ok else invalid)
