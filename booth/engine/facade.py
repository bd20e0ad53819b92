"""The engine: the composition root that runs the lanes.

One background thread runs an asyncio loop with the Bolink session (login, uploads, long poll), the outbox
relay, the gate drivers and the lane machines. A second thread owns the database (SQLite allows one writer;
a dedicated thread keeps every write off the loop and in order). The GUI and ``booth run --headless`` talk
to it only through the thread-safe methods below and receive plain immutable events through ``subscribe``.

The data flows one way: camera -> lane machine -> quote -> Bolink outpark/QR -> payment result -> booked in
the store -> gate -> stay closed (with its outbox rows) -> relay -> clouds. The GUI watches and commands;
it is never on the path between a payment result and the gate.

What reaches Alipay and Tmall is queued in the same transaction as the row it reports (an entry, a payment,
an exit); ``booth.sync.CloudSync`` drains it in the background and keeps the status ``sync_status`` returns.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import logging
import secrets
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from functools import partial
from pathlib import Path
from time import monotonic as _monotonic
from typing import TYPE_CHECKING, Any, Literal, ParamSpec, TypeVar

from booth.clouds.bolink import (
    BolinkClient,
    BolinkError,
    BolinkRefused,
    BolinkUnavailable,
    SignMismatch,
    background_traffic,
)
from booth.clouds.bolink_protocol import (
    DownstreamMessage,
    NolicenceInPark,
    OutparkResult,
    PrepayOrder,
    QueryPrice,
    UpdateBalance,
)
from booth.config import LaneSettings, Settings, config_warnings
from booth.devices.camera_reads import PlateRead, likely_plates
from booth.devices.gate_factory import make_gate
from booth.devices.gates import GateDriver, GateFault, GateRest, rest_gates, rest_until_done
from booth.devices.photos import PhotoError, PhotoStore
from booth.domain import lane as L
from booth.domain.money import format_yuan
from booth.domain.phrases import ParamValue, Phrase, say
from booth.domain.plates import PLATELESS_MARKERS, Plate, PlateColour, PlateError, PlateKind, parse_plate
from booth.domain.tariff import Quote, QuoteLine, TariffError, add_arrears, quote_fee, vehicle_class_for
from booth.office.shifts import Shifts
from booth.office.staff import AuthError, Staff
from booth.store import Database, OutboxItem, OutboxRecord, PaymentOutcome, Store, open_database
from booth.store.records import ExitInFlight, LaneExceptionItem, PaymentRecord, StayRecord
from booth.store.worker import DatabaseWorker, Priority
from booth.sync.outbox import OutboxRelay, SendResult, SendVerdict
from booth.sync.relays import CLOUDS, CloudSync, SyncStatus, compose_status, paid_by_alipay

if TYPE_CHECKING:
    from booth.devices.cameras import CameraListener

log = logging.getLogger("booth.engine")
T = TypeVar("T")
P = ParamSpec("P")
ExceptionKind = Literal["free_release", "manual_lift"]


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


_BOOKED_TRADES_KEPT = 10_000

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
#: alerts whose audit row the engine writes itself, with more detail than the lane's message
_AUDITED_WHERE_RAISED = frozenset({"payment_failed"})
_FAILED_RESULTS_KEPT = 1000
#: at a stop, a lane in these states finishes (up to _STOP_GRACE_S) before the engine's tasks are cancelled
_FINISH_BEFORE_STOP = frozenset({L.LaneState.SETTLING, L.LaneState.OPENING})
_STOP_GRACE_S = 3.0
#: a difference this large between the wall clock's advance and elapsed time is a step of the wall clock
CLOCK_STEP = timedelta(seconds=2)


def new_order_id(lane_id: str, at: datetime) -> str:
    """Bolink order ids: <= 48 chars of [A-Za-z0-9_], unique per stay in the park."""
    return f"{lane_id}_{at.astimezone(UTC):%Y%m%d%H%M%S}_{secrets.token_hex(4)}"


class Engine:
    """Runs the lanes in a background thread. Public methods are thread-safe and never block on I/O.

    Listeners are called on the engine thread; they must return quickly (the GUI bridge re-emits events
    as Qt signals; the headless runner logs them).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], datetime] | None = None,
        monotonic: Callable[[], float] | None = None,
        tick_s: float = 0.5,
    ) -> None:
        self.settings = settings
        self._clock = clock or _wall_clock
        #: steps of the wall clock (NTP correcting it) are told from elapsed time with this; a clock given by
        #: a test is its own truth, unless the test gives a monotonic clock too
        self._monotonic = monotonic or (_monotonic if clock is None else None)
        self._tick_s = tick_s
        self._listeners: list[Listener] = []
        self._listeners_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self._stop_requested: asyncio.Event | None = None
        self._db_executor = DatabaseWorker()
        self._database: Database | None = None
        self.store: Store | None = None
        self.lanes: dict[str, L.ExitLane | L.EntryLane] = {}
        self._lane_settings: dict[str, LaneSettings] = {lane.id: lane for lane in settings.lanes}
        self._lane_by_channel: dict[str, str] = {lane.channel_id: lane.id for lane in settings.lanes}
        self.gates: dict[str, GateDriver] = {}
        #: the listener the plate cameras push to ([cameras] enabled), and where their photos are kept
        self.cameras: CameraListener | None = None  # the listener, when [cameras] is enabled
        self.photos: PhotoStore | None = None
        self.bolink: BolinkClient | None = None
        self.sandbox: Any = None  # BolinkSandbox when bolink.base_url == "sandbox"
        self.bolink_online = False
        self._code_urls: dict[str, str] = {}
        #: trade numbers booked lately (the store's unique trade_no is the real guard; this only spares a
        #: repeat a trip to the database and decides the answer to Bolink), bounded for months of running
        self._booked_trades: OrderedDict[str, None] = OrderedDict()
        self._balances: dict[str, tuple[int, bool]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._shutting_down = False
        self._bolink_relay: OutboxRelay | None = None
        self.cloud_sync: CloudSync | None = None
        #: set once the Alipay/Tmall sync has started (or failed to; an alert says so) after the lanes
        self.sync_started = threading.Event()
        self._pay_company: OrderedDict[str, int | None] = OrderedDict()  # trade_no -> Bolink's pay_company
        self._views: dict[str, L.LaneView] = {}
        self._views_lock = threading.Lock()
        self.exits_completed = 0
        self._staff: Staff | None = None
        self._shifts: Shifts | None = None
        #: PIN checks and people/shift bookkeeping: never on the GUI thread, the loop or the DB worker
        self._office = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="booth-office")
        #: reports (seconds for a month): on a thread of their own, so an approval never queues behind one
        self._reports = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="booth-reports"
        )
        self._failed_results: OrderedDict[str, None] = OrderedDict()  # failed payments already recorded

    # ---------------------------------------------------------------------------- lifecycle (any thread)
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        with self._listeners_lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._listeners_lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def start(self, timeout: float = 30.0) -> None:
        """Start the engine thread; return when the lanes are ready. Raises EngineError if start fails."""
        if self._thread is not None:
            raise EngineError("engine already started")
        # The loop thread waits on the network and the gate; the database thread runs Python between its
        # SQLite calls. With CPython's default 5 ms GIL switch interval a payment result can wait that long
        # for the loop to get the GIL back; 0.5 ms halves the payment -> gate latency (benchmarks/).
        sys.setswitchinterval(min(sys.getswitchinterval(), 0.0005))
        self._thread = threading.Thread(target=self._thread_main, name="booth-engine", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise EngineError(f"engine did not become ready within {timeout} s")
        if self._start_error is not None:
            self._thread.join(timeout)
            raise EngineError(f"engine failed to start: {self._start_error}") from self._start_error

    def stop(self, timeout: float = 15.0) -> None:
        """Stop the loop, close devices and the database. Idempotent."""
        loop, thread = self._loop, self._thread
        if loop is not None and thread is not None and thread.is_alive() and self._stop_requested is not None:
            loop.call_soon_threadsafe(self._stop_requested.set)
            thread.join(timeout)
            if thread.is_alive():
                log.error("engine thread did not stop within %s s", timeout)
        self._office.shutdown(wait=True, cancel_futures=True)
        self._reports.shutdown(wait=True, cancel_futures=True)
        self._db_executor.shutdown(wait=True)

    @property
    def staff(self) -> Staff:
        """The people and their PINs (call it through ``office``: PIN checks are slow on purpose)."""
        if self._staff is None:
            raise EngineError("engine is not running: no staff yet")
        return self._staff

    @property
    def database(self) -> Database:
        """The open database, for readers that run on the office thread (reports)."""
        if self._database is None:
            raise EngineError("engine is not running: no database yet")
        return self._database

    @property
    def shifts(self) -> Shifts:
        """The shifts (call it through ``office``)."""
        if self._shifts is None:
            raise EngineError("engine is not running: no shifts yet")
        return self._shifts

    def office(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> concurrent.futures.Future[T]:
        """Run ``fn`` on the engine's one office thread ("booth-office"): sign-ins, people and shifts, whose
        scrypt and database work must wait neither the GUI, the engine loop nor the database worker."""
        try:
            return self._office.submit(fn, *args, **kwargs)
        except RuntimeError as exc:  # shut down with the engine
            raise EngineError(f"the office thread has stopped: {exc}") from None

    def reports(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> concurrent.futures.Future[T]:
        """Run ``fn`` on the engine's reports thread ("booth-reports"): a month's report takes seconds, and
        sign-ins and lift approvals on the office thread must not wait for it."""
        try:
            return self._reports.submit(fn, *args, **kwargs)
        except RuntimeError as exc:  # shut down with the engine
            raise EngineError(f"the reports thread has stopped: {exc}") from None

    def now(self) -> datetime:
        return self._clock()

    def snapshot(self) -> list[L.LaneView]:
        with self._views_lock:
            return [self._views[lane.id] for lane in self.settings.lanes if lane.id in self._views]

    def sync_status(self) -> SyncStatus:
        """The background sync at a glance (per cloud: backlog, oldest item, dead letters with their
        reasons, breaker). Any thread; never waits: the engine refreshes it every ``sync.status_every_s``
        and after each change (announced as SyncChanged). Before the engine runs, every count is 0."""
        sync = self.cloud_sync
        if sync is None:
            s = self.settings
            enabled = {"bolink": True, "alipay": s.alipay is not None, "tmall": s.tmall is not None}
            return compose_status(self._clock(), {}, [], {}, enabled)
        return sync.status

    def requeue_dead(
        self, cloud: str | None = None, operator: str = "supervisor"
    ) -> concurrent.futures.Future[int]:
        """Give dead letters (of one cloud, or all) a fresh start, after the supervisor fixed the cause.
        The Future gives how many rows were requeued; the requeue is audited."""
        if cloud is not None and cloud not in CLOUDS:
            raise EngineError(f"no cloud {cloud!r}; one of {', '.join(CLOUDS)}")
        return self._call(self._requeue_dead(cloud, operator))

    # ------------------------------------------------------------------- commands (thread-safe, any thread)
    def vehicle_at(
        self,
        lane_id: str,
        plate_text: str,
        colour: PlateColour | str | int | None = None,
        *,
        confidence: int | None = None,
        photo: str | None = None,
    ) -> concurrent.futures.Future[None]:
        """A camera read a plate at a lane. An unreadable plate raises PlateError; nothing happens."""
        return self._call(self.vehicle_at_async(lane_id, plate_text, colour, confidence, photo))

    def cash(self, lane_id: str, tendered_fen: int, operator: str) -> concurrent.futures.Future[None]:
        return self._lane_command(lane_id, lambda at: L.CashTaken(tendered_fen, operator, at))

    def free_release(
        self,
        lane_id: str,
        reason: str,
        operator: str,
        note: str = "",
        approver: tuple[str, str] | None = None,
    ) -> concurrent.futures.Future[None]:
        """Let the car at the lane out without paying. ``reason`` from [exceptions] free_release_reasons
        (or typed, when free_text_allowed), ``note`` free text, ``approver`` a supervisor's (username,
        PIN), needed when the reason is in approval_required. The future fails with ExceptionRefused /
        ApprovalError (nothing happens) or LaneRuleError (the lane cannot do it now)."""
        return self._exception_command("free_release", lane_id, reason, operator, note, approver)

    def manual_lift(
        self,
        lane_id: str,
        reason: str,
        operator: str,
        note: str = "",
        approver: tuple[str, str] | None = None,
    ) -> concurrent.futures.Future[None]:
        """Lift the barrier by hand; as ``free_release``, with [exceptions] manual_lift_reasons."""
        return self._exception_command("manual_lift", lane_id, reason, operator, note, approver)

    def retry_payment(self, lane_id: str, operator: str) -> concurrent.futures.Future[None]:
        return self._lane_command(lane_id, lambda at: L.RetryPayment(operator, at))

    def cancel(self, lane_id: str, operator: str) -> concurrent.futures.Future[None]:
        return self._lane_command(lane_id, lambda at: L.CancelExit(operator, at))

    def vehicle_left(self, lane_id: str) -> concurrent.futures.Future[None]:
        return self._lane_command(lane_id, lambda at: L.VehicleLeft(at))

    def vehicle_passed(self, lane_id: str) -> concurrent.futures.Future[None]:
        return self._lane_command(lane_id, lambda at: L.VehiclePassed(at))

    def correct_plate(
        self, lane_id: str, plate_text: str, operator: str, colour: PlateColour | str | None = None
    ) -> concurrent.futures.Future[None]:
        plate = parse_plate(
            plate_text, colour
        )  # raises PlateError in the caller's thread: nothing reaches us
        return self._lane_command(lane_id, lambda at: L.PlateCorrected(plate, operator, at))

    def seed_stay(
        self, plate_text: str, entry_at: datetime, lane_id: str | None = None
    ) -> concurrent.futures.Future[int]:
        """Simulator/training: a vehicle that entered earlier (no entry lane saw it in this session)."""
        return self._call(self.seed_stay_async(plate_text, entry_at, lane_id))

    def call(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Run a coroutine on the engine loop (tests, simulator)."""
        return self._call(coro)

    def _call(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        loop = self._loop
        if loop is None or not self._ready.is_set():
            coro.close()
            raise EngineError("engine is not running")
        return asyncio.run_coroutine_threadsafe(coro, loop)

    def _lane_command(
        self, lane_id: str, make: Callable[[datetime], L.LaneEvent]
    ) -> concurrent.futures.Future[None]:
        if lane_id not in self._lane_settings:
            raise EngineError(f"no lane {lane_id!r}")

        async def run() -> None:
            await self.dispatch(lane_id, make(self._clock()))

        return self._call(run())

    def _exception_command(
        self,
        kind: ExceptionKind,
        lane_id: str,
        reason: str,
        operator: str,
        note: str,
        approver: tuple[str, str] | None,
    ) -> concurrent.futures.Future[None]:
        if lane_id not in self._lane_settings:
            raise EngineError(f"no lane {lane_id!r}")
        return self._call(self._lane_exception(kind, lane_id, reason, operator, note, approver))

    async def _lane_exception(
        self,
        kind: ExceptionKind,
        lane_id: str,
        reason: str,
        operator: str,
        note: str,
        approver: tuple[str, str] | None,
    ) -> None:
        """Check the reason and the approval, then hand the decision to the lane. Nothing reaches the lane
        (no record, no gate) unless both are good."""
        reason, note = self._checked_exception(kind, reason, operator, note)
        lane = self.lanes.get(lane_id)
        asked_for = _car_at(lane.view()) if lane is not None else None
        forgoes_arrears = lane is not None and any(
            line.phrase is not None and line.phrase.code == "tariff.arrears" for line in lane.view().lines
        )
        approved_by = await self._approval(kind, reason, operator, approver, forgoes_arrears=forgoes_arrears)
        if lane is not None and _car_at(lane.view()) != asked_for:
            # The PIN check took a while (scrypt, on the office thread): the approval was given for the car
            # that was there when the attendant asked, never for the one there now.
            raise ExceptionRefused("car_changed", say("refused.car_changed", action=say(f"action.{kind}")))
        at = self._clock()
        event: L.FreeRelease | L.ManualLift
        if kind == "free_release":
            event = L.FreeRelease(reason, operator, at, note=note, approved_by=approved_by)
        else:
            event = L.ManualLift(reason, operator, at, note=note, approved_by=approved_by)
        await self.dispatch(lane_id, event)

    def _checked_exception(
        self, kind: ExceptionKind, reason: str, operator: str, note: str
    ) -> tuple[str, str]:
        """The reason and note as recorded; ExceptionRefused names what is wrong with them."""
        what = say(f"action.{kind}")
        if not isinstance(reason, str) or not reason.strip():
            raise ExceptionRefused("reason_missing", say("refused.reason_missing", action=what))
        if not isinstance(operator, str) or not operator.strip():
            raise ExceptionRefused("operator_missing", say("refused.operator_missing", action=what))
        if not isinstance(note, str):
            raise ExceptionRefused("note_too_long", say("refused.note_not_text", action=what))
        reason, note = reason.strip(), note.strip()
        if len(reason) > REASON_MAX:
            raise ExceptionRefused(
                "reason_too_long",
                say("refused.reason_too_long", action=what, max=REASON_MAX, length=len(reason)),
            )
        if len(note) > NOTE_MAX:
            raise ExceptionRefused(
                "note_too_long", say("refused.note_too_long", action=what, max=NOTE_MAX, length=len(note))
            )
        listed = self._reasons(kind)
        if not self.settings.exceptions.free_text_allowed and reason not in listed:
            raise ExceptionRefused(
                "reason_not_listed",
                say("refused.reason_not_listed", reason=reason, action=what, listed=tuple(listed)),
            )
        return reason, note

    def _reasons(self, kind: ExceptionKind) -> tuple[str, ...]:
        ex = self.settings.exceptions
        return ex.free_release_reasons if kind == "free_release" else ex.manual_lift_reasons

    async def _approval(
        self,
        kind: ExceptionKind,
        reason: str,
        operator: str,
        approver: tuple[str, str] | None,
        *,
        forgoes_arrears: bool = False,
    ) -> str | None:
        """The supervisor who approved, checked on the office thread (scrypt is slow on purpose). Needed
        when the reason is in approval_required, or the lift forgoes arrears (arrears_waiver_needs_approval);
        an approver given anyway is checked too, so a recorded approval is always a real one."""
        ex = self.settings.exceptions
        # a typed reason could be any wording of a listed one ("经理批准!"): it needs a supervisor too
        typed = reason not in self._reasons(kind)
        needed = reason in ex.approval_required or (typed and ex.typed_reasons_need_approval)
        needed = needed or (forgoes_arrears and ex.arrears_waiver_needs_approval)
        what = say(f"action.{kind}")
        if approver is None:
            if needed:
                refused = say("refused.approval_required", reason=reason, action=what)
                raise ApprovalError("approval_required", refused)
            return None
        if (
            not isinstance(approver, tuple)
            or len(approver) != 2
            or not all(isinstance(part, str) for part in approver)
        ):
            raise ApprovalError("bad_pin", say("refused.approver_malformed"))
        username, pin = approver
        if username == operator:
            refused = say("refused.self_approval", username=username, action=what)
            raise ApprovalError("self_approval", refused)
        try:
            person = await asyncio.wrap_future(
                self.office(self.staff.authenticate, username, pin, role="supervisor")
            )
        except AuthError as exc:
            refused = say("refused.approval_failed", username=username, error=exc.message)
            raise ApprovalError(exc.code, refused, exc) from exc
        return person.username

    def _after_exception(self, record: L.RecordException) -> None:
        """Recorded: check the shift's limit in the background (the gate does not wait for it)."""
        self._spawn(self._check_exception_limit(record), f"exception-limit-{record.lane_id}")

    async def _check_exception_limit(self, record: L.RecordException) -> None:
        """Alert the supervisor (``exception_limit``) on each exception past the shift's limit. The shift
        is the open one; with none open, the count runs from the lot's local midnight."""
        ex = self.settings.exceptions
        kind = record.kind
        limit = ex.max_free_releases_per_shift if kind == "free_release" else ex.max_manual_lifts_per_shift
        if limit == 0:
            return
        store, shifts, zone = self._store, self.shifts, self.settings.park.zone

        def work() -> tuple[int | None, str | None, datetime, int]:
            shift = shifts.current()
            if shift is not None:
                since = shift.opened_at
            else:
                local = record.at.astimezone(zone)
                since = datetime.combine(local.date(), time(0), tzinfo=zone).astimezone(UTC)
            count = store.count_lane_exceptions(kind, since=since)
            return (shift.id if shift else None), (shift.attendant if shift else None), since, count

        try:
            shift_id, attendant, since, count = await self._db(work, Priority.BACKGROUND)
        except Exception:
            log.exception("%s: the %s limit could not be checked", record.lane_id, kind)
            return
        if count <= limit:
            return
        what = say(f"action.{kind}")
        facts: dict[str, ParamValue] = {
            "count": count,
            "limit": limit,
            "operator": record.operator,
            "reason": record.reason,
        }
        if shift_id is not None:
            said = say("alert.exception_limit_shift", attendant=attendant or "", action=what, **facts)
        else:
            said = say("alert.exception_limit_day", action=what, **facts)
        message = said.text
        log.warning("alert exception_limit on %s: %s", record.lane_id, message)
        self._emit(AlertRaised(record.lane_id, "exception_limit", message, record.at, said))
        detail = {
            "kind": kind,
            "count": count,
            "limit": limit,
            "shift_id": shift_id,
            "attendant": attendant,
            "since": since.isoformat(),
            "lane_id": record.lane_id,
            "operator": record.operator,
            "reason": record.reason,
            "message": message,
        }
        try:
            await self._db(
                lambda: store.audit(
                    actor=f"lane:{record.lane_id}", action="exception_limit", detail=detail, at=record.at
                ),
                Priority.BACKGROUND,
            )
        except Exception:
            log.exception("%s: the exception_limit alert could not be audited", record.lane_id)

    # ------------------------------------------------------------------------------- the engine thread
    def _thread_main(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:  # pragma: no cover - last resort, logged for the operator
            log.exception("engine thread crashed")
            if not self._ready.is_set():
                self._start_error = exc
                self._ready.set()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _main(self) -> None:
        self._stop_requested = asyncio.Event()
        try:
            await self._startup()
        except BaseException as exc:
            self._start_error = exc
            self._ready.set()
            await self._shutdown()
            return
        self._ready.set()
        try:
            await self._stop_requested.wait()
        finally:
            await self._shutdown()

    async def _startup(self) -> None:
        s = self.settings
        in_flight: list[ExitInFlight] = []

        def open_and_recover() -> Database:
            database = open_database(s.database.url)
            # what the last run left unfinished, read before any lane of this run can open an exit order
            in_flight.extend(Store(database).exits_in_flight())
            return database

        # the database opens (and, new, migrates) on its thread while this loop starts the rest
        opening = asyncio.ensure_future(self._db(open_and_recover, Priority.MONEY))
        try:
            await self._start_lanes_and_bolink()
        finally:
            self._database = await opening
        self.store = Store(self._database)
        self._staff = Staff(self._database, s.staff, clock=self._clock)
        self._shifts = Shifts(self._database, s.shifts, self._staff, clock=self._clock)
        await self._record_gate_rests()
        self._start_background(in_flight)

    async def _start_lanes_and_bolink(self) -> None:
        s = self.settings
        timings_for = {
            lane.id: L.LaneTimings(
                payment_timeout=timedelta(seconds=lane.payment_timeout_s),
                pass_timeout=timedelta(seconds=lane.pass_timeout_s),
                query_start=timedelta(seconds=s.bolink.query_start_s),
                query_every=timedelta(seconds=s.bolink.query_every_s),
                query_stop=timedelta(seconds=s.bolink.query_stop_s),
            )
            for lane in s.lanes
        }
        for lane in s.lanes:
            cls = L.ExitLane if lane.direction == "exit" else L.EntryLane
            self.lanes[lane.id] = cls(lane.id, lane.name, lane.channel_id, timings_for[lane.id])
            self.gates[lane.id] = make_gate(lane.gate, lane.id)
            self._publish_view(lane.id)
        # a booth killed mid-pulse left a relay ON: every gate goes to rest before any lane acts on a car
        self._gate_rests: dict[str, GateRest] = await rest_gates(self.gates)
        base_url = None
        if s.bolink.is_sandbox:
            from booth.sandbox.bolink_cloud import BolinkSandbox

            self.sandbox = BolinkSandbox(
                union_id=s.bolink.union_id,
                park_id=s.bolink.park_id,
                ukey=s.bolink.ukey.get_secret_value(),
                port=s.bolink.sandbox_port,
                autopay_after_s=s.bolink.sandbox_autopay_s,
                rate_limit=max(100, s.bolink.request_budget_per_10s + 10),
            )
            await self.sandbox.start()
            base_url = self.sandbox.base_url
            log.info("Bolink sandbox listening at %s", base_url)
        self.bolink = BolinkClient(s.bolink, base_url=base_url, on_sign_mismatch=self._on_sign_mismatch)
        if s.cameras.enabled:
            self.photos = PhotoStore(
                s.cameras.photo_path, keep=s.cameras.photo_keep, keep_days=s.cameras.photo_keep_days
            )
            # imported here: its HTTP server (aiohttp) costs ~190 ms of start-up a booth without cameras skips
            from booth.devices.cameras import CameraListener

            self.cameras = CameraListener(s.cameras, s.lanes, self, self.gates, self._clock, zone=s.park.zone)
            await self.cameras.start()

    async def _record_gate_rests(self) -> None:
        """Record each relay driven to rest at start (audit "gate_rest", what a supervisor reads after a
        crash). A gate that did not answer is a gate fault alert on its lane, not a booth that does not
        start; it is tried again in the background until its board answers."""
        for lane_id, rest in self._gate_rests.items():
            at = self._clock()
            if rest.error is not None:
                failed: dict[str, str | int] = {"gate": rest.gate, "outcome": "failed", "error": rest.error}
                await self._record_gate_rest(lane_id, failed)
                said = say("alert.gate_fault", lane_id=lane_id, error=f"not at rest at start: {rest.error}")
                try:
                    await self._said(lane_id, "gate_fault", said, at)
                except Exception:
                    log.exception("%s: the gate's rest fault could not be audited", lane_id)
                self._spawn(self._rest_later(lane_id), f"gate-rest-{lane_id}")
            elif rest.wrote:
                await self._record_gate_rest(lane_id, {"gate": rest.gate, "outcome": "rested"})

    async def _rest_later(self, lane_id: str) -> None:
        gate = self.gates[lane_id]
        tries = await rest_until_done(gate)
        log.info("%s: %s driven to rest (relay OFF) after %d more tries", lane_id, gate.name, tries)
        await self._record_gate_rest(lane_id, {"gate": gate.name, "outcome": "rested", "retries": tries})

    async def _record_gate_rest(self, lane_id: str, detail: dict[str, str | int]) -> None:
        store, at = self._store, self._clock()
        try:
            await self._db(
                lambda: store.audit(actor=f"lane:{lane_id}", action="gate_rest", detail=detail, at=at),
                Priority.BACKGROUND,
            )
        except Exception:
            log.exception("%s: the gate's rest could not be recorded", lane_id)

    def _start_background(self, in_flight: list[ExitInFlight]) -> None:
        s = self.settings
        for warning in config_warnings(s):
            self._sync_alert("config_warning", warning)
        assert self.store is not None and self.bolink is not None
        sync = self.cloud_sync = CloudSync(
            s,
            self.store,
            self._db_executor,
            clock=self._clock,
            on_alert=self._sync_alert,
            on_status=lambda status: self._emit(SyncChanged(status)),
        )
        # before Bolink's results are heard: a result for a resumed exit must find its lane waiting
        self._resume_exits(in_flight)
        self._bolink_relay = OutboxRelay(
            "bolink",
            self.store,
            self._db_executor,
            self._send_bolink,
            clock=self._clock,
            on_state=lambda state: sync.poke(),
        )
        sync.watch(self._bolink_relay)
        # Alipay and Tmall start after the lanes are ready (their clients and, in sandbox mode, emulators
        # with fresh keys take a few hundred ms): the lanes never wait for them. Their rows are queued
        # from the first car on either way.
        self._spawn(self._start_sync(sync), "sync-start")
        self._spawn(
            self.bolink.run_downstream(self._on_downstream, self._on_bolink_status), "bolink-downstream"
        )
        self._spawn(self._bolink_relay.run(), "bolink-relay")
        self._spawn(self._tick_loop(), "lane-ticks")
        if self.cameras is not None:
            self._spawn(self.cameras.watch(), "camera-heartbeats")
        if s.simulator.enabled:
            from booth.sandbox.camera import SimulatedCamera

            camera = SimulatedCamera(self, s.simulator, province=s.park.province)
            self._spawn(camera.run(), "simulated-camera")
        log.info("engine ready: %d lane(s), database %s", len(self.lanes), s.database.url)

    def _resume_exits(self, in_flight: list[ExitInFlight]) -> None:
        """Take up what the last run left unfinished, with nobody at the screen (see ExitInFlight):

        - an exit still awaiting payment is resumed at its lane (the latest per lane; older ones, and those of
          lanes this booth no longer has, are cancelled, so money for them counts for the stay): the QR again,
          and query_order at once, so a car paid during the crash leaves within a second or two;
        - a paid (or released) exit whose gate opened: the car has gone (or passes now): its stay is closed;
        - a paid exit whose gate never opened: the gate opens when the car is read at that lane again, and
          the attendant is told of it meanwhile ("paid, not yet out"); a released one is only told.
        """
        at = self._clock()
        resumed: dict[str, ExitInFlight] = {}
        for item in in_flight:
            lane = self.lanes.get(item.order.lane_id)
            if item.order.state == "awaiting":
                if isinstance(lane, L.ExitLane):
                    earlier = resumed.get(item.order.lane_id)
                    if earlier is not None:
                        self._spawn(self._cancel_order(earlier.order.id, at), "recover-cancel")
                    resumed[item.order.lane_id] = item
                else:
                    self._spawn(self._cancel_order(item.order.id, at), "recover-cancel")
            elif item.lifted_at is not None:
                lift_lane = item.lifted_lane or item.order.lane_id
                log.info("stay %s was let out before a restart: closed now", item.stay.order_id)
                close = L.CloseStay(item.stay.id, item.lifted_at)
                self._spawn(self._close_stay(lift_lane, close), "recover-close")
            else:
                code = "alert.paid_not_out"
                if item.order.state == "paid" and isinstance(lane, L.ExitLane):
                    lane.handle(L.PaidAwaitingCar(item.stay.plate, item.stay.id, at))
                elif item.order.state == "released":
                    code = "alert.released_not_out"  # the attendant's decision: theirs to make again
                said = say(code, plate=item.stay.plate, lane_id=item.order.lane_id)
                self._spawn(self._said(item.order.lane_id, "paid_not_out", said, at), "recover-alert")
        for lane_id, item in resumed.items():
            try:
                quote = _quote_from_json(item.order.quote_json, item.order.due_fen)
            except EngineError as exc:
                log.warning("%s: exit order %s cannot be resumed: %s", lane_id, item.order.id, exc)
                self._spawn(self._cancel_order(item.order.id, at), "recover-cancel")
                continue
            event = L.ExitResumed(
                _stored_plate(item.stay.plate),
                item.stay.id,
                item.stay.order_id,
                item.order.id,
                item.stay.entry_at,
                quote,
                at,
                item.stay.entry_lane,
            )
            log.info("%s: resuming the exit of %s left by the last run", lane_id, item.stay.plate)
            self._spawn(self.dispatch(lane_id, event), f"resume-{lane_id}")

    async def _cancel_order(self, exit_order_id: int, at: datetime) -> None:
        store = self._store
        await self._db(lambda: store.cancel_exit_order(exit_order_id, at=at), Priority.MONEY)

    async def _start_sync(self, sync: CloudSync) -> None:
        try:
            await sync.start()
            for name, job in sync.tasks():
                self._spawn(job, name)
        except Exception as exc:
            log.exception("the Alipay/Tmall sync could not start")
            said = say("alert.sync_start_failed", error=str(exc))
            await self._said(None, "sync_start_failed", said, self._clock())
        finally:
            self.sync_started.set()

    async def _shutdown(self) -> None:
        # a payment being booked or a gate moving finishes first (bounded): a stop mid-pulse left the relay
        # ON and the stay of a car that was let out open
        deadline = asyncio.get_running_loop().time() + _STOP_GRACE_S
        while any(lane.state in _FINISH_BEFORE_STOP for lane in self.lanes.values()):
            if asyncio.get_running_loop().time() > deadline:
                log.warning("stopping with a lane still booking or opening its gate")
                break
            await asyncio.sleep(0.02)
        self._shutting_down = True  # from now on nothing new is spawned
        while self._tasks:  # a task being cancelled may have spawned another just before
            tasks = list(self._tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        await rest_gates(self.gates)  # and every relay is left at rest (OFF)
        for gate in self.gates.values():
            try:
                await gate.aclose()
            except Exception:
                log.exception("closing gate %s", gate.name)
        if self.cameras is not None:
            await self.cameras.stop()
        if self.bolink is not None:
            await self.bolink.aclose()
        if self.cloud_sync is not None:
            await self.cloud_sync.aclose()
        if self.sandbox is not None:
            await self.sandbox.stop()
        # a sign-in under way finishes before its database closes; queued office work is dropped
        await asyncio.to_thread(self._office.shutdown, wait=True, cancel_futures=True)
        await asyncio.to_thread(self._reports.shutdown, wait=True, cancel_futures=True)
        if self._database is not None:
            database = self._database
            await self._db(database.close)
        log.info("engine stopped")

    def _spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any] | None:
        if self._shutting_down:
            coro.close()
            log.debug("not starting %s: the engine is stopping", name)
            return None
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("task %s failed", task.get_name(), exc_info=task.exception())

    async def _db(self, fn: Callable[[], T], priority: Priority = Priority.LANE) -> T:
        """Run a store call on the database thread (money first, then lanes, then bookkeeping)."""
        return await asyncio.wrap_future(self._db_executor.submit_at(priority, fn))

    def _emit(self, event: EngineEvent) -> None:
        with self._listeners_lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(event)
            except Exception:
                log.exception("listener failed on %r", event)

    def _publish_view(self, lane_id: str) -> None:
        view = self.lanes[lane_id].view()
        with self._views_lock:
            if self._views.get(lane_id) == view:
                return
            self._views[lane_id] = view
        self._emit(LaneChanged(view))

    # ---------------------------------------------------------------------------------- dispatching
    async def dispatch(self, lane_id: str, event: L.LaneEvent) -> None:
        """Feed one event to a lane and execute its commands in order (engine thread only).

        LaneRuleError (an attendant command that is not allowed now) propagates to the caller's future.
        """
        lane = self.lanes[lane_id]
        commands = lane.handle(event)
        self._publish_view(lane_id)
        if isinstance(event, L.VehicleDetected) and not commands:
            log.info(
                "%s: read of %s ignored: %s (lane %s)",
                lane_id,
                event.plate.text,
                "the car being handled" if lane.view().plate == event.plate.text else "it has just passed",
                lane.state,
            )
        if not isinstance(event, L.Tick) and log.isEnabledFor(logging.DEBUG):
            log.debug("%s: %s -> %s", lane_id, type(event).__name__, [type(c).__name__ for c in commands])
        for command in commands:
            if not await self._execute(lane_id, command):
                break  # a store write failed: nothing after it (e.g. a gate) may run

    async def _execute(self, lane_id: str, cmd: L.LaneCommand) -> bool:
        """Run one command. Returns False when a store write failed (the lane was told)."""
        try:
            match cmd:
                case L.QuoteStay():
                    await self._quote(lane_id, cmd)
                case L.AdmitVehicle():
                    await self._admit(lane_id, cmd)
                case L.RequestPayment():
                    self._spawn(self._request_payment(lane_id, cmd), f"outpark-{lane_id}")
                case L.QueryPayment():
                    self._spawn(self._query_payment(cmd), f"query-{lane_id}")
                case L.BookPayment():
                    await self._book(lane_id, cmd)
                case L.ReleaseExitOrder():
                    await self._release(lane_id, cmd)
                    if cmd.exception is not None:
                        self._after_exception(cmd.exception)
                case L.RecordException():
                    item = _exception_item(cmd)
                    store = self._store
                    await self._db(lambda: store.record_lane_exception(item))
                    self._after_exception(cmd)
                case L.CancelExitOrder():
                    store = self._store
                    await self._db(lambda: store.cancel_exit_order(cmd.exit_order_id, at=cmd.at))
                case L.OpenGate():
                    self._spawn(self._open_gate(lane_id, cmd), f"gate-{lane_id}")
                case L.CloseStay():
                    await self._close_stay(lane_id, cmd)
                case L.Alert():
                    audit = cmd.kind not in _AUDITED_WHERE_RAISED
                    await self._alert(lane_id, cmd.kind, cmd.message, cmd.at, audit=audit, detail=cmd.detail)
        except Exception as exc:
            log.exception("%s: %s failed", lane_id, type(cmd).__name__)
            if isinstance(cmd, L.Alert):
                return True  # an audit row that could not be written must not stop the lane
            await self.dispatch(
                lane_id, L.StoreFailed(type(cmd).__name__, str(exc) or repr(exc), self._clock())
            )
            return False
        return True

    @property
    def _store(self) -> Store:
        if self.store is None:
            raise EngineError("store not open")
        return self.store

    # ------------------------------------------------------------------------------------ the commands
    async def vehicle_at_async(
        self,
        lane_id: str,
        plate_text: str,
        colour: PlateColour | str | int | None = None,
        confidence: int | None = None,
        photo: str | None = None,
    ) -> None:
        if lane_id not in self.lanes:
            raise EngineError(f"no lane {lane_id!r}")
        at = self._clock()
        try:
            plate = parse_plate(plate_text, colour)
        except PlateError as exc:
            said = say("alert.plate_unreadable", text=repr(plate_text), error=str(exc))
            await self._said(lane_id, "plate_unreadable", said, at)
            raise
        await self.dispatch(lane_id, L.VehicleDetected(plate, at, confidence, photo))

    # ----------------------------------------------------------------------- plate cameras (CameraSink)
    async def camera_read(self, read: PlateRead) -> None:
        """A camera read a plate at a lane: keep the photo, hand the plate to the lane, flag a doubtful
        read for the attendant and queue the photo for Bolink. Never raises (the listener must answer)."""
        lane_id, at = read.lane_id, self._clock()
        text = read.plate_text.strip()
        if text in PLATELESS_MARKERS or "无牌" in text or "无车牌" in text:
            await self._said(lane_id, "plateless", say("alert.plateless", source=read.source), at)
            return
        photo = await self._store_photo(lane_id, text, read.image or read.crop, at)
        try:
            await self.vehicle_at_async(lane_id, text, read.colour, read.confidence, photo)
        except PlateError:
            return  # vehicle_at_async raised the plate_unreadable alert
        except Exception:
            log.exception("%s: the read %s from %s could not be handled", lane_id, text, read.source)
            return
        view = self.lanes[lane_id].view()
        threshold = self.settings.cameras.low_confidence
        if read.confidence is not None and read.confidence < threshold:
            plate = view.plate or text
            try:
                matches = likely_plates(plate, await self.plates_in_lot())
            except Exception:
                log.exception("%s: could not list the plates in the lot", lane_id)
                matches = []
            if matches:
                said = say(
                    "alert.plate_low_confidence",
                    plate=plate,
                    confidence=read.confidence,
                    plates=tuple(matches),
                )
            else:
                said = say("alert.plate_low_confidence_none", plate=plate, confidence=read.confidence)
            await self._said(lane_id, "plate_low_confidence", said, at)
        if self.settings.cameras.upload_photos and view.order_id:
            upload = await self._photo_to_upload(read, view.plate or text, photo, at)
            if upload is not None:
                await self._queue_carpic(lane_id, view.order_id, view.plate or text, upload, at)

    async def _photo_to_upload(
        self, read: PlateRead, plate: str, photo: str | None, at: datetime
    ) -> str | None:
        """The scene if small enough for Bolink, else the plate crop (kept as a photo too), else none."""
        limit = self.settings.cameras.upload_max_bytes
        if photo is not None and read.image is not None and len(read.image) <= limit:
            return photo
        if read.crop is not None and len(read.crop) <= limit:
            if read.image is None:
                return photo  # the crop is the stored photo
            return await self._store_photo(read.lane_id, f"{plate}crop", read.crop, at)
        if photo is not None:
            log.info("%s: photo of %s not sent to Bolink: larger than upload_max_bytes", read.lane_id, plate)
        return None

    async def _store_photo(self, lane_id: str, plate: str, data: bytes | None, at: datetime) -> str | None:
        photos = self.photos
        if photos is None or not data:
            return None
        try:
            stored = await asyncio.to_thread(photos.save, lane_id, plate, data, at)
        except PhotoError as exc:
            log.warning("%s: photo of %s not kept: %s", lane_id, plate, exc)
            return None
        return str(stored.path)

    async def _queue_carpic(self, lane_id: str, order_id: str, plate: str, photo: str, at: datetime) -> None:
        """The photo goes to Bolink in the background; the row names the file (read when sent)."""
        store = self._store
        item = OutboxItem(
            cloud="bolink",
            kind="upload_carpic",
            payload={
                "order_id": order_id,
                "car_number": plate,
                "create_time": int(at.timestamp()),
                "park_order_type": "in" if self.lanes[lane_id].direction == "entry" else "out",
                "picture_source": "order",
                "pic_type": "jpg" if photo.endswith(".jpg") else "png",
                "photo": photo,
            },
            dedupe_key=f"bolink:carpic:{order_id}:{int(at.timestamp() * 1000)}",
        )
        try:
            await self._db(lambda: store.enqueue([item]), Priority.BACKGROUND)
        except Exception:
            log.exception("%s: the photo upload of %s could not be queued", lane_id, order_id)
            return
        self._wake_relays(bolink=True)

    async def camera_left(self, lane_id: str, source: str) -> None:
        """The camera saw the car turn back."""
        log.info("%s: %s says the car turned back", lane_id, source)
        try:
            await self.dispatch(lane_id, L.VehicleLeft(self._clock()))
        except L.LaneRuleError as exc:
            log.info("%s: turned back ignored: %s", lane_id, exc)
        except Exception:
            log.exception("%s: turned back could not be handled", lane_id)

    async def camera_record(self, lane_id: str, action: str, detail: dict[str, object]) -> None:
        store, at = self._store, self._clock()
        try:
            await self._db(
                lambda: store.audit(actor=f"camera:{lane_id}", action=action, detail=detail, at=at),
                Priority.BACKGROUND,
            )
        except Exception:
            log.exception("%s: could not record %s", lane_id, action)

    async def camera_alert(self, lane_id: str, kind: str, said: Phrase) -> None:
        try:
            await self._alert(lane_id, kind, said.text, self._clock(), detail=said)
        except Exception:
            log.exception("%s: could not record the alert %s", lane_id, kind)

    async def _quote(self, lane_id: str, cmd: L.QuoteStay) -> None:
        store, tariff, zone = self._store, self.settings.tariff, self.settings.park.zone

        def work() -> L.StayQuoted | L.StayNotFound:
            stay = store.open_stay_for_plate(cmd.plate.text)
            if stay is None:
                return L.StayNotFound(cmd.plate, cmd.at)
            payments = store.counted_payments(stay.id)
            quote = quote_fee(
                tariff,
                plate=cmd.plate.text,
                colour=str(stay.plate_colour or cmd.plate.colour),
                entry=stay.entry_at,
                exit=cmd.at,
                tz=zone,
                paid_fen=sum(fen for _, fen in payments),
                payments=payments,
            )
            arrears = store.open_arrears(cmd.plate.text)
            if arrears:
                quote = add_arrears(quote, [a.amount_fen for a in arrears])
                owed.append(sum(a.amount_fen for a in arrears))
            order = store.open_exit_order(
                stay_id=stay.id,
                lane_id=lane_id,
                opened_at=cmd.at,
                quote_json=_quote_json(quote),
                gross_fen=quote.gross_fen,
                paid_before_fen=quote.paid_fen,
                discount_fen=quote.discount_fen,
                due_fen=quote.due_fen,
                arrears_ids=[a.id for a in arrears],
            )
            return L.StayQuoted(
                cmd.plate, stay.id, stay.order_id, order.id, stay.entry_at, quote, cmd.at, stay.entry_lane
            )

        owed: list[int] = []
        result = await self._db(work)
        if owed:  # the attendant sees the arrears line; the supervisor is told the plate owes from before
            said = say("alert.arrears_asked", plate=cmd.plate.text, owed_fen=owed[0], lane_id=lane_id)
            await self._said(lane_id, "arrears_asked", said, cmd.at)
        if isinstance(result, L.StayQuoted):
            # the same stay waiting at another lane: the car drove there; that lane lets go of it
            for other_id, other in self.lanes.items():
                if other_id != lane_id and other.awaiting_order_id == result.order_id:
                    await self.dispatch(other_id, L.Superseded(lane_id, cmd.at))
        await self.dispatch(lane_id, result)

    async def _admit(self, lane_id: str, cmd: L.AdmitVehicle) -> None:
        store, park = self._store, self.settings.park
        lane = self._lane_settings[lane_id]
        vclass = vehicle_class_for(self.settings.tariff, str(cmd.plate.colour))

        missed: list[tuple[str, int | None]] = []
        # a car cannot be at an exit barrier and at an entry at once: one of the reads is wrong (a misread or
        # a cloned plate), so the stay being handled at the exit is not closed by this read
        at_exit = {
            lane.current.stay_id
            for lane in self.lanes.values()
            if isinstance(lane, L.ExitLane) and lane.current is not None and lane.current.stay_id is not None
        }

        def work() -> L.EntryDecided:
            if cmd.plate.text in park.blacklist:
                return L.EntryDecided(cmd.plate, False, "黑名单车辆", None, cmd.at)
            previous = store.open_stay_for_plate(cmd.plate.text)
            if previous is not None and previous.id in at_exit:
                return L.EntryDecided(cmd.plate, False, "车辆正在出口", None, cmd.at)
            if previous is not None:
                # the car left unseen (an exit misread or lifted by hand): that stay ends here, so the lot's
                # count and this stay's quote only know the stay that starts now; what it owed is never
                # forgone silently: it is kept as arrears, asked for at this plate's next exit
                owed = self._owed(previous, cmd.at)
                store.close_missed_stay(previous.id, at=cmd.at, lane_id=lane_id, owed_fen=owed or 0)
                missed.append(
                    (f"{previous.order_id}（入场 {previous.entry_at:%Y-%m-%d %H:%M} UTC）", owed)
                )
            if park.capacity and store.count_in_lot() >= park.capacity:
                return L.EntryDecided(cmd.plate, False, "车位已满", None, cmd.at)
            order_id = new_order_id(lane_id, cmd.at)
            inpark = OutboxItem(
                cloud="bolink",
                kind="inpark",
                payload={
                    "car_number": cmd.plate.text,
                    "in_time": int(cmd.at.timestamp()),
                    "order_id": order_id,
                    "in_channel_id": lane.channel_id,
                    "license_color": str(cmd.plate.colour),
                },
                dedupe_key=f"bolink:inpark:{order_id}",
            )
            stay = store.create_stay(
                order_id=order_id,
                plate=cmd.plate.text,
                plate_colour=str(cmd.plate.colour),
                vehicle_class=vclass,
                lane_id=lane_id,
                entry_at=cmd.at,
                outbox=[inpark, *self._entry_items(order_id, cmd.plate.text, cmd.at)],
            )
            return L.EntryDecided(cmd.plate, True, "", stay.id, cmd.at)

        decision = await self._db(work)
        for stay, owed in missed:
            if owed is None:
                said = say("alert.missed_exit_unpriced", plate=cmd.plate.text, stay=stay)
            else:
                said = say("alert.missed_exit", plate=cmd.plate.text, stay=stay, owed_fen=owed)
            await self._said(lane_id, "missed_exit", said, cmd.at)
        if decision.admitted:
            self._wake_relays(bolink=True)
        await self.dispatch(lane_id, decision)

    def _owed(self, stay: StayRecord, at: datetime) -> int | None:
        """What a stay owes if it ended at ``at`` (database thread): its fee less the money counted for it;
        None when it cannot be priced (then the supervisor is told to look)."""
        payments = self._store.counted_payments(stay.id)
        try:
            quote = quote_fee(
                self.settings.tariff,
                plate=stay.plate,
                colour=stay.plate_colour,
                entry=stay.entry_at,
                exit=max(at, stay.entry_at),
                tz=self.settings.park.zone,
                paid_fen=sum(fen for _, fen in payments),
                payments=payments,
            )
        except TariffError as exc:
            log.warning("stay %s cannot be priced for its arrears: %s", stay.order_id, exc)
            return None
        return quote.due_fen

    async def seed_stay_async(self, plate_text: str, entry_at: datetime, lane_id: str | None = None) -> int:
        plate = parse_plate(plate_text)
        store = self._store
        entry_lane = lane_id or self.settings.lanes[0].id
        order_id = new_order_id(entry_lane, entry_at)
        vclass = vehicle_class_for(self.settings.tariff, str(plate.colour))
        stay = await self._db(
            lambda: store.create_stay(
                order_id=order_id,
                plate=plate.text,
                plate_colour=str(plate.colour),
                vehicle_class=vclass,
                lane_id=entry_lane,
                entry_at=entry_at,
                outbox=[
                    OutboxItem(
                        cloud="bolink",
                        kind="inpark",
                        payload={
                            "car_number": plate.text,
                            "in_time": int(entry_at.timestamp()),
                            "order_id": order_id,
                            "in_channel_id": self._lane_settings[entry_lane].channel_id,
                            "license_color": str(plate.colour),
                        },
                        dedupe_key=f"bolink:inpark:{order_id}",
                    ),
                    *self._entry_items(order_id, plate.text, entry_at),
                ],
            ),
            Priority.BACKGROUND,
        )
        self._wake_relays(bolink=True)
        return stay.id

    async def plates_in_lot(self) -> list[str]:
        store = self._store
        return await self._db(store.plates_in_lot, Priority.BACKGROUND)

    async def _request_payment(self, lane_id: str, cmd: L.RequestPayment) -> None:
        bolink = self.bolink
        assert bolink is not None
        lane = self._lane_settings[lane_id]
        result: L.PaymentRequested | L.PaymentRequestFailed
        try:
            await bolink.outpark(
                car_number=cmd.plate.text,
                in_time=int(cmd.entry_at.timestamp()),
                out_time=int(cmd.at.timestamp()),
                order_id=cmd.order_id,
                total_fen=cmd.due_fen,
                pay_type="scancode",
                out_channel_id=lane.channel_id,
                in_channel_id=self._channel_of(cmd.entry_lane),
                empty_plot=await self._empty_plot(),
            )
            code_url = self._code_urls.get(lane.channel_id)
            if code_url is None:
                code_url = await bolink.code_url(lane.channel_id)
                self._code_urls[lane.channel_id] = code_url
            result = L.PaymentRequested(cmd.exit_order_id, code_url, self._clock())
        except BolinkUnavailable as exc:
            result = L.PaymentRequestFailed(cmd.exit_order_id, f"泊链离线: {exc}", self._clock())
        except BolinkRefused as exc:
            result = L.PaymentRequestFailed(cmd.exit_order_id, f"泊链拒绝: {exc.errmsg}", self._clock())
        except BolinkError as exc:
            result = L.PaymentRequestFailed(cmd.exit_order_id, str(exc), self._clock())
        await self.dispatch(lane_id, result)

    def _channel_of(self, lane_id: str | None) -> str:
        """Bolink's channel id of a lane of this booth ("" for a lane it does not know: another booth's)."""
        lane = self._lane_settings.get(lane_id) if lane_id else None
        return lane.channel_id if lane is not None else ""

    async def _empty_plot(self) -> int:
        """Free spaces for Bolink's ``empty_plot``: capacity less the stays now in the lot (0 when the lot
        has no configured capacity, as Bolink cannot be told anything better then)."""
        capacity = self.settings.park.capacity
        if not capacity:
            return 0
        store = self._store
        return max(capacity - await self._db(store.count_in_lot, Priority.BACKGROUND), 0)

    async def _query_payment(self, cmd: L.QueryPayment) -> None:
        bolink = self.bolink
        assert bolink is not None
        try:
            await bolink.query_order(order_id=cmd.order_id, car_number=cmd.plate.text)
        except BolinkError as exc:
            log.info("query_order %s: %s", cmd.order_id, exc)

    async def _book(
        self, lane_id: str | None, cmd: L.BookPayment, *, refusable: bool = False
    ) -> L.PaymentBooked:
        store = self._store
        outbox: list[OutboxItem] = []
        if cmd.channel == "cash" and cmd.settles:
            outbox.append(
                self._outpark_item(cmd.order_id, cmd.stay_id, "cash", cmd.amount_fen, lane_id, cmd.at)
            )
        via_alipay = paid_by_alipay(cmd.pay_channel, self._pay_company.pop(cmd.trade_no, None))
        sync = self.cloud_sync
        if via_alipay and not cmd.payer_id and sync is not None and sync.alipay_enabled:
            log.warning(
                "Alipay payment %s came without pay_user_id: it cannot be synced to Alipay", cmd.trade_no
            )

        def work() -> tuple[PaymentOutcome, str]:
            reports, unbuilt = self._payment_items(cmd, via_alipay)
            items = [*outbox, *reports]
            booked = store.record_payment(
                order_ref=cmd.order_id,
                exit_order_id=cmd.exit_order_id,
                settles=cmd.settles,
                channel=cmd.channel,
                pay_channel=cmd.pay_channel,
                trade_no=cmd.trade_no,
                amount_fen=cmd.amount_fen,
                paid_at=cmd.at,
                lane_id=lane_id,
                operator=cmd.operator,
                payer_id=cmd.payer_id,
                raw=None,
                outbox=items,
                refusable=refusable,
            )
            return booked, unbuilt

        outcome, unbuilt = await self._db(work, Priority.MONEY)
        if unbuilt and outcome.status in ("settled", "partial"):  # (otherwise nothing was to be reported)
            self._sync_alert("sync_payment_rebuild", unbuilt)
        if outcome.status != "refused":
            self._booked_trades[cmd.trade_no] = None
        if len(self._booked_trades) > _BOOKED_TRADES_KEPT:
            self._booked_trades.popitem(last=False)
        if outcome.status in ("settled", "partial"):
            self._wake_relays(bolink=bool(outbox))
        booked = L.PaymentBooked(
            cmd.exit_order_id, cmd.trade_no, outcome.status, outcome.payment_id, outcome.flag, self._clock()
        )
        log.info(
            "payment %s %s %s yuan via %s on order %s: %s%s",
            cmd.trade_no,
            {"duplicate": "seen before", "refused": "refused"}.get(outcome.status, "booked"),
            format_yuan(cmd.amount_fen),
            cmd.channel,
            cmd.order_id,
            outcome.status,
            f" ({outcome.flag})" if outcome.flag else "",
        )
        if lane_id is not None:
            await self.dispatch(lane_id, booked)
        elif outcome.status == "flagged":
            said = say(
                "alert.payment_flagged_order",
                trade_no=cmd.trade_no,
                order_id=cmd.order_id,
                flag=str(outcome.flag),
            )
            await self._said(None, "payment_flagged", said, cmd.at)
        return booked

    def _outpark_item(
        self,
        order_id: str,
        stay_id: int | None,
        pay_type: str,
        total_fen: int,
        lane_id: str | None,
        at: datetime,
    ) -> OutboxItem:
        channel = self._lane_settings[lane_id].channel_id if lane_id else ""
        return OutboxItem(
            cloud="bolink",
            kind="outpark",
            payload={
                "order_id": order_id,
                "pay_type": pay_type,
                "total_fen": total_fen,
                "out_time": int(at.timestamp()),
                "out_channel_id": channel,
                "stay_id": stay_id,
            },
            dedupe_key=f"bolink:outpark:{order_id}:{pay_type}:{int(at.timestamp())}",
        )

    async def _release(self, lane_id: str, cmd: L.ReleaseExitOrder) -> None:
        store = self._store
        lane = self.lanes[lane_id]
        cur = lane.current if isinstance(lane, L.ExitLane) else None
        pay_type = "monthuser" if cmd.reason in ("monthly_pass", "whitelist") else "free"
        outbox = []
        if cur is not None and cur.order_id is not None:
            outbox.append(self._outpark_item(cur.order_id, cur.stay_id, pay_type, 0, lane_id, cmd.at))
        exception = None if cmd.exception is None else _exception_item(cmd.exception)
        await self._db(
            lambda: store.release_exit_order(
                cmd.exit_order_id,
                at=cmd.at,
                reason=cmd.reason,
                operator=cmd.operator,
                outbox=outbox,
                exception=exception,
            ),
            Priority.MONEY,
        )
        if outbox and self._bolink_relay is not None:
            self._bolink_relay.wake()

    async def _open_gate(self, lane_id: str, cmd: L.OpenGate) -> None:
        gate = self.gates[lane_id]
        store = self._store
        error = ""
        for attempt in (1, 2):
            self._emit(GateCommanded(lane_id, cmd.reason, attempt, self._clock()))
            try:
                await gate.open()
            except GateFault as exc:
                error = str(exc)
                log.warning("%s: gate open attempt %d failed: %s", lane_id, attempt, error)
                outcome = "failed"
            except Exception as exc:  # a driver bug is a gate fault too, never a crash of the lane
                error = f"{type(exc).__name__}: {exc}"
                log.exception("%s: gate driver error", lane_id)
                outcome = "failed"
            else:
                outcome = "opened"
            at = self._clock()
            try:
                await self._db(
                    partial(
                        store.record_gate_event,
                        lane_id=lane_id,
                        stay_id=cmd.stay_id,
                        reason=cmd.reason,
                        operator=cmd.operator,
                        note=cmd.note,
                        outcome=outcome,
                        attempt=attempt,
                        detail=error if outcome == "failed" else "",
                        at=at,
                    ),
                    Priority.BACKGROUND,
                )
            except Exception:
                log.exception("%s: could not record the gate event", lane_id)
            if outcome == "opened":
                log.info("%s: gate opened (%s%s)", lane_id, cmd.reason, f": {cmd.note}" if cmd.note else "")
                await self.dispatch(lane_id, L.GateOpened(at))
                self._spawn(self._watch_passage(lane_id), f"passage-{lane_id}")
                return
        await self.dispatch(lane_id, L.GateFailed(error, self._clock()))

    async def _watch_passage(self, lane_id: str) -> None:
        """Where the gate has a 'vehicle passed' input, poll it while the gate is open."""
        gate = self.gates[lane_id]
        lane = self.lanes[lane_id]
        seen_present = False
        while lane.state is L.LaneState.GATE_OPEN:
            try:
                passed = await gate.vehicle_passed()
            except Exception as exc:
                log.warning("%s: reading the passage input failed: %s", lane_id, exc)
                return
            if passed is None:
                return
            if passed:
                seen_present = True
            elif seen_present:  # the loop was occupied and is now free: the car is through
                await self.dispatch(lane_id, L.VehiclePassed(self._clock()))
                return
            await asyncio.sleep(0.1)

    async def _close_stay(self, lane_id: str, cmd: L.CloseStay) -> None:
        store, sync = self._store, self.cloud_sync

        def work() -> None:
            items: list[OutboxItem] = []
            if sync is not None and sync.tmall_enabled:
                stay = store.stay_by_id(cmd.stay_id)
                if stay is not None:
                    items = sync.exit_items(stay, at=cmd.at)
            store.close_stay(cmd.stay_id, lane_id=lane_id, exit_at=cmd.at, outbox=items)

        await self._db(work)
        self._wake_relays()
        self.exits_completed += 1

    # ------------------------------------------------------------------------------- Alipay and Tmall
    def _entry_items(self, order_id: str, plate: str, at: datetime) -> list[OutboxItem]:
        sync = self.cloud_sync
        return [] if sync is None else sync.entry_items(order_id=order_id, plate=plate, at=at)

    def _payment_items(self, cmd: L.BookPayment, via_alipay: bool) -> tuple[list[OutboxItem], str]:
        """What Alipay and Tmall are told of a payment (database thread, inside the booking's job), and why
        it could not be built ("" when it could). The money is booked all the same: a failure queues rebuild
        markers the relay builds the rows from when it sends them, and `_book` alerts the supervisor."""
        sync = self.cloud_sync
        if sync is None:
            return [], ""
        return sync.prepare_payment_items(
            order_id=cmd.order_id,
            trade_no=cmd.trade_no,
            amount_fen=cmd.amount_fen,
            paid_at=cmd.paid_at or cmd.at,  # when the driver paid: a re-delivered result comes later
            exit_order_id=cmd.exit_order_id,
            alipay_user_id=cmd.payer_id if via_alipay else None,
        )

    def _wake_relays(self, *, bolink: bool = False) -> None:
        """Rows were committed: the relays look now instead of at their next idle tick."""
        if self._bolink_relay is not None and bolink:
            self._bolink_relay.wake()
        sync = self.cloud_sync
        if sync is not None:
            for relay in sync.relays.values():
                relay.wake()

    async def _clock_stepped(self, step: timedelta, at: datetime) -> None:
        seconds = round(step.total_seconds(), 1)
        for lane_id in self.lanes:
            await self.dispatch(lane_id, L.ClockStepped(step, at))
        await self._said(None, "clock_step", say("alert.clock_step", seconds=f"{seconds:+}"), at)

    def _on_sign_mismatch(self, mismatch: SignMismatch) -> None:
        """A downstream Bolink message failed its sign check: the supervisor is told of the first and then of
        every 100th (a flood of forged messages is one alert and a count, not a flood of alerts)."""
        if mismatch.count == 1 or mismatch.count % 100 == 0:
            self._sync_alert("bolink_sign_mismatch", f"{mismatch.text} ({mismatch.count} so far)")

    def _sync_alert(self, kind: str, message: str) -> None:
        self._spawn(self._alert(None, kind, message, self._clock()), f"alert-{kind}")

    async def _requeue_dead(self, cloud: str | None, operator: str) -> int:
        store, at = self._store, self._clock()
        count = await self._db(lambda: store.requeue_dead(cloud, at=at), Priority.BACKGROUND)
        log.info("%s requeued %d dead outbox row(s) of %s", operator, count, cloud or "every cloud")
        await self._db(
            lambda: store.audit(
                actor=operator, action="sync_requeue", detail={"cloud": cloud or "*", "rows": count}, at=at
            ),
            Priority.BACKGROUND,
        )
        self._wake_relays(bolink=True)
        if self.cloud_sync is not None:
            await self.cloud_sync.refresh_status()
        return count

    async def _said(self, lane_id: str | None, kind: str, detail: Phrase, at: datetime) -> None:
        """An alert whose detail the window can translate (its Chinese text is logged and audited)."""
        await self._alert(lane_id, kind, detail.text, at, detail=detail)

    async def _alert(
        self,
        lane_id: str | None,
        kind: str,
        message: str,
        at: datetime,
        *,
        audit: bool = True,
        detail: Phrase | None = None,
    ) -> None:
        if detail is not None:
            message = detail.logged  # the log and the audit keep the technical detail the screen leaves out
        log.warning("alert %s%s: %s", kind, f" on {lane_id}" if lane_id else "", message)
        self._emit(AlertRaised(lane_id, kind, message, at, detail))
        if not audit or self.store is None:  # (an alert before the database opened is logged and shown)
            return
        store = self.store
        actor = f"lane:{lane_id}" if lane_id else "engine"
        await self._db(
            lambda: store.audit(actor=actor, action=kind, detail={"message": message}, at=at),
            Priority.BACKGROUND,
        )

    # ------------------------------------------------------------------------------------------ Bolink
    def _on_bolink_status(self, online: bool, reason: str) -> None:
        if online == self.bolink_online:
            return
        self.bolink_online = online
        log.log(
            logging.INFO if online else logging.WARNING,
            "Bolink %s%s",
            "online" if online else "offline",
            f": {reason}" if reason else "",
        )
        self._emit(BolinkChanged(online, reason))
        at = self._clock()
        for lane_id in self.lanes:
            self._spawn(self.dispatch(lane_id, L.BolinkStatus(online, at)), f"bolink-status-{lane_id}")
        if online and self._bolink_relay is not None:
            self._bolink_relay.wake()

    async def _on_downstream(self, message: DownstreamMessage) -> Mapping[str, Any] | None:
        """Handle one message Bolink pushed; return the answer to upload (or None)."""
        match message:
            case OutparkResult():
                return await self._on_payment_result(message)
            case QueryPrice():
                return await self._on_query_price(message)
            case PrepayOrder():
                return await self._on_prepay(message)
            case NolicenceInPark():
                return await self._on_plateless_entry(message)
            case UpdateBalance():
                self._balances[message.car_number] = (message.balance_fen, message.autopay)
                return None
        return None

    async def _on_payment_result(self, msg: OutparkResult) -> Mapping[str, Any] | None:
        at = self._clock()
        paid_at = _pay_time(msg.pay_time, at)
        if msg.state == 1 and msg.trade_no:
            # The lane machine knows pay_channel; pay_company (which newer Bolink sends instead) waits here
            # for the booking. Bounded: repeats of booked results never reach the booking.
            self._pay_company[msg.trade_no] = msg.pay_company
            while len(self._pay_company) > 1000:
                self._pay_company.popitem(last=False)
        event = L.PaymentResult(
            order_id=msg.order_id,
            state=msg.state,
            trade_no=msg.trade_no,
            amount_fen=msg.total_fen,
            pay_type=msg.pay_type,
            pay_channel=msg.pay_channel,
            payer_id=msg.pay_user_id or None,
            out_channel_id=msg.out_channel_id,
            errmsg=msg.errmsg,
            at=at,
            paid_at=paid_at,
        )
        owner = next(
            (lid for lid, lane in self.lanes.items() if lane.awaiting_order_id == msg.order_id), None
        )
        if owner is None:
            owner = next(
                (
                    lid
                    for lid, lane in self.lanes.items()
                    if isinstance(lane, L.ExitLane)
                    and lane.current is not None
                    and lane.current.order_id == msg.order_id
                ),
                None,
            )
        if msg.state == 0:
            self._spawn(self._record_failed_payment(msg, owner, at), f"payment-failed-{msg.order_id}")
        if owner is not None:
            channel_lane = self._lane_by_channel.get(msg.out_channel_id)
            if msg.out_channel_id and channel_lane != owner:
                log.warning(
                    "result for %s names channel %r but the order waits at %s: held for the attendant",
                    msg.order_id,
                    msg.out_channel_id,
                    owner,
                )
            await self.dispatch(owner, event)
        elif msg.state == 1 and msg.trade_no not in self._booked_trades:
            # not waiting at any lane: book the money (flagged by the store), open nothing
            await self._book(
                None,
                L.BookPayment(
                    exit_order_id=None,
                    order_id=msg.order_id,
                    stay_id=None,
                    channel=msg.pay_type or "scancode",
                    pay_channel=msg.pay_channel,
                    trade_no=msg.trade_no,
                    amount_fen=msg.total_fen,
                    payer_id=msg.pay_user_id or None,
                    operator="bolink",
                    settles=False,
                    at=at,
                    paid_at=paid_at,
                ),
            )
        if msg.state == 2:
            return None  # "still paying" is not a result: nothing to acknowledge
        if msg.state == 1 and msg.trade_no not in self._booked_trades:
            # not booked (a store failure, or its first delivery is still being booked): let Bolink resend
            return {
                "service_name": "outpark",
                "state": 0,
                "errmsg": "not booked yet, please resend",
                "trade_no": msg.trade_no,
                "order_id": msg.order_id,
            }
        return {
            "service_name": "outpark",
            "state": 1,
            "errmsg": "",
            "trade_no": msg.trade_no,
            "order_id": msg.order_id,
        }

    async def _record_failed_payment(self, msg: OutparkResult, owner: str | None, at: datetime) -> None:
        """Keep a failed payment (Bolink state 0) for the shift report: an audit row "payment_failed"
        with the lane, order, amount, pay_type, errmsg and plate. A repeat of the same result is kept once.
        """
        key = f"{msg.order_id}:{msg.trade_no}"
        if msg.trade_no and key in self._failed_results:
            return
        self._failed_results[key] = None
        while len(self._failed_results) > _FAILED_RESULTS_KEPT:
            self._failed_results.popitem(last=False)
        lane_id = owner or self._lane_by_channel.get(msg.out_channel_id)
        lane = self.lanes.get(lane_id) if lane_id else None
        plate = msg.car_number
        if not plate and isinstance(lane, L.ExitLane) and lane.current is not None:
            plate = lane.current.plate.text
        detail = {
            "lane_id": lane_id,
            "order_id": msg.order_id,
            "amount_fen": msg.total_fen,
            "pay_type": msg.pay_type,
            "pay_channel": msg.pay_channel,
            "trade_no": msg.trade_no,
            "errmsg": msg.errmsg,
            "plate": plate or None,
            "out_channel_id": msg.out_channel_id,
            "at": at.isoformat(),
            "pay_time": msg.pay_time,
        }
        store = self._store
        try:
            await self._db(
                lambda: store.audit(
                    actor=f"lane:{lane_id}" if lane_id else "bolink",
                    action="payment_failed",
                    detail=detail,
                    at=at,
                ),
                Priority.BACKGROUND,
            )
        except Exception:
            log.exception("the failed payment of order %s could not be recorded", msg.order_id)

    async def _on_query_price(self, msg: QueryPrice) -> Mapping[str, Any]:
        store, tariff, zone = self._store, self.settings.tariff, self.settings.park.zone
        at = self._clock()
        lane_id = self._lane_by_channel.get(msg.out_channel_id)
        lane = self.lanes.get(lane_id) if lane_id else None
        base = {
            "service_name": "query_price",
            "park_id": self.settings.bolink.park_id,
            "query_order_no": msg.query_order_no,
            "query_time": int(at.timestamp()),
        }
        if (
            isinstance(lane, L.ExitLane)
            and lane.current is not None
            and lane.current.quote is not None
            and lane.awaiting_order_id is not None
            and (not msg.car_number or msg.car_number == lane.current.plate.text)
        ):
            q = lane.current.quote
            return {
                **base,
                "state": 1,
                "errmsg": "",
                "order_id": lane.current.order_id,
                "car_number": lane.current.plate.text,
                **_price_fields(q),
            }
        car = msg.car_number

        def work() -> tuple[str, Quote] | None:
            stay = store.open_stay_for_plate(car) if car else None
            if stay is None:
                return None
            payments = store.counted_payments(stay.id)
            quote = quote_fee(
                tariff,
                plate=car,
                colour=stay.plate_colour,
                entry=stay.entry_at,
                exit=at,
                tz=zone,
                paid_fen=sum(fen for _, fen in payments),
                payments=payments,
            )
            # a driver prepaying in the lot is asked for what the exit would ask: arrears included
            return stay.order_id, add_arrears(quote, [a.amount_fen for a in store.open_arrears(car)])

        found = await self._db(work)
        if found is None:
            return {
                **base,
                "state": 0,
                "errmsg": f"未找到在场车辆 {car or ''}".strip(),
                "order_id": msg.order_id,
            }
        order_id, quote = found
        return {
            **base,
            "state": 1,
            "errmsg": "",
            "order_id": order_id,
            "car_number": car,
            **_price_fields(quote),
        }

    async def _on_prepay(self, msg: PrepayOrder) -> Mapping[str, Any]:
        store = self._store
        at = self._clock()
        base = {
            "service_name": "prepay_order",
            "park_id": self.settings.bolink.park_id,
            "order_id": msg.order_id,
            "prepay": format_yuan(msg.prepay_fen),
            "query_time": msg.query_time,
        }

        def look_up() -> tuple[PaymentRecord | None, str | None, StayRecord | None]:
            known = store.payment_by_trade_no(msg.trade_no) if msg.trade_no else None
            refused = store.prepayment_refusal(msg.trade_no) if msg.trade_no and known is None else None
            return known, refused, store.stay_by_order_id(msg.order_id)

        known, refused, stay = await self._db(look_up)
        if refused is not None:
            return {**base, "state": 0, "errmsg": f"预付未入账：{refused}"}
        if known is not None:
            # Bolink repeats a prepayment until it hears an answer: the answer is the one the stored row gave,
            # whatever has changed since (the car now at an exit, or gone). Counted money is 1, flagged is 0.
            if known.order_ref != msg.order_id or known.amount_fen != msg.prepay_fen:
                log.warning(
                    "prepay_order %s repeats trade_no %s of order %s, %s fen: refused",
                    msg.order_id,
                    msg.trade_no,
                    known.order_ref,
                    known.amount_fen,
                )
                return {**base, "state": 0, "errmsg": f"交易号 {msg.trade_no} 已用于另一笔付款"}
            if known.flag is not None:
                return {**base, "state": 0, "errmsg": f"预付未入账：{known.flag}"}
            return {**base, "state": 1, "errmsg": ""}
        if stay is None or stay.state != "in_lot":
            return {**base, "state": 0, "errmsg": f"订单 {msg.order_id} 不在场"}
        booked = await self._book(
            None,
            L.BookPayment(
                exit_order_id=None,
                order_id=msg.order_id,
                stay_id=stay.id,
                channel="prepay",
                pay_channel=None,
                trade_no=msg.trade_no,
                amount_fen=msg.prepay_fen,
                payer_id=None,
                operator="bolink",
                settles=False,
                at=at,
            ),
            refusable=True,  # Bolink takes the money only on our "yes": what cannot count is refused
        )
        if booked.flag is not None:  # refused now, or (a race with its own repeat) flagged before
            return {**base, "state": 0, "errmsg": f"预付未入账：{booked.flag}"}
        return {**base, "state": 1, "errmsg": ""}

    async def _on_plateless_entry(self, msg: NolicenceInPark) -> Mapping[str, Any]:
        lane_id = self._lane_by_channel.get(msg.channel_id)
        base = {"service_name": "nolicence_in_park", "car_number": msg.car_number}
        if lane_id is None or self.lanes[lane_id].direction != "entry":
            return {**base, "state": 0, "errmsg": f"通道 {msg.channel_id} 不是本系统的入口"}
        plate = Plate(msg.car_number, PlateKind.PLATELESS, PlateColour.UNKNOWN)
        await self.dispatch(lane_id, L.VehicleDetected(plate, self._clock()))
        lane = self.lanes[lane_id]
        if lane.state is L.LaneState.REFUSED:
            return {**base, "state": 0, "errmsg": lane.message}
        return {**base, "state": 1, "errmsg": ""}

    async def _send_bolink(self, row: OutboxRecord) -> SendResult:
        bolink = self.bolink
        assert bolink is not None
        payload = dict(row.payload)
        with background_traffic():
            return await self._send_bolink_row(bolink, row, payload)

    async def _send_bolink_row(
        self, bolink: BolinkClient, row: OutboxRecord, payload: dict[str, Any]
    ) -> SendResult:
        try:
            if row.kind == "inpark":
                await bolink.inpark(
                    car_number=payload["car_number"],
                    in_time=payload["in_time"],
                    order_id=payload["order_id"],
                    in_channel_id=payload["in_channel_id"],
                    empty_plot=await self._empty_plot(),
                    license_color=payload.get("license_color"),
                )
            elif row.kind == "outpark":
                store = self._store
                stay = await self._db(
                    lambda: store.stay_by_order_id(payload["order_id"]), Priority.BACKGROUND
                )
                if stay is None:
                    return SendResult(SendVerdict.FATAL, f"no stay with order id {payload['order_id']}")
                await bolink.outpark(
                    car_number=stay.plate,
                    in_time=int(stay.entry_at.timestamp()),
                    out_time=payload["out_time"],
                    order_id=stay.order_id,
                    total_fen=payload["total_fen"],
                    pay_type=payload["pay_type"],
                    out_channel_id=payload["out_channel_id"],
                    in_channel_id=self._channel_of(stay.entry_lane),
                    empty_plot=await self._empty_plot(),
                )
            elif row.kind == "upload_carpic":
                path = Path(payload.pop("photo", ""))
                try:
                    content = await asyncio.to_thread(path.read_bytes)
                except OSError as exc:
                    return SendResult(SendVerdict.FATAL, f"photo {path} is gone ({exc.strerror or exc})")
                payload["content"] = base64.b64encode(content).decode("ascii")
                await bolink.upload("upload_carpic", payload)
            else:
                return SendResult(SendVerdict.FATAL, f"unknown Bolink outbox kind {row.kind!r}")
        except BolinkUnavailable as exc:
            return SendResult(SendVerdict.RETRY, str(exc))
        except BolinkRefused as exc:
            # Bolink understood and said no: retrying the same data cannot help. Parked as dead for the
            # supervisor to read, fix and requeue; transport trouble above is retried without end.
            return SendResult(SendVerdict.FATAL, f"Bolink refused {row.kind}: {exc.errmsg}")
        return SendResult(SendVerdict.SENT)

    # ------------------------------------------------------------------------------------------- ticks
    async def _tick_loop(self) -> None:
        """Lane timers run on elapsed time: every tick compares the wall clock's advance with the monotonic
        clock's, and a difference beyond CLOCK_STEP is a step of the wall clock (NTP setting it right). The
        lanes move their timers by it (a waiting car is not timed out, an open gate not held), records keep
        wall time, and the supervisor is told."""
        monotonic = self._monotonic
        last = (self._clock(), monotonic()) if monotonic is not None else None
        while True:
            await asyncio.sleep(self._tick_s)
            at = self._clock()
            if monotonic is not None and last is not None:
                now_mono = monotonic()
                step = (at - last[0]) - timedelta(seconds=now_mono - last[1])
                last = (at, now_mono)
                if abs(step) >= CLOCK_STEP:
                    await self._clock_stepped(step, at)
            for lane_id in self.lanes:
                try:
                    await self.dispatch(lane_id, L.Tick(at))
                except Exception:
                    log.exception("%s: tick failed", lane_id)


def _wall_clock() -> datetime:
    return datetime.now(UTC)


#: how far Bolink's pay_time may lie from the result's receipt and still be taken as when the driver paid
_PAY_TIME_AHEAD = timedelta(seconds=60)
_PAY_TIME_BEHIND = timedelta(days=7)


def _pay_time(pay_time: int | None, received_at: datetime) -> datetime:
    """When the driver paid: Bolink's pay_time (a re-delivered result arrives later than it was paid), or the
    receipt time when it is missing or implausible (ahead of the receipt, or more than a week behind)."""
    if pay_time is None:
        return received_at
    try:
        paid = datetime.fromtimestamp(pay_time, UTC)
    except (OverflowError, OSError, ValueError):
        return received_at
    if received_at - _PAY_TIME_BEHIND <= paid <= received_at + _PAY_TIME_AHEAD:
        return min(paid, received_at)
    log.info("pay_time %s is implausible beside its receipt at %s: receipt time kept", pay_time, received_at)
    return received_at


def _exception_item(cmd: L.RecordException) -> LaneExceptionItem:
    return LaneExceptionItem(
        kind=cmd.kind,
        lane_id=cmd.lane_id,
        reason=cmd.reason,
        note=cmd.note,
        operator=cmd.operator,
        at=cmd.at,
        stay_id=cmd.stay_id,
        exit_order_id=cmd.exit_order_id,
        plate=cmd.plate,
        due_fen=cmd.due_fen,
        approved_by=cmd.approved_by,
        photo=cmd.photo,
    )


def _price_fields(q: Quote) -> dict[str, Any]:
    arrears = sum(line.fen for line in q.lines if line.phrase and line.phrase.code == "tariff.arrears")
    return {
        "price": format_yuan(q.due_fen),
        "total": format_yuan(q.gross_fen + arrears),  # (never less than the price: arrears are owed too)
        "duration": q.duration_minutes,
        "free_out_time": 0,
        "derate_money": format_yuan(q.discount_fen),
        "derate_duration": 0,
    }


def _quote_json(q: Quote) -> str:
    import json

    return json.dumps(
        {
            "entry": q.entry.isoformat(),
            "exit": q.exit.isoformat(),
            "duration_minutes": q.duration_minutes,
            "vehicle_class": q.vehicle_class,
            "gross_fen": q.gross_fen,
            "paid_fen": q.paid_fen,
            "discount_fen": q.discount_fen,
            "due_fen": q.due_fen,
            "rule": q.rule,
            "lines": [[line.label, line.fen] for line in q.lines],
        },
        ensure_ascii=False,
    )


def _quote_from_json(text: str, due_fen: int) -> Quote:
    """The quote an exit order was opened with (its lines as labels: a resumed exit shows what it showed)."""
    import json

    try:
        q = json.loads(text)
        return Quote(
            entry=datetime.fromisoformat(q["entry"]),
            exit=datetime.fromisoformat(q["exit"]),
            duration_minutes=int(q["duration_minutes"]),
            vehicle_class=str(q["vehicle_class"]),
            gross_fen=int(q["gross_fen"]),
            paid_fen=int(q["paid_fen"]),
            discount_fen=int(q["discount_fen"]),
            due_fen=due_fen,
            rule=q["rule"],
            lines=tuple(QuoteLine(str(label), int(fen)) for label, fen in q["lines"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise EngineError(f"exit order quote cannot be read back: {exc}") from exc


def _stored_plate(text: str) -> Plate:
    """A plate as a stay stored it (valid when it was stored; a plateless id is kept as it is)."""
    try:
        return parse_plate(text)
    except PlateError:
        return Plate(text, PlateKind.PLATELESS, PlateColour.UNKNOWN)


def _car_at(view: L.LaneView) -> tuple[str | None, str | None]:
    """Which car a lane is dealing with: its plate and the order being settled (None, None when empty)."""
    return view.plate, view.order_id
