"""The window driven through real exits: a real engine, the Bolink sandbox on loopback, simulated gates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from lane_driving import bring_car, driver_pays, push_bolink_heartbeat, start_cloud, stop_cloud, type_chinese
from qr_reading import decode_qr

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QPushButton, QWidget

from booth.domain.lane import LaneState
from booth.engine import Engine, GateCommanded
from ui.kit.wording import yuan
from ui.lanes.actions import CashPanel
from ui.lanes.lane_panel import LanePanel
from ui.lanes.plate_panel import PlatePanel
from ui.lanes.reason_panel import ReasonPanel
from ui.shell.main_window import BoothWindow

WAIT_MS = 10_000


def tap(qtbot: Any, button: QPushButton) -> None:
    assert button.isVisible() and button.isEnabled(), f"{button.text()!r} cannot be tapped now"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def key(container: QWidget, text: str) -> QPushButton:
    """The on-screen key labelled ``text`` (exactly one)."""
    found = [b for b in container.findChildren(QPushButton) if b.text() == text and b.isVisibleTo(container)]
    assert len(found) == 1, f"expected one key {text!r}, found {len(found)}"
    return found[0]


def wait_state(qtbot: Any, panel: LanePanel, state: LaneState) -> None:
    qtbot.waitUntil(lambda: panel.view.state is state, timeout=WAIT_MS)


def wait_awaiting_with_qr(qtbot: Any, panel: LanePanel) -> None:
    qtbot.waitUntil(
        lambda: panel.view.state is LaneState.AWAITING_PAYMENT and panel.view.code_url is not None,
        timeout=WAIT_MS,
    )


def test_qr_payment_opens_the_gate_and_the_lane_returns_to_waiting(window: BoothWindow, engine: Engine,
                                                                   qtbot: Any) -> None:
    panel = window.lane_panel("X1")
    assert panel.state_words.text() == "等待车辆"
    bring_car(engine, "X1", "苏A12345")
    wait_awaiting_with_qr(qtbot, panel)

    assert panel.plate_label.text() == "苏A·12345"
    assert panel.state_words.text() == "待付款"
    assert panel.state_bar.property("tone") == "pay"
    due = panel.view.due_fen
    assert due is not None and due > 0
    assert panel.amount.text() == yuan(due)
    for label, fen in panel.view.breakdown:
        assert label in panel.breakdown.text() and yuan(fen) in panel.breakdown.text()
    assert panel.entry_value.text() != "—" and panel.duration_value.text().endswith("分钟")

    pay_url = f"{engine.sandbox.base_url}/pay/X1"
    assert panel.view.code_url == pay_url
    assert panel.qr.isVisible()
    assert decode_qr(panel.qr.grab().toImage()) == [pay_url]
    assert panel.qr_amount.text() == yuan(due) and panel.qr_amount.isVisible()  # the amount under the code

    driver_pays(engine, "X1")
    wait_state(qtbot, panel, LaneState.GATE_OPEN)
    assert panel.state_words.text() == "道闸已开"
    assert panel.gate_badge.text() == "道闸：已开"
    assert not panel.qr.isVisible()  # nothing left to pay: no code to scan
    qtbot.waitUntil(lambda: window.cloud_status.text() == "泊链：在线", timeout=WAIT_MS)

    engine.vehicle_passed("X1").result(10)
    wait_state(qtbot, panel, LaneState.IDLE)
    assert panel.state_words.text() == "等待车辆"
    assert panel.plate_label.text() == "无车辆"
    assert panel.gate_badge.text() == "道闸：关闭"


def test_cash_refuses_too_little_then_takes_a_banknote_and_shows_the_change(
    window: BoothWindow, engine: Engine, qtbot: Any
) -> None:
    panel = window.lane_panel("X2")
    bring_car(engine, "X2", "京N8F2K7")
    wait_awaiting_with_qr(qtbot, panel)
    due = panel.view.due_fen
    assert due is not None and 100 < due < 10_000

    tap(qtbot, panel.action_buttons["cash"])
    cash = panel.open_action()
    assert isinstance(cash, CashPanel)
    assert not panel.action_bar.isVisible()  # the panel replaces the lane's details, in the lane
    tap(qtbot, key(cash.pad, "1"))
    assert cash.field.text() == "1"
    assert cash.change_label.text() == f"还差 {yuan(due - 100)}"
    tap(qtbot, cash.confirm_button)
    assert cash.error.text() == f"实收不足：应收 {yuan(due)}，实收 ¥1.00"
    assert engine.snapshot()[1].state is LaneState.AWAITING_PAYMENT  # nothing was sent

    tap(qtbot, key(cash.pad, "¥100"))
    assert cash.change_label.text() == f"找零 {yuan(10_000 - due)}"
    assert cash.error.text() == ""
    tap(qtbot, cash.confirm_button)
    wait_state(qtbot, panel, LaneState.GATE_OPEN)
    qtbot.waitUntil(lambda: panel.open_action() is None, timeout=WAIT_MS)
    assert panel.feedback.text() == "已收现金 ¥100.00"
    assert panel.view.change_fen == 10_000 - due
    assert panel.change.text() == f"找零 {yuan(10_000 - due)}"
    assert window.lane_panel("X1").view.state is LaneState.IDLE  # the other lane was never involved


def test_free_release_needs_a_reason(window: BoothWindow, engine: Engine, qtbot: Any) -> None:
    panel = window.lane_panel("X1")
    bring_car(engine, "X1", "沪B77777")
    wait_awaiting_with_qr(qtbot, panel)

    tap(qtbot, panel.action_buttons["free_release"])
    release = panel.open_action()
    assert isinstance(release, ReasonPanel)
    tap(qtbot, release.confirm_button)
    assert release.error.text() == "请填写或选择原因"
    assert engine.snapshot()[0].state is LaneState.AWAITING_PAYMENT

    tap(qtbot, key(release, "员工车辆"))
    assert release.field.text() == "员工车辆"
    lifts: list[GateCommanded] = []
    window.bridge.gateCommanded.connect(lifts.append)
    tap(qtbot, release.confirm_button)
    wait_state(qtbot, panel, LaneState.GATE_OPEN)
    qtbot.waitUntil(lambda: panel.feedback.text() == "已免费放行：员工车辆", timeout=WAIT_MS)
    assert [(g.lane_id, g.reason) for g in lifts] == [("X1", "free_release")]


def test_manual_lift_with_a_typed_reason_on_an_empty_lane(
    window: BoothWindow, engine: Engine, qtbot: Any
) -> None:
    panel = window.lane_panel("X2")
    tap(qtbot, panel.action_buttons["manual_lift"])
    lift = panel.open_action()
    assert isinstance(lift, ReasonPanel)
    qtbot.keyClicks(lift.field, "   ")
    tap(qtbot, lift.confirm_button)
    assert lift.error.text() == "请填写或选择原因"  # blanks are not a reason
    lift.field.clear()
    type_chinese(lift.field, "救护车通行")
    tap(qtbot, lift.confirm_button)
    # a typed reason could be any wording of one that needs a supervisor: it asks for one, sends nothing
    assert lift.awaiting_approval() and panel.view.state is LaneState.IDLE
    panel.close_panel()
    tap(qtbot, panel.action_buttons["manual_lift"])
    lift = panel.open_action()
    assert isinstance(lift, ReasonPanel)
    tap(qtbot, next(b for b in lift.preset_buttons if b.text() == "特种车辆"))
    lifts: list[GateCommanded] = []
    window.bridge.gateCommanded.connect(lifts.append)
    tap(qtbot, lift.confirm_button)
    wait_state(qtbot, panel, LaneState.GATE_OPEN)
    qtbot.waitUntil(lambda: panel.feedback.text() == "已人工抬杆：特种车辆", timeout=WAIT_MS)
    assert [(g.lane_id, g.reason) for g in lifts] == [("X2", "manual_lift")]
    assert panel.gate_badge.text() == "道闸：已开"


def test_plate_correction_refuses_a_bad_plate_then_reprices_the_right_one(window: BoothWindow, engine: Engine,
                                                                         qtbot: Any) -> None:
    panel = window.lane_panel("X1")
    engine.seed_stay("粤B12345", datetime.now(UTC) - timedelta(hours=3)).result(10)  # the car's real stay...
    engine.vehicle_at("X1", "粤B12845").result(10)  # ...but the camera misread one digit
    wait_state(qtbot, panel, LaneState.NO_STAY)
    assert panel.state_words.text() == "无入场记录"
    qtbot.waitUntil(lambda: "无入场记录" in window.alert_text.text(), timeout=WAIT_MS)

    tap(qtbot, panel.action_buttons["correct_plate"])
    fix = panel.open_action()
    assert isinstance(fix, PlatePanel)
    assert fix.field.text() == "粤B12845"  # the plate as read, to edit
    assert not fix.confirm_button.isEnabled()  # not corrected yet
    fix.field.selectAll()  # a hardware keyboard replaces it: select all, type
    type_chinese(fix.field, "粤")
    qtbot.keyClicks(fix.field, "b1234")  # too short, and in lower case from a hardware keyboard
    assert fix.field.text() == "粤B1234"
    tap(qtbot, fix.confirm_button)
    assert fix.error.text().startswith("车牌无效：")
    assert panel.view.plate == "粤B12845" and engine.snapshot()[0].state is LaneState.NO_STAY

    tap(qtbot, key(fix.keypad, "清除"))
    assert fix.keypad.showing_provinces()
    tap(qtbot, key(fix.keypad, "粤"))
    assert not fix.keypad.showing_provinces()  # after the province come letters and digits
    for ch in "B12345":
        tap(qtbot, key(fix.keypad, ch))
    assert fix.field.text() == "粤B12345"
    tap(qtbot, fix.confirm_button)
    qtbot.waitUntil(lambda: panel.view.plate == "粤B12345" and panel.view.state is LaneState.AWAITING_PAYMENT,
                    timeout=WAIT_MS)
    qtbot.waitUntil(lambda: panel.open_action() is None, timeout=WAIT_MS)
    assert panel.feedback.text() == "车牌已更正为 粤B12345"
    assert panel.view.due_fen is not None and panel.amount.text() == yuan(panel.view.due_fen)
    qtbot.waitUntil(lambda: "车牌已更正" in window.alert_text.text(), timeout=WAIT_MS)


def test_bolink_going_offline_shows_a_banner_and_cash_only_then_the_qr_comes_back(
    window: BoothWindow, engine: Engine, qtbot: Any
) -> None:
    panel = window.lane_panel("X1")
    push_bolink_heartbeat(engine)
    qtbot.waitUntil(lambda: window.bolink_online is True, timeout=WAIT_MS)
    assert not window.banner.isVisible()
    assert window.cloud_status.text() == "泊链：在线"

    stop_cloud(engine)
    qtbot.waitUntil(lambda: window.bolink_online is False, timeout=WAIT_MS)
    assert window.banner.isVisible()
    assert "泊链云端离线" in window.banner_text.text()
    assert window.cloud_status.text() == "泊链：离线"
    bring_car(engine, "X1", "苏A54321")
    qtbot.waitUntil(lambda: panel.view.state is LaneState.AWAITING_PAYMENT and not panel.view.bolink_online
                    and "泊链暂时不可用" in panel.view.message, timeout=WAIT_MS)
    assert panel.bolink_badge.text() == "泊链：离线"
    assert panel.qr_missing.isVisible() and "暂不能扫码" in panel.qr_missing.text()
    assert panel.action_buttons["cash"].isEnabled()  # cash is always possible

    start_cloud(engine)
    # the client reports "online" when a long poll returns; a held poll returns at once with a message
    push_bolink_heartbeat(engine)
    qtbot.waitUntil(lambda: window.bolink_online is True, timeout=WAIT_MS)
    assert not window.banner.isVisible()
    wait_awaiting_with_qr(qtbot, panel)  # the lane asked for payment again once Bolink was back
    assert decode_qr(panel.qr.grab().toImage()) == [f"{engine.sandbox.base_url}/pay/X1"]
    assert panel.bolink_badge.text() == "泊链：在线"
