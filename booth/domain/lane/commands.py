"""What a lane asks the engine to do, in order: price a stay, admit a car, ask Bolink for the QR, book money,
record an attendant's exception, release or cancel an exit order, open the gate, close the stay, alert the
supervisor. ``LaneCommand`` is their union; the engine feeds each result back as an event."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from booth.domain.phrases import Phrase
from booth.domain.plates import Plate

LiftReason = Literal["paid", "cash", "free_tariff", "free_release", "manual_lift", "entry", "gate_retry"]


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


def alert(kind: str, detail: Phrase, at: datetime) -> Alert:
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
