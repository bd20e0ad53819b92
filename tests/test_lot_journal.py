"""The local journal (issue #18): every business write of a lot booth's store journals itself, in its own
transaction; a write that rolls back journals nothing; the journal is made idempotently, on SQLite only."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from booth.lot.journal import (
    JournalError,
    continue_after,
    drop_journal,
    ensure_journal,
    forget_through,
    last_seq,
)
from booth.lot.schema import MIRRORED
from booth.store import StoreError, open_database
from booth.store.records import OutboxItem
from tests.lot_rig import Clock, booth_database, booth_day, journal


def test_a_booths_day_journals_every_write_of_every_mirrored_table(tmp_path: Path) -> None:
    db = booth_database(tmp_path, "a")
    booth_day(db, "aa", Clock())
    entries = journal(db)
    seqs = [seq for seq, _, _ in entries]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    touched = {tbl for _, tbl, _ in entries}
    assert touched == set(MIRRORED), f"not journaled: {set(MIRRORED) - touched}"
    with db.read_engine.connect() as connection:
        for table in MIRRORED:
            ids = {r for (r,) in connection.exec_driver_sql(f"SELECT id FROM {table}")}
            journaled = {row_id for _, tbl, row_id in entries if tbl == table}
            assert ids == journaled, table
        # updates journal too: a closed stay was inserted then updated, so it appears at least twice
        closed = connection.exec_driver_sql("SELECT id FROM stays WHERE state = 'exited'").scalars().all()
    for stay_id in closed:
        assert sum(1 for _, tbl, r in entries if (tbl, r) == ("stays", stay_id)) >= 2


def test_each_write_journals_in_its_own_transaction_and_a_rollback_journals_nothing(tmp_path: Path) -> None:
    db = booth_database(tmp_path, "a")
    clock = Clock()
    from booth.store import Store

    store = Store(db, clock=clock)
    stay = store.create_stay(
        order_id="o_1",
        plate="苏A12345",
        plate_colour="blue",
        vehicle_class="small",
        lane_id="E1",
        entry_at=clock.now,
    )
    assert journal(db) == [(1, "stays", stay.id)]
    # a write refused by the store (the order id is taken) leaves nothing behind, journal included
    with pytest.raises(StoreError):
        store.create_stay(
            order_id="o_1",
            plate="苏A99999",
            plate_colour="blue",
            vehicle_class="small",
            lane_id="E1",
            entry_at=clock.now,
        )
    # a write the database rolls back after its first row (and that row's journal trigger) ran: the stay is
    # inserted, then its outbox row is refused
    with db.engine.begin() as connection:
        connection.exec_driver_sql(
            "CREATE TRIGGER refuse_outbox BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'no'); END"
        )
    with pytest.raises(StoreError, match="no"):
        store.create_stay(
            order_id="o_2",
            plate="苏A22222",
            plate_colour="blue",
            vehicle_class="small",
            lane_id="E1",
            entry_at=clock.now,
            outbox=[OutboxItem("bolink", "inpark", {}, "k1")],
        )
    with db.engine.begin() as connection:
        connection.exec_driver_sql("DROP TRIGGER refuse_outbox")
    assert store.stay_by_order_id("o_2") is None
    assert journal(db) == [(1, "stays", stay.id)]
    store.close_stay(stay.id, lane_id="X1", exit_at=clock.tick(60))
    assert journal(db) == [(1, "stays", stay.id), (2, "stays", stay.id)]


def test_ensure_journal_is_idempotent_and_numbers_are_never_reused(tmp_path: Path) -> None:
    db = booth_database(tmp_path, "a")
    ensure_journal(db.engine)
    ensure_journal(db.engine)
    with db.read_engine.connect() as connection:
        triggers = connection.exec_driver_sql(
            "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name LIKE 'lot_journal_%'"
        ).scalar()
    assert triggers == 2 * len(MIRRORED)
    from booth.store import Store

    clock = Clock()
    store = Store(db, clock=clock)
    store.audit(actor="a", action="x", detail={}, at=clock.now)
    with db.engine.begin() as connection:
        assert forget_through(connection, 1) == 1
    store.audit(actor="a", action="x", detail={}, at=clock.now)
    assert [seq for seq, _, _ in journal(db)] == [2]  # AUTOINCREMENT: 1 is not handed out again


def test_continue_after_moves_a_new_files_numbering_past_the_servers(tmp_path: Path) -> None:
    db = booth_database(tmp_path, "a")
    from booth.store import Store

    clock = Clock()
    store = Store(db, clock=clock)
    for _ in range(3):
        store.audit(actor="a", action="x", detail={}, at=clock.now)
    with db.engine.begin() as connection:
        assert not continue_after(connection, 2)  # this file numbered past 2 itself: nothing moves
        assert continue_after(connection, 100)
        assert last_seq(connection) == 103
    assert [seq for seq, _, _ in journal(db)] == [101, 102, 103]
    store.audit(actor="a", action="x", detail={}, at=clock.now)
    assert journal(db)[-1][0] == 104


def test_a_booth_without_a_lot_has_no_journal_and_the_journal_needs_sqlite(tmp_path: Path) -> None:
    db = open_database(f"sqlite:///{tmp_path / 'plain.sqlite'}")
    with db.read_engine.connect() as connection:
        names = connection.execute(text("SELECT name FROM sqlite_master WHERE name LIKE 'lot_%'")).all()
    assert names == []

    class NotSqlite:
        class dialect:
            name = "postgresql"

    with pytest.raises(JournalError, match="SQLite"):
        ensure_journal(NotSqlite())  # type: ignore[arg-type]


def test_a_booth_joining_a_lot_with_its_past_journals_every_row_it_holds_once(tmp_path: Path) -> None:
    """A booth that ran on its own joins a lot: the lot must learn its open stays, people and history, so the
    journal, made now, starts with every row the database holds (parents first, by id); a later start adds
    nothing."""
    db = open_database(f"sqlite:///{tmp_path / 'alone.sqlite'}")
    booth_day(db, "aa", Clock())  # (no journal yet: a booth on its own)
    with db.read_engine.connect() as connection:
        held = [
            (table, row_id)
            for table in MIRRORED
            for (row_id,) in connection.exec_driver_sql(f"SELECT id FROM {table} ORDER BY id")
        ]
    assert held and ensure_journal(db.engine) == len(held)
    assert [(tbl, row_id) for _, tbl, row_id in journal(db)] == held
    assert ensure_journal(db.engine) == 0  # the next start: already a lot booth
    assert len(journal(db)) == len(held)


def test_a_booth_that_left_its_lot_drops_the_journal_and_joining_again_journals_everything(
    tmp_path: Path,
) -> None:
    db = booth_database(tmp_path, "a")
    clock = Clock()
    booth_day(db, "aa", clock)
    unpushed = len(journal(db))
    assert drop_journal(db.engine) == unpushed  # (what the engine does at a start without [lot])
    with db.read_engine.connect() as connection:
        left = connection.exec_driver_sql(
            "SELECT name FROM sqlite_master WHERE name LIKE 'lot_journal%'"
        ).all()
    assert left == []
    from booth.store import Store

    Store(db, clock=clock).audit(actor="a", action="x", detail={}, at=clock.now)  # written, journaled nowhere
    assert drop_journal(db.engine) is None  # nothing to drop
    with db.read_engine.connect() as connection:
        rows = sum(connection.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar() or 0 for t in MIRRORED)
    assert ensure_journal(db.engine) == rows  # back in a lot: every row again, the one written outside too
