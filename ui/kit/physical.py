"""Physical sizes on the actual screen: the plate must be legible from 2 m and touch targets >= 10 mm wide,
whatever the monitor's pixel density. Qt lays out in device-independent pixels, so millimetres are converted
through the screen's physical density and its device pixel ratio."""

from __future__ import annotations

import math

from PySide6.QtGui import QGuiApplication, QScreen

#: monitors that report nonsense (0, or a TV claiming 2000 dpi) fall back into this range
_DPI_RANGE = (72.0, 300.0)
_FALLBACK_DPI = 96.0


def screen_dpi(screen: QScreen | None = None) -> float:
    """Physical dots per inch of ``screen`` (default: the primary screen), clamped to a plausible range."""
    screen = screen or QGuiApplication.primaryScreen()
    dpi = screen.physicalDotsPerInch() if screen is not None else _FALLBACK_DPI
    if not dpi or dpi != dpi:  # 0 or NaN: the monitor did not say
        dpi = _FALLBACK_DPI
    return min(max(dpi, _DPI_RANGE[0]), _DPI_RANGE[1])


def mm_to_px(mm: float, screen: QScreen | None = None) -> int:
    """Device-independent pixels that measure at least ``mm`` millimetres on ``screen``."""
    screen = screen or QGuiApplication.primaryScreen()
    ratio = screen.devicePixelRatio() if screen is not None else 1.0
    return max(1, math.ceil(mm / 25.4 * screen_dpi(screen) / (ratio or 1.0) - 1e-9))


def px_to_mm(px: float, screen: QScreen | None = None) -> float:
    screen = screen or QGuiApplication.primaryScreen()
    ratio = screen.devicePixelRatio() if screen is not None else 1.0
    return px * (ratio or 1.0) / screen_dpi(screen) * 25.4
