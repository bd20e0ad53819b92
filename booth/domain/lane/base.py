"""What an exit and an entry lane share, and the two checks of an attendant's lift (its reason, its note)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from booth.domain.lane.states import LaneRuleError, LaneState, LaneTimings
from booth.domain.phrases import Phrase, say


def require_reason(reason: str, operator: str, action: Phrase) -> str:
    """The reason of a release or a lift, stripped; refused (LaneRuleError) without reason or operator."""
    text = reason.strip()
    if not text:
        raise LaneRuleError(say("rule.reason_missing", action=action))
    if not operator.strip():
        raise LaneRuleError(say("rule.operator_missing", action=action))
    return text


def gate_note(reason: str, note: str) -> str:
    """What the gate event keeps as the lift's note: the reason, and the free text after it."""
    note = note.strip()
    return f"{reason}：{note}" if note else reason


class LaneBase:
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
