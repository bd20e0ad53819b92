"""What every part of the engine shares on the engine thread: the clock, the database thread, the task set,
the listeners and the alerts. Each part is given this and the collaborators it works with (store, gates,
clouds), never the engine itself."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from booth.domain.phrases import Phrase
from booth.engine.events import AlertRaised, EngineError, EngineEvent, Listener
from booth.store import Store
from booth.store.worker import DatabaseWorker, Priority

if TYPE_CHECKING:
    from booth.sync.cloud_sync import CloudSync
    from booth.sync.outbox import OutboxRelay

log = logging.getLogger("booth.engine")
T = TypeVar("T")


def wall_clock() -> datetime:
    return datetime.now(UTC)


class Runtime:
    """The engine loop's shared services. ``store``, ``bolink_relay`` and ``cloud_sync`` are set as the loop
    starts; a part that runs before the database opened finds ``store`` raising EngineError."""

    def __init__(self, clock: Callable[[], datetime], db_worker: DatabaseWorker) -> None:
        self.now = clock
        self.db_worker = db_worker
        self._store: Store | None = None
        self.bolink_relay: OutboxRelay | None = None
        self.cloud_sync: CloudSync | None = None
        #: [lot]: the journal's pusher, woken with the relays (LotPusher.wake: any thread, never waits)
        self.lot_wake: Callable[[], None] | None = None
        self.tasks: set[asyncio.Task[Any]] = set()
        self.shutting_down = False
        self._listeners: list[Listener] = []
        self._listeners_lock = threading.Lock()

    # ------------------------------------------------------------------------------------ the store
    @property
    def store(self) -> Store:
        if self._store is None:
            raise EngineError("store not open")
        return self._store

    @property
    def store_open(self) -> bool:
        return self._store is not None

    def open_store(self, store: Store) -> None:
        self._store = store

    async def db(self, fn: Callable[[], T], priority: Priority = Priority.LANE) -> T:
        """Run a store call on the database thread (money first, then lanes, then bookkeeping)."""
        return await asyncio.wrap_future(self.db_worker.submit_at(priority, fn))

    # ------------------------------------------------------------------------------------ the tasks
    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any] | None:
        """Run ``coro`` as a task of the engine (cancelled at stop); a failure is logged, never lost."""
        if self.shutting_down:
            coro.close()
            log.debug("not starting %s: the engine is stopping", name)
            return None
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self.tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("task %s failed", task.get_name(), exc_info=task.exception())

    async def cancel_tasks(self) -> None:
        """At stop: nothing new is spawned, and every task is cancelled (and awaited)."""
        self.shutting_down = True
        while self.tasks:  # a task being cancelled may have spawned another just before
            tasks = list(self.tasks)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    # ------------------------------------------------------------------------------- the listeners
    def subscribe(self, listener: Listener) -> Callable[[], None]:
        with self._listeners_lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._listeners_lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def emit(self, event: EngineEvent) -> None:
        with self._listeners_lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(event)
            except Exception:
                log.exception("listener failed on %r", event)

    # ---------------------------------------------------------------------------------- the alerts
    async def said(self, lane_id: str | None, kind: str, detail: Phrase, at: datetime) -> None:
        """An alert whose detail the window can translate (its Chinese text is logged and audited)."""
        await self.alert(lane_id, kind, detail.text, at, detail=detail)

    async def alert(
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
        self.emit(AlertRaised(lane_id, kind, message, at, detail))
        if not audit or self._store is None:  # (an alert before the database opened is logged and shown)
            return
        store = self._store
        actor = f"lane:{lane_id}" if lane_id else "engine"
        await self.db(
            lambda: store.audit(actor=actor, action=kind, detail={"message": message}, at=at),
            Priority.BACKGROUND,
        )

    def sync_alert(self, kind: str, message: str) -> None:
        """An alert from a callback that cannot wait (the sync, the Bolink client): raised in a task."""
        self.spawn(self.alert(None, kind, message, self.now()), f"alert-{kind}")

    async def audit(self, actor: str, action: str, detail: dict[str, Any], at: datetime, what: str) -> None:
        """A bookkeeping audit row in the background; a failure is logged (``what`` names it), not raised."""
        store = self.store
        try:
            await self.db(
                lambda: store.audit(actor=actor, action=action, detail=detail, at=at), Priority.BACKGROUND
            )
        except Exception:
            log.exception("%s could not be recorded", what)

    def wake_relays(self, *, bolink: bool = False) -> None:
        """Rows were committed: the relays look now instead of at their next idle tick."""
        if self.bolink_relay is not None and bolink:
            self.bolink_relay.wake()
        sync = self.cloud_sync
        if sync is not None:
            for relay in sync.relays.values():
                relay.wake()
        if self.lot_wake is not None:  # (the rows are on the lot server a push round later, not a period)
            self.lot_wake()
