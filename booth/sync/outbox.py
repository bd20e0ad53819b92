"""The relay that drains the transactional outbox to one cloud.

Business rows and their outbox rows commit together (see ``booth.store``); this relay reads what is due,
sends it, and marks each row in its own short transaction. A failure the cloud may get over is retried with
exponential backoff and full jitter up to a cap; a fatal one parks the row as dead for the supervisor. Rows
are never deleted. Rows of one stay go in order because the store only hands out a stay's oldest pending row,
which is also why the rows of one batch may be sent side by side: no two of them belong to the same stay.

A circuit breaker per cloud stops the relay from hammering a cloud that is down: after N consecutive
retryable failures it opens (nothing is sent) for a cool-down, then lets one probe through (half-open); the
probe's success closes it, its failure opens it again. A crash between a send and its mark means the row is
sent again after the restart: delivery is at least once, and the senders make a repeat harmless where the
cloud allows it (Alipay answers "already synced" for a known ``out_order_no``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import partial
from typing import Protocol, TypeVar

from booth.store import OutboxRecord, Store

log = logging.getLogger("booth.outbox")
T = TypeVar("T")


class SendVerdict(StrEnum):
    SENT = "sent"  # the cloud has it (including "already have it")
    RETRY = "retry"  # worth trying again later
    FATAL = "fatal"  # will never succeed as it is: park for the supervisor


@dataclass(frozen=True)
class SendResult:
    """What one attempt came to. ``unverified``: the answer could not be trusted (bad or missing signature);
    ``retry_after_s``: the cloud said how long to wait (a call-limit ban)."""

    verdict: SendVerdict
    detail: str = ""
    unverified: bool = False
    retry_after_s: float | None = None


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


# ------------------------------------------------------------------------------------------ circuit breaker


class BreakerState(StrEnum):
    CLOSED = "closed"  # sending
    OPEN = "open"  # the cloud failed N times in a row: nothing is sent until the cool-down is over
    HALF_OPEN = "half_open"  # one probe is let through; its outcome closes or reopens the breaker


@dataclass(frozen=True)
class BreakerPolicy:
    failures: int = 5
    cooldown_s: float = 30.0


BreakerListener = Callable[[str, BreakerState, BreakerState, str], None]


class CircuitBreaker:
    """One cloud's breaker. Not thread-safe: the relay uses it on the engine loop only.

    ``clock`` is monotonic seconds (the cool-down must not jump with the wall clock).
    """

    def __init__(
        self,
        cloud: str,
        policy: BreakerPolicy,
        *,
        clock: Callable[[], float] = time.monotonic,
        on_change: BreakerListener | None = None,
    ) -> None:
        if policy.failures < 1 or policy.cooldown_s <= 0:
            raise ValueError(f"breaker needs failures >= 1 and cooldown_s > 0, got {policy}")
        self.cloud = cloud
        self.policy = policy
        self._clock = clock
        self._on_change = on_change
        self.state = BreakerState.CLOSED
        self.consecutive_failures = 0
        self._opened_at = 0.0
        self._probe_out = False

    def reopens_in(self) -> float:
        """Seconds until an open breaker lets a probe through (0 when it is not open)."""
        if self.state is not BreakerState.OPEN:
            return 0.0
        return max(0.0, self._opened_at + self.policy.cooldown_s - self._clock())

    def acquire(self) -> bool:
        """May one more row be sent now? In half-open, only the one probe may."""
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.OPEN:
            if self.reopens_in() > 0:
                return False
            self._move(BreakerState.HALF_OPEN, "cool-down over: one probe")
        if self._probe_out:
            return False
        self._probe_out = True
        return True

    def release(self) -> None:
        """The acquired send did not happen (cancelled): let another probe go."""
        self._probe_out = False

    def success(self) -> None:
        self.consecutive_failures = 0
        self._probe_out = False
        if self.state is not BreakerState.CLOSED:
            self._move(BreakerState.CLOSED, "the cloud answered")

    def failure(self, detail: str) -> None:
        self.consecutive_failures += 1
        self._probe_out = False
        if self.state is BreakerState.HALF_OPEN:
            self._opened_at = self._clock()
            self._move(BreakerState.OPEN, f"probe failed: {detail}")
        elif self.state is BreakerState.CLOSED and self.consecutive_failures >= self.policy.failures:
            self._opened_at = self._clock()
            self._move(BreakerState.OPEN, f"{self.consecutive_failures} failures in a row, last: {detail}")

    def _move(self, new: BreakerState, why: str) -> None:
        old, self.state = self.state, new
        level = logging.INFO if new is BreakerState.CLOSED else logging.WARNING
        log.log(level, "%s circuit breaker %s -> %s: %s", self.cloud, old.value, new.value, why)
        if self._on_change is not None:
            try:
                self._on_change(self.cloud, old, new, why)
            except Exception:
                log.exception("%s breaker listener failed", self.cloud)


# --------------------------------------------------------------------------------------------------- relay


@dataclass(frozen=True)
class RelayState:
    """A relay at a glance; replaced whole on every change, so any thread may read it."""

    cloud: str
    breaker: BreakerState | None  # None: this relay has no breaker
    consecutive_failures: int = 0
    reopens_in_s: float = 0.0
    held: str = ""  # why nothing is sent (e.g. the lot is not registered), "" when sending
    last_error: str = ""
    last_sent_at: datetime | None = None
    sent: int = 0  # rows the cloud accepted since the engine started
    unverified_streak: int = 0
    relayed_elsewhere: int = 0  # rows another booth of the lot sent for this one (booth.sync.lot_relay)


Sender = Callable[[OutboxRecord], Awaitable[SendResult]]
HoldCheck = Callable[[], Awaitable[str]]


class Fence(Protocol):
    """A lot booth's fence (booth.sync.lot_relay.RelayLease): its rows are sent only while it holds its lease
    on the lot server, so no row another booth may have taken over is sent twice."""

    async def hold(self, cloud: str) -> str:
        """Why ``cloud``'s rows wait now ("" when they may go); may settle what another booth sent."""
        ...

    def lapsed(self) -> bool:
        """The lease has run out (checked again before each row is sent)."""
        ...

    def relayed_elsewhere(self, cloud: str) -> int:
        """How many of ``cloud``'s rows another booth sent for this one (this run)."""
        ...


AlertSink = Callable[[str, str, str], None]  # (cloud, kind, message)


class OutboxRelay:
    """Drains one cloud's outbox rows through ``send``; runs on the engine's loop.

    ``concurrency`` rows of one batch may be in flight together (each of another stay). ``hold`` is asked
    before each batch: a non-empty answer (why) keeps everything queued, e.g. while the lot is not
    registered. ``on_alert`` hears what a supervisor must see: rows parked as dead, and answers that failed
    verification ``unverified_alert_after`` times in a row.
    """

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
        breaker: CircuitBreaker | None = None,
        concurrency: int = 1,
        batch: int = 50,
        hold: HoldCheck | None = None,
        on_alert: AlertSink | None = None,
        on_state: Callable[[RelayState], None] | None = None,
        unverified_alert_after: int = 3,
        dead_alert_every_s: float = 60.0,
    ) -> None:
        if concurrency < 1 or batch < 1:
            raise ValueError(f"concurrency and batch must be >= 1, got {concurrency} and {batch}")
        self.cloud = cloud
        self._store = store
        self._db = db
        self._send = send
        self._backoff = backoff or Backoff()
        self._idle_s = idle_s
        self._clock = clock
        self._rng = rng or random.Random()
        self.breaker = breaker
        self._concurrency = concurrency
        self._batch = batch
        self._hold = hold
        self._on_alert = on_alert
        self._on_state = on_state
        self._unverified_alert_after = max(1, unverified_alert_after)
        self._dead_alert_every_s = dead_alert_every_s
        self._last_dead_alert = -float("inf")
        self._dead_since_alert = 0
        self._wake = asyncio.Event()
        self.state = RelayState(cloud, None if breaker is None else breaker.state)
        #: a lot booth's fence (booth.sync.lot_relay), asked before ``hold`` and each row; None elsewhere
        self.fence: Fence | None = None

    @property
    def sent(self) -> int:
        return self.state.sent

    def wake(self) -> None:
        """Something was queued or requeued: look now instead of at the next idle tick."""
        self._wake.set()

    def _update(self, **changes: object) -> None:
        breaker = self.breaker
        if breaker is not None:
            changes.setdefault("breaker", breaker.state)
            changes.setdefault("consecutive_failures", breaker.consecutive_failures)
            changes.setdefault("reopens_in_s", round(breaker.reopens_in(), 3))
        new = replace(self.state, **changes)  # type: ignore[arg-type]
        if new == self.state:
            return
        self.state = new
        if self._on_state is not None:
            try:
                self._on_state(new)
            except Exception:
                log.exception("%s relay state listener failed", self.cloud)

    async def _db_call(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._db, fn)

    def _alert(self, kind: str, message: str) -> None:
        if self._on_alert is None:
            return
        try:
            self._on_alert(self.cloud, kind, message)
        except Exception:
            log.exception("%s relay alert sink failed", self.cloud)

    async def drain_once(self) -> int:
        """Send what is due now; return how many rows were handled (sent, retried or parked)."""
        fence = self.fence
        if fence is not None:
            why = await fence.hold(self.cloud)
            self._update(held=why, relayed_elsewhere=fence.relayed_elsewhere(self.cloud))
            if why:
                return 0
        if self._hold is not None:
            why = await self._hold()
            self._update(held=why)
            if why:
                return 0
        breaker = self.breaker
        if breaker is not None and breaker.state is BreakerState.OPEN and breaker.reopens_in() > 0:
            self._update()
            return 0
        limit = self._batch if breaker is None or breaker.state is BreakerState.CLOSED else 1
        now = self._clock()
        rows = await self._db_call(lambda: self._store.due_outbox(self.cloud, now, limit))
        if not rows:
            return 0
        gate = asyncio.Semaphore(self._concurrency)

        async def one(row: OutboxRecord) -> int:
            async with gate:
                if fence is not None and fence.lapsed():
                    return 0  # the lease ran out meanwhile: the row waits (another booth may take it)
                if breaker is not None and not breaker.acquire():
                    return 0  # opened meanwhile: the row stays as it is, untouched
                try:
                    result = await self._attempt(row)
                except BaseException:
                    if breaker is not None:
                        breaker.release()
                    raise
                await self._settle(row, result)
                return 1

        handled = await asyncio.gather(*(one(row) for row in rows))
        self._update()
        return sum(handled)

    async def _attempt(self, row: OutboxRecord) -> SendResult:
        try:
            return await self._send(row)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug in a sender must not stop the relay; the row is retried
            log.exception("%s outbox %s (%s): sender failed", self.cloud, row.id, row.kind)
            return SendResult(SendVerdict.RETRY, f"sender error: {exc!r}")

    async def _settle(self, row: OutboxRecord, result: SendResult) -> None:
        """Count the outcome for the breaker and the alerts, then mark the row (its own transaction)."""
        breaker = self.breaker
        if result.unverified:
            streak = self.state.unverified_streak + 1
            self._update(unverified_streak=streak)
            if streak == self._unverified_alert_after:
                self._alert(
                    "unverified_answers",
                    f"{self.cloud}: {streak} answers in a row failed verification (wrong alipay_public_key, "
                    f"a misconfigured app_id, or something in between): {result.detail}",
                )
        elif self.state.unverified_streak:
            self._update(unverified_streak=0)
        if breaker is not None:
            if result.verdict is SendVerdict.RETRY:
                breaker.failure(result.detail)
            else:
                breaker.success()  # the cloud answered, even if it refused this row
        try:
            await self._mark(row, result)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the row stays pending and is sent again: at least once
            log.exception("%s outbox %s: could not record the outcome %s", self.cloud, row.id, result.verdict)
            self._update(last_error=f"store: {exc}")

    async def _mark(self, row: OutboxRecord, result: SendResult) -> None:
        if result.verdict is SendVerdict.SENT:
            at = self._clock()
            await self._db_call(partial(self._store.mark_outbox_sent, row.id, at=at))
            self._update(sent=self.state.sent + 1, last_sent_at=at)
            return
        attempts = row.attempts + 1
        self._update(last_error=result.detail)
        if result.verdict is SendVerdict.FATAL or (
            self._backoff.max_attempts and attempts >= self._backoff.max_attempts
        ):
            log.error("%s outbox %s (%s) parked as dead: %s", self.cloud, row.id, row.kind, result.detail)
            await self._db_call(partial(self._store.mark_outbox_dead, row.id, error=result.detail))
            self._dead_letter(row, result.detail)
            return
        delay = self._backoff.delay(attempts, self._rng)
        if result.retry_after_s is not None:
            delay = max(delay, timedelta(seconds=result.retry_after_s))
        next_at = self._clock() + delay
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

    def _dead_letter(self, row: OutboxRecord, reason: str) -> None:
        """Alert on the first dead letter, then at most once per ``dead_alert_every_s`` with the count."""
        self._dead_since_alert += 1
        now = time.monotonic()
        if now - self._last_dead_alert < self._dead_alert_every_s:
            return
        count, self._dead_since_alert, self._last_dead_alert = self._dead_since_alert, 0, now
        more = f" (and {count - 1} more since the last alert)" if count > 1 else ""
        self._alert(
            "dead_letter",
            f"{self.cloud}: outbox row {row.id} ({row.kind}) cannot be sent as it is{more}: {reason}. "
            "Fix the data or the settings, then requeue (booth sync requeue).",
        )

    async def run(self) -> None:
        """Forever: drain, then sleep until woken, the breaker's cool-down or the idle tick.

        Never raises but CancelledError.
        """
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
            wait = self._idle_s
            if self.breaker is not None and self.breaker.state is BreakerState.OPEN:
                wait = min(wait, max(self.breaker.reopens_in(), 0.01))
            with contextlib.suppress(TimeoutError):  # not wait_for: see CloudSync._status_loop
                async with asyncio.timeout(wait):
                    await self._wake.wait()
