"""The lot schema by Alembic (issue #18): booth lot init builds exactly booth.lot.schema, idempotently.

The mirrors in booth.lot.schema are made from booth.store.models, so a store migration that adds a column to a
mirrored table changes them: test_the_migrated_lot_schema_matches_booth_lot_schema then fails until a lot
revision adds the column on the server too.
"""

from __future__ import annotations

import threading

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import BigInteger, Column, Engine, MetaData, create_engine, inspect, text

from booth.lot.schema import MIRRORED, lot_metadata, mirror_name
from booth.lot.server import (
    LOT_HEAD,
    LOT_VERSION_TABLE,
    LotServerError,
    init_lot,
    lot_migration_config,
    lot_revisions,
    touch_booth,
)
from tests.pg import empty_schema
from tests.test_migrations import schema_of

pytestmark = pytest.mark.postgresql

LOT_TABLES = {mirror_name(t) for t in MIRRORED} | {"lot_booths", "lot_conflicts", "lot_relay_claims"}


def lot_diff(engine: Engine, metadata: MetaData = lot_metadata) -> list[object]:
    """What Alembic finds between the database and booth.lot.schema (the lot's tables only)."""
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "version_table": LOT_VERSION_TABLE,
                "include_name": lambda name, kind, _parents: kind != "table" or name != LOT_VERSION_TABLE,
            },
        )
        return list(compare_metadata(context, metadata))


def lot_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(
            connection, opts={"version_table": LOT_VERSION_TABLE}
        ).get_current_revision()


def test_the_migrated_lot_schema_matches_booth_lot_schema(pg_url: str) -> None:
    done = init_lot(pg_url)
    assert (done.before, done.after) == (None, LOT_HEAD)
    engine = create_engine(pg_url)
    try:
        assert set(inspect(engine).get_table_names()) == LOT_TABLES | {LOT_VERSION_TABLE}
        assert lot_diff(engine) == []
        assert lot_revision(engine) == LOT_HEAD
    finally:
        engine.dispose()


def test_a_column_added_to_a_mirror_without_a_lot_revision_is_a_difference(pg_url: str) -> None:
    """What the test above catches: a store migration adding a column to a mirrored table (here to
    stays) changes booth.lot.schema, and the lot's migrated schema no longer matches it."""
    init_lot(pg_url)
    grown = MetaData(naming_convention=lot_metadata.naming_convention)
    for table in lot_metadata.sorted_tables:
        copy = table.to_metadata(grown)
        if table.name == "lot_stays":
            copy.append_column(Column("toll_fen", BigInteger, nullable=True))
    engine = create_engine(pg_url)
    try:
        found = lot_diff(engine, grown)
    finally:
        engine.dispose()
    assert [(d[0], d[2], d[3].name) for d in found if isinstance(d, tuple)] == [
        ("add_column", "lot_stays", "toll_fen")
    ]


def test_the_migrations_build_what_create_all_builds(pg_url: str) -> None:
    """Tests (and nothing else) may make a lot database with lot_metadata.create_all: the same tables,
    columns, keys and indexes as booth lot init, down to the names."""
    init_lot(pg_url)
    engine = create_engine(pg_url)
    try:
        migrated = {k: v for k, v in schema_of(engine).items() if k != LOT_VERSION_TABLE}
    finally:
        engine.dispose()
    empty_schema(pg_url)
    engine = create_engine(pg_url)
    try:
        lot_metadata.create_all(engine)
        assert schema_of(engine) == migrated
    finally:
        engine.dispose()


def test_there_is_one_head_it_is_lot_head_and_the_revisions_are_read_right() -> None:
    script = ScriptDirectory.from_config(lot_migration_config())
    assert script.get_heads() == [LOT_HEAD], "update booth.lot.server.LOT_HEAD for the new lot revision"
    assert lot_revisions() == {rev.revision for rev in script.walk_revisions()}
    # the lot's revisions never mix with the store's
    assert all(revision.startswith("l") for revision in lot_revisions())


def test_init_again_changes_nothing_and_keeps_the_rows(pg_url: str) -> None:
    init_lot(pg_url)
    engine = create_engine(pg_url)
    try:
        with engine.begin() as connection:
            touch_booth(
                connection,
                "exit-1",
                name="东出口",
                lanes=["X1"],
                version="1",
                backlog=0,
                open_shift=None,
            )
        again = init_lot(pg_url)
        assert (again.before, again.after) == (LOT_HEAD, LOT_HEAD)
        assert "already; nothing to do" in again.describe()
        with engine.connect() as connection:
            assert connection.execute(text("SELECT booth_id, name FROM lot_booths")).all() == [
                ("exit-1", "东出口")
            ]
    finally:
        engine.dispose()


def test_downgrade_to_base_and_upgrade_again(pg_url: str) -> None:
    init_lot(pg_url)
    engine = create_engine(pg_url)
    try:
        with engine.begin() as connection:
            command.downgrade(lot_migration_config(connection), "base")
        assert set(inspect(engine).get_table_names()) <= {LOT_VERSION_TABLE}
        assert lot_revision(engine) is None
        done = init_lot(pg_url)
        assert done.after == LOT_HEAD
        assert lot_diff(engine) == []
    finally:
        engine.dispose()


def test_two_inits_at_once_make_the_schema_once(pg_url: str) -> None:
    results: list[object] = []

    def run() -> None:
        try:
            results.append(init_lot(pg_url))
        except Exception as exc:
            results.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    befores = sorted((getattr(r, "before", None) or "-", getattr(r, "after", r)) for r in results)
    assert befores == [("-", LOT_HEAD), (LOT_HEAD, LOT_HEAD)], results


def test_lot_tables_made_without_init_are_refused_untouched(pg_url: str) -> None:
    engine = create_engine(pg_url)
    try:
        lot_metadata.create_all(engine)
        with pytest.raises(
            LotServerError, match=f"has lot tables .* but no {LOT_VERSION_TABLE}: not made by"
        ):
            init_lot(pg_url)
        assert LOT_VERSION_TABLE not in inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_a_newer_booths_revision_is_refused(pg_url: str) -> None:
    init_lot(pg_url)
    engine = create_engine(pg_url)
    try:
        with engine.begin() as connection:
            connection.execute(text(f"UPDATE {LOT_VERSION_TABLE} SET version_num = 'l9999'"))
        with pytest.raises(LotServerError, match=r"revision 'l9999', which this Booth .* does not know"):
            init_lot(pg_url)
        assert lot_revision(engine) == "l9999"
    finally:
        engine.dispose()


def test_the_lot_schema_and_a_store_share_a_database_without_seeing_each_other(pg_url: str) -> None:
    """Each has its own version table: a store at its head and the lot at its head, side by side."""
    from booth.store import open_database
    from booth.store.db import SCHEMA_HEAD

    with open_database(pg_url):
        pass
    init_lot(pg_url)
    with open_database(pg_url) as database, database.engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar() == SCHEMA_HEAD
        assert connection.execute(text(f"SELECT version_num FROM {LOT_VERSION_TABLE}")).scalar() == LOT_HEAD
