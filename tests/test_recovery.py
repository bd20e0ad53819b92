"""Nothing is lost across a restart: the database, not the running process, holds the truth."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from booth.domain.lane import LaneState
from booth.engine import AlertRaised
from tests.conftest import RunningEngine, wait_until
from tests.test_engine import bring_car, gate, pay

MakeEngine = Callable[..., RunningEngine]

FAILING_GATE = [
    {"id": "X1", "name": "东出口", "direction": "exit", "channel_id": "X1", "pass_timeout_s": 1,
     "gate": {"driver": "simulated", "fail_next": 2}},
]  # fmt: skip


def test_a_paid_car_whose_gate_failed_leaves_for_its_payment_after_a_restart(make_engine: MakeEngine) -> None:
    first = make_engine(lanes=FAILING_GATE)
    order_id = bring_car(first, "X1", "苏R00001")
    pay(first, order_id)
    wait_until(lambda: first.lane("X1").state is LaneState.GATE_FAULT, what="the gate fault")
    first.engine.stop()  # the booth is restarted with the car still at the barrier

    second = make_engine()
    # the restarted booth lists the car as paid, not yet out, and lets it out when it is read again
    wait_until(lambda: any(isinstance(e, AlertRaised) and e.kind == "paid_not_out" for e in second.events),
               what="the attendant to be told")  # fmt: skip
    second.engine.vehicle_at("X1", "苏R00001").result(5)
    wait_until(lambda: second.engine.exits_completed == 1, what="the paid car to leave after the restart")
    assert second.rows("SELECT COUNT(*) FROM payments") == [(1,)]  # not charged again
    assert gate(second, "X1").open_count == 1
    assert second.rows("SELECT reason, outcome FROM gate_events ORDER BY id") == [
        ("paid", "failed"),
        ("paid", "failed"),
        ("paid", "opened"),  # for the payment it made (it was "free_tariff" within grace, charged after)
    ]
    assert second.rows("SELECT COUNT(*) FROM exit_orders") == [(1,)]  # not priced again
    assert second.rows("SELECT state FROM stays") == [("exited",)]


def test_rows_queued_while_bolink_was_down_are_sent_after_a_restart(make_engine: MakeEngine) -> None:
    first = make_engine()
    first.engine.call(first.engine.sandbox.stop()).result(5)
    first.engine.vehicle_at("E1", "苏R00002").result(5)
    wait_until(lambda: gate(first, "E1").open_count == 1, what="the entry with Bolink down")
    first.engine.seed_stay("苏R00003", first.engine.now() - timedelta(hours=2)).result(5)
    first.engine.vehicle_at("X1", "苏R00003").result(5)
    due = wait_until(lambda: first.lane("X1").due_fen, what="the quote")
    first.engine.cash("X1", due, "张三").result(5)
    wait_until(lambda: first.engine.exits_completed == 1, what="the cash exit")
    assert sorted(first.rows("SELECT kind, state FROM outbox")) == [
        ("inpark", "pending"),
        ("inpark", "pending"),
        ("outpark", "pending"),
    ]
    first.engine.stop()

    second = make_engine()  # Bolink (a new sandbox) is up now
    wait_until(lambda: {s for (s,) in second.rows("SELECT state FROM outbox")} == {"sent"}, timeout=20,
               what="the queued rows to reach Bolink after the restart")  # fmt: skip
    sent = [(name, d.get("car_number"), d.get("pay_type")) for name, d in second.engine.sandbox.calls]
    assert ("inpark", "苏R00002", None) in sent
    assert sent.index(("inpark", "苏R00003", None)) < sent.index(("outpark", "苏R00003", "cash"))
