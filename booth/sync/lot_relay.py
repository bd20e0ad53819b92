"""Each cloud message sent once, lot-wide (issue #18): a silent booth's outbox rows relayed by a live one.

Normally each booth relays its own outbox rows, as a booth without a lot does: a row exists at one booth
only, so it is sent once. Two parts cover a booth that goes silent on the lot server:

- :class:`RelayLease`, every booth's *fence*: its relays (booth.sync.outbox.OutboxRelay.fence) send its own
  rows only while its lease holds, i.e. its last acknowledged contact with the server (the start of the
  pusher's last successful round) is younger than ``takeover_after_s / 2``, both on this booth's elapsed
  clock (booth.domain.elapsed), which no step of its wall clock moves.
  Past that its rows wait (the lanes do not). Once the server answers again, and before anything is sent,
  it reads the claims other booths made on its rows (``lot_relay_claims``), marks those rows in its own
  outbox as sent (or parked) by that booth, and resumes; rows another live booth is still sending keep
  their cloud waiting until it is done.
- :class:`LotTakeover`, on every live booth: rows of a booth silent for more than ``takeover_after_s`` (by
  the server's clock: ``lot_booths.last_contact_at`` is the server's ``now()`` of the booth's last round,
  booth.lot.server.touch_booth), pending as that booth last pushed them (``lot_outbox``), are *claimed* on
  the server (``INSERT … ON CONFLICT DO NOTHING``: one booth gets each row, however many race) and sent
  with this booth's own clients, the outcome written on the claim. A stay's rows go in id order across the
  takeover: a row is not taken while an earlier row of its stay and cloud is pending and not done by a
  claim.

Why a silent booth cannot send a row taken meanwhile: a claim needs its owner silent for ``takeover_after_s``
on the server, the owner stops at half that, and the claim's transaction holds the owner's ``lot_booths`` row
(``FOR SHARE``) so a heartbeat that lands during it waits for the claim's commit and the owner's next read
of the claims sees it. Each side measures on one clock only (the lease on the booth's elapsed clock, from
before its round's transaction began; the silence on the server's, from that transaction's start), so how far
the booth's clock is from the server's does not matter, nor does a step of the booth's wall clock (an NTP
correction while it is cut off: the lease is not on the wall clock). The margin (half of
``takeover_after_s``) covers a send under way when the lease runs out and the two clocks running at different
rates.

Not taken over: rows that need the silent booth's own files or store (Bolink's outpark looks its stay up
locally, upload_carpic reads a photo on that booth's disk, and a payment's rebuild marker rebuilds from its
store): they wait for their booth.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from booth.domain.elapsed import elapsed_s
from booth.store import OutboxRecord, Store
from booth.sync.outbox import Backoff, SendResult, SendVerdict

log = logging.getLogger("booth.sync.lot_relay")
T = TypeVar("T")
DbRun = Callable[[Callable[[], T]], Awaitable[T]]

#: the kinds a live booth sends for a silent one, per cloud (SQL over these constants only)
TAKEN_OVER = {
    "alipay": "o.kind = 'order_sync'",
    "tmall": "o.kind LIKE 'backflow\\_%'",
    "bolink": "o.kind = 'inpark'",
}
#: how often a cloud held for another booth's claims looks at them again
RECHECK_S = 1.0


def utc_now() -> datetime:
    return datetime.now(UTC)


def one_line(exc: BaseException) -> str:
    """The cause in one line (the driver's message, without SQLAlchemy's statement)."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0] if lines else ''}".rstrip(": ")


async def _direct(fn: Callable[[], T]) -> T:
    return await asyncio.to_thread(fn)


class _Threads:
    """Server calls on threads, remembered until done: ``drain`` waits for those a cancelled task left
    running (a stop disposes of the server's connections only after them)."""

    def __init__(self) -> None:
        self._running: set[asyncio.Future[Any]] = set()

    async def call(self, fn: Callable[[], T]) -> T:
        future = asyncio.ensure_future(asyncio.to_thread(fn))
        self._running.add(future)
        future.add_done_callback(self._running.discard)
        return await asyncio.shield(future)

    async def drain(self) -> None:
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)


@dataclass(frozen=True, slots=True)
class Claim:
    """A claim on one of this booth's rows, as the server has it."""

    outbox_id: int
    cloud: str
    claimed_by: str
    outcome: str | None
    sent_at: datetime | None
    last_error: str | None
    claimer_silent: bool


class RelayLease:
    """One booth's fence for its relays (booth.sync.outbox.Fence). ``last_contact_mono`` gives the time, on
    ``elapsed`` (booth.domain.elapsed: never stepped), at which the pusher's last successful round began (the
    pusher's status ``last_contact_mono``, on the same clock), None before the first. ``clock`` (the booth's
    wall clock) only dates the rows it marks as sent by another booth."""

    def __init__(
        self,
        booth_id: str,
        server: Engine,
        store: Store,
        *,
        takeover_after_s: float,
        last_contact_mono: Callable[[], float | None],
        clock: Callable[[], datetime] = utc_now,
        run_db: DbRun[Any] | None = None,
        elapsed: Callable[[], float] = elapsed_s,
    ) -> None:
        self.booth_id = booth_id
        self._server = server
        self._store = store
        self.takeover_after_s = float(takeover_after_s)
        self._last_contact = last_contact_mono
        self._clock = clock
        self._run_db: DbRun[Any] = run_db or _direct
        self._elapsed = elapsed
        #: a lapse, or a gap between two contacts seen that may have hidden one, moves the epoch on; the
        #: claims are settled for the epoch in which they were last read, and rows go only in that epoch
        self._epoch = 0
        self._settled_epoch = -1
        self._seen_contact: float | None = None
        self._waiting: dict[str, str] = {}  # cloud -> why it waits for another booth's claims
        self._recheck_at = 0.0
        self._lock = asyncio.Lock()
        self._relayed: dict[str, int] = {}
        self.last_error = ""
        self.threads = _Threads()

    @property
    def enabled(self) -> bool:
        return self.takeover_after_s > 0

    async def aclose(self) -> None:
        """After the relays and the takeover were cancelled: wait for their server calls still running."""
        await self.threads.drain()

    def holds(self) -> bool:
        """The lease holds: the last acknowledged contact with the server is younger than half the takeover
        time, and no gap of that length can have passed unseen since the last look (two contacts seen that
        far apart count as one: another booth may have claimed this booth's rows in between). Both on the
        elapsed clock: a step of the wall clock neither stretches the lease nor hides a gap."""
        if not self.enabled:
            return True
        half = self.takeover_after_s / 2
        at = self._last_contact()
        seen, self._seen_contact = self._seen_contact, at
        if at is None:
            self._epoch += 1
            return False
        gap = seen is None or at - seen >= half
        if gap or self._elapsed() - at >= half:
            self._epoch += 1
            return False
        return True

    def lapsed(self) -> bool:
        """This booth's rows may not go now: the lease does not hold, or it held again since a lapse and the
        claims were not read since (never with takeover off). Asked before each row."""
        if not self.enabled:
            return False
        return not self.holds() or self._settled_epoch != self._epoch

    def relayed_elsewhere(self, cloud: str) -> int:
        return self._relayed.get(cloud, 0)

    async def hold(self, cloud: str) -> str:
        if not self.enabled:
            return ""
        if not self.holds():
            return (
                f"the lot server has not answered for over {self.takeover_after_s / 2:g} s: this booth's "
                "messages wait so that none is sent twice (another booth may relay them)"
            )
        async with self._lock:
            if self._settled_epoch != self._epoch or (self._waiting and self._elapsed() >= self._recheck_at):
                try:
                    await self.settle()
                except Exception as exc:  # the server went again: wait, and read the claims next time
                    self.last_error = one_line(exc)
                    log.warning("lot relay: the claims on this booth's rows could not be read: %s", exc)
                    return f"the claims of other booths on this booth's messages cannot be read: {exc}"
        return self._waiting.get(cloud, "")

    async def settle(self) -> int:
        """Read the claims on this booth's rows and write the finished ones into its own outbox (sent or
        parked by the claimer); clouds with a claim a live booth still works on wait. Returns how many rows
        were marked sent."""
        epoch = self._epoch  # (the lease held just before: hold() looked)
        claims = await self.threads.call(self._read_claims)
        done = [c for c in claims if c.outcome in ("sent", "dead")]
        unfinished = [c for c in claims if c.outcome not in ("sent", "dead")]
        back = [c for c in unfinished if c.claimer_silent]
        if back:  # the claimer went silent itself: this booth sends those rows again (at least once)
            taken_back = await self.threads.call(lambda: self._take_back(back))
            unfinished = [c for c in unfinished if c.outbox_id not in taken_back]
        marked = 0
        if done:
            at = self._clock()

            def mark() -> list[str]:  # (the database thread): the clouds of the rows marked sent
                sent: list[str] = []
                for claim in done:
                    if self._store.mark_outbox_relayed(
                        claim.outbox_id,
                        by=claim.claimed_by,
                        outcome=str(claim.outcome),
                        at=claim.sent_at or at,
                        error=claim.last_error or "",
                    ):
                        sent += [claim.cloud] if claim.outcome == "sent" else []
                    else:
                        log.warning(
                            "lot relay: outbox row %d was sent by booth %s but is not pending here (sent "
                            "here before this booth fell silent, and not yet pushed)",
                            claim.outbox_id,
                            claim.claimed_by,
                        )
                return sent

            marked_sent: list[str] = await self._run_db(mark)
            for cloud in marked_sent:
                self._relayed[cloud] = self._relayed.get(cloud, 0) + 1
            marked = len(marked_sent)
            await self.threads.call(lambda: self._mark_settled([c.outbox_id for c in done]))
            log.info("lot relay: %d of this booth's rows were relayed by other booths meanwhile", marked)
        waiting: dict[str, list[Claim]] = {}
        for claim in unfinished:
            waiting.setdefault(claim.cloud, []).append(claim)
        self._waiting = {
            cloud: (
                f"booth {', '.join(sorted({c.claimed_by for c in mine}))} is still sending {len(mine)} of "
                "this booth's messages (taken over while it was silent)"
            )
            for cloud, mine in waiting.items()
        }
        self._recheck_at = self._elapsed() + RECHECK_S
        self._settled_epoch = epoch  # a lapse seen meanwhile moved the epoch on: read again then
        self.last_error = ""
        return marked

    def _read_claims(self) -> list[Claim]:
        with self._server.begin() as c:
            rows = c.execute(
                text(
                    "SELECT r.outbox_id, r.cloud, r.claimed_by, r.outcome, r.sent_at, r.last_error, "
                    "  coalesce(b.last_contact_at < now() - make_interval(secs => :t), true) AS silent "
                    "FROM lot_relay_claims r LEFT JOIN lot_booths b ON b.booth_id = r.claimed_by "
                    "WHERE r.booth_id = :me AND r.settled_at IS NULL ORDER BY r.outbox_id"
                ),
                {"me": self.booth_id, "t": self.takeover_after_s},
            ).all()
        return [Claim(int(r[0]), r[1], r[2], r[3], r[4], r[5], bool(r[6])) for r in rows]

    def _take_back(self, claims: Sequence[Claim]) -> set[int]:
        """Unfinished claims of a booth silent for the takeover time are removed (this booth sends those rows
        itself), under that booth's row lock so it cannot come back in between."""
        taken: set[int] = set()
        with self._server.begin() as c:
            for claimer in sorted({claim.claimed_by for claim in claims}):
                if not _still_silent(c, claimer, self.takeover_after_s):
                    continue
                ids = [claim.outbox_id for claim in claims if claim.claimed_by == claimer]
                gone = c.execute(
                    text(
                        "DELETE FROM lot_relay_claims WHERE booth_id = :me AND claimed_by = :by "
                        "AND outbox_id = ANY(:ids) AND (outcome IS NULL OR outcome = 'retry') "
                        "RETURNING outbox_id"
                    ),
                    {"me": self.booth_id, "by": claimer, "ids": ids},
                ).scalars()
                taken.update(int(i) for i in gone)
        if taken:
            log.warning("lot relay: took back %d row(s) from silent claimers", len(taken))
        return taken

    def _mark_settled(self, ids: Sequence[int]) -> None:
        with self._server.begin() as c:
            c.execute(
                text(
                    "UPDATE lot_relay_claims SET settled_at = now() "
                    "WHERE booth_id = :me AND outbox_id = ANY(:ids) AND settled_at IS NULL"
                ),
                {"me": self.booth_id, "ids": list(ids)},
            )


def _still_silent(c: Connection, booth_id: str, after_s: float) -> bool:
    row = c.execute(
        text(
            "SELECT last_contact_at < now() - make_interval(secs => :t) FROM lot_booths "
            "WHERE booth_id = :b FOR SHARE"
        ),
        {"b": booth_id, "t": after_s},
    ).first()
    return row is None or bool(row[0])


@dataclass(frozen=True, slots=True)
class Taken:
    """A row this booth claimed: the owner and the row as its owner last pushed it."""

    booth_id: str
    record: OutboxRecord
    attempts: int  # this booth's attempts so far


class LotTakeover:
    """Relays the pending rows of silent booths (see the module). ``senders`` are this booth's, per cloud;
    ``holds`` (optional, per cloud) keep a cloud back (e.g. Alipay before its parking_id is known) and
    ``ready`` (optional) says whether a cloud's relay may send now (its breaker). Runs on the engine's loop;
    the server is asked on threads."""

    def __init__(
        self,
        lease: RelayLease,
        senders: Mapping[str, Callable[[OutboxRecord], Awaitable[SendResult]]],
        *,
        holds: Mapping[str, Callable[[], Awaitable[str]]] | None = None,
        ready: Mapping[str, Callable[[], bool]] | None = None,
        backoff: Backoff | None = None,
        every_s: float | None = None,
        batch: int = 20,
        rng: random.Random | None = None,
    ) -> None:
        self.lease = lease
        self.booth_id = lease.booth_id
        self._server = lease._server
        self._senders = {cloud: send for cloud, send in senders.items() if cloud in TAKEN_OVER}
        self._holds = dict(holds or {})
        self._ready = dict(ready or {})
        self._backoff = backoff or Backoff()
        after = lease.takeover_after_s
        self.every_s = every_s if every_s is not None else max(0.2, min(5.0, after / 4))
        self._batch = batch
        self._rng = rng or random.Random()
        self.sent: dict[str, int] = {}  # rows of other booths this booth sent, per cloud (this run)
        self.last_error = ""
        self._wake = asyncio.Event()
        self._threads = lease.threads

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        """Forever: a round, then the pause (at once again when a round had rows). Never raises but
        CancelledError."""
        while True:
            try:
                handled = await self.take_once()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.last_error = one_line(exc)
                log.warning("lot takeover round failed: %s", self.last_error)
                handled = 0
            if handled:
                continue
            self._wake.clear()
            try:
                async with asyncio.timeout(self.every_s):
                    await self._wake.wait()
            except TimeoutError:
                pass

    async def take_once(self) -> int:
        """Claim what is due of silent booths and send it; how many rows were handled."""
        if not self.lease.enabled or not self.lease.holds():
            return 0  # cut off ourselves: a claim we made may be taken back by now; nothing goes
        clouds = []
        for cloud in self._senders:
            hold = self._holds.get(cloud)
            if hold is not None and await hold():
                continue
            ready = self._ready.get(cloud)
            if ready is not None and not ready():
                continue
            clouds.append(cloud)
        if not clouds:
            return 0
        taken = await self._threads.call(lambda: self._claim(clouds))
        handled = 0
        for row in taken:
            if not self.lease.holds():
                break  # the claims stay ours, unfinished: sent at our next round, or taken back
            result = await self._attempt(row)
            if result.verdict is SendVerdict.SENT:  # (counted as the cloud took it, before the record)
                self.sent[row.record.cloud] = self.sent.get(row.record.cloud, 0) + 1
            await self._threads.call(partial(self._record, row, result))
            handled += 1
        return handled

    async def _attempt(self, row: Taken) -> SendResult:
        try:
            return await self._senders[row.record.cloud](row.record)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("lot takeover: outbox %s of booth %s: sender failed", row.record.id, row.booth_id)
            return SendResult(SendVerdict.RETRY, f"sender error: {exc!r}")

    def _claim(self, clouds: Sequence[str]) -> list[Taken]:
        """One transaction: lock the silent booths' rows (FOR SHARE: a heartbeat of theirs waits for this
        commit), pick their due rows, claim them; only the rows this booth got are returned."""
        after = self.lease.takeover_after_s
        kinds = " OR ".join(f"(o.cloud = '{cloud}' AND {TAKEN_OVER[cloud]})" for cloud in clouds)
        with self._server.begin() as c:
            silent = list(
                c.execute(
                    text(
                        "SELECT booth_id FROM lot_booths WHERE booth_id <> :me "
                        "AND last_contact_at < now() - make_interval(secs => :t) ORDER BY booth_id FOR SHARE"
                    ),
                    {"me": self.booth_id, "t": after},
                ).scalars()
            )
            if not silent:
                return []
            # the rows still to send: pushed pending by their owner and not finished by a claim (found by
            # the index on (cloud, state)); of a stay's, only the first in id order may go, whatever its kind
            # (a row this booth cannot send blocks the later ones, as it does at its own booth). A row's own
            # next_attempt_at is its owner's clock: a row its owner never tried (attempts 0) was due when it
            # was made (or requeued), so it is due here at once, however far ahead that clock ran; a row it
            # tried keeps the back-off it set, which a skew of its clock moves (never whether it goes once:
            # the claim decides that)
            kinds = kinds.replace("o.kind", "p.kind").replace("o.cloud", "p.cloud")
            rows = c.execute(
                text(
                    "WITH p AS ("
                    "  SELECT o.booth_id, o.id, o.stay_id, o.cloud, o.kind, o.payload_json, o.dedupe_key, "
                    "    o.attempts, o.next_attempt_at, o.last_error, o.created_at, "
                    "    r.booth_id AS r_booth, r.claimed_by, r.outcome, r.attempts AS r_attempts, "
                    "    r.next_attempt_at AS r_next, "
                    "    min(o.id) OVER (PARTITION BY o.booth_id, o.cloud, o.stay_id) AS first_id "
                    "  FROM lot_outbox o LEFT JOIN lot_relay_claims r "
                    "    ON r.booth_id = o.booth_id AND r.outbox_id = o.id "
                    "  WHERE o.cloud = ANY(:clouds) AND o.state = 'pending' AND o.booth_id = ANY(:silent) "
                    "  AND (r.outcome IS NULL OR r.outcome NOT IN ('sent', 'dead'))) "
                    "SELECT p.booth_id, p.id, p.stay_id, p.cloud, p.kind, p.payload_json, p.dedupe_key, "
                    "  p.attempts, p.next_attempt_at, p.last_error, p.created_at, "
                    "  p.claimed_by, coalesce(p.r_attempts, 0) "
                    f"FROM p WHERE (p.stay_id IS NULL OR p.id = p.first_id) AND ({kinds}) "
                    "AND ((p.r_booth IS NULL AND (p.attempts = 0 OR p.next_attempt_at <= now())) "
                    "  OR (p.claimed_by = :me AND p.outcome IS NULL) "
                    "  OR (p.claimed_by = :me AND p.outcome = 'retry' AND p.r_next <= now()) "
                    "  OR ((p.outcome IS NULL OR p.outcome = 'retry') AND p.claimed_by = ANY(:silent))) "
                    "ORDER BY p.booth_id, p.id LIMIT :batch"
                ),
                {"silent": silent, "me": self.booth_id, "batch": self._batch, "clouds": list(clouds)},
            ).all()
            taken: list[Taken] = []
            for row in rows:
                owner, outbox_id, claimer = row[0], int(row[1]), row[11]
                key = {"b": owner, "i": outbox_id, "me": self.booth_id}
                got: object
                if claimer is None:
                    got = c.execute(
                        text(
                            "INSERT INTO lot_relay_claims "
                            "(booth_id, outbox_id, cloud, claimed_by, claimed_at) VALUES "
                            "(:b, :i, :cloud, :me, now()) ON CONFLICT (booth_id, outbox_id) DO NOTHING "
                            "RETURNING outbox_id"
                        ),
                        {**key, "cloud": row[3]},
                    ).first()
                elif claimer == self.booth_id:
                    got = (outbox_id,)
                else:  # its claimer fell silent too: this booth takes the claim over
                    got = c.execute(
                        text(
                            "UPDATE lot_relay_claims "
                            "SET claimed_by = :me, claimed_at = now(), outcome = NULL "
                            "WHERE booth_id = :b AND outbox_id = :i AND claimed_by = :old "
                            "AND (outcome IS NULL OR outcome = 'retry') RETURNING outbox_id"
                        ),
                        {**key, "old": claimer},
                    ).first()
                if got is None:
                    continue  # another booth was first
                record = OutboxRecord(
                    id=outbox_id,
                    stay_id=row[2],
                    cloud=row[3],
                    kind=row[4],
                    payload_json=row[5],
                    dedupe_key=row[6],
                    state="pending",
                    attempts=int(row[7]),
                    next_attempt_at=row[8],
                    last_error=row[9],
                    created_at=row[10],
                    sent_at=None,
                )
                taken.append(Taken(owner, record, int(row[12])))
        if taken:
            owners = ", ".join(sorted({t.booth_id for t in taken}))
            log.info("lot takeover: claimed %d row(s) of silent booth(s) %s", len(taken), owners)
        return taken

    def _record(self, row: Taken, result: SendResult) -> None:
        """The outcome on the claim (only while it is still ours)."""
        key = {"b": row.booth_id, "i": row.record.id, "me": self.booth_id, "error": result.detail or None}
        mine = "WHERE booth_id = :b AND outbox_id = :i AND claimed_by = :me"
        if result.verdict is SendVerdict.SENT:
            statement = (
                "UPDATE lot_relay_claims SET outcome = 'sent', sent_at = now(), attempts = attempts + 1, "
                f"last_error = :error {mine}"
            )
        elif result.verdict is SendVerdict.FATAL:
            statement = (
                "UPDATE lot_relay_claims SET outcome = 'dead', attempts = attempts + 1, last_error = :error "
                f"{mine}"
            )
            log.error(
                "lot takeover: outbox %s of booth %s parked: %s", row.record.id, row.booth_id, result.detail
            )
        else:
            delay = self._backoff.delay(row.attempts + 1, self._rng).total_seconds()
            if result.retry_after_s is not None:
                delay = max(delay, result.retry_after_s)
            key["delay"] = delay
            statement = (
                "UPDATE lot_relay_claims SET outcome = 'retry', attempts = attempts + 1, "
                f"last_error = :error, next_attempt_at = now() + make_interval(secs => :delay) {mine}"
            )
        with self._server.begin() as c:
            c.execute(text(statement), key)


__all__ = ["TAKEN_OVER", "Claim", "LotTakeover", "RelayLease"]
