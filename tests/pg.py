"""PostgreSQL for the tests: one fresh database per test run, an empty schema per test.

The server is PostgreSQL 15 at 127.0.0.1:5432 with trust auth (``BOOTH_TEST_POSTGRES`` names another
admin URL, on loopback too). The run's database is ``booth_test_<pid>_<random>``; it is dropped when the run
ends, failed or not (``DROP DATABASE … WITH (FORCE)`` ends connections a failed test left open). Each test
that asks for ``pg_url`` gets that database with its ``public`` schema dropped and made anew.

When the server does not answer, a test that needs it fails with the reason under CI (``CI=true``: the
machine is meant to have it, so a silent skip would hide lost coverage) and is skipped with the reason
elsewhere.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator

import pytest
from sqlalchemy.engine import URL, make_url

#: the admin connection: a database that exists (not the one the run creates)
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
CONNECT_TIMEOUT_S = 3


def admin_url() -> URL:
    return make_url(os.environ.get("BOOTH_TEST_POSTGRES", DEFAULT_ADMIN_URL))


def _conninfo(url: URL) -> str:
    """libpq keywords for psycopg from a SQLAlchemy URL (its driver name dropped)."""
    import psycopg.conninfo

    parts = {
        "host": url.host or "127.0.0.1",
        "port": str(url.port or 5432),
        "user": url.username or "postgres",
        "dbname": url.database or "postgres",
        "connect_timeout": str(CONNECT_TIMEOUT_S),
    }
    if url.password:
        parts["password"] = str(url.password)
    return psycopg.conninfo.make_conninfo(**parts)


def _unavailable(reason: str) -> None:
    message = f"PostgreSQL is not available for the tests: {reason}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true: the server must answer)", pytrace=False)
    pytest.skip(message)


def _admin_execute(template: str, database: str) -> None:
    """CREATE or DROP DATABASE (outside a transaction, as PostgreSQL requires) on the admin connection."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(_conninfo(admin_url()), autocommit=True) as connection:
        connection.execute(sql.SQL(template).format(sql.Identifier(database)))


@pytest.fixture(scope="session")
def pg_database() -> Iterator[URL]:
    """The run's own database: created on first use, dropped at the end of the run."""
    try:
        import psycopg
    except ImportError:
        _unavailable("the driver psycopg (v3) is not installed: pip install 'psycopg[binary]>=3.1'")
        raise  # (not reached: _unavailable fails or skips)
    name = f"booth_test_{os.getpid()}_{secrets.token_hex(4)}"
    try:
        _admin_execute("CREATE DATABASE {}", name)
    except psycopg.OperationalError as exc:
        reason = " ".join(str(exc).split())  # one line: libpq adds a hint on a line of its own
        _unavailable(f"{admin_url().render_as_string()} does not answer: {reason}")
    try:
        yield admin_url().set(drivername="postgresql+psycopg", database=name)
    finally:
        _admin_execute("DROP DATABASE IF EXISTS {} WITH (FORCE)", name)


@pytest.fixture
def pg_url(pg_database: URL) -> str:
    """The run's database with an empty public schema: the URL (password shown) a test opens."""
    empty_schema(pg_database)
    return pg_database.render_as_string(hide_password=False)


def empty_schema(url: URL | str) -> None:
    """Drop everything in the database's public schema (tables, triggers, functions): a new database.

    Only for the run's own database (booth_test_…): it refuses any other name."""
    import psycopg

    url = make_url(url) if isinstance(url, str) else url
    if not (url.database or "").startswith("booth_test_"):
        raise ValueError(f"not a test run's database: {url.database!r}")
    with psycopg.connect(_conninfo(url), autocommit=True) as connection:
        connection.execute("DROP SCHEMA public CASCADE")
        connection.execute("CREATE SCHEMA public")
