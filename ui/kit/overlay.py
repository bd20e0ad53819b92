"""An overlay over the whole of its parent (the lanes): the sign-in screen and the lock screen.

It follows its parent's size, and while it shows, no key reaches a widget behind it (a lane's cash field
must not take digits typed at the PIN pad): those keys go to ``keys_behind``, which drops them unless a
subclass routes them (the sign-in and the lock screen send them to their PIN pad). Not a dialog: nothing
modal, the engine and the lanes behind keep working.

The keys are watched on the overlay's own window's ``QWindow`` (ui/kit/window_input.py), where a keyboard's
keys for that window arrive before any widget of it, not application-wide: a key typed into another window
(a dialog over the booth, another program's window of this process) never reaches this filter, so it is
neither eaten nor routed to the overlay; and an application-wide Python filter would run for every event of
every object (paints, timers) for as long as the overlay shows, which is hours for the sign-in screen of an
idle booth (measured for the lock screen: ~35,000 more filter calls per 100 exits).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QHideEvent, QShowEvent
from PySide6.QtWidgets import QApplication, QWidget

from ui.kit.window_input import WindowInput

_KEY_EVENTS = frozenset({QEvent.Type.KeyPress, QEvent.Type.KeyRelease, QEvent.Type.ShortcutOverride})


class WindowKeys(QObject):
    """While ``overlay`` shows: a key from the keyboard for its window whose focus widget lies behind the
    overlay goes to ``overlay.keys_behind`` instead of that widget; a key for the overlay itself, or for a
    screen of the same window laid over it, is left alone. Watched on the window's ``QWindow``."""

    def __init__(self, overlay: CoveringOverlay) -> None:
        super().__init__(overlay)
        self.overlay = overlay
        self.input: WindowInput | None = None

    def watch(self) -> None:
        if self.input is None:
            self.input = WindowInput(self.overlay.window(), self)

    def release(self) -> None:
        if self.input is not None:
            self.input.release()
            self.input = None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if self.input is not None and self.input.sees_show(watched, event):
            return False
        overlay = self.overlay
        if event.type() not in _KEY_EVENTS or not overlay.isVisible():
            return False
        focus = QApplication.focusWidget()
        if focus is not None and focus.isVisible() and not overlay.covers(focus):
            return False  # typed into the overlay itself (its username field) or into a screen over it
        overlay.keys_behind(event)
        event.accept()
        return True


class CoveringOverlay(QWidget):
    """Covers ``parent``; while shown, keeps the keys meant for what is behind it (``keys_behind``)."""

    _keys: WindowKeys | None = None

    def __init__(self, parent: QWidget, object_name: str) -> None:
        super().__init__(parent)
        self.setObjectName(object_name)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setStyleSheet(f"QWidget#{object_name} {{ background: #0e1319; }}")
        parent.installEventFilter(self)
        self.hide()
        self._keys = WindowKeys(self)

    def cover(self) -> None:
        """Lay the overlay over the whole parent and show it on top."""
        self._cover_parent()
        self.show()
        self.raise_()

    def place_card(self, card: QWidget, bar_height: int, min_width: int) -> None:
        """A card shown over the overlay (the PIN pad's, on the sign-in and the lock screens): centred below
        the bar, at least ``min_width`` wide, never closer than 10 px to the edges."""
        if not card.isVisibleTo(self):
            return
        width, height = self.width(), self.height()
        hint = card.sizeHint()
        card_w = min(max(hint.width(), min_width), width - 20)
        card_h = min(hint.height(), height - bar_height - 20)
        x = (width - card_w) // 2
        y = bar_height + max(10, (height - bar_height - card_h) // 2)
        card.setGeometry(x, y, card_w, card_h)

    def keys_behind(self, event: QEvent) -> None:
        """A key meant for a widget behind the overlay; dropped unless a subclass routes it."""

    def covers(self, widget: QWidget) -> bool:
        """Whether ``widget`` lies behind the overlay: in its parent (or the parent itself) but neither in the
        overlay nor in a shown sibling stacked above it (the lock screen's exit card over the sign-in)."""
        parent = self.parentWidget()
        if parent is None:
            return False
        if widget is parent or widget.isAncestorOf(parent):
            return True
        node: QWidget | None = widget
        while node is not None and node.parentWidget() is not parent:
            node = node.parentWidget()
        if node is None or node is self:
            return False  # outside the parent (another part of the window), or in the overlay
        siblings = [child for child in parent.children() if isinstance(child, QWidget)]
        return not node.isVisible() or siblings.index(node) < siblings.index(self)  # children: bottom first

    def stop_watching_keys(self) -> None:
        """The window is closing: no filter left behind."""
        if self._keys is not None:
            self._keys.release()

    def _cover_parent(self) -> None:
        parent = self.parentWidget()
        if parent is not None:
            self.setGeometry(parent.rect())

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.parentWidget() and event.type() == QEvent.Type.Resize and not self.isHidden():
            # not isVisible(): an overlay shown before its window (sign-in at start) must follow the
            # window's first layout too, or it stays at the parent's unlaid 640x480 with its keys overlapping
            self._cover_parent()
        return super().eventFilter(watched, event)

    def showEvent(self, event: QShowEvent) -> None:
        if self._keys is not None:
            self._keys.watch()
        super().showEvent(event)

    def hideEvent(self, event: QHideEvent) -> None:
        if self._keys is not None:  # None: hidden by __init__ before the watcher was made
            self._keys.release()
        super().hideEvent(event)
