"""The exit lane: one state machine, ``ExitLane.handle(event) -> list[LaneCommand]``.

Its handlers are written in parts that share its state (booth.domain.lane.exit_base): the money in
exit_payments.py, the attendant's decisions in exit_attendant.py, and here the dispatch, the car's arrival and
its quote, the gate, a failed store write and the timers. The parts are mixins of this one class, so
``handle`` calls each handler directly.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from booth.domain.lane.commands import (
    CancelExitOrder,
    CloseStay,
    LaneCommand,
    OpenGate,
    QueryPayment,
    QuoteStay,
    ReleaseExitOrder,
    alert,
)
from booth.domain.lane.events import (
    LIFT_RECORDS,
    BolinkStatus,
    CancelExit,
    CashTaken,
    ClockStepped,
    EntryDecided,
    ExitResumed,
    FreeRelease,
    GateFailed,
    GateOpened,
    LaneEvent,
    ManualLift,
    PaidAwaitingCar,
    PaymentBooked,
    PaymentRequested,
    PaymentRequestFailed,
    PaymentResult,
    PlateCorrected,
    RetryPayment,
    StayNotFound,
    StayQuoted,
    StoreFailed,
    Superseded,
    Tick,
    VehicleDetected,
    VehicleLeft,
    VehiclePassed,
)
from booth.domain.lane.exit_attendant import ExitAttendant
from booth.domain.lane.exit_base import CurrentExit
from booth.domain.lane.exit_payments import ExitPayments
from booth.domain.lane.states import PAYABLE, UNSETTLED, LaneState, LaneView
from booth.domain.phrases import say


class ExitLane(ExitPayments, ExitAttendant):
    """One exit lane. Not thread-safe: the engine calls it from its own loop only."""

    # -- queries
    @property
    def awaiting_order_id(self) -> str | None:
        """The Bolink order id a payment result may settle at this lane right now."""
        if self.current is not None and self.state in PAYABLE | {LaneState.SETTLING}:
            return self.current.order_id
        return None

    def view(self) -> LaneView:
        cur = self.current
        quote = cur.quote if cur else None
        return LaneView(
            lane_id=self.lane_id,
            name=self.name,
            direction=self.direction,
            state=self.state,
            message=self.said.text,
            said=self.said,
            plate=cur.plate.text if cur else None,
            plate_colour=str(cur.plate.colour) if cur else None,
            photo=cur.photo if cur else None,
            entry_at=cur.entry_at if cur else None,
            exit_at=quote.exit if quote else None,
            duration_minutes=quote.duration_minutes if quote else None,
            due_fen=quote.due_fen if quote else None,
            breakdown=tuple((line.label, line.fen) for line in quote.lines) if quote else (),
            lines=quote.lines if quote else (),
            code_url=cur.code_url if cur else None,
            order_id=cur.order_id if cur else None,
            gate=self.gate,
            bolink_online=self.bolink_online,
            change_fen=cur.change_fen if cur else None,
        )

    # -- the one entry point
    def handle(self, event: LaneEvent) -> list[LaneCommand]:
        """Apply one event; return the commands to execute, in order. Raises LaneRuleError only for
        attendant commands that are not allowed now (nothing changes then)."""
        match event:
            case VehicleDetected():
                return self._on_detected(event)
            case StayQuoted():
                return self._on_quoted(event)
            case StayNotFound():
                return self._on_not_found(event)
            case PaymentRequested():
                return self._on_requested(event)
            case PaymentRequestFailed():
                return self._on_request_failed(event)
            case PaymentResult():
                return self._on_result(event)
            case PaymentBooked():
                return self._on_booked(event)
            case CashTaken():
                return self._on_cash(event)
            case FreeRelease():
                return self._on_free_release(event)
            case ManualLift():
                return self._on_manual_lift(event)
            case PlateCorrected():
                return self._on_plate_corrected(event)
            case RetryPayment():
                return self._on_retry(event)
            case CancelExit():
                return self._on_cancel(event.at, say("lane.cancelled", operator=event.operator))
            case VehicleLeft():
                return self._on_left(event)
            case Superseded():
                return self._on_cancel(event.at, say("lane.superseded", other_lane=event.other_lane))
            case GateOpened():
                return self._on_gate_opened(event)
            case GateFailed():
                return self._on_gate_failed(event)
            case VehiclePassed():
                return self._on_passed(event.at, assumed=False)
            case BolinkStatus():
                return self._on_bolink(event)
            case StoreFailed():
                return self._on_store_failed(event)
            case Tick():
                return self._on_tick(event)
            case ClockStepped(by=by):
                self._clock_stepped(by)
                return []
            case ExitResumed():
                return self._on_resumed(event)
            case PaidAwaitingCar(plate=plate, stay_id=stay_id):
                self._paid_waiting[plate] = stay_id
                return []
            case EntryDecided():
                detail = say("alert.unexpected_entry_decision", lane_id=self.lane_id)
                return [alert("unexpected", detail, event.at)]
        raise TypeError(f"not a lane event: {event!r}")  # pragma: no cover - the union is exhaustive

    # -- vehicle
    def _on_detected(self, ev: VehicleDetected) -> list[LaneCommand]:
        cur = self.current
        if cur is not None and cur.plate.text == ev.plate.text:
            # the camera re-triggering on the car being handled, or on the car still under its open gate: it
            # has not passed, so its exit is not started again (no re-pricing, no "no stay" for a paid car).
            # A car still waiting without a QR (Bolink failed) is a reason to ask for it again now.
            if (
                self.state in (LaneState.AWAITING_PAYMENT, LaneState.TIMED_OUT)
                and cur.code_url is None
                and cur.quote is not None
                and cur.retry_at is not None
            ):
                return [self._request_payment(ev.at, fresh=False)]
            return []
        last = self._last_passed
        if last and last[0] == ev.plate.text and ev.at - last[1] < self.timings.redetect_holdoff:
            return []
        commands: list[LaneCommand] = []
        if self.state in (LaneState.SETTLING, LaneState.OPENING, LaneState.GATE_FAULT):
            # money is being booked or the gate is moving for the car in front: never drop it; the read is
            # held and taken up once that car is through (the attendant is told meanwhile)
            self._held_read = ev
            return [
                alert(
                    "lane_busy",
                    say("alert.lane_busy", plate=ev.plate.text, other=cur.plate.text if cur else ""),
                    ev.at,
                )
            ]
        if self.state is LaneState.GATE_OPEN:
            self._held_read = None  # this read is the car behind, fresher than one held earlier
            commands += self._on_passed(ev.at, assumed=True)
        elif self.state in UNSETTLED and cur is not None:
            commands += self._abandon(ev.at)
        paid_stay = self._paid_waiting.pop(ev.plate.text, None)
        if paid_stay is not None:
            # paid before a restart, and here now: the lift its payment was booked for
            self.current = CurrentExit(
                plate=ev.plate, detected_at=ev.at, photo=ev.photo, stay_id=paid_stay, settled=True
            )
            self.state = LaneState.OPENING
            self.gate = "opening"
            self.said = say("lane.paid_opening")
            return [*commands, OpenGate("paid", "system", "paid before a restart", paid_stay, ev.at)]
        self.current = CurrentExit(plate=ev.plate, detected_at=ev.at, photo=ev.photo)
        self.state = LaneState.QUOTING
        self.said = say("lane.quoting")
        commands.append(QuoteStay(ev.plate, ev.at))
        return commands

    def _on_quoted(self, ev: StayQuoted) -> list[LaneCommand]:
        cur = self.current
        if self.state is not LaneState.QUOTING or cur is None or cur.plate.text != ev.plate.text:
            # a stale answer for a car that is no longer here: its exit order must not stay open
            return [CancelExitOrder(ev.exit_order_id, ev.at)]
        cur.stay_id, cur.order_id, cur.exit_order_id = ev.stay_id, ev.order_id, ev.exit_order_id
        cur.entry_at, cur.quote, cur.entry_lane = ev.entry_at, ev.quote, ev.entry_lane
        if ev.quote.due_fen == 0:
            self.state = LaneState.OPENING
            self.gate = "opening"
            self.said = say("lane.free_by_tariff", rule=ev.quote.rule)
            cur.settled = True
            lift = OpenGate("free_tariff", "system", ev.quote.rule, ev.stay_id, ev.at)
            return [ReleaseExitOrder(ev.exit_order_id, ev.quote.rule, "system", ev.at), lift]
        self.state = LaneState.AWAITING_PAYMENT
        self.said = say("lane.pay", due_fen=ev.quote.due_fen)
        return [self._request_payment(ev.at)]

    def _on_resumed(self, ev: ExitResumed) -> list[LaneCommand]:
        if self.state is not LaneState.IDLE or self.current is not None:
            return [CancelExitOrder(ev.exit_order_id, ev.at)]  # a car is being handled here already
        self.current = cur = CurrentExit(
            plate=ev.plate,
            detected_at=ev.at,
            stay_id=ev.stay_id,
            order_id=ev.order_id,
            exit_order_id=ev.exit_order_id,
            entry_at=ev.entry_at,
            entry_lane=ev.entry_lane,
            quote=ev.quote,
        )
        self.state = LaneState.AWAITING_PAYMENT
        self.said = say("lane.pay", due_fen=ev.quote.due_fen)
        return [self._request_payment(ev.at), QueryPayment(ev.order_id, cur.plate)]

    def _on_not_found(self, ev: StayNotFound) -> list[LaneCommand]:
        cur = self.current
        if self.state is not LaneState.QUOTING or cur is None or cur.plate.text != ev.plate.text:
            return []
        self.state = LaneState.NO_STAY
        self.said = say("lane.no_stay")
        return [alert("no_stay", say("alert.no_stay", plate=ev.plate.text, lane_id=self.lane_id), ev.at)]

    # -- gate
    def _on_gate_opened(self, ev: GateOpened) -> list[LaneCommand]:
        if self.state is not LaneState.OPENING:
            return []
        self._before_lift = None
        self.state = LaneState.GATE_OPEN
        self.gate = "open"
        self._gate_open_at = ev.at
        self.said = say("lane.goodbye")
        cur = self.current
        if cur is not None and cur.stay_id is not None and cur.settled:
            return [CloseStay(cur.stay_id, ev.at)]
        return []

    def _clock_stepped(self, by: timedelta) -> None:
        super()._clock_stepped(by)
        cur = self.current
        if cur is not None:
            cur.detected_at += by
            for name in ("waiting_since", "requested_at", "next_query_at", "retry_at"):
                moment = getattr(cur, name)
                if moment is not None:
                    setattr(cur, name, moment + by)
        if self._last_passed is not None:
            self._last_passed = (self._last_passed[0], self._last_passed[1] + by)

    def _on_gate_failed(self, ev: GateFailed) -> list[LaneCommand]:
        if self.state is not LaneState.OPENING:
            return []
        self._before_lift = None
        self.state = LaneState.GATE_FAULT
        self.gate = "fault"
        self.said = say("lane.gate_fault", error=ev.error)
        return [alert("gate_fault", say("alert.gate_fault", lane_id=self.lane_id, error=ev.error), ev.at)]

    def _on_passed(self, at: datetime, *, assumed: bool) -> list[LaneCommand]:
        if self.state is not LaneState.GATE_OPEN:
            return []
        if self.current is not None:
            self._last_passed = (self.current.plate.text, at)
        held = self._held_read
        self._reset(say("lane.waiting"))
        if held is not None and (self._last_passed is None or held.plate.text != self._last_passed[0]):
            # the car read behind the one that just went through is at the barrier now
            return self._on_detected(VehicleDetected(held.plate, at, held.confidence, held.photo))
        return []


    def _on_store_failed(self, ev: StoreFailed) -> list[LaneCommand]:
        cur = self.current
        detail = say("alert.store_failed", lane_id=self.lane_id, what=ev.what, error=ev.error)
        raised = alert("store_failed", detail, ev.at)
        if self.state is LaneState.SETTLING and cur is not None:
            # the payment was not booked: no gate. A Bolink result will be re-delivered; cash can be retried.
            cur.settling_trade_no = None
            cur.seen_trade_nos.clear()
            cur.change_fen = None
            self.state = LaneState.AWAITING_PAYMENT
            self.said = say("lane.booking_failed", error=ev.error)
        elif self.state is LaneState.QUOTING:
            self.state = LaneState.NO_STAY
            self.said = say("lane.quote_failed", error=ev.error)
        elif (
            self.state is LaneState.OPENING
            and ev.what in LIFT_RECORDS
            and (cur is None or not cur.settling_trade_no)
        ):
            # a release or an exception could not be recorded, so its lift was not sent: the attendant
            # decides again, from where the lift started
            before, self._before_lift = self._before_lift, None
            message = say("lane.record_failed", error=ev.error)
            if before is not None and before[0] is LaneState.GATE_FAULT:
                self.state, self.gate, self.said = LaneState.GATE_FAULT, "fault", message
                if cur is not None:
                    cur.settled = before[1]
            elif cur is None:
                self._reset(message)
            else:
                cur.settled = False
                self.gate = "closed"
                self.state = LaneState.PAYMENT_FAILED if cur.quote is not None else LaneState.NO_STAY
                self.said = message
        return [raised]

    # -- time
    def _on_tick(self, ev: Tick) -> list[LaneCommand]:
        cur = self.current
        if self.state is LaneState.GATE_OPEN and self._gate_open_at is not None:
            if ev.at - self._gate_open_at >= self.timings.pass_timeout:
                return self._on_passed(ev.at, assumed=True)
            return []
        if cur is None or self.state not in (LaneState.AWAITING_PAYMENT, LaneState.TIMED_OUT):
            return []
        commands: list[LaneCommand] = []
        if cur.code_url is None and cur.retry_at is not None and ev.at >= cur.retry_at:
            commands.append(self._request_payment(ev.at, fresh=False))  # nobody has to press retry
        if (
            cur.code_url is None
            and not cur.qr_alerted
            and cur.waiting_since is not None
            and ev.at - cur.waiting_since >= self.timings.qr_alert_after
        ):
            cur.qr_alerted = True
            detail = say("alert.qr_unavailable", plate=cur.plate.text, lane_id=self.lane_id)
            commands.append(alert("qr_unavailable", detail, ev.at))
        if self.state is not LaneState.AWAITING_PAYMENT or cur.waiting_since is None:
            return commands
        if ev.at - cur.waiting_since >= self.timings.payment_timeout:
            self.state = LaneState.TIMED_OUT
            self.said = say("lane.payment_timeout")
            detail = say("alert.payment_timeout", plate=cur.plate.text, lane_id=self.lane_id)
            return [*commands, alert("payment_timeout", detail, ev.at)]
        if (
            cur.code_url is not None
            and cur.requested_at is not None
            and cur.next_query_at is not None
            and ev.at >= cur.next_query_at
            and ev.at - cur.requested_at <= self.timings.query_stop
            and cur.order_id is not None
        ):
            cur.next_query_at = ev.at + self.timings.query_every
            commands.append(QueryPayment(cur.order_id, cur.plate))
        return commands
