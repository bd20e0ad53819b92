"""The outbox relay on its own: circuit breaker transitions, retry classes, dead letters, order per stay and
concurrency, with a real SQLite store on its database thread and a scripted sender (no network here: the
clouds' own wire behaviour is tested through the engine in test_sync.py)."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio

from booth.store import OutboxItem, OutboxRecord, Store, open_database
from booth.store.worker import DatabaseWorker
from booth.sync.outbox import (
    Backoff,
    BreakerPolicy,
    BreakerState,
    CircuitBreaker,
    OutboxRelay,
    SendResult,
    SendVerdict,
)


class FakeClock:
    """Wall and monotonic time that only move when the test says so."""

    def __init__(self) -> None:
        self.wall = datetime.now(UTC)
        self.mono = 1000.0

    def now(self) -> datetime:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.wall += timedelta(seconds=seconds)
        self.mono += seconds


@dataclass
class ScriptedSender:
    """Answers from a script (then ``default``); records what it was asked, and how many were in flight."""

    script: list[SendResult] = field(default_factory=list)
    default: SendResult = field(default_factory=lambda: SendResult(SendVerdict.SENT))
    seen: list[str] = field(default_factory=list)
    in_flight: int = 0
    most_in_flight: int = 0
    gate: asyncio.Event | None = None
    all_in: asyncio.Event = field(default_factory=asyncio.Event)  # set when `expected` are in flight
    expected: int = 0

    async def __call__(self, row: OutboxRecord) -> SendResult:
        self.seen.append(row.dedupe_key)
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        if self.expected and self.in_flight >= self.expected:
            self.all_in.set()
        try:
            if self.gate is not None:
                await self.gate.wait()
            else:
                await asyncio.sleep(0)
            return self.script.pop(0) if self.script else self.default
        finally:
            self.in_flight -= 1


@dataclass
class Rig:
    store: Store
    db: DatabaseWorker
    clock: FakeClock

    def queue(self, *keys: str, stay: bool = False) -> None:
        items = [OutboxItem("alipay", "order_sync", {"key": k}, k) for k in keys]
        if stay:
            stay_row = self.store.create_stay(
                order_id=f"o_{keys[0]}",
                plate="苏A12345",
                plate_colour="blue",
                vehicle_class="small",
                lane_id="E1",
                entry_at=self.clock.now(),
                outbox=items,
            )
            assert stay_row.id
        else:
            self.store.enqueue(items)

    def states(self) -> dict[str, tuple[str, int]]:
        rows = self.store.due_outbox("alipay", self.clock.now() + timedelta(days=365), limit=1000)
        pending = {r.dedupe_key: (r.state, r.attempts) for r in rows}
        dead = {r.dedupe_key: (r.state, r.attempts) for r in self.store.dead_outbox("alipay")}
        return {**pending, **dead}

    def relay(self, send: Callable[[OutboxRecord], object], **kwargs: object) -> OutboxRelay:
        options: dict[str, object] = {
            "backoff": Backoff(base=timedelta(seconds=1), cap=timedelta(seconds=8)),
            "clock": self.clock.now,
            "rng": random.Random(7),
        }
        options.update(kwargs)
        return OutboxRelay("alipay", self.store, self.db, send, **options)  # type: ignore[arg-type]


@pytest_asyncio.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    database = open_database(f"sqlite:///{tmp_path / 'relay.sqlite'}")
    worker = DatabaseWorker()
    clock = FakeClock()
    yield Rig(Store(database, clock=clock.now), worker, clock)
    worker.shutdown(wait=True)
    database.close()


def breaker(clock: FakeClock, failures: int = 3, cooldown_s: float = 10.0) -> CircuitBreaker:
    return CircuitBreaker("alipay", BreakerPolicy(failures, cooldown_s), clock=clock.monotonic)


RETRY = SendResult(SendVerdict.RETRY, "HTTP 500")


def test_breaker_opens_after_n_failures_half_opens_after_cooldown_and_closes_on_success() -> None:
    clock = FakeClock()
    changes: list[tuple[BreakerState, BreakerState]] = []
    b = CircuitBreaker(
        "alipay",
        BreakerPolicy(3, 10.0),
        clock=clock.monotonic,
        on_change=lambda c, o, n, why: changes.append((o, n)),
    )
    for _ in range(2):
        assert b.acquire()
        b.failure("x")
    assert b.state is BreakerState.CLOSED
    assert b.acquire()
    b.failure("x")
    assert b.state is BreakerState.OPEN and not b.acquire()
    assert b.reopens_in() == pytest.approx(10.0)
    clock.advance(9.9)
    assert not b.acquire()
    clock.advance(0.2)
    assert b.acquire()  # the one probe
    assert b.state is BreakerState.HALF_OPEN
    assert not b.acquire()  # nothing else while the probe is out
    b.failure("still down")
    assert b.state is BreakerState.OPEN and not b.acquire()
    clock.advance(10)
    assert b.acquire()
    b.success()
    assert b.state is BreakerState.CLOSED and b.acquire() and b.acquire()
    assert changes == [
        (BreakerState.CLOSED, BreakerState.OPEN),
        (BreakerState.OPEN, BreakerState.HALF_OPEN),
        (BreakerState.HALF_OPEN, BreakerState.OPEN),
        (BreakerState.OPEN, BreakerState.HALF_OPEN),
        (BreakerState.HALF_OPEN, BreakerState.CLOSED),
    ]


def test_a_success_resets_the_failure_count() -> None:
    b = breaker(FakeClock())
    for _ in range(10):
        b.failure("x")
        b.failure("x")
        b.success()
    assert b.state is BreakerState.CLOSED


@pytest.mark.asyncio
async def test_relay_stops_sending_when_the_breaker_opens_and_probes_one_row_at_a_time(rig: Rig) -> None:
    await asyncio.to_thread(rig.queue, *[f"k{i}" for i in range(10)])
    sender = ScriptedSender(default=RETRY)
    relay = rig.relay(sender, breaker=breaker(rig.clock))
    assert await relay.drain_once() == 3  # three failures, then the breaker opened: the rest untouched
    assert relay.state.breaker is BreakerState.OPEN
    states = await asyncio.to_thread(rig.states)
    assert sorted(a for _, a in states.values()) == [0] * 7 + [1] * 3
    assert await relay.drain_once() == 0  # cooling down: nothing is even read
    rig.clock.advance(10)
    assert await relay.drain_once() == 1  # the probe (fails: open again)
    assert relay.state.breaker is BreakerState.OPEN and len(sender.seen) == 4
    rig.clock.advance(10)
    sender.default = SendResult(SendVerdict.SENT)
    assert await relay.drain_once() == 1  # the probe succeeds...
    assert relay.state.breaker is BreakerState.CLOSED
    rig.clock.advance(60)  # ...and everything due goes, the retried rows included
    assert await relay.drain_once() == 9
    assert await asyncio.to_thread(rig.states) == {}  # nothing pending, nothing dead
    assert relay.sent == 10


@pytest.mark.asyncio
async def test_fatal_rows_are_parked_with_the_reason_and_requeued_rows_go_out(rig: Rig) -> None:
    await asyncio.to_thread(rig.queue, "bad", "good")
    alerts: list[tuple[str, str, str]] = []
    sender = ScriptedSender(script=[SendResult(SendVerdict.FATAL, "isv.invalid-app-id")])
    relay = rig.relay(sender, breaker=breaker(rig.clock), on_alert=lambda *a: alerts.append(a))
    assert await relay.drain_once() == 2
    [dead] = await asyncio.to_thread(rig.store.dead_outbox, "alipay")
    assert (dead.dedupe_key, dead.last_error, dead.attempts) == ("bad", "isv.invalid-app-id", 1)
    assert relay.state.breaker is BreakerState.CLOSED  # the cloud answered: not the breaker's business
    assert [(c, k) for c, k, _ in alerts] == [("alipay", "dead_letter")]
    assert "isv.invalid-app-id" in alerts[0][2] and "requeue" in alerts[0][2]
    assert await asyncio.to_thread(rig.store.requeue_dead, "alipay", at=rig.clock.now()) == 1
    assert await relay.drain_once() == 1
    assert sender.seen == ["bad", "good", "bad"]
    assert await asyncio.to_thread(rig.states) == {}


@pytest.mark.asyncio
async def test_retry_waits_for_backoff_and_honours_a_ban(rig: Rig) -> None:
    await asyncio.to_thread(rig.queue, "k")
    sender = ScriptedSender(script=[RETRY, SendResult(SendVerdict.RETRY, "call limited", retry_after_s=30)])
    relay = rig.relay(sender)
    assert await relay.drain_once() == 1
    assert await relay.drain_once() == 0  # not due before its backoff (1..2 s)
    rig.clock.advance(2.01)
    assert await relay.drain_once() == 1  # the ban says 30 s, more than the backoff
    rig.clock.advance(29)
    assert await relay.drain_once() == 0
    rig.clock.advance(1.01)
    assert await relay.drain_once() == 1
    assert sender.seen == ["k", "k", "k"] and relay.sent == 1


@pytest.mark.asyncio
async def test_unverified_answers_raise_one_alert_per_streak(rig: Rig) -> None:
    await asyncio.to_thread(rig.queue, *[f"k{i}" for i in range(5)])
    unverified = SendResult(SendVerdict.RETRY, "answer is not signed", unverified=True)
    alerts: list[tuple[str, str, str]] = []
    relay = rig.relay(
        ScriptedSender(default=unverified), on_alert=lambda *a: alerts.append(a), unverified_alert_after=3
    )
    assert await relay.drain_once() == 5
    assert [k for _, k, _ in alerts] == ["unverified_answers"]
    assert "3 answers in a row" in alerts[0][2]
    assert relay.state.unverified_streak == 5


@pytest.mark.asyncio
async def test_rows_of_one_stay_go_in_order_and_other_stays_in_parallel(rig: Rig) -> None:
    for n in range(4):
        await asyncio.to_thread(rig.queue, f"s{n}_a", f"s{n}_b", stay=True)
    gate = asyncio.Event()
    sender = ScriptedSender(gate=gate, expected=4)
    relay = rig.relay(sender, concurrency=4)
    drain = asyncio.create_task(relay.drain_once())
    await asyncio.wait_for(sender.all_in.wait(), 10)  # four stays' rows in flight at once
    gate.set()
    assert await drain == 4
    assert sender.most_in_flight == 4
    assert sorted(sender.seen) == ["s0_a", "s1_a", "s2_a", "s3_a"]  # each stay's first row only
    assert await relay.drain_once() == 4
    assert sorted(sender.seen[4:]) == ["s0_b", "s1_b", "s2_b", "s3_b"]


@pytest.mark.asyncio
async def test_a_sender_that_raises_is_a_retry_not_a_crash(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    await asyncio.to_thread(rig.queue, "k")

    async def broken(row: OutboxRecord) -> SendResult:
        raise KeyError("oops")

    relay = rig.relay(broken)
    with caplog.at_level(logging.ERROR, "booth.outbox"):
        assert await relay.drain_once() == 1
    assert "sender failed" in caplog.text
    assert await asyncio.to_thread(rig.states) == {"k": ("pending", 1)}
    assert "KeyError" in relay.state.last_error
