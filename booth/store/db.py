"""Opening the database: engine, SQLite settings that keep money safe, and the schema upgrade at start.

SQLite (the default) runs with WAL, synchronous=FULL, foreign keys on and a busy timeout. Python 3.11's
sqlite3 starts transactions late and on its own; we switch that off and emit BEGIN ourselves, the recipe
in SQLAlchemy's SQLite documentation: writes begin IMMEDIATE, so a write transaction holds the write lock
from its first statement and two writers queue on the busy timeout instead of failing on a lock upgrade.
Reads begin DEFERRED and never block writers (WAL).

PostgreSQL (``postgresql://``, driven by psycopg 3) gets the same guarantees its own way: every write
transaction first takes one transaction-level advisory lock (``pg_advisory_xact_lock``), so writers queue
one after the other as under BEGIN IMMEDIATE and each sees every earlier commit (READ COMMITTED after the
lock); reads run READ ONLY at REPEATABLE READ, one snapshot per transaction as in SQLite's WAL, and take no
lock. Other URLs get none of this.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, MetaData, create_engine, event, orm, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

from booth.store.records import StoreError
from booth.store.sqlite_copy import copy_sqlite

if TYPE_CHECKING:
    from alembic.config import Config

#: The newest migration. At start a database already there skips Alembic, whose import alone costs about
#: 0.3 s of the booth's start-up; tests/test_migrations.py checks this matches the migrations folder.
SCHEMA_HEAD = "0005"

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: SQLite's ``PRAGMA application_id`` of a Booth database ("BOTH"): set when Booth creates the file, so
#: another program's SQLite file is refused instead of silently getting Booth's tables.
BOOTH_APPLICATION_ID = 0x424F5448
BUSY_TIMEOUT_MS = 5000
#: PostgreSQL's advisory lock key (in the database's own namespace) every write transaction takes first
WRITER_LOCK_KEY = BOOTH_APPLICATION_ID
_READ_ONLY = "booth_read_only"
log = logging.getLogger("booth.store")


@dataclass(frozen=True)
class Database:
    """An open database: `sessionmaker` for units of work that write, `read_sessionmaker` for reads.

    On SQLite every transaction begun through `engine` (even `engine.connect()` and a SELECT) takes the
    write lock; read through `read_engine` or `read_sessionmaker` so as not to hold up the writers.
    """

    engine: Engine
    read_engine: Engine
    sessionmaker: orm.sessionmaker[Session]
    read_sessionmaker: orm.sessionmaker[Session]

    def close(self) -> None:
        """Close every pooled connection; sessions must be finished first."""
        self.engine.dispose()

    def __enter__(self) -> Database:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def open_database(url: str) -> Database:
    """Create the engine for `url`, bring the schema to the newest migration, check it, and hand it over.

    Every failure is a one-line StoreError naming the database (password hidden) and the cause."""
    try:
        engine = create_database_engine(url)
    except ImportError as exc:  # a known kind of database whose driver is not installed
        raise StoreError(
            f"cannot open the database {_shown(url)}: its driver is not installed (no module "
            f"{exc.name or exc!s}); install it, or use a sqlite:/// URL"
        ) from exc
    except (SQLAlchemyError, OSError, ValueError) as exc:  # unknown kind, a folder that cannot be made
        raise StoreError(f"cannot open the database {_shown(url)}: {_reason(exc)}") from exc
    try:
        upgrade_schema(engine)
    except SQLAlchemyError as exc:
        engine.dispose()
        raise StoreError(f"cannot open or upgrade the database {_shown(url)}: {_reason(exc)}") from exc
    except BaseException:
        engine.dispose()
        raise
    reader = engine.execution_options(**{_READ_ONLY: True})
    if engine.dialect.name == "postgresql":
        reader = reader.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
    return Database(
        engine=engine,
        read_engine=reader,
        sessionmaker=orm.sessionmaker(engine, expire_on_commit=False),
        read_sessionmaker=orm.sessionmaker(reader, expire_on_commit=False),
    )


def migration_config(connection: Connection | None = None) -> Config:
    """An Alembic config built in code: no alembic.ini in the working directory is needed or read.

    env.py runs the migrations on `connection` (inside its transaction) when one is given.
    """
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def upgrade_schema(engine: Engine) -> None:
    """Upgrade to head in one transaction; on SQLite it is BEGIN IMMEDIATE, so two booths starting
    together on one file migrate one after the other. A database that is not Booth's is refused untouched,
    and one missing a table or column of the models is refused by name (not a crash on first use)."""
    with engine.begin() as connection:
        application_id = _application_id(connection)
        if application_id not in (None, 0, BOOTH_APPLICATION_ID):
            raise StoreError(
                f"{_shown(engine.url)} belongs to another program (SQLite application_id "
                f"{application_id:#x}), not to Booth: point database.url at Booth's own file"
            )
        current = _schema_version(connection)
        if current == SCHEMA_HEAD and application_id != 0:
            _check_schema(connection, engine.url)
            return
        if current is None and not connection.dialect.get_table_names(connection):
            # A new database: create the tables from the models and stamp the head revision (Alembic's
            # own advice for new databases). tests/test_migrations.py checks this gives the same schema
            # as running every migration.
            _create_tables(connection)
            connection.execute(
                text(
                    "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
                    "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
                )
            )
            connection.execute(
                text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": SCHEMA_HEAD}
            )
            if application_id is not None:
                connection.exec_driver_sql(f"PRAGMA application_id = {BOOTH_APPLICATION_ID}")
            return
        if application_id == 0 and current not in booth_revisions():
            raise StoreError(
                f"{_shown(engine.url)} is not a Booth database (it has tables but neither Booth's "
                "application_id nor a Booth schema version): refusing to add Booth's tables to it; "
                "point database.url at a new or Booth's own file"
            )
        if current is None:
            raise StoreError(
                f"{_shown(engine.url)} has Booth's tables but no schema version (alembic_version was "
                "dropped): the database is damaged; restore a backup"
            )
        if current not in booth_revisions():
            raise StoreError(
                f"{_shown(engine.url)} is at schema revision {current!r}, which this Booth (schema "
                f"{SCHEMA_HEAD!r}) does not know: it was made by a newer Booth; install that Booth again, "
                "or point database.url at another file"
            )
        if current != SCHEMA_HEAD:  # an older schema: a copy as it is now, before any change
            _backup_before_upgrade(engine.url, current)
        if application_id == 0:  # made by a Booth from before application_id: adopt it
            connection.exec_driver_sql(f"PRAGMA application_id = {BOOTH_APPLICATION_ID}")
        if current == SCHEMA_HEAD:
            _check_schema(connection, engine.url)
            return
        from alembic import command
        from alembic.script.revision import RevisionError
        from alembic.util import CommandError

        try:
            command.upgrade(migration_config(connection), "head")
        except (CommandError, RevisionError) as exc:  # e.g. a revision this Booth does not know (a newer one)
            raise StoreError(
                f"cannot upgrade the database schema from revision {current!r} to {SCHEMA_HEAD!r}: {exc}"
            ) from exc
        _check_schema(connection, engine.url)


def _create_tables(connection: Connection) -> None:
    """The models' tables in a new database.

    Not from Base.metadata itself on PostgreSQL: there the foreign key that closes the exit_orders <->
    payments cycle is added by ALTER TABLE after both tables, and SQLAlchemy's AddConstraint marks that
    constraint object "never inline" for good, so a later CREATE TABLE on SQLite in the same process (a lot
    booth's local journal) would silently leave the foreign key out. A copy of the metadata takes the mark.
    """
    from booth.store.models import Base

    metadata = Base.metadata
    if connection.dialect.name != "sqlite":
        metadata = MetaData(naming_convention=Base.metadata.naming_convention)
        for table in Base.metadata.sorted_tables:
            table.to_metadata(metadata)
    metadata.create_all(connection)


def sqlite_file(url: str | URL) -> Path | None:
    """The file of an SQLite database URL; None for another database or one in memory."""
    parsed = url if isinstance(url, URL) else _parse_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    database = parsed.database or ""
    if database in ("", ":memory:") or parsed.query.get("mode") == "memory" or parsed.query.get("uri"):
        return None
    return Path(database).expanduser()


def upgrade_backup_path(database: Path, revision: str, at: datetime) -> Path:
    """Where the copy made before upgrading ``database`` from ``revision`` goes: next to it, named with
    the old revision and the time (UTC), e.g. booth.before-upgrade-r0001-20261203T103000Z.sqlite."""
    stamp = at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    return database.with_name(f"{database.stem}.before-upgrade-r{revision}-{stamp}{database.suffix}")


def _backup_before_upgrade(url: URL, revision: str) -> None:
    """Copy an SQLite file about to be upgraded next to it (the upgrade cannot be undone by the code that
    made it). Another database is left to its own tools (pg_dump): it is only logged."""
    database = sqlite_file(url)
    if database is None:
        log.warning(
            "upgrading %s from schema %s without a copy: back it up with its own tools", _shown(url), revision
        )
        return
    target = upgrade_backup_path(database, revision, datetime.now(UTC))
    # From a connection of its own: SQLite's backup never reads from a connection in a write transaction
    # (as `connection` is: BEGIN IMMEDIATE). That transaction holds the write lock and has written nothing,
    # so the copy is exactly the database the upgrade starts from.
    source = sqlite3.connect(database, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        copy_sqlite(source, target)  # a StoreError (disk full, say) refuses the upgrade: nothing changed
    finally:
        source.close()
    log.warning(
        "database at schema %s, this Booth's is %s: copied to %s; upgrading", revision, SCHEMA_HEAD, target
    )


@cache
def booth_revisions() -> frozenset[str]:
    """Every revision id of Booth's migrations, read from their files (Alembic is not imported at start;
    tests/test_migrations.py checks the set matches Alembic's)."""
    found = re.compile(r"^revision(?:\s*:\s*str)?\s*=\s*[\"']([^\"']+)[\"']", re.M)
    return frozenset(
        match.group(1)
        for path in (MIGRATIONS_DIR / "versions").glob("*.py")
        for match in found.finditer(path.read_text(encoding="utf-8"))
    )


def _application_id(connection: Connection) -> int | None:
    """SQLite's application_id (0: none set), or None on another database."""
    if connection.dialect.name != "sqlite":
        return None
    return int(connection.exec_driver_sql("PRAGMA application_id").scalar() or 0)


def _check_schema(connection: Connection, url: URL) -> None:
    """Every table and column of the models is there: a table dropped or a column lost by hand is named
    now, not met as an error in the middle of a payment."""
    from booth.store.models import Base

    if connection.dialect.name == "sqlite":
        have: dict[str, set[str]] = {}
        rows = connection.exec_driver_sql(
            "SELECT m.name, p.name FROM sqlite_master AS m JOIN pragma_table_info(m.name) AS p "
            "WHERE m.type = 'table'"
        )
        for table, column in rows:
            have.setdefault(table, set()).add(column)
    else:
        from sqlalchemy import inspect

        inspector = inspect(connection)
        have = {t: {c["name"] for c in inspector.get_columns(t)} for t in inspector.get_table_names()}
    missing: list[str] = []
    for table in Base.metadata.sorted_tables:
        if table.name not in have:
            missing.append(f"table {table.name}")
        else:
            missing += [
                f"column {table.name}.{c.name}" for c in table.columns if c.name not in have[table.name]
            ]
    if missing:
        raise StoreError(
            f"{_shown(url)} lacks Booth's {', '.join(missing)} (changed by hand, or damaged): "
            "restore a backup; the booth does not start on it"
        )


def _shown(url: str | URL) -> str:
    """The database URL for a message, its password hidden."""
    try:
        parsed = url if isinstance(url, URL) else make_url(url)
    except (ArgumentError, ValueError):
        return repr(url)
    return parsed.render_as_string(hide_password=True)


def _reason(exc: BaseException) -> str:
    """The cause in one line: the driver's own message, without SQLAlchemy's statement and help link."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    text = str(cause).strip().splitlines()
    reason = text[0] if text else type(cause).__name__
    if reason == "file is not a database":
        reason += " (not an SQLite file, or damaged)"
    return reason


def _schema_version(connection: Connection) -> str | None:
    """The revision a database is at, or None for a new one (no alembic_version table yet)."""
    if not connection.dialect.has_table(connection, "alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _parse_url(url: str) -> URL:
    try:
        return make_url(url)
    except ArgumentError as exc:
        raise StoreError(f"not a database URL: {url!r} ({exc})") from exc


def create_database_engine(url_text: str) -> Engine:
    """The engine with Booth's connection settings, without touching the schema."""
    url = _parse_url(url_text)
    if url.get_backend_name() == "postgresql":
        if url.drivername == "postgresql":  # SQLAlchemy's default is psycopg2; Booth uses psycopg (v3)
            url = url.set(drivername="postgresql+psycopg")
        engine = create_engine(url, pool_pre_ping=True)
        event.listen(engine, "connect", _configure_postgresql_connection)
        event.listen(engine, "begin", _begin_postgresql_transaction)
        return engine
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True)
    database = url.database or ""
    kwargs: dict[str, Any] = {}
    if database in ("", ":memory:") or url.query.get("mode") == "memory":
        # One shared connection, or every pooled connection would see its own empty database.
        kwargs.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
    elif not url.query.get("uri"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, **kwargs)
    event.listen(engine, "connect", _configure_sqlite_connection)
    event.listen(engine, "begin", _begin_sqlite_transaction)
    return engine


def _configure_sqlite_connection(dbapi_connection: Any, connection_record: ConnectionPoolEntry) -> None:
    # Take BEGIN away from the sqlite3 module (see _begin_sqlite_transaction).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def _begin_sqlite_transaction(connection: Connection) -> None:
    read_only = connection.get_execution_options().get(_READ_ONLY, False)
    connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


#: per PostgreSQL session: a writer waits for the writers' lock (or a row) as long as for SQLite's busy
#: timeout, then fails; a transaction left idle by a booth cut off mid-way (no RST reaches the server) is
#: ended and its lock freed after IDLE_IN_TRANSACTION_S instead of the OS's two hours of TCP keepalive
IDLE_IN_TRANSACTION_S = 30
_POSTGRESQL_SETTINGS = (
    ("lock_timeout", f"{BUSY_TIMEOUT_MS}ms"),
    ("idle_in_transaction_session_timeout", f"{IDLE_IN_TRANSACTION_S}s"),
    ("tcp_keepalives_idle", "10"),
    ("tcp_keepalives_interval", "5"),
    ("tcp_keepalives_count", "3"),
)


def _configure_postgresql_connection(dbapi_connection: Any, connection_record: ConnectionPoolEntry) -> None:
    calls = ", ".join("set_config(%s, %s, false)" for _ in _POSTGRESQL_SETTINGS)
    with dbapi_connection.cursor() as cursor:
        cursor.execute(f"SELECT {calls}", [part for setting in _POSTGRESQL_SETTINGS for part in setting])
    dbapi_connection.commit()  # (psycopg began a transaction for the SELECT)


def _begin_postgresql_transaction(connection: Connection) -> None:
    # The driver has begun the transaction on this first statement; a reader takes no lock.
    if not connection.get_execution_options().get(_READ_ONLY, False):
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({WRITER_LOCK_KEY})")
