"""Alembic: the migrations build exactly the schema the models describe, and go down and up again cleanly."""

from __future__ import annotations

import io
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, inspect, text

import booth.store
from booth.store import Database, Store, StoreError, migration_config, open_database
from booth.store.db import BOOTH_APPLICATION_ID, SCHEMA_HEAD, booth_revisions
from booth.store.models import Base
from tests.pg import empty_schema

TABLES = {"stays", "exit_orders", "payments", "gate_events", "audit_log", "outbox"}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def url(request: pytest.FixtureRequest, db_path: Path) -> str:
    """A new database: a real SQLite file, or PostgreSQL's run database with an empty schema (tests/pg.py)."""
    return request.getfixturevalue("pg_url") if request.param == "postgresql" else f"sqlite:///{db_path}"


@pytest.fixture
def db(url: str) -> Iterator[Database]:
    database = open_database(url)
    yield database
    database.close()


def schema_diff(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(migration_config()).get_current_head()


def test_migrated_schema_matches_the_models(db: Database) -> None:
    assert set(inspect(db.engine).get_table_names()) >= TABLES
    assert schema_diff(db.engine) == []


def schema_of(engine: Engine) -> dict[str, object]:
    """Everything SQLite keeps of a schema that matters: columns, keys, indexes, checks, per table."""
    found = inspect(engine)
    return {
        table: (
            [(c["name"], str(c["type"]), c["nullable"]) for c in found.get_columns(table)],
            found.get_pk_constraint(table)["constrained_columns"],
            sorted((f["constrained_columns"], f["referred_table"], f["referred_columns"])
                   for f in found.get_foreign_keys(table)),
            sorted((i["name"], i["column_names"], i["unique"]) for i in found.get_indexes(table)),
            sorted((u["name"], u["column_names"]) for u in found.get_unique_constraints(table)),
            sorted((c["name"], " ".join(c["sqltext"].split())) for c in found.get_check_constraints(table)),
        )
        for table in sorted(found.get_table_names())
    }  # fmt: skip


def test_a_new_database_gets_the_schema_that_every_migration_builds(tmp_path: Path) -> None:
    """open_database creates a new database from the models and stamps head; the migrations must build
    exactly the same schema, or a booth installed later would differ from one upgraded all along."""
    migrated = create_engine(f"sqlite:///{tmp_path / 'migrated.sqlite'}")
    with migrated.begin() as connection:
        command.upgrade(migration_config(connection), "head")
    created = open_database(f"sqlite:///{tmp_path / 'created.sqlite'}")
    try:
        assert schema_of(created.engine) == schema_of(migrated)
        assert current_revision(created.engine) == current_revision(migrated) == head_revision()
        assert schema_diff(migrated) == []
    finally:
        created.close()
        migrated.dispose()


@pytest.mark.postgresql
def test_on_postgresql_every_migration_from_empty_builds_the_schema_of_a_new_database(pg_url: str) -> None:
    """Alembic from an empty PostgreSQL database to head, then open_database's create-and-stamp on another
    empty one: the same tables, columns, keys, indexes and checks, and no difference from the models."""
    migrated = create_engine(pg_url)
    try:
        with migrated.begin() as connection:
            command.upgrade(migration_config(connection), "head")
        assert current_revision(migrated) == head_revision()
        assert schema_diff(migrated) == []
        migrated_schema = schema_of(migrated)
    finally:
        migrated.dispose()
    empty_schema(pg_url)
    with open_database(pg_url) as created:
        assert schema_of(created.engine) == migrated_schema
        assert current_revision(created.engine) == head_revision()


def test_there_is_one_head_and_open_database_upgrades_to_it(db: Database) -> None:
    script = ScriptDirectory.from_config(migration_config())
    assert len(script.get_heads()) == 1
    assert head_revision() is not None
    assert current_revision(db.engine) == head_revision()
    # the fast path at start (no Alembic import when already at head) must know the real head
    assert script.get_current_head() == SCHEMA_HEAD, "update booth.store.db.SCHEMA_HEAD for the new migration"


def test_a_database_behind_head_is_still_upgraded(url: str) -> None:
    open_database(url).close()
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = 'behind'"))
    engine.dispose()
    with pytest.raises(StoreError, match="behind"):  # not silently taken as current: Alembic is asked
        open_database(url)


def test_upgrade_downgrade_to_base_and_upgrade_again(db: Database) -> None:
    # Rows in every table of the exit_orders <-> payments cycle, which the downgrade must undo.
    store = Store(db)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    stay = store.create_stay(
        order_id="o1", plate="苏A12345", plate_colour="blue", vehicle_class="small", lane_id="A1", entry_at=at
    )
    order = store.open_exit_order(
        stay_id=stay.id,
        lane_id="B1",
        opened_at=at,
        quote_json="{}",
        gross_fen=500,
        paid_before_fen=0,
        discount_fen=0,
        due_fen=500,
    )
    outcome = store.record_payment(
        order_ref="o1",
        exit_order_id=order.id,
        channel="scancode",
        pay_channel=1,
        trade_no="t1",
        amount_fen=500,
        paid_at=at,
        lane_id="B1",
        operator="bolink",
        payer_id=None,
        raw=None,
    )
    assert outcome.status == "settled"

    with db.engine.begin() as connection:
        command.downgrade(migration_config(connection), "base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    assert current_revision(db.engine) is None

    with db.engine.begin() as connection:
        command.upgrade(migration_config(connection), "head")
    assert set(inspect(db.engine).get_table_names()) >= TABLES
    assert schema_diff(db.engine) == []
    assert current_revision(db.engine) == head_revision()


def test_opening_again_keeps_the_data_and_changes_nothing(url: str) -> None:
    with open_database(url) as first, first.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO audit_log (at, actor, action, detail_json) VALUES ('2026-01-01', 'a', 'b', '{}')"
            )
        )
    with open_database(url) as second:
        with second.engine.connect() as connection:
            assert connection.execute(text("SELECT actor FROM audit_log")).scalar_one() == "a"
        assert current_revision(second.engine) == head_revision()


def test_constraints_carry_the_conventional_names(db: Database) -> None:
    inspector = inspect(db.engine)
    assert {uc["name"] for uc in inspector.get_unique_constraints("payments")} == {"uq_payments_trade_no"}
    assert {uc["name"] for uc in inspector.get_unique_constraints("outbox")} == {"uq_outbox_dedupe_key"}
    assert {uc["name"] for uc in inspector.get_unique_constraints("stays")} == {"uq_stays_order_id"}
    assert {fk["name"] for fk in inspector.get_foreign_keys("exit_orders")} == {
        "fk_exit_orders_stay_id_stays",
        "fk_exit_orders_settled_by_payments",
    }
    checks = {ck["name"] for ck in inspector.get_check_constraints("outbox")}
    assert checks == {"ck_outbox_cloud", "ck_outbox_state", "ck_outbox_attempts_not_negative"}
    assert "ix_stays_plate_state" in {ix["name"] for ix in inspector.get_indexes("stays")}


def test_command_line_path_opens_its_own_engine_with_the_same_settings(db_path: Path) -> None:
    config = migration_config()  # no connection: what the alembic command line does
    config.set_main_option("sqlalchemy.url", f"sqlite:///{db_path}")
    command.upgrade(config, "head")
    raw = sqlite3.connect(db_path)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)  # WAL is kept in the file
    finally:
        raw.close()
    with open_database(f"sqlite:///{db_path}") as database:
        assert current_revision(database.engine) == head_revision()
        assert schema_diff(database.engine) == []


def test_offline_mode_renders_sql_without_a_database() -> None:
    config = migration_config()
    config.set_main_option("sqlalchemy.url", "sqlite:///never-created.sqlite")
    buffer = io.StringIO()
    config.output_buffer = buffer
    command.upgrade(config, "head", sql=True)
    sql = buffer.getvalue()
    assert "CREATE TABLE stays" in sql
    assert "CONSTRAINT uq_payments_trade_no UNIQUE (trade_no)" in sql
    assert not Path("never-created.sqlite").exists()


def test_the_developer_ini_points_at_the_same_migrations() -> None:
    ini = Path(booth.store.__file__).parent / "alembic.ini"
    script = ScriptDirectory.from_config(Config(str(ini)))
    assert script.get_current_head() == head_revision()


def test_postgresql_sql_adds_the_cycle_foreign_key_after_both_tables() -> None:
    # No PostgreSQL server here: render the SQL offline to check the non-SQLite branch of the migration.
    config = migration_config()
    config.set_main_option("sqlalchemy.url", "postgresql://booth@localhost/booth")
    buffer = io.StringIO()
    config.output_buffer = buffer
    command.upgrade(config, "head", sql=True)
    sql = buffer.getvalue()
    add_fk = "ALTER TABLE exit_orders ADD CONSTRAINT fk_exit_orders_settled_by_payments"
    assert sql.index("CREATE TABLE payments") < sql.index(add_fk)
    assert "TIMESTAMP WITH TIME ZONE" in sql


def application_id(path: Path) -> int:
    raw = sqlite3.connect(path)
    try:
        return int(raw.execute("PRAGMA application_id").fetchone()[0])
    finally:
        raw.close()


def sqlite_file(path: Path, *statements: str) -> None:
    raw = sqlite3.connect(path)
    try:
        for statement in statements:
            raw.execute(statement)
        raw.commit()
    finally:
        raw.close()


def tables_of(path: Path) -> set[str]:
    raw = sqlite3.connect(path)
    try:
        return {row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        raw.close()


def test_a_new_database_carries_booths_application_id(db_path: Path) -> None:
    open_database(f"sqlite:///{db_path}").close()
    assert application_id(db_path) == BOOTH_APPLICATION_ID


def test_another_programs_sqlite_file_is_refused_untouched(db_path: Path) -> None:
    """It used to get Booth's tables silently, beside its own."""
    sqlite_file(db_path, "CREATE TABLE notes (id INTEGER PRIMARY KEY)", "INSERT INTO notes VALUES (1)")
    with pytest.raises(StoreError, match="is not a Booth database") as info:
        open_database(f"sqlite:///{db_path}")
    assert "\n" not in str(info.value)
    assert tables_of(db_path) == {"notes"}
    assert application_id(db_path) == 0


def test_a_file_stamped_by_another_program_is_refused(db_path: Path) -> None:
    sqlite_file(db_path, "PRAGMA application_id = 1234")
    with pytest.raises(StoreError, match=r"belongs to another program \(SQLite application_id 0x4d2\)"):
        open_database(f"sqlite:///{db_path}")
    assert tables_of(db_path) == set()


def test_an_alembic_version_of_another_program_is_not_taken_for_booths(db_path: Path) -> None:
    sqlite_file(
        db_path,
        "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)",
        "INSERT INTO alembic_version VALUES ('ae1027a6acf')",
    )
    with pytest.raises(StoreError, match="is not a Booth database"):
        open_database(f"sqlite:///{db_path}")
    assert tables_of(db_path) == {"alembic_version"}


def test_a_database_of_an_older_booth_is_adopted_and_stamped(db_path: Path) -> None:
    """Booths before application_id made databases with Booth's alembic_version and no id: keep them."""
    engine = create_engine(f"sqlite:///{db_path}")
    with engine.begin() as connection:
        command.upgrade(migration_config(connection), "0001")  # an older Booth, an older schema too
    engine.dispose()
    assert application_id(db_path) == 0
    with open_database(f"sqlite:///{db_path}") as database:
        assert current_revision(database.engine) == head_revision()
    assert application_id(db_path) == BOOTH_APPLICATION_ID


def test_booths_revisions_are_read_from_the_migration_files_as_alembic_reads_them() -> None:
    script = ScriptDirectory.from_config(migration_config())
    assert booth_revisions() == {r.revision for r in script.walk_revisions()}


@pytest.mark.parametrize(
    ("damage", "named"),
    [
        ("DROP TABLE lane_exceptions", "lacks Booth's table lane_exceptions"),
        ("ALTER TABLE payments DROP COLUMN payer_id", "lacks Booth's column payments.payer_id"),
        ("DROP TABLE alembic_version", "has Booth's tables but no schema version"),
    ],
)
def test_a_damaged_schema_is_named_at_open_not_met_later(db_path: Path, damage: str, named: str) -> None:
    open_database(f"sqlite:///{db_path}").close()
    sqlite_file(db_path, damage)
    with pytest.raises(StoreError, match=named) as info:
        open_database(f"sqlite:///{db_path}")
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("url", "named"),
    [
        # a plain postgresql:// URL is driven by psycopg (v3), a dev dependency: the server itself is named
        ("postgresql://booth:secret@127.0.0.1:1/booth", '"127.0.0.1", port 1 failed: Connection refused'),
        ("mysql://booth@127.0.0.1:1/booth", "its driver is not installed (no module MySQLdb)"),
        ("nosuchdb://x/y", "Can't load plugin: sqlalchemy.dialects:nosuchdb"),
        ("sqlite:////proc/booth-cannot-be-made/x.sqlite", "No such file or directory"),
    ],
)
def test_a_database_that_cannot_be_opened_is_one_line_naming_why(url: str, named: str) -> None:
    with pytest.raises(StoreError) as info:
        open_database(url)
    message = str(info.value)
    assert named in message and "\n" not in message
    assert "secret" not in message  # the password is hidden


def test_a_file_that_is_not_sqlite_is_named(db_path: Path) -> None:
    db_path.write_bytes(b"this is not an SQLite file " * 100)
    with pytest.raises(StoreError, match=r"file is not a database \(not an SQLite file, or damaged\)$"):
        open_database(f"sqlite:///{db_path}")
