"""The engine: the composition root of a booth and the one thread-safe facade the window and the commands use.

``Engine`` starts the loop and the threads and hands each arrival to the part that owns it (see the README's
"How the code is laid out"). Import the facade and its events from here, not from the parts."""

from booth.engine.events import (
    NOTE_MAX,
    REASON_MAX,
    AlertRaised,
    ApprovalError,
    BolinkChanged,
    EngineError,
    EngineEvent,
    ExceptionRefused,
    GateCommanded,
    LaneChanged,
    SyncChanged,
)
from booth.engine.facade import Engine
from booth.sync.status import CloudStatus, LotLine, SyncStatus

__all__ = [
    "NOTE_MAX",
    "REASON_MAX",
    "AlertRaised",
    "ApprovalError",
    "BolinkChanged",
    "CloudStatus",
    "Engine",
    "EngineError",
    "EngineEvent",
    "ExceptionRefused",
    "GateCommanded",
    "LaneChanged",
    "LotLine",
    "SyncChanged",
    "SyncStatus",
]
