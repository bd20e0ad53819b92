"""Alembic environment for Booth's store.

The app runs migrations itself (booth.store.db.upgrade_schema) and passes its open connection in
`config.attributes["connection"]`; developers can also run the `alembic` command with
booth/store/alembic.ini, whose sqlalchemy.url then names the database.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from booth.store.db import create_database_engine
from booth.store.models import Base


def run_migrations_offline() -> None:
    url = context.config.get_main_option("sqlalchemy.url") or ""
    context.configure(
        url=url,
        target_metadata=Base.metadata,
        literal_binds=True,
        compare_type=True,
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_on(connection: Connection) -> None:
    if connection.dialect.name == "sqlite":
        # Check foreign keys at COMMIT, not per statement, for this transaction only: batch mode rebuilds a
        # table by copy, drop and rename, and the drop must not fail on rows that point at it meanwhile.
        connection.exec_driver_sql("PRAGMA defer_foreign_keys=ON")
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        compare_type=True,
        # SQLite cannot ALTER most things: batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        run_migrations_on(connection)
        return
    # Only the alembic command line gets here; the app always passes its own connection.
    engine = create_database_engine(context.config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.begin() as cli_connection:
            run_migrations_on(cli_connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
