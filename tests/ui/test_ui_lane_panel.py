"""One lane drawn from LaneView values: what an attendant reads, and which actions are offered when."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from lane_driving import lane_settings

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtWidgets import QPushButton

from booth.config import Settings
from booth.domain.lane import LaneState, LaneView
from booth.engine import Engine
from ui.kit.physical import px_to_mm
from ui.kit.wording import duration_words, state_tone, state_words
from ui.lanes.actions import CashPanel
from ui.lanes.lane_details import photo_decoder, plate_for_display
from ui.lanes.lane_panel import ACTIONS, LanePanel, action_allowed
from ui.lanes.reason_panel import ReasonPanel
from ui.shell.main_window import BoothWindow

PAY_URL = "http://127.0.0.1:9/pay/X1"


@pytest.fixture
def idle_engine(settings: Settings) -> Iterator[Engine]:
    """An engine that is not started: the window shows what it is given, commands are refused."""
    engine = Engine(settings)
    yield engine
    engine.stop()


@pytest.fixture
def idle_window(make_window: Callable[[Settings, Engine], BoothWindow], settings: Settings,
                idle_engine: Engine) -> BoothWindow:
    return make_window(settings, idle_engine)


@pytest.fixture
def panel(idle_window: BoothWindow) -> LanePanel:
    return idle_window.lane_panel("X1")


def exit_view(state: LaneState, **fields: Any) -> LaneView:
    values: dict[str, Any] = {"plate": "苏A12345", "plate_colour": "blue", "due_fen": 1_100,
                              "breakdown": (("首60分钟", 500), ("续3个30分钟×2.00元", 600)),
                              "code_url": PAY_URL,
                              "entry_at": datetime(2026, 1, 1, 0, 0, tzinfo=UTC),
                              "exit_at": datetime(2026, 1, 1, 2, 5, tzinfo=UTC), "duration_minutes": 125}
    values.update(fields)
    return LaneView("X1", "东出口", "exit", state, f"消息 {state}", **values)


def test_every_state_reads_in_words_with_its_colour(panel: LanePanel) -> None:
    seen: set[str] = set()
    for state in LaneState:
        panel.show_view(exit_view(state))
        words = panel.state_words.text()
        assert words and words == state_words(state)
        assert panel.state_bar.property("tone") == state_tone(state)
        assert panel.state_message.text() == f"消息 {state}"
        seen.add(words)
    assert len(seen) == len(LaneState)  # two states never look alike in words


@pytest.mark.parametrize(
    ("gate", "words", "tone"),
    [("closed", "道闸：关闭", "idle"), ("opening", "道闸：抬杆中", "busy"), ("open", "道闸：已开", "ok"),
     ("fault", "道闸：故障", "bad")],
)
def test_the_gate_in_words_and_colour(panel: LanePanel, gate: str, words: str, tone: str) -> None:
    panel.show_view(exit_view(LaneState.OPENING, gate=gate))
    assert panel.gate_badge.text() == words and panel.gate_badge.property("tone") == tone


def test_a_car_waiting_to_pay(panel: LanePanel) -> None:
    panel.show_view(exit_view(LaneState.AWAITING_PAYMENT))
    assert panel.plate_label.text() == "苏A·12345" and panel.plate_label.property("plateColour") == "blue"
    assert panel.amount.text() == "¥11.00"
    assert "首60分钟" in panel.breakdown.text() and "¥6.00" in panel.breakdown.text()
    assert panel.entry_value.text() == "01-01 08:00:00"  # the lot's zone (Asia/Shanghai), not UTC
    assert panel.exit_value.text() == "01-01 10:05:00"
    assert panel.duration_value.text() == "2小时5分钟"
    assert panel.media.currentIndex() == 0 and panel.qr.url == PAY_URL
    assert panel.qr_caption.text() == "请用手机扫码支付" and panel.qr_amount.text() == "¥11.00"
    assert panel.photo_small.isVisible() and not panel.photo_small.has_photo
    for action in ACTIONS:
        assert panel.action_buttons[action].isEnabled()


def test_an_empty_lane(panel: LanePanel) -> None:
    panel.show_view(LaneView("X1", "东出口", "exit", LaneState.IDLE, "等待车辆"))
    assert panel.plate_label.text() == "无车辆" and panel.plate_label.property("plateColour") == "none"
    assert panel.amount.text() == "—" and panel.breakdown.text() == "" and panel.entry_value.text() == "—"
    assert panel.media.currentIndex() == 2 and panel.qr.url is None
    assert not panel.photo_large.has_photo and panel.photo_large.toolTip() == "无车辆图像"
    enabled = {a for a, b in panel.action_buttons.items() if b.isEnabled()}
    assert enabled == {"manual_lift"}


def test_the_code_shows_only_while_money_is_due(panel: LanePanel) -> None:
    for state in (LaneState.SETTLING, LaneState.OPENING, LaneState.GATE_OPEN, LaneState.QUOTING):
        panel.show_view(exit_view(state))
        assert panel.media.currentIndex() == 2 and panel.qr.url is None, state
    panel.show_view(exit_view(LaneState.AWAITING_PAYMENT, code_url=None, bolink_online=False))
    assert panel.media.currentIndex() == 1 and panel.qr_missing.text() == "正在获取付款码…"
    panel.set_bolink_known(True)  # the window has heard from Bolink: offline really is offline
    assert panel.qr_missing.text() == "暂不能扫码\n请付现金 ¥11.00"
    assert panel.bolink_badge.text() == "泊链：离线" and panel.bolink_badge.property("tone") == "offline"


@pytest.mark.parametrize(
    ("state", "allowed"),
    [
        (LaneState.QUOTING, {"correct_plate", "manual_lift", "cancel"}),
        (LaneState.NO_STAY, {"correct_plate", "free_release", "manual_lift", "cancel"}),
        (LaneState.PAYMENT_FAILED, set(ACTIONS)),
        (LaneState.TIMED_OUT, set(ACTIONS)),
        (LaneState.SETTLING, set()),
        (LaneState.OPENING, set()),
        (LaneState.GATE_OPEN, {"manual_lift"}),
        (LaneState.GATE_FAULT, {"manual_lift", "cancel"}),
    ],
)
def test_actions_follow_the_state(panel: LanePanel, state: LaneState, allowed: set[str]) -> None:
    view = exit_view(state)
    panel.show_view(view)
    assert {a for a in ACTIONS if action_allowed(a, view)} == allowed
    assert {a for a, b in panel.action_buttons.items() if b.isEnabled()} == allowed


def test_entry_lanes_offer_no_money_actions() -> None:
    view = LaneView("N1", "北入口", "entry", LaneState.REFUSED, "禁止入场：黑名单车辆", plate="京A11111")
    assert {a for a in ACTIONS if action_allowed(a, view)} == {"manual_lift", "cancel"}


def _photo(path: Path, colour: str) -> str:
    image = QImage(640, 480, QImage.Format.Format_RGB32)
    image.fill(QColor(colour))
    assert image.save(str(path))
    return str(path)


def test_the_camera_photo_and_a_broken_one(panel: LanePanel, tmp_path: Path, qtbot: Any) -> None:
    panel.show_view(exit_view(LaneState.GATE_OPEN, photo=_photo(tmp_path / "car.jpg", "#3366aa")))
    qtbot.waitUntil(lambda: panel.photo_large.has_photo, timeout=5000)  # decoded off the GUI thread
    assert not panel.photo_large.pixmap().isNull()
    panel.show_view(exit_view(LaneState.GATE_OPEN, plate="苏B22222", photo=str(tmp_path / "gone.jpg")))
    qtbot.waitUntil(lambda: panel.photo_large.toolTip() == "车辆图像无法读取", timeout=5000)
    assert not panel.photo_large.has_photo


def test_a_late_photo_of_the_last_car_is_never_shown(panel: LanePanel, tmp_path: Path, qtbot: Any) -> None:
    """The photo thread is held while two cars come: the first car's photo, decoded late, is dropped; the
    boxes show the second car's, and nothing of the first's in between."""
    first, second = _photo(tmp_path / "a.jpg", "#ff0000"), _photo(tmp_path / "b.jpg", "#0000ff")
    box, drawn = panel.photo_large, []
    show_image = box.show_image

    def recording(image: QImage | None, description: str, scaled: tuple[QSize, QImage] | None = None) -> None:
        if image is not None:
            centre = image.pixelColor(image.width() // 2, image.height() // 2)
            drawn.append("red" if centre.red() > centre.blue() else "blue")  # (a JPEG: near, not exact)
            assert scaled is not None and scaled[0] == box.contentsRect().size()
            assert scaled[1].size() == image.size().scaled(scaled[0], Qt.AspectRatioMode.KeepAspectRatio)
            # (scaled to the box on the photo thread: the GUI thread only shows it)
        show_image(image, description, scaled)

    box.show_image = recording  # type: ignore[method-assign]
    gate = threading.Event()
    held = photo_decoder().submit(gate.wait, 5.0)
    try:
        panel.show_view(exit_view(LaneState.GATE_OPEN, photo=first))
        assert not panel.photo_large.has_photo and panel.details.photo_pending
        assert panel.photo_large.pixmap().isNull()  # pending: an empty box, not the 'no photo' sign
        panel.show_view(exit_view(LaneState.GATE_OPEN, plate="苏B22222", photo=second))
    finally:
        gate.set()
    held.result(5.0)
    qtbot.waitUntil(lambda: box.has_photo, timeout=5000)  # (one thread: the first car's came before)
    assert drawn == ["blue"]  # the second car's photo, and only it
    assert not panel.details.photo_pending and not box.pixmap().isNull()


def test_an_open_panel_closes_when_another_car_arrives(panel: LanePanel) -> None:
    panel.show_view(exit_view(LaneState.AWAITING_PAYMENT))
    panel.trigger("cash")
    cash = panel.open_action()
    assert isinstance(cash, CashPanel) and cash is panel.panels["cash"]
    panel.show_view(exit_view(LaneState.AWAITING_PAYMENT, due_fen=900))  # same car, new amount: kept
    assert cash.due_label.text() == "应收 ¥9.00"
    panel.show_view(exit_view(LaneState.QUOTING, plate="浙B99999"))
    assert panel.open_action() is None
    assert panel.feedback.text() == "车辆已变化，「收现金」已关闭"


def test_a_command_the_engine_cannot_take_is_explained_in_the_panel(panel: LanePanel, qtbot: Any) -> None:
    panel.show_view(LaneView("X1", "东出口", "exit", LaneState.IDLE, "等待车辆"))
    lift = panel.open_panel("manual_lift")
    assert isinstance(lift, ReasonPanel)
    lift.field.setText("道闸故障")
    lift.confirm_button.click()
    qtbot.waitUntil(lambda: bool(lift.error.text()))
    assert lift.error.text() == "系统无法执行：engine is not running"
    assert panel.open_action() is lift and lift.confirm_button.isEnabled()


@pytest.mark.parametrize("lanes", [1, 2, 3, 4])
def test_one_to_four_lanes_on_one_screen(lanes: int, tmp_path: Path,
                                         make_window: Callable[[Settings, Engine], BoothWindow]) -> None:
    settings = lane_settings(tmp_path, lanes=lanes)
    engine = Engine(settings)
    try:
        window = make_window(settings, engine)
        window.resize(1920, 1080)
        panels = [window.lane_panel(f"X{i + 1}") for i in range(lanes)]
        tops = {p.geometry().top() for p in panels}
        lefts = {p.geometry().left() for p in panels}
        assert len(tops) == 1 and len(lefts) == lanes  # side by side
        assert all(p.narrow == (lanes > 2) for p in panels)
        needed = window.minimumSizeHint()
        assert needed.width() <= 1920 and needed.height() <= 1080, f"{lanes} lanes need {needed}"
        for button in window.findChildren(QPushButton):
            if button.isVisibleTo(window):
                width, height = px_to_mm(button.minimumWidth()), px_to_mm(button.minimumHeight())
                assert width >= 10 and height >= 10, button.text()
    finally:
        engine.stop()


def test_plate_and_duration_wording() -> None:
    assert plate_for_display("苏A12345") == "苏A·12345"
    assert plate_for_display("京AD12345") == "京A·D12345"
    assert plate_for_display("无0000001") == "无0000001"
    assert duration_words(0) == "0分钟" and duration_words(61) == "1小时1分钟"
    assert duration_words(1440 + 125) == "1天2小时5分钟"


def test_a_box_resized_while_its_photo_decodes_gets_it_at_its_new_size(
    panel: LanePanel, tmp_path: Path, qtbot: Any
) -> None:
    box, gate = panel.photo_large, threading.Event()
    held = photo_decoder().submit(gate.wait, 5.0)
    try:
        panel.show_view(exit_view(LaneState.GATE_OPEN, photo=_photo(tmp_path / "c.jpg", "#00aa00")))
        box.setFixedSize(QSize(203, 151))  # after the decode was asked for at the old size
        qtbot.wait(20)
    finally:
        gate.set()
    held.result(5.0)
    qtbot.waitUntil(lambda: box.has_photo, timeout=5000)
    inner = box.contentsRect().size()
    shown = box.pixmap().size()
    assert shown == QSize(640, 480).scaled(inner, Qt.AspectRatioMode.KeepAspectRatio)
