"""Background sync through the engine: a real engine thread, the Alipay gateway and TOP router emulators
over loopback HTTP, a real SQLite file. Every failure class of the wire, the breaker, dead letters and
requeue, the lot's registration, and the commands."""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from booth.cli.demo import demo_settings
from booth.cli.main import main
from booth.clouds.alipay import ORDER_SYNC, out_order_no_for
from booth.clouds.http import CHINA_TZ, china_time_text
from booth.config import ConfigError, public_key_pem, settings_from_mapping
from booth.domain.lane import LaneState
from booth.domain.money import format_yuan
from booth.engine import AlertRaised, EngineError, SyncChanged
from booth.sandbox.alipay_gateway import AlipayGatewayEmulator
from booth.sandbox.top_router import TopRouterEmulator
from booth.sync.status import CloudStatus, SyncStatus
from tests.conftest import RunningEngine, wait_until
from tests.test_engine import bring_car, pay
from tests.timing import ANSWER_S

MakeEngine = Callable[..., RunningEngine]
T = TypeVar("T")

ALIPAY_USER = "2088000000000001"  # the Bolink sandbox's Alipay payer
ALIPAY: dict[str, Any] = {
    "gateway_url": "sandbox",
    "app_id": "2021000000000001",
    "out_parking_id": "LOT-1",
    "parking_name": "测试停车场",
    "request_timeout_s": ANSWER_S,
}
TMALL: dict[str, Any] = {
    "gateway_url": "sandbox",
    "app_key": "12345678",
    "app_secret": "s3cret",
    "mall_id": 77,
    "request_timeout_s": ANSWER_S,
}
FAST: dict[str, Any] = {
    "retry_base_s": 0.02,
    "retry_cap_s": 0.05,
    "breaker_failures": 100,
    "breaker_cooldown_s": 0.2,
    "status_every_s": 0.1,
}


def alipay_emulator(r: RunningEngine) -> AlipayGatewayEmulator:
    assert r.engine.cloud_sync is not None
    emulator = r.engine.cloud_sync.alipay_emulator
    assert isinstance(emulator, AlipayGatewayEmulator)
    return emulator


def top_emulator(r: RunningEngine) -> TopRouterEmulator:
    assert r.engine.cloud_sync is not None
    emulator = r.engine.cloud_sync.tmall_emulator
    assert isinstance(emulator, TopRouterEmulator)
    return emulator


def on_loop(r: RunningEngine, fn: Callable[[], T]) -> T:
    """Touch an emulator living on the engine's loop from that loop."""

    async def run() -> T:
        return fn()

    return r.engine.call(run()).result(5)


def utc(text: str) -> datetime:
    """A timestamp as SQLite keeps it (naive UTC text)."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def alerts(r: RunningEngine) -> list[AlertRaised]:
    return [e for e in list(r.events) if isinstance(e, AlertRaised)]


def outbox(r: RunningEngine, cloud: str) -> list[tuple[Any, ...]]:
    return r.rows("SELECT kind, state, attempts, last_error FROM outbox WHERE cloud = ? ORDER BY id", cloud)


def alipay_exit(r: RunningEngine, plate: str, lane: str = "X1") -> dict[str, Any]:
    order_id = bring_car(r, lane, plate)
    result = pay(r, order_id)
    wait_until(lambda: r.lane(lane).state is LaneState.GATE_OPEN, what=f"{plate} to be let out")
    return result


# ------------------------------------------------------------------------------------------ Alipay


def test_a_paid_alipay_exit_ends_with_one_order_sync_whose_fields_match_the_payment(
    make_engine: MakeEngine,
) -> None:
    r = make_engine(alipay=ALIPAY, sync=FAST)
    emulator = alipay_emulator(r)
    [parking_id] = list(emulator.lots)  # the sandbox registered the lot at start
    order_id = bring_car(r, "X1", "苏A12345", hours=2.5)
    result = pay(r, order_id)
    wait_until(lambda: emulator.accepted, what="order.sync to be accepted")
    wait_until(lambda: outbox(r, "alipay") == [("order_sync", "sent", 0, None)], what="the row marked sent")
    [(out_order_no, biz)] = emulator.orders.items()
    [(amount, trade_no, booked_at)] = r.rows("SELECT amount_fen, trade_no, paid_at FROM payments")
    [(entry_at,)] = r.rows("SELECT entry_at FROM stays WHERE order_id = ?", order_id)
    [(opened_at,)] = r.rows("SELECT opened_at FROM exit_orders")
    assert trade_no == result["trade_no"]
    assert out_order_no == out_order_no_for(order_id, trade_no)
    # Alipay is told when the driver paid (Bolink's pay_time, whole seconds, never before the car came to
    # the lane); the booking keeps when it was received
    told = datetime.fromisoformat(biz["pay_time"]).replace(tzinfo=CHINA_TZ)
    said = datetime.fromtimestamp(result["pay_time"], UTC)
    assert said <= told <= utc(booked_at) < said + timedelta(seconds=2)
    paid_at = told
    minutes = int((told - utc(entry_at)).total_seconds() // 60)  # (told lost the fraction of a second)
    assert 149 <= minutes <= 151 and biz.pop("in_duration") in (str(minutes), str(minutes + 1))
    assert biz == {
        "user_id": ALIPAY_USER,
        "out_parking_id": "LOT-1",
        "parking_name": "测试停车场",
        "car_number": "苏A12345",
        "out_order_no": out_order_no,
        "order_status": "0",
        "order_time": china_time_text(utc(opened_at)),
        "order_no": trade_no,
        "pay_time": china_time_text(paid_at),
        "pay_type": "1",
        "pay_money": format_yuan(amount),
        "in_time": china_time_text(utc(entry_at)),
        "parking_id": parking_id,
        "card_number": "*",
    }
    assert emulator.accepted == {out_order_no: 1} and emulator.duplicates == {}
    status = wait_until(lambda: (s := r.engine.sync_status()).cloud("alipay").sent == 1 and s)
    alipay = status.cloud("alipay")
    assert (alipay.enabled, alipay.pending, alipay.dead, alipay.breaker, alipay.held) == (
        True,
        0,
        0,
        "closed",
        "",
    )


def test_cash_and_wechat_exits_send_nothing_to_alipay(make_engine: MakeEngine) -> None:
    r = make_engine(alipay=ALIPAY, sync=FAST)
    emulator = alipay_emulator(r)
    wechat_order = bring_car(r, "X1", "苏W00001")
    pay_wechat = r.engine.sandbox.driver_pays(order_id=wechat_order, pay_channel=0, pay_user_id="oWx_user")
    r.engine.call(pay_wechat).result(5)
    cash_due = bring_car(r, "X2", "苏C00001") and r.lane("X2").due_fen
    r.engine.cash("X2", cash_due, "张三").result(5)
    wait_until(lambda: r.rows("SELECT COUNT(*) FROM payments WHERE flag IS NULL") == [(2,)], what="both paid")
    assert outbox(r, "alipay") == []  # queued with the payment or never: nothing can come later
    # (booked is not gone: the WeChat car still has X1's open gate until it passes or its pass times out)
    wait_until(lambda: r.lane("X1").state is LaneState.IDLE, what="the WeChat car to leave X1")
    # an Alipay exit after them is the only order Alipay ever sees
    result = alipay_exit(r, "苏A00001", lane="X1")
    wait_until(lambda: emulator.accepted, what="the Alipay order")
    assert [biz["order_no"] for biz in emulator.orders.values()] == [result["trade_no"]]
    assert [p["method"] for p in emulator.requests].count(ORDER_SYNC) == 1


def test_pay_company_alone_marks_an_alipay_payment(make_engine: MakeEngine) -> None:
    r = make_engine(alipay=ALIPAY, sync=FAST)
    emulator = alipay_emulator(r)
    order_id = bring_car(r, "X1", "苏A77777")
    due = r.lane("X1").due_fen
    r.engine.sandbox.push(
        {
            "service_name": "outpark",
            "state": 1,
            "order_id": order_id,
            "trade_no": "2026112322001400000000000077",
            "pay_type": "scancode",
            "pay_company": 1,  # newer Bolink: the company, no pay_channel
            "pay_user_id": "2088123412341234",
            "out_channel_id": "X1",
            "errmsg": "",
            "total": due / 100,
            "car_number": "苏A77777",
        }
    )
    wait_until(lambda: emulator.orders, what="order.sync")
    [biz] = emulator.orders.values()
    assert (biz["user_id"], biz["order_no"]) == ("2088123412341234", "2026112322001400000000000077")


def test_already_synced_counts_as_done(make_engine: MakeEngine) -> None:
    r = make_engine(alipay=ALIPAY, sync=FAST)
    emulator = alipay_emulator(r)
    on_loop(r, lambda: emulator.fail_next(1, "duplicate"))  # Alipay says PARKING_DEDUCT_ORDER_HAS_SYNCED
    alipay_exit(r, "苏A12345")
    wait_until(lambda: outbox(r, "alipay") == [("order_sync", "sent", 0, None)], what="done at once")


@pytest.mark.parametrize(
    ("fault", "error", "duplicates"),
    [
        ("20000", "isp.unknow-error", 0),  # signed "service unavailable"
        ("html", "not a JSON object", 0),  # a proxy's or captive portal's page
        ("http500", "HTTP 500", 0),
        ("timeout", f"no complete answer within {ANSWER_S:g} s", 0),
        ("endless", f"no complete answer within {ANSWER_S:g} s", 0),  # a body that never ends
        ("oversized", "larger than", 0),
        ("truncated", "peer closed connection", 2),  # processed, then the answer was cut: sent again
        ("bad_signature", "signature does not verify", 2),  # processed; the answer cannot be trusted
        ("unsigned", "not signed", 0),  # what a misconfigured app_id gets
    ],
)
def test_each_failure_class_is_retried_and_the_order_lands_exactly_once(
    make_engine: MakeEngine, fault: str, error: str, duplicates: int
) -> None:
    # the two timeout classes need the short ANSWER_S to fire; the others keep the booth's default 10 s, as
    # no answer of theirs should time out (a loaded run once timed out a truncated class's honest second
    # call at 2 s: three attempts counted, and the exact counts below could not hold)
    timed = fault in ("timeout", "endless")
    r = make_engine(alipay=ALIPAY if timed else {**ALIPAY, "request_timeout_s": 10.0}, sync=FAST)
    emulator = alipay_emulator(r)
    on_loop(r, lambda: emulator.fail_next(2, fault))  # type: ignore[arg-type]
    alipay_exit(r, "苏A12345")
    wait_until(lambda: outbox(r, "alipay")[0][1] == "sent", timeout=15, what="the order to get through")
    [(_, _, attempts, last_error)] = outbox(r, "alipay")
    assert attempts == 2  # two failed attempts counted, then the success
    assert error in last_error
    [count] = emulator.accepted.values()
    assert count == 1
    assert sum(emulator.duplicates.values()) == duplicates  # repeats answered "already synced": done


def test_a_refused_connection_is_retried_until_the_gateway_is_back(
    make_engine: MakeEngine, tmp_path: Path, outside: OutsideLoop
) -> None:
    keys = KeyFiles(tmp_path)
    with socket.socket() as probe:  # a port nothing listens on (yet)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    r = make_engine(
        alipay={**keys.settings(f"http://127.0.0.1:{port}/gateway.do"), "parking_id": "PI42"},
        sync={**FAST, "retry_cap_s": 0.2},
    )
    alipay_exit(r, "苏A12345")
    wait_until(lambda: (rows := outbox(r, "alipay")) and rows[0][2] >= 3, what="three refused attempts")
    [(_, state, _, last_error)] = outbox(r, "alipay")
    assert state == "pending" and "ConnectError" in last_error  # retried, never dropped, never "sent"
    emulator = outside.run(keys.emulator(port=port))
    wait_until(lambda: outbox(r, "alipay")[0][1] == "sent", what="the order once the gateway is back")
    [biz] = emulator.orders.values()
    assert biz["parking_id"] == "PI42"  # from the settings: the lot was registered elsewhere


def test_a_sandbox_emulator_in_a_process_of_its_own_gets_the_lot_registered_once_it_listens(
    make_engine: MakeEngine, tmp_path: Path, outside: OutsideLoop
) -> None:
    """`booth --demo` runs the emulators beside the booth (sandbox_url): the engine may start first, so the
    sandbox lot's registration is made again until the emulator answers, and the engine starts none itself."""
    keys = KeyFiles(tmp_path)
    with socket.socket() as probe:  # a port nothing listens on (yet)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/gateway.do"
    r = make_engine(alipay={**keys.settings("sandbox"), "sandbox_url": url}, sync=FAST)
    time.sleep(0.5)  # registration attempts are refused meanwhile
    assert r.engine.cloud_sync is not None and r.engine.cloud_sync.alipay_emulator is None
    emulator = outside.run(keys.emulator(port=port))
    wait_until(lambda: emulator.lots, what="the lot registered once the emulator listens")
    [parking_id] = list(emulator.lots)
    alipay_exit(r, "苏A12345")
    wait_until(lambda: outbox(r, "alipay") == [("order_sync", "sent", 0, None)], what="the order sent")
    [biz] = emulator.orders.values()
    assert biz["parking_id"] == parking_id
    assert not [e for e in r.events if isinstance(e, AlertRaised) and e.kind == "alipay_lot_unregistered"]


def test_a_sandbox_emulator_that_never_answers_leaves_alipay_held_with_the_alert(
    make_engine: MakeEngine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("booth.sync.alipay_relay._SANDBOX_LOT_WAIT_S", 0.5)
    keys = KeyFiles(tmp_path)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    alipay = {**keys.settings("sandbox"), "sandbox_url": f"http://127.0.0.1:{port}/gateway.do"}
    r = make_engine(alipay=alipay, sync=FAST)
    wait_until(
        lambda: any(isinstance(e, AlertRaised) and e.kind == "alipay_lot_unregistered" for e in r.events),
        what="the alert once the emulator did not answer in time",
    )
    assert "not registered" in r.engine.sync_status().cloud("alipay").held


def test_sandbox_url_needs_the_sandbox_gateway_and_the_emulators_keys(tmp_path: Path) -> None:
    keys = KeyFiles(tmp_path)
    base = {**keys.settings("sandbox"), "sandbox_url": "http://127.0.0.1:1/gateway.do"}
    real = {**base, "gateway_url": "https://openapi.alipay.com/gateway.do"}
    no_keys = {k: v for k, v in base.items() if not k.endswith("_file")}
    for alipay, problem in (
        (real, 'sandbox_url is for gateway_url = "sandbox"'),
        ({**base, "sandbox_url": "127.0.0.1:1"}, "must be an http(s) URL or empty"),
        (no_keys, "app_private_key"),
    ):
        data = {
            "park": {"name": "x"},
            "bolink": {"base_url": "sandbox", "union_id": "1", "park_id": "1", "ukey": "k", "local_id": "l"},
            "lanes": [{"id": "X1", "name": "x", "direction": "exit", "channel_id": "X1"}],
            "database": {"url": f"sqlite:///{tmp_path / 'never.sqlite'}"},
            "alipay": alipay,
        }
        with pytest.raises(ConfigError) as caught:
            settings_from_mapping(data)
        assert any(problem in p for p in caught.value.problems), caught.value.problems


def test_breaker_opens_half_opens_and_closes_and_nothing_is_lost(
    make_engine: MakeEngine, caplog: pytest.LogCaptureFixture
) -> None:
    r = make_engine(alipay=ALIPAY, sync={**FAST, "breaker_failures": 2, "breaker_cooldown_s": 0.3})
    emulator = alipay_emulator(r)
    on_loop(r, lambda: emulator.fail_next(4, "http500"))
    with caplog.at_level(logging.INFO, "booth.outbox"):
        alipay_exit(r, "苏A12345")
        alipay_exit(r, "苏A12346", lane="X2")
        wait_until(lambda: len(emulator.accepted) == 2, timeout=15, what="both orders after the outage")
    moves = re.findall(r"alipay circuit breaker (\w+) -> (\w+)", caplog.text)
    assert moves[0] == ("closed", "open")
    assert ("open", "half_open") in moves and ("half_open", "open") in moves
    assert moves[-1] == ("half_open", "closed")
    calls = [p for p in emulator.requests if p["method"] == ORDER_SYNC]
    assert len(calls) == 2  # the 4 failures were not processed; then one call each
    wait_until(
        lambda: r.engine.sync_status().cloud("alipay").breaker == "closed", what="closed in the status"
    )


def test_unverified_answers_raise_a_supervisor_alert(make_engine: MakeEngine) -> None:
    r = make_engine(alipay=ALIPAY, sync={**FAST, "unverified_alert_after": 3})
    emulator = alipay_emulator(r)
    on_loop(r, lambda: emulator.fail_next(3, "unsigned"))
    alipay_exit(r, "苏A12345")
    alert = wait_until(
        lambda: next((e for e in r.events if isinstance(e, AlertRaised) and "unverified" in e.kind), None),
        what="the alert",
    )
    assert alert.kind == "alipay_unverified_answers" and alert.lane_id is None
    assert "3 answers in a row" in alert.message and "not signed" in alert.message
    wait_until(lambda: emulator.accepted, what="the order after the answers were signed again")
    wait_until(
        lambda: r.rows("SELECT COUNT(*) FROM audit_log WHERE action = 'alipay_unverified_answers'") == [(1,)],
        what="the alert in the audit log",
    )


# ------------------------------------------------------------------------------------------- Tmall


def test_entry_pay_and_leave_reach_tmall_for_a_mall_park(make_engine: MakeEngine) -> None:
    r = make_engine(tmall=TMALL, sync=FAST, tariff={"free_minutes": 0})
    router = top_emulator(r)
    r.engine.vehicle_at("E1", "苏M12345").result(5)
    wait_until(lambda: router.accepted.get(("苏M12345", "arrive", "77")), what="arrive")
    r.engine.vehicle_at("X1", "苏M12345").result(5)
    order_id = wait_until(
        lambda: (v := r.lane("X1")).state is LaneState.AWAITING_PAYMENT and v.code_url and v.order_id,
        what="the exit to await payment",
    )
    result = pay(r, order_id)
    wait_until(lambda: r.engine.exits_completed == 1, what="the exit to complete")
    wait_until(lambda: len(router.backflows) == 3, what="pay and leave")
    assert router.accepted == {("苏M12345", a, "77"): 1 for a in ("arrive", "pay", "leave")}
    arrive, paid, leave = router.backflows
    assert [b["action"] for b in router.backflows] == ["arrive", "pay", "leave"]  # in order per stay
    [(entry_at, exit_at)] = r.rows("SELECT entry_at, exit_at FROM stays WHERE order_id = ?", order_id)
    # when the driver paid, as Bolink says (its whole second, not before the car reached the lane)
    [(booked_at,)] = r.rows("SELECT paid_at FROM payments")
    told = china_time_text(datetime.fromtimestamp(result["pay_time"], UTC))
    assert told <= paid["pay_time"] <= china_time_text(utc(booked_at))
    assert arrive["start_time"] == china_time_text(utc(entry_at))
    reported = datetime.fromisoformat(paid["pay_time"]).replace(tzinfo=CHINA_TZ)
    minutes = max(int((reported - utc(entry_at)).total_seconds() // 60), 0)  # (reported lost its fraction)
    assert paid["park_duration"] in (str(minutes), str(minutes + 1))
    assert leave["end_time"] == china_time_text(utc(exit_at))
    assert {b["mall_id"] for b in router.backflows} == {"77"}


@pytest.mark.parametrize(
    ("fault", "error"), [("7", "App Call Limited"), ("15", "isp."), ("hang", "no complete")]
)
def test_tmall_retry_classes(make_engine: MakeEngine, fault: str, error: str) -> None:
    r = make_engine(tmall=TMALL, sync=FAST)
    router = top_emulator(r)
    on_loop(r, lambda: router.fail_next(1, fault))  # type: ignore[arg-type]
    r.engine.vehicle_at("E1", "苏M00001").result(5)
    wait_until(lambda: outbox(r, "tmall")[0][1] == "sent", timeout=15, what="arrive after the failure")
    assert len(router.backflows) == 1
    [(kind, state, attempts, last_error)] = outbox(r, "tmall")
    assert (kind, state, attempts) == ("backflow_arrive", "sent", 1) and error in last_error


def test_a_refusal_is_a_dead_letter_the_supervisor_sees_and_requeues(
    make_engine: MakeEngine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    r = make_engine(tmall=TMALL, sync=FAST)
    router = top_emulator(r)
    on_loop(r, lambda: router.fail_next(1, "refused"))  # a 200 answer whose result_dto says no
    r.engine.vehicle_at("E1", "苏M00002").result(5)
    status: SyncStatus = wait_until(
        lambda: (s := r.engine.sync_status()).cloud("tmall").dead == 1 and s, what="the dead letter"
    )
    tmall: CloudStatus = status.cloud("tmall")
    [letter] = tmall.dead_letters
    assert letter.kind == "backflow_arrive" and "商圈未开通停车数据回流" in letter.reason
    wait_until(
        lambda: any(isinstance(e, SyncChanged) and e.status.cloud("tmall").dead == 1 for e in r.events),
        what="the change to be announced",
    )
    alert = wait_until(
        lambda: next((e for e in alerts(r) if e.kind == "tmall_dead_letter"), None), what="the alert"
    )
    assert "requeue" in alert.message
    config = write_config(tmp_path, r, tmall=TMALL)
    assert main(["sync", "status", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "tmall: 0 pending, 1 dead" in out and "backflow_arrive" in out and "商圈未开通" in out
    with pytest.raises(EngineError, match="no cloud"):
        r.engine.requeue_dead("weibo")
    assert r.engine.requeue_dead("tmall", operator="王主管").result(5) == 1
    wait_until(lambda: outbox(r, "tmall")[0][:2] == ("backflow_arrive", "sent"), what="the requeued arrive")
    assert len(router.backflows) == 1
    assert r.rows("SELECT actor, detail_json FROM audit_log WHERE action = 'sync_requeue'") == [
        ("王主管", '{"cloud": "tmall", "rows": 1}')
    ]
    wait_until(lambda: r.engine.sync_status().cloud("tmall").healthy, what="a healthy status again")


def test_sync_requeue_command(
    make_engine: MakeEngine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    r = make_engine(tmall=TMALL, sync=FAST)
    router = top_emulator(r)
    on_loop(r, lambda: router.fail_next(1, "25"))  # invalid signature: fix the secret, then requeue
    r.engine.vehicle_at("E1", "苏M00003").result(5)
    wait_until(lambda: outbox(r, "tmall")[0][1:2] == ("dead",), what="the dead letter")
    config = write_config(tmp_path, r, tmall=TMALL)
    assert main(["sync", "requeue", "--cloud", "tmall", "--config", str(config)]) == 0
    assert "requeued 1 dead row(s) of tmall" in capsys.readouterr().out
    wait_until(lambda: router.backflows, what="the running booth to send the requeued row")


# ----------------------------------------------------------------------------- the lot, settings, demo


def test_lot_registration_command_and_an_engine_that_waits_for_it(
    make_engine: MakeEngine, tmp_path: Path, outside: OutsideLoop, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = KeyFiles(tmp_path)
    emulator = outside.run(keys.emulator())
    alipay = {
        **keys.settings(emulator.gateway_url),
        "lot": {
            "city_id": "320102",
            "parking_address": "南京市玄武区示例路 1 号",
            "longitude": "118.796877",
            "latitude": "32.060255",
            "parking_number": 300,
        },
    }
    r = make_engine(alipay=alipay, sync=FAST)
    status = wait_until(lambda: (s := r.engine.sync_status()).cloud("alipay").held and s, what="held")
    assert "booth alipay register-lot" in status.cloud("alipay").held
    wait_until(
        lambda: any(isinstance(e, AlertRaised) and e.kind == "alipay_lot_unregistered" for e in r.events),
        what="the alert that the lot is not registered",
    )
    alipay_exit(r, "苏A12345")
    assert outbox(r, "alipay") == [("order_sync", "pending", 0, None)]  # kept, not sent, not failed
    config = write_config(tmp_path, r, alipay=alipay)
    assert main(["alipay", "register-lot", "--config", str(config)]) == 0
    [parking_id] = list(emulator.lots)
    assert f"parking_id {parking_id}" in capsys.readouterr().out
    assert main(["alipay", "register-lot", "--config", str(config)]) == 0  # idempotent (#14 item 7)
    assert f"already registered as {parking_id}" in capsys.readouterr().out
    assert len(emulator.lots) == 1
    assert main(["alipay", "query-lot", "--config", str(config)]) == 0
    assert f"parking_id: {parking_id}" in capsys.readouterr().out
    assert main(["alipay", "update-lot", "--config", str(config)]) == 0
    wait_until(lambda: emulator.orders, timeout=15, what="the running booth to pick up the parking_id")
    [biz] = emulator.orders.values()
    assert biz["parking_id"] == parking_id
    wait_until(lambda: not r.engine.sync_status().cloud("alipay").held, what="the status to say it sends")


def test_registering_needs_a_lot_and_a_real_gateway(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "booth.toml"
    config.write_text(
        BASE_CONFIG.format(db=tmp_path / "b.sqlite") + '[alipay]\ngateway_url = "sandbox"\napp_id = "1"\n'
        'out_parking_id = "L"\nparking_name = "n"\n',
        encoding="utf-8",
    )
    assert main(["alipay", "register-lot", "--config", str(config)]) == 1
    assert "registers the lot with its emulator" in capsys.readouterr().err
    config.write_text(BASE_CONFIG.format(db=tmp_path / "b.sqlite"), encoding="utf-8")
    assert main(["alipay", "register-lot", "--config", str(config)]) == 1
    assert "no [alipay] section" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("alipay", "tmall", "expected"),
    [
        ({"app_private_key": "not a key"}, {}, "alipay.app_private_key: neither a PEM block nor base64"),
        ({"app_private_key": "PUBLIC"}, {}, "alipay.app_private_key: this is a public key"),
        ({"alipay_public_key": "APP_PUBLIC"}, {}, "alipay_public_key is the app's own public key"),
        (
            {"app_private_key_file": "/nonexistent/key.pem", "app_private_key": ""},
            {},
            "alipay.app_private_key_file:",
        ),
        ({"app_id": "abc"}, {}, "alipay.app_id"),
        ({}, {"app_secret": "  "}, "tmall.app_secret: must not be empty"),
        ({}, {"mall_id": 0}, "tmall.mall_id"),
        ({}, {"sign_method": "sha1"}, "tmall.sign_method"),
    ],
)
def test_bad_keys_and_secrets_are_named_at_start(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    alipay: dict[str, Any],
    tmall: dict[str, Any],
    expected: str,
) -> None:
    keys = KeyFiles(tmp_path)
    good = keys.settings("https://openapi.alipay.com/gateway.do")
    swap = {"PUBLIC": keys.app_public, "APP_PUBLIC": keys.app_public}
    for key in alipay:  # an inline key replaces the file
        good.pop(f"{key}_file", None)
    bad_alipay = {**good, **{k: swap.get(v, v) for k, v in alipay.items()}}
    data = {
        "park": {"name": "x"},
        "bolink": {"base_url": "sandbox", "union_id": "1", "park_id": "1", "ukey": "k", "local_id": "l"},
        "lanes": [{"id": "X1", "name": "x", "direction": "exit", "channel_id": "X1"}],
        "database": {"url": f"sqlite:///{tmp_path / 'never.sqlite'}"},
        "alipay": bad_alipay,
        "tmall": {**TMALL, **tmall},
    }
    with pytest.raises(ConfigError) as info:
        settings_from_mapping(data)
    assert any(expected in p for p in info.value.problems), info.value.problems


def test_headless_refuses_a_bad_alipay_key_before_starting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "booth.toml"
    config.write_text(
        BASE_CONFIG.format(db=tmp_path / "never.sqlite")
        + '[alipay]\ngateway_url = "https://openapi.alipay.com/gateway.do"\napp_id = "1"\n'
        'app_private_key = "MIIBroken"\nalipay_public_key = "MIIAlsoBroken"\n'
        'out_parking_id = "L"\nparking_name = "n"\n',
        encoding="utf-8",
    )
    assert main(["run", "--headless", "--config", str(config)]) == 1
    assert "alipay.app_private_key:" in capsys.readouterr().err
    assert not (tmp_path / "never.sqlite").exists()


def test_the_demo_runs_both_clouds_on_their_emulators(tmp_path: Path) -> None:
    settings = demo_settings(tmp_path)
    assert settings.alipay is not None and settings.alipay.is_sandbox
    assert settings.tmall is not None and settings.tmall.is_sandbox
    assert (
        settings_from_mapping(settings.model_dump(mode="json")).alipay == settings.alipay
    )  # UI tests do this


def test_the_demos_clouds_in_their_own_process_accept_everything_the_booth_sends(tmp_path: Path) -> None:
    """`booth --demo` end to end: the Bolink, Alipay and TOP emulators in the child process take the
    booth's signed requests (its keys and secrets reach the child), so every paid exit is synced to Alipay
    and every arrive, pay and leave reaches Tmall, none refused."""
    from booth.cli.demo import start_demo_clouds, stop_demo_clouds
    from booth.engine import Engine

    clouds = start_demo_clouds(tmp_path, autopay_s=0.2)
    engine = Engine(demo_settings(tmp_path, autopay_s=0.2, every_s=0.3, clouds=clouds), tick_s=0.05)
    r = RunningEngine(engine, tmp_path / "demo.sqlite")
    engine.start()
    try:
        # two payments, not two exits: the demo's camera sends a car that has just entered to an exit now and
        # then, and it leaves free within the free minutes (a slow CI run had two exits and one payment)
        paid = "SELECT COUNT(*) FROM payments"
        wait_until(lambda: r.rows(paid)[0][0] >= 2, timeout=30, what="two demo payments")
        sql = "SELECT cloud, kind, state, last_error FROM outbox"

        def all_sent() -> bool:
            rows = r.rows(sql)
            kinds = {(cloud, kind) for cloud, kind, _, _ in rows}
            wanted = {("alipay", "order_sync"), ("tmall", "backflow_pay"), ("tmall", "backflow_leave")}
            return kinds >= wanted and all(state == "sent" for _, _, state, _ in rows)

        wait_until(all_sent, timeout=15, what="the demo's syncs to reach the emulators")
        # the only failures allowed are the child still starting when the booth first called
        assert all(error is None or "ConnectError" in error for *_, error in r.rows(sql)), r.rows(sql)
        # the demo's drivers pay with Alipay: one order.sync per payment, queued with it
        [(payments, syncs)] = r.rows(
            "SELECT (SELECT COUNT(*) FROM payments),"
            " (SELECT COUNT(*) FROM outbox WHERE cloud = 'alipay' AND kind = 'order_sync')"
        )
        assert payments >= 2 and syncs == payments
    finally:
        engine.stop()
        stop_demo_clouds()


# ------------------------------------------------------------------------------------------ fixtures

BASE_CONFIG = """
[park]
name = "测试停车场"

[bolink]
base_url = "sandbox"
union_id = "200208"
park_id = "21835"
ukey = "8403A41ED5EF20BC"
local_id = "booth_test"

[[lanes]]
id = "X1"
name = "东出口"
direction = "exit"
channel_id = "X1"

[database]
url = "sqlite:///{db}"

"""


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_config(tmp_path: Path, r: RunningEngine, **sections: dict[str, Any]) -> Path:
    """A settings file on the engine's database, with the given cloud sections (for the commands)."""
    text = BASE_CONFIG.format(db=r.db_path)
    for name, values in sections.items():
        nested = {k: v for k, v in values.items() if isinstance(v, dict)}
        text += f"[{name}]\n" + "".join(
            f"{k} = {_toml_value(v)}\n" for k, v in values.items() if not isinstance(v, dict)
        )
        for sub, inner in nested.items():
            text += f"[{name}.{sub}]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in inner.items())
    path = tmp_path / "booth.toml"
    path.write_text(text, encoding="utf-8")
    return path


class KeyFiles:
    """Throwaway app and Alipay key pairs in PEM files, and the matching emulator and [alipay] settings."""

    APP_ID = "2021000000000042"

    def __init__(self, folder: Path) -> None:
        app = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        alipay = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.app_private = folder / "app_private.pem"
        self.app_private.write_bytes(
            app.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            )
        )
        self.app_public = public_key_pem(app)
        self.alipay_private = alipay.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        self.alipay_public = folder / "alipay_public.pem"
        self.alipay_public.write_text(public_key_pem(alipay), encoding="ascii")

    def settings(self, gateway_url: str) -> dict[str, Any]:
        return {
            "gateway_url": gateway_url,
            "app_id": self.APP_ID,
            "app_private_key_file": str(self.app_private),
            "alipay_public_key_file": str(self.alipay_public),
            "out_parking_id": "LOT-1",
            "parking_name": "测试停车场",
            "request_timeout_s": ANSWER_S,
        }

    async def emulator(self, port: int = 0) -> AlipayGatewayEmulator:
        emulator = AlipayGatewayEmulator(self.app_public, self.alipay_private, app_id=self.APP_ID, port=port)
        await emulator.start()
        return emulator


class OutsideLoop:
    """An event loop on its own thread, for servers that must not live on the engine's loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.servers: list[AlipayGatewayEmulator] = []

    def run(self, coro: Coroutine[Any, Any, AlipayGatewayEmulator]) -> AlipayGatewayEmulator:
        server = asyncio.run_coroutine_threadsafe(coro, self.loop).result(10)
        self.servers.append(server)
        return server

    def close(self) -> None:
        for server in self.servers:
            asyncio.run_coroutine_threadsafe(server.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def outside() -> Iterator[OutsideLoop]:
    loop = OutsideLoop()
    yield loop
    loop.close()


def test_fixtures_timestamps_are_sane() -> None:
    assert china_time_text(datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=16)) == "2026-01-02 00:00:00"


def test_register_lot_twice_or_after_another_registration_says_so_and_sends_nothing(
    tmp_path: Path, outside: OutsideLoop, capsys: pytest.CaptureFixture[str]
) -> None:
    """An install script runs `booth alipay register-lot` on every install: a lot Alipay already knows is
    no failure (it exited 1, #14 item 7), and nothing is sent to create it again."""
    keys = KeyFiles(tmp_path)
    emulator = outside.run(keys.emulator())
    config = tmp_path / "booth.toml"

    lot = {"city_id": "320102", "parking_address": "南京市玄武区示例路 1 号", "longitude": "118.796877",
           "latitude": "32.060255", "parking_number": 300}  # fmt: skip

    def register(**extra: str) -> int:
        alipay = {**keys.settings(emulator.gateway_url), **extra}
        config.write_text(
            BASE_CONFIG.format(db=tmp_path / "b.sqlite")
            + "[alipay]\n"
            + "".join(f"{k} = {_toml_value(v)}\n" for k, v in alipay.items())
            + "[alipay.lot]\n"
            + "".join(f"{k} = {_toml_value(v)}\n" for k, v in lot.items()),
            encoding="utf-8",
        )
        return main(["alipay", "register-lot", "--config", str(config)])

    # registered elsewhere: the settings carry Alipay's parking_id
    assert register(parking_id="1509700000000000001") == 0
    out, err = capsys.readouterr()
    assert out.startswith("already registered as 1509700000000000001 (out_parking_id LOT-1, ")
    assert "alipay.parking_id" in out and err == ""
    assert emulator.requests == [] and emulator.lots == {}
    # registered by this command, then run again: one parkinglotinfo.create in all
    assert register() == 0
    [parking_id] = emulator.lots
    assert f"registered: out_parking_id LOT-1 -> parking_id {parking_id}" in capsys.readouterr().out
    assert register() == 0
    out, err = capsys.readouterr()
    assert f"already registered as {parking_id}" in out and "UTC" in out and err == ""
    assert len(emulator.requests) == 1 and len(emulator.lots) == 1
