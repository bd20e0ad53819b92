"""Watching a window's input without an application-wide event filter.

Input from the platform (touch, mouse, keys) reaches a top-level window's ``QWindow`` before any widget in
it, so an event filter there sees every touch and key of the window. An application-wide filter sees every
event of every object instead (paints, layouts, timers, queued calls): a Python callback, with the GIL taken
back from the engine's thread, for each of them. Measured with two lanes taking 200 exits: the longest GUI
stall went from ~35 ms to 65-71 ms with one such filter installed.

The ``QWindow`` is made when the widget is first shown and made again when its window flags change (kiosk
mode makes it frameless), so :class:`WindowInput` follows it on every show of the widget.
"""

from __future__ import annotations

import shiboken6

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QWindow
from PySide6.QtWidgets import QWidget


class WindowInput:
    """Installs ``watcher`` as an event filter on ``window`` (its show, hide and close) and on the window's
    current ``QWindow`` (its input). ``watcher.eventFilter`` calls :meth:`follow` on ``QEvent.Show``."""

    def __init__(self, window: QWidget, watcher: QObject) -> None:
        self.window = window
        self.watcher = watcher
        self.handle: QWindow | None = None
        window.installEventFilter(watcher)
        self.follow()

    def follow(self) -> None:
        """Watch the window's current ``QWindow`` (a new one after the window was made again)."""
        handle = self.window.windowHandle()
        if handle is self.handle:
            return
        self._drop_handle()
        self.handle = handle
        if handle is not None:
            handle.installEventFilter(self.watcher)

    def sees_show(self, watched: QObject, event: QEvent) -> bool:
        """For the watcher's filter: ``event`` is the window being shown (after which :meth:`follow` ran)."""
        if watched is self.window and event.type() == QEvent.Type.Show:
            self.follow()
            return True
        return False

    def release(self) -> None:
        """Stop watching (idempotent)."""
        if shiboken6.isValid(self.window):
            self.window.removeEventFilter(self.watcher)
        self._drop_handle()

    def _drop_handle(self) -> None:
        if self.handle is not None and shiboken6.isValid(self.handle):
            self.handle.removeEventFilter(self.watcher)
        self.handle = None
