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
So a month is (1) one transaction copying into the archive (INSERT OR IGNORE, then every copied row must
equal its original, or nothing is committed), then (2) the delete from the database in parts, each its own
short transaction: check again that every row of the part is in the archive unchanged, delete the part,
check that no row left references a deleted one, commit. A part is a set of whole components of the
month's rows under the foreign keys (a stay with its orders, payments, gate events, exceptions, outbox rows
and arrears; an order and the payment that settled it, which reference each other: :func:`_parts`), so the
database is whole after every part's commit, as after a month's. A crash after the copy, or between two
parts, leaves the month's remaining rows in both files: reports read each archived row only when its id is
not in the database, and the next run's copy finds them there already and its delete finishes the month.
Foreign keys are checked by one pass per foreign key: over the copied rows in the archive before the copy
commits, and over the database inside each part's transaction: a row written meanwhile that references a row
of the part fails that part, which is rolled back whole; the parts before it stay deleted, the rest waits
for the next run (the row that references one keeps it in the database from then on).

Each part holds the database's write lock for tens of milliseconds (about :data:`PART_ROWS` rows), and the
next starts :data:`PAUSE_S` later, longer than a lane's writer waiting on the busy timeout sleeps between
two tries: a lane write waits behind the archive for one part at most, not a month.

:func:`archive_reader` is the reports' side: a connection of its own with the archive files of the report's
period attached and a TEMP VIEW named after each moved table over the database's rows and the archived ones
(SQLite resolves an unqualified name temp-first, so the reports' SQL reads both unchanged), and
:func:`each_file`, which points those names at one file at a time: a join over a UNION ALL view is
materialised whole, so the reports run each query once per file and merge the files' rows.
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
_JOURNAL = "lot_journal"
#: the delete's parts: about this many rows each (a part holds the write lock for tens of milliseconds), and
#: this long between two (a lane's writer waiting on the busy timeout retries every 100 ms at most)
PART_ROWS = 2000
PAUSE_S = 0.12
#: foreign keys through a column without an index that only a row inserted or still changing sets: each
#: delete part checks those rows alone (from :func:`_floors`), not the whole table under the write lock. An
#: order's settled_by is set when an awaiting order is settled, to the payment booked in the same transaction
#: (booth.store.payment_ops), so no order moved or kept can come to reference a moved payment otherwise.
_CHANGING = {("exit_orders", "settled_by"): "state = 'awaiting'"}

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
    part_rows: int = PART_ROWS,
    pause_s: float = PAUSE_S,
    after_copy: Callable[[str], None] | None = None,
    after_part: Callable[[str, int], None] | None = None,
    stop: threading.Event | None = None,
) -> ArchiveResult:
    """Move every whole month before `cutoff` (a month start in `zone`) out of the SQLite `database` (a
    URL or a file) into `folder`'s yearly files; see the module's text. The delete goes in parts of about
    `part_rows` rows, `pause_s` apart. `after_copy(month)` runs between a month's copy and its delete,
    `after_part(month, n)` after the delete's part n commits (tests use them to stop there). When `stop` is
    set, the run ends before the next month or between two parts (the rest of a month waits in both files
    for the next run)."""
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
        while month < cutoff and not (stop is not None and stop.is_set()):
            end = min(_next_month(month), cutoff)
            label = month.strftime("%Y-%m")
            target = archive_path(folder, month.year)
            floors = _floors(con)  # (before the selection: never above the ids it saw)
            rows = _select(con, stored(end), edges, journal)
            if dry_run:  # nothing was moved: the months so far are in this month's selection too
                rows, moved = {t: n - moved.get(t, 0) for t, n in rows.items()}, rows
            finished = not sum(rows.values()) or dry_run or _move_month(
                con, target, columns, edges, label, after_copy,
                part_rows=part_rows, pause_s=pause_s, after_part=after_part, floors=floors, stop=stop,
            )  # fmt: skip
            if not finished:
                break
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
#: the earliest time a report may select a row of the file by (each through an index): a stay's entry is
#: before its exit, orders, payments and gate events; an order's settling is the earliest report time of an
#: order (its opening is read only beside its stay's lane exception, in the same file)
_EARLIEST = (
    "SELECT min(entry_at) FROM stays",
    "SELECT min(paid_at) FROM payments",
    "SELECT min(settled_at) FROM exit_orders",
    "SELECT min(noticed_at) FROM arrears",
    "SELECT min(at) FROM gate_events",
    "SELECT min(at) FROM lane_exceptions",
    "SELECT min(at) FROM audit_log",
    "SELECT min(opened_at) FROM shifts",
)


def _span(path: Path) -> tuple[str, str]:
    """The earliest and the latest report time in an archive file, as stored text (('9999', '') when it is
    empty: it never touches a period; ('', '9999') when it cannot be read: it is attached then, and the
    report's own read names what is wrong)."""
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    except sqlite3.Error:
        return "", "9999"
    try:
        earliest = min((con.execute(sql).fetchone()[0] or "9999" for sql in _EARLIEST), default="9999")
        latest = max((con.execute(sql).fetchone()[0] or "" for sql in _LATEST), default="")
        return earliest, latest
    except sqlite3.Error:
        return "", "9999"
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
            con.execute(f"CREATE TEMP TABLE mv_{table} (id INTEGER PRIMARY KEY, part INTEGER)")
            where = _CANDIDATES[table]
            if journal:
                where += f" AND id NOT IN (SELECT row_id FROM main.{_JOURNAL} WHERE tbl = '{table}')"
            con.execute(
                f"INSERT INTO temp.mv_{table} (id) SELECT id FROM main.{table} WHERE {where} "
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


def _differing(con: sqlite3.Connection, columns: dict[str, list[str]], part: int | None = None) -> list[str]:
    """The tables with a row to move (of delete part `part`, or all) that is not in the archive exactly as
    it is in the database."""
    bad = []
    for table in MOVED:
        cols = ", ".join(columns[table])
        mine = f"WHERE id IN (SELECT id FROM temp.mv_{table}{_of_part(part)})"
        found = con.execute(
            f"SELECT 1 FROM (SELECT {cols} FROM main.{table} {mine} EXCEPT "
            f"SELECT {cols} FROM arch.{table} {mine}) LIMIT 1"
        ).fetchone()
        if found:
            bad.append(table)
    return bad


def _of_part(part: int | None) -> str:
    return "" if part is None else f" WHERE part = {int(part)}"


def _parts(con: sqlite3.Connection, edges: list[tuple[str, str, str]], part_rows: int) -> list[int]:
    """Share the month's rows (temp.mv_<table>) out into delete parts of about `part_rows` rows, none cut
    through: rows joined by a foreign key (a stay with its orders, payments, gate events, exceptions, outbox
    rows and arrears; an order and the payment that settled it, which reference each other) are one
    component, and a component is wholly in one part, so after any part's commit the database holds no
    reference to a deleted row. Each row starts with a label of its own (stays lowest: a stay's id times
    the rows a stay comes with, so a range of labels is about as many rows), every row then takes the least
    label of its neighbours until none changes, and a part is a range of `part_rows` labels. Returns the
    parts (temp.mv_<table>.part), in order."""
    stays = _count(con, "stays")
    weight = max(1, sum(_count(con, t) for t in MOVED) // max(1, stays))
    for i, table in enumerate(MOVED):  # (stays first: their labels are below every other table's)
        con.execute(
            f"UPDATE temp.mv_{table} SET part = ? + id * ?", (i << 40, weight if table == "stays" else 1)
        )
    inner = [(c, col, p) for c, col, p in edges if c in MOVED]
    changed = True
    while changed:
        changed = False
        for child, column, parent in inner:
            con.execute(  # a child takes its parent's label when less
                f"UPDATE temp.mv_{child} AS m SET part = p.part FROM main.{child} AS c, "
                f"temp.mv_{parent} AS p WHERE c.id = m.id AND p.id = c.{column} AND p.part < m.part"
            )
            changed |= con.execute("SELECT changes()").fetchone()[0] > 0
            con.execute(  # a parent takes its least child's label when less
                f"UPDATE temp.mv_{parent} AS p SET part = q.least FROM (SELECT c.{column} AS pid, "
                f"min(m.part) AS least FROM temp.mv_{child} AS m JOIN main.{child} AS c ON c.id = m.id "
                f"WHERE c.{column} IS NOT NULL GROUP BY c.{column}) AS q "
                "WHERE q.pid = p.id AND q.least < p.part"
            )
            changed |= con.execute("SELECT changes()").fetchone()[0] > 0
    for table in MOVED:
        con.execute(f"UPDATE temp.mv_{table} SET part = part / ?", (max(1, part_rows),))
        con.execute(f"CREATE INDEX IF NOT EXISTS temp.mv_{table}_part ON mv_{table} (part)")
    union = " UNION ".join(f"SELECT part FROM temp.mv_{t}" for t in MOVED)
    return [row[0] for row in con.execute(f"SELECT part FROM ({union}) ORDER BY part")]


def _count(con: sqlite3.Connection, table: str) -> int:
    return int(con.execute(f"SELECT count(*) FROM temp.mv_{table}").fetchone()[0])


def _floors(con: sqlite3.Connection) -> dict[tuple[str, str], int]:
    """For each foreign key of :data:`_CHANGING`: the least id of a row that can come to reference a row
    being moved (one inserted from now on, or one the lanes may still update)."""
    floors = {}
    for (table, column), changing in _CHANGING.items():
        newest, least = con.execute(
            f"SELECT (SELECT max(id) FROM main.{table}), (SELECT min(id) FROM main.{table} WHERE {changing})"
        ).fetchone()
        floors[(table, column)] = min((newest or 0) + 1, least if least is not None else (newest or 0) + 1)
    return floors


def _delete_part(
    con: sqlite3.Connection,
    columns: dict[str, list[str]],
    edges: list[tuple[str, str, str]],
    floors: dict[tuple[str, str], int],
    label: str,
    part: int,
    n: int,
    of: int,
) -> None:
    """Delete one part of the month from the database in a transaction of its own: its rows checked
    against the archive again first, then, after the delete, that no row left references a deleted one.
    SQLite's own foreign-key check of a deleted parent looks for its children row by row, through columns
    without an index too (lane_exceptions.stay_id, exit_orders.settled_by): so foreign keys are off for the
    delete, and one pass per foreign key checks, under the same write lock, the part's rows."""
    mine = _of_part(part)
    con.execute("PRAGMA foreign_keys=OFF")
    con.execute("BEGIN IMMEDIATE")
    try:
        bad = _differing(con, columns, part)
        if bad:
            raise StoreError(
                f"archiving {label}: rows of {', '.join(bad)} changed since they were copied: {n} of {of} "
                "parts deleted (the rest is in both files); the next run copies them again"
            )
        for table in reversed(MOVED):
            con.execute(f"DELETE FROM main.{table} WHERE id IN (SELECT id FROM temp.mv_{table}{mine})")
        for child, column, parent in edges:
            since = f" AND id >= {floors[(child, column)]}" if (child, column) in floors else ""
            if con.execute(
                f"SELECT 1 FROM main.{child} WHERE {column} IN "
                f"(SELECT id FROM temp.mv_{parent}{mine}){since} LIMIT 1"
            ).fetchone():
                raise StoreError(
                    f"archiving {label}: a row of {child} written meanwhile references a row of {parent} "
                    f"being moved: {n} of {of} parts deleted (the rest is in both files); the next run tries "
                    "again"
                )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.execute("PRAGMA foreign_keys=ON")


def _move_month(
    con: sqlite3.Connection,
    target: Path,
    columns: dict[str, list[str]],
    edges: list[tuple[str, str, str]],
    label: str,
    after_copy: Callable[[str], None] | None,
    *,
    part_rows: int,
    pause_s: float,
    after_part: Callable[[str, int], None] | None,
    floors: dict[tuple[str, str], int],
    stop: threading.Event | None,
) -> bool:
    """Copy and delete the month of temp.mv_*; False when `stop` was set between two parts of the delete."""
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
        # (2) the delete, in the database, a part at a time (_parts): each its own short transaction.
        con.execute("BEGIN")  # (temp tables only: the database is only read)
        try:
            parts = _parts(con, edges, part_rows)
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        pause = stop if stop is not None else threading.Event()
        for n, part in enumerate(parts):
            # (the pause: the lanes' writers waiting on the busy timeout get the lock before the next part)
            if n and pause.wait(pause_s):
                log.info(
                    "archive %s: stopped after %d of %d parts; the next run finishes it", label, n, len(parts)
                )
                return False
            _delete_part(con, columns, edges, floors, label, part, n, len(parts))
            if after_part is not None:
                after_part(label, n)
        return True
    finally:
        con.execute("DETACH DATABASE arch")


_YEARS = "booth.archive.years"  # session.info: the archive years attached, for each_file
_DOUBLED = "booth.archive.doubled"  # session.info: _doubled's answer, in the session's transaction


def _one_file(table: str, cols: str, year: int, doubled: set[tuple[int, str]] | None) -> str:
    """One archive file's rows of `table` that are not in the database (a crash after a month's copy, or
    between two parts of its delete, leaves rows in both: the database's are read). `doubled`: the (year,
    table) pairs known to share ids with the database; None: not known, each row is looked up."""
    if doubled is not None and (year, table) not in doubled:
        return f"SELECT {cols} FROM a{year}.{table}"
    return (
        f"SELECT {cols} FROM a{year}.{table} AS x "
        f"WHERE NOT EXISTS (SELECT 1 FROM main.{table} AS m WHERE m.id = x.id)"
    )


def _define_views(
    connection: Any,
    columns: dict[str, str],
    years: list[int],
    main: bool,
    doubled: set[tuple[int, str]] | None = None,
) -> None:
    """TEMP VIEWs named after the moved tables over `years`' files (and the database's rows when `main`);
    none at all when only the database is asked for (the names then are its own tables)."""
    for table in MOVED:
        connection.execute(f"DROP VIEW IF EXISTS temp.{table}")
        parts = ([f"SELECT {columns[table]} FROM main.{table}"] if main else []) + [
            _one_file(table, columns[table], year, doubled) for year in years
        ]
        if years:
            connection.execute(f"CREATE TEMP VIEW {table} AS {' UNION ALL '.join(parts)}")


def _doubled(connection: Any, years: list[int]) -> set[tuple[int, str]]:
    """The (year, table) pairs whose archive file holds a row the database holds too (in the transaction's
    snapshots): only the database's rows between the file's least and greatest id are looked up, few once
    a month is moved (the rows kept back with their open stays, orders, arrears)."""
    found = set()
    for year in years:
        for table in MOVED:
            if connection.execute(
                f"SELECT 1 FROM main.{table} AS m WHERE m.id BETWEEN (SELECT min(id) FROM a{year}.{table}) "
                f"AND (SELECT max(id) FROM a{year}.{table}) "
                f"AND EXISTS (SELECT 1 FROM a{year}.{table} AS x WHERE x.id = m.id) LIMIT 1"
            ).fetchone():
                found.add((year, table))
    return found


def attach_limit() -> int:
    """How many databases this SQLite lets one connection attach (10 unless it was built otherwise)."""
    con = sqlite3.connect(":memory:")
    try:
        return int(con.getlimit(sqlite3.SQLITE_LIMIT_ATTACHED))
    finally:
        con.close()


def archived_shift_times(folder: Path | None, shift_id: int) -> tuple[datetime, datetime | None] | None:
    """When the shift `shift_id` opened and closed, from the archive file that holds it (None: none does)."""
    for path in archive_files(folder).values():
        try:
            con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
            try:
                row = con.execute(
                    "SELECT opened_at, closed_at FROM shifts WHERE id = ?", (shift_id,)
                ).fetchone()
            finally:
                con.close()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read the archive file {path}: {exc}") from exc
        if row is not None:
            opened, closed = (datetime.fromisoformat(t).replace(tzinfo=UTC) if t else None for t in row)
            assert opened is not None
            return opened, closed
    return None


def files_for(
    folder: Path | None, zone: ZoneInfo, since: datetime | None, until: datetime | None = None
) -> dict[int, Path]:
    """The archive files of `folder` that may hold rows a report of [since, until) reads (None: unbounded).
    A row's own time is never after the end of its file's year; a file is skipped when its latest report
    time is before `since` or its earliest at or after `until` (:func:`_span`)."""
    found = {}
    for year, path in archive_files(folder).items():
        if since is not None and year < since.astimezone(zone).year:
            continue
        if since is not None or until is not None:
            earliest, latest = _span(path)
            if since is not None and latest < stored(since):
                continue
            if until is not None and earliest >= stored(until):
                continue
        found[year] = path
    return found


@contextmanager
def archive_reader(
    db: Database,
    folder: Path | None,
    zone: ZoneInfo,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Iterator[Session]:
    """A read session (one transaction) over the database and the archive files of `folder` that may hold
    rows of [since, until) (:func:`files_for`; None: unbounded): each moved table is a TEMP VIEW of both.
    Without such files (or on another database than SQLite) it is the database's own read session.

    A join over a UNION ALL view is materialised whole (every row of the database and of the files, each
    time), so the reports' joins read one file at a time instead (:func:`each_file`); the views serve the
    small look-ups (a shift, an attendant's shifts) and plain aggregates, whose WHERE SQLite pushes into
    each part of the view. More files than SQLite attaches to a connection are refused with the limit."""
    files = files_for(folder, zone, since, until)
    url = db.engine.url
    if not files or sqlite_file(url) is None:
        with db.read_sessionmaker.begin() as session:
            yield session
        return
    limit = attach_limit()
    if len(files) > limit:
        raise StoreError(
            f"this period needs {len(files)} archive files ({', '.join(str(y) for y in files)}), and SQLite "
            f"reads at most {limit} attached files at once: ask for a period of at most {limit} archive years"
        )
    engine = create_engine(url, poolclass=NullPool)
    columns: dict[str, str] = {}

    def connected(dbapi_connection: Any, record: Any) -> None:
        _configure_sqlite_connection(dbapi_connection, record)
        for year, path in files.items():
            dbapi_connection.execute(f"ATTACH DATABASE ? AS a{year}", (str(path),))
        for table in MOVED:
            columns[table] = ", ".join(_columns(dbapi_connection, "main", table))
        _define_views(dbapi_connection, columns, list(files), main=True)

    def begun(connection: Any) -> None:
        # The database's snapshot first, then the files': a row deleted from the database since its
        # snapshot was copied to its file before, so the file's later snapshot holds it (a row in both is
        # read once, from the database).
        connection.exec_driver_sql("BEGIN")
        for schema in ("main", *(f"a{year}" for year in files)):
            connection.exec_driver_sql(f"SELECT count(*) FROM {schema}.sqlite_master")

    event.listen(engine, "connect", connected)
    event.listen(engine, "begin", begun)
    try:
        with orm.sessionmaker(engine, expire_on_commit=False).begin() as session:
            session.info[_YEARS] = (list(files), columns)
            yield session
    finally:
        engine.dispose()


def each_file(session: Session) -> Iterator[str]:
    """Run a report's query once per file: for a session of :func:`archive_reader` with archive files, the
    moved tables' names are pointed at the database alone ("main"), then at each archive file in turn
    ("a<year>": a plain filtered SELECT, which SQLite flattens into a join and reads through the file's
    indexes), and back at the views of all of them at the end; the same transaction throughout (one
    snapshot). For any other session: once ("main"), unchanged. The caller merges what each file gave:
    each archived month is whole in one file (a stay with every row that references it), so a join never
    needs two files."""
    attached = session.info.get(_YEARS)
    if not attached:
        yield "main"
        return
    years, columns = attached
    raw = session.connection().connection.dbapi_connection
    assert raw is not None
    if _DOUBLED not in session.info:
        session.info[_DOUBLED] = _doubled(raw, years)
    try:
        _define_views(raw, columns, [], main=True)
        yield "main"
        for year in years:
            _define_views(raw, columns, [year], main=False, doubled=session.info[_DOUBLED])
            yield f"a{year}"
    finally:  # (a failed query's rollback undoes the DDL of the transaction anyway)
        with contextlib.suppress(sqlite3.Error):
            _define_views(raw, columns, years, main=True)


def archive_old_months(
    database: str | Path,
    months_online: int,
    folder: Path,
    zone: ZoneInfo,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    stop: threading.Event | None = None,
) -> ArchiveResult:
    """[retention]: archive every month but the newest `months_online` (this month counted)."""
    cutoff = retention_cutoff(now or datetime.now(UTC), months_online, zone)
    return archive_before(database, cutoff, folder, zone, dry_run=dry_run, stop=stop)


class ArchiveSchedule:
    """[retention]: :func:`archive_old_months` once a day on a thread of its own, at the lowest CPU priority
    the system gives a thread (Linux: nice 19), never on the engine's loop or its database thread.

    The first run is ``first_after_s`` after :meth:`start`. A failed run is logged and handed to
    ``on_failure`` (the engine's supervisor alert archive_failed) and tried again the next day; it never ends
    the thread."""

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
        """Stop: a run under way ends between two parts of a month's delete (the rest of the month waits in
        both files for the next run), within ``timeout``."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def run_once(self) -> ArchiveResult:
        url, months_online, folder, zone = self._run_args
        return archive_old_months(url, months_online, folder, zone, stop=self._stop)

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
