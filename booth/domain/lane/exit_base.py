"""The exit lane's state: the exit being handled now (``CurrentExit``) and what the lane keeps between exits,
with the two steps every part of the machine takes (drop an unsettled exit, go back to waiting)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from booth.domain.lane.base import LaneBase
from booth.domain.lane.commands import CancelExitOrder, LaneCommand
from booth.domain.lane.events import VehicleDetected
from booth.domain.lane.states import LaneState, LaneTimings
from booth.domain.phrases import Phrase
from booth.domain.plates import Plate
from booth.domain.tariff import Quote


@dataclass
class CurrentExit:
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


class ExitLaneBase(LaneBase):
    """The state of one exit lane, shared by the parts of its machine (booth.domain.lane.exit.ExitLane)."""

    direction: Literal["exit"] = "exit"

    def __init__(self, lane_id: str, name: str, channel_id: str, timings: LaneTimings | None = None) -> None:
        super().__init__(lane_id, name, channel_id, timings)
        self.current: CurrentExit | None = None
        self._last_passed: tuple[str, datetime] | None = None
        #: plates whose exit here was paid before a restart but whose gate never opened -> their stay
        self._paid_waiting: dict[str, int] = {}
        #: the state (and settled flag) an attendant's lift started from, restored if its record fails
        self._before_lift: tuple[LaneState, bool] | None = None
        #: the latest read of another car while this one was being booked or its gate moved (or failed):
        #: taken up as soon as this car is through, so the car behind is not left waiting for a re-read
        self._held_read: VehicleDetected | None = None

    def _abandon(self, at: datetime) -> list[LaneCommand]:
        """Drop the unsettled exit being handled; its open exit order is cancelled (payments still book)."""
        cur = self.current
        if cur is not None and not cur.settled and cur.exit_order_id is not None:
            return [CancelExitOrder(cur.exit_order_id, at)]
        return []

    def _reset(self, message: Phrase) -> None:
        self._held_read = None
        self.current = None
        self.state = LaneState.IDLE
        self.gate = "closed"
        self._gate_open_at = None
        self._before_lift = None
        self.said = message
