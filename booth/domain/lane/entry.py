"""The entry lane: a recognised vehicle is admitted (its stay recorded, the gate opened) or refused."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from booth.domain.lane.base import LaneBase, gate_note, require_reason
from booth.domain.lane.commands import AdmitVehicle, LaneCommand, OpenGate, RecordException, alert
from booth.domain.lane.events import (
    LIFT_RECORDS,
    BolinkStatus,
    CancelExit,
    CashTaken,
    ClockStepped,
    EntryDecided,
    FreeRelease,
    GateFailed,
    GateOpened,
    LaneEvent,
    ManualLift,
    PlateCorrected,
    RetryPayment,
    StoreFailed,
    Tick,
    VehicleDetected,
    VehicleLeft,
    VehiclePassed,
)
from booth.domain.lane.states import LaneRuleError, LaneState, LaneTimings, LaneView
from booth.domain.phrases import Phrase, say
from booth.domain.plates import Plate

#: the reasons the engine gives for refusing an entry (EntryDecided.reason), as phrases
_ENTRY_REFUSALS: dict[str, Phrase] = {
    "黑名单车辆": say("entry.blacklisted"),
    "车位已满": say("entry.lot_full"),
    "车辆正在出口": say("entry.at_exit"),
}


class EntryLane(LaneBase):
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
                    return [alert("lane_busy", say("alert.lane_busy_entry", plate=plate.text), at)]
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
                    return [alert("entry_refused", detail, at)]
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
                    return [alert("gate_fault", detail, at)]
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
                return [alert("store_failed", detail, at)]
            case CashTaken() | FreeRelease() | PlateCorrected() | RetryPayment():
                raise LaneRuleError(say("rule.entry_no_charge"))
        return []

    def _on_manual_lift(self, ev: ManualLift) -> list[LaneCommand]:
        reason = require_reason(ev.reason, ev.operator, say("action.manual_lift"))
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
            OpenGate("manual_lift", ev.operator, gate_note(reason, ev.note), self.stay_id, ev.at),
        ]

    def _reset(self) -> None:
        self.state, self.gate, self.plate, self.stay_id = LaneState.IDLE, "closed", None, None
        self.photo = None
        self._gate_open_at = None
        self._before_lift = None
        self.said = say("lane.waiting")
