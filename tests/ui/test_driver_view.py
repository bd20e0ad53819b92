"""What a driver and an attendant read at a lane (issue #15, items 7-9): plain words in the chosen language,
never an exception's text, never the same words twice; a clear cash-only state when Bolink is down, and the
top bar saying so within a bounded time; the instruction and the amount large enough to read from the car;
"cash" while the cash panel is open, "paid" once paid, and "paying" only while a driver is paying."""

from __future__ import annotations

import contextlib
import logging
import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from lane_driving import bring_car, driver_pays, lane_settings

from PySide6.QtWidgets import QApplication

import ui.kit.i18n as i18n
import ui.shell.main_window as main_window
from booth.config import Settings, settings_from_mapping
from booth.domain.lane import LaneState, LaneView
from booth.domain.phrases import say
from booth.engine import Engine, LaneChanged
from ui.lanes.lane_panel import LanePanel
from ui.shell.main_window import BoothWindow

WAIT_MS = 10_000
CJK = re.compile(r"[\u3400-\u9fff]")
#: what must never reach a screen: exception and device texts
RAW = ("ConnectError", "simulated gate", "training fault", "not confirmed", "Error:", "login:")


@contextlib.contextmanager
def started(settings: Settings) -> Iterator[Engine]:
    engine = Engine(settings)
    engine.start()
    try:
        yield engine
    finally:
        engine.stop()


def closed_loopback_port() -> int:
    """A loopback port nothing listens on (bound, then let go): Bolink 'down' without a network."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def settings_with(tmp_path: Path, change: Callable[[dict[str, Any]], None]) -> Settings:
    data = lane_settings(tmp_path).model_dump(mode="json")
    change(data)
    return settings_from_mapping(data, "<driver view test>")


@pytest.fixture
def english(qapp: QApplication, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(i18n.CACHE_ENV, str(tmp_path / "qm"))
    i18n.switch_language(qapp, "en")
    try:
        yield
    finally:
        i18n.switch_language(qapp, "zh_CN")


@pytest.fixture
def idle_window(
    make_window: Callable[[Settings, Engine], BoothWindow], settings: Settings
) -> Iterator[BoothWindow]:
    """A window on an engine that is not started: the lanes show what the test hands them."""
    engine = Engine(settings)
    try:
        yield make_window(settings, engine)
    finally:
        engine.stop()


def view(state: LaneState, said_code: str, **params: Any) -> LaneView:
    said = say(said_code, **params)
    return LaneView("X1", "东出口", "exit", state, said.text, plate="苏A12345", plate_colour="blue",
                    due_fen=1_100, said=said, bolink_online=True)


def bar(panel: LanePanel) -> tuple[str, str]:
    return panel.state_words.text(), panel.state_message.text()


# ------------------------------------------------------------------------------------------ item 7


def test_the_lane_bar_says_what_to_do_never_an_exception_and_never_the_same_words_twice(
    idle_window: BoothWindow,
) -> None:
    panel = idle_window.lane_panel("X1")
    panel.show_view(view(LaneState.GATE_FAULT, "lane.gate_fault",
                         error="simulated gate: open not confirmed (training fault, 0 more to come)"))
    assert bar(panel) == ("道闸故障", "道闸没有抬起，请人工抬杆并检查道闸")
    panel.show_view(view(LaneState.AWAITING_PAYMENT, "lane.bolink_unavailable", due_fen=1_100,
                         reason="泊链离线: login: ConnectError: All connection attempts failed"))
    assert bar(panel) == ("待付款", "泊链暂时不可用，请收现金 11.00 元")
    panel.show_view(LaneView("X1", "东出口", "exit", LaneState.IDLE, "等待车辆", said=say("lane.waiting")))
    assert bar(panel) == ("等待车辆", "")  # not "等待车辆 等待车辆"
    panel.show_view(view(LaneState.PAYMENT_FAILED, "lane.payment_failed", error="余额不足"))
    assert bar(panel) == ("支付失败", "请重新发起支付或收现金")  # not "支付失败 支付失败：…"
    panel.show_view(view(LaneState.TIMED_OUT, "lane.payment_timeout"))
    assert bar(panel) == ("支付超时", "请收现金、重新发起支付或放行")
    panel.show_view(view(LaneState.SETTLING, "lane.booking_failed", error="OperationalError: db locked"))
    assert "OperationalError" not in panel.state_message.text()


def test_the_same_lane_bar_in_english_has_no_chinese_and_no_exception(
    idle_window: BoothWindow, english: None
) -> None:
    panel = idle_window.lane_panel("X1")
    for state, code, params in (
        (LaneState.GATE_FAULT, "lane.gate_fault", {"error": "simulated gate: open not confirmed"}),
        (LaneState.AWAITING_PAYMENT, "lane.bolink_unavailable",
         {"due_fen": 1_100, "reason": "泊链离线: login: ConnectError: All connection attempts failed"}),
        (LaneState.NO_STAY, "lane.quote_failed", {"error": "OperationalError: disk I/O error"}),
    ):
        panel.show_view(view(state, code, **params))
        words, message = bar(panel)
        assert message and not CJK.search(message) and not any(r in message for r in RAW), message
        assert not message.lower().startswith(words.lower()), (words, message)
    assert panel.gate_badge.text() != "Gate: up"


def test_a_gate_fault_tells_the_attendant_what_to_do_and_the_log_keeps_the_devices_words(
    tmp_path: Path, make_window: Callable[[Settings, Engine], BoothWindow], qtbot: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def failing_gate(data: dict[str, Any]) -> None:
        data["lanes"][0]["gate"] = {"driver": "simulated", "fail_next": 2, "open_ms": 0}  # the retry fails

    settings = settings_with(tmp_path, failing_gate)
    with started(settings) as engine:
        window = make_window(settings, engine)
        panel = window.lane_panel("X1")
        bring_car(engine, "X1", "苏A12345")
        qtbot.waitUntil(lambda: panel.view.state is LaneState.AWAITING_PAYMENT, timeout=WAIT_MS)
        with caplog.at_level(logging.WARNING, logger="booth"):
            engine.cash("X1", panel.view.due_fen or 0, "测试员").result(10)
            qtbot.waitUntil(lambda: panel.view.state is LaneState.GATE_FAULT, timeout=WAIT_MS)
            qtbot.waitUntil(lambda: "道闸故障" in window.alert_text.text(), timeout=WAIT_MS)
        assert bar(panel) == ("道闸故障", "道闸没有抬起，请人工抬杆并检查道闸")
        shown = window.alert_text.text()
        assert not any(r in shown for r in RAW), shown
        assert shown.count("道闸故障") == 1, shown
        logged = [r.getMessage() for r in caplog.records if "gate_fault" in r.getMessage()]
        assert any("simulated gate: open not confirmed" in m for m in logged), logged


# ------------------------------------------------------------------------------------------ item 8


def test_bolink_that_never_answers_is_offline_after_the_bound_and_the_lane_takes_cash_only(
    tmp_path: Path, make_window: Callable[[Settings, Engine], BoothWindow], qtbot: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    port = closed_loopback_port()

    def unreachable(data: dict[str, Any]) -> None:
        data["bolink"]["base_url"] = f"http://127.0.0.1:{port}"

    settings = settings_with(tmp_path, unreachable)
    monkeypatch.setattr(main_window, "BOLINK_FIRST_ANSWER_MS", 300)
    with started(settings) as engine:
        window = make_window(settings, engine)
        panel = window.lane_panel("X1")
        assert window.cloud_status.text() == "泊链：连接中"  # not known yet, for a bounded time only
        qtbot.waitUntil(lambda: window.cloud_status.text() == "泊链：离线", timeout=WAIT_MS)
        assert window.banner.isVisible()
        assert window.banner_text.text() == (
            "泊链云端离线：扫码支付暂停，请收现金；恢复后自动重新发起扫码支付。")  # no exception text
        assert panel.bolink_badge.text() == "泊链：离线"

        bring_car(engine, "X1", "苏A54321")
        qtbot.waitUntil(lambda: panel.view.said is not None
                        and panel.view.said.code == "lane.bolink_unavailable", timeout=WAIT_MS)
        due = panel.view.due_fen
        assert due and panel.view.code_url is None
        assert panel.qr_missing.isVisible() and not panel.qr.isVisible()
        assert panel.qr_missing.text() == f"暂不能扫码\n请付现金 ¥{due / 100:.2f}"  # not "获取付款码…"
        assert panel.state_message.text() == f"泊链暂时不可用，请收现金 {due / 100:.2f} 元"
        assert panel.action_buttons["cash"].isEnabled()


def test_a_failed_qr_request_is_cash_only_even_before_the_window_hears_from_bolink(
    idle_window: BoothWindow,
) -> None:
    panel = idle_window.lane_panel("X1")
    assert not panel.bolink_known
    panel.show_view(view(LaneState.AWAITING_PAYMENT, "lane.bolink_unavailable", due_fen=1_100, reason="x"))
    assert panel.media.currentIndex() == 1 and panel.qr_missing.text() == "暂不能扫码\n请付现金 ¥11.00"
    panel.show_view(view(LaneState.AWAITING_PAYMENT, "lane.quoting"))  # asked, no answer yet
    assert panel.qr_missing.text() == "正在获取付款码…"


# ------------------------------------------------------------------------------------------ item 9


def test_the_driver_reads_the_instruction_and_the_amount_large(idle_window: BoothWindow, qtbot: Any) -> None:
    panel = idle_window.lane_panel("X1")
    sizes = idle_window.sizes
    v = view(LaneState.AWAITING_PAYMENT, "lane.scan_to_pay", due_fen=1_100)
    panel.show_view(replace(v, code_url="http://127.0.0.1:9/pay/X1"))
    qtbot.waitUntil(panel.qr_caption.isVisible, timeout=WAIT_MS)
    assert panel.qr_caption.text() == "请用手机扫码支付"
    assert panel.qr_caption.font().pixelSize() >= sizes.state > sizes.title
    assert panel.qr_amount.isVisible() and panel.qr_amount.text() == "¥11.00"
    assert panel.qr_amount.font().pixelSize() >= sizes.amount
    panel.show_view(view(LaneState.AWAITING_PAYMENT, "lane.bolink_unavailable", due_fen=1_100, reason="x"))
    assert panel.qr_missing.font().pixelSize() >= sizes.state


def test_the_bar_says_cash_while_the_cash_panel_is_open_and_paid_once_paid(
    idle_window: BoothWindow, qtbot: Any
) -> None:
    panel = idle_window.lane_panel("X1")
    panel.show_view(view(LaneState.AWAITING_PAYMENT, "lane.scan_to_pay", due_fen=1_100))
    assert panel.state_message.text() == "请扫码支付 11.00 元"
    assert panel.amount_caption.text() == "应收金额"
    panel.trigger("cash")
    assert panel.state_message.text() == "现金付款 ¥11.00"
    panel.show_view(view(LaneState.AWAITING_PAYMENT, "lane.scan_to_pay", due_fen=1_100))  # a redraw keeps it
    assert panel.state_message.text() == "现金付款 ¥11.00"
    panel.close_panel()
    assert panel.state_message.text() == "请扫码支付 11.00 元"

    paid = replace(view(LaneState.SETTLING, "lane.cash_taken", due_fen=1_100, change_fen=0), order_id="O1")
    panel.show_view(paid)
    assert panel.amount_caption.text() == "已付" and panel.amount.text() == "¥11.00"
    panel.show_view(replace(paid, state=LaneState.OPENING, said=say("lane.paid_opening")))
    assert panel.amount_caption.text() == "已付"
    panel.show_view(replace(paid, state=LaneState.GATE_OPEN, said=say("lane.goodbye")))
    assert panel.amount_caption.text() == "已付"  # still that car, paid
    panel.show_view(replace(paid, state=LaneState.GATE_OPEN, said=say("lane.goodbye"), order_id="O2"))
    assert panel.amount_caption.text() == "应收金额"  # released, not paid: nothing says it was
    panel.show_view(view(LaneState.AWAITING_PAYMENT, "lane.scan_to_pay", due_fen=1_100))  # the next car
    assert panel.amount_caption.text() == "应收金额"


def test_paying_is_said_only_while_a_driver_is_paying_not_for_every_car_the_booth_asks_about(
    tmp_path: Path, make_window: Callable[[Settings, Engine], BoothWindow], qtbot: Any
) -> None:
    def quick_queries(data: dict[str, Any]) -> None:
        data["bolink"]["query_start_s"] = 0.1
        data["bolink"]["query_every_s"] = 0.1

    settings = settings_with(tmp_path, quick_queries)
    with started(settings) as engine:
        window = make_window(settings, engine)
        x1, x2 = window.lane_panel("X1"), window.lane_panel("X2")
        said: list[str] = []  # every step of X1 as the engine emits it (the window may skip steps)
        engine.subscribe(lambda e: said.append(e.view.said.code) if isinstance(e, LaneChanged)
                         and e.view.lane_id == "X1" and e.view.said is not None else None)
        bring_car(engine, "X1", "苏A12345")
        qtbot.waitUntil(lambda: x1.view.code_url is not None, timeout=WAIT_MS)
        queried = lambda: sum(1 for name, data in engine.sandbox.calls  # noqa: E731
                              if name == "query_order" and data.get("order_id") == x1.view.order_id)
        qtbot.waitUntil(lambda: queried() >= 3, timeout=WAIT_MS)  # each answered "state 2, 未支付"
        driver_pays(engine, "X1")  # pushed after those answers: when it shows, they have all been read
        qtbot.waitUntil(lambda: x1.view.state is LaneState.GATE_OPEN, timeout=WAIT_MS)
        assert "lane.paying" not in said, said

        bring_car(engine, "X2", "苏B12345")  # a driver who really is paying: Bolink pushes state 2 "支付中"
        qtbot.waitUntil(lambda: x2.view.code_url is not None, timeout=WAIT_MS)
        engine.call(engine.sandbox.driver_pays(channel_id="X2", state=2)).result(10)
        qtbot.waitUntil(lambda: x2.state_message.text() == "支付中…", timeout=WAIT_MS)
