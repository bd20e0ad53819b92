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

import contextlib
import heapq
import itertools
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, bindparam, create_engine, event, func, inspect, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, SQLAlchemyError

from booth.config import LotSettings, Settings
from booth.lot.schema import lot_booths
from booth.store.db import BUSY_TIMEOUT_MS, IDLE_IN_TRANSACTION_S

if TYPE_CHECKING:
    from alembic.config import Config

LOT_MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: the lot's own Alembic version table (the store's is alembic_version)
LOT_VERSION_TABLE = "lot_alembic_version"
#: the newest revision of the lot schema (tests/test_lot_migrations.py checks it is Alembic's head)
LOT_HEAD = "l0004"
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
#: a booth's round on the server (a push, a pull, a relay's claims) is abandoned after this long, client side:
#: longer than lock_timeout (a round queued on a lock is ended by the server first), far longer than a round
#: takes (a push of 500 entries: ~0.1 s), and short enough that a connection whose answers never come (an
#: ACKing middlebox: neither tcp_user_timeout nor the keepalives fire) costs a round, not the booth's lot
ROUND_DEADLINE_S = 8.0

log = logging.getLogger("booth.lot")


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
    every_use_s: float | None = None,
) -> Engine:
    """An engine on the lot server: psycopg 3 (``postgresql://`` means it), every wait bounded (0: that
    statement timeout is off). Nothing is connected until first use. Inside ``with round_deadline(…)`` its
    connections are abandoned at that deadline; with ``every_use_s``, outside any round too, that long after
    their checkout (a booth's engine: no use of it waits for good on an answer that never comes)."""
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
        # (no pool_pre_ping: _watch_rounds pings on checkout itself, under the round's deadline)
        engine = create_engine(parsed, connect_args=connect_args)
    except ImportError as exc:
        raise LotServerError(
            f"cannot reach the lot server {shown(parsed)}: its driver is not installed (no module "
            f"{exc.name or exc!s}); install Booth's extra 'lot' (psycopg 3)"
        ) from exc
    _watch_rounds(engine, every_use_s)
    return engine


def lot_engine(
    settings: Settings | LotSettings, *, statement_timeout_ms: int = STATEMENT_TIMEOUT_MS
) -> Engine:
    """The booth's engine on its lot server, from ``[lot]``: connect_timeout_s, the bounded waits of
    :func:`server_engine`, every use abandoned after ROUND_DEADLINE_S (a round's own deadline may be
    shorter), and the booth id as the connection's application_name (``booth:<id>`` in pg_stat_activity:
    the server's administrator sees which booth holds what)."""
    lot = settings.lot if isinstance(settings, Settings) else settings
    if lot is None:
        raise LotServerError("no [lot] section in the settings: this booth is not part of a lot")
    return server_engine(
        lot.server,
        connect_timeout_s=lot.connect_timeout_s,
        statement_timeout_ms=statement_timeout_ms,
        application_name=f"booth:{lot.booth_id}",
        every_use_s=ROUND_DEADLINE_S,
    )


# ------------------------------------------------------------------------------------ a round's deadline
class RoundAbandoned(LotServerUnreachable):
    """A round on the lot server outlived its client-side deadline; its connection was shut down."""


_rounds = threading.local()  # the deadline of the round under way on this thread, if any


class RoundDeadline:
    """A client-side deadline for one round on the lot server (any thread; ``with`` binds it to this one).

    Every connection the round uses is watched: the lot engines' pool hands this thread's connections to it
    (on connect and on checkout, before the ping), and the lookup watches its own. When ``seconds`` pass
    with the round still under way, or at ``abandon()`` (a stop), each watched connection's socket is shut
    down under libpq: a thread blocked in a read wakes with "server closed the connection", the pool
    discards that connection (a disconnect), the round fails as :class:`RoundAbandoned` (any server error's
    way), and the next round connects afresh. A transaction cut off this way is rolled back by the server,
    or was committed if its COMMIT had reached it: the push's ``pushed_seq`` makes either harmless."""

    def __init__(self, seconds: float, what: str = "a round") -> None:
        self.seconds = seconds
        self.what = what
        self.expired = False
        self.why = ""
        self._watched: list[Any] = []
        self._lock = threading.Lock()
        self._done = False
        self._outer: RoundDeadline | None = None

    def watch(self, dbapi_connection: Any) -> None:
        """Shut this psycopg connection down too when the deadline passes (at once if it has passed)."""
        with self._lock:
            if self._done:
                return
            self._watched.append(dbapi_connection)
            if self.expired:
                _shut_down(dbapi_connection)

    def unwatch(self, dbapi_connection: Any) -> None:
        """Back in the pool: not this round's any more (a round may go on with work of its own)."""
        with self._lock:
            if dbapi_connection in self._watched:
                self._watched.remove(dbapi_connection)

    def abandon(self, why: str = "") -> None:
        """Give the round up now (``why``: at a stop, say), or at the deadline: shut its connections down
        (nothing if it has ended)."""
        with self._lock:
            if self._done:
                return
            if not self.expired:
                self.expired = True
                self.why = why or f"{self.what} took over {self.seconds:g} s"
                log.warning("lot server: %s: its connection is abandoned", self.why)
            for connection in self._watched:
                _shut_down(connection)

    @property
    def finished(self) -> bool:
        return self._done

    def start(self) -> RoundDeadline:
        _DEADLINES.add(time.monotonic() + self.seconds, self)
        return self

    def finish(self) -> None:
        """The round is over: nothing is shut down after this."""
        with self._lock:
            self._done = True
            self._watched.clear()

    def __enter__(self) -> RoundDeadline:
        self._outer = getattr(_rounds, "current", None)
        _rounds.current = self
        return self.start()

    def __exit__(self, kind: Any, error: BaseException | None, tb: Any) -> None:
        self.finish()
        _rounds.current = self._outer
        if self.expired and isinstance(error, DBAPIError):
            raise RoundAbandoned(f"lot server: {self.why}: connection abandoned") from error


class _Deadlines:
    """One thread watches every round's deadline. (A ``threading.Timer`` per round started a thread for
    each push, pull, lookup and use of the lot engine: several a second on a busy lot, each taking the GIL
    from the lanes to start and end.) A finished round stays in the heap until its moment comes, then is
    dropped: the heap holds at most the rounds of the last ``ROUND_DEADLINE_S``."""

    def __init__(self) -> None:
        self._reset()
        os.register_at_fork(after_in_child=self._reset)  # (the lot test forks booths: no thread, no lock)

    def _reset(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, RoundDeadline]] = []
        self._order = itertools.count()
        self._thread: threading.Thread | None = None

    def add(self, at: float, deadline: RoundDeadline) -> None:
        with self._cond:
            heapq.heappush(self._heap, (at, next(self._order), deadline))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._watch, name="lot-round-deadlines", daemon=True)
                self._thread.start()
            elif self._heap[0][2] is deadline:
                self._cond.notify()  # (sooner than the one the thread sleeps for)

    def _watch(self) -> None:
        while True:
            with self._cond:
                while True:
                    while self._heap and self._heap[0][2].finished:
                        heapq.heappop(self._heap)
                    if not self._heap:
                        self._cond.wait()
                        continue
                    at, _, due = self._heap[0]
                    left = at - time.monotonic()
                    if left <= 0:
                        heapq.heappop(self._heap)
                        break
                    self._cond.wait(left)
            due.abandon()  # (outside the lock: it takes the round's own)

    def pending(self) -> int:
        """Rounds watched and not finished (for tests)."""
        with self._cond:
            return sum(1 for _, _, deadline in self._heap if not deadline.finished)


_DEADLINES = _Deadlines()


def round_deadline(seconds: float = ROUND_DEADLINE_S, what: str = "a round") -> RoundDeadline:
    """``with round_deadline(8, "the push"):`` the lot engines' connections used inside are abandoned when
    the round outlives ``seconds`` (see :class:`RoundDeadline`)."""
    return RoundDeadline(seconds, what)


class Rounds:
    """One worker's rounds on the server (a thread's: the pusher's, the puller's), each under a deadline of
    ``seconds``; ``abandon()`` from any thread gives up the round under way (a stop need not wait for it)."""

    def __init__(self, seconds: float | None = None) -> None:
        self.seconds = ROUND_DEADLINE_S if seconds is None else seconds
        self._current: RoundDeadline | None = None

    @contextmanager
    def __call__(self, what: str) -> Iterator[RoundDeadline]:
        with RoundDeadline(self.seconds, what) as deadline:
            self._current = deadline
            try:
                yield deadline
            finally:
                self._current = None

    def abandon(self, why: str) -> None:
        deadline = self._current
        if deadline is not None:
            deadline.abandon(f"{deadline.what}: {why}")


def _shut_down(dbapi_connection: Any) -> None:
    """Shut a psycopg connection's socket down (both ways), from any thread: its reader wakes at once."""
    with contextlib.suppress(Exception):  # (closed already, or never connected: nothing to wake)
        fd = dbapi_connection.pgconn.socket
        with socket.socket(fileno=socket.dup(fd)) as dup:  # (shutdown acts on the socket, not the descriptor)
            dup.shutdown(socket.SHUT_RDWR)


def _watch_rounds(engine: Engine, every_use_s: float | None = None) -> None:
    """The engine's connections are watched by the deadline of the round that uses them, and a connection
    kept in the pool is pinged at checkout (SQLAlchemy's pre-ping, but with that round's deadline on it).

    With ``every_use_s``, a connection checked out outside any round (the relays' claims, the lease) gets a
    deadline of its own, from checkout to checkin: every use of the engine is bounded."""

    def watched(dbapi_connection: Any, record: Any = None) -> RoundDeadline | None:
        deadline = getattr(_rounds, "current", None)
        if deadline is None and record is not None and every_use_s is not None:
            deadline = record.info["deadline"] = RoundDeadline(every_use_s, "a use of the lot server").start()
        if deadline is not None:
            deadline.watch(dbapi_connection)
        return deadline

    @event.listens_for(engine, "first_connect", insert=True)
    def first_connect(dbapi_connection: Any, record: Any) -> None:  # (the dialect's first queries next)
        watched(dbapi_connection)

    @event.listens_for(engine, "connect")
    def connect(dbapi_connection: Any, record: Any) -> None:
        watched(dbapi_connection)
        record.info["fresh"] = True

    @event.listens_for(engine, "checkin")
    def checkin(dbapi_connection: Any, record: Any) -> None:
        own = record.info.pop("deadline", None)
        if own is not None:
            own.finish()
        deadline = getattr(_rounds, "current", None)
        if deadline is not None and dbapi_connection is not None:
            deadline.unwatch(dbapi_connection)

    @event.listens_for(engine, "checkout")
    def checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        deadline = watched(dbapi_connection, record)
        if record.info.pop("fresh", False):
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:  # (psycopg.Error)
            abandoned = deadline is not None and deadline.expired  # (no new connection for this round)
            if not abandoned and engine.dialect.is_disconnect(error, dbapi_connection, None):
                raise DisconnectionError() from error  # (the pool discards it and connects anew)
            raise  # (the pool discards this one too)


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
    """Every booth the lot server knows, as of the server's clock (``now``, read after the rows: a contact
    is never later than it, as the contacts are the server's clock too)."""

    server: str
    revision: str
    now: datetime
    booths: tuple[BoothContact, ...]

    def age_s(self, booth: BoothContact) -> float:
        """Seconds since the booth's last contact, both by the server's clock."""
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
        rows = connection.execute(select(lot_booths).order_by(lot_booths.c.booth_id)).mappings().all()
        # after the rows, by a clock that moves within the transaction: a contact the rows show committed
        # before this statement began, and its time is its own transaction's start (now(): earlier still)
        now = connection.execute(text("SELECT statement_timestamp()")).scalar_one()
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
) -> int:
    """This booth's contact with the server, in the caller's transaction: its row of lot_booths inserted on
    first contact, else updated (name, lanes, version, backlog, open shift as (id, attendant) or None, and
    the last contact; the first contact and pushed_seq are kept). Returns the booth's pushed_seq.

    The contact times are the SERVER's clock, the transaction's ``now()`` (its start), never the booth's:
    silence is judged on the server against its own ``now()`` (booth.sync.lot_relay's takeover, ``lot
    status``, the lot report), so a booth whose clock runs behind the server's does not look silent while
    it pushes (and have its cloud messages taken over while its own lease, on its own clock, still holds),
    and one whose clock runs ahead does not look alive after it died."""
    shift_id, shift_person = open_shift if open_shift is not None else (None, None)
    values = {
        "booth_id": booth_id,
        "name": name,
        "lanes": ",".join(lanes),
        "version": version,
        "backlog": backlog,
        "open_shift_id": shift_id,
        "open_shift_person": shift_person,
    }
    return int(conn.execute(_touch_statement(), values).scalar_one())


#: the columns a contact sets from the booth's values (the times are the server's now())
_TOUCHED = ("name", "lanes", "version", "backlog", "open_shift_id", "open_shift_person")


@cache
def _touch_statement() -> Any:
    """touch_booth's upsert, built once with its values as parameters: every push round runs it, and building
    it each time (its ``excluded`` columns above all) was Python time the lanes' thread waited for (the GIL;
    bench_lot_lanes, 2026-12-03)."""
    insert = pg_insert(lot_booths).values(
        booth_id=bindparam("booth_id"),
        first_contact_at=func.now(),
        last_contact_at=func.now(),
        **{name: bindparam(name) for name in _TOUCHED},
    )
    updated: dict[str, Any] = {name: insert.excluded[name] for name in _TOUCHED}
    updated["last_contact_at"] = func.now()
    return insert.on_conflict_do_update(index_elements=[lot_booths.c.booth_id], set_=updated).returning(
        lot_booths.c.pushed_seq
    )


__all__ = [
    "LOT_HEAD",
    "LOT_VERSION_TABLE",
    "ROUND_DEADLINE_S",
    "SILENT_AFTER_S",
    "BoothContact",
    "LotInit",
    "LotServerError",
    "LotServerUnreachable",
    "LotStatus",
    "RoundAbandoned",
    "RoundDeadline",
    "Rounds",
    "init_lot",
    "lot_engine",
    "lot_migration_config",
    "lot_revisions",
    "lot_status",
    "round_deadline",
    "server_engine",
    "touch_booth",
]
