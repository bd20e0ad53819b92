"""What runs on the engine thread: the parts built at start (in the order a crash-safe start needs), the
background services started once the lanes are ready, and the orderly stop.

Start: lanes and gates first (every relay to rest before any lane acts on a car), the Bolink session and the
cameras, while the database opens (and migrates) on its own thread; then what the last run left unfinished
is taken up, and the background services start: Bolink's downstream and uploads, the Alipay/Tmall sync, the
lanes' ticks. Stop: a lane booking a payment or moving its gate finishes first (bounded), then every task is
cancelled, every relay left at rest, and the clients and the database closed.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from booth.clouds.bolink import BolinkClient, SignMismatch
from booth.config import Settings, config_warnings
from booth.devices.gate_factory import make_gate
from booth.devices.photos import PhotoStore
from booth.domain import lane as L
from booth.domain.phrases import say
from booth.engine.approvals import Approvals, ExceptionKind
from booth.engine.bolink_inbox import BolinkInbox
from booth.engine.bolink_uploads import BolinkUploads
from booth.engine.camera_intake import CameraIntake
from booth.engine.events import EngineError, SyncChanged
from booth.engine.gate_control import GateControl
from booth.engine.lanes import LaneRunner
from booth.engine.payments import Payments, released_elsewhere_outpark
from booth.engine.runtime import Runtime
from booth.engine.stays import Stays
from booth.engine.timings import LaneTimings
from booth.lot.journal import drop_journal
from booth.lot.lookup import LotStays, StayLookup
from booth.office.shifts import Shifts
from booth.office.staff import Staff
from booth.store import Database, Store, open_database
from booth.store.archive import ArchiveSchedule
from booth.store.backup import BackupSchedule
from booth.store.records import ExitInFlight, OutboxItem, StayRecord
from booth.store.worker import Priority
from booth.sync.cloud_sync import CloudSync, relay_backoff
from booth.sync.outbox import BreakerState, OutboxRelay
from booth.sync.status import LotLine, SyncStatus

if TYPE_CHECKING:
    from booth.devices.cameras import CameraListener

log = logging.getLogger("booth.engine")

#: [retention]: the first archive run this long after the start (then once a day), when the lanes have settled
ARCHIVE_FIRST_AFTER_S = 3600.0

#: at a stop, how long a lane booking a payment or moving its gate may take to finish
STOP_GRACE_S = 3.0


class EngineLoop:
    """The engine's parts on its thread. Built by ``start``; the facade reads them, the loop runs them."""

    def __init__(
        self,
        settings: Settings,
        rt: Runtime,
        *,
        office: Callable[..., concurrent.futures.Future[Any]],
        office_pools: tuple[concurrent.futures.Executor, ...],
        monotonic: Callable[[], float] | None,
        tick_s: float,
        sync_started: threading.Event,
        lot: StayLookup | None = None,
    ) -> None:
        self.settings = settings
        self.rt = rt
        self._office = office
        self._office_pools = office_pools
        self._monotonic = monotonic
        self._tick_s = tick_s
        self.sync_started = sync_started
        self.database: Database | None = None
        self.staff: Staff | None = None
        self.shifts: Shifts | None = None
        self.bolink: BolinkClient | None = None
        self.sandbox: Any = None  # BolinkSandbox when bolink.base_url == "sandbox"
        self.cameras: CameraListener | None = None
        self.photos: PhotoStore | None = None
        self.gates = GateControl(rt, {lane.id: make_gate(lane.gate, lane.id) for lane in settings.lanes})
        lane_settings = {lane.id: lane for lane in settings.lanes}
        if lot is None and settings.lot is not None:  # [lot]: the lot's stays at other booths, at the exits
            lot = LotStays.from_settings(settings.lot)
        self.stays = Stays(rt, settings, lane_settings, lot)
        self.payments: Payments | None = None
        self.lanes: LaneRunner | None = None
        self.inbox: BolinkInbox | None = None
        self.intake: CameraIntake | None = None
        self.approvals: Approvals | None = None
        self.uploads: BolinkUploads | None = None
        self.cloud_sync: CloudSync | None = None
        self.backups: BackupSchedule | None = None
        self.archives: ArchiveSchedule | None = None
        self.timings = LaneTimings(rt)
        #: [lot]: booth.lot.service.LotService (the journal pushed, the lot pulled), made at start
        self.lot_service: Any = None
        #: [lot] takeover_after_s: booth.sync.lot_relay.RelayLease, the relays' fence (made with lot_service)
        self.lot_lease: Any = None

    # ------------------------------------------------------------------------------------------- start
    async def start(self) -> None:
        s = self.settings
        in_flight: list[ExitInFlight] = []

        def open_and_recover() -> Database:
            database = open_database(s.database.url)
            if s.lot is not None:  # lot_service: the journal first, before any write of this run
                from booth.lot.service import prepare as lot_service_prepare

                lot_service_prepare(database)
            elif (left := drop_journal(database.engine)) is not None:  # it left its lot: nothing grows unread
                log.warning(
                    "this database kept a lot journal but [lot] is not set: the journal and its triggers "
                    "are removed (%d entries were not yet on the lot server; joining again sends every row "
                    "afresh)",
                    left,
                )
            # what the last run left unfinished, read before any lane of this run can open an exit order
            in_flight.extend(Store(database).exits_in_flight())
            return database

        # the database opens (and, new, migrates) on its thread while this loop starts the rest
        opening = asyncio.ensure_future(self.rt.db(open_and_recover, Priority.MONEY))
        try:
            await self._start_lanes_and_bolink()
        finally:
            self.database = await opening
        self.rt.open_store(Store(self.database))
        self.timings.open(self.database)
        self.staff = Staff(self.database, s.staff, clock=self.rt.now)
        self.shifts = Shifts(self.database, s.shifts, self.staff, clock=self.rt.now)
        assert self.lanes is not None
        self.approvals = Approvals(self.rt, s, self.lanes, self.staff, self.shifts, self._office)
        await self.gates.record_rests()
        self._start_background(in_flight)

    async def _start_lanes_and_bolink(self) -> None:
        s = self.settings
        # a booth killed mid-pulse left a relay ON: every gate goes to rest before any lane acts on a car
        await self.gates.rest_all()
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
        self.bolink.time_round_trips(self.timings.bolink_round_trip)
        lane_settings = {lane.id: lane for lane in s.lanes}
        self.payments = Payments(self.rt, s, lane_settings, self.bolink)
        self.lanes = LaneRunner(self.rt, s, self.stays, self.payments, self.gates, self._after_exception)
        self.lanes.publish_all()
        self.lanes.on_view = self.timings.view_published
        self.inbox = BolinkInbox(self.rt, s, self.lanes, self.payments, self.stays)
        if isinstance(self.stays.lot, LotStays):
            self.stays.lot.warm_up()  # (its connection made in the background, before the first car)
        self.uploads = BolinkUploads(self.rt, self.bolink, self.payments)
        if s.cameras.enabled:
            self.photos = PhotoStore(
                s.cameras.photo_path, keep=s.cameras.photo_keep, keep_days=s.cameras.photo_keep_days
            )
        self.intake = CameraIntake(self.rt, s, self.lanes, self.stays, self.photos)
        self.intake.timings = self.timings
        if s.cameras.enabled:
            # imported here: its HTTP server (aiohttp) costs ~190 ms of start-up a booth without cameras skips
            from booth.devices.cameras import CameraListener

            self.cameras = CameraListener(
                s.cameras, s.lanes, self.intake, self.gates.gates, self.rt.now, zone=s.park.zone
            )
            await self.cameras.start()

    def _after_exception(self, record: L.RecordException) -> None:
        if self.approvals is not None:
            self.approvals.after(record)

    def _on_sign_mismatch(self, mismatch: SignMismatch) -> None:
        """A downstream Bolink message failed its sign check: the supervisor is told of the first and then of
        every 100th (a flood of forged messages is one alert and a count, not a flood of alerts)."""
        if mismatch.count == 1 or mismatch.count % 100 == 0:
            self.rt.sync_alert("bolink_sign_mismatch", f"{mismatch.text} ({mismatch.count} so far)")

    def _start_background(self, in_flight: list[ExitInFlight]) -> None:
        s, rt = self.settings, self.rt
        for warning in config_warnings(s):
            rt.sync_alert("config_warning", warning)
        assert self.lanes is not None and self.bolink is not None and self.inbox is not None
        assert self.uploads is not None
        sync = self.cloud_sync = rt.cloud_sync = CloudSync(
            s,
            rt.store,
            rt.db_worker,
            clock=rt.now,
            on_alert=rt.sync_alert,
            on_status=lambda status: rt.emit(SyncChanged(self.with_lot(status))),
        )
        # before Bolink's results are heard: a result for a resumed exit must find its lane waiting
        self.lanes.resume_exits(in_flight)
        bolink_relay = rt.bolink_relay = OutboxRelay(
            "bolink",
            rt.store,
            rt.db_worker,
            self.uploads.send,
            clock=rt.now,
            on_state=lambda state: sync.poke(),
        )
        sync.watch(bolink_relay)
        # Alipay and Tmall start after the lanes are ready (their clients and, in sandbox mode, emulators
        # with fresh keys take a few hundred ms): the lanes never wait for them. Their rows are queued
        # from the first car on either way.
        rt.spawn(self._start_sync(sync), "sync-start")
        rt.spawn(self.bolink.run_downstream(self.inbox.on_message, self.inbox.on_status), "bolink-downstream")
        rt.spawn(bolink_relay.run(), "bolink-relay")
        rt.spawn(self.lanes.tick_loop(self._tick_s, self._monotonic), "lane-ticks")
        rt.spawn(self.timings.run(), "lane-timings")
        if self.cameras is not None:
            rt.spawn(self.cameras.watch(), "camera-heartbeats")
        self._start_backups()
        self._start_archives()
        self._start_lot_service()
        log.info("engine ready: %d lane(s), database %s", len(self.lanes.lanes), s.database.url)

    def _start_backups(self) -> None:
        """``[backup] interval_h``: copies on a thread of their own (never the loop's, never the database
        thread's: SQLite's backup API reads a snapshot while the lanes book); a failed copy is an alert."""
        backup = self.settings.backup
        if not backup.interval_h:
            return
        loop, rt = asyncio.get_running_loop(), self.rt
        cameras = self.settings.cameras

        def failed(message: str) -> None:  # (on the backup thread)
            loop.call_soon_threadsafe(rt.sync_alert, "backup_failed", message)

        self.backups = BackupSchedule(
            self.settings.database.url,
            backup.folder_path,
            interval_s=backup.interval_h * 3600,
            keep=backup.keep,
            photo_dir=cameras.photo_path if backup.photos and cameras.enabled else None,
            on_failure=failed,
        )
        self.backups.start()

    def _start_archives(self) -> None:
        """``[retention] months_online``: the months before it go to the yearly archive files once a day, on a
        thread of its own at low priority (booth.store.archive); a failed run is an alert (archive_failed, as
        a failed backup is) and is tried again the next day."""
        retention = self.settings.retention
        folder = retention.folder_for(self.settings.database.url)
        if not retention.months_online or folder is None:
            return
        loop, rt = asyncio.get_running_loop(), self.rt

        def failed(message: str) -> None:  # (on the archive thread)
            loop.call_soon_threadsafe(rt.sync_alert, "archive_failed", message)

        self.archives = ArchiveSchedule(
            self.settings.database.url,
            retention.months_online,
            folder,
            self.settings.park.zone,
            first_after_s=ARCHIVE_FIRST_AFTER_S,
            on_failure=failed,
        )
        self.archives.start()

    def _start_lot_service(self) -> None:
        """[lot]: the journal's pusher and the lot's puller, each on a thread of its own (the lanes never wait
        on them or on the server); their writes to the store queue on the database thread as background work.
        The exits' lookup (when there is one) gets the puller's recent entries for when the server is slow."""
        if self.settings.lot is None or self.database is None:
            return
        from booth.lot.service import LotService as lot_service_class

        worker, loop = self.rt.db_worker, asyncio.get_running_loop()

        def local_write(fn: Callable[[], Any]) -> Any:  # (on the pusher's or puller's thread)
            return worker.submit_at(Priority.BACKGROUND, fn).result()

        def on_status(status: Any) -> None:  # (on the pusher's thread): the window hears it with the sync's
            loop.call_soon_threadsafe(self._lot_status_changed, status)

        sync = self.cloud_sync

        def exit_items(stay: StayRecord, at: datetime, lane_id: str) -> list[OutboxItem]:  # (database thread)
            # a stay closed because another booth let its car out as no_stay at its lane: Bolink's outpark
            # (every booth has [bolink], and a free release always tells it), with Tmall's leave if wanted
            tmall = [] if sync is None else sync.exit_items(stay, at=at)
            return [*released_elsewhere_outpark(stay, lane_id=lane_id, at=at), *tmall]

        lot_service = self.lot_service = lot_service_class(
            self.settings,
            self.database,
            clock=self.rt.now,
            local_write=local_write,
            on_status=on_status,
            exit_items=exit_items,
        )
        lookup = getattr(self.stays, "lot", None)
        if lookup is not None and hasattr(lookup, "recent"):  # lot_service: the lookup's fallback
            lookup.recent = lot_service.recent
        lot_service.start()
        self.rt.lot_wake = lot_service.wake  # lot_service: pushed when the lanes commit, not at the next look
        self._make_lot_lease(lot_service)

    def _make_lot_lease(self, lot_service: Any) -> None:
        """[lot] takeover_after_s: the fence of every relay (this booth's rows go only while its last contact
        with the server is younger than half of it); the Alipay/Tmall relays get it as they are made."""
        lot = self.settings.lot
        if lot is None or not lot.takeover_after_s:
            return
        from booth.sync.lot_relay import RelayLease

        rt = self.rt
        self.lot_lease = RelayLease(
            lot.booth_id,
            lot_service.server,
            rt.store,
            takeover_after_s=lot.takeover_after_s,
            last_contact_mono=lambda: lot_service.status.last_contact_mono,
            clock=rt.now,
            run_db=lambda fn: rt.db(fn, Priority.BACKGROUND),
        )
        if rt.bolink_relay is not None:
            rt.bolink_relay.fence = self.lot_lease

    def _start_lot_takeover(self, sync: CloudSync) -> None:
        """[lot] takeover_after_s: the fence on the Alipay/Tmall relays, and this booth's part in relaying
        the rows of a booth silent for longer (booth.sync.lot_relay.LotTakeover) with its own clients."""
        lease = self.lot_lease
        if lease is None:
            return
        from booth.sync.lot_relay import LotTakeover

        for relay in sync.relays.values():
            relay.fence = lease
        relays = {**sync.relays}
        if self.rt.bolink_relay is not None:
            relays["bolink"] = self.rt.bolink_relay
        senders = {**sync.senders}
        if self.uploads is not None:
            senders["bolink"] = self.uploads.send

        def ready(relay: OutboxRelay) -> Callable[[], bool]:
            return lambda: relay.breaker is None or relay.breaker.state is not BreakerState.OPEN

        takeover = LotTakeover(
            lease,
            senders,
            holds=sync.holds,
            ready={cloud: ready(relay) for cloud, relay in relays.items()},
            backoff=relay_backoff(self.settings.sync),
        )
        self.rt.spawn(takeover.run(), "lot-takeover")

    def _lot_status_changed(self, status: Any) -> None:
        log.info("lot_service: %s", status.describe())
        sync = self.cloud_sync
        if sync is not None:
            self.rt.emit(SyncChanged(self.with_lot(sync.status)))

    def with_lot(self, status: SyncStatus) -> SyncStatus:
        """The sync's status with the push to the lot server in it (a lot booth): one status for the window
        and ``booth sync status``."""
        lot_service = self.lot_service
        if lot_service is None:
            return status
        push = lot_service.status
        return replace(
            status, lot=LotLine(online=push.online, behind=push.behind, last_error=push.last_error)
        )

    async def _start_sync(self, sync: CloudSync) -> None:
        try:
            await sync.start()
            self._start_lot_takeover(sync)
            for name, job in sync.tasks():
                self.rt.spawn(job, name)
        except Exception as exc:
            log.exception("the Alipay/Tmall sync could not start")
            said = say("alert.sync_start_failed", error=str(exc))
            await self.rt.said(None, "sync_start_failed", said, self.rt.now())
        finally:
            self.sync_started.set()

    # -------------------------------------------------------------------------- the facade's commands
    async def decide_exception(
        self,
        kind: ExceptionKind,
        lane_id: str,
        reason: str,
        operator: str,
        note: str,
        approver: tuple[str, str] | None,
    ) -> None:
        if self.approvals is None:
            raise EngineError("engine is not running: no approvals yet")
        await self.approvals.decide(kind, lane_id, reason, operator, note, approver)

    async def requeue_dead(self, cloud: str | None, operator: str) -> int:
        """Dead letters (of one cloud, or all) given a fresh start; the requeue is audited."""
        rt = self.rt
        store, at = rt.store, rt.now()
        count = await rt.db(lambda: store.requeue_dead(cloud, at=at), Priority.BACKGROUND)
        log.info("%s requeued %d dead outbox row(s) of %s", operator, count, cloud or "every cloud")
        await rt.db(
            lambda: store.audit(
                actor=operator, action="sync_requeue", detail={"cloud": cloud or "*", "rows": count}, at=at
            ),
            Priority.BACKGROUND,
        )
        rt.wake_relays(bolink=True)
        if self.cloud_sync is not None:
            await self.cloud_sync.refresh_status()
        return count

    # -------------------------------------------------------------------------------------------- stop
    async def stop(self) -> None:
        # a payment being booked or a gate moving finishes first (bounded): a stop mid-pulse left the relay
        # ON and the stay of a car that was let out open
        loop = asyncio.get_running_loop()
        deadline = loop.time() + STOP_GRACE_S
        while self.lanes is not None and self.lanes.finishing():
            if loop.time() > deadline:
                log.warning("stopping with a lane still booking or opening its gate")
                break
            await asyncio.sleep(0.02)
        await self.rt.cancel_tasks()  # from now on nothing new is spawned
        if self.backups is not None:
            await asyncio.to_thread(self.backups.stop)  # (a copy under way finishes first)
        if self.archives is not None:
            await asyncio.to_thread(self.archives.stop)  # (a month being moved finishes first)
        await self.gates.close()  # and every relay is left at rest (OFF)
        if self.cameras is not None:
            await self.cameras.stop()
        if self.bolink is not None:
            await self.bolink.aclose()
        if self.cloud_sync is not None:
            await self.cloud_sync.aclose()
        if self.sandbox is not None:
            await self.sandbox.stop()
        if self.stays.lot is not None:
            await asyncio.to_thread(self.stays.lot.close)
        # a sign-in under way finishes before its database closes; queued office work is dropped
        for pool in self._office_pools:
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)
        if self.lot_lease is not None:  # (its server calls a cancelled relay left running end first)
            await self.lot_lease.aclose()
        if self.lot_service is not None:  # its threads end (a last push) before the database closes
            self.rt.lot_wake = None
            await asyncio.to_thread(self.lot_service.stop)
        if self.database is not None:
            await self.timings.flush()  # (the last few seconds' samples)
            await self.rt.db(self.database.close)
        log.info("engine stopped")
