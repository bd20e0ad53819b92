"""A top-level window that fits its screen and never grows with its content, with or without a window manager.

``showFullScreen`` and ``showMaximized`` only ask the window manager; in the X kiosk session there is none
(deploy/kiosk/: X and the booth, nothing else), so the window stayed at its size hint in a corner and its
layout grew it whenever the content's minimum grew (a keypad opened, an alert appeared). Here the window
takes the screen's geometry itself — the whole screen in kiosk mode, its available area otherwise — and its
layout no longer sets the window's minimum size: the content lays itself out in what the window is given.
In kiosk mode the window follows the screen when its geometry changes (another monitor, xrandr).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QRect, Slot
from PySide6.QtGui import QGuiApplication, QScreen
from PySide6.QtWidgets import QLayout, QWidget

#: Qt's largest widget size (QWIDGETSIZE_MAX): no maximum
NO_MAXIMUM = (1 << 24) - 1


def screen_of(window: QWidget) -> QScreen | None:
    return window.screen() or QGuiApplication.primaryScreen()


def target_area(window: QWidget, *, full_screen: bool) -> QRect | None:
    """The area the window should take: the whole screen (kiosk) or the screen's available area."""
    screen = screen_of(window)
    if screen is None:
        return None
    return screen.geometry() if full_screen else screen.availableGeometry()


def stop_growing(window: QWidget) -> None:
    """The window's layout no longer raises the window's minimum size to what the content asks for."""
    layout = window.layout()
    if layout is not None and layout.sizeConstraint() != QLayout.SizeConstraint.SetNoConstraint:
        layout.setSizeConstraint(QLayout.SizeConstraint.SetNoConstraint)
    window.setMinimumSize(0, 0)


def fit_to_screen(window: QWidget, *, full_screen: bool) -> QRect | None:
    """Give ``window`` its screen's area (see :func:`target_area`) and keep it from growing past it: in
    kiosk mode exactly that size, otherwise at most that size (a window manager may still shrink it).
    Returns the area given (None without a screen)."""
    stop_growing(window)
    area = target_area(window, full_screen=full_screen)
    if area is None:
        return None
    if full_screen:
        window.setFixedSize(area.size())
    else:
        window.setMaximumSize(area.size())
    window.setGeometry(area)
    return area


class ScreenFollower(QObject):
    """Re-fits ``window`` to its screen whenever the screen's geometry changes (kiosk mode)."""

    def __init__(self, window: QWidget, *, full_screen: bool) -> None:
        super().__init__(window)
        self.window = window
        self.full_screen = full_screen
        self._screen: QScreen | None = None
        self.follow()

    def follow(self) -> None:
        screen = screen_of(self.window)
        if screen is self._screen:
            return
        if self._screen is not None:
            self._screen.geometryChanged.disconnect(self._on_geometry)
            self._screen.availableGeometryChanged.disconnect(self._on_geometry)
        self._screen = screen
        if screen is not None:
            screen.geometryChanged.connect(self._on_geometry)
            screen.availableGeometryChanged.connect(self._on_geometry)

    @Slot(QRect)
    def _on_geometry(self, _area: QRect) -> None:
        if self.full_screen:
            self.window.setMaximumSize(NO_MAXIMUM, NO_MAXIMUM)
            self.window.setMinimumSize(0, 0)
        fit_to_screen(self.window, full_screen=self.full_screen)
