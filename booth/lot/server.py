"""The lot server (issue #18): connecting to it, making its schema (``booth lot init``), what it knows of
each booth (``booth lot status``), and a booth's heartbeat in ``lot_booths``.

The schema is Alembic's, from a migration tree of the lot's own (booth/lot/migrations, version table
``lot_alembic_version``), written against :mod:`booth.lot.schema`. Connections are psycopg 3 with bounded
waits everywhere: connecting (``connect_timeout``), a statement and a lock (``statement_timeout``,
``lock_timeout``), a transaction left open by a booth cut off mid-way
(``idle_in_transaction_session_timeout``), and a peer that vanished (TCP keepalives both ways, and
``tcp_user_timeout`` for data never acknowledged).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, inspect, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from booth.config import LotSettings, Settings
from booth.lot.schema import lot_booths
from booth.store.db import BUSY_TIMEOUT_MS, IDLE_IN_TRANSACTION_S

if TYPE_CHECKING:
    from alembic.config import Config

LOT_MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: the lot's own Alembic version table (the store's is alembic_version)
LOT_VERSION_TABLE = "lot_alembic_version"
#: the newest revision of the lot schema (tests/test_lot_migrations.py checks it is Alembic's head)
LOT_HEAD = "l0003"
#: ``booth lot init`` runs under this transaction-level advisory lock: two at once migrate one after the other
INIT_LOCK_KEY = 0x4C4F5449  # "LOTI"

#: a pusher's statement never runs longer than this on the server (a batch of 500 upserts takes milliseconds)
STATEMENT_TIMEOUT_MS = 10_000
#: the booth's side of the connection gives up on data the server has not acknowledged after this long
TCP_USER_TIMEOUT_MS = 10_000
#: TCP keepalives, both ways: idle seconds before the first probe, seconds between probes, probes lost
KEEPALIVES = (10, 5, 3)
#: a booth not heard from for longer than this is flagged by ``booth lot status``
SILENT_AFTER_S = 60


class LotServerError(Exception):
    """Something is wrong on or with the lot server; the message is one line and names the server."""


class LotServerUnreachable(LotServerError):
    """The lot server does not answer (refused, timed out, connection lost) or refuses the connection."""


def shown(url: str | URL) -> str:
    """The server's URL for a message, its password hidden."""
    try:
        parsed = url if isinstance(url, URL) else make_url(url)
    except (SQLAlchemyError, ValueError):
        return repr(url)
    return parsed.render_as_string(hide_password=True)


def server_engine(
    url: str | URL,
    *,
    connect_timeout_s: int = 2,
    statement_timeout_ms: int = STATEMENT_TIMEOUT_MS,
    lock_timeout_ms: int = BUSY_TIMEOUT_MS,
    application_name: str = "booth",
) -> Engine:
    """An engine on the lot server: psycopg 3 (``postgresql://`` means it), every wait bounded (0: that
    statement timeout is off). Nothing is connected until first use."""
    parsed = url if isinstance(url, URL) else make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise LotServerError(f"the lot server is PostgreSQL, not {shown(parsed)}")
    if parsed.drivername == "postgresql":  # SQLAlchemy's default would be psycopg2; Booth uses psycopg (v3)
        parsed = parsed.set(drivername="postgresql+psycopg")
    settings = {
        "statement_timeout": str(statement_timeout_ms),
        "lock_timeout": str(lock_timeout_ms),
        "idle_in_transaction_session_timeout": str(IDLE_IN_TRANSACTION_S * 1000),
        "tcp_keepalives_idle": str(KEEPALIVES[0]),
        "tcp_keepalives_interval": str(KEEPALIVES[1]),
        "tcp_keepalives_count": str(KEEPALIVES[2]),
    }
    options = " ".join(f"-c {name}={value}" for name, value in settings.items())
    given = parsed.query.get("options")
    if isinstance(given, str) and given:  # the URL's own options first: ours win where both set one
        options = f"{given} {options}"
    connect_args: dict[str, Any] = {
        "connect_timeout": connect_timeout_s,
        "options": options,
        "application_name": application_name,
        "keepalives": 1,
        "keepalives_idle": KEEPALIVES[0],
        "keepalives_interval": KEEPALIVES[1],
        "keepalives_count": KEEPALIVES[2],
        "tcp_user_timeout": TCP_USER_TIMEOUT_MS,
    }
    try:
        return create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)
    except ImportError as exc:
        raise LotServerError(
            f"cannot reach the lot server {shown(parsed)}: its driver is not installed (no module "
            f"{exc.name or exc!s}); install Booth's extra 'lot' (psycopg 3)"
        ) from exc


def lot_engine(
    settings: Settings | LotSettings, *, statement_timeout_ms: int = STATEMENT_TIMEOUT_MS
) -> Engine:
    """The booth's engine on its lot server, from ``[lot]``: connect_timeout_s, the bounded waits of
    :func:`server_engine`, and the booth id as the connection's application_name (``booth:<id>`` in
    pg_stat_activity: the server's administrator sees which booth holds what)."""
    lot = settings.lot if isinstance(settings, Settings) else settings
    if lot is None:
        raise LotServerError("no [lot] section in the settings: this booth is not part of a lot")
    return server_engine(
        lot.server,
        connect_timeout_s=lot.connect_timeout_s,
        statement_timeout_ms=statement_timeout_ms,
        application_name=f"booth:{lot.booth_id}",
    )


@contextmanager
def _on_server(url: str | URL, what: str, **engine_kwargs: Any) -> Iterator[Connection]:
    """One transaction on the server for a command, every failure one line naming the server."""
    engine = server_engine(url, **engine_kwargs)
    try:
        try:
            connection = engine.connect()
        except DBAPIError as exc:
            raise LotServerUnreachable(f"lot server {shown(url)} does not answer: {_reason(exc)}") from exc
        try:
            with connection, connection.begin():
                yield connection
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise LotServerUnreachable(
                    f"lot server {shown(url)}: the connection was lost during {what}: {_reason(exc)}"
                ) from exc
            raise LotServerError(f"lot server {shown(url)}: {what} failed: {_reason(exc)}") from exc
    finally:
        engine.dispose()


def _reason(exc: BaseException) -> str:
    """The driver's own message in one line (libpq puts hints on lines of their own)."""
    cause = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    return " ".join(str(cause).split()) or type(cause).__name__


# ------------------------------------------------------------------------------------------------ schema
def lot_migration_config(connection: Connection | None = None) -> Config:
    """The lot's Alembic config, built in code (no alembic.ini read); env.py runs on ``connection``."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(LOT_MIGRATIONS_DIR).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


@cache
def lot_revisions() -> frozenset[str]:
    """Every revision id of the lot's migrations, read from their files."""
    found = re.compile(r"^revision(?:\s*:\s*str)?\s*=\s*[\"']([^\"']+)[\"']", re.M)
    return frozenset(
        match.group(1)
        for path in (LOT_MIGRATIONS_DIR / "versions").glob("*.py")
        for match in found.finditer(path.read_text(encoding="utf-8"))
    )


@dataclass(frozen=True)
class LotInit:
    """What ``init_lot`` found and left: the revision before (None: no lot schema) and after."""

    server: str
    before: str | None
    after: str

    def describe(self) -> str:
        if self.before is None:
            return f"lot server {self.server}: created the lot schema at revision {self.after}"
        if self.before == self.after:
            return (
                f"lot server {self.server}: the lot schema is at revision {self.after} already; nothing to do"
            )
        return (
            f"lot server {self.server}: upgraded the lot schema from revision {self.before} to {self.after}"
        )


def _lot_revision(connection: Connection) -> str | None:
    if not connection.dialect.has_table(connection, LOT_VERSION_TABLE):
        return None
    return connection.execute(text(f"SELECT version_num FROM {LOT_VERSION_TABLE}")).scalar()


def init_lot(url: str | URL, *, connect_timeout_s: int = 2) -> LotInit:
    """Create or upgrade the lot schema to head, in one transaction; idempotent (at head: nothing is done).

    Two at once queue on an advisory lock. A database with lot tables but no lot version (made by
    ``lot_metadata.create_all``, or damaged) or at a revision this Booth does not know (a newer Booth's)
    is refused untouched. A migration waits at most lock_timeout for tables the booths are using."""
    server = shown(url)
    with _on_server(
        url, "the schema upgrade", connect_timeout_s=connect_timeout_s, statement_timeout_ms=0
    ) as c:
        c.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": INIT_LOCK_KEY})
        before = _lot_revision(c)
        if before is None:
            found = sorted(
                t for t in inspect(c).get_table_names() if t.startswith("lot_") and t != LOT_VERSION_TABLE
            )
            if found:
                named = ", ".join(found[:3]) + (", …" if len(found) > 3 else "")
                raise LotServerError(
                    f"lot server {server} has lot tables ({named}) but no {LOT_VERSION_TABLE}: not made by "
                    "booth lot init, or damaged; refusing to touch them (drop them, or use another database)"
                )
        elif before not in lot_revisions():
            raise LotServerError(
                f"lot server {server} is at lot schema revision {before!r}, which this Booth (lot schema "
                f"{LOT_HEAD!r}) does not know: a newer Booth made it; upgrade this booth"
            )
        if before != LOT_HEAD:
            from alembic import command

            command.upgrade(lot_migration_config(c), "head")
        after = _lot_revision(c)
    assert after is not None
    return LotInit(server=server, before=before, after=after)


# ------------------------------------------------------------------------------------------------ status
@dataclass(frozen=True)
class BoothContact:
    """One booth as the server knows it (a row of lot_booths)."""

    booth_id: str
    name: str
    lanes: tuple[str, ...]
    version: str
    first_contact_at: datetime
    last_contact_at: datetime
    pushed_seq: int
    backlog: int
    open_shift_id: int | None
    open_shift_person: str | None


@dataclass(frozen=True)
class LotStatus:
    """Every booth the lot server knows, as of the server's clock (``now``)."""

    server: str
    revision: str
    now: datetime
    booths: tuple[BoothContact, ...]

    def age_s(self, booth: BoothContact) -> float:
        """Seconds since the booth's last contact, by the server's clock (negative: the booth's is ahead)."""
        return (self.now - booth.last_contact_at).total_seconds()

    def silent(self, after_s: float = SILENT_AFTER_S) -> list[BoothContact]:
        """Booths not heard from for longer than ``after_s``."""
        return [b for b in self.booths if self.age_s(b) > after_s]

    def lane_clashes(self) -> dict[str, list[str]]:
        """Lane ids used by more than one booth -> those booths (lane ids must be unique lot-wide)."""
        users: dict[str, list[str]] = {}
        for booth in self.booths:
            for lane in booth.lanes:
                users.setdefault(lane, []).append(booth.booth_id)
        return {lane: ids for lane, ids in sorted(users.items()) if len(ids) > 1}


def lot_status(url: str | URL, *, connect_timeout_s: int = 2) -> LotStatus:
    """What the server knows of every booth; LotServerUnreachable when it does not answer, LotServerError
    when it has no lot schema."""
    server = shown(url)
    with _on_server(url, "reading the booths", connect_timeout_s=connect_timeout_s) as connection:
        if not connection.dialect.has_table(connection, "lot_booths"):
            raise LotServerError(f"lot server {server} has no lot schema: run booth lot init")
        revision = _lot_revision(connection) or "(none)"
        now = connection.execute(text("SELECT now()")).scalar_one()
        rows = connection.execute(select(lot_booths).order_by(lot_booths.c.booth_id)).mappings().all()
    booths = tuple(
        BoothContact(
            booth_id=row["booth_id"],
            name=row["name"],
            lanes=tuple(lane for lane in row["lanes"].split(",") if lane),
            version=row["version"],
            first_contact_at=row["first_contact_at"],
            last_contact_at=row["last_contact_at"],
            pushed_seq=int(row["pushed_seq"]),
            backlog=int(row["backlog"]),
            open_shift_id=row["open_shift_id"],
            open_shift_person=row["open_shift_person"],
        )
        for row in rows
    )
    return LotStatus(server=server, revision=revision, now=now, booths=booths)


# --------------------------------------------------------------------------------------------- heartbeat
def touch_booth(
    conn: Connection,
    booth_id: str,
    *,
    name: str,
    lanes: Sequence[str],
    version: str,
    backlog: int,
    open_shift: tuple[int, str] | None,
    at: datetime,
) -> int:
    """This booth's contact with the server, in the caller's transaction: its row of lot_booths inserted on
    first contact, else updated (name, lanes, version, backlog, open shift as (id, attendant) or None, last
    contact ``at``; the first contact and pushed_seq are kept). Returns the booth's pushed_seq."""
    shift_id, shift_person = open_shift if open_shift is not None else (None, None)
    values = {
        "name": name,
        "lanes": ",".join(lanes),
        "version": version,
        "last_contact_at": at,
        "backlog": backlog,
        "open_shift_id": shift_id,
        "open_shift_person": shift_person,
    }
    insert = pg_insert(lot_booths).values(booth_id=booth_id, first_contact_at=at, **values)
    upsert = insert.on_conflict_do_update(
        index_elements=[lot_booths.c.booth_id], set_={key: insert.excluded[key] for key in values}
    ).returning(lot_booths.c.pushed_seq)
    return int(conn.execute(upsert).scalar_one())


__all__ = [
    "LOT_HEAD",
    "LOT_VERSION_TABLE",
    "SILENT_AFTER_S",
    "BoothContact",
    "LotInit",
    "LotServerError",
    "LotServerUnreachable",
    "LotStatus",
    "init_lot",
    "lot_engine",
    "lot_migration_config",
    "lot_revisions",
    "lot_status",
    "server_engine",
    "touch_booth",
]
