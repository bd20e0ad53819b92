"""A side sheet: a panel laid over the right of the window's lanes (never a dialog, nothing modal).

The lanes on the left stay on screen and usable while it is open (it takes at most the right half); it follows
its parent's size. The shift
close, the supervisor's screens and the report view are side sheets.

A line of a sheet that says something with data in it (a refusal, a result, a title with a name) is drawn with
``show_words``, which keeps its words: after a language switch the sheet draws them again in the new language
(the window's ``retranslate_tree`` re-words only whole known strings).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ui.kit.i18n import reword
from ui.kit.style import Sizes

#: words drawn in the language shown when called (said again after a language switch)
Words = Callable[[], str]


class SideSheet(QFrame):
    """Title, a close button, and ``body`` (a QVBoxLayout) for the content; ``width_targets`` is the
    sheet's width in touch targets, capped at half its parent's width: the left lane stays in full view (a
    driver there can still pay, an attendant still serve it) while the sheet is open."""

    def __init__(self, parent: QWidget, sizes: Sizes, *, width_targets: int = 22) -> None:
        super().__init__(parent)
        self.setObjectName("syncPanel")  # the sync panel's look: a raised sheet over the lanes
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.sizes = sizes
        self._lines: dict[QLabel, Words] = {}  # lines drawn by show_words, drawn again after a switch
        self._width = sizes.target * width_targets
        target = sizes.target
        self.title = QLabel("")
        self.title.setObjectName("actionTitle")
        self.close_button = QPushButton(self.tr("关闭"))
        self.close_button.setMinimumSize(target * 2, target)
        self.close_button.clicked.connect(lambda _checked=False: self.dismiss())
        self.head = QHBoxLayout()
        self.head.addWidget(self.title, 1)
        self.head.addWidget(self.close_button)
        self.body = QVBoxLayout()
        self.body.setSpacing(8)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(14, 10, 14, 12)
        outer.setSpacing(8)
        outer.addLayout(self.head)
        outer.addLayout(self.body, 1)
        parent.installEventFilter(self)
        self.hide()

    def show_words(self, label: QLabel, text: str | Words) -> str:
        """Draw ``text`` on ``label`` ('' clears it) and keep it to be drawn again after a language switch:
        words made in the current language when drawn (a refusal, a result with its data), or a text as it
        came (re-worded after a switch when it is a whole known string). Returns the text drawn."""
        if callable(text):
            self._lines[label] = text
        elif text:
            self._lines[label] = lambda: reword(text, label) or text
        else:
            self._lines.pop(label, None)
        drawn = self._lines[label]() if label in self._lines else ""
        label.setText(drawn)
        return drawn

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.LanguageChange and hasattr(self, "_lines"):  # not while __init__ runs
            self.retranslate()

    def retranslate(self) -> None:
        """The sheet's words in the language shown now (on a switch): the lines drawn by ``show_words``;
        a sheet with words of its own to redraw adds them."""
        for label, words in self._lines.items():
            label.setText(words())

    def present(self) -> None:
        self._place()
        self.show()
        self.raise_()

    def dismiss(self) -> None:
        self.hide()

    def _place(self) -> None:
        parent = self.parentWidget()
        if parent is None:
            return
        area = parent.rect()
        width = min(self._width, area.width() // 2)
        self.setGeometry(area.right() + 1 - width, area.top(), width, area.height())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.parentWidget() and event.type() == QEvent.Type.Resize and self.isVisible():
            self._place()
        return super().eventFilter(watched, event)
