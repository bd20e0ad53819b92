"""The relay that drains the transactional outbox to one cloud.

Business rows and their outbox rows commit together (see ``booth.store``); this relay reads what is due,
sends it, and marks each row in its own short transaction. A failure the cloud may get over is retried with
exponential backoff and full jitter up to a cap; a fatal one parks the row as dead for the supervisor. Rows
are never deleted. Rows of one stay go in order because the store only hands out a stay's oldest pending row.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import partial
from typing import TypeVar

from booth.store import OutboxRecord, Store

log = logging.getLogger("booth.outbox")
T = TypeVar("T")


class SendVerdict(StrEnum):
    SENT = "sent"  # the cloud has it (including "already have it")
    RETRY = "retry"  # worth trying again later
    FATAL = "fatal"  # will never succeed as it is: park for the supervisor


@dataclass(frozen=True)
class SendResult:
    verdict: SendVerdict
    detail: str = ""


@dataclass(frozen=True)
class Backoff:
    base: timedelta = timedelta(seconds=1)
    cap: timedelta = timedelta(minutes=5)
    max_attempts: int = 0  # 0 = retry forever (a retryable error is never made dead by count alone)

    def delay(self, attempts: int, rng: random.Random) -> timedelta:
        """Full jitter: uniform in [base, min(cap, base * 2**attempts)]."""
        ceiling = min(self.cap.total_seconds(), self.base.total_seconds() * (2 ** min(attempts, 30)))
        return timedelta(
            seconds=rng.uniform(self.base.total_seconds(), max(ceiling, self.base.total_seconds()))
        )


Sender = Callable[[OutboxRecord], Awaitable[SendResult]]


class OutboxRelay:
    """Drains one cloud's outbox rows through ``send``; runs on the engine's loop."""

    def __init__(
        self,
        cloud: str,
        store: Store,
        db: Executor,
        send: Sender,
        *,
        backoff: Backoff | None = None,
        idle_s: float = 1.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        rng: random.Random | None = None,
    ) -> None:
        self.cloud = cloud
        self._store = store
        self._db = db
        self._send = send
        self._backoff = backoff or Backoff()
        self._idle_s = idle_s
        self._clock = clock
        self._rng = rng or random.Random()
        self._wake = asyncio.Event()
        self.sent = 0

    def wake(self) -> None:
        """Something was queued: look now instead of at the next idle tick."""
        self._wake.set()

    async def _db_call(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._db, fn)

    async def drain_once(self) -> int:
        """Send what is due now; return how many rows were handled (sent, retried or parked)."""
        now = self._clock()
        rows = await self._db_call(lambda: self._store.due_outbox(self.cloud, now))
        handled = 0
        for row in rows:
            try:
                result = await self._send(row)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a bug in a sender must not stop the relay; the row is retried
                log.exception("%s outbox %s (%s): sender failed", self.cloud, row.id, row.kind)
                result = SendResult(SendVerdict.RETRY, f"sender error: {exc!r}")
            handled += 1
            if result.verdict is SendVerdict.SENT:
                await self._db_call(partial(self._store.mark_outbox_sent, row.id, at=self._clock()))
                self.sent += 1
                continue
            attempts = row.attempts + 1
            if result.verdict is SendVerdict.FATAL or (
                self._backoff.max_attempts and attempts >= self._backoff.max_attempts
            ):
                log.error("%s outbox %s (%s) parked as dead: %s", self.cloud, row.id, row.kind, result.detail)
                await self._db_call(partial(self._store.mark_outbox_dead, row.id, error=result.detail))
                continue
            next_at = self._clock() + self._backoff.delay(attempts, self._rng)
            log.warning(
                "%s outbox %s (%s) attempt %d failed, retry at %s: %s",
                self.cloud,
                row.id,
                row.kind,
                attempts,
                next_at.isoformat(timespec="seconds"),
                result.detail,
            )
            await self._db_call(
                partial(self._store.mark_outbox_retry, row.id, error=result.detail, next_attempt_at=next_at)
            )
        return handled

    async def run(self) -> None:
        """Forever: drain, then sleep until woken or the idle tick. Never raises but CancelledError."""
        while True:
            try:
                handled = await self.drain_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s outbox relay: drain failed; trying again", self.cloud)
                handled = 0
            if handled:
                continue
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._idle_s)
