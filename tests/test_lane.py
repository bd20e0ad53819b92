"""The lane state machines: every money and gate rule, without threads, network, database or Qt.

The attendant's decisions (releases, lifts, corrections, cancels, failed records) are in
test_lane_attendant.py, which shares this file's helpers.
"""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta

import pytest

from booth.domain import lane as L
from booth.domain.phrases import say
from booth.domain.plates import parse_plate
from booth.domain.tariff import Quote, QuoteLine

T0 = datetime(2026, 11, 23, 8, 0, tzinfo=UTC)
PLATE = parse_plate("苏A12345")
OTHER = parse_plate("苏B54321")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def make_quote(due_fen: int, *, gross_fen: int | None = None, rule: str = "charged") -> Quote:
    gross = due_fen if gross_fen is None else gross_fen
    return Quote(
        entry=T0 - timedelta(hours=2),
        exit=T0,
        duration_minutes=120,
        vehicle_class="small",
        gross_fen=gross,
        paid_fen=0,
        discount_fen=0,
        due_fen=due_fen,
        rule=rule,
        lines=(QuoteLine("停车费", gross),),
    )


def kinds(commands: list[L.LaneCommand]) -> list[str]:
    return [type(c).__name__ for c in commands]


def awaiting_lane(due_fen: int = 1200, *, exit_order_id: int = 7) -> L.ExitLane:
    """An exit lane with 苏A12345 waiting to pay ``due_fen`` on order ORD1 and a QR on screen."""
    lane = L.ExitLane("X1", "东出口", "X1")
    assert kinds(lane.handle(L.VehicleDetected(PLATE, at(0)))) == ["QuoteStay"]
    out = lane.handle(
        L.StayQuoted(PLATE, 3, "ORD1", exit_order_id, T0 - timedelta(hours=2), make_quote(due_fen), at(0.1))
    )
    assert kinds(out) == ["RequestPayment"]
    request = out[0]
    assert isinstance(request, L.RequestPayment) and request.due_fen == due_fen and request.order_id == "ORD1"
    assert lane.handle(L.PaymentRequested(exit_order_id, "http://pay/X1", at(0.2))) == []
    assert lane.state is L.LaneState.AWAITING_PAYMENT
    assert lane.view().code_url == "http://pay/X1"
    return lane


def paid(
    trade_no: str = "T1", amount_fen: int = 1200, order_id: str = "ORD1", state: int = 1, when: float = 5
) -> L.PaymentResult:
    return L.PaymentResult(
        order_id, state, trade_no, amount_fen, "scancode", 1, "2088000000000001", "X1", "", at(when)
    )


def booked(
    trade_no: str = "T1", status: str = "settled", exit_order_id: int | None = 7, when: float = 5.1
) -> L.PaymentBooked:
    return L.PaymentBooked(exit_order_id, trade_no, status, 99, None, at(when))  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------ the happy path


def test_full_exit_pays_books_then_opens_then_closes_the_stay() -> None:
    lane = awaiting_lane()
    out = lane.handle(paid())
    assert kinds(out) == ["BookPayment"]
    book = out[0]
    assert isinstance(book, L.BookPayment)
    assert (book.settles, book.exit_order_id, book.trade_no, book.amount_fen) == (True, 7, "T1", 1200)
    assert lane.state is L.LaneState.SETTLING
    out = lane.handle(booked())
    assert kinds(out) == ["OpenGate"]
    assert isinstance(out[0], L.OpenGate) and out[0].reason == "paid" and out[0].stay_id == 3
    assert lane.view().gate == "opening"
    out = lane.handle(L.GateOpened(at(6)))
    assert kinds(out) == ["CloseStay"] and isinstance(out[0], L.CloseStay) and out[0].stay_id == 3
    assert lane.state is L.LaneState.GATE_OPEN
    assert lane.handle(L.VehiclePassed(at(9))) == []
    assert lane.state is L.LaneState.IDLE and lane.current is None


def test_gate_waits_for_the_store_verdict_not_for_the_result() -> None:
    lane = awaiting_lane()
    lane.handle(paid())
    assert lane.view().gate == "closed"  # nothing lifts before the payment is booked


@pytest.mark.parametrize("state", [0, 2])
def test_only_state_1_pays(state: int) -> None:
    lane = awaiting_lane()
    out = lane.handle(paid(state=state))
    assert "BookPayment" not in kinds(out) and "OpenGate" not in kinds(out)
    expected = L.LaneState.PAYMENT_FAILED if state == 0 else L.LaneState.AWAITING_PAYMENT
    assert lane.state is expected


def test_failed_payment_can_be_retried_and_then_paid() -> None:
    lane = awaiting_lane()
    lane.handle(paid(state=0))
    out = lane.handle(L.RetryPayment("张三", at(10)))
    assert kinds(out) == ["RequestPayment"]
    lane.handle(L.PaymentRequested(7, "http://pay/X1", at(10.1)))
    assert kinds(lane.handle(paid(when=20))) == ["BookPayment"]


def test_repeated_result_changes_nothing() -> None:
    lane = awaiting_lane()
    lane.handle(paid())
    assert lane.handle(paid()) == []  # repeated while being booked
    lane.handle(booked())
    assert lane.handle(paid()) == []  # repeated while the gate opens
    lane.handle(L.GateOpened(at(6)))
    assert lane.handle(paid()) == []  # repeated with the gate open


def test_result_for_another_order_is_booked_unsettling_and_never_opens_this_gate() -> None:
    lane = awaiting_lane()
    out = lane.handle(paid(order_id="SOMEONE_ELSE", trade_no="T9"))
    assert kinds(out) == ["BookPayment"]
    book = out[0]
    assert isinstance(book, L.BookPayment) and book.settles is False and book.exit_order_id is None
    assert lane.state is L.LaneState.AWAITING_PAYMENT
    # even if the store said "settled" for it, this lane did not ask to settle with it
    out = lane.handle(L.PaymentBooked(None, "T9", "settled", 5, None, at(6)))
    assert "OpenGate" not in kinds(out)
    assert lane.view().gate == "closed"


def test_store_verdict_other_than_settled_keeps_the_gate_shut() -> None:
    for status in ("duplicate", "flagged"):
        lane = awaiting_lane()
        lane.handle(paid())
        out = lane.handle(booked(status=status))
        assert "OpenGate" not in kinds(out) and "Alert" in kinds(out)
        assert lane.state is L.LaneState.AWAITING_PAYMENT


def test_partial_payment_is_booked_and_the_rest_is_priced_again() -> None:
    lane = awaiting_lane(1200)
    out = lane.handle(paid(amount_fen=500))
    book = out[0]
    assert isinstance(book, L.BookPayment) and book.settles is False and book.exit_order_id == 7
    assert lane.state is L.LaneState.AWAITING_PAYMENT
    out = lane.handle(booked(status="partial"))
    assert kinds(out) == ["CancelExitOrder", "QuoteStay"]
    assert lane.state is L.LaneState.QUOTING


# ---------------------------------------------------------------------------------------------- cash


def test_cash_short_is_refused_and_changes_nothing() -> None:
    lane = awaiting_lane(1200)
    with pytest.raises(L.LaneRuleError, match="现金不足"):
        lane.handle(L.CashTaken(1000, "张三", at(3)))
    assert lane.state is L.LaneState.AWAITING_PAYMENT


def test_cash_books_then_opens_with_change() -> None:
    lane = awaiting_lane(1250)
    out = lane.handle(L.CashTaken(2000, "张三", at(3)))
    book = out[0]
    assert isinstance(book, L.BookPayment)
    assert (book.channel, book.amount_fen, book.settles, book.operator) == ("cash", 1250, True, "张三")
    assert lane.view().change_fen == 750
    out = lane.handle(booked(trade_no=book.trade_no))
    assert isinstance(out[0], L.OpenGate) and out[0].reason == "cash"


def test_e_payment_after_cash_is_booked_for_refund_and_opens_nothing() -> None:
    lane = awaiting_lane(1200)
    book = lane.handle(L.CashTaken(1200, "张三", at(3)))[0]
    assert isinstance(book, L.BookPayment)
    late = lane.handle(paid(trade_no="LATE", when=3.5))  # arrives while the cash is being booked
    assert kinds(late) == ["BookPayment"]
    assert isinstance(late[0], L.BookPayment) and late[0].settles is False
    gate = lane.handle(booked(trade_no=book.trade_no))
    assert kinds(gate) == ["OpenGate"]
    lane.handle(L.GateOpened(at(5)))
    out = lane.handle(L.PaymentBooked(7, "LATE", "flagged", 100, "late_after_settlement", at(6)))
    assert kinds(out) == ["Alert"]


def test_cash_is_taken_while_bolink_is_offline() -> None:
    lane = L.ExitLane("X1", "东出口", "X1")
    lane.handle(L.VehicleDetected(PLATE, at(0)))
    lane.handle(L.StayQuoted(PLATE, 3, "ORD1", 7, T0, make_quote(800), at(0.1)))
    lane.handle(L.PaymentRequestFailed(7, "泊链离线", at(0.2)))
    assert lane.state is L.LaneState.AWAITING_PAYMENT and lane.view().code_url is None
    assert "现金" in lane.message
    out = lane.handle(L.BolinkStatus(True, at(1)))
    assert kinds(out) == ["RequestPayment"]  # back online: the QR is asked for again
    assert kinds(lane.handle(L.CashTaken(800, "李四", at(2)))) == ["BookPayment"]


# ---------------------------------------------------------------------------------------------- gate


def test_gate_fault_does_not_close_the_stay_and_a_manual_lift_finishes_it() -> None:
    lane = awaiting_lane()
    lane.handle(paid())
    lane.handle(booked())
    out = lane.handle(L.GateFailed("no answer", at(7)))
    assert kinds(out) == ["Alert"] and lane.state is L.LaneState.GATE_FAULT
    assert lane.view().gate == "fault"
    out = lane.handle(L.ManualLift("道闸重试", "张三", at(8)))
    assert kinds(out) == ["RecordException", "OpenGate"]
    record = out[0]
    assert isinstance(record, L.RecordException)
    assert (record.stay_id, record.exit_order_id, record.plate, record.due_fen) == (
        3,
        7,
        PLATE.text,
        0,
    )  # paid
    assert kinds(lane.handle(L.GateOpened(at(9)))) == ["CloseStay"]


def test_next_car_while_gate_open_means_the_previous_one_passed() -> None:
    lane = awaiting_lane()
    lane.handle(paid())
    lane.handle(booked())
    lane.handle(L.GateOpened(at(6)))
    out = lane.handle(L.VehicleDetected(OTHER, at(8)))
    assert kinds(out) == ["QuoteStay"] and lane.view().plate == OTHER.text


def test_camera_retrigger_of_the_car_that_just_left_is_ignored() -> None:
    lane = awaiting_lane()
    lane.handle(paid())
    lane.handle(booked())
    lane.handle(L.GateOpened(at(6)))
    lane.handle(L.VehiclePassed(at(7)))
    assert lane.handle(L.VehicleDetected(PLATE, at(10))) == []
    assert kinds(lane.handle(L.VehicleDetected(PLATE, at(60)))) == ["QuoteStay"]


def test_new_car_while_money_is_being_booked_does_not_replace_the_paying_car() -> None:
    lane = awaiting_lane()
    lane.handle(paid())
    out = lane.handle(L.VehicleDetected(OTHER, at(5.05)))
    assert kinds(out) == ["Alert"] and lane.view().plate == PLATE.text
    assert kinds(lane.handle(booked())) == ["OpenGate"]


def test_stale_quote_answer_is_cancelled() -> None:
    lane = L.ExitLane("X1", "东出口", "X1")
    lane.handle(L.VehicleDetected(PLATE, at(0)))
    lane.handle(L.VehicleDetected(OTHER, at(0.05)))
    out = lane.handle(L.StayQuoted(PLATE, 3, "ORD1", 7, T0, make_quote(100), at(0.1)))
    assert kinds(out) == ["CancelExitOrder"]


# ---------------------------------------------------------------------------------------------- time


def test_query_schedule_and_timeout() -> None:
    timings = L.LaneTimings(payment_timeout=timedelta(seconds=150))
    lane = L.ExitLane("X1", "东出口", "X1", timings)
    lane.handle(L.VehicleDetected(PLATE, at(0)))
    lane.handle(L.StayQuoted(PLATE, 3, "ORD1", 7, T0, make_quote(100), at(0)))
    lane.handle(L.PaymentRequested(7, "http://pay", at(0)))
    queried = [s for s in range(0, 149) if kinds(lane.handle(L.Tick(at(s)))) == ["QueryPayment"]]
    assert queried[0] == 10 and queried[1] == 12 and queried[-1] == 120
    assert all(b - a == 2 for a, b in itertools.pairwise(queried))
    out = lane.handle(L.Tick(at(150)))
    assert kinds(out) == ["Alert"] and lane.state is L.LaneState.TIMED_OUT
    assert kinds(lane.handle(L.CashTaken(100, "张三", at(151)))) == ["BookPayment"]


def test_gate_open_resets_after_the_pass_timeout() -> None:
    lane = awaiting_lane()
    lane.handle(paid())
    lane.handle(booked())
    lane.handle(L.GateOpened(at(6)))
    lane.handle(L.Tick(at(10)))
    assert lane.state is L.LaneState.GATE_OPEN
    lane.handle(L.Tick(at(21)))
    assert lane.state is L.LaneState.IDLE


# --------------------------------------------------------------------------------------------- entry


def test_entry_admits_and_opens() -> None:
    lane = L.EntryLane("E1", "入口", "E1")
    assert kinds(lane.handle(L.VehicleDetected(PLATE, at(0)))) == ["AdmitVehicle"]
    out = lane.handle(L.EntryDecided(PLATE, True, "", 11, at(0.1)))
    assert kinds(out) == ["OpenGate"] and isinstance(out[0], L.OpenGate) and out[0].reason == "entry"


def test_entry_refused_never_opens() -> None:
    lane = L.EntryLane("E1", "入口", "E1")
    lane.handle(L.VehicleDetected(PLATE, at(0)))
    out = lane.handle(L.EntryDecided(PLATE, False, "黑名单车辆", None, at(0.1)))
    assert kinds(out) == ["Alert"] and lane.state is L.LaneState.REFUSED
    assert "黑名单" in lane.message
    with pytest.raises(L.LaneRuleError):
        lane.handle(L.CashTaken(100, "张三", at(1)))


# ----------------------------------------------------------------------------- the invariant, randomly


def test_random_event_storms_never_lift_for_money_without_a_settled_booking() -> None:
    """Whatever arrives in whatever order, a lift for money follows only the store settling a payment
    this lane asked to settle, and each exit order is lifted for at most once."""
    rng = random.Random(20261123)
    for _ in range(300):
        lane = L.ExitLane("X1", "东出口", "X1")
        asked_to_settle: set[str] = set()
        lifted_orders: list[int | None] = []
        now = 0.0
        exit_order = 0
        for _ in range(40):
            now += rng.uniform(0.1, 20)
            cur = lane.current
            choice = rng.randrange(14)
            ev: L.LaneEvent
            if choice == 0:
                ev = L.VehicleDetected(rng.choice([PLATE, OTHER]), at(now))
            elif choice == 1 and cur is not None:
                exit_order += 1
                ev = L.StayQuoted(
                    cur.plate,
                    3,
                    rng.choice(["ORD1", "ORD2"]),
                    exit_order,
                    T0,
                    make_quote(rng.choice([0, 500, 1200])),
                    at(now),
                )
            elif choice == 2 and cur is not None and cur.exit_order_id is not None:
                ev = L.PaymentRequested(cur.exit_order_id, "http://pay", at(now))
            elif choice in (3, 4):
                ev = paid(
                    trade_no=rng.choice(["T1", "T2", "T3"]),
                    amount_fen=rng.choice([500, 1200]),
                    order_id=rng.choice(["ORD1", "ORD2"]),
                    state=rng.choice([0, 1, 1, 2]),
                    when=now,
                )
            elif choice == 5:
                ev = L.PaymentBooked(
                    rng.choice([None, exit_order, exit_order - 1]),
                    rng.choice(["T1", "T2", "T3", f"CASH_X1_{exit_order}"]),
                    rng.choice(["settled", "duplicate", "flagged", "partial"]),
                    1,
                    None,
                    at(now),
                )
            elif choice == 6:
                ev = L.CashTaken(rng.choice([0, 1200, 5000]), "张三", at(now))
            elif choice == 7:
                ev = L.GateOpened(at(now))
            elif choice == 8:
                ev = L.GateFailed("x", at(now))
            elif choice == 9:
                ev = L.Tick(at(now))
            elif choice == 10:
                ev = L.VehicleLeft(at(now))
            elif choice == 11:
                ev = L.StoreFailed("BookPayment", "x", at(now))
            elif choice == 12:
                ev = L.BolinkStatus(rng.random() < 0.5, at(now))
            else:
                ev = L.VehiclePassed(at(now))
            settling_before = lane.current.settling_trade_no if lane.current else None
            order_before = lane.current.exit_order_id if lane.current else None
            try:
                out = lane.handle(ev)
            except L.LaneRuleError:
                continue
            for cmd in out:
                if isinstance(cmd, L.BookPayment) and cmd.settles:
                    asked_to_settle.add(cmd.trade_no)
                if isinstance(cmd, L.OpenGate) and cmd.reason in ("paid", "cash"):
                    assert isinstance(ev, L.PaymentBooked) and ev.status == "settled"
                    assert ev.trade_no in asked_to_settle and ev.trade_no == settling_before
                    assert ev.exit_order_id == order_before
                    assert order_before not in lifted_orders
                    lifted_orders.append(order_before)


# ------------------------------------------------------------------------------- words for the screen


def test_messages_refusals_and_alerts_carry_their_phrase() -> None:
    """What a lane says is also a phrase (code + params) the window translates; its text is the message."""
    lane = awaiting_lane(1250)
    view = lane.view()
    assert view.said is not None and view.said.code == "lane.scan_to_pay"
    assert view.said.args == {"due_fen": 1250} and view.message == view.said.text == "请扫码支付 12.50 元"
    with pytest.raises(L.LaneRuleError) as short:
        lane.handle(L.CashTaken(1000, "张三", at(3)))
    assert short.value.phrase is not None and short.value.phrase.code == "rule.cash_short"
    assert short.value.phrase.args == {"due_fen": 1250, "tendered_fen": 1000}
    assert str(short.value) == "现金不足：应收 12.50 元，实收 10.00 元"
    out = lane.handle(L.PaymentResult("ORD1", 0, "T9", 1250, "wx", None, None, "X1", "余额不足", at(4)))
    alert = next(c for c in out if isinstance(c, L.Alert))
    assert alert.detail is not None and alert.detail.code == "alert.payment_failed"
    assert alert.message == alert.detail.text == "苏A12345: 余额不足"
    assert lane.view().said == say("lane.payment_failed", error="余额不足")
    entry = L.EntryLane("N1", "北入口", "N1")
    entry.handle(L.VehicleDetected(PLATE, at(5)))
    entry.handle(L.EntryDecided(PLATE, False, "黑名单车辆", None, at(6)))
    said = entry.view().said
    assert said is not None and said.code == "lane.entry_refused" and entry.message == "禁止入场：黑名单车辆"
    assert said.args["reason"] == say("entry.blacklisted")
    with pytest.raises(L.LaneRuleError) as refused:
        entry.handle(L.CashTaken(100, "张三", at(7)))
    assert refused.value.phrase == say("rule.entry_no_charge")


def test_the_same_plate_read_again_under_its_open_gate_does_not_restart_the_exit() -> None:
    """Issue 13, item 6: the camera reads the paid car again while the arm is up (20 s holdoff or not)."""
    lane = awaiting_lane()
    lane.handle(paid())
    lane.handle(booked())
    lane.handle(L.GateOpened(at(6)))
    for when in (7, 30, 60):  # also later than the redetect holdoff: the car is still under the arm
        assert lane.handle(L.VehicleDetected(PLATE, at(when))) == []
        assert lane.state is L.LaneState.GATE_OPEN and lane.view().gate == "open"
        assert lane.view().plate == PLATE.text
    # another car behind it means this one has passed: the next exit starts
    assert kinds(lane.handle(L.VehicleDetected(OTHER, at(61)))) == ["QuoteStay"]


def test_a_result_naming_another_lanes_channel_is_booked_and_held_not_lifted() -> None:
    """Issue 13, item 5: the money is booked, the gate stays down, the attendant is told and decides."""
    lane = awaiting_lane()
    foreign = L.PaymentResult("ORD1", 1, "T9", 1200, "scancode", 1, None, "X2", "", at(5))
    out = lane.handle(foreign)
    assert kinds(out) == ["BookPayment", "Alert"]
    book, alert = out
    assert isinstance(book, L.BookPayment) and not book.settles and book.exit_order_id == 7
    assert isinstance(alert, L.Alert) and alert.kind == "payment_wrong_lane"
    assert lane.state is L.LaneState.PAYMENT_FAILED and lane.view().gate == "closed"
    # the store counts it for the stay ("partial"): the lane does not re-price and lift by itself
    assert lane.handle(booked("T9", status="partial")) == []
    assert lane.state is L.LaneState.PAYMENT_FAILED
    assert lane.handle(foreign) == []  # a repeat changes nothing
    # the attendant accepts it: the stay is priced again with the money counted
    assert kinds(lane.handle(L.RetryPayment("张三", at(9)))) == ["CancelExitOrder", "QuoteStay"]


def test_a_step_of_the_wall_clock_times_nothing_out() -> None:
    """Issue 13, item 7: lane timers run on elapsed time; NTP setting the wall clock an hour on (or back)
    neither times out the waiting car nor holds the open gate."""
    lane = awaiting_lane()
    step = timedelta(hours=1)
    assert lane.handle(L.ClockStepped(step, at(3600 + 1))) == []
    assert lane.handle(L.Tick(at(3600 + 2))) == []
    assert lane.state is L.LaneState.AWAITING_PAYMENT
    # elapsed time still counts: 5 minutes after the QR (in stepped wall time) it times out as ever
    out = lane.handle(L.Tick(at(3600 + 0.2 + 300)))
    assert kinds(out) == ["Alert"] and lane.state is L.LaneState.TIMED_OUT
    # an open gate's pass timeout likewise, after the clock went back
    gated = awaiting_lane()
    gated.handle(paid())
    gated.handle(booked())
    gated.handle(L.GateOpened(at(6)))
    gated.handle(L.ClockStepped(-step, at(-3600 + 7)))
    gated.handle(L.Tick(at(-3600 + 8)))
    assert gated.state is L.LaneState.GATE_OPEN
    gated.handle(L.Tick(at(-3600 + 6 + 15)))
    assert gated.state is L.LaneState.IDLE


def failing_lane() -> L.ExitLane:
    """苏A12345 quoted 12.00 at t=0; Bolink failed the outpark at t=0.5 (no QR)."""
    lane = L.ExitLane("X1", "东出口", "X1")
    lane.handle(L.VehicleDetected(PLATE, at(0)))
    lane.handle(L.StayQuoted(PLATE, 3, "ORD1", 7, T0 - timedelta(hours=2), make_quote(1200), at(0.1), "E1"))
    assert lane.handle(L.PaymentRequestFailed(7, "泊链离线", at(0.5))) == []
    assert lane.state is L.LaneState.AWAITING_PAYMENT and lane.view().code_url is None
    return lane


def test_a_failed_qr_request_is_retried_with_backoff_without_anyone_pressing_retry() -> None:
    """Issue 14, item 1: one Bolink error at the exit no longer strands the car."""
    lane = failing_lane()
    assert lane.handle(L.Tick(at(2))) == []  # first retry 2 s after the failure
    out = lane.handle(L.Tick(at(2.6)))
    assert kinds(out) == ["RequestPayment"]
    request = out[0]
    assert isinstance(request, L.RequestPayment) and request.entry_lane == "E1"
    assert lane.handle(L.Tick(at(2.7))) == []  # nothing more while it is under way
    lane.handle(L.PaymentRequestFailed(7, "泊链离线", at(3)))
    assert lane.handle(L.Tick(at(6.9))) == []  # then 4 s
    assert kinds(lane.handle(L.Tick(at(7.1)))) == ["RequestPayment"]
    lane.handle(L.PaymentRequestFailed(7, "泊链离线", at(8)))
    # a fresh read of the waiting car asks again at once, instead of being ignored
    assert kinds(lane.handle(L.VehicleDetected(PLATE, at(9)))) == ["RequestPayment"]
    lane.handle(L.PaymentRequested(7, "http://pay/X1", at(9.5)))
    assert lane.view().code_url == "http://pay/X1" and lane.state is L.LaneState.AWAITING_PAYMENT
    assert lane.handle(L.VehicleDetected(PLATE, at(10))) == []  # with its QR showing, a re-read is nothing


def test_retries_never_stretch_the_payment_timeout_and_the_supervisor_hears_of_a_missing_qr() -> None:
    lane = failing_lane()
    alerts: list[str] = []
    requests = 0
    for second in range(1, 302):
        for command in lane.handle(L.Tick(at(second))):
            if isinstance(command, L.RequestPayment):
                requests += 1
                lane.handle(L.PaymentRequestFailed(7, "泊链离线", at(second + 0.1)))
            elif isinstance(command, L.Alert):
                alerts.append(command.kind)
    assert alerts == ["qr_unavailable", "payment_timeout"]  # each once; the timeout 300 s after the wait
    assert lane.state is L.LaneState.TIMED_OUT
    assert 8 <= requests <= 14  # backoff 2, 4, 8, 16, 30, 30, ... s
    # a timed-out car may still be shown the QR as soon as Bolink answers
    command = next(c for s in range(302, 340) for c in lane.handle(L.Tick(at(s))))
    assert isinstance(command, L.RequestPayment)
    lane.handle(L.PaymentRequested(7, "http://pay/X1", at(340)))
    assert lane.view().code_url == "http://pay/X1"


# ------------------------------------------------------------------------- the car behind (issue #14)


def test_a_car_read_while_the_one_in_front_is_booked_is_taken_up_once_that_one_is_through() -> None:
    lane = awaiting_lane()
    lane.handle(paid())
    assert lane.state is L.LaneState.SETTLING
    # the car behind is read while the payment is being booked: the attendant is told, nothing else moves
    out = lane.handle(L.VehicleDetected(OTHER, at(5.05), 90, "/photos/b.jpg"))
    assert kinds(out) == ["Alert"] and isinstance(out[0], L.Alert) and out[0].kind == "lane_busy"
    assert lane.current is not None and lane.current.plate == PLATE
    assert kinds(lane.handle(booked())) == ["OpenGate"]  # the car in front still gets its gate
    lane.handle(L.GateOpened(at(6)))
    # the car in front goes through: the car behind is quoted at once, without waiting for a re-read
    out = lane.handle(L.VehiclePassed(at(9)))
    assert kinds(out) == ["QuoteStay"]
    quote = out[0]
    assert isinstance(quote, L.QuoteStay) and quote.plate == OTHER and quote.at == at(9)
    assert lane.state is L.LaneState.QUOTING and lane.current is not None and lane.current.plate == OTHER
    assert lane.current.photo == "/photos/b.jpg"


def test_a_fresh_read_under_the_open_gate_wins_over_one_held_earlier() -> None:
    lane = awaiting_lane()
    lane.handle(paid())
    lane.handle(L.VehicleDetected(OTHER, at(5.05)))  # held
    lane.handle(booked())
    lane.handle(L.GateOpened(at(6)))
    third = parse_plate("苏C11111")
    out = lane.handle(L.VehicleDetected(third, at(7)))  # another car read now: the front car has gone
    assert kinds(out) == ["QuoteStay"] and isinstance(out[0], L.QuoteStay) and out[0].plate == third
    assert lane.current is not None and lane.current.plate == third
    assert lane.handle(L.VehiclePassed(at(9))) == []  # (not under an open gate: nothing replayed)
    assert lane.current.plate == third


def test_the_same_car_read_again_while_booked_is_not_held_as_the_car_behind() -> None:
    lane = awaiting_lane()
    lane.handle(paid())
    assert lane.handle(L.VehicleDetected(PLATE, at(5.05))) == []  # the car being handled
    lane.handle(booked())
    lane.handle(L.GateOpened(at(6)))
    assert lane.handle(L.VehiclePassed(at(9))) == []
    assert lane.state is L.LaneState.IDLE
