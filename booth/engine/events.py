"""What the engine tells its listeners (the window, the headless runner), and the errors its commands raise.
Plain frozen values: they cross from the engine thread to any other."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from booth.domain import lane as L
from booth.domain.phrases import Phrase
from booth.office.staff import AuthError
from booth.sync.status import SyncStatus

# ------------------------------------------------------------------------------ events to the GUI / logs


@dataclass(frozen=True)
class LaneChanged:
    view: L.LaneView


@dataclass(frozen=True)
class BolinkChanged:
    online: bool
    reason: str


@dataclass(frozen=True)
class AlertRaised:
    """``kind`` is the headline (a code); ``message`` the detail in Chinese, ``detail`` the same as an
    "alert.*" phrase for a screen that translates (None for alerts raised with text only)."""

    lane_id: str | None
    kind: str
    message: str
    at: datetime
    detail: Phrase | None = None


@dataclass(frozen=True)
class GateCommanded:
    """Emitted when a gate command is sent (benchmarks measure payment result -> gate command)."""

    lane_id: str
    reason: str
    attempt: int
    at: datetime


@dataclass(frozen=True)
class SyncChanged:
    """The background sync changed in a way worth showing (backlog, dead letters, breaker, held)."""

    status: SyncStatus


EngineEvent = LaneChanged | BolinkChanged | AlertRaised | GateCommanded | SyncChanged
Listener = Callable[[EngineEvent], None]


class EngineError(Exception):
    """The engine could not start or was used wrongly; the message says why."""


class ExceptionRefused(L.LaneRuleError):
    """A free release or manual lift refused before it reached the lane: nothing happened, no gate moved.

    ``code`` says why: "reason_missing", "reason_too_long", "reason_not_listed", "note_too_long",
    "operator_missing", or (ApprovalError) an approval problem. The message (Chinese, like every lane
    rule) names the problem; ``phrase`` says it for a screen that translates ("refused.*" codes).
    """

    def __init__(self, code: str, said: Phrase | str) -> None:
        super().__init__(said)
        self.code = code
        self.message = str(self)


class ApprovalError(ExceptionRefused):
    """The reason needs a supervisor's approval and it was not given or not good. ``code`` is
    "approval_required" (no approver given) or the sign-in's own refusal ("unknown", "disabled", "locked",
    "wrong_pin", "not_supervisor", "bad_pin"), kept as ``auth`` with its tries left / lock-out end."""

    def __init__(self, code: str, said: Phrase | str, auth: AuthError | None = None) -> None:
        super().__init__(code, said)
        self.auth = auth


#: the longest reason (the lane_exceptions column) and free-text note an attendant may give
REASON_MAX = 64
NOTE_MAX = 200
