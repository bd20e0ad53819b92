"""A lot booth's background services (issue #18), as the engine runs them when ``[lot]`` is set.

Order matters:

- ``prepare(database)`` makes the local journal, on the database thread, right after the database opens and
  before any write of this run (a write before it would never be journaled, so never pushed);
- ``start()`` (once the lanes are ready) starts the pusher and the puller on threads of their own: the lanes
  never wait on them or on the server;
- ``stop()`` stops the puller first (it writes into the store), then gives the pusher one last round if the
  server was reachable (what the booth did last is on the server after a clean stop), stops it, and lets
  go of the server's connections. The database closes after this.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine

from booth.config import Settings
from booth.lot.journal import ensure_journal
from booth.lot.pull import LotPuller, RecentEntries
from booth.lot.push import LocalWrite, LotPusher, PushStatus, one_line, utc_now
from booth.lot.released import ExitItems, tariff_pricing
from booth.lot.server import lot_engine
from booth.store import Database, Store

log = logging.getLogger("booth.lot")


def prepare(database: Database) -> None:
    """The local journal (idempotent): call before the first write of the run."""
    seeded = ensure_journal(database.engine)
    if seeded:
        log.info("lot journal made: the %d rows this database already held are journaled for the lot", seeded)


class LotService:
    """The pusher and the puller of one booth, started and stopped together; ``status`` any thread."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        *,
        server: Engine | None = None,
        clock: Callable[[], datetime] = utc_now,
        local_write: LocalWrite | None = None,
        on_status: Callable[[PushStatus], None] | None = None,
        round_deadline_s: float | None = None,  # None: booth.lot.server.ROUND_DEADLINE_S
        exit_items: ExitItems | None = None,
    ) -> None:
        """``exit_items``: what this booth queues for the clouds (the engine's: Bolink's outpark, Tmall's
        leave) for a stay the puller closes because another booth let its car out as no_stay
        (booth.lot.released)."""
        lot = settings.lot
        if lot is None:
            raise ValueError("no [lot] in the settings")
        self._owns_server = server is None
        self.server = server if server is not None else lot_engine(lot)
        lanes = [lane.id for lane in settings.lanes]
        self.pusher = LotPusher(
            database,
            self.server,
            lot.booth_id,
            name=settings.park.name,
            lanes=lanes,
            push_interval_s=lot.push_interval_s,
            heartbeat_s=lot.heartbeat_s,
            # a server down is tried again at least every heartbeat: once it is back, this booth's entries
            # made meanwhile reach the lot within a heartbeat (with the pusher's own 30 s cap, other exits
            # were told "no such stay" by a server that was up, for up to 30 s: the lot test found it)
            backoff_max_s=lot.heartbeat_s,
            clock=clock,
            local_write=local_write,
            on_status=on_status,
            round_deadline_s=round_deadline_s,
        )
        self.puller = LotPuller(
            database,
            self.server,
            lot.booth_id,
            interval_s=lot.heartbeat_s,
            round_deadline_s=round_deadline_s,
            clock=clock,
            local_write=local_write,
            # a stay released as no_stay at another booth: its fee, priced here, for the supervisor
            price=tariff_pricing(Store(database, clock=clock), settings.tariff, settings.park.zone),
            exit_items=exit_items,
        )

    @property
    def status(self) -> PushStatus:
        return self.pusher.status

    @property
    def recent(self) -> RecentEntries:
        return self.puller.recent

    def start(self) -> None:
        self.pusher.start()
        self.puller.start()

    def wake(self) -> None:
        self.pusher.wake()

    def stop(self) -> None:
        """Blocking (on a thread, not the loop): the puller, a last push, the pusher, the connections."""
        self.puller.stop()
        # the last round only if the thread's rounds ended and the server answered the last one: a stop never
        # waits twice on a server that has gone silent
        if self.pusher.stop() and self.pusher.status.online:
            try:
                self.pusher.push_once(heartbeat=False)
            except Exception as exc:
                log.warning("the last push before the stop failed: %s", one_line(exc))
        if self._owns_server:
            self.server.dispose()


__all__ = ["LotService", "PushStatus", "prepare"]
