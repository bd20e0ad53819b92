"""Helpers for the lot's tests (issue #18): a booth's day of business writes through the store and the
office, a connection to the lot server, and a row-by-row comparison of a booth's tables with its mirrors."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.engine import make_url

from booth.config.office import ShiftSettings, StaffSettings
from booth.lot.journal import ensure_journal
from booth.lot.schema import MIRRORED, MIRRORS
from booth.lot.server import init_lot, server_engine
from booth.office.shifts import Shifts
from booth.office.staff import Staff
from booth.store import Database, Store, open_database
from booth.store.models import Base
from booth.store.records import LaneExceptionItem, OutboxItem

T0 = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


class Clock:
    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float = 1.0) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


def lot_server(url: str, *, create: bool = True) -> Engine:
    """The lot server as a booth's pusher sees it (booth.lot.server.server_engine: psycopg 3, bounded waits),
    its schema made by ``booth lot init`` (init_lot) unless ``create`` is False."""
    if create:
        init_lot(url)
    return server_engine(url)


def heard_from(connection: Connection, booth_id: str, seconds_ago: float) -> None:
    """The server last heard from the booth ``seconds_ago`` by its own clock: its ``lot_booths`` row (made by
    touch_booth, which writes the server's now()) set back, as a booth silent for that long leaves it."""
    connection.execute(
        text(
            "UPDATE lot_booths SET last_contact_at = now() - make_interval(secs => :s), "
            "first_contact_at = least(first_contact_at, now() - make_interval(secs => :s)) "
            "WHERE booth_id = :b"
        ),
        {"b": booth_id, "s": seconds_ago},
    )


def booth_database(tmp_path: Path, name: str) -> Database:
    db = open_database(f"sqlite:///{tmp_path / f'{name}.sqlite'}")
    ensure_journal(db.engine)
    return db


def booth_day(db: Database, tag: str, clock: Clock, *, cars: int = 3) -> dict[str, Any]:
    """A short day at one booth: a supervisor and an attendant, a shift, cars in and out (cash, a QR payment
    with a trade number, a free release, a car whose exit was missed), gate events, the outbox sent."""
    store = Store(db, clock=clock)
    staff = Staff(db, StaffSettings(), clock=clock, scrypt_n=2**10)
    shifts = Shifts(db, ShiftSettings(), staff, clock=clock)
    staff.add_person(f"boss_{tag}", "Boss", "supervisor", "2468", by="setup")
    staff.add_person(f"att_{tag}", "Attendant", "attendant", "1357", by=f"boss_{tag}")
    shift = shifts.open(f"att_{tag}")
    stays = []
    for n in range(cars):
        at = clock.tick(60)
        stay = store.create_stay(
            order_id=f"{tag}_order_{n}",
            plate=f"苏A{tag[:2].upper()}{n:03d}",
            plate_colour="blue",
            vehicle_class="small",
            lane_id=f"{tag}-E1",
            entry_at=at,
            outbox=[
                OutboxItem("bolink", "inpark", {"order_id": f"{tag}_order_{n}"}, f"bolink:inpark:{tag}-{n}")
            ],
        )
        stays.append(stay)
    trade_nos = []
    for n, stay in enumerate(stays[:2]):
        at = clock.tick(600)
        order = store.open_exit_order(
            stay_id=stay.id,
            lane_id=f"{tag}-X1",
            opened_at=at,
            quote_json="{}",
            gross_fen=500,
            paid_before_fen=0,
            discount_fen=0,
            due_fen=500,
        )
        trade_no = None if n == 0 else f"T-{tag}-{n}"
        if trade_no:
            trade_nos.append(trade_no)
        store.record_payment(
            order_ref=stay.order_id,
            exit_order_id=order.id,
            channel="cash" if trade_no is None else "wechat",
            pay_channel=None,
            trade_no=trade_no,
            amount_fen=500,
            paid_at=clock.tick(5),
            lane_id=f"{tag}-X1",
            operator=f"att_{tag}",
            payer_id=None,
            raw={"n": n},
            outbox=[OutboxItem("bolink", "outpark", {"n": n}, f"bolink:outpark:{tag}-{n}")],
        )
        store.record_gate_event(
            lane_id=f"{tag}-X1",
            stay_id=stay.id,
            reason="paid",
            operator=f"att_{tag}",
            note="",
            outcome="opened",
            attempt=1,
            detail="",
            at=clock.tick(1),
        )
        store.close_stay(stay.id, lane_id=f"{tag}-X1", exit_at=clock.tick(3))
    if len(stays) > 2:
        stay = stays[2]
        order = store.open_exit_order(
            stay_id=stay.id,
            lane_id=f"{tag}-X1",
            opened_at=clock.tick(60),
            quote_json="{}",
            gross_fen=300,
            paid_before_fen=0,
            discount_fen=0,
            due_fen=300,
        )
        store.release_exit_order(
            order.id,
            at=clock.tick(5),
            reason="broken_gate",
            operator=f"att_{tag}",
            exception=LaneExceptionItem(
                kind="free_release",
                lane_id=f"{tag}-X1",
                reason="broken_gate",
                note="",
                operator=f"att_{tag}",
                at=clock.now,
                stay_id=stay.id,
                exit_order_id=order.id,
                plate=stay.plate,
                due_fen=300,
                approved_by=f"boss_{tag}",
            ),
        )
        store.close_stay(stay.id, lane_id=f"{tag}-X1", exit_at=clock.tick(3))
    missed = store.create_stay(
        order_id=f"{tag}_order_missed",
        plate=f"苏B{tag[:2].upper()}999",
        plate_colour="blue",
        vehicle_class="small",
        lane_id=f"{tag}-E1",
        entry_at=clock.tick(60),
    )
    store.close_missed_stay(missed.id, at=clock.tick(3600), lane_id=f"{tag}-E1", owed_fen=800)
    store.audit(actor=f"att_{tag}", action="test_note", detail={"tag": tag}, at=clock.tick(1))
    for row in store.due_outbox("bolink", clock.tick(1)):
        store.mark_outbox_sent(row.id, at=clock.tick(1))
    shifts.close(shift.id, {100: 10}, handover_float_fen=0, cosigner=(f"boss_{tag}", "2468"))
    return {"stays": stays, "trade_nos": trade_nos, "store": store, "staff": staff, "shifts": shifts}


def local_rows(db: Database, table: str) -> dict[int, dict[str, Any]]:
    local = Base.metadata.tables[table]
    with db.read_engine.connect() as connection:
        return {row.id: dict(row._mapping) for row in connection.execute(select(local))}


def mirror_rows(lot: Engine, table: str, booth_id: str) -> dict[int, dict[str, Any]]:
    mirror = MIRRORS[table]
    with lot.connect() as connection:
        rows = connection.execute(select(mirror).where(mirror.c.booth_id == booth_id))
        return {row.id: {k: v for k, v in row._mapping.items() if k != "booth_id"} for row in rows}


def assert_mirrored(db: Database, lot: Engine, booth_id: str) -> int:
    """Every row of every mirrored table at the booth is on the server, column for column, and the server
    has no row of that booth the booth lacks. How many rows were compared."""
    compared = 0
    for table in MIRRORED:
        here, there = local_rows(db, table), mirror_rows(lot, table, booth_id)
        assert set(here) == set(there), f"{table}: ids here {sorted(here)}, on the server {sorted(there)}"
        for row_id, row in here.items():
            assert row == there[row_id], f"{table} #{row_id}: here {row}, on the server {there[row_id]}"
        compared += len(here)
    return compared


def push_all(pusher: Any, rounds: int = 100) -> None:
    for _ in range(rounds):
        if pusher.push_once().behind == 0:
            return
    raise AssertionError("the journal did not empty")


def journal(db: Database) -> list[tuple[int, str, int]]:
    with db.read_engine.connect() as connection:
        return [
            tuple(r)
            for r in connection.exec_driver_sql("SELECT seq, tbl, row_id FROM lot_journal ORDER BY seq")
        ]


Wait = Callable[[], Any]


class TcpProxy:
    """A loopback TCP relay to the PostgreSQL server that can be cut (listener and every connection closed)
    and restored on the same port: the lot server "down" and "back" for the booths behind it."""

    def __init__(self, target_port: int = 5432) -> None:
        import socket

        self._target = ("127.0.0.1", target_port)
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self._listener: Any = None
        self._sockets: list[Any] = []
        self._flowing = __import__("threading").Event()
        self._flowing.set()
        self._lock = __import__("threading").Lock()
        #: black hole: every byte is read and dropped, nothing is answered (see black_hole)
        self._black = False
        self._holed: set[int] = set()  # connections that lost bytes in the hole: they never flow again

    def url(self, database_url: str) -> str:
        return (
            make_url(database_url).set(host="127.0.0.1", port=self.port).render_as_string(hide_password=False)
        )

    def start(self) -> None:
        import socket
        import threading

        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: Any) -> None:
        import socket
        import threading

        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            if self._black:  # accepted, read, never answered, nothing sent to the server
                with self._lock:
                    self._sockets.append(client)
                threading.Thread(target=self._swallow, args=(client,), daemon=True).start()
                continue
            try:
                server = socket.create_connection(self._target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, server]
            ended: list[int] = []  # this connection's directions that have ended
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b, (client, server), ended), daemon=True).start()

    def freeze(self) -> None:
        """The server goes silent: connections stay open, nothing passes either way (a LAN cut, no RST)."""
        self._flowing.clear()

    def thaw(self) -> None:
        self._flowing.set()

    def black_hole(self) -> None:
        """The case that hung the booths: connections stay open and the proxy goes on reading (so the booth's
        TCP sees every byte acknowledged: neither tcp_user_timeout nor the keepalives fire), but it drops
        everything, both ways; new connections are accepted and read the same way. Unlike ``freeze`` the
        bytes are lost: a connection that lost some never flows again, even after ``restore``."""
        self._black = True

    def restore(self) -> None:
        """The hole closes: new connections, and those that lost nothing in it, flow again."""
        self._black = False

    def _swallow(self, client: Any) -> None:
        import socket

        try:
            while client.recv(65536):
                pass
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)
            client.close()

    def _pipe(self, source: Any, sink: Any, both: tuple[Any, Any], ended: list[int]) -> None:
        import socket

        key = id(ended)  # (one list per connection, shared by its two directions)
        try:
            while data := source.recv(65536):
                self._flowing.wait()
                if self._black or key in self._holed:
                    self._holed.add(key)  # (its stream lost these bytes: it stays a hole)
                    continue
                sink.sendall(data)
        except OSError:
            pass
        finally:
            # shut down, and close only once both directions have ended: a close while the other
            # direction's thread still uses a socket neither wakes it nor sends a FIN (a dead booth's backend
            # and its locks stayed on the server), and it frees the descriptor, which a new connection may
            # take while that thread still sends on it (one connection's bytes in another's: a booth's query
            # lost, and the booth waiting for its answer forever). Found by tests/test_lot_crash.py.
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
            with self._lock:
                ended.append(1)
                last = len(ended) == 2
            if last:
                self._holed.discard(key)
                for s in both:
                    s.close()

    def cut(self) -> None:
        import socket

        if self._listener is not None:
            # (on Linux this wakes the thread blocked in accept(); a close alone would not stop it)
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for s in sockets:  # (the pipes' threads close them once both directions have ended)
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
