"""What an attendant types: money takes only money, a plate only what the parser accepts, a reason is never
empty, and no sequence of taps crashes anything."""

from __future__ import annotations

import random
from typing import Any

import pytest
from lane_driving import type_chinese

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit, QPushButton

from booth.domain.lane import LaneState, LaneView
from booth.domain.money import parse_yuan
from booth.domain.plates import PROVINCES, parse_plate
from ui.kit.keypads import BACKSPACE, MONEY_PARTIAL, PLATE_LETTERS, MoneyPad, PlateKeypad
from ui.kit.physical import mm_to_px, px_to_mm
from ui.lanes.actions import CashPanel
from ui.lanes.plate_panel import PlatePanel
from ui.lanes.reason_panel import ReasonPanel

TARGET = mm_to_px(12)


def awaiting(due_fen: int | None = 1_100, plate: str | None = "苏A12345") -> LaneView:
    return LaneView("X1", "东出口", "exit", LaneState.AWAITING_PAYMENT, "请付款", plate=plate,
                    due_fen=due_fen)


def keys(widget: Any) -> dict[str, QPushButton]:
    return {b.text(): b for b in widget.findChildren(QPushButton)}


@pytest.mark.parametrize(
    ("presses", "text"),
    [
        ("12", "12"),
        (".5", "0.5"),  # a leading point means 0.
        ("1.2.3", "1.23"),  # a second point is refused
        ("9.999", "9.99"),  # no third decimal
        ("12345678", "123456"),  # at most six digits of yuan
        ("12" + BACKSPACE + "5", "15"),
    ],
)
def test_money_pad_keeps_the_field_a_possible_amount(qtbot: Any, presses: str, text: str) -> None:
    field = QLineEdit()
    pad = MoneyPad(field, TARGET)
    qtbot.addWidget(pad)
    qtbot.addWidget(field)
    for ch in presses:
        pad.press(ch)
    assert field.text() == text


def test_money_pad_keys_and_banknotes(qtbot: Any) -> None:
    field = QLineEdit()
    pad = MoneyPad(field, TARGET)
    qtbot.addWidget(pad)
    qtbot.addWidget(field)
    k = keys(pad)
    assert not k["正好"].isEnabled()
    pad.set_exact("23.50")
    qtbot.mouseClick(k["正好"], Qt.MouseButton.LeftButton)
    assert field.text() == "23.50"
    qtbot.mouseClick(k["¥50"], Qt.MouseButton.LeftButton)
    assert field.text() == "50"
    qtbot.mouseClick(k["清除"], Qt.MouseButton.LeftButton)
    assert field.text() == ""
    for button in k.values():  # every key is at least 10 mm on each side
        assert px_to_mm(button.minimumWidth()) >= 10 and px_to_mm(button.minimumHeight()) >= 10


def test_random_taps_never_crash_and_never_leave_a_non_amount(qtbot: Any) -> None:
    panel = CashPanel(TARGET)
    qtbot.addWidget(panel)
    panel.prepare(awaiting(1_234))
    rng = random.Random(20240611)
    buttons = list(keys(panel.pad).values())
    for _ in range(400):
        qtbot.mouseClick(rng.choice(buttons), Qt.MouseButton.LeftButton)
        text = panel.field.text()
        assert MONEY_PARTIAL.match(text)
        fen = panel.validated()
        if fen is not None:
            assert fen == parse_yuan(text) and fen >= 1_234
        else:
            assert panel.error.text()  # a refusal always says why


def test_cash_panel_filters_a_hardware_keyboard_and_shows_change(qtbot: Any) -> None:
    panel = CashPanel(TARGET)
    qtbot.addWidget(panel)
    panel.prepare(awaiting(1_100))
    assert panel.due_label.text() == "应收 ¥11.00"
    assert not panel.confirm_button.isEnabled()  # nothing typed yet
    qtbot.keyClicks(panel.field, "2x0.5")
    assert panel.field.text() == "20.5"
    assert panel.change_label.text() == "找零 ¥9.50"
    assert panel.confirm_button.isEnabled()
    assert panel.validated() == 2_050
    panel.field.setText("8")
    panel.pad.edited.emit()
    assert panel.validated() is None
    assert panel.error.text() == "实收不足：应收 ¥11.00，实收 ¥8.00"


def test_cash_panel_without_anything_due_takes_nothing(qtbot: Any) -> None:
    panel = CashPanel(TARGET)
    qtbot.addWidget(panel)
    panel.prepare(awaiting(due_fen=None))
    panel.field.setText("50")
    assert panel.validated() is None
    assert panel.error.text() == "没有待付款订单，不能收现金"


def test_plate_keypad_offers_provinces_then_letters_without_i_and_o(qtbot: Any) -> None:
    field = QLineEdit()
    keypad = PlateKeypad(field, TARGET)
    qtbot.addWidget(keypad)
    qtbot.addWidget(field)
    k = keys(keypad)
    assert all(p in k for p in PROVINCES) and len(PROVINCES) == 31
    assert all(letter in k for letter in PLATE_LETTERS) and "I" not in k and "O" not in k
    assert all(d in k for d in "0123456789")
    assert keypad.showing_provinces()
    for ch in "浙A8D8":
        qtbot.mouseClick(k[ch], Qt.MouseButton.LeftButton)
    assert field.text() == "浙A8D8" and not keypad.showing_provinces()
    keypad.press("I")  # not on the keypad, and refused if sent anyway
    keypad.press("?")
    assert field.text() == "浙A8D8"
    qtbot.mouseClick(k["字母/省份"], Qt.MouseButton.LeftButton)
    assert keypad.showing_provinces()
    for _ in range(10):
        keypad.press(BACKSPACE)
    assert field.text() == "" and keypad.showing_provinces()


def test_plate_panel_names_the_problem_and_accepts_a_valid_plate(qtbot: Any) -> None:
    panel = PlatePanel(TARGET)
    qtbot.addWidget(panel)
    panel.prepare(awaiting(plate="苏A12845"))
    assert panel.current.text() == "识别为 苏A12845"
    for bad in ("苏A1234", "AA12345", "苏A12@45"):
        panel.field.setText(bad)
        assert panel.validated() is None
        assert panel.error.text().startswith("车牌无效：") and len(panel.error.text()) > len("车牌无效：")
    panel.field.setText("")
    type_chinese(panel.field, "苏")
    qtbot.keyClicks(panel.field, "a12345")
    assert panel.field.text() == "苏A12345"
    assert panel.error.text() == ""  # typing again clears the old refusal
    assert panel.validated() == parse_plate("苏A12345").text


def test_plate_panel_survives_random_taps(qtbot: Any) -> None:
    panel = PlatePanel(TARGET)
    qtbot.addWidget(panel)
    panel.prepare(awaiting())
    rng = random.Random(7)
    buttons = panel.keypad.findChildren(QPushButton)  # keys of both pages, as if both were on screen
    for _ in range(300):
        rng.choice(buttons).click()
        result = panel.validated()
        if result is not None:
            assert parse_plate(result).text == result
        else:
            assert panel.error.text()


def test_reason_panel_requires_a_reason_and_trims_it(qtbot: Any) -> None:
    panel = ReasonPanel("manual_lift", "人工抬杆", "确认抬杆", ["道闸故障", "经理批准"], TARGET)
    qtbot.addWidget(panel)
    panel.prepare(awaiting())
    assert panel.validated() is None and panel.error.text() == "请填写或选择原因"
    qtbot.keyClicks(panel.field, "   ")
    assert panel.validated() is None
    panel.field.clear()
    type_chinese(panel.field, "  救护车   通行 ")
    assert panel.validated() == "救护车 通行"
    qtbot.mouseClick(keys(panel)["经理批准"], Qt.MouseButton.LeftButton)
    assert panel.validated() == "经理批准"
    type_chinese(panel.field, "很" * 100)
    assert len(panel.field.text()) <= 60


def test_busy_panel_cannot_be_confirmed_twice(qtbot: Any) -> None:
    panel = ReasonPanel("free_release", "免费放行", "确认免费放行", ["员工车辆"], TARGET)
    qtbot.addWidget(panel)
    panel.prepare(awaiting())
    panel.field.setText("员工车辆")
    fired: list[bool] = []
    panel.confirmed.connect(lambda: fired.append(True))
    panel.set_busy(True)
    assert not panel.confirm_button.isEnabled() and panel.confirm_button.text() == "处理中…"
    qtbot.mouseClick(panel.confirm_button, Qt.MouseButton.LeftButton)
    assert fired == []
    panel.set_busy(False)
    assert panel.confirm_button.text() == "确认免费放行"
    qtbot.mouseClick(panel.confirm_button, Qt.MouseButton.LeftButton)
    assert fired == [True]
