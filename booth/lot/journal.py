"""A lot booth's local journal (issue #18): which rows of its own store changed, in the order they changed.

``lot_journal(seq, tbl, row_id)`` is filled by SQLite triggers (AFTER INSERT and AFTER UPDATE on each table
the lot mirrors, booth.lot.schema.MIRRORED), so every business write journals itself inside its own
transaction: a write that commits is journaled, one that rolls back is not, and no code path can forget to.
The pusher (booth.lot.push) reads the journal in ``seq`` order, sends each row's latest state to the lot
server and deletes what the server has applied.

Not an Alembic migration on purpose: a booth without ``[lot]`` has no journal and no triggers (and pays
nothing for them); ``ensure_journal`` makes them, idempotently, when the booth starts with ``[lot]``.
``seq`` is AUTOINCREMENT: a number is never used twice, even after every row was deleted, which the
server's ``lot_booths.pushed_seq`` (the highest sequence applied) relies on.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, Engine, text

from booth.lot.schema import MIRRORED

JOURNAL = "lot_journal"


class JournalError(Exception):
    """The journal cannot be kept on this database."""


@dataclass(frozen=True, slots=True)
class JournalEntry:
    seq: int
    tbl: str
    row_id: int


def _trigger(table: str, when: str) -> str:
    name = f"{JOURNAL}_{table}_{when.lower()}"
    return (
        f"CREATE TRIGGER IF NOT EXISTS {name} AFTER {when} ON {table} FOR EACH ROW BEGIN "
        f"INSERT INTO {JOURNAL} (tbl, row_id) VALUES ('{table}', NEW.id); END"
    )


def journal_statements() -> list[str]:
    """The journal's table and its triggers (each IF NOT EXISTS)."""
    statements = [
        f"CREATE TABLE IF NOT EXISTS {JOURNAL} ("
        "seq INTEGER PRIMARY KEY AUTOINCREMENT, tbl TEXT NOT NULL, row_id INTEGER NOT NULL)"
    ]
    for table in MIRRORED:
        statements += [_trigger(table, "INSERT"), _trigger(table, "UPDATE")]
    return statements


def ensure_journal(engine: Engine) -> int:
    """Create the journal table and its triggers if they are missing (safe to call at every start).

    A database that had no journal (a booth joining a lot with the rows of its past, or joining again after it
    left one) gets every row it holds journaled in the same transaction, table by table in MIRRORED order and
    by id: the lot learns its open stays, its people and its history, and a row the server had already is
    merely written again (the push upserts). Returns how many rows were journaled so (0 at a later start).

    Only on SQLite: the booth's own store is its journal, and the lot server is the PostgreSQL."""
    if engine.dialect.name != "sqlite":
        raise JournalError(
            f"the lot journal needs the booth's own SQLite database, not {engine.dialect.name} "
            "(with [lot], database.url names an SQLite file)"
        )
    seeded = 0
    with engine.begin() as connection:
        new = not has_journal(connection)
        for statement in journal_statements():
            connection.exec_driver_sql(statement)
        if new:
            for table in MIRRORED:
                seeded += connection.exec_driver_sql(
                    f"INSERT INTO {JOURNAL} (tbl, row_id) SELECT '{table}', id FROM {table} ORDER BY id"
                ).rowcount
    return seeded


def drop_journal(engine: Engine) -> int | None:
    """A booth started without ``[lot]`` on a database that has a journal (it left the lot): the triggers and
    the journal go, so that nothing grows that no pusher empties. Returns how many entries were still
    unpushed (they are not lost for good: joining again journals every row afresh, see ensure_journal), or
    None when there was no journal."""
    if engine.dialect.name != "sqlite":
        return None
    with engine.begin() as connection:
        if not has_journal(connection):
            return None
        left = journal_length(connection)
        for table in MIRRORED:
            for when in ("insert", "update"):
                connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {JOURNAL}_{table}_{when}")
        connection.exec_driver_sql(f"DROP TABLE {JOURNAL}")
    return left


def has_journal(connection: Connection) -> bool:
    found = connection.execute(
        text("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = :name"), {"name": JOURNAL}
    ).scalar()
    return bool(found)


def read_journal(connection: Connection, *, after: int = 0, limit: int = 500) -> list[JournalEntry]:
    """Up to ``limit`` entries with seq > ``after``, oldest first."""
    rows = connection.execute(
        text(f"SELECT seq, tbl, row_id FROM {JOURNAL} WHERE seq > :after ORDER BY seq LIMIT :limit"),
        {"after": after, "limit": limit},
    )
    return [JournalEntry(int(seq), str(tbl), int(row_id)) for seq, tbl, row_id in rows]


def journal_length(connection: Connection, *, after: int = 0) -> int:
    return int(
        connection.execute(
            text(f"SELECT count(*) FROM {JOURNAL} WHERE seq > :after"), {"after": after}
        ).scalar()
        or 0
    )


def last_seq(connection: Connection) -> int:
    """The highest sequence number ever handed out (0: none), deleted entries included."""
    value = connection.execute(
        text("SELECT seq FROM sqlite_sequence WHERE name = :name"), {"name": JOURNAL}
    ).scalar()
    return int(value or 0)


def forget_through(connection: Connection, seq: int) -> int:
    """Delete the entries the server has applied (seq <= ``seq``); how many went."""
    result = connection.execute(text(f"DELETE FROM {JOURNAL} WHERE seq <= :seq"), {"seq": seq})
    return int(result.rowcount or 0)


def continue_after(connection: Connection, seq: int) -> bool:
    """Number this journal after ``seq`` (the server's pushed_seq) when its own numbering is behind it: a new
    or restored database file under a booth id the server already knows. Without this its entries would be
    taken as applied and never sent. The entries it holds keep their order, moved up past ``seq``. True if
    the numbering was moved. (Within one file the numbering is never behind: a crash after the server's
    commit leaves entries <= pushed_seq, but the file's own last number is at least pushed_seq.)"""
    last = last_seq(connection)
    if last >= seq:
        return False
    # highest first: an entry never lands on a number still taken
    for (old,) in connection.execute(text(f"SELECT seq FROM {JOURNAL} ORDER BY seq DESC")).all():
        connection.execute(
            text(f"UPDATE {JOURNAL} SET seq = :new WHERE seq = :old"), {"new": old + seq, "old": old}
        )
    updated = connection.execute(
        text("UPDATE sqlite_sequence SET seq = :seq WHERE name = :name"), {"seq": last + seq, "name": JOURNAL}
    ).rowcount
    if not updated:
        connection.execute(
            text("INSERT INTO sqlite_sequence (name, seq) VALUES (:name, :seq)"),
            {"seq": last + seq, "name": JOURNAL},
        )
    return True
