"""The push (issue #18): a booth's journal caught up on the lot server, in order, exactly once.

One thread per booth (:class:`LotPusher`). Each round reads journal entries past what the server is known to
have applied (at most ``batch``), takes the current state of each row they name from the booth's SQLite (a
row changed twice is sent once, as it is now) and, in ONE PostgreSQL transaction:

1. upserts this booth's ``lot_booths`` row (booth.lot.server.touch_booth: inserted on first contact, else
   its contact, backlog, version and open shift updated), which locks it until the commit, and reads
   ``pushed_seq``, the highest journal number the server has applied. The contact's time is the server's
   clock (the transaction's start), never this booth's: the server judges silence by its own clock;
2. keeps only the entries past ``pushed_seq`` (a batch the server already applied is applied again never);
3. upserts those rows into the mirrors in MIRRORED order (``INSERT … ON CONFLICT (booth_id, id) DO UPDATE``);
4. runs the lot checks (booth.lot.checks) on what it upserted;
5. sets ``pushed_seq`` to the batch's last number.

Then, after the commit, the journal entries up to ``pushed_seq`` are deleted locally. A crash between the
commit and that delete is harmless: the next round's entries at or below ``pushed_seq`` are skipped on the
server. Every ``heartbeat_s`` a round runs even with nothing to push (contact, backlog, open shift). When the
server cannot be reached the round fails, the pusher backs off (doubling, up to ``backoff_max_s``), the
journal grows and the lanes are untouched: they never wait on this thread.

:attr:`PushStatus.last_contact_mono` is when the last successful round began (before its transaction) on the
booth's elapsed clock (booth.domain.elapsed: never stepped, runs through a suspend): the relays' lease
(booth.sync.lot_relay.RelayLease) counts from it on that same clock, so no step of the booth's wall clock (an
NTP correction while cut off) stretches it, and it is no later than the round's contact on the server (whose
transaction began after it), whatever the round took. :attr:`PushStatus.last_contact_at` is the same moment
on the booth's wall clock, for people to read.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.exc import DBAPIError

from booth import __version__
from booth.domain.elapsed import elapsed_s
from booth.lot.checks import run_checks
from booth.lot.journal import (
    JournalEntry,
    continue_after,
    forget_through,
    journal_length,
    read_journal,
)
from booth.lot.schema import MIRRORED, MIRRORS, lot_booths
from booth.lot.server import Rounds, touch_booth
from booth.store.db import Database
from booth.store.models import Base

log = logging.getLogger("booth.lot.push")

T = TypeVar("T")
LocalWrite = Callable[[Callable[[], Any]], Any]

BATCH = 500


def utc_now() -> datetime:
    return datetime.now(UTC)


def one_line(exc: BaseException) -> str:
    """The cause in one line (the driver's message, without SQLAlchemy's statement)."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    lines = str(cause).strip().splitlines()
    return f"{type(cause).__name__}: {lines[0] if lines else ''}".rstrip(": ")


@dataclass(frozen=True, slots=True)
class PushStatus:
    """What the engine shows of the lot: reachable or not, how many journal entries wait, the last error."""

    online: bool
    behind: int
    last_error: str = ""
    #: when the last successful round began, by this booth's wall clock (None before the first): shown
    last_contact_at: datetime | None = None
    #: the same moment on this booth's elapsed clock (booth.domain.elapsed): the relays' lease counts from it
    last_contact_mono: float | None = None
    pushed_seq: int = 0
    started: bool = False

    def describe(self) -> str:
        if not self.started:
            return "lot: not yet in contact"
        state = "online" if self.online else "offline"
        behind = f", {self.behind} behind" if self.behind else ""
        error = f" ({self.last_error})" if self.last_error and not self.online else ""
        return f"lot: {state}{behind}{error}"


@dataclass(frozen=True, slots=True)
class RoundResult:
    contacted: bool  # the server was reached (False: nothing to push and no heartbeat due)
    applied: int  # journal entries the server applied in this round
    rows: int  # mirror rows upserted
    pushed_seq: int
    behind: int  # journal entries still to push after this round
    conflicts: int  # lot_conflicts rows this round added
    started_at: datetime | None = None  # the booth's clock as the round began (None: not contacted)
    started_mono: float | None = None  # the same on the booth's elapsed clock (the lease's)


@dataclass(frozen=True, slots=True)
class _Batch:
    entries: list[JournalEntry]
    rows: dict[str, list[dict[str, Any]]]  # table -> snapshots (by id)
    behind_before: int
    open_shift: tuple[int, str] | None


class LotPusher:
    """Pushes one booth's journal to the lot server. ``push_once`` is one round (any thread, one at a time);
    ``start`` runs rounds on a thread of its own until ``stop``; ``status`` is safe from any thread."""

    def __init__(
        self,
        database: Database,
        lot: Engine,
        booth_id: str,
        *,
        name: str = "",
        lanes: Sequence[str] = (),
        version: str = __version__,
        push_interval_s: float = 0.2,
        heartbeat_s: float = 5.0,
        backoff_max_s: float = 30.0,
        batch: int = BATCH,
        clock: Callable[[], datetime] = utc_now,
        local_write: LocalWrite | None = None,
        after_commit: Callable[[int], None] | None = None,
        on_status: Callable[[PushStatus], None] | None = None,
        round_deadline_s: float | None = None,  # None: booth.lot.server.ROUND_DEADLINE_S
        elapsed: Callable[[], float] = elapsed_s,
    ) -> None:
        """``elapsed``: the clock of the status's ``last_contact_mono`` (the relays' lease's, the same)."""
        self._db = database
        self._lot = lot
        self.booth_id = booth_id
        self._name = name
        self._lanes = tuple(lanes)
        self._version = version
        self._interval = push_interval_s
        self._heartbeat = heartbeat_s
        self._backoff_max = backoff_max_s
        self._batch = batch
        self._clock = clock
        self._elapsed = elapsed
        self._local_write: LocalWrite = local_write or (lambda fn: fn())
        self._after_commit = after_commit
        self._on_status = on_status
        #: each round's part on the server is abandoned after round_deadline_s (booth.lot.server.Rounds)
        self._rounds = Rounds(round_deadline_s)
        self._known_seq = 0  # the server's pushed_seq as last seen
        self._aligned = False
        self._status = PushStatus(online=False, behind=0)
        self._round_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------------------------------ status
    @property
    def status(self) -> PushStatus:
        return self._status

    def _set_status(self, status: PushStatus) -> None:
        """Keep the status; ``on_status`` hears only a change of reachability or of the error (not every
        round's counts: those are read from ``status``)."""
        before = self._status
        changed = (status.online, status.last_error, status.started) != (
            before.online,
            before.last_error,
            before.started,
        )
        self._status = status
        if changed and self._on_status is not None:
            try:
                self._on_status(status)
            except Exception:  # a listener's fault is not the push's
                log.exception("lot status listener failed")

    # ----------------------------------------------------------------------------------------- a round
    def push_once(self, *, heartbeat: bool = True) -> RoundResult:
        """One round. With ``heartbeat`` the server is contacted even with nothing to push. Raises what the
        server or the database raised (the thread turns it into the status and a back-off)."""
        with self._round_lock:
            try:
                result = self._round(heartbeat)
            except Exception as exc:
                self._failed(exc)
                raise
            self._set_status(
                PushStatus(
                    online=True if result.contacted else self._status.online,
                    behind=result.behind,
                    last_error="" if result.contacted else self._status.last_error,
                    last_contact_at=(result.started_at if result.contacted else self._status.last_contact_at),
                    last_contact_mono=(
                        result.started_mono if result.contacted else self._status.last_contact_mono
                    ),
                    pushed_seq=result.pushed_seq,
                    started=self._status.started or result.contacted,
                )
            )
            return result

    def _failed(self, exc: BaseException) -> None:
        try:
            with self._db.read_engine.connect() as connection:
                behind = journal_length(connection, after=self._known_seq)
        except Exception:
            behind = self._status.behind
        self._set_status(
            replace(self._status, online=False, behind=behind, last_error=one_line(exc), started=True)
        )

    def _round(self, heartbeat: bool) -> RoundResult:
        if not self._aligned:
            self._align()
        batch = self._read_local()
        if not batch.entries and not heartbeat:
            return RoundResult(False, 0, 0, self._known_seq, 0, 0)
        # before the round's transaction: the lease counts from here (see the module)
        began = self._elapsed()
        now = self._clock()
        behind = max(0, batch.behind_before - len(batch.entries))
        with self._rounds("the push"), self._lot.begin() as connection:
            # the booth's row: made on first contact, else its contact updated (by the server's clock);
            # locked either way (an upsert locks the row it updates) until the commit, so one booth's rounds
            # never overlap on the server
            pushed = touch_booth(
                connection,
                self.booth_id,
                name=self._name,
                lanes=self._lanes,
                version=self._version,
                backlog=behind,
                open_shift=batch.open_shift,
            )
            fresh = [e for e in batch.entries if e.seq > pushed]
            wanted = {(e.tbl, e.row_id) for e in fresh}
            rows = {
                table: [row for row in snapshots if (table, row["id"]) in wanted]
                for table, snapshots in batch.rows.items()
            }
            upserted = self._upsert(connection, rows)
            conflicts = run_checks(connection, self.booth_id, rows, now) if upserted else 0
            new_seq = max([pushed, *(e.seq for e in batch.entries)])
            if new_seq != pushed:
                mine = lot_booths.c.booth_id == self.booth_id
                connection.execute(lot_booths.update().where(mine).values(pushed_seq=new_seq))
        if self._after_commit is not None:
            self._after_commit(new_seq)
        self._known_seq = new_seq
        if batch.entries:
            self._local_write(lambda: self._forget(new_seq))
        return RoundResult(
            True, len(fresh), upserted, new_seq, behind, conflicts, started_at=now, started_mono=began
        )

    def _align(self) -> None:
        """First contact of this run: where the server is, and the local numbering after it."""
        with self._rounds("the push's first contact"), self._lot.connect() as connection:
            pushed = connection.execute(
                select(lot_booths.c.pushed_seq).where(lot_booths.c.booth_id == self.booth_id)
            ).scalar()
        pushed = int(pushed or 0)

        def align() -> bool:
            with self._db.engine.begin() as local:
                return continue_after(local, pushed)

        if self._local_write(align):
            log.warning(
                "the lot server has applied journal entries up to %d of booth %s but this database numbers "
                "below that (a new or restored file): its journal now continues after %d",
                pushed,
                self.booth_id,
                pushed,
            )
        self._known_seq = pushed
        self._aligned = True

    def _forget(self, seq: int) -> None:
        with self._db.engine.begin() as local:
            forget_through(local, seq)

    def _read_local(self) -> _Batch:
        """The next entries and their rows' current state, from one SQLite read snapshot."""
        with self._db.read_engine.begin() as local:
            entries = read_journal(local, after=self._known_seq, limit=self._batch)
            behind = journal_length(local, after=self._known_seq)
            ids: dict[str, set[int]] = {}
            for entry in entries:
                ids.setdefault(entry.tbl, set()).add(entry.row_id)
            rows: dict[str, list[dict[str, Any]]] = {}
            for table_name in MIRRORED:
                if table_name not in ids:
                    continue
                table = Base.metadata.tables[table_name]
                wanted = sorted(ids[table_name])
                found: list[dict[str, Any]] = []
                for start in range(0, len(wanted), 500):
                    chunk = wanted[start : start + 500]
                    query = select(table).where(table.c.id.in_(chunk)).order_by(table.c.id)
                    found += [dict(row._mapping) for row in local.execute(query)]
                rows[table_name] = found
            return _Batch(entries, rows, behind, _open_shift(local))

    def _upsert(self, connection: Connection, rows: dict[str, list[dict[str, Any]]]) -> int:
        count = 0
        for table_name in MIRRORED:
            snapshots = rows.get(table_name)
            if not snapshots:
                continue
            values = [{**row, "booth_id": self.booth_id} for row in snapshots]
            connection.execute(_mirror_upsert(table_name), values)
            count += len(values)
        return count

    # -------------------------------------------------------------------------------------- the thread
    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"lot-push-{self.booth_id}", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Look at the journal now (not after the interval); ignored while backing off from a failure."""
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> bool:
        """End the thread after its round (a round under way gets ``timeout`` to finish); False if it was
        still in a round by then (a server gone silent mid-round): that round is abandoned (its connection
        shut down, so the thread ends at once) and nothing of it is taken as pushed."""
        self._stop.set()
        self._wake.set()
        ended = True
        if self._thread is not None:
            self._thread.join(timeout)
            ended = not self._thread.is_alive()
            if not ended:
                log.warning("the lot pusher did not stop within %.1f s: its round is abandoned", timeout)
                self._rounds.abandon("the booth stops")
                self._thread.join(1.0)
            self._thread = None
        return ended

    def _run(self) -> None:
        failures = 0
        next_heartbeat = 0.0
        while not self._stop.is_set():
            heartbeat = time.monotonic() >= next_heartbeat
            try:
                result = self.push_once(heartbeat=heartbeat)
            except Exception as exc:
                failures += 1
                wait = min(self._backoff_max, max(self._interval, 0.25) * 2 ** min(failures, 16))
                log.warning(
                    "lot push failed (%d in a row), next try in %.1f s: %s", failures, wait, one_line(exc)
                )
                next_heartbeat = 0.0
                self._stop.wait(wait)
                continue
            if failures:
                log.info("lot server reached again after %d failed round(s)", failures)
            failures = 0
            if result.contacted:
                next_heartbeat = time.monotonic() + self._heartbeat
            if result.behind and result.contacted:
                continue  # more to push: at once
            self._wake.wait(self._interval)
            self._wake.clear()


@functools.cache
def _mirror_upsert(table_name: str) -> Any:
    """``INSERT … ON CONFLICT (booth_id, id) DO UPDATE`` of every other column of one mirror, built once and
    run with each round's rows as parameters. Built every round (its ``excluded`` columns above all) it was
    most of a round's Python time, which the lanes' thread waited for (the GIL; bench_lot_lanes)."""
    mirror: Table = MIRRORS[table_name]
    statement = pg_insert(mirror)
    keys = ("booth_id", "id")
    return statement.on_conflict_do_update(
        index_elements=list(keys),
        set_={c.name: statement.excluded[c.name] for c in mirror.columns if c.name not in keys},
    )


def _open_shift(local: Connection) -> tuple[int, str] | None:
    shifts, people = Base.metadata.tables["shifts"], Base.metadata.tables["people"]
    row = local.execute(
        select(shifts.c.id, people.c.username)
        .join(people, people.c.id == shifts.c.attendant_id)
        .where(shifts.c.state == "open")
        .limit(1)
    ).first()
    return None if row is None else (int(row[0]), str(row[1]))


__all__ = ["LotPusher", "PushStatus", "RoundResult"]
