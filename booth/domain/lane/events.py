"""What a lane hears: a camera read, the engine's answers to its commands, Bolink's results, an attendant's
decisions, the gate, the clock. Every event carries its time; ``LaneEvent`` is their union."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from booth.domain.plates import Plate
from booth.domain.tariff import Quote


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
