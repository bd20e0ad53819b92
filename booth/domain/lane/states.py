"""A lane's states, what the window sees of it, its timings, and the refusal of an attendant's command."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from booth.domain.phrases import Phrase
from booth.domain.tariff import QuoteLine


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


#: states in which the exit being handled may still change (plate corrected, car backs away, cancelled)
UNSETTLED = frozenset(
    {
        LaneState.QUOTING,
        LaneState.NO_STAY,
        LaneState.AWAITING_PAYMENT,
        LaneState.PAYMENT_FAILED,
        LaneState.TIMED_OUT,
    }
)
#: states in which the attendant may take cash or release for free
PAYABLE = frozenset({LaneState.AWAITING_PAYMENT, LaneState.PAYMENT_FAILED, LaneState.TIMED_OUT})


class LaneRuleError(Exception):
    """An attendant's command that the lane cannot take now; the message says why (its Chinese words).

    ``phrase`` says the same for a screen that translates ("rule.*" codes of booth.domain.phrases; None
    when raised with a bare message)."""

    def __init__(self, said: Phrase | str) -> None:
        self.phrase = said if isinstance(said, Phrase) else None
        super().__init__(said.text if isinstance(said, Phrase) else said)


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
