"""The background sync in the window: the top bar's indicator (backlog, warning in words and colour) and the
in-window panel with the dead letters and the supervisor's retry — on a real engine with the Bolink sandbox
and the Alipay gateway and TOP router emulators over loopback."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from lane_driving import bring_car, driver_pays, lane_settings, push_bolink_heartbeat, start_cloud, stop_cloud
from people_driving import SUPERVISOR, SUPERVISOR_PIN, enter_pin, seed_people

from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from booth.config import Settings, settings_from_mapping
from booth.domain.lane import LaneState
from booth.engine import Engine
from booth.sandbox.alipay_gateway import AlipayGatewayEmulator
from booth.sync.status import CloudStatus, DeadLetter, LotLine, SyncStatus
from ui.kit.physical import px_to_mm
from ui.kit.style import Sizes
from ui.kit.wording import LOT_BEHIND_SHOWN, age_words, cloud_state, sync_summary
from ui.lanes.sync_panel import SyncIndicator
from ui.shell.main_window import BoothWindow

WAIT_MS = 10_000
T = TypeVar("T")
#: quick retries and status refreshes, and a breaker that stays closed: the tests wait on outcomes, not time
FAST_SYNC: dict[str, Any] = {
    "retry_base_s": 0.05,
    "retry_cap_s": 0.2,
    "breaker_failures": 100,
    "status_every_s": 0.1,
}


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The UI tests' lanes (demo: Alipay and Tmall on their emulators), with fast sync."""
    data = lane_settings(tmp_path).model_dump(mode="json")
    data["sync"] = FAST_SYNC
    return settings_from_mapping(data, "<ui sync test>")


@pytest.fixture
def idle_engine(settings: Settings) -> Iterator[Engine]:
    engine = Engine(settings)
    yield engine
    engine.stop()


def on_loop(engine: Engine, fn: Callable[[], T]) -> T:
    """Touch an emulator that lives on the engine's loop from that loop."""

    async def run() -> T:
        return fn()

    return engine.call(run()).result(10)


def alipay_emulator(engine: Engine) -> AlipayGatewayEmulator:
    assert engine.cloud_sync is not None
    emulator = engine.cloud_sync.alipay_emulator
    assert isinstance(emulator, AlipayGatewayEmulator)
    return emulator


def tap(qtbot: Any, button: QPushButton) -> None:
    assert button.isVisible() and button.isEnabled(), f"{button.text()!r} cannot be tapped now"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def cloud(name: str, **fields: Any) -> CloudStatus:
    values: dict[str, Any] = {"enabled": True, "pending": 0, "oldest_pending_at": None, "oldest_age_s": None,
                              "dead": 0, "dead_letters": (), "breaker": "closed", "reopens_in_s": 0.0,
                              "held": "", "last_error": "", "sent": 0}
    values.update(fields)
    return CloudStatus(cloud=name, **values)


def status(*clouds: CloudStatus, at: datetime | None = None) -> SyncStatus:
    given = {c.cloud: c for c in clouds}
    every = tuple(given.get(name, cloud(name, breaker="none" if name == "bolink" else "closed"))
                  for name in ("bolink", "alipay", "tmall"))
    return SyncStatus(at or datetime.now(UTC), every)


# ------------------------------------------------------------------------------------------ the words


def test_the_summary_names_each_cloud_with_its_backlog_and_says_when_a_supervisor_is_needed() -> None:
    assert sync_summary(status()) == ("同步：正常", "ok")
    assert sync_summary(status(cloud("bolink", pending=3, breaker="none"))) == ("同步：泊链 待发 3", "busy")
    assert sync_summary(status(cloud("alipay", pending=3, dead=1))) == (
        "同步异常：支付宝 待发 3 · 失败 1", "bad")
    assert sync_summary(status(cloud("tmall", pending=2, breaker="open"))) == (
        "同步异常：天猫 待发 2 · 暂停", "attention")
    assert sync_summary(status(cloud("alipay", held="the lot is not registered"))) == (
        "同步异常：支付宝 暂停", "attention")
    assert sync_summary(status(cloud("bolink", pending=1, breaker="none"), cloud("tmall", dead=2))) == (
        "同步异常：泊链 待发 1；天猫 失败 2", "bad")
    # a cloud that is not configured is left out, unless it still has rows
    assert sync_summary(status(cloud("tmall", enabled=False))) == ("同步：正常", "ok")
    assert sync_summary(status(cloud("tmall", enabled=False, dead=1))) == ("同步异常：天猫 失败 1", "bad")


def test_a_lot_booth_names_the_lot_server_only_when_it_is_offline_or_far_behind() -> None:
    quiet = status(cloud("alipay"))
    assert sync_summary(replace(quiet, lot=LotLine(online=True, behind=3))) == ("同步：正常", "ok")
    assert sync_summary(replace(quiet, lot=LotLine(online=False, behind=12, last_error="timeout"))) == (
        "同步异常：车场服务器离线（待推 12）", "attention")
    assert sync_summary(replace(quiet, lot=LotLine(online=True, behind=LOT_BEHIND_SHOWN + 1))) == (
        f"同步：车场服务器 待推 {LOT_BEHIND_SHOWN + 1}", "busy")
    # with a cloud's dead letters, the worse tone wins and both are named
    bad = replace(status(cloud("alipay", dead=1)), lot=LotLine(online=False, behind=0))
    assert sync_summary(bad) == ("同步异常：支付宝 失败 1；车场服务器离线（待推 0）", "bad")


def test_every_cloud_state_has_its_own_words() -> None:
    states = [cloud("alipay"), cloud("alipay", pending=1), cloud("alipay", breaker="open"),
              cloud("alipay", breaker="half_open"), cloud("alipay", held="why"), cloud("alipay", dead=1)]
    words = [cloud_state(c) for c in states]
    assert [w for w, _tone in words] == ["正常", "发送中", "已熔断", "试探恢复中", "暂停发送", "有失败项"]
    assert len({w for w, _tone in words}) == len(states)  # no two states read alike (colour is never alone)
    assert age_words(42) == "42秒" and age_words(5 * 60 + 7) == "5分钟" and age_words(7_500) == "2小时5分钟"


# ------------------------------------------------------------------------------------------ the panel


def test_the_panel_shows_each_cloud_in_detail_and_its_buttons_are_large(
    make_window: Callable[[Settings, Engine], BoothWindow], settings: Settings, idle_engine: Engine,
    qtbot: Any,
) -> None:
    window = make_window(settings, idle_engine)
    assert window.sync_indicator.text() == "同步：正常"  # read once from the engine at start (all zeros)
    now = datetime.now(UTC)
    letters = tuple(
        DeadLetter(40 + i, "tmall", "backflow_arrive", f"fatal 商圈未开通 <b>{i}</b>", 1, now, f"tmall:a:{i}")
        for i in range(2)
    )
    window.bridge.syncChanged.emit(status(
        cloud("bolink", pending=4, oldest_pending_at=now - timedelta(minutes=5, seconds=3), breaker="none",
              last_error="Bolink unavailable: connection refused"),
        cloud("alipay", pending=2, breaker="open", reopens_in_s=12.4, last_error="retry HTTP 500"),
        cloud("tmall", dead=5, dead_letters=letters),
        at=now,
    ))
    indicator = window.sync_indicator
    assert indicator.text() == "同步异常：泊链 待发 4；支付宝 待发 2 · 暂停；天猫 失败 5"
    assert indicator.property("tone") == "bad"

    assert not window.sync_panel.isVisible()
    tap(qtbot, indicator)
    panel = window.sync_panel
    assert panel.isVisible()
    bolink, alipay, tmall = (panel.box(c) for c in ("bolink", "alipay", "tmall"))
    assert window.sync_status is not None
    panel.refresh_ages(window.sync_status.taken_at + timedelta(seconds=2.4))  # what the clock tick does
    assert bolink.state_badge.text() == "发送中" and bolink.state_badge.property("tone") == "busy"
    assert bolink.pending_value.text() == "4 条" and bolink.oldest_value.text() == "5分钟"  # 5 min 5.4 s
    assert bolink.breaker_value.text() == "无（按退避重试）"
    assert bolink.error_value.text() == "Bolink unavailable: connection refused"
    assert not bolink.dead_title.isVisible() and not bolink.dead_list.isVisible()
    assert not bolink.row_shown(bolink.held_value)  # nothing to say: the row is left out
    assert not bolink.retry_button.isEnabled()
    assert alipay.state_badge.text() == "已熔断" and alipay.state_badge.property("tone") == "attention"
    assert alipay.breaker_value.text() == "已熔断：暂停发送，约10秒后试探"  # 12.4 s less 2.4 s
    assert not alipay.row_shown(alipay.oldest_value) and alipay.row_shown(alipay.error_value)
    assert tmall.state_badge.text() == "有失败项" and tmall.state_badge.property("tone") == "bad"
    assert tmall.dead_title.text() == "失败项 5 条（需排除原因后重试）"
    listed = tmall.dead_list.text()
    assert "#40 入场回流 · 已尝试1次" in listed and "原因：fatal 商圈未开通 <b>0</b>" in listed
    assert tmall.dead_list.textFormat() == Qt.TextFormat.PlainText  # a cloud's words are never markup
    assert "……另有 3 条未列出" in listed
    assert tmall.retry_button.isEnabled() and panel.retry_all_button.isEnabled()

    # nothing modal: the lanes are still there to be tapped, and the panel lies within the window
    lane = window.lane_panel("X1")
    assert lane.isVisible() and lane.action_buttons["manual_lift"].isEnabled()
    assert window.rect().contains(QRect(panel.mapTo(window, QPoint(0, 0)), panel.size()))
    for button in panel.findChildren(QPushButton):
        if button.isVisibleTo(window):
            width, height = px_to_mm(button.minimumWidth()), px_to_mm(button.minimumHeight())
            assert width >= 10 and height >= 10, button.text()
    assert px_to_mm(indicator.minimumHeight()) >= 10

    tap(qtbot, panel.close_button)
    assert not panel.isVisible()


def test_a_retry_the_engine_cannot_take_is_explained_next_to_its_button(
    make_window: Callable[[Settings, Engine], BoothWindow], settings: Settings, idle_engine: Engine,
    qtbot: Any,
) -> None:
    window = make_window(settings, idle_engine)
    letter = DeadLetter(7, "alipay", "order_sync", "fatal isv.invalid-app-id", 1, datetime.now(UTC), "k")
    window.bridge.syncChanged.emit(status(cloud("alipay", dead=1, dead_letters=(letter,))))
    window.open_sync_panel()
    box = window.sync_panel.box("alipay")
    tap(qtbot, box.retry_button)
    assert window.sync_panel.approval.isVisible() and box.result.text() == "请主管输入 PIN"
    window.sync_panel.approver_field.setText(SUPERVISOR)
    enter_pin(qtbot, window.sync_panel.approver_pad, SUPERVISOR_PIN)
    qtbot.waitUntil(lambda: box.result.text().startswith("系统无法执行"), timeout=WAIT_MS)
    assert box.result.text().startswith("系统无法执行：engine is not running")
    assert box.result.property("tone") == "bad"
    assert box.retry_button.isEnabled() and box.retry_button.text() == "重试失败项"


# ------------------------------------------------------------------------------------------ end to end


def test_a_bolink_backlog_shows_in_the_top_bar_and_clears_when_the_cloud_is_back(
    window: BoothWindow, engine: Engine, qtbot: Any
) -> None:
    indicator = window.sync_indicator
    qtbot.waitUntil(lambda: indicator.text() == "同步：正常", timeout=WAIT_MS)
    assert indicator.property("tone") == "ok"
    stop_cloud(engine)
    engine.seed_stay("苏A12345", datetime.now(UTC) - timedelta(hours=1)).result(10)  # queues Bolink's inpark
    qtbot.waitUntil(lambda: indicator.text() == "同步：泊链 待发 1", timeout=WAIT_MS)
    assert indicator.property("tone") == "busy"  # a backlog alone needs nobody: not a warning

    tap(qtbot, indicator)
    bolink = window.sync_panel.box("bolink")
    qtbot.waitUntil(lambda: bolink.error_value.text() != "—", timeout=WAIT_MS)
    assert bolink.pending_value.text() == "1 条" and bolink.oldest_value.text() != "—"
    assert bolink.state_badge.text() == "发送中"
    assert set(window.sync_panel.boxes) == {"bolink", "alipay", "tmall"}  # every configured cloud

    start_cloud(engine)
    push_bolink_heartbeat(engine)
    qtbot.waitUntil(lambda: indicator.text() == "同步：正常", timeout=WAIT_MS)
    assert indicator.property("tone") == "ok" and bolink.pending_value.text() == "0 条"
    assert bolink.oldest_value.text() == "—"


def test_an_alipay_dead_letter_warns_and_the_supervisor_requeues_it_from_the_panel(
    window: BoothWindow, engine: Engine, settings: Settings, qtbot: Any
) -> None:
    indicator = window.sync_indicator
    emulator = alipay_emulator(engine)
    app_id = settings.alipay.app_id if settings.alipay else ""
    # a misconfigured app: the gateway refuses order.sync for good (signed isv.invalid-app-id), so it dies
    on_loop(engine, lambda: setattr(emulator, "app_id", "2021999999999999"))
    panel = window.lane_panel("X1")
    bring_car(engine, "X1", "苏A12345")
    qtbot.waitUntil(lambda: panel.view.state is LaneState.AWAITING_PAYMENT and bool(panel.view.code_url),
                    timeout=WAIT_MS)
    driver_pays(engine, "X1")  # through Alipay: its order.sync is queued with the payment
    qtbot.waitUntil(lambda: indicator.text() == "同步异常：支付宝 失败 1", timeout=WAIT_MS)
    assert indicator.property("tone") == "bad"
    qtbot.waitUntil(lambda: any(a.kind == "alipay_dead_letter" for a in window.alerts), timeout=WAIT_MS)
    assert "支付宝同步失败" in window.alert_text.text() and window.alert_sync_button.isVisible()

    tap(qtbot, window.alert_sync_button)  # the alert leads to the panel
    sync = window.sync_panel
    assert sync.isVisible()
    alipay = sync.box("alipay")
    assert alipay.state_badge.text() == "有失败项"
    assert alipay.dead_title.text() == "失败项 1 条（需排除原因后重试）"
    assert "订单同步" in alipay.dead_list.text() and "isv.invalid-app-id" in alipay.dead_list.text()
    assert "isv.invalid-app-id" in alipay.error_value.text()
    assert emulator.accepted == {}

    on_loop(engine, lambda: setattr(emulator, "app_id", app_id))  # the supervisor fixed the cause
    seed_people(engine)
    tap(qtbot, alipay.retry_button)  # a supervisor's PIN first: a wrong one requeues nothing
    picker = sync.approver_picker  # the active supervisors as name buttons: a tap, no keyboard
    qtbot.waitUntil(lambda: SUPERVISOR in picker.buttons and picker.buttons[SUPERVISOR].isVisible(),
                    timeout=WAIT_MS)
    tap(qtbot, picker.buttons[SUPERVISOR])
    assert sync.approver_field.text() == SUPERVISOR
    enter_pin(qtbot, sync.approver_pad, "0000")
    qtbot.waitUntil(lambda: alipay.result.text().startswith("PIN 不正确"), timeout=WAIT_MS)
    assert emulator.accepted == {} and alipay.retry_button.isEnabled()
    tap(qtbot, alipay.retry_button)
    enter_pin(qtbot, sync.approver_pad, SUPERVISOR_PIN)
    assert not alipay.retry_button.isEnabled() and alipay.retry_button.text() == "处理中…"
    qtbot.waitUntil(lambda: alipay.result.text() == "已重新排队 1 条", timeout=WAIT_MS)
    assert alipay.result.property("tone") == "ok"
    qtbot.waitUntil(lambda: indicator.text() == "同步：正常", timeout=WAIT_MS)
    assert indicator.property("tone") == "ok"
    assert len(emulator.accepted) == 1  # the requeued order.sync reached Alipay
    assert alipay.state_badge.text() == "正常" and not alipay.dead_list.isVisible()
    assert not alipay.retry_button.isEnabled() and not sync.retry_all_button.isEnabled()

    # the requeue is audited under the supervisor who approved it
    database = settings.database.url.removeprefix("sqlite:///")
    con = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        audited = con.execute(
            "SELECT actor, detail_json FROM audit_log WHERE action = 'sync_requeue'"
        ).fetchall()
    finally:
        con.close()
    assert audited == [(SUPERVISOR, '{"cloud": "alipay", "rows": 1}')]


def test_the_indicator_says_less_when_the_top_bar_has_no_room_and_cuts_only_below_its_shortest_words(
    qtbot: Any,
) -> None:
    """A small window in English: the indicator gives way and says less, in words that fit whole (the
    backlog added up, then the most pressing part, then "sync problem"); only a room narrower than those is
    cut with "…". The whole text is its accessible name; given the room again, it shows it whole."""
    host = QWidget()
    qtbot.addWidget(host)
    row = QHBoxLayout(host)
    row.setContentsMargins(0, 0, 0, 0)
    row.setSpacing(0)
    park = QLabel("演示停车场")
    park.setFixedWidth(200)  # the rest of the top bar
    row.addWidget(park)
    indicator = SyncIndicator(Sizes.for_screen())
    row.addWidget(indicator)
    host.resize(1400, 80)
    host.show()
    indicator.show_status(status(cloud("bolink", pending=4), cloud("alipay", pending=2, breaker="open"),
                                 cloud("tmall", dead=5)))
    whole = indicator.words
    assert indicator.accessibleName() == whole and indicator.text() == whole
    assert indicator.forms == [whole, "同步异常：失败 5 · 暂停 · 待发 6", "同步异常：失败 5", "同步异常"]
    metrics = indicator.fontMetrics()
    for form in indicator.forms[1:]:
        host.resize(200 + indicator.width_of(form) + 1, 80)  # room for this form, not for the one before
        qtbot.waitUntil(lambda f=form: indicator.text() == f, timeout=2000)
        assert not indicator.fitted() and not indicator.cut()
        assert metrics.horizontalAdvance(indicator.text()) <= indicator.contentsRect().width()
        assert indicator.accessibleName() == whole
    host.resize(200 + indicator.minimumWidth(), 80)
    qtbot.waitUntil(indicator.cut, timeout=2000)
    assert indicator.text().endswith("…")
    assert metrics.horizontalAdvance(indicator.text()) <= indicator.contentsRect().width()
    host.resize(1400, 80)
    qtbot.waitUntil(indicator.fitted, timeout=2000)
    # a backlog with no problem says how much waits, never the bare head
    indicator.show_status(status(cloud("bolink", pending=2), cloud("tmall", pending=1)))
    assert indicator.forms[1:] == ["同步：待发 3"]
