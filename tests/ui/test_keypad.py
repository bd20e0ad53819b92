"""The plate keypad: every plate kind typed by taps, the provinces in a useful order, keys big enough for a
finger, suggestions from the cars in the lot when a plate was misread, and the misread itself in the field
to edit (a tap in the field puts the cursor where the wrong character is)."""

from __future__ import annotations

from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QLineEdit, QPushButton

from booth.domain.lane import LaneState, LaneView
from booth.domain.plates import PROVINCES, PlateKind, parse_plate
from booth.engine import Engine
from ui.kit.keypads import (
    PLATE_PREFIXES,
    PLATE_SUFFIXES,
    PlateKeypad,
    RecentProvinces,
    province_order,
)
from ui.kit.physical import mm_to_px, px_to_mm
from ui.lanes.plate_panel import PlatePanel
from ui.shell.main_window import BoothWindow

TARGET = mm_to_px(12)
WAIT_MS = 10_000


def no_stay(plate: str = "苏A1Z345") -> LaneView:
    return LaneView("X1", "东出口", "exit", LaneState.NO_STAY, "无入场记录", plate=plate)


def tap_key(qtbot: Any, keypad: PlateKeypad, text: str) -> None:
    """Tap the key showing ``text`` on the page on screen, turning the page first when it is elsewhere."""
    for _ in range(2):
        found = [b for b in keypad.findChildren(QPushButton) if b.text() == text and b.isVisibleTo(keypad)]
        if found:
            assert len(found) == 1, f"two keys {text!r}"
            qtbot.mouseClick(found[0], Qt.MouseButton.LeftButton)
            return
        qtbot.mouseClick(keypad.toggle, Qt.MouseButton.LeftButton)
    raise AssertionError(f"no key {text!r} on either page")


def retype(qtbot: Any, keypad: PlateKeypad, keys: str) -> None:
    """Tap "清除" (the field starts with the plate as read), then ``keys``."""
    clear = [b for b in keypad.findChildren(QPushButton) if b.text() == "清除"]
    assert len(clear) == 1
    qtbot.mouseClick(clear[0], Qt.MouseButton.LeftButton)
    for ch in keys:
        tap_key(qtbot, keypad, ch)


def point_before(field: QLineEdit, index: int) -> QPoint:
    """Where a finger taps in ``field`` to put the cursor before character ``index`` (found by asking the
    field itself which position each x maps to)."""
    y = field.height() // 2
    for x in range(field.width()):
        if field.cursorPositionAt(QPoint(x, y)) == index:
            return QPoint(x, y)
    raise AssertionError(f"no point of the field maps to position {index}")


@pytest.fixture
def panel(qtbot: Any) -> PlatePanel:
    panel = PlatePanel(TARGET, home_province="苏")
    qtbot.addWidget(panel)
    panel.show()
    panel.prepare(no_stay())
    return panel


@pytest.mark.parametrize(
    ("keys", "kind"),
    [
        ("苏A12345", PlateKind.ORDINARY),
        ("粤BD12345", PlateKind.NEW_ENERGY_SMALL),  # D after the letter, 8 characters
        ("粤BFA1234", PlateKind.NEW_ENERGY_SMALL),
        ("粤B12345D", PlateKind.NEW_ENERGY_LARGE),  # D at the end
        ("粤B12345F", PlateKind.NEW_ENERGY_LARGE),
        ("苏A1234学", PlateKind.COACH),
        ("苏A1234警", PlateKind.POLICE),
        ("苏E1234挂", PlateKind.TRAILER),
        ("粤Z1234港", PlateKind.HONG_KONG),
        ("粤Z1234澳", PlateKind.MACAU),
        ("沪A1234领", PlateKind.CONSULATE),
        ("使123456", PlateKind.EMBASSY),
        ("WJ京12345", PlateKind.ARMED_POLICE),  # W and J from the letters, then 京 from the provinces
        ("WJ1234X", PlateKind.ARMED_POLICE),
    ],
)
def test_every_plate_kind_can_be_typed_by_taps(
    qtbot: Any, panel: PlatePanel, keys: str, kind: PlateKind
) -> None:
    retype(qtbot, panel.keypad, keys)
    assert panel.field.text() == keys
    assert panel.confirm_button.isEnabled()
    assert panel.validated() == keys
    assert parse_plate(keys).kind is kind


def test_a_refusal_is_worded_from_the_error_code(qtbot: Any, panel: PlatePanel) -> None:
    """One colon, after "车牌无效": the reason and the shape it should have are one clause, not a stack."""
    retype(qtbot, panel.keypad, "粤B12345A")
    assert panel.validated() is None
    assert panel.error.text() == "车牌无效：8位车牌应为新能源车牌（小型字母后是D或F，大型以D或F结尾）"
    panel.keypad.clear()
    for ch in "苏A1234":
        tap_key(qtbot, panel.keypad, ch)
    assert panel.validated() is None
    assert panel.error.text() == "车牌无效：太短，普通车牌为7位（省份、字母、5位序号）"
    assert panel.error.text().count("：") == 1


def test_the_keypad_opens_with_the_misread_to_edit_where_the_finger_puts_the_cursor(
    qtbot: Any, panel: PlatePanel
) -> None:
    """The camera read 苏A12345 as 苏A1Z345: the field holds the misread, confirm waits for a change; a tap
    after the Z and ⌫ take the Z out, 2 goes in its place, and the rest of the plate stays as read."""
    field = panel.field
    assert field.text() == "苏A1Z345" and field.cursorPosition() == len("苏A1Z345")
    assert not panel.confirm_button.isEnabled()  # nothing corrected yet
    assert not panel.keypad.showing_provinces()  # the cursor is after the province
    qtbot.mouseClick(field, Qt.MouseButton.LeftButton, pos=point_before(field, 4))
    assert field.cursorPosition() == 4
    tap_key(qtbot, panel.keypad, "⌫")
    tap_key(qtbot, panel.keypad, "2")
    assert field.text() == "苏A12345" and field.cursorPosition() == 4
    assert panel.confirm_button.isEnabled() and panel.validated() == "苏A12345"
    # the province: a tap before the first character brings the provinces, and one replaces it
    qtbot.mouseClick(field, Qt.MouseButton.LeftButton, pos=point_before(field, 0))
    assert field.cursorPosition() == 0 and panel.keypad.showing_provinces()
    tap_key(qtbot, panel.keypad, "浙")
    assert field.text() == "浙苏A12345"  # typed in front: the old province is still there
    qtbot.mouseClick(field, Qt.MouseButton.LeftButton, pos=point_before(field, 2))
    tap_key(qtbot, panel.keypad, "⌫")
    assert field.text() == "浙A12345" and panel.validated() == "浙A12345"
    # a plate is at most PLATE_MAX_LEN characters, wherever the cursor is
    qtbot.mouseClick(field, Qt.MouseButton.LeftButton, pos=point_before(field, 3))
    for ch in "99":
        tap_key(qtbot, panel.keypad, ch)
    assert field.text() == "浙A1992345"
    tap_key(qtbot, panel.keypad, "8")
    assert field.text() == "浙A1992345"  # a tenth character is refused, nothing moved


def test_keys_cover_letters_without_i_and_o_digits_and_suffixes_at_finger_size(qtbot: Any) -> None:
    field = QLineEdit()
    keypad = PlateKeypad(field, TARGET)
    qtbot.addWidget(keypad)
    qtbot.addWidget(field)
    texts = [b.text() for b in keypad.findChildren(QPushButton)]
    assert sorted(t for t in texts if len(t) == 1 and t.isascii() and t.isalpha()) == sorted(
        "ABCDEFGHJKLMNPQRSTUVWXYZ"
    )
    assert all(d in texts for d in "0123456789")
    assert all(s in texts for s in PLATE_SUFFIXES + PLATE_PREFIXES)
    assert sorted(t for t in texts if t in PROVINCES) == sorted(PROVINCES)
    for button in keypad.findChildren(QPushButton):
        assert px_to_mm(button.minimumWidth()) >= 10 and px_to_mm(button.minimumHeight()) >= 10
        assert button.sizeHint().height() >= button.minimumHeight()


def test_provinces_put_the_lots_own_first_then_the_recent_ones(qtbot: Any) -> None:
    assert province_order("苏", []) == "苏" + PROVINCES.replace("苏", "")
    assert province_order("苏", ["川", "苏", "?"])[:3] == "苏川京"
    assert sorted(province_order(None, ["粤"])) == sorted(PROVINCES)

    recent = RecentProvinces(limit=2)
    field = QLineEdit()
    keypad = PlateKeypad(field, TARGET, home_province="浙", recent=recent)
    qtbot.addWidget(keypad)
    qtbot.addWidget(field)
    assert [b.text() for b in keypad.province_keys][:2] == ["浙", "京"]
    for first in ("粤", "川", "闽"):
        tap_key(qtbot, keypad, first)
        tap_key(qtbot, keypad, "A")  # a province later in the text is not "recent"
        keypad.clear()
    assert keypad.showing_provinces()
    assert [b.text() for b in keypad.province_keys][:4] == ["浙", "闽", "川", "京"]  # only the last two
    tap_key(qtbot, keypad, "川")  # a key types what it shows after the re-ordering
    assert field.text() == "川"


def resolved(plates: list[str]) -> Future[list[str]]:
    future: Future[list[str]] = Future()
    future.set_result(plates)
    return future


def test_suggestions_offer_in_lot_plates_within_the_confusions(qtbot: Any) -> None:
    asked: list[bool] = []

    def plates_in_lot() -> Future[list[str]]:
        asked.append(True)
        return resolved(["苏A12345", "苏A1Z34S", "苏A99999", "苏AB2345"])

    panel = PlatePanel(TARGET, plates_in_lot=plates_in_lot)
    qtbot.addWidget(panel)
    panel.show()
    panel.prepare(no_stay("苏A1Z345"))
    qtbot.waitUntil(lambda: panel.suggestion_bar.isVisible(), timeout=WAIT_MS)
    shown = [b.text() for b in panel.suggestion_buttons if b.isVisibleTo(panel)]
    assert shown == ["苏A12345", "苏A1Z34S"] and asked == [True]
    for button in panel.suggestion_buttons:
        assert px_to_mm(button.minimumHeight()) >= 10
    retype(qtbot, panel.keypad, "苏A8")  # typing narrows the list to what starts like the text
    assert [b.text() for b in panel.suggestion_buttons if b.isVisibleTo(panel)] == ["苏AB2345"]
    qtbot.mouseClick(panel.suggestion_buttons[0], Qt.MouseButton.LeftButton)
    assert panel.field.text() == "苏AB2345" and panel.validated() == "苏AB2345"
    assert not panel.suggestion_bar.isVisible()  # the field is the plate now: nothing left to suggest


def test_a_failing_or_missing_source_of_plates_leaves_the_keypad_working(qtbot: Any) -> None:
    def broken() -> Future[list[str]]:
        raise RuntimeError("engine is not running")

    failed: Future[list[str]] = Future()
    failed.set_exception(OSError("database gone"))
    for source in (broken, lambda: failed, None):
        panel = PlatePanel(TARGET, plates_in_lot=source)
        qtbot.addWidget(panel)
        panel.prepare(no_stay())
        assert panel.suggestions() == []
        retype(qtbot, panel.keypad, "苏")
        assert panel.field.text() == "苏"


def test_window_suggests_the_car_in_the_lot_and_the_tap_corrects_the_plate(
    window: BoothWindow, engine: Engine, qtbot: Any
) -> None:
    lane = window.lane_panel("X1")
    engine.seed_stay("苏A12345", datetime.now(UTC) - timedelta(hours=1)).result(10)
    engine.vehicle_at("X1", "苏A1Z345").result(10)  # the camera read 2 as Z
    qtbot.waitUntil(lambda: lane.view.state is LaneState.NO_STAY, timeout=WAIT_MS)
    qtbot.mouseClick(lane.action_buttons["correct_plate"], Qt.MouseButton.LeftButton)
    fix = lane.open_action()
    assert isinstance(fix, PlatePanel)
    assert fix.keypad.province_keys[0].text() == window.settings.park.province
    qtbot.waitUntil(lambda: fix.suggestion_bar.isVisible(), timeout=WAIT_MS)
    assert fix.suggestion_buttons[0].text() == "苏A12345"
    qtbot.mouseClick(fix.suggestion_buttons[0], Qt.MouseButton.LeftButton)
    qtbot.mouseClick(fix.confirm_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(
        lambda: lane.view.plate == "苏A12345" and lane.view.state is LaneState.AWAITING_PAYMENT,
        timeout=WAIT_MS,
    )
