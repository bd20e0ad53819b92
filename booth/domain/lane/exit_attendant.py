"""The exit lane's attendant decisions: a free release, a manual lift, a corrected plate, a cancelled exit
(or a car backing away).

A release or a lift needs an operator and a reason, and is recorded before its gate command (the
``RecordException``, or the ``ReleaseExitOrder`` that carries it): no record, no lift. The state it started
from is kept, so that a failed record puts the lane back (ExitLane._on_store_failed).
"""

from __future__ import annotations

from datetime import datetime

from booth.domain.lane.base import gate_note, require_reason
from booth.domain.lane.commands import (
    LaneCommand,
    OpenGate,
    QuoteStay,
    RecordException,
    ReleaseExitOrder,
    alert,
)
from booth.domain.lane.events import FreeRelease, ManualLift, PlateCorrected, VehicleLeft
from booth.domain.lane.exit_base import CurrentExit, ExitLaneBase
from booth.domain.lane.states import PAYABLE, UNSETTLED, LaneRuleError, LaneState
from booth.domain.phrases import Phrase, say


class ExitAttendant(ExitLaneBase):
    """The exit lane's handlers of an attendant's releases, lifts, corrections, cancels (part of ExitLane)."""

    # -- lifts without money
    def _on_free_release(self, ev: FreeRelease) -> list[LaneCommand]:
        reason = require_reason(ev.reason, ev.operator, say("action.free_release"))
        cur = self.current
        if cur is None or self.state not in PAYABLE | {LaneState.NO_STAY}:
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
            OpenGate("free_release", ev.operator, gate_note(reason, ev.note), cur.stay_id, ev.at)
        )
        return commands

    def _on_manual_lift(self, ev: ManualLift) -> list[LaneCommand]:
        reason = require_reason(ev.reason, ev.operator, say("action.manual_lift"))
        if self.state in (LaneState.OPENING, LaneState.SETTLING):
            raise LaneRuleError(say("rule.busy_booking"))
        cur = self.current
        # the car at the lane, if any: a quote under way or a fault counts; a car passing an open gate
        # is the one before, not the reason for this lift
        seen = cur if cur is not None and self.state is not LaneState.GATE_OPEN else None
        self._before_lift = (self.state, cur.settled if cur is not None else False)
        release = False
        if cur is not None and self.state in PAYABLE and cur.exit_order_id is not None:
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
        commands.append(OpenGate("manual_lift", ev.operator, gate_note(reason, ev.note), stay_id, ev.at))
        return commands

    # -- the exit being handled changes or ends
    def _on_plate_corrected(self, ev: PlateCorrected) -> list[LaneCommand]:
        cur = self.current
        if cur is None or self.state not in UNSETTLED:
            raise LaneRuleError(say("rule.nothing_to_correct"))
        if not ev.operator.strip():
            raise LaneRuleError(say("rule.correct_needs_operator"))
        commands: list[LaneCommand] = [
            alert(
                "plate_corrected",
                say("alert.plate_corrected", old=cur.plate.text, new=ev.plate.text, operator=ev.operator),
                ev.at,
            )
        ]
        commands += self._abandon(ev.at)
        self.current = CurrentExit(plate=ev.plate, detected_at=ev.at, photo=cur.photo)
        self.state = LaneState.QUOTING
        self.said = say("lane.plate_corrected")
        commands.append(QuoteStay(ev.plate, ev.at))
        return commands

    def _on_left(self, ev: VehicleLeft) -> list[LaneCommand]:
        if self.state is LaneState.GATE_OPEN:
            return []  # a car moving under an open gate is passing, not backing away
        return self._on_cancel(ev.at, say("lane.backed_away"))

    def _on_cancel(self, at: datetime, message: Phrase) -> list[LaneCommand]:
        if self.state not in UNSETTLED and self.state is not LaneState.GATE_FAULT:
            return []
        commands = self._abandon(at)
        self._reset(message)
        return commands
