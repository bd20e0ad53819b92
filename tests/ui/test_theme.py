"""Readability: the high-contrast theme, text that scales, states never told by colour alone, lists that a
finger can drag."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from PySide6.QtWidgets import QAbstractScrollArea, QApplication, QScroller

from booth.domain.lane import LaneState, LaneView
from booth.engine import Engine
from ui.kit.physical import px_to_mm
from ui.kit.style import HIGH_CONTRAST_SHEET, STYLE_SHEET, Sizes, apply_style, style_sheet
from ui.kit.wording import bolink_tone, bolink_words, gate_tone, gate_words, state_tone, state_words
from ui.shell.main_window import BoothWindow

HIGH_CONTRAST_COLOURS = {"#000000", "#ffffff", "#ffd800", "#8c8c8c"}  # grey only for what is disabled
TONES = ("idle", "busy", "pay", "attention", "ok", "bad", "offline")


@pytest.fixture
def restore_style(qapp: QApplication) -> Iterator[None]:
    yield
    apply_style(qapp)  # the other tests run on the standard theme


def rule(sheet: str, selector: str) -> str:
    match = re.search(re.escape(selector) + r"\s*\{([^}]*)\}", sheet)
    assert match, f"no rule for {selector}"
    return match.group(1)


def test_high_contrast_is_black_white_and_yellow_with_thick_borders() -> None:
    sheet = HIGH_CONTRAST_SHEET.read_text(encoding="utf-8")
    lines = [line for line in sheet.splitlines() if "plateColour" not in line]  # plates keep their colour
    colours = {c.lower() for c in re.findall(r"(?<![\w-])#[0-9a-fA-F]{6}(?!\w)", "\n".join(lines))}
    assert colours <= HIGH_CONTRAST_COLOURS, colours - HIGH_CONTRAST_COLOURS
    widths = [int(w) for w in re.findall(r"border(?:-bottom)?:\s*(\d+)px", sheet)]
    assert widths and min(widths) >= 3
    standard = STYLE_SHEET.read_text(encoding="utf-8")
    assert max(int(w) for w in re.findall(r"border:\s*(\d+)px", standard)) < min(widths) + 1


def test_every_tone_differs_by_more_than_colour_in_high_contrast() -> None:
    sheet = HIGH_CONTRAST_SHEET.read_text(encoding="utf-8")
    looks = set()
    for tone in TONES:
        body = rule(sheet, f'*[tone="{tone}"]')
        border = re.search(r"border:\s*(\d+px \w+)", body)
        background = re.search(r"background:\s*(#\w+)", body)
        assert border and background, tone
        looks.add((border.group(1), background.group(1)))
    assert len(looks) == len(TONES)  # no two tones look alike even to someone who cannot tell hues apart
    for sheet_path in (STYLE_SHEET, HIGH_CONTRAST_SHEET):
        for tone in TONES:
            rule(sheet_path.read_text(encoding="utf-8"), f'*[tone="{tone}"]')


def test_states_gates_and_bolink_always_come_with_words() -> None:
    assert len({state_words(s) for s in LaneState}) == len(LaneState)
    for state in LaneState:
        assert state_words(state).strip() and state_tone(state) in TONES
    for gate in ("closed", "opening", "open", "fault"):
        assert gate_words(gate).strip() and gate_tone(gate) in TONES
    for online in (None, True, False):
        assert bolink_words(online).strip() and bolink_tone(online) in TONES


def test_a_lane_shows_every_state_in_words_next_to_its_tone(window: BoothWindow) -> None:
    panel = window.lane_panel("X1")
    for state in LaneState:
        panel.show_view(LaneView("X1", "东出口", "exit", state, "", plate="苏A12345", due_fen=500))
        assert panel.state_words.text() == state_words(state)
        assert panel.state_bar.property("tone") == state_tone(state)
        assert panel.gate_badge.text() and panel.bolink_badge.text()


@pytest.mark.parametrize("scale", [0.75, 1.0, 1.5, 2.0])
def test_font_scale_scales_text_and_never_shrinks_targets(scale: float) -> None:
    base, sizes = Sizes.for_screen(), Sizes.for_screen(scale)
    assert abs(sizes.text - base.text * scale) <= 1 and abs(sizes.amount - base.amount * scale) <= 1
    assert sizes.target >= base.target and sizes.key >= base.key and sizes.plate >= base.plate
    assert px_to_mm(sizes.target) >= 10 and px_to_mm(sizes.key) >= 10


@pytest.mark.parametrize("scale", [0.5, 2.5, True, "1"])
def test_a_bad_font_scale_or_theme_is_refused(scale: Any) -> None:
    with pytest.raises(ValueError, match=r"font_scale must be a number from 0\.75 to 2\.0"):
        Sizes.for_screen(scale)
    with pytest.raises(ValueError, match="unknown theme 'neon'"):
        style_sheet(Sizes.for_screen(), "neon")


def test_high_contrast_and_large_text_apply_to_a_running_window(
    window: BoothWindow, qapp: QApplication, qtbot: Any, restore_style: None
) -> None:
    sizes = apply_style(qapp, theme="high_contrast", font_scale=1.5)  # a Qt warning here fails the test
    assert qapp.property("boothTheme") == "high_contrast"
    assert "#ffd800" in qapp.styleSheet() and f"{sizes.text}px" in qapp.styleSheet()
    assert qapp.font().pixelSize() in (sizes.text, -1)  # -1 only when no CJK font is installed
    window.open_sync_panel()
    window.grab()  # paint everything once with the high-contrast sheet
    assert sizes.text > Sizes.for_screen().text


def test_scrollable_lists_follow_a_finger(window: BoothWindow, engine: Engine) -> None:
    window.open_sync_panel()
    areas = window.findChildren(QAbstractScrollArea)
    assert window.sync_panel.scroll_area in areas
    for area in areas:
        gesture = QScroller.grabbedGesture(area.viewport())
        assert gesture != QScroller.ScrollerGestureType(0), f"{area.objectName()} cannot be dragged"
