"""A stay entered at another booth of the lot, found at this booth's exit (issue #18).

When a plate has no open stay in this booth's own store, the exit asks the lot server for the newest open stay
of that plate at another booth whose Bolink order id is closed at no booth (``LotStays.find_open``). The
answer is bounded: the whole lookup (a connection to make again included) waits at most ``query_timeout_ms``
and the server ends the query itself at that time (``statement_timeout``). A server that does not answer in
time, refuses the connection or fails the query is ``LotUnreachable``, which names the server and why; then
the recent-entries cache (any object with ``find(plate)``, kept by the pull) answers instead, if there is
one. The caller imports what was found (``Store.import_stay``) and prices it as a local stay.

The lookup blocks its caller: the engine runs it on a thread of its own, never on its loop nor on its
database thread. Queries run on one worker thread holding one connection (made on first use, made again
after a failure). A query that outlives its caller's wait is left to finish there (the server's statement
timeout ends it; an answer that never comes is abandoned, its connection shut down, ``ABANDON_AFTER_S``
later); until it has, later lookups do not queue behind it: they are ``LotUnreachable`` at once, and the
cache answers them.
"""

from __future__ import annotations

import concurrent.futures
import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal, Protocol

from sqlalchemy.engine import make_url

from booth.config import LotSettings
from booth.lot.schema import mirror_name
from booth.lot.server import RoundDeadline

if TYPE_CHECKING:
    import psycopg

log = logging.getLogger("booth.lot")

#: on a network that went dead under a query, the client gives up after this (libpq's tcp_user_timeout);
#: the exit stopped waiting long before, this only frees the lookup's worker
TCP_USER_TIMEOUT_MS = 10_000
#: a lookup still under way this long after query_timeout_ms (the server's statement_timeout should have
#: ended it) has its connection abandoned: an answer that never comes frees the worker, and the next lookup
#: connects afresh
ABANDON_AFTER_S = 1.0

_STAYS = mirror_name("stays")

# The newest open stay of the plate entered at another booth; a copy of it another booth imported counts (its
# origin is the entry booth) but the original comes first; an order id closed at any booth is gone.
_FIND_OPEN = f"""
SELECT s.booth_id, s.origin_booth, s.order_id, s.plate, s.plate_colour, s.vehicle_class, s.entry_lane,
       s.entry_at
FROM {_STAYS} AS s
WHERE s.plate = %(plate)s
  AND s.state = 'in_lot'
  AND s.booth_id <> %(booth_id)s
  AND COALESCE(s.origin_booth, s.booth_id) <> %(booth_id)s
  AND NOT EXISTS (
      SELECT 1 FROM {_STAYS} AS c WHERE c.order_id = s.order_id AND c.state <> 'in_lot'
  )
ORDER BY s.entry_at DESC, (s.origin_booth IS NULL) DESC, s.booth_id, s.id DESC
LIMIT 1
"""


class LotUnreachable(Exception):
    """The lot server did not answer a lookup in time, or could not: the message names the server and why."""


@dataclass(frozen=True, slots=True)
class LotStay:
    """An open stay at another booth, as the lot knows it: what an imported copy of it needs."""

    origin_booth: str  # the booth the car entered at
    order_id: str
    plate: str
    plate_colour: str
    vehicle_class: str
    entry_lane: str
    entry_at: datetime
    #: where the answer came from: the server, or the recent-entries cache when the server did not answer
    source: Literal["server", "recent"] = "server"


class RecentEntries(Protocol):
    """The pull's cache of other booths' recent entries: ``find(plate)`` gives the newest open one or None.

    What it returns needs the attributes of a :class:`LotStay` (``origin_booth`` or ``booth_id``)."""

    def find(self, plate: str) -> Any: ...


class StayLookup(Protocol):
    """What the engine asks at an exit (``LotStays``, or a stand-in)."""

    def find_open(self, plate: str) -> LotStay | None: ...

    def close(self) -> None: ...


def as_lot_stay(found: Any, source: Literal["server", "recent"]) -> LotStay:
    """A cache's entry (a LotStay or any object with its attributes; ``booth_id`` names the origin if there
    is no ``origin_booth``) as a LotStay."""
    origin = getattr(found, "origin_booth", None) or found.booth_id
    entry_at = found.entry_at
    return LotStay(
        origin_booth=str(origin),
        order_id=str(found.order_id),
        plate=str(found.plate),
        plate_colour=str(found.plate_colour),
        vehicle_class=str(found.vehicle_class),
        entry_lane=str(found.entry_lane),
        entry_at=entry_at if entry_at.tzinfo is None else entry_at.astimezone(UTC),
        source=source,
    )


def server_name(server: str) -> str:
    """The server as a message names it: host, port and database, never a password."""
    url = make_url(server)
    return f"{url.host or 'localhost'}:{url.port or 5432}/{url.database or ''}"


def lookup_conninfo(server: str, booth_id: str, *, query_timeout_ms: int, connect_timeout_s: float) -> str:
    """libpq keywords for the lookup's connection from the lot's URL (``postgresql://…``, any driver)."""
    import psycopg.conninfo

    url = make_url(server)
    parts: dict[str, Any] = {str(k): v for k, v in url.query.items() if isinstance(v, str)}
    parts.update(
        {
            "host": url.host or "localhost",
            "port": str(url.port or 5432),
            "dbname": url.database or "",
            # libpq's minimum is 2 s; the exit's wait is bounded by query_timeout_ms anyway
            "connect_timeout": str(max(2, round(connect_timeout_s))),
            "application_name": f"booth-lookup-{booth_id}"[:63],
            "options": f"-c statement_timeout={int(query_timeout_ms)} -c default_transaction_read_only=on",
            "keepalives": "1",
            "keepalives_idle": "10",
            "keepalives_interval": "5",
            "keepalives_count": "3",
            "tcp_user_timeout": str(TCP_USER_TIMEOUT_MS),
        }
    )
    if url.username:
        parts["user"] = url.username
    if url.password:
        parts["password"] = str(url.password)
    return psycopg.conninfo.make_conninfo(**parts)


class LotStays:
    """The lot's open stays, asked at this booth's exit. Thread-safe; ``close`` when done."""

    def __init__(
        self,
        server: str,
        booth_id: str,
        *,
        query_timeout_ms: int = 500,
        connect_timeout_s: float = 2.0,
        recent: RecentEntries | None = None,
    ) -> None:
        if query_timeout_ms <= 0:
            raise ValueError(f"query_timeout_ms must be positive, got {query_timeout_ms!r}")
        self.booth_id = booth_id
        self.server = server_name(server)
        self.query_timeout_ms = query_timeout_ms
        #: the pull's recent-entries cache, asked when the server does not answer (may be set later)
        self.recent = recent
        self._conninfo = lookup_conninfo(
            server, booth_id, query_timeout_ms=query_timeout_ms, connect_timeout_s=connect_timeout_s
        )
        self._worker = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="booth-lot-lookup"
        )
        self._lock = threading.Lock()
        self._stuck: concurrent.futures.Future[LotStay | None] | None = None
        self._connection: psycopg.Connection[Any] | None = None  # (the worker thread's only)
        self._closed = False

    @classmethod
    def from_settings(cls, lot: LotSettings, recent: RecentEntries | None = None) -> LotStays:
        """From ``[lot]``: its server, booth_id, query_timeout_ms and connect_timeout_s."""
        return cls(
            lot.server,
            lot.booth_id,
            query_timeout_ms=lot.query_timeout_ms,
            connect_timeout_s=lot.connect_timeout_s,
            recent=recent,
        )

    def warm_up(self) -> None:
        """Make the connection now, in the background (the first car at the exit does not wait for it);
        a failure is only logged: the first lookup tries again."""

        def connect() -> None:
            import psycopg

            try:
                if self._connection is None or self._connection.closed:
                    self._connection = psycopg.connect(self._conninfo, autocommit=True)
            except psycopg.Error as exc:
                log.info("lot server %s: not connected yet: %s", self.server, " ".join(str(exc).split()))

        with self._lock:
            if not self._closed:
                self._worker.submit(connect)

    # ---------------------------------------------------------------------------------------- lookups
    def find_open(self, plate: str) -> LotStay | None:
        """The plate's newest open stay at another booth, from the server; when the server does not answer,
        from the recent-entries cache (``source`` says which). Without a cache, LotUnreachable is raised."""
        try:
            return self.ask_server(plate)
        except LotUnreachable as exc:
            recent = self.recent
            if recent is None:
                raise
            found = recent.find(plate)
            stay = None if found is None else as_lot_stay(found, "recent")
            if stay is not None and stay.origin_booth == self.booth_id:
                stay = None
            log.warning("%s; the recent entries answered for %s: %s", exc, plate, stay and stay.order_id)
            return stay

    def ask_server(self, plate: str) -> LotStay | None:
        """The server's answer within query_timeout_ms, or LotUnreachable."""
        timeout_s = self.query_timeout_ms / 1000
        with self._lock:
            if self._closed:
                raise LotUnreachable(f"lot server {self.server}: the lookup is closed")
            stuck = self._stuck
            if stuck is not None and not stuck.done():
                raise LotUnreachable(
                    f"lot server {self.server} did not answer: an earlier lookup is still waiting for it"
                )
            self._stuck = None
            future = self._worker.submit(self._query, plate)
        try:
            return future.result(timeout=timeout_s)
        except concurrent.futures.TimeoutError:
            if not future.cancel():  # (one still queued is dropped; one under way is left to end there)
                with self._lock:
                    self._stuck = future
            raise LotUnreachable(
                f"lot server {self.server} did not answer within {self.query_timeout_ms} ms"
            ) from None

    def _query(self, plate: str) -> LotStay | None:
        """On the worker thread: one query on its connection (made again if there is none).

        A connection kept from an earlier lookup may have been ended meanwhile (the server restarted, a
        ``pg_terminate_backend``, a cut since healed): libpq learns it only at the next query. That query is
        asked once more on a new connection, within the caller's same wait; without this, the first car
        after such an event went to the attendant as ``no_stay`` with the server up (the lot test found it).
        """
        import psycopg

        reused = self._connection is not None and not self._connection.closed
        failed: psycopg.Error | None = None
        with RoundDeadline(self.query_timeout_ms / 1000 + ABANDON_AFTER_S, "a lookup") as deadline:
            try:
                try:
                    row = self._fetch(plate, deadline)
                except psycopg.OperationalError as exc:
                    if not reused or deadline.expired or isinstance(exc, psycopg.errors.QueryCanceled):
                        raise
                    log.info("lot server %s: the lookup's connection was lost (%s): asking again",
                             self.server, " ".join(str(exc).split()))  # fmt: skip
                    row = self._fetch(plate, deadline)
            except psycopg.Error as exc:
                failed = exc
        if failed is not None:
            if deadline.expired:
                reason = f"{deadline.why}: connection abandoned"
            else:  # the server's own words when it gave some (not its LINE/caret lines); libpq's, else
                reason = failed.diag.message_primary or " ".join(str(failed).split()) or type(failed).__name__
            raise LotUnreachable(f"lot server {self.server}: {reason}") from None
        if row is None:
            return None
        booth_id, origin, order_id, plate_, colour, vclass, entry_lane, entry_at = row
        return LotStay(
            origin_booth=origin or booth_id,
            order_id=order_id,
            plate=plate_,
            plate_colour=colour,
            vehicle_class=vclass,
            entry_lane=entry_lane,
            entry_at=entry_at.astimezone(UTC),
        )

    def _fetch(self, plate: str, deadline: RoundDeadline) -> Any:
        """The query's row on this worker's connection (connected first if need be), under the lookup's
        ``deadline`` (past it the connection is shut down); dropped on an error."""
        import psycopg

        try:
            if self._connection is None or self._connection.closed:
                self._connection = psycopg.connect(self._conninfo, autocommit=True)
            deadline.watch(self._connection)
            return self._connection.execute(
                _FIND_OPEN, {"plate": plate, "booth_id": self.booth_id}
            ).fetchone()
        except psycopg.Error:
            self._drop_connection()
            raise

    def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # (a connection that broke may fail to close: it is gone either way)
                log.debug("closing the lookup's broken connection failed", exc_info=True)

    def close(self) -> None:
        """Close the connection (after a query under way). Idempotent."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._worker.submit(self._drop_connection)
        self._worker.shutdown(wait=False, cancel_futures=False)


__all__ = [
    "LotStay",
    "LotStays",
    "LotUnreachable",
    "RecentEntries",
    "StayLookup",
    "as_lot_stay",
    "lookup_conninfo",
    "server_name",
]
