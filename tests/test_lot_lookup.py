"""A stay entered at another booth of the lot, found at this booth's exit (#18): the lookup on the lot server
(PostgreSQL), bounded in time, its fallback on the recent entries, the store's imported copy, and a booth
engine (a real SQLite store, the Bolink sandbox) quoting, booking and closing such a stay."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import create_engine, insert

from booth.domain.lane import LaneState
from booth.engine import Engine
from booth.lot.lookup import LotStay, LotStays, LotUnreachable, server_name
from booth.lot.pull import RecentEntries
from booth.lot.schema import MIRRORS
from booth.lot.server import init_lot
from booth.store import Database, Store
from booth.store.records import StoreError
from tests.conftest import T0, Clock, RunningEngine, engine_settings, wait_until

HOUR = timedelta(hours=1)


# --- the lot server's side -----------------------------------------------------------------------------


@pytest.fixture
def lot_url(pg_url: str) -> str:
    """The run's PostgreSQL database with the lot's tables, as ``booth lot init`` makes them."""
    init_lot(pg_url)
    return pg_url


class LotRows:
    """Rows put on the lot server as booths' pushes would leave them."""

    def __init__(self, url: str) -> None:
        self._engine = create_engine(url)
        self._ids: dict[str, int] = {}

    def stay(
        self,
        booth_id: str,
        plate: str,
        order_id: str,
        *,
        entry_at: datetime,
        entry_lane: str = "A_E1",
        state: str = "in_lot",
        colour: str = "blue",
        vehicle_class: str = "small",
        origin_booth: str | None = None,
        exit_lane: str | None = None,
    ) -> None:
        self._ids[booth_id] = row_id = self._ids.get(booth_id, 0) + 1
        closed = state != "in_lot"
        with self._engine.begin() as connection:
            connection.execute(
                insert(MIRRORS["stays"]).values(
                    booth_id=booth_id,
                    id=row_id,
                    order_id=order_id,
                    plate=plate,
                    plate_colour=colour,
                    vehicle_class=vehicle_class,
                    entry_lane=entry_lane,
                    entry_at=entry_at,
                    exit_lane=exit_lane if closed else None,
                    exit_at=entry_at + HOUR if closed else None,
                    state=state,
                    created_at=entry_at,
                    origin_booth=origin_booth,
                )
            )

    def recent(self, booth_id: str) -> RecentEntries:
        """The recent entries booth ``booth_id``'s pull keeps, refreshed from the server now."""
        recent = RecentEntries(self._engine, booth_id)
        recent.refresh()
        return recent

    def close(self) -> None:
        self._engine.dispose()


@pytest.fixture
def lot(lot_url: str) -> Iterator[LotRows]:
    rows = LotRows(lot_url)
    yield rows
    rows.close()


@pytest.fixture
def lookups() -> Iterator[Callable[..., LotStays]]:
    made: list[LotStays] = []

    def make(server: str, booth_id: str = "B", **kwargs: Any) -> LotStays:
        lookup = LotStays(server, booth_id, **kwargs)
        made.append(lookup)
        return lookup

    yield make
    for lookup in made:
        lookup.close()


def closed_port() -> int:
    """A port on 127.0.0.1 nobody listens on (bound, then let go)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SilentServer:
    """Accepts TCP connections on 127.0.0.1 and never says a word: a server that does not answer."""

    def __init__(self) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(16)
        self.port = int(self._socket.getsockname()[1])
        self._held: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._socket.accept()
            except OSError:
                return
            self._held.append(conn)

    def close(self) -> None:
        self._socket.close()
        for conn in self._held:
            conn.close()


# --- the lookup ------------------------------------------------------------------------------------------


@pytest.mark.postgresql
def test_the_newest_open_stay_at_another_booth_is_found(
    lot: LotRows, lot_url: str, lookups: Callable[..., LotStays]
) -> None:
    lot.stay("A", "苏A10001", "A1_old", entry_at=T0 - 30 * HOUR, state="exited", exit_lane="A_X1")
    lot.stay("A", "苏A10001", "A1_new", entry_at=T0 - 2 * HOUR, entry_lane="A_E2", colour="green")
    lot.stay("C", "苏A10001", "C1_older", entry_at=T0 - 5 * HOUR)
    lookup = lookups(lot_url, "B")
    found = lookup.find_open("苏A10001")
    assert found == LotStay(
        origin_booth="A",
        order_id="A1_new",
        plate="苏A10001",
        plate_colour="green",
        vehicle_class="small",
        entry_lane="A_E2",
        entry_at=T0 - 2 * HOUR,
        source="server",
    )
    assert found.entry_at.tzinfo is UTC
    assert lookup.find_open("苏A99999") is None


@pytest.mark.postgresql
def test_an_order_closed_at_any_booth_and_this_booths_own_stays_are_not_found(
    lot: LotRows, lot_url: str, lookups: Callable[..., LotStays]
) -> None:
    # entered at A, left at C (C's imported copy closed; A has not heard yet): gone
    lot.stay("A", "苏A20001", "A2_gone", entry_at=T0 - 3 * HOUR)
    lot.stay(
        "C", "苏A20001", "A2_gone", entry_at=T0 - 3 * HOUR, origin_booth="A", state="exited", exit_lane="C_X1"
    )
    # a stay of this booth (B) itself, and one entered at B that another booth imported: B's own to know
    lot.stay("B", "苏A20002", "B2_own", entry_at=T0 - HOUR)
    lot.stay("C", "苏A20003", "B2_copied", entry_at=T0 - HOUR, origin_booth="B")
    lookup = lookups(lot_url, "B")
    assert lookup.find_open("苏A20001") is None
    assert lookup.find_open("苏A20002") is None
    assert lookup.find_open("苏A20003") is None
    # another booth asking sees B's stays
    other = lookups(lot_url, "D")
    own = other.find_open("苏A20002")
    assert own is not None and (own.order_id, own.origin_booth) == ("B2_own", "B")
    copied = other.find_open("苏A20003")
    assert copied is not None and (copied.order_id, copied.origin_booth) == ("B2_copied", "B")


@pytest.mark.postgresql
def test_an_imported_copy_names_the_entry_booth_and_the_original_comes_first(
    lot: LotRows, lot_url: str, lookups: Callable[..., LotStays]
) -> None:
    entry = T0 - 4 * HOUR
    lot.stay("C", "苏A30001", "A3_both", entry_at=entry, origin_booth="A")  # C imported it, the car went back
    lookup = lookups(lot_url, "B")
    found = lookup.find_open("苏A30001")
    assert found is not None and (found.order_id, found.origin_booth) == ("A3_both", "A")
    lot.stay("A", "苏A30001", "A3_both", entry_at=entry)
    found = lookup.find_open("苏A30001")
    assert found is not None and (found.order_id, found.origin_booth) == ("A3_both", "A")


def test_a_refused_connection_is_unreachable_naming_the_server_and_why(
    lookups: Callable[..., LotStays],
) -> None:
    port = closed_port()
    lookup = lookups(f"postgresql://booth:secret@127.0.0.1:{port}/lot", "B")
    with pytest.raises(LotUnreachable) as caught:
        lookup.find_open("苏A40001")
    message = str(caught.value)
    assert f"lot server 127.0.0.1:{port}/lot" in message
    assert "refused" in message.lower()
    assert "secret" not in message and "\n" not in message
    assert server_name("postgresql+psycopg://u:pw@db.example:6543/lot") == "db.example:6543/lot"


@pytest.mark.postgresql
def test_a_server_without_the_lot_schema_is_unreachable_in_the_servers_words(
    pg_url: str, lookups: Callable[..., LotStays]
) -> None:
    lookup = lookups(pg_url, "B")
    with pytest.raises(LotUnreachable) as caught:
        lookup.find_open("苏A40003")
    assert str(caught.value) == f'lot server {server_name(pg_url)}: relation "lot_stays" does not exist'


@pytest.mark.postgresql
def test_a_server_that_does_not_answer_costs_the_exit_query_timeout_ms_then_nothing(
    lot: LotRows, lookups: Callable[..., LotStays]
) -> None:
    lot.stay("A", "苏A40002", "A4_recent", entry_at=datetime.now(UTC) - HOUR)
    recent = lot.recent("B")  # (refreshed while the server answered)
    silent = SilentServer()
    try:
        lookup = lookups(f"postgresql://booth@127.0.0.1:{silent.port}/lot", "B", query_timeout_ms=300)
        started = time.monotonic()
        with pytest.raises(LotUnreachable, match=r"did not answer within 300 ms"):
            lookup.find_open("苏A40002")
        waited = time.monotonic() - started
        assert 0.29 <= waited < 1.5  # (not libpq's 2 s connect timeout; room for a busy machine)
        # the connection attempt is still waiting (libpq's connect timeout, 2 s): the next exit does not
        started = time.monotonic()
        with pytest.raises(LotUnreachable, match="an earlier lookup is still waiting"):
            lookup.find_open("苏A40002")
        assert time.monotonic() - started < 0.25  # (at once: not the 300 ms wait)
        # with the recent entries, the exit gets their answer at once
        lookup.recent = recent
        found = lookup.find_open("苏A40002")
        assert found is not None and (found.order_id, found.source) == ("A4_recent", "recent")
        assert time.monotonic() - started < 0.25  # (at once: not the 300 ms wait)
    finally:
        silent.close()


@pytest.mark.postgresql
def test_a_query_held_up_on_the_server_is_ended_in_time_and_the_next_one_answers(
    lot: LotRows, lot_url: str, pg_database: Any, lookups: Callable[..., LotStays]
) -> None:
    lot.stay("A", "苏A50001", "A5_held", entry_at=T0 - HOUR)
    lookup = lookups(lot_url, "B", query_timeout_ms=300)
    assert lookup.find_open("苏A50001") is not None  # (connected)
    url = pg_database
    conninfo = f"host={url.host} port={url.port or 5432} user={url.username} dbname={url.database}"
    with psycopg.connect(conninfo) as locker:
        locker.execute("LOCK TABLE lot_stays IN ACCESS EXCLUSIVE MODE")  # (held until this transaction ends)
        started = time.monotonic()
        with pytest.raises(LotUnreachable):
            lookup.find_open("苏A50001")
        assert time.monotonic() - started < 1.5  # (300 ms, not the held lock; room for a busy machine)
        locker.rollback()
    # the server ended the held query itself (statement_timeout); the lookup answers again
    found = wait_until(lambda: _quietly(lookup.find_open, "苏A50001"), timeout=5, what="the lookup to answer")
    assert found.order_id == "A5_held"


@pytest.mark.postgresql
def test_a_connection_the_server_ended_meanwhile_is_made_again_and_the_lookup_answers(
    lot: LotRows, lot_url: str, pg_database: Any, lookups: Callable[..., LotStays]
) -> None:
    """The lot test (tests/test_lot_crash.py) found the first car after a pg_terminate_backend (or a server
    restart) sent to no_stay with the server up: the kept connection was dead and only the query found out."""
    lot.stay("A", "苏A60001", "A6_kept", entry_at=T0 - HOUR)
    lookup = lookups(lot_url, "B")
    assert lookup.find_open("苏A60001") is not None  # (connected)
    url = pg_database
    conninfo = f"host={url.host} port={url.port or 5432} user={url.username} dbname={url.database}"
    with psycopg.connect(conninfo, autocommit=True) as admin:
        ended = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = 'booth-lookup-B' AND datname = %s",  # (this run's database only)
            (url.database,),
        ).fetchone()
    assert ended == (1,)
    found = lookup.ask_server("苏A60001")  # (the server, not the cache: ask_server never falls back)
    assert found is not None and found.order_id == "A6_kept"


def _quietly(fn: Callable[[str], LotStay | None], plate: str) -> LotStay | None:
    try:
        return fn(plate)
    except LotUnreachable:
        return None


# --- the store's imported copy -------------------------------------------------------------------------


@pytest.fixture
def store(db: Database, clock: Clock) -> Store:
    return Store(db, clock=clock)


def test_an_imported_stay_is_kept_once_with_its_origin_and_no_outbox_row(store: Store) -> None:
    kept = store.import_stay(
        order_id="A6_in",
        plate="苏A60001",
        plate_colour="green",
        vehicle_class="small",
        entry_lane="A_E1",
        entry_at=T0 - 2 * HOUR,
        origin_booth="A",
    )
    assert (kept.order_id, kept.plate, kept.plate_colour, kept.entry_lane) == (
        "A6_in",
        "苏A60001",
        "green",
        "A_E1",
    )
    assert (kept.entry_at, kept.state, kept.origin_booth, kept.created_at) == (
        T0 - 2 * HOUR,
        "in_lot",
        "A",
        T0,
    )
    assert store.open_stay_for_plate("苏A60001") == kept
    assert [store.due_outbox(cloud, T0 + HOUR) for cloud in ("bolink", "alipay", "tmall")] == [[], [], []]
    again = store.import_stay(
        order_id="A6_in",
        plate="苏A60001",
        plate_colour="green",
        vehicle_class="small",
        entry_lane="A_E1",
        entry_at=T0 - 2 * HOUR,
        origin_booth="A",
    )
    assert again == kept
    # once it has left here, importing it again (the lot not yet told) keeps it closed
    store.close_stay(kept.id, lane_id="X1", exit_at=T0)
    closed = store.import_stay(
        order_id="A6_in",
        plate="苏A60001",
        plate_colour="green",
        vehicle_class="small",
        entry_lane="A_E1",
        entry_at=T0 - 2 * HOUR,
        origin_booth="A",
    )
    assert (closed.id, closed.state, closed.origin_booth) == (kept.id, "exited", "A")
    assert store.open_stay_for_plate("苏A60001") is None
    with pytest.raises(StoreError, match=r"already used by stay \d+ of plate '苏A60001', not '苏A60002'"):
        store.import_stay(
            order_id="A6_in",
            plate="苏A60002",
            plate_colour="blue",
            vehicle_class="small",
            entry_lane="A_E1",
            entry_at=T0,
            origin_booth="A",
        )
    local = store.create_stay(
        order_id="B6_here",
        plate="苏A60003",
        plate_colour="blue",
        vehicle_class="small",
        lane_id="E1",
        entry_at=T0,
    )
    assert local.origin_booth is None


# --- a booth's engine ---------------------------------------------------------------------------------


@pytest.fixture
def booth(tmp_path: Path) -> Iterator[Callable[..., RunningEngine]]:
    """Booth B: a real engine on its own SQLite file and Bolink sandbox, with the lookup it is given."""
    started: list[Engine] = []

    def make(lot: LotStays | None) -> RunningEngine:
        engine = Engine(engine_settings(tmp_path), tick_s=0.05, lot=lot)
        running = RunningEngine(engine, tmp_path / "booth.sqlite")
        engine.start()
        started.append(engine)
        wait_until(lambda: engine.bolink_online, what="Bolink sandbox login")
        return running

    yield make
    for engine in started:
        engine.stop()


def quoted(r: RunningEngine, lane_id: str, plate: str) -> Any:
    r.engine.vehicle_at(lane_id, plate).result(5)
    return wait_until(
        lambda: (
            (v := r.lane(lane_id)).plate == plate
            and v.state is LaneState.AWAITING_PAYMENT
            and v.code_url
            and v
        ),
        what=f"{plate} awaiting payment at {lane_id}",
    )


def no_stay(r: RunningEngine, lane_id: str, plate: str) -> Any:
    r.engine.vehicle_at(lane_id, plate).result(5)
    return wait_until(
        lambda: (v := r.lane(lane_id)).plate == plate and v.state is LaneState.NO_STAY and v,
        what=f"{plate} without a stay at {lane_id}",
    )


@pytest.mark.postgresql
def test_a_car_entered_at_booth_a_is_quoted_paid_and_let_out_at_booth_b(
    lot: LotRows, lot_url: str, booth: Callable[..., RunningEngine]
) -> None:
    r = booth(LotStays(lot_url, "B"))
    entry = r.engine.now().replace(microsecond=0) - timedelta(hours=3, minutes=10)
    lot.stay("A", "苏A70001", "A7_out", entry_at=entry, entry_lane="A_E1")
    view = quoted(r, "X1", "苏A70001")
    assert (view.order_id, view.entry_at) == ("A7_out", entry)
    # priced as a car that entered here at the same time
    r.engine.seed_stay("苏A70002", entry).result(5)
    local = quoted(r, "X2", "苏A70002")
    r.engine.cancel("X2", "张三").result(5)
    assert view.due_fen == local.due_fen and view.due_fen > 0
    assert view.duration_minutes == local.duration_minutes
    assert r.rows("SELECT order_id, entry_lane, origin_booth, state FROM stays WHERE plate = '苏A70001'") == [
        ("A7_out", "A_E1", "A", "in_lot")
    ]
    assert r.rows("SELECT count(*) FROM outbox WHERE dedupe_key = 'bolink:inpark:A7_out'") == [(0,)]
    # paid and out: closed here, its origin kept
    r.engine.call(r.engine.sandbox.driver_pays(order_id="A7_out")).result(5)
    wait_until(
        lambda: r.rows("SELECT state FROM stays WHERE order_id = 'A7_out'") == [("exited",)],
        what="the imported stay to be closed",
    )
    assert r.rows("SELECT exit_lane, origin_booth FROM stays WHERE order_id = 'A7_out'") == [("X1", "A")]
    assert r.rows(
        "SELECT p.amount_fen, e.state FROM payments p JOIN exit_orders e ON e.id = p.exit_order_id"
        " JOIN stays s ON s.id = e.stay_id WHERE s.order_id = 'A7_out'"
    ) == [(view.due_fen, "paid")]
    # the same plate again (at the other lane: this one holds off a re-read of the car that just passed), the
    # lot not told yet (A's copy still open there): the stay that left here is not opened again
    no_stay(r, "X2", "苏A70001")


@pytest.mark.postgresql
def test_a_driver_asking_the_price_in_the_lot_finds_a_stay_of_another_booth(
    lot: LotRows, lot_url: str, booth: Callable[..., RunningEngine]
) -> None:
    r = booth(LotStays(lot_url, "B"))
    entry = r.engine.now().replace(microsecond=0) - 2 * HOUR
    lot.stay("A", "苏A75001", "A75_price", entry_at=entry)
    price = r.engine.call(r.engine.sandbox.driver_asks_price(car_number="苏A75001", pay_scene=0)).result(10)
    assert (price["state"], price["order_id"], price["car_number"]) == (1, "A75_price", "苏A75001")
    assert float(price["price"]) > 0
    assert r.rows("SELECT origin_booth, state FROM stays WHERE order_id = 'A75_price'") == [("A", "in_lot")]


@pytest.mark.postgresql
def test_a_prepayment_for_a_stay_of_another_booth_is_booked_here_and_counted_at_the_exit(
    lot: LotRows, lot_url: str, booth: Callable[..., RunningEngine]
) -> None:
    r = booth(LotStays(lot_url, "B"))
    entry = r.engine.now().replace(microsecond=0) - 2 * HOUR
    lot.stay("A", "苏A76001", "A76_prepaid", entry_at=entry)
    lot.stay("A", "苏A76002", "A76_other", entry_at=entry)
    sandbox = r.engine.sandbox
    # Bolink names the order: one of another plate is not this one's
    wrong = r.engine.call(sandbox.driver_prepays(car_number="苏A76001", prepay_fen=100, order_id="A76_other"))
    assert wrong.result(10)["state"] == 0
    answer = r.engine.call(
        sandbox.driver_prepays(car_number="苏A76001", prepay_fen=100, order_id="A76_prepaid")
    )
    assert answer.result(10)["state"] == 1
    assert r.rows(
        "SELECT p.amount_fen, p.order_ref, s.origin_booth FROM payments p JOIN stays s ON s.id = p.stay_id"
    ) == [(100, "A76_prepaid", "A")]
    view = quoted(r, "X1", "苏A76001")
    r.engine.seed_stay("苏A76003", entry).result(5)
    local = quoted(r, "X2", "苏A76003")
    assert view.due_fen == local.due_fen - 100


@pytest.mark.postgresql
def test_with_the_server_down_the_recent_entries_find_the_stay(
    lot: LotRows, booth: Callable[..., RunningEngine]
) -> None:
    entry = datetime.now(UTC).replace(microsecond=0) - 2 * HOUR
    lot.stay("A", "苏A80001", "A8_recent", entry_at=entry)
    recent = lot.recent("B")  # refreshed while the server answered; now it does not
    down = f"postgresql://booth@127.0.0.1:{closed_port()}/lot"
    r = booth(LotStays(down, "B", recent=recent))
    view = quoted(r, "X1", "苏A80001")
    assert (view.order_id, view.entry_at) == ("A8_recent", entry)
    assert r.rows("SELECT origin_booth, entry_lane FROM stays WHERE order_id = 'A8_recent'") == [
        ("A", "A_E1")
    ]
    # neither the server nor the recent entries know this one: the attendant decides, as without a lot
    started = time.monotonic()
    no_stay(r, "X2", "苏A80002")
    assert time.monotonic() - started < 2


@pytest.mark.postgresql
def test_a_plate_corrected_at_the_exit_is_looked_up_at_the_lot(
    lot: LotRows, lot_url: str, booth: Callable[..., RunningEngine]
) -> None:
    r = booth(LotStays(lot_url, "B"))
    entry = r.engine.now().replace(microsecond=0) - HOUR
    lot.stay("A", "苏A90001", "A9_fixed", entry_at=entry)
    no_stay(r, "X1", "苏A90007")  # misread
    r.engine.correct_plate("X1", "苏A90001", "张三").result(5)
    view = wait_until(
        lambda: (v := r.lane("X1")).plate == "苏A90001" and v.state is LaneState.AWAITING_PAYMENT and v,
        what="the corrected plate quoted",
    )
    assert (view.order_id, view.entry_at) == ("A9_fixed", entry)


def test_without_a_lot_an_exit_is_as_before(booth: Callable[..., RunningEngine]) -> None:
    r = booth(None)
    started = time.monotonic()
    no_stay(r, "X1", "苏A00009")
    assert time.monotonic() - started < 2
    entry = r.engine.now().replace(microsecond=0) - HOUR
    r.engine.seed_stay("苏A00010", entry).result(5)
    view = quoted(r, "X2", "苏A00010")
    assert view.entry_at == entry
    assert r.rows("SELECT origin_booth FROM stays") == [(None,)]
    assert not [t for t in threading.enumerate() if t.name.startswith("booth-lot-lookup")]


@pytest.mark.postgresql
def test_two_booths_of_one_lot_a_car_in_at_a_and_out_at_b(lot_url: str, tmp_path: Path) -> None:
    """[lot] in both booths' settings (no lookup given): the journal pushed, the lookup, the pull."""
    started: list[Engine] = []

    def booth_engine(booth_id: str, lanes: list[dict[str, Any]]) -> RunningEngine:
        folder = tmp_path / booth_id
        folder.mkdir()
        lot = {"server": lot_url, "booth_id": booth_id, "heartbeat_s": 0.5}
        engine = Engine(engine_settings(folder, lanes=lanes, lot=lot), tick_s=0.05)
        running = RunningEngine(engine, folder / "booth.sqlite")
        engine.start()
        started.append(engine)
        wait_until(lambda: engine.bolink_online, what=f"booth {booth_id}'s Bolink sandbox login")
        return running

    def lane(lane_id: str, direction: str) -> dict[str, Any]:
        return {
            "id": lane_id,
            "name": lane_id,
            "direction": direction,
            "channel_id": lane_id,
            "pass_timeout_s": 1,
        }

    try:
        a = booth_engine("A", [lane("A_E1", "entry"), lane("A_X1", "exit")])
        b = booth_engine("B", [lane("B_X1", "exit"), lane("B_X2", "exit")])
        a.engine.vehicle_at("A_E1", "苏A11111").result(5)
        wait_until(lambda: a.rows("SELECT state FROM stays") == [("in_lot",)], what="the entry at A")
        [(order_id, entry_at)] = a.rows("SELECT order_id, entry_at FROM stays")
        lot_rows = create_engine(lot_url)
        try:

            def at_lot(sql: str) -> list[tuple[Any, ...]]:
                with lot_rows.connect() as connection:
                    return [tuple(row) for row in connection.exec_driver_sql(sql)]

            wait_until(
                lambda: at_lot("SELECT booth_id, order_id FROM lot_stays") == [("A", order_id)],
                what="A's journal to reach the lot",
            )
            # just in: within the free minutes, B lets it out at once (its stay known from the lot)
            b.engine.vehicle_at("B_X1", "苏A11111").result(5)
            wait_until(
                lambda: (
                    b.rows("SELECT order_id, state, exit_lane, origin_booth FROM stays")
                    == [(order_id, "exited", "B_X1", "A")]
                ),
                what="B to let the car out",
            )
            assert b.rows("SELECT reason, outcome FROM gate_events") == [("free_tariff", "opened")]
            assert b.rows("SELECT entry_at FROM stays") == [(entry_at,)]
            # B's close reaches the lot, and A closes its own copy with B's exit (the pull)
            wait_until(
                lambda: a.rows("SELECT state, exit_lane FROM stays") == [("exited", "B_X1")],
                timeout=15,
                what="A to hear the car left at B",
            )
            assert at_lot("SELECT count(*) FROM lot_conflicts") == [(0,)]
        finally:
            lot_rows.dispose()
    finally:
        for engine in started:
            engine.stop()
