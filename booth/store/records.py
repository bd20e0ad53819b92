"""The values that cross the store's boundary: frozen records out, OutboxItem in, StoreError on refusal.

The engine calls the store on its own database thread and hands results to other threads, so everything
here is a plain immutable value; ORM objects never leave the store.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

StayState = Literal["in_lot", "exited", "cancelled"]
ExitOrderState = Literal["awaiting", "paid", "released", "cancelled"]
OutboxState = Literal["pending", "sent", "dead"]
Cloud = Literal["bolink", "alipay", "tmall"]
PaymentStatus = Literal["settled", "partial", "flagged", "duplicate", "refused"]
PaymentFlag = Literal["late_after_settlement", "unknown_order", "not_at_this_lane", "exit_in_progress"]


class StoreError(Exception):
    """The store refused an operation; the message names the value or row at fault."""


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """Something to send to a cloud, queued with the business row it belongs to.

    `dedupe_key` (e.g. "bolink:inpark:<order_id>") makes queueing idempotent: a second item with the same
    key is dropped silently, so a repeated event never sends twice.
    """

    cloud: str
    kind: str
    payload: Mapping[str, Any]
    dedupe_key: str


@dataclass(frozen=True, slots=True)
class StayRecord:
    id: int
    order_id: str
    plate: str
    plate_colour: str
    vehicle_class: str
    entry_lane: str
    entry_at: datetime
    exit_lane: str | None
    exit_at: datetime | None
    state: StayState
    created_at: datetime
    #: the lot booth the car entered at, for a stay imported at this booth's exit (#18); None: entered here
    origin_booth: str | None = None


@dataclass(frozen=True, slots=True)
class ExitOrderRecord:
    id: int
    stay_id: int
    lane_id: str
    opened_at: datetime
    quote_json: str
    gross_fen: int
    paid_before_fen: int
    discount_fen: int
    due_fen: int
    state: ExitOrderState
    settled_at: datetime | None
    settled_by: int | None
    release_reason: str | None
    released_by: str | None
    arrears_fen: int = 0  # the part of due_fen that is the plate's arrears


@dataclass(frozen=True, slots=True)
class PaymentRecord:
    id: int
    stay_id: int | None
    order_ref: str
    exit_order_id: int | None
    channel: str
    pay_channel: int | None
    trade_no: str | None
    amount_fen: int
    paid_at: datetime
    lane_id: str | None
    operator: str
    payer_id: str | None
    flag: str | None
    raw_json: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PaymentOutcome:
    """What record_payment did with a payment.

    - "settled": it paid the awaiting exit order in full; that order is now "paid" (the gate may open).
    - "partial": counted for the stay (counted_payments) without settling anything: less than the order's due,
      a payment the lane said must not settle, or an in-lot prepayment. An awaiting order stays awaiting:
      re-quote it.
    - "flagged": stored for the supervisor but not counted (`flag` says why; late ones are refunded).
    - "duplicate": this trade_no was already stored (as `payment_id`); nothing was written.
    - "refused": (only when the payer can still be told no, e.g. a prepayment Bolink settles only on our
      "yes") it would have been flagged, so it is not money: no payment row, an audit row "prepay_refused"
      keeps the refusal and its reason (`flag`), and `payment_id` is 0. A repeat is refused again.
    """

    status: PaymentStatus
    payment_id: int
    flag: PaymentFlag | None


@dataclass(frozen=True, slots=True)
class OutboxRecord:
    id: int
    stay_id: int | None
    cloud: str
    kind: str
    payload_json: str
    dedupe_key: str
    state: OutboxState
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None

    @property
    def payload(self) -> dict[str, Any]:
        """A fresh copy each time, so a caller cannot change what another thread sees."""
        value: dict[str, Any] = json.loads(self.payload_json)
        return value


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    at: datetime
    actor: str
    action: str
    detail_json: str

    @property
    def detail(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.detail_json)
        return value


@dataclass(frozen=True, slots=True)
class OutboxBacklog:
    """One cloud's queue at a glance, for the supervisor's status line."""

    cloud: str
    pending: int
    oldest_pending_at: datetime | None
    dead: int


ExceptionKind = Literal["manual_lift", "free_release"]


@dataclass(frozen=True, slots=True)
class LaneExceptionItem:
    """A manual lift or free release to keep as evidence: why, who, who approved it, and what it forwent.

    Written before its gate opens (with the release of the exit order, when there is one, in the same
    transaction): no record, no lift.
    """

    kind: str
    lane_id: str
    reason: str
    note: str
    operator: str
    at: datetime
    stay_id: int | None = None
    exit_order_id: int | None = None
    plate: str | None = None
    due_fen: int = 0
    approved_by: str | None = None
    photo: str | None = None


@dataclass(frozen=True, slots=True)
class LaneExceptionRecord:
    id: int
    at: datetime
    kind: ExceptionKind
    lane_id: str
    stay_id: int | None
    exit_order_id: int | None
    plate: str | None
    due_fen: int
    reason: str
    note: str
    operator: str
    approved_by: str | None
    photo: str | None


@dataclass(frozen=True, slots=True)
class ArrearsRecord:
    """A missed exit's unpaid fee (see booth.store.models.Arrears)."""

    id: int
    stay_id: int
    plate: str
    amount_fen: int
    noticed_at: datetime
    noticed_lane: str
    state: str
    exit_order_id: int | None
    settled_at: datetime | None
    settled_by: str | None
    approved_by: str | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class ExitInFlight:
    """An exit the last run left unfinished: its order still awaiting payment, or settled (paid or released)
    while the stay is still in the lot. ``lifted_at``/``lifted_lane``: a gate opened for the stay after the
    order was settled (the car has gone, or passes now)."""

    order: ExitOrderRecord
    stay: StayRecord
    lifted_at: datetime | None
    lifted_lane: str | None
