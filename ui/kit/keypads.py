"""On-screen keypads for a touch screen without a keyboard: money and Chinese plates.

Both type into a QLineEdit they are given and refuse a key that would make the text impossible (a third
decimal, an O on a plate), so what reaches the panel is at worst incomplete, never nonsense. The panel still
validates it with the domain's parser before anything is sent to the engine.

Every key is a plain button of at least the target size (10 mm or more on this screen): nothing needs hover.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from functools import partial

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from booth.domain.plates import PROVINCES

BACKSPACE = "⌫"
#: what a money field may hold while being typed: up to 6 digits of yuan and 2 of fen
MONEY_PARTIAL = re.compile(r"^\d{0,6}(\.\d{0,2})?$")
#: plate letters never include I and O (they read as 1 and 0)
PLATE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
PLATE_DIGITS = "0123456789"
#: last characters of special plates (coach, police, trailer, Hong Kong, Macau, consulate). 应急 (emergency)
#: is left out on purpose: the plate parser refuses it (such cars are handled by hand, not by plate).
PLATE_SUFFIXES = "学警挂港澳领"
#: first characters that are not provinces: 使 (embassy). Armed police plates start with the letters WJ.
PLATE_PREFIXES = "使"
PLATE_MAX_LEN = 9  # 8 for new-energy plates, one spare so a wrong extra key shows a clear refusal
#: how many recently typed provinces come right after the lot's own
RECENT_PROVINCES = 6


def _key(text: str, target: int, on_press: Callable[[], None], name: str = "key") -> QPushButton:
    button = QPushButton(text)
    button.setObjectName(name)
    button.setMinimumSize(target, target)
    button.setMaximumHeight(target * 2)  # keys grow with the room they have, up to twice the minimum
    button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
    button.clicked.connect(lambda _checked=False: on_press())  # whatever clicked passes, on_press gets none
    return button


class MoneyPad(QWidget):
    """Digits, a point, backspace, clear and banknotes (10/20/50/100 yuan) plus "exact amount".

    Signals (GUI thread): ``edited()`` after every key.
    """

    edited = Signal()

    def __init__(self, field: QLineEdit, target: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._field = field
        self._exact: str | None = None
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(6)
        for row, keys in enumerate(("789", "456", "123", ".0" + BACKSPACE)):
            for col, key in enumerate(keys):
                grid.addWidget(_key(key, target, partial(self.press, key)), row, col)
        self.exact_button = _key(self.tr("正好"), target, self._press_exact)
        notes = [("¥10", "10"), ("¥20", "20"), ("¥50", "50"), ("¥100", "100")]
        for row, (label, amount) in enumerate(notes):
            grid.addWidget(_key(label, target, partial(self.set_text, amount)), row, 3)
        grid.addWidget(self.exact_button, 0, 4)
        grid.addWidget(_key(self.tr("清除"), target, lambda: self.set_text("")), 1, 4)
        self.exact_button.setEnabled(False)

    def set_exact(self, amount_text: str | None) -> None:
        """The amount due as text (e.g. "11.00"), for the "exact amount" key; None disables it."""
        self._exact = amount_text
        self.exact_button.setEnabled(amount_text is not None)

    def _press_exact(self) -> None:
        if self._exact is not None:
            self.set_text(self._exact)

    def press(self, key: str) -> None:
        text = self._field.text()
        if key == BACKSPACE:
            self.set_text(text[:-1])
            return
        candidate = ("0" if key == "." and not text else "") + text + key
        if MONEY_PARTIAL.match(candidate):
            self.set_text(candidate)

    def set_text(self, text: str) -> None:
        if MONEY_PARTIAL.match(text):
            self._field.setText(text)
            self.edited.emit()


def province_order(home: str | None, recent: Iterable[str]) -> str:
    """The 31 provinces for the keypad: the lot's own first, then the recently typed ones (latest first),
    then the rest in the usual order. Unknown characters in ``home``/``recent`` are ignored."""
    first = [home] if home is not None and len(home) == 1 and home in PROVINCES else []
    first += [p for p in recent if len(p) == 1 and p in PROVINCES]
    ordered = dict.fromkeys(first)
    ordered.update(dict.fromkeys(PROVINCES))
    return "".join(ordered)


class RecentProvinces:
    """Provinces typed in this session, latest first (a car from out of town tends to come in groups)."""

    def __init__(self, limit: int = RECENT_PROVINCES) -> None:
        self._recent: deque[str] = deque(maxlen=limit)

    def note(self, province: str) -> None:
        if len(province) == 1 and province in PROVINCES:
            if province in self._recent:
                self._recent.remove(province)
            self._recent.appendleft(province)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._recent))


#: the session's memory, shared by every lane's keypad
SESSION_PROVINCES = RecentProvinces()


class PlateKeypad(QWidget):
    """Province characters first, then letters (no I, no O), digits and the special last characters.

    The province page puts the lot's own province first, then the ones typed recently, then the rest; it
    also has 使 (embassy plates). The second page has digits, letters and the suffixes 学 警 挂 港 澳 领;
    new-energy plates (8 characters, D/F after the letter or at the end) are typed from the same keys.
    A key types at the field's cursor (a tap in the field moves it; a plate read by the camera is edited in
    place), ⌫ takes the character before the cursor. Shows the provinces while the cursor is at the start
    and letters after it; a toggle key switches by hand. Signals (GUI thread): ``edited()`` after every key.
    """

    edited = Signal()

    def __init__(
        self,
        field: QLineEdit,
        target: int,
        *,
        columns: int = 10,
        home_province: str | None = None,
        recent: RecentProvinces | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._field = field
        self._home = home_province
        self._recent = recent if recent is not None else SESSION_PROVINCES
        self.pages = QStackedWidget()
        province_columns = min(columns, 8)
        self._first_keys: list[QPushButton] = []  # the province page: 31 provinces, then 使
        province_page = QWidget()
        grid = QGridLayout(province_page)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(5)
        for i, key in enumerate(self.provinces() + PLATE_PREFIXES):
            button = _key(key, target, partial(self._press_key_of, i))
            self._first_keys.append(button)
            grid.addWidget(button, i // province_columns, i % province_columns)
        self.province_keys = self._first_keys[: len(PROVINCES)]
        self.pages.addWidget(province_page)
        self.pages.addWidget(self._grid(PLATE_DIGITS + PLATE_LETTERS + PLATE_SUFFIXES, columns, target))
        self.toggle = _key(self.tr("字母/省份"), target, self._toggle)
        controls = QGridLayout()
        controls.setSpacing(6)
        controls.addWidget(self.toggle, 0, 0)
        controls.addWidget(_key(BACKSPACE, target, lambda: self.press(BACKSPACE)), 0, 1)
        controls.addWidget(_key(self.tr("清除"), target, self.clear), 0, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self.pages)
        layout.addLayout(controls)
        # the keys never take the focus: the field keeps its cursor (and shows where the next key goes)
        for button in self.findChildren(QPushButton):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self._field.cursorPositionChanged.connect(lambda _old, _new: self._follow_field())
        self._follow_field()

    def provinces(self) -> str:
        """The provinces in the order the keys show them now."""
        return province_order(self._home, self._recent)

    def _press_key_of(self, index: int) -> None:
        """Province keys are re-ordered as provinces get used: a key types what it shows now."""
        self.press(self._first_keys[index].text())

    def _reorder_provinces(self) -> None:
        for button, province in zip(self.province_keys, self.provinces(), strict=True):
            if button.text() != province:
                button.setText(province)

    def _grid(self, keys: str, columns: int, target: int) -> QWidget:
        page = QWidget()
        grid = QGridLayout(page)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(5)
        for i, key in enumerate(keys):
            grid.addWidget(_key(key, target, partial(self.press, key)), i // columns, i % columns)
        return page

    def showing_provinces(self) -> bool:
        return self.pages.currentIndex() == 0

    def _toggle(self) -> None:
        self.pages.setCurrentIndex(1 - self.pages.currentIndex())

    def _follow_field(self) -> None:
        """Provinces where a province goes (the cursor at the start), letters and digits elsewhere."""
        if self._cursor() == 0:
            self._reorder_provinces()
            self.pages.setCurrentIndex(0)
        else:
            self.pages.setCurrentIndex(1)

    def _cursor(self) -> int:
        field = self._field
        return field.selectionStart() if field.hasSelectedText() else field.cursorPosition()

    def clear(self) -> None:
        self._field.setText("")
        self._follow_field()
        self.edited.emit()

    def set_text(self, text: str) -> None:
        """``text`` in the field to edit (a plate as read), the cursor at its end; characters no key could
        type are left out, and at most PLATE_MAX_LEN are kept."""
        kept = "".join(ch for ch in text.upper() if ch in _PLATE_KEYS)[:PLATE_MAX_LEN]
        self._field.setText(kept)
        self._field.setCursorPosition(len(kept))
        self._follow_field()

    def press(self, key: str) -> None:
        """Type ``key`` at the cursor (over the selection, if any); ⌫ removes the character before it."""
        field = self._field
        text, at = field.text(), self._cursor()
        end = at + len(field.selectedText()) if field.hasSelectedText() else at
        if key == BACKSPACE:
            if end > at:
                text, cursor = text[:at] + text[end:], at
            elif at > 0:
                text, cursor = text[: at - 1] + text[at:], at - 1
            else:
                return
        elif len(text) - (end - at) < PLATE_MAX_LEN and len(key) == 1 and key in _PLATE_KEYS:
            if at == 0 and key in PROVINCES:
                self._recent.note(key)
            text, cursor = text[:at] + key + text[end:], at + 1
        else:
            return
        field.setText(text)
        field.setCursorPosition(cursor)
        self._follow_field()
        self.edited.emit()


_PLATE_KEYS = frozenset(PROVINCES + PLATE_PREFIXES + PLATE_LETTERS + PLATE_DIGITS + PLATE_SUFFIXES)
