"""The window's look: a style sheet whose sizes are millimetres on this screen, and a font that has the
Chinese glyphs (without one every character is an empty box).

Two themes: "standard" (resources/style.qss, dark and low-glare) and "high_contrast"
(resources/high_contrast.qss: black, white and yellow, thick borders). ``font_scale`` (settings.display)
scales every text size; touch targets grow with it but never shrink below their 10 mm floor. Neither theme
shows a state by colour alone: every tone comes with its words (ui/kit/wording.py)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtGui import QFont, QFontDatabase, QGuiApplication, QIcon
from PySide6.QtWidgets import QApplication

from ui.kit.physical import mm_to_px

log = logging.getLogger("ui.style")

RESOURCES = Path(__file__).resolve().parents[2] / "resources"
STYLE_SHEET = RESOURCES / "style.qss"
HIGH_CONTRAST_SHEET = RESOURCES / "high_contrast.qss"
THEMES = {"standard": STYLE_SHEET, "high_contrast": HIGH_CONTRAST_SHEET}
#: the range settings.display.font_scale allows
FONT_SCALE_RANGE = (0.75, 2.0)
ICONS = RESOURCES / "icons"

#: families tried in order; the first one installed with Simplified Chinese glyphs is used
CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Microsoft YaHei",
    "PingFang SC",
    "Droid Sans Fallback",
)


@dataclass(frozen=True)
class Sizes:
    """Pixel sizes derived from physical sizes: the attendant reads from up to 2 m and taps with a finger."""

    text: int
    button: int
    title: int
    state: int
    amount: int
    plate: int
    plate_compact: int  # three or four lanes side by side
    target: int  # the smallest side of anything tapped
    key: int  # keypad keys: narrower than other targets (a plate keypad has 8 per row), still over 10 mm
    #: a small screen (1366x768, 1280x800 at ~100 dpi): tighter text and targets (never under 10 mm), the
    #: plate at its compact size, and layouts that stack (ui/lanes/lane_details.py, ui/lanes/actions.py)
    compact: bool = False

    @classmethod
    def for_screen(cls, font_scale: float = 1.0, *, compact: bool | None = None) -> Sizes:
        """Sizes on the primary screen; ``font_scale`` scales text, and targets only upwards.

        ``compact`` None: chosen from the screen's available size (see :func:`screen_is_compact`)."""
        low, high = FONT_SCALE_RANGE
        if isinstance(font_scale, bool) or not isinstance(font_scale, int | float) or not (
                low <= font_scale <= high):
            raise ValueError(f"font_scale must be a number from {low} to {high}, got {font_scale!r}")
        grow = max(1.0, font_scale)
        if compact is None:
            compact = screen_is_compact(standard_target_px(font_scale))
        if compact:
            return cls(
                text=mm_to_px(4.4 * font_scale),
                button=mm_to_px(4.8 * font_scale),
                title=mm_to_px(5.6 * font_scale),
                state=mm_to_px(7.2 * font_scale),
                amount=mm_to_px(10.5 * font_scale),
                plate=mm_to_px(13.5 * grow),  # the plate_compact size: glyphs still over 10 mm high
                plate_compact=mm_to_px(13.5 * grow),
                target=mm_to_px(10.5 * grow),
                key=mm_to_px(10.2 * grow),
                compact=True,
            )
        return cls(
            text=mm_to_px(4.8 * font_scale),
            button=mm_to_px(5.3 * font_scale),
            title=mm_to_px(6.4 * font_scale),
            state=mm_to_px(8.5 * font_scale),
            amount=mm_to_px(12.5 * font_scale),
            # CJK glyphs fill ~0.9 em: about 14 mm high, legible from 2 m; never smaller, whatever the scale
            plate=mm_to_px(16.0 * grow),
            plate_compact=mm_to_px(13.5 * grow),  # still over 10 mm high glyphs
            target=mm_to_px(12.0 * grow),
            key=mm_to_px(10.5 * grow),
        )


#: the standard layout needs about this many standard targets (12 mm) of window width and height: with 46 px
#: targets every English text of the lane screen fits from 1650 px wide (at 1600 "Take cash" and the sync's
#: counts are cut), and the screen needs 887 px high (keypad open, an alert showing). Measured by
#: tests/ui/window_fit.py, which resizes the real window through a range of sizes in both languages.
STANDARD_SCREEN_TARGETS = (36, 20)


def screen_is_compact(target_px: int) -> bool:
    """Whether the primary screen is too small for the standard layout: its available area is under
    :data:`STANDARD_SCREEN_TARGETS` standard targets (``target_px`` each). No screen: not compact."""
    screen = QGuiApplication.primaryScreen()
    if screen is None:
        return False
    area = screen.availableGeometry()
    return area_is_compact(area.width(), area.height(), target_px)


def area_is_compact(width: int, height: int, target_px: int) -> bool:
    """Whether ``width`` x ``height`` pixels (a window's, a screen's) is too small for the standard layout."""
    wide, high = STANDARD_SCREEN_TARGETS
    return width < wide * target_px or height < high * target_px


def standard_target_px(font_scale: float = 1.0) -> int:
    """The standard layout's touch target on the primary screen, in pixels (12 mm, grown by the scale)."""
    return mm_to_px(12.0 * max(1.0, font_scale))


def pick_cjk_family() -> str | None:
    """The first installed family that can draw Simplified Chinese, or None (then glyphs may be boxes)."""
    installed = set(QFontDatabase.families(QFontDatabase.WritingSystem.SimplifiedChinese))
    for family in CJK_FAMILIES:
        if family in installed:
            return family
    return next(iter(sorted(installed)), None)


def style_sheet(sizes: Sizes, theme: str = "standard") -> str:
    if theme not in THEMES:
        raise ValueError(f"unknown theme {theme!r}: expected one of {', '.join(THEMES)}")
    text = THEMES[theme].read_text(encoding="utf-8")
    for name, value in vars(sizes).items():
        text = text.replace(f"@{name}@", str(value))
    return text


def apply_style(app: QApplication, *, theme: str = "standard", font_scale: float = 1.0) -> Sizes:
    """Install the font and the style sheet on ``app``; return the sizes used (widgets size keys by them).

    ``theme`` and ``font_scale`` are settings.display's; a bad value raises ValueError naming it.
    """
    sizes = Sizes.for_screen(font_scale)
    restyle(app, sizes, theme=theme)
    icon = ICONS / "booth.svg"
    if icon.exists():
        app.setWindowIcon(QIcon(str(icon)))
    return sizes


def restyle(app: QApplication, sizes: Sizes, *, theme: str = "standard") -> None:
    """The font and the style sheet for ``sizes`` (a window that chose the compact layout, or left it)."""
    family = pick_cjk_family()
    sheet = style_sheet(sizes, theme)
    if family is None:
        log.warning("no font with Chinese glyphs (install fonts-noto-cjk): text will show as empty boxes")
    else:
        font = QFont(family)
        font.setPixelSize(sizes.text)
        app.setFont(font)
    app.setStyleSheet(sheet)
    app.setProperty("boothTheme", theme)
