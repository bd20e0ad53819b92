"""Who is acting, by touch: the people who may act here as large name buttons, and a field to type a
username for anyone not shown (a keyboard, or more people than buttons).

A tap on a name fills the field and highlights that name; typing highlights the name typed, if shown. The
picker only says who was chosen: the PIN pad beside it and whoever checks the PIN decide the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from PySide6.QtCore import QEvent, QSize, Qt, Signal
from PySide6.QtWidgets import QGridLayout, QLineEdit, QPushButton, QVBoxLayout, QWidget

from booth.office.staff import PersonRecord

#: names shown as buttons at most (more: the username is typed)
MAX_BUTTONS = 12
USERNAME_MAX_LEN = 40


class NameButton(QPushButton):
    """A person's name (and username below it), checkable, never smaller than ``least``: the style sheet's
    min-height (one target) is applied at every polish and would shrink it back to one target."""

    def __init__(self, text: str, least: QSize, parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self._least = least
        self.setObjectName("personButton")
        self.setCheckable(True)
        self._fit()

    def event(self, event: QEvent) -> bool:
        handled = super().event(event)
        if event.type() in (QEvent.Type.Polish, QEvent.Type.StyleChange, QEvent.Type.FontChange):
            self._fit()
        return handled

    def _fit(self) -> None:
        least = self._least
        width, height = max(least.width(), self.minimumWidth()), max(least.height(), self.minimumHeight())
        self.setMinimumSize(width, height)


class PersonPicker(QWidget):
    """Name buttons (``columns`` a row, each at least 3 × 1.5 targets) above a username field.

    Signals (GUI thread): ``chosen(str)`` with the username of a name tapped; ``edited()`` after every
    change of the field (tapped or typed).
    """

    chosen = Signal(str)
    edited = Signal()

    def __init__(
        self, target: int, *, columns: int = 3, placeholder: str = "", parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("personPicker")
        self._target = target
        self._columns = max(1, columns)
        self.buttons: dict[str, NameButton] = {}
        self.grid = QGridLayout()
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setSpacing(8)
        self.grid.setAlignment(Qt.AlignmentFlag.AlignLeft)
        self.field = QLineEdit()
        self.field.setObjectName("entry")
        self.field.setMaxLength(USERNAME_MAX_LEN)
        self.field.setMinimumHeight(target)
        self.field.setPlaceholderText(placeholder)
        self.field.textChanged.connect(self._on_text)
        column = QVBoxLayout(self)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(8)
        column.addLayout(self.grid)
        column.addWidget(self.field)

    def set_people(self, people: Sequence[PersonRecord]) -> None:
        """Show ``people`` (the first MAX_BUTTONS) as name buttons, in the order given."""
        for button in self.buttons.values():
            self.grid.removeWidget(button)
            button.deleteLater()
        self.buttons = {}
        for i, person in enumerate(people[:MAX_BUTTONS]):
            least = QSize(self._target * 3, int(self._target * 1.5))
            button = NameButton(f"{person.display_name}\n{person.username}", least)
            button.setMaximumWidth(self._target * 5)
            button.clicked.connect(partial(self._clicked, person.username))
            self.grid.addWidget(button, i // self._columns, i % self._columns)
            self.buttons[person.username] = button
        self._highlight()

    def _clicked(self, username: str, _checked: bool = False) -> None:
        self.choose(username)
        self.chosen.emit(username)

    def choose(self, username: str) -> None:
        """``username`` in the field, its name highlighted (if shown)."""
        self.field.setText(username)
        self._highlight()

    def username(self) -> str:
        return self.field.text().strip()

    def clear(self) -> None:
        self.field.clear()
        self._highlight()

    def chosen_button(self) -> QPushButton | None:
        """The highlighted name, if the field holds a name shown."""
        return self.buttons.get(self.username())

    def _on_text(self, _text: str) -> None:
        self._highlight()
        self.edited.emit()

    def _highlight(self) -> None:
        """Only the name in the field is highlighted (a tap on a highlighted name keeps it so)."""
        chosen = self.username()
        for username, button in self.buttons.items():
            button.setChecked(username == chosen)
