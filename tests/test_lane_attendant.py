"""The lanes' attendant decisions, without threads, network, database or Qt: a free release or a manual lift
needs a reason and an operator and is recorded before its gate command (no record, no lift: a failed record
puts the lane back), a plate correction or a car backing away cancels the exit; and the writes a lift or a
payment depends on failing. Helpers as in test_lane.py."""

from __future__ import annotations

from datetime import timedelta

import pytest

from booth.domain import lane as L
from tests.test_lane import OTHER, PLATE, T0, at, awaiting_lane, booked, kinds, make_quote, paid

# ----------------------------------------------------------------------------------- attendant decisions


def test_free_release_needs_a_reason_and_an_operator() -> None:
    lane = awaiting_lane()
    with pytest.raises(L.LaneRuleError, match="reason"):
        lane.handle(L.FreeRelease("  ", "张三", at(3)))
    with pytest.raises(L.LaneRuleError, match="operator"):
        lane.handle(L.FreeRelease("救护车", "", at(3)))
    assert lane.state is L.LaneState.AWAITING_PAYMENT
    out = lane.handle(L.FreeRelease("救护车", "张三", at(3)))
    assert kinds(out) == ["ReleaseExitOrder", "OpenGate"]
    lift = out[1]
    assert isinstance(lift, L.OpenGate) and (lift.reason, lift.operator, lift.note) == (
        "free_release",
        "张三",
        "救护车",
    )
    assert kinds(lane.handle(L.GateOpened(at(4)))) == ["CloseStay"]


def test_manual_lift_from_idle_records_reason_without_a_stay() -> None:
    lane = L.ExitLane("X1", "东出口", "X1")
    with pytest.raises(L.LaneRuleError):
        lane.handle(L.ManualLift("", "张三", at(0)))
    out = lane.handle(L.ManualLift("消防车", "张三", at(0)))
    assert kinds(out) == ["RecordException", "OpenGate"]
    record, lift = out
    assert isinstance(record, L.RecordException)
    assert (record.kind, record.reason, record.operator, record.plate, record.stay_id, record.due_fen) == (
        "manual_lift",
        "消防车",
        "张三",
        None,
        None,
        0,
    )
    assert isinstance(lift, L.OpenGate) and lift.stay_id is None and lift.reason == "manual_lift"
    assert lane.handle(L.GateOpened(at(1))) == []  # no stay to close


def test_manual_lift_of_a_waiting_car_settles_its_order_as_a_manual_lift() -> None:
    lane = awaiting_lane()
    out = lane.handle(L.ManualLift("道闸维修", "张三", at(3)))
    assert kinds(out) == ["ReleaseExitOrder", "OpenGate"]
    release = out[0]
    assert isinstance(release, L.ReleaseExitOrder) and release.reason.startswith("manual_lift")


def test_free_release_records_what_was_forgone_with_the_release() -> None:
    lane = L.ExitLane("X1", "东出口", "X1")
    lane.handle(L.VehicleDetected(PLATE, at(0), photo="/photos/X1/a.jpg"))
    lane.handle(L.StayQuoted(PLATE, 3, "ORD1", 7, T0 - timedelta(hours=2), make_quote(1200), at(0.1)))
    out = lane.handle(L.FreeRelease("员工车辆", "张三", at(3), note=" 保安部 ", approved_by="王经理"))
    assert kinds(out) == ["ReleaseExitOrder", "OpenGate"]
    release, lift = out
    assert isinstance(release, L.ReleaseExitOrder) and release.exception is not None
    assert release.exception == L.RecordException(
        kind="free_release",
        lane_id="X1",
        reason="员工车辆",
        note="保安部",
        operator="张三",
        approved_by="王经理",
        stay_id=3,
        exit_order_id=7,
        plate=PLATE.text,
        due_fen=1200,
        photo="/photos/X1/a.jpg",
        at=at(3),
    )
    assert isinstance(lift, L.OpenGate) and lift.note == "员工车辆：保安部"


def test_free_release_without_a_stay_records_the_exception_on_its_own() -> None:
    lane = L.ExitLane("X1", "东出口", "X1")
    lane.handle(L.VehicleDetected(PLATE, at(0)))
    lane.handle(L.StayNotFound(PLATE, at(0.1)))
    out = lane.handle(L.FreeRelease("特种车辆", "张三", at(3)))
    assert kinds(out) == ["RecordException", "OpenGate"]
    record = out[0]
    assert isinstance(record, L.RecordException)
    assert (record.plate, record.stay_id, record.exit_order_id, record.due_fen) == (PLATE.text, None, None, 0)


def test_manual_lift_of_a_car_being_priced_keeps_its_plate_and_photo() -> None:
    lane = L.ExitLane("X1", "东出口", "X1")
    lane.handle(L.VehicleDetected(PLATE, at(0), photo="p.jpg"))
    out = lane.handle(L.ManualLift("识别失败", "张三", at(1)))
    record = out[0]
    assert isinstance(record, L.RecordException) and (record.plate, record.photo) == (PLATE.text, "p.jpg")


def test_failed_exception_record_of_an_idle_lift_leaves_the_lane_idle_and_shut() -> None:
    lane = L.ExitLane("X1", "东出口", "X1")
    lane.handle(L.ManualLift("消防车", "张三", at(0)))
    assert kinds(lane.handle(L.StoreFailed("RecordException", "disk full", at(0.1)))) == ["Alert"]
    assert lane.state is L.LaneState.IDLE and lane.view().gate == "closed"
    assert "未抬杆" in lane.message


def test_another_failed_write_during_a_manual_lift_does_not_undo_the_lift() -> None:
    """The pricing of the car fails after the attendant lifted by hand: the lift (recorded, sent) stands."""
    lane = L.ExitLane("X1", "东出口", "X1")
    lane.handle(L.VehicleDetected(PLATE, at(0)))
    assert kinds(lane.handle(L.ManualLift("识别失败", "张三", at(1)))) == ["RecordException", "OpenGate"]
    lane.handle(L.StoreFailed("QuoteStay", "database is locked", at(1.1)))
    assert lane.state is L.LaneState.OPENING
    lane.handle(L.GateOpened(at(2)))
    assert lane.state is L.LaneState.GATE_OPEN and lane.view().gate == "open"


def test_failed_exception_record_at_a_gate_fault_keeps_the_fault_and_the_payment() -> None:
    lane = awaiting_lane()
    lane.handle(paid())
    lane.handle(booked())
    lane.handle(L.GateFailed("no answer", at(7)))
    lane.handle(L.ManualLift("道闸故障", "张三", at(8)))
    lane.handle(L.StoreFailed("RecordException", "disk full", at(8.1)))
    assert lane.state is L.LaneState.GATE_FAULT and lane.view().gate == "fault"
    out = lane.handle(L.ManualLift("道闸故障", "张三", at(9)))
    assert isinstance(out[0], L.RecordException) and out[0].due_fen == 0  # still paid: nothing forgone
    assert kinds(lane.handle(L.GateOpened(at(10)))) == ["CloseStay"]


def test_entry_manual_lift_records_the_refused_car_and_a_failed_record_restores_the_refusal() -> None:
    lane = L.EntryLane("E1", "入口", "E1")
    lane.handle(L.VehicleDetected(PLATE, at(0), photo="e.jpg"))
    lane.handle(L.EntryDecided(PLATE, False, "车位已满", None, at(0.1)))
    out = lane.handle(L.ManualLift("经理批准", "张三", at(1), approved_by="王经理"))
    assert kinds(out) == ["RecordException", "OpenGate"]
    record = out[0]
    assert isinstance(record, L.RecordException)
    assert (record.plate, record.photo, record.approved_by) == (PLATE.text, "e.jpg", "王经理")
    lane.handle(L.StoreFailed("RecordException", "disk full", at(1.1)))
    assert lane.state is L.LaneState.REFUSED and lane.gate == "closed"


def test_plate_correction_cancels_the_order_and_prices_again() -> None:
    lane = awaiting_lane()
    out = lane.handle(L.PlateCorrected(OTHER, "张三", at(3)))
    assert kinds(out) == ["Alert", "CancelExitOrder", "QuoteStay"]
    assert lane.view().plate == OTHER.text
    # a result for the old order no longer settles anything here
    book = lane.handle(paid())[0]
    assert isinstance(book, L.BookPayment) and book.settles is False


def test_plate_cannot_be_corrected_once_paid() -> None:
    lane = awaiting_lane()
    lane.handle(paid())
    with pytest.raises(L.LaneRuleError):
        lane.handle(L.PlateCorrected(OTHER, "张三", at(6)))


def test_car_backing_away_cancels_and_a_late_result_never_opens() -> None:
    lane = awaiting_lane()
    assert kinds(lane.handle(L.VehicleLeft(at(3)))) == ["CancelExitOrder"]
    assert lane.state is L.LaneState.IDLE
    out = lane.handle(paid(when=10))
    assert kinds(out) == ["BookPayment"] and isinstance(out[0], L.BookPayment) and not out[0].settles


def test_free_by_tariff_releases_and_opens() -> None:
    lane = L.ExitLane("X1", "东出口", "X1")
    lane.handle(L.VehicleDetected(PLATE, at(0)))
    out = lane.handle(L.StayQuoted(PLATE, 3, "ORD1", 7, T0, make_quote(0, rule="free_minutes"), at(0.1)))
    assert kinds(out) == ["ReleaseExitOrder", "OpenGate"]
    assert isinstance(out[1], L.OpenGate) and out[1].reason == "free_tariff"


def test_failed_release_write_leaves_the_gate_shut_and_the_attendant_in_charge() -> None:
    lane = awaiting_lane()
    lane.handle(L.FreeRelease("救护车", "张三", at(3)))
    out = lane.handle(L.StoreFailed("ReleaseExitOrder", "disk full", at(3.1)))
    assert kinds(out) == ["Alert"]
    assert lane.state is L.LaneState.PAYMENT_FAILED and lane.view().gate == "closed"
    assert kinds(lane.handle(L.CashTaken(1200, "张三", at(4)))) == ["BookPayment"]


def test_failed_payment_write_never_opens_and_allows_another_try() -> None:
    lane = awaiting_lane()
    lane.handle(paid())
    lane.handle(L.StoreFailed("BookPayment", "database is locked", at(5.2)))
    assert lane.state is L.LaneState.AWAITING_PAYMENT and lane.view().gate == "closed"
    assert kinds(lane.handle(paid(when=8))) == ["BookPayment"]  # Bolink re-delivers: booked this time
