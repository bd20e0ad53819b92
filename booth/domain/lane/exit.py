"""The lanes as pure state machines: ``handle(event) -> list[Command]``.

Every money and gate rule of a lane lives here and is tested without threads, network, a database or Qt:

- only a payment result with ``state == 1`` pays; 0 is a failure, 2 is "still paying";
- a result for an order that is not the one waiting at this lane never opens this gate;
- a repeated result changes nothing;
- the gate opens for money only after the store has booked the payment as the one that settles this exit
  (``PaymentBooked(status="settled")``), so a paid order is never lost and never booked twice;
- every other lift (free release, manual lift, gate retry) needs an operator and a reason, and a free
  release or manual lift is recorded (``RecordException``, or with the release of its exit order) before its
  gate command: no record, no lift. Which reasons are allowed and who approved is checked by the engine
  before the event reaches the lane.

The machine never reads a clock: every event carries its time. The engine executes the commands in order
and feeds their results back as events.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from booth.domain.phrases import Phrase, say
from booth.domain.plates import Plate
from booth.domain.tariff import Quote, QuoteLine


class LaneState(StrEnum):
    IDLE = "idle"  # waiting for a vehicle
    QUOTING = "quoting"  # looking up the stay and pricing it
    NO_STAY = "no_stay"  # exit: no entry record for this plate; the attendant decides
    AWAITING_PAYMENT = "awaiting_payment"  # exit: QR shown (or cash only while Bolink is offline)
    PAYMENT_FAILED = "payment_failed"  # exit: Bolink said state 0; retry or cash
    TIMED_OUT = "timed_out"  # exit: no payment in time; the attendant decides
    SETTLING = "settling"  # a payment is being booked
    OPENING = "opening"  # the gate command is under way
    GATE_OPEN = "gate_open"  # the gate confirmed open; waiting for the car to pass
    GATE_FAULT = "gate_fault"  # the gate did not open after a retry; the attendant acts
    REFUSED = "refused"  # entry: refused (blacklist, lot full, ...)


LiftReason = Literal["paid", "cash", "free_tariff", "free_release", "manual_lift", "entry", "gate_retry"]

#: states in which the exit being handled may still change (plate corrected, car backs away, cancelled)
_UNSETTLED = frozenset(
    {
        LaneState.QUOTING,
        LaneState.NO_STAY,
        LaneState.AWAITING_PAYMENT,
        LaneState.PAYMENT_FAILED,
        LaneState.TIMED_OUT,
    }
)
#: states in which the attendant may take cash or release for free
_PAYABLE = frozenset({LaneState.AWAITING_PAYMENT, LaneState.PAYMENT_FAILED, LaneState.TIMED_OUT})


class LaneRuleError(Exception):
    """An attendant's command that the lane cannot take now; the message says why (its Chinese words).

    ``phrase`` says the same for a screen that translates ("rule.*" codes of booth.domain.phrases; None
    when raised with a bare message)."""

    def __init__(self, said: Phrase | str) -> None:
        self.phrase = said if isinstance(said, Phrase) else None
        super().__init__(said.text if isinstance(said, Phrase) else said)


# ---------------------------------------------------------------------------------------------- events


@dataclass(frozen=True)
class VehicleDetected:
    plate: Plate
    at: datetime
    confidence: int | None = None
    photo: str | None = None  # path of the stored photo, if any


@dataclass(frozen=True)
class VehicleLeft:
    """The car backed away (camera 'turned back' trigger, or the attendant says so)."""

    at: datetime
    operator: str = "camera"


@dataclass(frozen=True)
class StayQuoted:
    """The engine found the stay, priced it and opened an exit order."""

    plate: Plate
    stay_id: int
    order_id: str  # Bolink's order id of the stay
    exit_order_id: int
    entry_at: datetime
    quote: Quote
    at: datetime
    entry_lane: str | None = None  # the lane the stay entered by (Bolink's in_channel_id)


@dataclass(frozen=True)
class StayNotFound:
    plate: Plate
    at: datetime


@dataclass(frozen=True)
class PaymentRequested:
    """Bolink accepted the outpark call; ``code_url`` is the lane's QR (None if Bolink gave none)."""

    exit_order_id: int
    code_url: str | None
    at: datetime


@dataclass(frozen=True)
class PaymentRequestFailed:
    """Bolink could not be asked (offline, refused): the lane takes cash; the QR is asked again when it is
    back."""

    exit_order_id: int
    reason: str
    at: datetime


@dataclass(frozen=True)
class PaymentResult:
    """Bolink's downstream outpark result, already parsed and validated."""

    order_id: str
    state: int  # 0 failed, 1 paid, 2 paying
    trade_no: str
    amount_fen: int
    pay_type: str
    pay_channel: int | None
    payer_id: str | None
    out_channel_id: str
    errmsg: str
    at: datetime
    #: when the driver paid (Bolink's pay_time, when plausible): what Alipay and Tmall are told. ``at`` is its
    #: receipt, the booking's time on the booth's own clock (the shift and the reports go by it)
    paid_at: datetime | None = None


@dataclass(frozen=True)
class PaymentBooked:
    """The store's verdict on a payment the lane asked it to book."""

    exit_order_id: int | None
    trade_no: str
    status: Literal["settled", "duplicate", "flagged", "partial", "refused"]
    payment_id: int
    flag: str | None
    at: datetime


@dataclass(frozen=True)
class CashTaken:
    tendered_fen: int
    operator: str
    at: datetime


@dataclass(frozen=True)
class FreeRelease:
    """The attendant lets the car out without paying; ``approved_by`` is the supervisor who approved it
    (checked by the engine), ``note`` the attendant's free text next to the reason."""

    reason: str
    operator: str
    at: datetime
    note: str = ""
    approved_by: str | None = None


@dataclass(frozen=True)
class ManualLift:
    """The attendant lifts the barrier by hand (gate fault, no read, ...); fields as for FreeRelease."""

    reason: str
    operator: str
    at: datetime
    note: str = ""
    approved_by: str | None = None


@dataclass(frozen=True)
class PlateCorrected:
    plate: Plate
    operator: str
    at: datetime


@dataclass(frozen=True)
class RetryPayment:
    operator: str
    at: datetime


@dataclass(frozen=True)
class CancelExit:
    operator: str
    at: datetime


@dataclass(frozen=True)
class GateOpened:
    at: datetime


@dataclass(frozen=True)
class GateFailed:
    error: str
    at: datetime


@dataclass(frozen=True)
class VehiclePassed:
    at: datetime


@dataclass(frozen=True)
class BolinkStatus:
    online: bool
    at: datetime


@dataclass(frozen=True)
class Superseded:
    """The same stay is now being handled at another lane (the car drove there)."""

    other_lane: str
    at: datetime


@dataclass(frozen=True)
class EntryDecided:
    """Entry lanes: the engine checked the blacklist and capacity and recorded the stay (when admitted)."""

    plate: Plate
    admitted: bool
    reason: str
    stay_id: int | None
    at: datetime


@dataclass(frozen=True)
class StoreFailed:
    """A store write the lane depends on failed; nothing was booked and no gate opens. ``what`` names the
    command whose write failed (its class name)."""

    what: str
    error: str
    at: datetime


#: The writes that record an attendant's lift (a release or an exception): when one of these fails, its lift
#: was never sent and the lane goes back to where it was. Any other failed write leaves a lift in progress be.
LIFT_RECORDS = ("RecordException", "ReleaseExitOrder")


@dataclass(frozen=True)
class Tick:
    at: datetime


@dataclass(frozen=True)
class ExitResumed:
    """At start: the last run left this car waiting to pay at this lane (its exit order still awaiting). The
    lane takes it up again as it was: the same order and due, the QR asked for again, and Bolink asked at once
    whether it was paid meanwhile (a result lost in the crash)."""

    plate: Plate
    stay_id: int
    order_id: str
    exit_order_id: int
    entry_at: datetime
    quote: Quote
    at: datetime
    entry_lane: str | None = None


@dataclass(frozen=True)
class PaidAwaitingCar:
    """At start: this stay's exit was paid but its gate never opened (the last run stopped between the two).
    The gate opens when the car is read at this lane again; until then the attendant has it listed."""

    plate: str
    stay_id: int
    at: datetime


@dataclass(frozen=True)
class ClockStepped:
    """The wall clock was set by ``by`` (NTP correcting it): the lane's timers run on elapsed time, so their
    anchors move with the clock; nothing times out (or is held) because of the step."""

    by: timedelta
    at: datetime


LaneEvent = (
    VehicleDetected
    | VehicleLeft
    | StayQuoted
    | StayNotFound
    | PaymentRequested
    | PaymentRequestFailed
    | PaymentResult
    | PaymentBooked
    | CashTaken
    | FreeRelease
    | ManualLift
    | PlateCorrected
    | RetryPayment
    | CancelExit
    | GateOpened
    | GateFailed
    | VehiclePassed
    | BolinkStatus
    | Superseded
    | EntryDecided
    | StoreFailed
    | Tick
    | ClockStepped
    | ExitResumed
    | PaidAwaitingCar
)

# -------------------------------------------------------------------------------------------- commands


@dataclass(frozen=True)
class QuoteStay:
    """Find the open stay of this plate, price it, open an exit order -> StayQuoted / StayNotFound."""

    plate: Plate
    at: datetime


@dataclass(frozen=True)
class AdmitVehicle:
    """Entry: check blacklist/capacity, record the stay and queue Bolink inpark -> EntryDecided."""

    plate: Plate
    at: datetime


@dataclass(frozen=True)
class RequestPayment:
    """Bolink outpark (scancode) for the amount due and the lane's QR -> PaymentRequested / ...Failed."""

    exit_order_id: int
    stay_id: int
    order_id: str
    plate: Plate
    entry_at: datetime
    due_fen: int
    at: datetime
    entry_lane: str | None = None


@dataclass(frozen=True)
class QueryPayment:
    """Bolink query_order: the answer comes back downstream as a PaymentResult."""

    order_id: str
    plate: Plate


@dataclass(frozen=True)
class BookPayment:
    """Book money received -> PaymentBooked. ``settles`` says whether it may settle the exit order."""

    exit_order_id: int | None
    order_id: str
    stay_id: int | None
    channel: str  # "cash" or Bolink's pay_type
    pay_channel: int | None
    trade_no: str
    amount_fen: int
    payer_id: str | None
    operator: str
    settles: bool
    at: datetime
    paid_at: datetime | None = None  # the provider's time of payment (PaymentResult.paid_at), if known


@dataclass(frozen=True)
class RecordException:
    """Keep the evidence of a free release or manual lift: what was forgone, why, by whom, approved by whom,
    and the lane photo of the moment. Executed before the lift's OpenGate; a failure stops the lift."""

    kind: Literal["free_release", "manual_lift"]
    lane_id: str
    reason: str
    note: str
    operator: str
    approved_by: str | None
    stay_id: int | None
    exit_order_id: int | None
    plate: str | None
    due_fen: int
    photo: str | None
    at: datetime


@dataclass(frozen=True)
class ReleaseExitOrder:
    """Settle the exit order without payment (free by tariff, free release, manual lift). ``exception``
    is the attendant's decision behind it, recorded in the same transaction (None for a free tariff)."""

    exit_order_id: int
    reason: str
    operator: str
    at: datetime
    exception: RecordException | None = None


@dataclass(frozen=True)
class CancelExitOrder:
    exit_order_id: int
    at: datetime


@dataclass(frozen=True)
class OpenGate:
    """Lift the barrier (the engine retries once and records every attempt) -> GateOpened / GateFailed."""

    reason: LiftReason
    operator: str
    note: str
    stay_id: int | None
    at: datetime


@dataclass(frozen=True)
class CloseStay:
    stay_id: int
    at: datetime


@dataclass(frozen=True)
class Alert:
    """Something the supervisor must see (flagged money, refused command, fault). Audited by the engine.
    ``message`` is the detail in Chinese, ``detail`` the same as an "alert.*" phrase (None if raised with
    text only)."""

    kind: str
    message: str
    at: datetime
    detail: Phrase | None = None


def _alert(kind: str, detail: Phrase, at: datetime) -> Alert:
    return Alert(kind, detail.text, at, detail)


LaneCommand = (
    QuoteStay
    | AdmitVehicle
    | RequestPayment
    | QueryPayment
    | BookPayment
    | RecordException
    | ReleaseExitOrder
    | CancelExitOrder
    | OpenGate
    | CloseStay
    | Alert
)

# ------------------------------------------------------------------------------------------------ view


@dataclass(frozen=True)
class LaneView:
    """What the window shows of a lane: plain values, safe to hand to another thread."""

    lane_id: str
    name: str
    direction: Literal["entry", "exit"]
    state: LaneState
    message: str
    plate: str | None = None
    plate_colour: str | None = None
    photo: str | None = None
    entry_at: datetime | None = None
    exit_at: datetime | None = None
    duration_minutes: int | None = None
    due_fen: int | None = None
    breakdown: tuple[tuple[str, int], ...] = ()
    code_url: str | None = None
    order_id: str | None = None
    gate: Literal["closed", "opening", "open", "fault"] = "closed"
    bolink_online: bool = False
    change_fen: int | None = None
    #: ``message`` as a "lane.*" phrase, and the quote's lines with theirs, for a screen that translates
    said: Phrase | None = None
    lines: tuple[QuoteLine, ...] = ()


# ------------------------------------------------------------------------------------------- the lanes


@dataclass(frozen=True)
class LaneTimings:
    payment_timeout: timedelta = timedelta(minutes=5)
    pass_timeout: timedelta = timedelta(seconds=15)
    query_start: timedelta = timedelta(seconds=10)
    query_every: timedelta = timedelta(seconds=2)
    query_stop: timedelta = timedelta(minutes=2)
    #: the same plate seen again this soon after its gate opened is the camera re-triggering, not a new car
    redetect_holdoff: timedelta = timedelta(seconds=20)
    #: a failed outpark/code_url is asked again after this, doubling up to request_retry_max (Bolink allows
    #: calling outpark again until the order is settled); cash stays possible meanwhile
    request_retry_first: timedelta = timedelta(seconds=2)
    request_retry_max: timedelta = timedelta(seconds=30)
    #: a car waiting this long without a QR (Bolink unreachable) is pointed out to the supervisor
    qr_alert_after: timedelta = timedelta(seconds=60)


@dataclass
class _Exit:
    """The exit being handled now."""

    plate: Plate
    detected_at: datetime
    photo: str | None = None
    stay_id: int | None = None
    order_id: str | None = None
    exit_order_id: int | None = None
    entry_at: datetime | None = None
    entry_lane: str | None = None
    quote: Quote | None = None
    code_url: str | None = None
    #: the payment wait began (the payment timeout runs from here, whatever retries happen)
    waiting_since: datetime | None = None
    requested_at: datetime | None = None  # the QR was shown (the query schedule runs from here)
    next_query_at: datetime | None = None
    retry_at: datetime | None = None  # the QR is asked again then (after a failed outpark/code_url)
    retries: int = 0
    qr_alerted: bool = False
    settling_trade_no: str | None = None
    settled: bool = False
    seen_trade_nos: set[str] = field(default_factory=set)
    change_fen: int | None = None
    #: a payment held for the attendant (its result named another lane): booked, never a lift by itself
    held_trade_no: str | None = None

    @property
    def due_fen(self) -> int | None:
        return None if self.quote is None else self.quote.due_fen


def _require_reason(reason: str, operator: str, action: Phrase) -> str:
    text = reason.strip()
    if not text:
        raise LaneRuleError(say("rule.reason_missing", action=action))
    if not operator.strip():
        raise LaneRuleError(say("rule.operator_missing", action=action))
    return text


#: the reasons the engine gives for refusing an entry (EntryDecided.reason), as phrases
_ENTRY_REFUSALS: dict[str, Phrase] = {
    "黑名单车辆": say("entry.blacklisted"),
    "车位已满": say("entry.lot_full"),
    "车辆正在出口": say("entry.at_exit"),
}


def _gate_note(reason: str, note: str) -> str:
    """What the gate event keeps as the lift's note: the reason, and the free text after it."""
    note = note.strip()
    return f"{reason}：{note}" if note else reason


class _Lane:
    """What an exit and an entry lane share: who they are, their state in words, the gate and Bolink."""

    def __init__(self, lane_id: str, name: str, channel_id: str, timings: LaneTimings | None = None) -> None:
        self.lane_id = lane_id
        self.name = name
        self.channel_id = channel_id
        self.timings = timings or LaneTimings()
        self.state = LaneState.IDLE
        self.said = say("lane.waiting")
        self.bolink_online = False
        self.gate: Literal["closed", "opening", "open", "fault"] = "closed"
        self._gate_open_at: datetime | None = None

    @property
    def message(self) -> str:
        """The state message in Chinese (logs, Bolink's errmsg); ``said`` is the same as a phrase."""
        return self.said.text

    def _clock_stepped(self, by: timedelta) -> None:
        """Move every timer anchor with a step of the wall clock (see ClockStepped)."""
        if self._gate_open_at is not None:
            self._gate_open_at += by


class ExitLane(_Lane):
    """One exit lane. Not thread-safe: the engine calls it from its own loop only."""

    direction: Literal["exit"] = "exit"

    def __init__(self, lane_id: str, name: str, channel_id: str, timings: LaneTimings | None = None) -> None:
        super().__init__(lane_id, name, channel_id, timings)
        self.current: _Exit | None = None
        self._last_passed: tuple[str, datetime] | None = None
        #: plates whose exit here was paid before a restart but whose gate never opened -> their stay
        self._paid_waiting: dict[str, int] = {}
        self._pending_lift: OpenGate | None = None
        #: the state (and settled flag) an attendant's lift started from, restored if its record fails
        self._before_lift: tuple[LaneState, bool] | None = None

    # -- queries
    @property
    def awaiting_order_id(self) -> str | None:
        """The Bolink order id a payment result may settle at this lane right now."""
        if self.current is not None and self.state in _PAYABLE | {LaneState.SETTLING}:
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
                return [_alert("unexpected", detail, event.at)]
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
            # money is being booked or the gate is moving for the car in front: never drop it
            return [
                _alert(
                    "lane_busy",
                    say("alert.lane_busy", plate=ev.plate.text, other=cur.plate.text if cur else ""),
                    ev.at,
                )
            ]
        if self.state is LaneState.GATE_OPEN:
            commands += self._on_passed(ev.at, assumed=True)
        elif self.state in _UNSETTLED and cur is not None:
            commands += self._abandon(ev.at)
        paid_stay = self._paid_waiting.pop(ev.plate.text, None)
        if paid_stay is not None:
            # paid before a restart, and here now: the lift its payment was booked for
            self.current = _Exit(
                plate=ev.plate, detected_at=ev.at, photo=ev.photo, stay_id=paid_stay, settled=True
            )
            self.state = LaneState.OPENING
            self.gate = "opening"
            self.said = say("lane.paid_opening")
            return [*commands, OpenGate("paid", "system", "paid before a restart", paid_stay, ev.at)]
        self.current = _Exit(plate=ev.plate, detected_at=ev.at, photo=ev.photo)
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
        self.current = cur = _Exit(
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

    def _request_payment(self, at: datetime, *, fresh: bool = True) -> RequestPayment:
        """Ask Bolink for the QR (outpark + code_url). ``fresh``: a new wait (after a quote, or the
        attendant's retry), whose payment timeout starts now; a retry or a refresh keeps its wait."""
        cur = self.current
        assert cur is not None and cur.exit_order_id is not None and cur.quote is not None
        assert cur.stay_id is not None and cur.order_id is not None and cur.entry_at is not None
        cur.code_url = None
        cur.requested_at = None
        cur.next_query_at = None
        cur.retry_at = None
        if fresh or cur.waiting_since is None:
            cur.waiting_since = at
            cur.retries = 0
            cur.qr_alerted = False
        return RequestPayment(
            exit_order_id=cur.exit_order_id,
            stay_id=cur.stay_id,
            order_id=cur.order_id,
            plate=cur.plate,
            entry_at=cur.entry_at,
            due_fen=cur.quote.due_fen,
            at=at,
            entry_lane=cur.entry_lane,
        )

    def _on_not_found(self, ev: StayNotFound) -> list[LaneCommand]:
        cur = self.current
        if self.state is not LaneState.QUOTING or cur is None or cur.plate.text != ev.plate.text:
            return []
        self.state = LaneState.NO_STAY
        self.said = say("lane.no_stay")
        return [_alert("no_stay", say("alert.no_stay", plate=ev.plate.text, lane_id=self.lane_id), ev.at)]

    # -- payment request
    def _on_requested(self, ev: PaymentRequested) -> list[LaneCommand]:
        cur = self.current
        if cur is None or cur.exit_order_id != ev.exit_order_id or self.state not in _PAYABLE:
            return []
        cur.code_url = ev.code_url
        cur.requested_at = ev.at
        cur.next_query_at = ev.at + self.timings.query_start
        cur.retries = 0
        self.state = LaneState.AWAITING_PAYMENT
        self.said = say("lane.scan_to_pay", due_fen=cur.quote.due_fen if cur.quote else 0)
        return []

    def _on_request_failed(self, ev: PaymentRequestFailed) -> list[LaneCommand]:
        cur = self.current
        if cur is None or cur.exit_order_id != ev.exit_order_id or self.state not in _PAYABLE:
            return []
        cur.code_url = None
        # asked again after a backoff, while the payment timeout runs on; cash is always possible
        t = self.timings
        cur.retry_at = ev.at + min(t.request_retry_first * 2**cur.retries, t.request_retry_max)
        cur.retries += 1
        self.said = say("lane.bolink_unavailable", due_fen=cur.due_fen or 0, reason=ev.reason)
        return []

    def _on_bolink(self, ev: BolinkStatus) -> list[LaneCommand]:
        was_online, self.bolink_online = self.bolink_online, ev.online
        cur = self.current
        if (
            ev.online
            and not was_online
            and cur is not None
            and self.state is LaneState.AWAITING_PAYMENT
            and cur.code_url is None
            and cur.retry_at is not None  # (not while a request is under way)
        ):
            return [self._request_payment(ev.at, fresh=False)]  # Bolink is back: show the QR now
        return []

    def _on_retry(self, ev: RetryPayment) -> list[LaneCommand]:
        cur = self.current
        if self.state not in _PAYABLE or cur is None or cur.quote is None:
            raise LaneRuleError(say("rule.nothing_to_retry"))
        if cur.held_trade_no is not None:
            # the attendant accepts the held payment: price the stay again with it counted
            commands: list[LaneCommand] = self._abandon(ev.at)
            self.current = _Exit(plate=cur.plate, detected_at=ev.at, photo=cur.photo)
            self.state = LaneState.QUOTING
            self.said = say("lane.partial_requote")
            commands.append(QuoteStay(cur.plate, ev.at))
            return commands
        self.state = LaneState.AWAITING_PAYMENT
        self.said = say("lane.retrying")
        return [self._request_payment(ev.at)]

    # -- money
    def _on_result(self, ev: PaymentResult) -> list[LaneCommand]:
        cur = self.current
        mine = cur is not None and cur.order_id == ev.order_id
        if ev.state != 1:
            if not mine or self.state is not LaneState.AWAITING_PAYMENT:
                return []  # a failure or "paying" for anything else changes nothing here
            assert cur is not None
            if ev.state == 2:
                # the booth's own query_order of an order nobody pays yet is answered state 2 "未支付" (not
                # paid): only a driver actually paying is "paying" (else every car said so on the first query)
                if "未支付" not in ev.errmsg:
                    self.said = say("lane.paying")
                return []
            self.state = LaneState.PAYMENT_FAILED
            if ev.errmsg:
                self.said = say("lane.payment_failed", error=ev.errmsg)
            else:
                self.said = say("lane.payment_failed_unknown")
            detail = say("alert.payment_failed", plate=cur.plate.text, error=ev.errmsg)
            return [_alert("payment_failed", detail, ev.at)]
        # state 1: money arrived. It is always booked; whether it may open this gate is decided here.
        if mine and cur is not None and ev.trade_no in cur.seen_trade_nos:
            return []  # a repeat of a result already being booked or booked
        # a result naming another lane's channel is not proof that this car paid here: it is booked and held
        # for the attendant, who sees it and decides (re-price, then the lift is for money already counted)
        elsewhere = bool(ev.out_channel_id) and ev.out_channel_id != self.channel_id
        settles = (
            mine
            and not elsewhere
            and cur is not None
            and self.state in _PAYABLE
            and cur.due_fen is not None
            and ev.amount_fen >= cur.due_fen
        )
        book = BookPayment(
            exit_order_id=cur.exit_order_id if mine and cur else None,
            order_id=ev.order_id,
            stay_id=cur.stay_id if mine and cur else None,
            channel=ev.pay_type or "scancode",
            pay_channel=ev.pay_channel,
            trade_no=ev.trade_no,
            amount_fen=ev.amount_fen,
            payer_id=ev.payer_id,
            operator="bolink",
            settles=settles,
            at=ev.at,
            # (whole seconds, Bolink's clock: never before the car came to this lane)
            paid_at=max(ev.paid_at, cur.detected_at) if ev.paid_at and mine and cur else ev.paid_at,
        )
        if not mine or cur is None:
            return [book]  # not the order waiting here: book and flag it, never open this gate
        cur.seen_trade_nos.add(ev.trade_no)
        if settles:
            cur.settling_trade_no = ev.trade_no
            self.state = LaneState.SETTLING
            self.said = say("lane.paid_booking")
        elif elsewhere and self.state in _PAYABLE:
            cur.held_trade_no = ev.trade_no
            self.state = LaneState.PAYMENT_FAILED
            self.said = say("lane.payment_held", channel=ev.out_channel_id)
            detail = say(
                "alert.payment_wrong_lane",
                trade_no=ev.trade_no,
                channel=ev.out_channel_id,
                lane_id=self.lane_id,
                plate=cur.plate.text,
            )
            return [book, _alert("payment_wrong_lane", detail, ev.at)]
        return [book]

    def _on_cash(self, ev: CashTaken) -> list[LaneCommand]:
        cur = self.current
        if self.state not in _PAYABLE or cur is None or cur.quote is None or cur.exit_order_id is None:
            raise LaneRuleError(say("rule.nothing_to_cash"))
        due = cur.quote.due_fen
        if ev.tendered_fen < due:
            raise LaneRuleError(say("rule.cash_short", due_fen=due, tendered_fen=ev.tendered_fen))
        if not ev.operator.strip():
            raise LaneRuleError(say("rule.cash_needs_operator"))
        trade_no = f"CASH_{self.lane_id}_{cur.exit_order_id}"
        cur.change_fen = ev.tendered_fen - due
        cur.seen_trade_nos.add(trade_no)
        cur.settling_trade_no = trade_no
        self.state = LaneState.SETTLING
        self.said = say("lane.cash_taken", due_fen=due, change_fen=cur.change_fen)
        return [
            BookPayment(
                exit_order_id=cur.exit_order_id,
                order_id=cur.order_id or "",
                stay_id=cur.stay_id,
                channel="cash",
                pay_channel=None,
                trade_no=trade_no,
                amount_fen=due,
                payer_id=None,
                operator=ev.operator,
                settles=True,
                at=ev.at,
            )
        ]

    def _on_booked(self, ev: PaymentBooked) -> list[LaneCommand]:
        cur = self.current
        mine = (
            cur is not None
            and self.state is LaneState.SETTLING
            and cur.settling_trade_no == ev.trade_no
            and cur.exit_order_id == ev.exit_order_id
        )
        if (
            ev.status == "partial"
            and cur is not None
            and cur.exit_order_id is not None
            and cur.exit_order_id == ev.exit_order_id
            and self.state in _PAYABLE
            and cur.held_trade_no != ev.trade_no  # a held payment waits for the attendant
        ):
            # less than due was paid: it counts towards the stay; price the rest
            commands: list[LaneCommand] = [CancelExitOrder(cur.exit_order_id, ev.at)]
            self.current = _Exit(plate=cur.plate, detected_at=ev.at, photo=cur.photo)
            self.state = LaneState.QUOTING
            self.said = say("lane.partial_requote")
            commands.append(QuoteStay(cur.plate, ev.at))
            return commands
        if not mine:
            if ev.status == "flagged":
                detail = say("alert.payment_flagged", trade_no=ev.trade_no, flag=str(ev.flag))
                return [_alert("payment_flagged", detail, ev.at)]
            return []
        assert cur is not None
        cur.settling_trade_no = None
        if ev.status == "settled":
            cur.settled = True
            self.state = LaneState.OPENING
            self.gate = "opening"
            reason: LiftReason = "cash" if ev.trade_no.startswith("CASH_") else "paid"
            self.said = say("lane.paid_opening")
            return [OpenGate(reason, "system", ev.trade_no, cur.stay_id, ev.at)]
        # booked before (a repeat across a restart) or flagged: the money is safe, this gate stays shut
        self.state = LaneState.AWAITING_PAYMENT
        cur.change_fen = None
        self.said = say("lane.not_settling", trade_no=ev.trade_no, status=ev.status)
        if ev.flag:
            detail = say(
                "alert.payment_not_settling_flag", trade_no=ev.trade_no, status=ev.status, flag=ev.flag
            )
        else:
            detail = say("alert.payment_not_settling", trade_no=ev.trade_no, status=ev.status)
        return [_alert("payment_not_settling", detail, ev.at)]

    # -- attendant decisions
    def _on_free_release(self, ev: FreeRelease) -> list[LaneCommand]:
        reason = _require_reason(ev.reason, ev.operator, say("action.free_release"))
        cur = self.current
        if cur is None or self.state not in _PAYABLE | {LaneState.NO_STAY}:
            raise LaneRuleError(say("rule.nothing_to_release"))
        record = RecordException(
            kind="free_release",
            lane_id=self.lane_id,
            reason=reason,
            note=ev.note.strip(),
            operator=ev.operator,
            approved_by=ev.approved_by,
            stay_id=cur.stay_id,
            exit_order_id=cur.exit_order_id,
            plate=cur.plate.text,
            due_fen=cur.due_fen or 0,
            photo=cur.photo,
            at=ev.at,
        )
        commands: list[LaneCommand] = []
        if cur.exit_order_id is not None:
            commands.append(ReleaseExitOrder(cur.exit_order_id, reason, ev.operator, ev.at, record))
        else:
            commands.append(record)
        self._before_lift = (self.state, cur.settled)
        cur.settled = True
        self.state = LaneState.OPENING
        self.gate = "opening"
        self.said = say("lane.free_release", reason=reason)
        commands.append(
            OpenGate("free_release", ev.operator, _gate_note(reason, ev.note), cur.stay_id, ev.at)
        )
        return commands

    def _on_manual_lift(self, ev: ManualLift) -> list[LaneCommand]:
        reason = _require_reason(ev.reason, ev.operator, say("action.manual_lift"))
        if self.state in (LaneState.OPENING, LaneState.SETTLING):
            raise LaneRuleError(say("rule.busy_booking"))
        cur = self.current
        # the car at the lane, if any: a quote under way or a fault counts; a car passing an open gate
        # is the one before, not the reason for this lift
        seen = cur if cur is not None and self.state is not LaneState.GATE_OPEN else None
        self._before_lift = (self.state, cur.settled if cur is not None else False)
        release = False
        if cur is not None and self.state in _PAYABLE and cur.exit_order_id is not None:
            # the car leaves without paying: the order is settled as a manual lift, visible in reports
            release = True
        elif cur is not None and self.state is LaneState.NO_STAY:
            pass
        elif self.state is not LaneState.GATE_FAULT:
            # nobody being handled (or a quote still under way, whose late answer is then cancelled)
            self.current = cur = None
        record = RecordException(
            kind="manual_lift",
            lane_id=self.lane_id,
            reason=reason,
            note=ev.note.strip(),
            operator=ev.operator,
            approved_by=ev.approved_by,
            stay_id=cur.stay_id if cur is not None else None,
            exit_order_id=cur.exit_order_id if cur is not None else None,
            plate=seen.plate.text if seen is not None else None,
            due_fen=(seen.due_fen or 0) if seen is not None and not seen.settled else 0,
            photo=seen.photo if seen is not None else None,
            at=ev.at,
        )
        commands: list[LaneCommand] = []
        if release:
            assert cur is not None and cur.exit_order_id is not None
            commands.append(
                ReleaseExitOrder(cur.exit_order_id, f"manual_lift: {reason}", ev.operator, ev.at, record)
            )
        else:
            commands.append(record)
        if cur is not None:
            cur.settled = True
        stay_id = cur.stay_id if cur is not None else None
        self.state = LaneState.OPENING
        self.gate = "opening"
        self.said = say("lane.manual_lift", reason=reason)
        commands.append(OpenGate("manual_lift", ev.operator, _gate_note(reason, ev.note), stay_id, ev.at))
        return commands

    def _on_plate_corrected(self, ev: PlateCorrected) -> list[LaneCommand]:
        cur = self.current
        if cur is None or self.state not in _UNSETTLED:
            raise LaneRuleError(say("rule.nothing_to_correct"))
        if not ev.operator.strip():
            raise LaneRuleError(say("rule.correct_needs_operator"))
        commands: list[LaneCommand] = [
            _alert(
                "plate_corrected",
                say("alert.plate_corrected", old=cur.plate.text, new=ev.plate.text, operator=ev.operator),
                ev.at,
            )
        ]
        commands += self._abandon(ev.at)
        self.current = _Exit(plate=ev.plate, detected_at=ev.at, photo=cur.photo)
        self.state = LaneState.QUOTING
        self.said = say("lane.plate_corrected")
        commands.append(QuoteStay(ev.plate, ev.at))
        return commands

    def _on_left(self, ev: VehicleLeft) -> list[LaneCommand]:
        if self.state is LaneState.GATE_OPEN:
            return []  # a car moving under an open gate is passing, not backing away
        return self._on_cancel(ev.at, say("lane.backed_away"))

    def _on_cancel(self, at: datetime, message: Phrase) -> list[LaneCommand]:
        if self.state not in _UNSETTLED and self.state is not LaneState.GATE_FAULT:
            return []
        commands = self._abandon(at)
        self._reset(message)
        return commands

    def _abandon(self, at: datetime) -> list[LaneCommand]:
        """Drop the unsettled exit being handled; its open exit order is cancelled (payments still book)."""
        cur = self.current
        if cur is not None and not cur.settled and cur.exit_order_id is not None:
            return [CancelExitOrder(cur.exit_order_id, at)]
        return []

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
        return [_alert("gate_fault", say("alert.gate_fault", lane_id=self.lane_id, error=ev.error), ev.at)]

    def _on_passed(self, at: datetime, *, assumed: bool) -> list[LaneCommand]:
        if self.state is not LaneState.GATE_OPEN:
            return []
        if self.current is not None:
            self._last_passed = (self.current.plate.text, at)
        self._reset(say("lane.waiting"))
        return []

    def _reset(self, message: Phrase) -> None:
        self.current = None
        self.state = LaneState.IDLE
        self.gate = "closed"
        self._gate_open_at = None
        self._before_lift = None
        self.said = message

    def _on_store_failed(self, ev: StoreFailed) -> list[LaneCommand]:
        cur = self.current
        detail = say("alert.store_failed", lane_id=self.lane_id, what=ev.what, error=ev.error)
        alert = _alert("store_failed", detail, ev.at)
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
        return [alert]

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
            commands.append(_alert("qr_unavailable", detail, ev.at))
        if self.state is not LaneState.AWAITING_PAYMENT or cur.waiting_since is None:
            return commands
        if ev.at - cur.waiting_since >= self.timings.payment_timeout:
            self.state = LaneState.TIMED_OUT
            self.said = say("lane.payment_timeout")
            detail = say("alert.payment_timeout", plate=cur.plate.text, lane_id=self.lane_id)
            return [*commands, _alert("payment_timeout", detail, ev.at)]
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


class EntryLane(_Lane):
    """One entry lane: a recognised vehicle is admitted (stay recorded, gate opened) or refused."""

    direction: Literal["entry"] = "entry"

    def __init__(self, lane_id: str, name: str, channel_id: str, timings: LaneTimings | None = None) -> None:
        super().__init__(lane_id, name, channel_id, timings)
        self.plate: Plate | None = None
        self.photo: str | None = None
        self.stay_id: int | None = None
        self._last_admitted: tuple[str, datetime] | None = None
        #: the state a manual lift started from, restored if its record fails
        self._before_lift: LaneState | None = None

    awaiting_order_id = None

    def view(self) -> LaneView:
        return LaneView(
            lane_id=self.lane_id,
            name=self.name,
            direction=self.direction,
            state=self.state,
            message=self.said.text,
            said=self.said,
            plate=self.plate.text if self.plate else None,
            plate_colour=str(self.plate.colour) if self.plate else None,
            gate=self.gate,
            bolink_online=self.bolink_online,
        )

    def handle(self, event: LaneEvent) -> list[LaneCommand]:
        match event:
            case VehicleDetected(plate=plate, at=at, photo=photo):
                if self.plate is not None and self.plate.text == plate.text:
                    return []
                last = self._last_admitted
                if last and last[0] == plate.text and at - last[1] < self.timings.redetect_holdoff:
                    return []
                if self.state in (LaneState.QUOTING, LaneState.OPENING):
                    return [_alert("lane_busy", say("alert.lane_busy_entry", plate=plate.text), at)]
                self.plate, self.stay_id, self.photo = plate, None, photo
                self.state = LaneState.QUOTING
                self.gate = "closed"
                self.said = say("lane.checking")
                return [AdmitVehicle(plate, at)]
            case EntryDecided(plate=plate, admitted=admitted, reason=reason, stay_id=stay_id, at=at):
                if self.state is not LaneState.QUOTING or self.plate is None or self.plate.text != plate.text:
                    return []
                if not admitted:
                    self.state = LaneState.REFUSED
                    why = _ENTRY_REFUSALS.get(reason, reason)
                    self.said = say("lane.entry_refused", reason=why)
                    detail = say("alert.entry_refused", plate=plate.text, reason=why)
                    return [_alert("entry_refused", detail, at)]
                self.stay_id = stay_id
                self._last_admitted = (plate.text, at)
                self.state = LaneState.OPENING
                self.gate = "opening"
                self.said = say("lane.welcome")
                return [OpenGate("entry", "system", reason, stay_id, at)]
            case ManualLift():
                return self._on_manual_lift(event)
            case GateOpened(at=at):
                if self.state is LaneState.OPENING:
                    self.state, self.gate, self._gate_open_at = LaneState.GATE_OPEN, "open", at
                    self._before_lift = None
                return []
            case GateFailed(error=error, at=at):
                if self.state is LaneState.OPENING:
                    self._before_lift = None
                    self.state, self.gate = LaneState.GATE_FAULT, "fault"
                    self.said = say("lane.gate_fault", error=error)
                    detail = say("alert.gate_fault", lane_id=self.lane_id, error=error)
                    return [_alert("gate_fault", detail, at)]
                return []
            case VehiclePassed() | CancelExit() | VehicleLeft():
                if self.state in (LaneState.GATE_OPEN, LaneState.REFUSED, LaneState.GATE_FAULT):
                    self._reset()
                return []
            case Tick(at=at):
                if (
                    self.state is LaneState.GATE_OPEN
                    and self._gate_open_at is not None
                    and at - self._gate_open_at >= self.timings.pass_timeout
                ):
                    self._reset()
                return []
            case BolinkStatus(online=online):
                self.bolink_online = online
                return []
            case ClockStepped(by=by):
                self._clock_stepped(by)
                if self._last_admitted is not None:
                    self._last_admitted = (self._last_admitted[0], self._last_admitted[1] + by)
                return []
            case StoreFailed(what=what, error=error, at=at):
                if self.state is LaneState.QUOTING:
                    self.state = LaneState.REFUSED
                    self.said = say("lane.entry_record_failed", error=error)
                elif (
                    self.state is LaneState.OPENING and what in LIFT_RECORDS and self._before_lift is not None
                ):
                    # the manual lift could not be recorded, so it was not sent
                    self.state, self._before_lift = self._before_lift, None
                    self.gate = "fault" if self.state is LaneState.GATE_FAULT else "closed"
                    self.said = say("lane.record_failed", error=error)
                detail = say("alert.store_failed", lane_id=self.lane_id, what=what, error=error)
                return [_alert("store_failed", detail, at)]
            case CashTaken() | FreeRelease() | PlateCorrected() | RetryPayment():
                raise LaneRuleError(say("rule.entry_no_charge"))
        return []

    def _on_manual_lift(self, ev: ManualLift) -> list[LaneCommand]:
        reason = _require_reason(ev.reason, ev.operator, say("action.manual_lift"))
        if self.state is LaneState.OPENING:
            raise LaneRuleError(say("rule.busy_opening"))
        # the car at the barrier: one refused, being checked or stuck at a fault; after an open gate the
        # car of the last admission has gone through
        here = self.state in (LaneState.REFUSED, LaneState.QUOTING, LaneState.GATE_FAULT)
        record = RecordException(
            kind="manual_lift",
            lane_id=self.lane_id,
            reason=reason,
            note=ev.note.strip(),
            operator=ev.operator,
            approved_by=ev.approved_by,
            stay_id=self.stay_id if here else None,
            exit_order_id=None,
            plate=self.plate.text if here and self.plate is not None else None,
            due_fen=0,
            photo=self.photo if here else None,
            at=ev.at,
        )
        self._before_lift = self.state
        self.state = LaneState.OPENING
        self.gate = "opening"
        self.said = say("lane.manual_lift", reason=reason)
        return [
            record,
            OpenGate("manual_lift", ev.operator, _gate_note(reason, ev.note), self.stay_id, ev.at),
        ]

    def _reset(self) -> None:
        self.state, self.gate, self.plate, self.stay_id = LaneState.IDLE, "closed", None, None
        self.photo = None
        self._gate_open_at = None
        self._before_lift = None
        self.said = say("lane.waiting")


Lane = ExitLane | EntryLane
