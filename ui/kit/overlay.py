"""An overlay over the whole of its parent (the lanes): the sign-in screen and the lock screen.

It follows its parent's size, and while it shows, no key reaches a widget behind it (a lane's cash field
must not take digits typed at the PIN pad): those keys go to ``keys_behind``, which drops them unless a
subclass routes them (the lock screen sends them to its PIN pad). Not a dialog: nothing modal, the engine and
the lanes behind keep working.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QHideEvent, QShowEvent
from PySide6.QtWidgets import QApplication, QWidget

_KEY_EVENTS = frozenset({QEvent.Type.KeyPress, QEvent.Type.KeyRelease, QEvent.Type.ShortcutOverride})


class CoveringOverlay(QWidget):
    """Covers ``parent``; keeps the keys meant for what is behind it while shown (with an application-wide
    filter, unless a subclass sets ``APP_WIDE_KEYS`` False and watches the keys itself)."""

    APP_WIDE_KEYS = True

    def __init__(self, parent: QWidget, object_name: str) -> None:
        super().__init__(parent)
        self.setObjectName(object_name)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet(f"QWidget#{object_name} {{ background: #0e1319; }}")
        parent.installEventFilter(self)
        self.hide()

    def cover(self) -> None:
        """Lay the overlay over the whole parent and show it on top."""
        self._cover_parent()
        self.show()
        self.raise_()

    def keys_behind(self, event: QEvent) -> None:
        """A key meant for a widget behind the overlay; dropped unless a subclass routes it."""

    def _cover_parent(self) -> None:
        parent = self.parentWidget()
        if parent is not None:
            self.setGeometry(parent.rect())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.parentWidget() and event.type() == QEvent.Type.Resize and not self.isHidden():
            # not isVisible(): an overlay shown before its window (sign-in at start) must follow the
            # window's first layout too, or it stays at the parent's unlaid 640x480 with its keys overlapping
            self._cover_parent()
        elif self._meant_for_behind(watched, event):
            self.keys_behind(event)
            event.accept()
            return True
        return super().eventFilter(watched, event)

    def _meant_for_behind(self, watched: QObject, event: QEvent) -> bool:
        return (
            self.isVisible()
            and event.type() in _KEY_EVENTS
            and isinstance(watched, QWidget)
            and watched is not self
            and not self.isAncestorOf(watched)
            and watched.window() is self.window()
        )

    def showEvent(self, event: QShowEvent) -> None:
        app = QApplication.instance()
        if app is not None and self.APP_WIDE_KEYS:
            app.installEventFilter(self)  # keys go to the focused widget first: watch them all
        super().showEvent(event)

    def hideEvent(self, event: QHideEvent) -> None:
        app = QApplication.instance()
        if app is not None and self.APP_WIDE_KEYS:
            app.removeEventFilter(self)
        super().hideEvent(event)
