"""A payment whose Alipay/Tmall rows cannot be built when it is booked (issue #13, item 7): the money is
booked, the supervisor is alerted, and rebuild markers in the outbox, under the real rows' dedupe keys, become
the real rows when the relay sends them, or dead letters naming the cause until it is fixed and requeued.

The first tests run the store and CloudSync's building on a real SQLite file, without a network; the last
ones run a real engine with the Bolink, Alipay gateway and TOP router emulators over loopback HTTP."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from booth.clouds.alipay import out_order_no_for
from booth.clouds.http import china_time_text
from booth.domain.money import format_yuan
from booth.engine import AlertRaised
from booth.store import OutboxItem, OutboxRecord, StayRecord, Store, open_database
from booth.sync.cloud_sync import CloudSync
from booth.sync.rows import PAYMENT_REBUILD_KIND, PaymentFacts
from tests.conftest import RunningEngine, engine_settings, wait_until
from tests.test_engine import bring_car, pay
from tests.test_sync import ALIPAY, ALIPAY_USER, FAST, TMALL, alipay_emulator, top_emulator, utc

MakeEngine = Callable[..., RunningEngine]

ENTRY = datetime(2024, 5, 1, 1, 0, tzinfo=UTC)
OPENED = ENTRY + timedelta(hours=2)
PAID = OPENED + timedelta(seconds=40)


# --------------------------------------------------------------------------- building and rebuilding, offline


@dataclass
class Booked:
    sync: CloudSync
    store: Store
    stay: StayRecord
    facts: PaymentFacts


@pytest.fixture
def offline(tmp_path: Path) -> Iterator[Callable[..., Booked]]:
    """A CloudSync that is never started (nothing is sent) over a real store holding one stay and its
    awaiting exit order; ``facts`` describe an Alipay payment of that order."""
    closers: list[Callable[[], object]] = []

    def make(**overrides: Any) -> Booked:
        settings = engine_settings(tmp_path, **overrides)
        database = open_database(f"sqlite:///{tmp_path / f'offline{len(closers)}.sqlite'}")
        executor = ThreadPoolExecutor(1)
        closers.extend([database.close, executor.shutdown])
        store = Store(database)
        stay = store.create_stay(
            order_id="E1_20240501090000_0001",
            plate="苏A12345",
            plate_colour="blue",
            vehicle_class="small",
            lane_id="E1",
            entry_at=ENTRY,
        )
        order = store.open_exit_order(
            stay_id=stay.id,
            lane_id="X1",
            opened_at=OPENED,
            quote_json="{}",
            gross_fen=500,
            paid_before_fen=0,
            discount_fen=0,
            due_fen=500,
        )
        facts = PaymentFacts(stay.order_id, "T2024050100001", 500, PAID, order.id, ALIPAY_USER)
        return Booked(CloudSync(settings, store, executor), store, stay, facts)

    yield make
    for close in reversed(closers):
        close()


def book(booked: Booked, items: list[OutboxItem]) -> list[OutboxRecord]:
    """Book the payment with ``items`` as its outbox rows; return the rows queued, oldest first."""
    f = booked.facts
    outcome = booked.store.record_payment(
        order_ref=f.order_id,
        exit_order_id=f.exit_order_id,
        channel="scancode",
        pay_channel=1,
        trade_no=f.trade_no,
        amount_fen=f.amount_fen,
        paid_at=f.paid_at,
        lane_id="X1",
        operator="bolink",
        payer_id=f.alipay_user_id,
        raw=None,
        outbox=items,
    )
    assert outcome.status == "settled"
    later = datetime.now(UTC) + timedelta(days=1)
    return [*booked.store.due_outbox("alipay", later), *booked.store.due_outbox("tmall", later)]


def prepare(booked: Booked) -> tuple[list[OutboxItem], str]:
    f = booked.facts
    return booked.sync.prepare_payment_items(
        order_id=f.order_id,
        trade_no=f.trade_no,
        amount_fen=f.amount_fen,
        paid_at=f.paid_at,
        exit_order_id=f.exit_order_id,
        alipay_user_id=f.alipay_user_id,
    )


def test_markers_take_the_real_rows_keys_and_rebuild_into_exactly_the_rows_the_booking_would_have_queued(
    offline: Callable[..., Booked], monkeypatch: pytest.MonkeyPatch
) -> None:
    booked = offline(alipay=ALIPAY, tmall=TMALL)
    normal = booked.sync.build_payment_items(booked.facts)
    assert [i.kind for i in normal] == ["order_sync", "backflow_pay"]

    def broken(*args: object, **kwargs: object) -> list[OutboxItem]:
        raise RuntimeError("tariff table unreadable")

    with monkeypatch.context() as patch:
        patch.setattr(CloudSync, "payment_items", broken)
        markers, why = prepare(booked)
    assert [(m.cloud, m.kind) for m in markers] == [
        ("alipay", PAYMENT_REBUILD_KIND),
        ("tmall", PAYMENT_REBUILD_KIND),
    ]
    assert [m.dedupe_key for m in markers] == [i.dedupe_key for i in normal]
    assert (
        "T2024050100001" in why and "alipay/tmall" in why and "RuntimeError: tariff table unreadable" in why
    )
    assert "requeue" in why

    rows = book(booked, markers)
    assert [(r.kind, r.stay_id) for r in rows] == [(PAYMENT_REBUILD_KIND, booked.stay.id)] * 2
    assert rows[0].payload["failure"] == "RuntimeError: tariff table unreadable"
    rebuilt = [booked.sync.rebuild_payment_row(row) for row in rows]
    assert [(r.cloud, r.kind, r.payload, r.dedupe_key) for r in rebuilt] == [
        (i.cloud, i.kind, dict(i.payload), i.dedupe_key) for i in normal
    ]
    assert [r.id for r in rebuilt] == [r.id for r in rows]  # the marker's row is the one marked sent
    assert rebuilt[0].payload["order_time"] == OPENED.isoformat()  # the exit order's opening, as at booking

    booked.store.enqueue(normal, stay_id=booked.stay.id)  # the real rows now: skipped, never a second send
    later = datetime.now(UTC) + timedelta(days=1)
    assert [r.id for r in booked.store.due_outbox("alipay", later)] == [rows[0].id]
    assert [r.id for r in booked.store.due_outbox("tmall", later)] == [rows[1].id]


@pytest.mark.parametrize(
    ("overrides", "payer", "clouds"),
    [
        ({"alipay": ALIPAY, "tmall": TMALL}, None, ["tmall"]),  # not paid through Alipay: Tmall's pay only
        ({"alipay": ALIPAY, "tmall": {**TMALL, "actions": ["arrive", "leave"]}}, ALIPAY_USER, ["alipay"]),
        ({"alipay": ALIPAY}, ALIPAY_USER, ["alipay"]),
        ({"alipay": ALIPAY}, None, []),  # nothing would have been reported: nothing to rebuild, no alert
    ],
)
def test_a_marker_is_queued_for_each_cloud_that_would_have_had_a_row_and_only_those(
    offline: Callable[..., Booked],
    monkeypatch: pytest.MonkeyPatch,
    overrides: dict[str, Any],
    payer: str | None,
    clouds: list[str],
) -> None:
    booked = offline(**overrides)
    booked.facts = replace(booked.facts, alipay_user_id=payer)
    normal = booked.sync.build_payment_items(booked.facts)
    monkeypatch.setattr(CloudSync, "_payment_items_of_stay", lambda *a: 1 / 0)
    markers, why = prepare(booked)
    assert [m.cloud for m in markers] == clouds == [i.cloud for i in normal]
    assert [m.dedupe_key for m in markers] == [i.dedupe_key for i in normal]
    assert bool(why) == bool(clouds)
    if clouds:
        assert "ZeroDivisionError" in why


def test_when_not_even_a_marker_can_be_made_the_alert_says_the_payment_will_not_reach_the_clouds(
    offline: Callable[..., Booked], monkeypatch: pytest.MonkeyPatch
) -> None:
    booked = offline(alipay=ALIPAY, tmall=TMALL)
    monkeypatch.setattr(CloudSync, "build_payment_items", lambda *a: 1 / 0)
    monkeypatch.setattr(CloudSync, "rebuild_markers", lambda *a: [][0])
    items, why = prepare(booked)
    assert items == []
    assert "T2024050100001" in why and "ZeroDivisionError" in why and "will not reach them" in why


def test_a_marker_that_cannot_be_rebuilt_says_why(offline: Callable[..., Booked]) -> None:
    booked = offline(alipay=ALIPAY, tmall={**TMALL, "actions": ["arrive"]})
    [alipay_marker] = book(booked, booked.sync.rebuild_markers(booked.facts, "boom"))
    rebuild = booked.sync.rebuild_payment_row

    def marker(**payload: Any) -> OutboxRecord:
        merged = {**alipay_marker.payload, **payload}
        return replace(alipay_marker, payload_json=json.dumps(merged))

    cases: list[tuple[OutboxRecord, str]] = [
        (marker(amount_fen="500"), "amount_fen: expected a whole number >= 0, got '500'"),
        (marker(amount_fen=True), "amount_fen: expected a whole number"),
        (marker(trade_no=""), "trade_no: expected a non-empty text"),
        (marker(paid_at="2024-05-01T03:00:40"), "paid_at: no time zone"),
        (marker(paid_at=None), "paid_at: missing"),
        (marker(exit_order_id=-1), "exit_order_id: expected a whole number"),
        (marker(order_id="X1_nobody"), "no stay has the order_id 'X1_nobody'"),
        (marker(alipay_user_id=None), "the settings no longer ask for this alipay report"),
    ]
    for row, reason in cases:
        with pytest.raises(ValueError) as caught:
            rebuild(row)
        assert reason in str(caught.value), (reason, str(caught.value))
    assert rebuild(marker(exit_order_id=None)).payload["order_time"] == PAID.isoformat()


# ---------------------------------------------------------------------------------- through a real engine


class Breakage:
    """Makes CloudSync.payment_items raise for the stays named in ``doomed``: for ``times`` calls, or until
    the doomed set is emptied (the cause is fixed)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, times: int | None = None) -> None:
        self.doomed: set[str] = set()
        self.times = times
        self.raised = 0
        real = CloudSync.payment_items

        def payment_items(sync: CloudSync, stay: StayRecord, **kwargs: Any) -> list[OutboxItem]:
            if stay.order_id in self.doomed and (self.times is None or self.raised < self.times):
                self.raised += 1
                raise RuntimeError(f"tariff table unreadable for {stay.order_id}")
            return real(sync, stay, **kwargs)

        monkeypatch.setattr(CloudSync, "payment_items", payment_items)


def alerts_of(r: RunningEngine, kind: str) -> list[AlertRaised]:
    return [e for e in list(r.events) if isinstance(e, AlertRaised) and e.kind == kind]


def rows_of(r: RunningEngine, order_id: str) -> list[tuple[Any, ...]]:
    """The stay's Alipay and Tmall rows, oldest first: cloud, kind, state, dedupe key, last error."""
    return r.rows(
        "SELECT o.cloud, o.kind, o.state, o.dedupe_key, o.last_error FROM outbox o JOIN stays s "
        "ON o.stay_id = s.id WHERE s.order_id = ? AND o.cloud != 'bolink' ORDER BY o.id",
        order_id,
    )


def markers_of(r: RunningEngine, order_id: str) -> list[tuple[Any, ...]]:
    return [row for row in rows_of(r, order_id) if row[1] == PAYMENT_REBUILD_KIND]


def check_the_order_reached_alipay_once(r: RunningEngine, order_id: str, trade_no: str) -> None:
    emulator = alipay_emulator(r)
    out_order_no = out_order_no_for(order_id, trade_no)
    assert emulator.accepted == {out_order_no: 1} and emulator.duplicates == {}
    biz = emulator.orders[out_order_no]
    [(amount, paid_at)] = r.rows("SELECT amount_fen, paid_at FROM payments WHERE trade_no = ?", trade_no)
    [(entry_at,)] = r.rows("SELECT entry_at FROM stays WHERE order_id = ?", order_id)
    [(opened_at,)] = r.rows("SELECT opened_at FROM exit_orders")
    expected = {
        "user_id": ALIPAY_USER,
        "order_no": trade_no,
        "car_number": "苏A54321",
        "pay_money": format_yuan(amount),
        "pay_time": china_time_text(utc(paid_at)),
        "order_time": china_time_text(utc(opened_at)),
        "in_time": china_time_text(utc(entry_at)),
    }
    assert {k: biz[k] for k in expected} == expected
    [paid] = [b for b in top_emulator(r).backflows if b["action"] == "pay"]
    assert paid["pay_time"] == china_time_text(utc(paid_at))
    assert top_emulator(r).accepted[("苏A54321", "pay", "77")] == 1


def test_a_payment_whose_reports_cannot_be_built_is_booked_alerted_parked_and_sent_once_when_fixed(
    make_engine: MakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    breakage = Breakage(monkeypatch)
    r = make_engine(alipay=ALIPAY, tmall=TMALL, sync=FAST)
    order_id = bring_car(r, "X1", "苏A54321")
    breakage.doomed.add(order_id)
    trade_no = pay(r, order_id)["trade_no"]
    wait_until(lambda: r.engine.exits_completed == 1, what="the paid car to be let out")
    assert r.rows("SELECT state FROM exit_orders") == [("paid",)]
    assert r.rows("SELECT trade_no, flag FROM payments") == [(trade_no, None)]

    [alert] = wait_until(lambda: alerts_of(r, "sync_payment_rebuild"), what="the supervisor's alert")
    assert trade_no in alert.message and order_id in alert.message and "alipay/tmall" in alert.message
    assert "RuntimeError: tariff table unreadable" in alert.message

    wait_until(
        lambda: (
            [row[:3] for row in markers_of(r, order_id)]
            == [("alipay", PAYMENT_REBUILD_KIND, "dead"), ("tmall", PAYMENT_REBUILD_KIND, "dead")]
        ),
        what="both markers parked: the cause is still there when they are sent",
    )
    for cloud, _kind, _state, _key, error in markers_of(r, order_id):
        assert f"payment {trade_no}'s {cloud} report still cannot be built" in error
        assert "tariff table unreadable" in error
    wait_until(
        lambda: alerts_of(r, "alipay_dead_letter") and alerts_of(r, "tmall_dead_letter"), what="alerts"
    )
    assert alipay_emulator(r).orders == {}

    breakage.doomed.clear()  # the supervisor fixed the cause
    assert r.engine.requeue_dead(None).result(5) == 2
    wait_until(
        lambda: (
            [row[:3] for row in markers_of(r, order_id)]
            == [("alipay", PAYMENT_REBUILD_KIND, "sent"), ("tmall", PAYMENT_REBUILD_KIND, "sent")]
        ),
        what="the rebuilt reports to be sent",
    )
    check_the_order_reached_alipay_once(r, order_id, trade_no)
    keys = [row[3] for row in markers_of(r, order_id)]
    assert keys == [
        f"alipay:order_sync:{out_order_no_for(order_id, trade_no)}",
        f"tmall:pay:{order_id}:{trade_no}",
    ]


def test_a_failure_at_booking_only_is_rebuilt_at_the_first_send_in_order_with_the_stays_other_rows(
    make_engine: MakeEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    breakage = Breakage(monkeypatch, times=1)
    r = make_engine(alipay=ALIPAY, tmall=TMALL, sync=FAST)
    order_id = bring_car(r, "X1", "苏A54321")
    breakage.doomed.add(order_id)
    trade_no = pay(r, order_id)["trade_no"]
    wait_until(lambda: r.engine.exits_completed == 1, what="the paid car to be let out")
    wait_until(lambda: alerts_of(r, "sync_payment_rebuild"), what="the supervisor's alert")
    wait_until(
        lambda: (
            [row[:3] for row in rows_of(r, order_id)]
            == [
                ("tmall", "backflow_arrive", "sent"),
                ("alipay", PAYMENT_REBUILD_KIND, "sent"),
                ("tmall", PAYMENT_REBUILD_KIND, "sent"),
                ("tmall", "backflow_leave", "sent"),
            ]
        ),
        what="the rebuilt reports and the leave to be sent",
    )
    assert breakage.raised == 1
    check_the_order_reached_alipay_once(r, order_id, trade_no)
    assert [b["action"] for b in top_emulator(r).backflows] == ["arrive", "pay", "leave"]  # in order
    assert not alerts_of(r, "alipay_dead_letter") and not alerts_of(r, "tmall_dead_letter")
