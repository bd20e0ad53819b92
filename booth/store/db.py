"""Opening the database: engine, SQLite settings that keep money safe, and the schema upgrade at start.

SQLite (the default) runs with WAL, synchronous=FULL, foreign keys on and a busy timeout. Python 3.11's
sqlite3 starts transactions late and on its own; we switch that off and emit BEGIN ourselves, the recipe
in SQLAlchemy's SQLite documentation: writes begin IMMEDIATE, so a write transaction holds the write lock
from its first statement and two writers queue on the busy timeout instead of failing on a lock upgrade.
Reads begin DEFERRED and never block writers (WAL). Other URLs (PostgreSQL) get none of this.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, orm, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import Session
from sqlalchemy.pool import ConnectionPoolEntry, StaticPool

from booth.store.records import StoreError

if TYPE_CHECKING:
    from alembic.config import Config

#: The newest migration. At start a database already there skips Alembic, whose import alone costs about
#: 0.3 s of the booth's start-up; tests/test_migrations.py checks this matches the migrations folder.
SCHEMA_HEAD = "0002"

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
BUSY_TIMEOUT_MS = 5000
_READ_ONLY = "booth_read_only"


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
    """Create the engine for `url`, bring the schema to the newest migration, and hand it over."""
    engine = create_database_engine(url)
    try:
        upgrade_schema(engine)
    except SQLAlchemyError as exc:
        engine.dispose()
        raise StoreError(f"cannot open or upgrade the database {engine.url!r}: {exc}") from exc
    except BaseException:
        engine.dispose()
        raise
    reader = engine.execution_options(**{_READ_ONLY: True})
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
    together on one file migrate one after the other."""
    with engine.begin() as connection:
        current = _schema_version(connection)
        if current == SCHEMA_HEAD:
            return
        if current is None and not connection.dialect.get_table_names(connection):
            # A new database: create the tables from the models and stamp the head revision (Alembic's
            # own advice for new databases). tests/test_migrations.py checks this gives the same schema
            # as running every migration.
            from booth.store.models import Base

            Base.metadata.create_all(connection)
            connection.execute(
                text(
                    "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL, "
                    "CONSTRAINT alembic_version_pkc PRIMARY KEY (version_num))"
                )
            )
            connection.execute(
                text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": SCHEMA_HEAD}
            )
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
