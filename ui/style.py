"""The window's look: one style sheet (resources/style.qss) whose sizes are millimetres on this screen, and
a font that has the Chinese glyphs (without one every character is an empty box)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtGui import QFont, QFontDatabase, QIcon
from PySide6.QtWidgets import QApplication

from ui.physical import mm_to_px

log = logging.getLogger("ui.style")

RESOURCES = Path(__file__).resolve().parent.parent / "resources"
STYLE_SHEET = RESOURCES / "style.qss"
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

    @classmethod
    def for_screen(cls) -> Sizes:
        return cls(
            text=mm_to_px(4.8),
            button=mm_to_px(5.3),
            title=mm_to_px(6.4),
            state=mm_to_px(8.5),
            amount=mm_to_px(12.5),
            plate=mm_to_px(16.0),  # CJK glyphs fill ~0.9 em: about 14 mm high, legible from 2 m and more
            plate_compact=mm_to_px(13.5),  # still over 10 mm high glyphs
            target=mm_to_px(12.0),
            key=mm_to_px(10.5),
        )


def pick_cjk_family() -> str | None:
    """The first installed family that can draw Simplified Chinese, or None (then glyphs may be boxes)."""
    installed = set(QFontDatabase.families(QFontDatabase.WritingSystem.SimplifiedChinese))
    for family in CJK_FAMILIES:
        if family in installed:
            return family
    return next(iter(sorted(installed)), None)


def style_sheet(sizes: Sizes) -> str:
    text = STYLE_SHEET.read_text(encoding="utf-8")
    for name, value in vars(sizes).items():
        text = text.replace(f"@{name}@", str(value))
    return text


def apply_style(app: QApplication) -> Sizes:
    """Install the font and the style sheet on ``app``; return the sizes used (widgets size keys by them)."""
    family = pick_cjk_family()
    sizes = Sizes.for_screen()
    if family is None:
        log.warning("no font with Chinese glyphs (install fonts-noto-cjk): text will show as empty boxes")
    else:
        font = QFont(family)
        font.setPixelSize(sizes.text)
        app.setFont(font)
    app.setStyleSheet(style_sheet(sizes))
    icon = ICONS / "booth.svg"
    if icon.exists():
        app.setWindowIcon(QIcon(str(icon)))
    return sizes
