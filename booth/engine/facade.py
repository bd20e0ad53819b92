"""The engine: the composition root that runs the lanes.

One background thread runs an asyncio loop with the Bolink session (login, uploads, long poll), the outbox
relay, the gate drivers and the lane machines. A second thread owns the database (SQLite allows one writer;
a dedicated thread keeps every write off the loop and in order). The GUI and ``booth run --headless`` talk
to it only through the thread-safe methods below and receive plain immutable events through ``subscribe``.

The data flows one way: camera -> lane machine -> quote -> Bolink outpark/QR -> payment result -> booked in
the store -> gate -> stay closed (with its outbox rows) -> relay -> clouds. The GUI watches and commands;
it is never on the path between a payment result and the gate.

What reaches Alipay and Tmall is queued in the same transaction as the row it reports (an entry, a payment,
an exit); ``booth.sync.cloud_sync.CloudSync`` drains it in the background and keeps the status ``sync_status``
returns.

The facade owns the threads and the public API; the work is done by the parts in this package (see
``booth.engine.loop``, which builds them): the lanes' runner, payments, stays, gate control, Bolink's inbox
and uploads, the camera intake and the approvals.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import sys
import threading
from collections.abc import Callable, Coroutine
from datetime import datetime
from time import monotonic as _monotonic
from typing import TYPE_CHECKING, Any, Literal, ParamSpec, TypeVar

from booth.config import LaneSettings, Settings
from booth.domain import lane as L
from booth.domain.plates import PlateColour, parse_plate
from booth.engine.events import EngineError, Listener
from booth.engine.loop import EngineLoop
from booth.engine.runtime import Runtime, wall_clock
from booth.lot.lookup import StayLookup
from booth.office.shifts import Shifts
from booth.office.staff import Staff
from booth.store import Database, Store
from booth.store.worker import DatabaseWorker
from booth.sync.cloud_sync import CloudSync
from booth.sync.rows import CLOUDS
from booth.sync.status import SyncStatus, compose_status

if TYPE_CHECKING:
    from booth.clouds.bolink import BolinkClient
    from booth.devices.cameras import CameraListener
    from booth.devices.gates import GateDriver
    from booth.devices.photos import PhotoStore
    from booth.lot.push import PushStatus

log = logging.getLogger("booth.engine")
T = TypeVar("T")
P = ParamSpec("P")
ExceptionKind = Literal["free_release", "manual_lift"]


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
        lot: StayLookup | None = None,
    ) -> None:
        """``lot``: how this booth's exits find a stay entered at another booth; None: from ``[lot]`` if set
        (booth.lot.lookup.LotStays), else none (a booth on its own). The engine closes it when it stops."""
        self.settings = settings
        self._lot = lot
        self._clock = clock or wall_clock
        #: steps of the wall clock (NTP correcting it) are told from elapsed time with this; a clock given by
        #: a test is its own truth, unless the test gives a monotonic clock too
        self._monotonic = monotonic or (_monotonic if clock is None else None)
        self._tick_s = tick_s
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self._stop_requested: asyncio.Event | None = None
        self._db_executor = DatabaseWorker()
        self._rt = Runtime(self._clock, self._db_executor)
        self._lane_settings: dict[str, LaneSettings] = {lane.id: lane for lane in settings.lanes}
        self._parts: EngineLoop | None = None
        #: set once the Alipay/Tmall sync has started (or failed to; an alert says so) after the lanes
        self.sync_started = threading.Event()
        #: PIN checks and people/shift bookkeeping: never on the GUI thread, the loop or the DB worker
        self._office = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="booth-office")
        #: reports (seconds for a month): on a thread of their own, so an approval never queues behind one
        self._reports = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="booth-reports"
        )

    # ------------------------------------------------------------------------------- the running parts
    @property
    def _running(self) -> EngineLoop:
        if self._parts is None or self._parts.lanes is None:
            raise EngineError("engine is not running")
        return self._parts

    @property
    def lanes(self) -> dict[str, L.ExitLane | L.EntryLane]:
        """The lane machines (engine thread only; others read ``snapshot``)."""
        parts = self._parts
        return {} if parts is None or parts.lanes is None else parts.lanes.lanes

    @property
    def gates(self) -> dict[str, GateDriver]:
        return {} if self._parts is None else self._parts.gates.gates

    @property
    def bolink(self) -> BolinkClient | None:
        return None if self._parts is None else self._parts.bolink

    @property
    def sandbox(self) -> Any:
        """The embedded Bolink sandbox (demo, training, tests), when bolink.base_url is "sandbox"."""
        return None if self._parts is None else self._parts.sandbox

    @property
    def cameras(self) -> CameraListener | None:
        return None if self._parts is None else self._parts.cameras

    @property
    def photos(self) -> PhotoStore | None:
        return None if self._parts is None else self._parts.photos

    @property
    def store(self) -> Store | None:
        return self._rt.store if self._rt.store_open else None

    @property
    def cloud_sync(self) -> CloudSync | None:
        return self._rt.cloud_sync

    @property
    def bolink_online(self) -> bool:
        parts = self._parts
        return parts is not None and parts.inbox is not None and parts.inbox.bolink_online

    @property
    def balances(self) -> dict[str, tuple[int, bool]]:
        """What Bolink last said of each plate's wallet (update_balance): fen, autopay."""
        parts = self._parts
        return {} if parts is None or parts.inbox is None else parts.inbox.balances

    @property
    def exits_completed(self) -> int:
        parts = self._parts
        return 0 if parts is None or parts.lanes is None else parts.lanes.exits_completed

    # ---------------------------------------------------------------------------- lifecycle (any thread)
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Hear the engine's events (on the engine thread); the function returned unsubscribes."""
        return self._rt.subscribe(listener)

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
        staff = self._parts.staff if self._parts is not None else None
        if staff is None:
            raise EngineError("engine is not running: no staff yet")
        return staff

    @property
    def database(self) -> Database:
        """The open database, for readers that run on the office thread (reports)."""
        database = self._parts.database if self._parts is not None else None
        if database is None:
            raise EngineError("engine is not running: no database yet")
        return database

    @property
    def shifts(self) -> Shifts:
        """The shifts (call it through ``office``)."""
        shifts = self._parts.shifts if self._parts is not None else None
        if shifts is None:
            raise EngineError("engine is not running: no shifts yet")
        return shifts

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
        """What each lane shows now (any thread)."""
        parts = self._parts
        return [] if parts is None or parts.lanes is None else parts.lanes.snapshot()

    def sync_status(self) -> SyncStatus:
        """The background sync at a glance (per cloud: backlog, oldest item, dead letters with their
        reasons, breaker). Any thread; never waits: the engine refreshes it every ``sync.status_every_s``
        and after each change (announced as SyncChanged). Before the engine runs, every count is 0."""
        sync = self.cloud_sync
        if sync is None:
            s = self.settings
            enabled = {"bolink": True, "alipay": s.alipay is not None, "tmall": s.tmall is not None}
            return compose_status(self._clock(), {}, [], {}, enabled)
        parts = self._parts
        return sync.status if parts is None else parts.with_lot(sync.status)

    def lot_status(self) -> PushStatus | None:
        """[lot]: the push's status (booth.lot.push.PushStatus: online, journal entries behind, last error;
        ``describe()`` in words), or None for a booth without a lot or before the engine runs. Any thread."""
        parts = self._parts
        lot_service = None if parts is None else parts.lot_service
        return None if lot_service is None else lot_service.status

    def requeue_dead(
        self, cloud: str | None = None, operator: str = "supervisor"
    ) -> concurrent.futures.Future[int]:
        """Give dead letters (of one cloud, or all) a fresh start, after the supervisor fixed the cause.
        The Future gives how many rows were requeued; the requeue is audited."""
        if cloud is not None and cloud not in CLOUDS:
            raise EngineError(f"no cloud {cloud!r}; one of {', '.join(CLOUDS)}")
        return self._call(self._running.requeue_dead(cloud, operator))

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
        return self._call(self._running.decide_exception(kind, lane_id, reason, operator, note, approver))

    # ------------------------------------------------------------------ on the engine loop (coroutines)
    async def dispatch(self, lane_id: str, event: L.LaneEvent) -> None:
        """Feed one event to a lane and carry out its commands (engine thread only; tests, tools)."""
        lanes = self._running.lanes
        assert lanes is not None
        await lanes.dispatch(lane_id, event)

    async def vehicle_at_async(
        self,
        lane_id: str,
        plate_text: str,
        colour: PlateColour | str | int | None = None,
        confidence: int | None = None,
        photo: str | None = None,
    ) -> None:
        """A plate read at a lane (engine thread). An unreadable plate raises PlateError, with an alert."""
        intake = self._running.intake
        assert intake is not None
        await intake.vehicle_at(lane_id, plate_text, colour, confidence, photo)

    async def seed_stay_async(self, plate_text: str, entry_at: datetime, lane_id: str | None = None) -> int:
        """A stay that began before this session (simulator, training); its id."""
        return await self._running.stays.seed(plate_text, entry_at, lane_id)

    async def plates_in_lot(self) -> list[str]:
        return await self._running.stays.plates_in_lot()

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
            self._parts = EngineLoop(
                self.settings,
                self._rt,
                office=self.office,
                office_pools=(self._office, self._reports),
                monotonic=self._monotonic,
                tick_s=self._tick_s,
                sync_started=self.sync_started,
                lot=self._lot,
            )
            await self._parts.start()
            if self.settings.simulator.enabled:
                from booth.sandbox.camera import SimulatedCamera

                camera = SimulatedCamera(self, self.settings.simulator, province=self.settings.park.province)
                self._rt.spawn(camera.run(), "simulated-camera")
        except BaseException as exc:
            self._start_error = exc
            self._ready.set()
            await self._stop_parts()
            return
        self._ready.set()
        try:
            await self._stop_requested.wait()
        finally:
            await self._stop_parts()

    async def _stop_parts(self) -> None:
        if self._parts is not None:
            await self._parts.stop()
        else:  # (the parts could not even be built: the office threads and the database thread remain)
            self._office.shutdown(wait=True, cancel_futures=True)
            self._reports.shutdown(wait=True, cancel_futures=True)
