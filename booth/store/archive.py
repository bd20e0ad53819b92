"""Retention (#16): old months move out of the database into yearly archive files that reports still read.

:func:`archive_before` moves whole calendar months (the lot's zone) older than a cutoff, one month at a time,
into ``booth-archive-YYYY.sqlite`` (the month's year), a file made by :func:`open_database` (the same tables,
indexes and schema head as the store). What moves: closed stays (exited or missed) with their exit orders,
payments, settled arrears, gate events, lane exceptions and sent outbox rows; stay-less payments,
gate events, exceptions and outbox rows, audit rows and closed shifts, all from before the month's end. What
never moves: an open stay, an awaiting order, open arrears, a pending or dead outbox row (a dead one can
still be queued again, and every report counts it in the backlog), an open shift, a row with
an entry in the lot journal not yet pushed, a row whose own time is after the month, the row holding a
table's greatest id (SQLite gives a new row max(id) + 1, so an id never comes back while that row is
there: an archived id is never used again), and anything a kept row references or that references a kept
row (worked out to a fixed point over the schema's own foreign keys). The people a moved shift names are
copied (not moved, and without their PIN hash) so the archive's foreign keys hold.

**Crash safety.** A transaction over an attached WAL database commits atomically per file, not across files.
So each month is two transactions: (1) copy into the archive (INSERT OR IGNORE, then every copied row must
equal its original, or nothing is committed) and commit; (2) in the database, check again that every row to
delete is in the archive unchanged, delete, commit. A crash between them leaves the rows in both files;
reports read each archived row only when its id is not in the database, and the next run's copy finds them
there already and its delete finishes the month. Foreign keys are checked by one pass per foreign key: over
the copied rows in the archive before the copy commits, and over the database inside the delete's
transaction: a row written meanwhile that references a row being moved fails the delete, which is rolled
back whole and retried at the next run.

The delete holds the database's write lock for its whole month (lanes wait on the busy timeout): run it at
a quiet hour (the scheduled job does it once a day).

:func:`archive_reader` is the reports' side: a connection of its own with the archive files attached and a
TEMP VIEW named after each moved table over the database's rows and the archived ones; SQLite resolves an
unqualified name temp-first, so the reports' SQL reads both unchanged.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, event, orm
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from booth.store.db import BUSY_TIMEOUT_MS, Database, _configure_sqlite_connection, open_database, sqlite_file
from booth.store.records import StoreError

log = logging.getLogger("booth.archive")

#: parents before children (the copy's order; foreign keys are checked at commit anyway)
MOVED = (
    "stays",
    "exit_orders",
    "payments",
    "arrears",
    "gate_events",
    "lane_exceptions",
    "outbox",
    "audit_log",
    "shifts",
)
ARCHIVE_NAME = re.compile(r"^booth-archive-(\d{4})\.sqlite$")
#: SQLite's default limit of attached databases
MAX_ATTACHED = 10
_JOURNAL = "lot_journal"

# The first candidates of each table for a month ending at :end (before the foreign-key fixed point).
_CANDIDATES = {
    "stays": "state IN ('exited', 'cancelled') AND exit_at < :end",
    "exit_orders": "stay_id IN (SELECT id FROM temp.mv_stays) AND state != 'awaiting' "
    "AND COALESCE(settled_at, opened_at) < :end",
    "payments": "(stay_id IN (SELECT id FROM temp.mv_stays) OR stay_id IS NULL) AND paid_at < :end",
    "arrears": "stay_id IN (SELECT id FROM temp.mv_stays) AND state != 'open' AND settled_at < :end",
    "gate_events": "(stay_id IN (SELECT id FROM temp.mv_stays) OR stay_id IS NULL) AND at < :end",
    "lane_exceptions": "(stay_id IN (SELECT id FROM temp.mv_stays) OR stay_id IS NULL) AND at < :end",
    "outbox": "(stay_id IN (SELECT id FROM temp.mv_stays) OR stay_id IS NULL) AND state = 'sent' "
    "AND created_at < :end",
    "audit_log": "at < :end",
    "shifts": "state = 'closed' AND closed_at < :end",
}
# The first time of each table's rows (where the months to archive start).
_FIRST = {
    "stays": "SELECT min(exit_at) FROM main.stays WHERE state IN ('exited', 'cancelled')",
    "payments": "SELECT min(paid_at) FROM main.payments",
    "gate_events": "SELECT min(at) FROM main.gate_events",
    "lane_exceptions": "SELECT min(at) FROM main.lane_exceptions",
    "audit_log": "SELECT min(at) FROM main.audit_log",
    "shifts": "SELECT min(closed_at) FROM main.shifts WHERE state = 'closed'",
}


@dataclass(frozen=True)
class MonthMoved:
    month: str  # "YYYY-MM", the lot's zone
    archive: Path
    rows: dict[str, int]  # table -> rows moved (or that would move, on a dry run)

    @property
    def total(self) -> int:
        return sum(self.rows.values())


@dataclass
class ArchiveResult:
    cutoff: datetime
    dry_run: bool
    months: list[MonthMoved] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(m.total for m in self.months)


def stored(at: datetime) -> str:
    """The store's SQLite text of an aware timestamp (naive UTC, as SQLAlchemy writes DATETIME)."""
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _month_start(at: datetime, zone: ZoneInfo) -> datetime:
    local = at.astimezone(zone)
    return datetime(local.year, local.month, 1, tzinfo=zone)


def _next_month(start: datetime) -> datetime:
    year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
    return datetime(year, month, 1, tzinfo=start.tzinfo)


def retention_cutoff(now: datetime, months_online: int, zone: ZoneInfo) -> datetime:
    """The start of the oldest month kept: with 2 months online in December, 1 November (the lot's zone)."""
    if months_online < 2:
        raise StoreError(f"months_online is at least 2 to archive anything, got {months_online}")
    local = now.astimezone(zone)
    index = local.year * 12 + local.month - 1 - (months_online - 1)
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=zone)


def archive_path(folder: Path, year: int) -> Path:
    return folder / f"booth-archive-{year:04d}.sqlite"


def archive_files(folder: Path | None) -> dict[int, Path]:
    """The yearly archive files in `folder`, by year."""
    if folder is None or not folder.is_dir():
        return {}
    found = {}
    for path in folder.iterdir():
        match = ARCHIVE_NAME.match(path.name)
        if match and path.is_file():
            found[int(match.group(1))] = path
    return dict(sorted(found.items()))


def archive_before(
    database: str | Path,
    cutoff: datetime,
    folder: Path,
    zone: ZoneInfo,
    *,
    dry_run: bool = False,
    after_copy: Callable[[str], None] | None = None,
) -> ArchiveResult:
    """Move every whole month before `cutoff` (a month start in `zone`) out of the SQLite `database` (a
    URL or a file) into `folder`'s yearly files; see the module's text. `after_copy(month)` runs between
    a month's copy and its delete (tests use it to stop there)."""
    if cutoff.tzinfo is None:
        raise StoreError(f"the cutoff must be an aware datetime, got {cutoff!r}")
    path = database if isinstance(database, Path) else sqlite_file(database)
    if path is None:
        raise StoreError("archiving works on an SQLite database file (a lot server keeps its own history)")
    if not path.exists():
        raise StoreError(f"no database at {path}: nothing to archive")
    if _month_start(cutoff, zone) != cutoff.astimezone(zone):
        raise StoreError(f"the cutoff {cutoff.isoformat()} is not the start of a month in {zone.key}")
    result = ArchiveResult(cutoff=cutoff, dry_run=dry_run)
    con = _connect(path)
    try:
        columns = {t: _columns(con, "main", t) for t in (*MOVED, "people")}
        edges = _edges(con)
        journal = bool(
            con.execute(
                "SELECT count(*) FROM sqlite_master WHERE type='table' AND name=?", (_JOURNAL,)
            ).fetchone()[0]
        )
        first = _first_time(con)
        if first is None:
            return result
        month = _month_start(first, zone)
        moved: dict[str, int] = {}
        while month < cutoff:
            end = min(_next_month(month), cutoff)
            label = month.strftime("%Y-%m")
            target = archive_path(folder, month.year)
            rows = _select(con, stored(end), edges, journal)
            if dry_run:  # nothing was moved: the months so far are in this month's selection too
                rows, moved = {t: n - moved.get(t, 0) for t, n in rows.items()}, rows
            if sum(rows.values()) and not dry_run:
                _move_month(con, target, columns, edges, label, after_copy)
            if sum(rows.values()):
                result.months.append(MonthMoved(label, target, rows))
                log.info("archive %s: %s rows %s to %s", label, sum(rows.values()),
                         "would move" if dry_run else "moved", target)  # fmt: skip
            month = end
    finally:
        con.close()
    return result


def _connect(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    con.execute("PRAGMA foreign_keys=ON")
    con.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    return con


#: the time columns a report selects rows by; each is at or after its row's other times
_LATEST = (
    "SELECT max(exit_at) FROM stays",
    "SELECT max(paid_at) FROM payments",
    "SELECT max(settled_at) FROM exit_orders",
    "SELECT max(settled_at) FROM arrears",
    "SELECT max(at) FROM gate_events",
    "SELECT max(at) FROM lane_exceptions",
    "SELECT max(at) FROM audit_log",
    "SELECT max(closed_at) FROM shifts",
)


def _latest(path: Path) -> str:
    """The latest report time in an archive file, as stored text ('' when it is empty; '9999' when it
    cannot be read: the file is attached then, and the report's own read names what is wrong)."""
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    except sqlite3.Error:
        return "9999"
    try:
        return max((con.execute(sql).fetchone()[0] or "" for sql in _LATEST), default="")
    except sqlite3.Error:
        return "9999"
    finally:
        con.close()


def _columns(con: sqlite3.Connection, schema: str, table: str) -> list[str]:
    return [row[1] for row in con.execute(f"PRAGMA {schema}.table_info({table})")]


def _edges(con: sqlite3.Connection) -> list[tuple[str, str, str]]:
    """Every foreign key (child table, column, parent table) into a moved table, read from the schema."""
    tables = [
        r[0]
        for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    edges = []
    for table in tables:
        for fk in con.execute(f"PRAGMA main.foreign_key_list({table})"):
            parent, column = fk[2], fk[3]
            if parent in MOVED:
                edges.append((table, column, parent))
    return edges


def _first_time(con: sqlite3.Connection) -> datetime | None:
    times = [con.execute(sql).fetchone()[0] for sql in _FIRST.values()]
    known = [datetime.fromisoformat(t).replace(tzinfo=UTC) for t in times if t]
    return min(known) if known else None


def _select(
    con: sqlite3.Connection, end: str, edges: list[tuple[str, str, str]], journal: bool
) -> dict[str, int]:
    """Fill temp.mv_<table> with the ids that move for a month ending at `end`: the candidates, then rows
    dropped until no moved row references a kept one and no kept row references a moved one."""
    con.execute("BEGIN")
    try:
        for table in MOVED:
            con.execute(f"DROP TABLE IF EXISTS temp.mv_{table}")
            con.execute(f"CREATE TEMP TABLE mv_{table} (id INTEGER PRIMARY KEY)")
            where = _CANDIDATES[table]
            if journal:
                where += f" AND id NOT IN (SELECT row_id FROM main.{_JOURNAL} WHERE tbl = '{table}')"
            con.execute(
                f"INSERT INTO temp.mv_{table} SELECT id FROM main.{table} WHERE {where} "
                f"AND id < (SELECT max(id) FROM main.{table})",
                {"end": end},
            )
        changed = True
        while changed:
            changed = False
            for child, column, parent in edges:
                if child in MOVED:  # a moved child's parent moves too
                    con.execute(
                        f"DELETE FROM temp.mv_{child} WHERE id IN (SELECT c.id FROM main.{child} AS c "
                        f"JOIN temp.mv_{child} AS m ON m.id = c.id WHERE c.{column} IS NOT NULL "
                        f"AND c.{column} NOT IN (SELECT id FROM temp.mv_{parent}))"
                    )
                    changed |= con.execute("SELECT changes()").fetchone()[0] > 0
                kept = f"AND id NOT IN (SELECT id FROM temp.mv_{child})" if child in MOVED else ""
                con.execute(  # a kept child's parent stays
                    f"DELETE FROM temp.mv_{parent} WHERE id IN "
                    f"(SELECT {column} FROM main.{child} WHERE {column} IS NOT NULL {kept})"
                )
                changed |= con.execute("SELECT changes()").fetchone()[0] > 0
        counts = {t: con.execute(f"SELECT count(*) FROM temp.mv_{t}").fetchone()[0] for t in MOVED}
        con.execute("COMMIT")  # (temp tables only: the database itself was only read)
        return counts
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _differing(con: sqlite3.Connection, columns: dict[str, list[str]]) -> list[str]:
    """The tables with a row to move that is not in the archive exactly as it is in the database."""
    bad = []
    for table in MOVED:
        cols = ", ".join(columns[table])
        mine = f"WHERE id IN (SELECT id FROM temp.mv_{table})"
        found = con.execute(
            f"SELECT 1 FROM (SELECT {cols} FROM main.{table} {mine} EXCEPT "
            f"SELECT {cols} FROM arch.{table} {mine}) LIMIT 1"
        ).fetchone()
        if found:
            bad.append(table)
    return bad


def _move_month(
    con: sqlite3.Connection,
    target: Path,
    columns: dict[str, list[str]],
    edges: list[tuple[str, str, str]],
    label: str,
    after_copy: Callable[[str], None] | None,
) -> None:
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
    open_database(f"sqlite:///{target}").close()  # made, or checked and brought to the store's schema head
    con.execute("ATTACH DATABASE ? AS arch", (str(target),))
    try:
        # (1) the copy, committed in the archive. Foreign keys are checked below, for the copied rows only:
        # SQLite's own (deferred, for the exit_orders <-> payments cycle) would look for the waiting children
        # of each parent inserted, through columns without an index: quadratic on a month.
        con.execute("PRAGMA foreign_keys=OFF")
        con.execute("BEGIN")
        try:
            people = ", ".join(c for c in columns["people"] if c != "pin_hash")
            con.execute(
                f"INSERT OR IGNORE INTO arch.people ({people}, pin_hash) SELECT {people}, '' FROM main.people"
                " WHERE id IN (SELECT attendant_id FROM main.shifts "
                "WHERE id IN (SELECT id FROM temp.mv_shifts))"
            )
            for table in MOVED:
                cols = ", ".join(columns[table])
                con.execute(
                    f"INSERT OR IGNORE INTO arch.{table} ({cols}) SELECT {cols} FROM main.{table} "
                    f"WHERE id IN (SELECT id FROM temp.mv_{table})"
                )
            for table in MOVED:
                for fk in con.execute(f"PRAGMA arch.foreign_key_list({table})").fetchall():
                    parent, column = fk[2], fk[3]
                    if con.execute(
                        f"SELECT 1 FROM arch.{table} WHERE id IN (SELECT id FROM temp.mv_{table}) "
                        f"AND {column} IS NOT NULL AND {column} NOT IN (SELECT id FROM arch.{parent}) LIMIT 1"
                    ).fetchone():
                        raise StoreError(
                            f"archiving {label}: a copied row of {table} references a row of {parent} not in "
                            "the archive: nothing moved (a bug: report it)"
                        )
            bad = _differing(con, columns)
            if bad:
                raise StoreError(
                    f"archiving {label}: {target} already holds other rows with the ids of rows of "
                    f"{', '.join(bad)}: nothing moved; keep both files and report it"
                )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        finally:
            con.execute("PRAGMA foreign_keys=ON")
        if after_copy is not None:
            after_copy(label)
        # (2) the delete, in the database. SQLite's own check of a deleted parent looks for its children
        # row by row, through columns without an index too (lane_exceptions.stay_id, exit_orders.settled_by):
        # quadratic on a month. So foreign keys are off for the delete, and one pass per foreign key checks,
        # under the same write lock, that no row left references a deleted one.
        con.execute("PRAGMA foreign_keys=OFF")
        con.execute("BEGIN IMMEDIATE")
        try:
            bad = _differing(con, columns)
            if bad:
                raise StoreError(
                    f"archiving {label}: rows of {', '.join(bad)} changed since they were copied: nothing "
                    "deleted; the next run copies them again"
                )
            for table in reversed(MOVED):
                con.execute(f"DELETE FROM main.{table} WHERE id IN (SELECT id FROM temp.mv_{table})")
            for child, column, parent in edges:
                if con.execute(
                    f"SELECT 1 FROM main.{child} WHERE {column} IN (SELECT id FROM temp.mv_{parent}) LIMIT 1"
                ).fetchone():
                    raise StoreError(
                        f"archiving {label}: a row of {child} written meanwhile references a row of {parent} "
                        "being moved: nothing deleted; the next run tries again"
                    )
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        finally:
            con.execute("PRAGMA foreign_keys=ON")
    finally:
        con.execute("DETACH DATABASE arch")


@contextmanager
def archive_reader(
    db: Database, folder: Path | None, zone: ZoneInfo, *, since: datetime | None = None
) -> Iterator[Session]:
    """A read session (one transaction) over the database and the archive files of `folder` that may hold
    rows of `since` or later (all when None): each moved table is a TEMP VIEW of both. A row's own time is
    never after the end of its file's year, and never after the file's latest time (:func:`_latest`), so a
    file is skipped when either is before `since`. Without such files (or on another database than SQLite)
    it is the database's own read session: reading through the views costs much more (a join over a
    UNION ALL view is materialised), so a report of the months online never pays it."""
    files = {
        y: p
        for y, p in archive_files(folder).items()
        if since is None or (y >= since.astimezone(zone).year and _latest(p) >= stored(since))
    }
    url = db.engine.url
    if not files or sqlite_file(url) is None:
        with db.read_sessionmaker.begin() as session:
            yield session
        return
    if len(files) >= MAX_ATTACHED:
        raise StoreError(
            f"{len(files)} archive years to read at once; SQLite attaches at most {MAX_ATTACHED - 1}: "
            "ask for a shorter period"
        )
    engine = create_engine(url, poolclass=NullPool)

    def connected(dbapi_connection: Any, record: Any) -> None:
        _configure_sqlite_connection(dbapi_connection, record)
        for year, path in files.items():
            dbapi_connection.execute(f"ATTACH DATABASE ? AS a{year}", (str(path),))
        for table in MOVED:
            cols = ", ".join(_columns(dbapi_connection, "main", table))
            parts = [f"SELECT {cols} FROM main.{table}"] + [
                f"SELECT {cols} FROM a{year}.{table} AS x "
                f"WHERE NOT EXISTS (SELECT 1 FROM main.{table} AS m WHERE m.id = x.id)"
                for year in files
            ]
            dbapi_connection.execute(f"CREATE TEMP VIEW {table} AS {' UNION ALL '.join(parts)}")

    event.listen(engine, "connect", connected)
    event.listen(engine, "begin", lambda connection: connection.exec_driver_sql("BEGIN"))
    try:
        with orm.sessionmaker(engine, expire_on_commit=False).begin() as session:
            yield session
    finally:
        engine.dispose()


def archive_old_months(
    database: str | Path,
    months_online: int,
    folder: Path,
    zone: ZoneInfo,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
) -> ArchiveResult:
    """[retention]: archive every month but the newest `months_online` (this month counted)."""
    cutoff = retention_cutoff(now or datetime.now(UTC), months_online, zone)
    return archive_before(database, cutoff, folder, zone, dry_run=dry_run)


class ArchiveSchedule:
    """[retention]: :func:`archive_old_months` once a day on a thread of its own, at the lowest CPU priority
    the system gives a thread (Linux: nice 19), never on the engine's loop or its database thread.

    The first run is ``first_after_s`` after :meth:`start`. A failed run is logged (and handed to
    ``on_failure``) and tried again the next day; it never ends the thread."""

    def __init__(
        self,
        url: str,
        months_online: int,
        folder: Path,
        zone: ZoneInfo,
        *,
        interval_s: float = 24 * 3600,
        first_after_s: float = 3600,
        on_failure: Callable[[str], None] | None = None,
    ) -> None:
        self._run_args = (url, months_online, folder, zone)
        self._interval_s = interval_s
        self._first_after_s = first_after_s
        self._on_failure = on_failure
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="booth-archive", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop; a month being moved is finished first (up to ``timeout``)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def run_once(self) -> ArchiveResult:
        url, months_online, folder, zone = self._run_args
        return archive_old_months(url, months_online, folder, zone)

    def _run(self) -> None:
        with contextlib.suppress(OSError, AttributeError):  # (not on every system)
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
        wait = self._first_after_s
        while not self._stop.wait(wait):
            wait = self._interval_s
            try:
                result = self.run_once()
            except Exception as exc:  # a StoreError, or a bug: neither ends the schedule silently
                log.exception("scheduled archive failed")
                if self._on_failure is not None:
                    self._on_failure(
                        f"{exc}" if isinstance(exc, StoreError) else f"{type(exc).__name__}: {exc}"
                    )
                continue
            log.info("scheduled archive: %d rows moved in %d month(s)", result.total, len(result.months))
