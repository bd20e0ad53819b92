"""Free releases and manual lifts end to end: reasons, notes, photos, supervisor approval, per-shift limits;
and failed payments kept for the shift report. A real engine thread, the Bolink sandbox over loopback, a
real SQLite file, real people and shifts (booth.staff / booth.shifts) behind real PINs."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from booth.devices.gates import SimulatedGate
from booth.domain.lane import LaneRuleError, LaneState
from booth.engine import AlertRaised, ApprovalError, EngineError, ExceptionRefused
from booth.store import Database, Store, StoreError, open_database
from booth.store.records import LaneExceptionItem
from tests.conftest import RunningEngine, wait_until
from tests.test_engine import delivered_in_order

MakeEngine = Callable[..., RunningEngine]
SUPERVISOR = ("boss", "4321")
ATTENDANT = ("clerk", "1234")
EXCEPTION_COLUMNS = (
    "kind, lane_id, stay_id, exit_order_id, plate, due_fen, reason, note, operator, approved_by, photo"
)


def gate(r: RunningEngine, lane_id: str) -> SimulatedGate:
    g = r.engine.gates[lane_id]
    assert isinstance(g, SimulatedGate)
    return g


def add_people(r: RunningEngine) -> None:
    """A supervisor and an attendant, added as the booth would: on the office thread."""
    staff = r.engine.staff
    r.engine.office(
        staff.add_person, SUPERVISOR[0], "王经理", "supervisor", SUPERVISOR[1], by="system"
    ).result(10)
    r.engine.office(staff.add_person, ATTENDANT[0], "张三", "attendant", ATTENDANT[1], by="boss").result(10)


def car_waiting(r: RunningEngine, lane_id: str, plate: str, photo: str | None = None) -> Any:
    """A car that entered two hours ago waits at an exit lane with a QR; returns its lane view."""
    r.engine.seed_stay(plate, r.engine.now() - timedelta(hours=2)).result(5)
    r.engine.vehicle_at(lane_id, plate, photo=photo).result(5)
    view = wait_until(
        lambda: (v := r.lane(lane_id)).state is LaneState.AWAITING_PAYMENT and v.code_url and v,
        what=f"{plate} awaiting payment at {lane_id}",
    )
    assert view.due_fen and view.due_fen > 0
    return view


def exceptions(r: RunningEngine) -> list[tuple[Any, ...]]:
    return r.rows(f"SELECT {EXCEPTION_COLUMNS} FROM lane_exceptions ORDER BY id")


def barrier(r: RunningEngine) -> None:
    """Background work the engine started before now (a limit check, an alert's audit row) is done."""
    r.engine.call(r.engine.plates_in_lot()).result(5)


def limit_alerts(r: RunningEngine) -> list[AlertRaised]:
    return [e for e in r.events if isinstance(e, AlertRaised) and e.kind == "exception_limit"]


def lift_on_empty_lane(r: RunningEngine, lane_id: str, operator: str = "张三") -> None:
    """A manual lift with nobody at the lane; returns once the gate is up (and the lift recorded)."""
    before = gate(r, lane_id).open_count
    r.engine.manual_lift(lane_id, "车辆滞留", operator).result(5)
    wait_until(lambda: gate(r, lane_id).open_count == before + 1, what="the manual lift's gate")
    barrier(r)


# ------------------------------------------------------------------------------------- the record


def test_free_release_keeps_reason_note_operator_forgone_fee_and_photo(
    make_engine: MakeEngine, tmp_path: Path
) -> None:
    r = make_engine()
    photo = tmp_path / "X1_苏A12345.jpg"
    photo.write_bytes(b"\xff\xd8 a lane photo")
    view = car_waiting(r, "X1", "苏A12345", photo=str(photo))
    r.engine.free_release("X1", "员工车辆", "张三", note=" 保安部车辆 ").result(5)
    wait_until(lambda: r.engine.exits_completed == 1, what="the released exit")
    [(stay_id,)] = r.rows("SELECT id FROM stays WHERE plate = '苏A12345'")
    [(order_id, state)] = r.rows("SELECT id, state FROM exit_orders")
    assert state == "released"
    assert exceptions(r) == [
        (
            "free_release",
            "X1",
            stay_id,
            order_id,
            "苏A12345",
            view.due_fen,
            "员工车辆",
            "保安部车辆",
            "张三",
            None,
            str(photo),
        )
    ]
    assert r.rows("SELECT reason, operator, note FROM gate_events") == [
        ("free_release", "张三", "员工车辆：保安部车辆")
    ]
    assert gate(r, "X1").open_count == 1


def test_manual_lift_on_an_empty_lane_is_recorded_without_a_car(make_engine: MakeEngine) -> None:
    r = make_engine()
    lift_on_empty_lane(r, "X2", operator="李四")
    assert exceptions(r) == [("manual_lift", "X2", None, None, None, 0, "车辆滞留", "", "李四", None, None)]


def test_manual_lift_of_a_waiting_car_records_the_fee_it_forgoes(make_engine: MakeEngine) -> None:
    r = make_engine()
    view = car_waiting(r, "X1", "苏B22222")
    r.engine.manual_lift("X1", "识别失败", "张三", note="车牌污损").result(5)
    wait_until(lambda: r.engine.exits_completed == 1, what="the lifted exit")
    [(kind, plate, due_fen, note)] = r.rows("SELECT kind, plate, due_fen, note FROM lane_exceptions")
    assert (kind, plate, due_fen, note) == ("manual_lift", "苏B22222", view.due_fen, "车牌污损")
    assert r.rows("SELECT state, release_reason FROM exit_orders") == [("released", "manual_lift: 识别失败")]


def test_a_refused_lane_rule_records_nothing(make_engine: MakeEngine) -> None:
    r = make_engine()
    with pytest.raises(LaneRuleError, match="没有可免费放行"):
        r.engine.free_release("X1", "员工车辆", "张三").result(5)
    with pytest.raises(ExceptionRefused) as refused:
        r.engine.manual_lift("X1", "  ", "张三").result(5)
    assert refused.value.code == "reason_missing"
    assert exceptions(r) == [] and gate(r, "X1").open_count == 0


# ------------------------------------------------------------------------------------- approval


def test_approval_required_reason_needs_a_supervisors_pin(make_engine: MakeEngine) -> None:
    r = make_engine()  # default approval_required: 经理批准, 投诉处理
    add_people(r)
    car_waiting(r, "X1", "苏C33333")

    def refused(approver: tuple[str, str] | None) -> ApprovalError:
        with pytest.raises(ApprovalError) as caught:
            r.engine.free_release("X1", "经理批准", "张三", approver=approver).result(10)
        return caught.value

    missing = refused(None)
    assert missing.code == "approval_required" and "经理批准" in missing.message
    not_supervisor = refused(ATTENDANT)
    assert not_supervisor.code == "not_supervisor" and "clerk" in str(not_supervisor)
    wrong = refused((SUPERVISOR[0], "0000"))
    assert wrong.code == "wrong_pin" and wrong.auth is not None and wrong.auth.remaining == 4
    unknown = refused(("nobody", "1111"))
    assert unknown.code == "unknown"
    # nothing happened at the lane: no record, no gate command, the car still waits to pay
    assert r.lane("X1").state is LaneState.AWAITING_PAYMENT and r.lane("X1").gate == "closed"
    assert gate(r, "X1").open_count == 0
    assert r.rows("SELECT COUNT(*) FROM gate_events") == [(0,)]
    assert r.rows("SELECT state FROM exit_orders") == [("awaiting",)]
    assert exceptions(r) == []

    r.engine.free_release("X1", "经理批准", "张三", approver=SUPERVISOR).result(10)
    wait_until(lambda: r.engine.exits_completed == 1, what="the approved release")
    assert r.rows("SELECT reason, operator, approved_by FROM lane_exceptions") == [
        ("经理批准", "张三", "boss")
    ]
    assert gate(r, "X1").open_count == 1


def test_an_approval_is_for_the_car_it_was_asked_for(make_engine: MakeEngine) -> None:
    """The PIN is checked on the office thread; if another car is at the lane by the time it is good, the
    approval is not spent on that car: nothing lifts and the attendant is told to ask again."""
    r = make_engine()
    add_people(r)
    car_waiting(r, "X1", "苏C33333")
    office_busy, release_office = threading.Event(), threading.Event()

    def hold_the_office() -> None:
        office_busy.set()
        release_office.wait(10)

    held = r.engine.office(hold_the_office)
    assert office_busy.wait(10)
    asked = r.engine.free_release("X1", "经理批准", "张三", approver=SUPERVISOR)
    r.engine.vehicle_left("X1").result(10)  # the first car backs away; another arrives
    car_waiting(r, "X1", "苏D44444")
    release_office.set()
    held.result(10)
    with pytest.raises(ExceptionRefused) as caught:
        asked.result(10)
    assert caught.value.code == "car_changed"
    assert gate(r, "X1").open_count == 0 and exceptions(r) == []
    assert r.lane("X1").state is LaneState.AWAITING_PAYMENT and r.lane("X1").plate == "苏D44444"


def test_a_typed_reason_needs_a_supervisor_unless_the_lot_says_otherwise(make_engine: MakeEngine) -> None:
    """A typed reason could be any wording of one that needs approval ("经理批准!")."""
    r = make_engine()
    add_people(r)
    with pytest.raises(ApprovalError) as caught:
        r.engine.manual_lift("X1", "经理批准!", "张三").result(10)
    assert caught.value.code == "approval_required" and gate(r, "X1").open_count == 0
    r.engine.manual_lift("X1", "经理批准!", "张三", approver=SUPERVISOR).result(10)
    wait_until(lambda: gate(r, "X1").open_count == 1, what="the approved lift")
    assert r.rows("SELECT reason, approved_by FROM lane_exceptions") == [("经理批准!", "boss")]


def test_typed_reasons_may_go_without_approval_where_configured(make_engine: MakeEngine) -> None:
    r = make_engine(exceptions={"typed_reasons_need_approval": False})
    r.engine.manual_lift("X1", "消防车", "张三").result(10)
    wait_until(lambda: gate(r, "X1").open_count == 1, what="the lift")
    assert r.rows("SELECT reason, approved_by FROM lane_exceptions") == [("消防车", None)]


def test_a_supervisor_cannot_approve_their_own_lift(make_engine: MakeEngine) -> None:
    r = make_engine()
    add_people(r)
    with pytest.raises(ApprovalError) as caught:
        r.engine.manual_lift("X1", "经理批准", SUPERVISOR[0], approver=SUPERVISOR).result(10)
    assert caught.value.code == "self_approval" and gate(r, "X1").open_count == 0


def test_an_approver_given_for_an_ordinary_reason_is_checked_and_recorded(make_engine: MakeEngine) -> None:
    r = make_engine()
    add_people(r)
    with pytest.raises(ApprovalError) as caught:
        r.engine.manual_lift("X1", "道闸故障", "张三", approver=(SUPERVISOR[0], "9999")).result(10)
    assert caught.value.code == "wrong_pin" and gate(r, "X1").open_count == 0
    r.engine.manual_lift("X1", "道闸故障", "张三", approver=SUPERVISOR).result(10)
    wait_until(lambda: gate(r, "X1").open_count == 1, what="the lift")
    assert r.rows("SELECT approved_by FROM lane_exceptions") == [("boss",)]


# ------------------------------------------------------------------------------------- reasons


def test_free_text_is_refused_when_the_list_is_closed(make_engine: MakeEngine) -> None:
    r = make_engine(exceptions={"free_text_allowed": False})
    car_waiting(r, "X1", "苏D44444")
    with pytest.raises(ExceptionRefused) as typed:
        r.engine.free_release("X1", "业主访客", "张三").result(5)
    assert typed.value.code == "reason_not_listed" and "业主访客" in typed.value.message
    # a reason of the other action's list is not one of this action's
    with pytest.raises(ExceptionRefused) as other_list:
        r.engine.free_release("X1", "道闸故障", "张三").result(5)
    assert other_list.value.code == "reason_not_listed"
    assert r.lane("X1").state is LaneState.AWAITING_PAYMENT and gate(r, "X1").open_count == 0
    assert exceptions(r) == []
    r.engine.free_release("X1", "短时进出", "张三").result(5)
    wait_until(lambda: r.engine.exits_completed == 1, what="the listed release")
    assert r.rows("SELECT reason FROM lane_exceptions") == [("短时进出",)]


def test_typed_reason_and_note_lengths_are_capped(make_engine: MakeEngine) -> None:
    r = make_engine()
    with pytest.raises(ExceptionRefused) as long_reason:
        r.engine.manual_lift("X1", "很" * 65, "张三").result(5)
    assert long_reason.value.code == "reason_too_long" and "64" in long_reason.value.message
    with pytest.raises(ExceptionRefused) as long_note:
        r.engine.manual_lift("X1", "道闸故障", "张三", note="x" * 201).result(5)
    assert long_note.value.code == "note_too_long"
    with pytest.raises(ExceptionRefused) as nobody:
        r.engine.manual_lift("X1", "道闸故障", " ").result(5)
    assert nobody.value.code == "operator_missing"
    with pytest.raises(EngineError):
        r.engine.manual_lift("NOPE", "道闸故障", "张三")
    assert exceptions(r) == [] and gate(r, "X1").open_count == 0
    lift_on_empty_lane(r, "X1")  # typed reasons are fine while free text is allowed (the default)


# ------------------------------------------------------------------------------------- limits


def test_shift_limit_alerts_the_supervisor_after_n_plus_one_lifts(make_engine: MakeEngine) -> None:
    r = make_engine(exceptions={"max_manual_lifts_per_shift": 2, "max_free_releases_per_shift": 0})
    add_people(r)
    shift = r.engine.office(r.engine.shifts.open, ATTENDANT[0]).result(10)
    lift_on_empty_lane(r, "X1")
    lift_on_empty_lane(r, "X2")
    assert limit_alerts(r) == []
    lift_on_empty_lane(r, "X1")
    [alert] = limit_alerts(r)
    assert alert.lane_id == "X1" and "3" in alert.message and "2" in alert.message
    rows = wait_until(
        lambda: r.rows("SELECT actor, detail_json FROM audit_log WHERE action = 'exception_limit'"),
        what="the limit's audit row",
    )
    [(actor, detail_json)] = rows
    detail = json.loads(detail_json)
    assert actor == "lane:X1"
    assert (detail["kind"], detail["count"], detail["limit"], detail["shift_id"], detail["attendant"]) == (
        "manual_lift",
        3,
        2,
        shift.id,
        "clerk",
    )
    # free releases have their own limit, here off (0): none of them alerts
    car_waiting(r, "X2", "苏E55555")
    r.engine.free_release("X2", "员工车辆", "张三").result(5)
    wait_until(lambda: r.engine.exits_completed == 1, what="the release")
    barrier(r)
    assert len(limit_alerts(r)) == 1


def test_without_an_open_shift_the_limit_counts_from_local_midnight(make_engine: MakeEngine) -> None:
    r = make_engine(exceptions={"max_manual_lifts_per_shift": 1})
    add_people(r)
    lift_on_empty_lane(r, "X1")
    assert limit_alerts(r) == []
    lift_on_empty_lane(r, "X1")
    [alert] = limit_alerts(r)
    assert "无开班" in alert.message
    # a shift opened now starts its own count: the lifts before it do not count against it
    r.engine.office(r.engine.shifts.open, ATTENDANT[0]).result(10)
    lift_on_empty_lane(r, "X2")
    assert len(limit_alerts(r)) == 1
    lift_on_empty_lane(r, "X2")
    assert len(limit_alerts(r)) == 2 and "本班" in limit_alerts(r)[-1].message


# ------------------------------------------------------------------------------------- failed payments


def test_a_failed_payment_is_kept_with_its_detail_once(make_engine: MakeEngine) -> None:
    r = make_engine()
    view = car_waiting(r, "X1", "苏F66666")
    result = r.engine.call(r.engine.sandbox.driver_pays(order_id=view.order_id, state=0)).result(5)
    wait_until(lambda: r.lane("X1").state is LaneState.PAYMENT_FAILED, what="the failure at the lane")
    wait_until(
        lambda: any(isinstance(e, AlertRaised) and e.kind == "payment_failed" for e in r.events),
        what="the payment_failed alert",
    )
    barrier(r)
    rows = r.rows("SELECT actor, at, detail_json FROM audit_log WHERE action = 'payment_failed'")
    assert len(rows) == 1, rows  # the lane's alert does not add a second, thinner row
    actor, _at, detail_json = rows[0]
    detail = json.loads(detail_json)
    assert actor == "lane:X1"
    assert {k: detail[k] for k in ("lane_id", "order_id", "amount_fen", "pay_type", "errmsg", "plate")} == {
        "lane_id": "X1",
        "order_id": view.order_id,
        "amount_fen": view.due_fen,
        "pay_type": "scancode",
        "errmsg": "支付失败",
        "plate": "苏F66666",
    }
    assert detail["trade_no"] == result["trade_no"] and datetime.fromisoformat(detail["at"]).tzinfo
    # Bolink repeating the same failure is not kept twice
    r.engine.sandbox.push(result)
    delivered_in_order(r)
    barrier(r)
    assert len(r.rows("SELECT id FROM audit_log WHERE action = 'payment_failed'")) == 1
    store = r.engine.store
    assert store is not None
    now = r.engine.now()
    [entry] = store.audit_between("payment_failed", since=now - timedelta(hours=1), until=now)
    assert entry.detail["order_id"] == view.order_id


# ------------------------------------------------------------------------------------- office thread


def test_office_runs_on_its_own_thread_and_stops_with_the_engine(make_engine: MakeEngine) -> None:
    r = make_engine()
    name = r.engine.office(lambda: threading.current_thread().name).result(5)
    assert name.startswith("booth-office") and name != threading.current_thread().name
    assert r.engine.office(divmod, 7, 2).result(5) == (3, 1)
    r.engine.stop()
    with pytest.raises(EngineError, match="office"):
        r.engine.office(divmod, 7, 2)


def test_a_report_in_progress_never_holds_up_an_approval(make_engine: MakeEngine) -> None:
    """Reports run on their own thread: a sign-in or an approval on the office thread does not queue
    behind a month's report."""
    r = make_engine()
    report_running, finish_report = threading.Event(), threading.Event()

    def long_report() -> str:
        report_running.set()
        finish_report.wait(10)
        return threading.current_thread().name

    report = r.engine.reports(long_report)
    assert report_running.wait(10)
    try:
        assert r.engine.office(divmod, 7, 2).result(5) == (3, 1)  # answered while the report still runs
        assert not report.done()
    finally:
        finish_report.set()
    assert report.result(5).startswith("booth-reports")
    r.engine.stop()
    with pytest.raises(EngineError, match="reports"):
        r.engine.reports(divmod, 7, 2)


def test_staff_and_shifts_need_a_running_engine(tmp_path: Path) -> None:
    from booth.engine import Engine
    from tests.conftest import engine_settings

    engine = Engine(engine_settings(tmp_path))
    with pytest.raises(EngineError, match="not running"):
        _ = engine.staff
    with pytest.raises(EngineError, match="not running"):
        _ = engine.shifts
    engine.stop()


# ------------------------------------------------------------------------------------- the store


@pytest.fixture
def store(tmp_path: Path) -> Any:
    db: Database = open_database(f"sqlite:///{tmp_path / 'store.sqlite'}")
    yield Store(db)
    db.close()


def test_store_lists_and_counts_exceptions_by_window(store: Store) -> None:
    t0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    for minutes, kind in ((0, "manual_lift"), (10, "free_release"), (20, "manual_lift")):
        store.record_lane_exception(
            LaneExceptionItem(kind, "X1", "道闸故障", "", "张三", t0 + timedelta(minutes=minutes))
        )
    assert store.count_lane_exceptions("manual_lift", since=t0) == 2
    assert store.count_lane_exceptions("manual_lift", since=t0 + timedelta(minutes=1)) == 1
    listed = store.lane_exceptions(since=t0, until=t0 + timedelta(minutes=20))
    assert [(e.kind, e.at) for e in listed] == [
        ("manual_lift", t0),
        ("free_release", t0 + timedelta(minutes=10)),
    ]


def test_store_refuses_bad_exceptions_naming_the_field(store: Store) -> None:
    t0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
    with pytest.raises(StoreError, match="kind"):
        store.record_lane_exception(LaneExceptionItem("gate_retry", "X1", "x", "", "张三", t0))
    with pytest.raises(StoreError, match="reason"):
        store.record_lane_exception(LaneExceptionItem("manual_lift", "X1", "很" * 65, "", "张三", t0))
    with pytest.raises(StoreError, match="due_fen"):
        store.record_lane_exception(LaneExceptionItem("manual_lift", "X1", "x", "", "张三", t0, due_fen=-1))
    with pytest.raises(StoreError, match="naive"):
        store.record_lane_exception(
            LaneExceptionItem("manual_lift", "X1", "x", "", "张三", t0.replace(tzinfo=None))
        )
    with pytest.raises(StoreError, match="stay"):
        store.record_lane_exception(LaneExceptionItem("manual_lift", "X1", "x", "", "张三", t0, stay_id=999))
    assert store.lane_exceptions() == []
