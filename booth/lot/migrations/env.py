"""Alembic environment for the lot server's schema (issue #18): a migration tree of its own, beside the
store's, with its own version table (``lot_alembic_version``), so a lot database and a store could even
share one PostgreSQL database without either seeing the other's revisions.

The app migrates through booth.lot.server.init_lot, which passes its open connection in
``config.attributes["connection"]``; developers can run the ``alembic`` command with booth/lot/alembic.ini,
whose sqlalchemy.url then names a PostgreSQL database (e.g. to draft the next revision with --autogenerate).
"""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import Connection, create_engine

from booth.lot.schema import lot_metadata

#: the lot's own version table (the store's is alembic_version)
VERSION_TABLE = "lot_alembic_version"


def _lot_names_only(name: str | None, kind: str, parent_names: Any) -> bool:
    """Autogenerate compares the lot's tables only: anything else in the database is not the lot's."""
    if kind == "table":
        return bool(name and name.startswith("lot_") and name != VERSION_TABLE)
    return True


def _configure(**kwargs: Any) -> None:
    context.configure(
        target_metadata=lot_metadata,
        version_table=VERSION_TABLE,
        include_name=_lot_names_only,
        compare_type=True,
        **kwargs,
    )


def run_migrations_on(connection: Connection) -> None:
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        run_migrations_on(connection)
        return
    # Only the alembic command line gets here; the app always passes its own connection.
    url = context.config.get_main_option("sqlalchemy.url") or ""
    if url.startswith("postgresql://"):
        url = url.replace("postgresql://", "postgresql+psycopg://", 1)  # Booth drives PostgreSQL with psycopg
    engine = create_engine(url)
    try:
        with engine.begin() as cli_connection:
            run_migrations_on(cli_connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    _configure(url=context.config.get_main_option("sqlalchemy.url") or "", literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
