"""The lanes as pure state machines: ``handle(event) -> list[Command]``.

Every money and gate rule of a lane lives in this package and is tested without threads, network, a database
or Qt:

- only a payment result with ``state == 1`` pays; 0 is a failure, 2 is "still paying";
- a result for an order that is not the one waiting at this lane never opens this gate;
- a repeated result changes nothing;
- the gate opens for money only after the store has booked the payment as the one that settles this exit
  (``PaymentBooked(status="settled")``), so a paid order is never lost and never booked twice;
- every other lift (free release, manual lift, gate retry) needs an operator and a reason, and a free
  release or manual lift is recorded (``RecordException``, or with the release of its exit order) before its
  gate command: no record, no lift. Which reasons are allowed and who approved is checked by the engine
  before the event reaches the lane.

The machine never reads a clock: every event carries its time. The engine executes the commands in order
and feeds their results back as events.

Import the names from here (``from booth.domain import lane as L``; ``L.ExitLane``, ``L.PaymentResult``). The
modules, each building only on those above it:

- ``states``: ``LaneState``, ``LaneTimings``, ``LaneView`` (what the window shows), ``LaneRuleError``.
- ``events`` and ``commands``: what a lane hears (``LaneEvent``) and what it asks the engine to do
  (``LaneCommand``).
- ``base``: what both lanes share; the reason and note of an attendant's lift.
- ``entry``: ``EntryLane``.
- ``exit_base``, ``exit_payments``, ``exit_attendant``, ``exit``: ``ExitLane``, one machine written in parts
  over one state (``exit_base``): the money rules above are in ``exit_payments`` (results, cash, the booking
  that alone opens the gate for money), the recorded lifts in ``exit_attendant`` (and ``EntryLane``'s manual
  lift in ``entry``), and ``exit`` dispatches every event and holds the car's arrival, the gate, a failed
  store write (no record, no lift) and the timers.
"""

from booth.domain.lane.commands import (
    AdmitVehicle,
    Alert,
    BookPayment,
    CancelExitOrder,
    CloseStay,
    LaneCommand,
    LiftReason,
    OpenGate,
    QueryPayment,
    QuoteStay,
    RecordException,
    ReleaseExitOrder,
    RequestPayment,
)
from booth.domain.lane.entry import EntryLane
from booth.domain.lane.events import (
    LIFT_RECORDS,
    BolinkStatus,
    CancelExit,
    CashTaken,
    ClockStepped,
    EntryDecided,
    ExitResumed,
    FreeRelease,
    GateFailed,
    GateOpened,
    LaneEvent,
    ManualLift,
    PaidAwaitingCar,
    PaymentBooked,
    PaymentRequested,
    PaymentRequestFailed,
    PaymentResult,
    PlateCorrected,
    RetryPayment,
    StayNotFound,
    StayQuoted,
    StoreFailed,
    Superseded,
    Tick,
    VehicleDetected,
    VehicleLeft,
    VehiclePassed,
)
from booth.domain.lane.exit import ExitLane
from booth.domain.lane.states import (
    LaneRuleError,
    LaneState,
    LaneTimings,
    LaneView,
)

#: either lane
Lane = ExitLane | EntryLane

__all__ = [
    "LIFT_RECORDS",
    "AdmitVehicle",
    "Alert",
    "BolinkStatus",
    "BookPayment",
    "CancelExit",
    "CancelExitOrder",
    "CashTaken",
    "ClockStepped",
    "CloseStay",
    "EntryDecided",
    "EntryLane",
    "ExitLane",
    "ExitResumed",
    "FreeRelease",
    "GateFailed",
    "GateOpened",
    "Lane",
    "LaneCommand",
    "LaneEvent",
    "LaneRuleError",
    "LaneState",
    "LaneTimings",
    "LaneView",
    "LiftReason",
    "ManualLift",
    "OpenGate",
    "PaidAwaitingCar",
    "PaymentBooked",
    "PaymentRequestFailed",
    "PaymentRequested",
    "PaymentResult",
    "PlateCorrected",
    "QueryPayment",
    "QuoteStay",
    "RecordException",
    "ReleaseExitOrder",
    "RequestPayment",
    "RetryPayment",
    "StayNotFound",
    "StayQuoted",
    "StoreFailed",
    "Superseded",
    "Tick",
    "VehicleDetected",
    "VehicleLeft",
    "VehiclePassed",
]
