"""Upgrades: a start that finds an older schema copies the database next to it, then migrates, and every row
survives; a schema newer than this Booth's is refused untouched."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine

from booth.store import Store, StoreError, migration_config, open_database
from booth.store.db import BOOTH_APPLICATION_ID, SCHEMA_HEAD

#: Rows of every table of the first schema (r0001), as a booth of that time wrote them.
R0001_ROWS = {
    "stays": [
        "(1, 'O-1', '苏A12345', 'blue', 'small', 'E1', '2026-01-01 08:00:00.000000', 'X1', "
        "'2026-01-01 09:00:00.000000', 'exited', '2026-01-01 08:00:00.000000')",
        "(2, 'O-2', '苏B00001', 'green', 'small', 'E1', '2026-01-01 08:30:00.000000', NULL, NULL, 'in_lot', "
        "'2026-01-01 08:30:00.000000')",
    ],
    "exit_orders": [
        "(1, 1, 'X1', '2026-01-01 08:59:00.000000', '{\"total\": 500}', 500, 0, 0, 500, 'paid', "
        "'2026-01-01 08:59:30.000000', NULL, NULL, NULL)",
        "(2, 2, 'X2', '2026-01-01 09:10:00.000000', '{}', 300, 0, 0, 300, 'awaiting', "
        "NULL, NULL, NULL, NULL)",
    ],
    "payments": [
        "(1, 1, 'O-1', 1, 'scancode', 1, 'T-1', 500, '2026-01-01 08:59:30.000000', 'X1', 'bolink', "
        "'2088000000001234', NULL, '{}', '2026-01-01 08:59:30.000000')",
        "(2, NULL, 'O-9', NULL, 'scancode', 1, 'T-2', 100, '2026-01-01 09:20:00.000000', NULL, 'bolink', "
        "NULL, 'unknown_order', '{\"a\": 1}', '2026-01-01 09:20:00.000000')",
    ],
    "gate_events": [
        "(1, 'X1', 1, 'paid', 'bolink', '', 'opened', 1, 'coil 0 ON', '2026-01-01 08:59:31.000000')",
        "(2, 'X2', NULL, 'manual', '1001', 'stuck', 'failed', 2, 'timeout', '2026-01-01 09:30:00.000000')",
    ],
    "audit_log": [
        "(1, '2026-01-01 08:00:00.000000', 'engine', 'entry', '{\"plate\": \"苏A12345\"}')",
        "(2, '2026-01-01 09:30:00.000000', '1001', 'manual_lift', '{}')",
    ],
    "outbox": [
        "(1, 1, 'bolink', 'inpark', '{}', 'bolink:inpark:O-1', 'sent', 1, '2026-01-01 08:00:00.000000', "
        "NULL, '2026-01-01 08:00:00.000000', '2026-01-01 08:00:01.000000')",
        "(2, 1, 'alipay', 'order_sync', '{\"x\": 2}', 'alipay:sync:O-1', 'dead', 9, "
        "'2026-01-01 10:00:00.000000', 'ACQ.SYSTEM_ERROR', '2026-01-01 09:00:00.000000', NULL)",
    ],
}


def make_r0001_database(path: Path, *, stamped: bool) -> None:
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        command.upgrade(migration_config(connection), "0001")
    engine.dispose()
    raw = sqlite3.connect(path)
    try:
        raw.execute("PRAGMA foreign_keys=ON")
        for table, rows in R0001_ROWS.items():
            for row in rows:
                raw.execute(f"INSERT INTO {table} VALUES {row}")
        raw.execute("UPDATE exit_orders SET settled_by = 1 WHERE id = 1")  # the cycle, once payment 1 is in
        if stamped:
            raw.execute(f"PRAGMA application_id = {BOOTH_APPLICATION_ID}")
        raw.commit()
    finally:
        raw.close()


Rows = dict[str, list[tuple[object, ...]]]


def rows_of(path: Path, columns_of: dict[str, list[str]] | None = None) -> Rows:
    """Every row of every table of ``R0001_ROWS``, in the columns it had at r0001 (``columns_of``)."""
    raw = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        found: Rows = {}
        for table in R0001_ROWS:
            columns = (columns_of or {}).get(table) or [
                row[1] for row in raw.execute(f"PRAGMA table_info({table})")
            ]
            found[table] = raw.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY id").fetchall()
        return found
    finally:
        raw.close()


def columns(path: Path) -> dict[str, list[str]]:
    raw = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {t: [row[1] for row in raw.execute(f"PRAGMA table_info({t})")] for t in R0001_ROWS}
    finally:
        raw.close()


def revision_of(path: Path) -> str:
    raw = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return str(raw.execute("SELECT version_num FROM alembic_version").fetchone()[0])
    finally:
        raw.close()


@pytest.mark.parametrize("stamped", [True, False], ids=["application_id", "older-booth-without-id"])
def test_a_first_schema_database_with_data_is_copied_then_upgraded_and_every_row_survives(
    tmp_path: Path, stamped: bool
) -> None:
    path = tmp_path / "booth.sqlite"
    make_r0001_database(path, stamped=stamped)
    old_columns = columns(path)
    before = rows_of(path)
    assert all(len(rows) == 2 for rows in before.values())

    with open_database(f"sqlite:///{path}") as database:
        store = Store(database)
        assert store.stay_by_order_id("O-2") is not None  # the upgraded database is usable as it is
    assert revision_of(path) == SCHEMA_HEAD
    assert rows_of(path, old_columns) == before

    copies = list(tmp_path.glob("booth.before-upgrade-r0001-*Z.sqlite"))
    assert len(copies) == 1, sorted(p.name for p in tmp_path.iterdir())
    copy = copies[0]
    assert revision_of(copy) == "0001"
    assert rows_of(copy) == before
    assert copy.stat().st_mode & 0o077 == 0  # payer ids and the audit: the owner's only
    assert not copy.with_name(copy.name + "-wal").exists()  # one self-contained file

    with open_database(f"sqlite:///{path}"):  # at head now: no second copy
        pass
    assert len(list(tmp_path.glob("booth.before-upgrade-*"))) == 1


def test_a_database_at_head_is_not_copied(tmp_path: Path) -> None:
    path = tmp_path / "booth.sqlite"
    open_database(f"sqlite:///{path}").close()
    open_database(f"sqlite:///{path}").close()
    assert sorted(p.name for p in tmp_path.iterdir() if "before-upgrade" in p.name) == []


def test_a_schema_newer_than_this_booth_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "booth.sqlite"
    open_database(f"sqlite:///{path}").close()
    raw = sqlite3.connect(path)
    raw.execute("UPDATE alembic_version SET version_num = '0042'")
    raw.commit()
    raw.close()
    with pytest.raises(StoreError) as info:
        open_database(f"sqlite:///{path}")
    message = str(info.value)
    assert "schema revision '0042'" in message and "made by a newer Booth" in message
    assert f"(schema {SCHEMA_HEAD!r})" in message and "\n" not in message
    assert revision_of(path) == "0042"
    assert not list(tmp_path.glob("*before-upgrade*"))


def test_an_upgrade_whose_copy_cannot_be_written_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The copy goes first: when it cannot be made (here its folder is a file), the upgrade is refused with
    the reason and the database stays at its old schema with its rows."""
    path = tmp_path / "booth.sqlite"
    make_r0001_database(path, stamped=True)
    before = rows_of(path)
    (tmp_path / "a-file").write_text("not a folder")
    blocked = tmp_path / "a-file" / "copy.sqlite"
    monkeypatch.setattr("booth.store.db.upgrade_backup_path", lambda database, revision, at: blocked)
    with pytest.raises(StoreError, match=r"cannot make the backup folder .*a-file"):
        open_database(f"sqlite:///{path}")
    assert revision_of(path) == "0001"
    assert rows_of(path) == before
