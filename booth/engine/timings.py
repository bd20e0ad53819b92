"""Lane timings kept for the supervisor's figures (issue #16): camera push → quote shown, and the round trip
of a lane's Bolink calls (outpark, the QR, query_order).

Taking a sample costs a ``time.monotonic()`` and an append to a list on the engine thread: nothing on the
way from a payment to the gate writes anything. A background job (``run``) writes what was taken every few
seconds in one transaction at BACKGROUND priority (after the money and the lanes on the database thread) and
once an hour deletes the samples older than ``keep_days``. A booth that cannot write them loses timings, never
a car: the list is bounded and a failed batch is dropped with one log line.

Camera → quote runs from the moment a camera's read reaches the engine (``CameraIntake.camera_read``, after
the listener parsed the push) to the moment the lane's view first carries the amount (the LaneChanged the
screen shows). A Bolink round trip is one ``upload.do`` exchange, request sent to answer read (the wait for
the client's request budget left out), of a call made for a lane.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from booth.clouds.bolink_session import bolink_lane
from booth.domain import lane as L
from booth.engine.runtime import Runtime
from booth.store import Database
from booth.store.timings import TimingSample, TimingStore
from booth.store.worker import Priority

log = logging.getLogger("booth.engine")

#: seconds between two batches written
FLUSH_EVERY_S = 5.0
#: samples kept waiting at most (a database that cannot take them for long costs old samples, not memory)
MAX_PENDING = 20_000
#: how often the old samples are deleted
PRUNE_EVERY = timedelta(hours=1)


class LaneTimings:
    """Takes the samples on the engine thread and writes them in batches in the background."""

    def __init__(
        self,
        rt: Runtime,
        *,
        keep_days: int = 30,
        flush_every_s: float = FLUSH_EVERY_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._rt = rt
        self._keep = timedelta(days=keep_days)
        self._flush_every_s = flush_every_s
        self._monotonic = monotonic
        self._pending: list[TimingSample] = []
        #: lane -> (when its camera's read reached the engine, whether the lane went to QUOTING since)
        self._camera_started: dict[str, tuple[float, bool]] = {}
        self._store: TimingStore | None = None
        self.dropped = 0

    def open(self, database: Database) -> None:
        self._store = TimingStore(database, clock=self._rt.now)

    # ------------------------------------------------------------------------------------- samples
    @property
    def pending(self) -> tuple[TimingSample, ...]:
        """The samples taken and not yet written."""
        return tuple(self._pending)

    def note(self, lane_id: str, kind: str, ms: float) -> None:
        pending = self._pending
        if len(pending) >= MAX_PENDING:
            del pending[: MAX_PENDING // 10]
            self.dropped += MAX_PENDING // 10
        pending.append(TimingSample(lane_id, kind, self._rt.now(), ms))

    @contextmanager
    def camera_read(self, lane_id: str) -> Iterator[None]:
        """Around a camera read's handling: the lane's going to QUOTING and then its first view with an amount
        in it end the timing; a read that brought no new quote (a repeat read of the car at the lane, whose
        QR may arrive meanwhile; an entry lane; a plate not found) takes none."""
        self._camera_started[lane_id] = (self._monotonic(), False)
        try:
            yield
        finally:
            self._camera_started.pop(lane_id, None)

    def view_published(self, view: L.LaneView) -> None:
        """A lane's view changed (LaneRunner.on_view)."""
        started = self._camera_started.get(view.lane_id)
        if started is None:
            return
        if view.state is L.LaneState.QUOTING:
            self._camera_started[view.lane_id] = (started[0], True)
        elif started[1] and view.due_fen is not None:
            del self._camera_started[view.lane_id]
            self.note(view.lane_id, "camera_to_quote", (self._monotonic() - started[0]) * 1000)

    def bolink_round_trip(self, service_name: str, seconds: float) -> None:
        """A Bolink exchange finished (BolinkClient's on_round_trip): kept when made for a lane."""
        lane_id = bolink_lane.get()
        if lane_id is not None:
            self.note(lane_id, "bolink_round_trip", seconds * 1000)

    # ----------------------------------------------------------------------------------- the writes
    async def flush(self) -> int:
        """Write what was taken, in one transaction, at BACKGROUND priority; returns how many."""
        store = self._store
        if store is None or not self._pending:
            return 0
        batch, self._pending = self._pending, []
        try:
            return await self._rt.db(lambda: store.record_timings(batch), Priority.BACKGROUND)
        except Exception:
            log.exception("%d lane timing(s) could not be kept", len(batch))
            return 0

    async def prune(self) -> int:
        store = self._store
        if store is None:
            return 0
        before = self._rt.now() - self._keep
        try:
            return await self._rt.db(lambda: store.prune_timings(before), Priority.BACKGROUND)
        except Exception:
            log.exception("old lane timings could not be deleted")
            return 0

    async def run(self) -> None:
        """The background job: a batch every ``flush_every_s``, the old samples pruned every hour; what is
        left is written at the stop (``flush`` from EngineLoop.stop)."""
        await self.prune()
        pruned_at = self._monotonic()
        while True:
            await asyncio.sleep(self._flush_every_s)
            await self.flush()
            if self._monotonic() - pruned_at >= PRUNE_EVERY.total_seconds():
                pruned_at = self._monotonic()
                await self.prune()
