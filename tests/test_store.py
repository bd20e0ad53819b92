"""The store on a real SQLite file: settings in effect, every operation, money booked exactly once,
business rows and outbox rows committed together, the outbox's order and retries, UTC timestamps."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url
from sqlalchemy.exc import StatementError

import booth.store.db
from booth.store import (
    Database,
    OutboxItem,
    PaymentOutcome,
    StayRecord,
    Store,
    StoreError,
    open_database,
)
from booth.store.db import WRITER_LOCK_KEY
from booth.store.models import Stay, UTCDateTime
from tests.conftest import T0, Clock, wait_until

CST = timezone(timedelta(hours=8))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def db(request: pytest.FixtureRequest, db_path: Path) -> Iterator[Database]:
    """Every test of the store runs on a real SQLite file and on PostgreSQL (tests/pg.py)."""
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else f"sqlite:///{db_path}"
    database = open_database(url)
    yield database
    database.close()


@pytest.fixture
def sqlite_db(db_path: Path) -> Iterator[Database]:
    """For what only SQLite has (PRAGMAs, its file lock)."""
    database = open_database(f"sqlite:///{db_path}")
    yield database
    database.close()


@pytest.fixture
def store(db: Database, clock: Clock) -> Store:
    return Store(db, clock=clock)


def url_of(db: Database) -> str:
    return db.engine.url.render_as_string(hide_password=False)


def paid_total(store: Store, stay_id: int) -> tuple[int, datetime | None]:
    """The money counted for a stay and when it was last paid, from the store's counted payments."""
    payments = store.counted_payments(stay_id)
    return sum(fen for _, fen in payments), max((at for at, _ in payments), default=None)


def new_stay(
    store: Store, order_id: str = "o_1", *, plate: str = "苏A12345", outbox: Sequence[OutboxItem] = ()
) -> StayRecord:
    return store.create_stay(
        order_id=order_id,
        plate=plate,
        plate_colour="blue",
        vehicle_class="small",
        lane_id="A1",
        entry_at=T0,
        outbox=outbox,
    )


def new_exit_order(store: Store, stay_id: int, *, due_fen: int = 500, minutes: int = 60) -> int:
    return store.open_exit_order(
        stay_id=stay_id,
        lane_id="B1",
        opened_at=T0 + timedelta(minutes=minutes),
        quote_json='{"lines": []}',
        gross_fen=due_fen,
        paid_before_fen=0,
        discount_fen=0,
        due_fen=due_fen,
    ).id


def pay(
    store: Store,
    order_ref: str,
    exit_order_id: int | None,
    trade_no: str | None,
    *,
    amount_fen: int = 500,
    channel: str = "scancode",
    outbox: Sequence[OutboxItem] = (),
    settles: bool = True,
    minutes: int = 61,
) -> PaymentOutcome:
    return store.record_payment(
        order_ref=order_ref,
        exit_order_id=exit_order_id,
        channel=channel,
        pay_channel=1,
        trade_no=trade_no,
        amount_fen=amount_fen,
        paid_at=T0 + timedelta(minutes=minutes),
        lane_id="B1",
        operator="bolink",
        payer_id="2088000000000001",
        raw={"trade_no": trade_no, "note": "支付宝"},
        outbox=outbox,
        settles=settles,
    )


def item(
    key: str, *, cloud: str = "bolink", kind: str = "inpark", payload: dict[str, Any] | None = None
) -> OutboxItem:
    return OutboxItem(cloud=cloud, kind=kind, payload=payload or {"key": key}, dedupe_key=key)


def scalar(db: Database, sql: str, **params: Any) -> Any:
    with db.read_sessionmaker.begin() as session:
        return session.execute(text(sql), params).scalar()


def outbox_keys(db: Database) -> list[str]:
    with db.read_sessionmaker.begin() as session:
        return list(session.execute(text("SELECT dedupe_key FROM outbox ORDER BY id")).scalars())


# --- set-up -----------------------------------------------------------------------------------------------


def test_sqlite_settings_are_in_effect_on_every_pooled_connection(sqlite_db: Database) -> None:
    with sqlite_db.read_engine.connect() as first, sqlite_db.read_engine.connect() as second:
        for connection in (first, second):
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000


def test_a_write_transaction_holds_the_write_lock_from_its_start(sqlite_db: Database, db_path: Path) -> None:
    db = sqlite_db
    other = sqlite3.connect(db_path, timeout=0, isolation_level=None)
    try:
        with db.sessionmaker.begin() as session:
            session.execute(select(1))  # only a read so far, yet BEGIN IMMEDIATE took the lock
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        with db.read_sessionmaker.begin() as session:
            session.execute(select(1))  # a read transaction leaves writers alone
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
    finally:
        other.close()


@pytest.mark.postgresql
def test_a_write_transaction_on_postgresql_holds_the_writers_lock_from_its_start(pg_url: str) -> None:
    """As BEGIN IMMEDIATE on SQLite: writers queue one after the other; readers neither take nor wait."""
    with open_database(pg_url) as db, open_database(pg_url) as other:
        probe = text("SELECT pg_try_advisory_xact_lock(:key)")
        with db.sessionmaker.begin() as session:
            session.execute(select(1))  # only a read so far, yet the transaction holds the writers' lock
            with other.read_engine.connect() as connection:  # another booth's would-be writer
                assert connection.execute(probe, {"key": WRITER_LOCK_KEY}).scalar() is False
            with other.read_sessionmaker.begin() as reader:  # a reader is not held up
                assert reader.execute(text("SELECT count(*) FROM stays")).scalar() == 0
        with db.read_sessionmaker.begin() as session:
            session.execute(select(1))  # a read transaction leaves writers alone
            with other.read_engine.connect() as connection:
                assert connection.execute(probe, {"key": WRITER_LOCK_KEY}).scalar() is True


@pytest.mark.postgresql
def test_postgresql_settings_are_in_effect_on_every_pooled_connection(pg_url: str) -> None:
    with open_database(pg_url) as db, db.read_engine.connect() as first, db.engine.connect() as second:
        for connection in (first, second):
            shown = {
                name: connection.exec_driver_sql(f"SHOW {name}").scalar()
                for name in ("lock_timeout", "idle_in_transaction_session_timeout", "tcp_keepalives_idle")
            }
            assert shown == {
                "lock_timeout": "5s",
                "idle_in_transaction_session_timeout": "30s",
                "tcp_keepalives_idle": "10",
            }
        assert first.execute(text("SHOW transaction_isolation")).scalar() == "repeatable read"
        assert first.execute(text("SHOW transaction_read_only")).scalar() == "on"
        assert second.execute(text("SHOW transaction_isolation")).scalar() == "read committed"


@pytest.mark.postgresql
def test_a_writer_that_waits_too_long_for_the_writers_lock_is_refused_by_name(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As SQLite's busy timeout (5 s; 0.1 s here): a writer that cannot get the lock fails, writes nothing."""
    with open_database(pg_url) as db:
        monkeypatch.setattr(booth.store.db, "_POSTGRESQL_SETTINGS", (("lock_timeout", "100ms"),))
        with open_database(pg_url) as other:
            with db.sessionmaker.begin() as holder:
                holder.execute(select(1))
                with pytest.raises(StoreError, match=r"create_stay: database error: .*lock timeout"):
                    new_stay(Store(other))
            assert Store(other).stay_by_order_id("o_1") is None
            assert new_stay(Store(other)).order_id == "o_1"  # the lock free again: the writer goes through


@pytest.mark.postgresql
def test_a_plain_postgresql_url_uses_psycopg_and_reads_are_read_only(pg_url: str) -> None:
    plain = pg_url.replace("postgresql+psycopg://", "postgresql://", 1)
    assert plain.startswith("postgresql://")
    with open_database(plain) as db:
        assert db.engine.dialect.driver == "psycopg"
        Store(db).count_in_lot()
        with pytest.raises(StatementError, match="read-only transaction"), db.read_engine.begin() as conn:
            conn.execute(text("DELETE FROM stays"))


def test_foreign_keys_are_enforced(db: Database) -> None:
    with pytest.raises(StatementError, match=r"(?i)FOREIGN KEY"), db.engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO gate_events (lane_id, stay_id, reason, operator, note, outcome, attempt, detail,"
                " at) VALUES ('B1', 999, 'paid', 'x', '', 'opened', 1, '', '2026-01-01 00:00:00.000000')"
            )
        )


def test_the_parent_directory_of_the_file_is_created(tmp_path: Path) -> None:
    path = tmp_path / "not" / "yet" / "there" / "booth.sqlite"
    with open_database(f"sqlite:///{path}") as database:
        assert Store(database).count_in_lot() == 0
    assert path.is_file()


def test_a_bad_url_is_refused_by_name() -> None:
    with pytest.raises(StoreError, match="not a database URL"):
        open_database("no such url")


def test_a_second_process_sees_committed_data_and_the_first_sees_its_writes(
    store: Store, db: Database
) -> None:
    new_stay(store, "parent_1", plate="苏A11111")
    child = (
        "import sys\n"
        "from datetime import UTC, datetime\n"
        "from booth.store import Store, open_database\n"
        "with open_database(sys.argv[1]) as db:\n"
        "    store = Store(db)\n"
        "    stay = store.stay_by_order_id('parent_1')\n"
        "    print(stay.plate if stay else 'missing', store.count_in_lot())\n"
        "    store.create_stay(order_id='child_1', plate='沪B22222', plate_colour='green',\n"
        "        vehicle_class='small', lane_id='A2', entry_at=datetime(2026, 3, 1, tzinfo=UTC))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", child, url_of(db)],
        capture_output=True,
        encoding="utf-8",
        env={**os.environ, "PYTHONUTF8": "1"},
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["苏A11111", "1"]
    child_stay = store.stay_by_order_id("child_1")
    assert child_stay is not None and child_stay.plate == "沪B22222"
    assert store.count_in_lot() == 2


# --- timestamps ---------------------------------------------------------------------------------------------


def test_timestamps_come_back_as_aware_utc_and_are_stored_as_utc(store: Store, db: Database) -> None:
    entry_beijing = datetime(2026, 3, 1, 16, 30, 15, 123456, tzinfo=CST)
    stay = store.create_stay(
        order_id="tz_1",
        plate="苏A12345",
        plate_colour="blue",
        vehicle_class="small",
        lane_id="A1",
        entry_at=entry_beijing,
    )
    assert stay.entry_at == entry_beijing
    assert stay.entry_at.tzinfo is UTC
    assert stay.entry_at.hour == 8
    again = store.stay_by_order_id("tz_1")
    assert again is not None
    assert again.entry_at.tzinfo is UTC and again.entry_at == entry_beijing
    assert again.created_at.tzinfo is UTC
    if db.engine.dialect.name == "sqlite":
        stored = scalar(db, "SELECT entry_at FROM stays WHERE order_id = 'tz_1'")
        assert stored == "2026-03-01 08:30:15.123456"
    else:  # a timestamptz: the instant itself, shown here in UTC
        stored = scalar(db, "SELECT entry_at AT TIME ZONE 'UTC' FROM stays WHERE order_id = 'tz_1'")
        assert stored == datetime(2026, 3, 1, 8, 30, 15, 123456)


@pytest.mark.postgresql
def test_timestamps_are_utc_whatever_the_postgresql_sessions_time_zone(pg_url: str) -> None:
    """The lot's server may run in Asia/Shanghai: what the store reads and writes stays aware UTC."""
    entry = datetime(2026, 3, 1, 23, 30, tzinfo=UTC)  # already 3 March in Beijing
    with open_database(f"{pg_url}?options=-c%20timezone%3DAsia/Shanghai") as db:
        assert scalar(db, "SHOW timezone") == "Asia/Shanghai"
        store = Store(db, clock=lambda: T0)
        store.create_stay(
            order_id="tz_sh",
            plate="苏A12345",
            plate_colour="blue",
            vehicle_class="small",
            lane_id="A1",
            entry_at=entry,
        )
        stay = store.stay_by_order_id("tz_sh")
        assert stay is not None and stay.entry_at == entry and stay.entry_at.tzinfo is UTC
        assert scalar(db, "SELECT to_char(entry_at, 'YYYY-MM-DD HH24:MI') FROM stays") == "2026-03-02 07:30"


def test_naive_datetimes_are_refused_at_the_boundary_and_by_the_column_type(
    store: Store, db: Database
) -> None:
    with pytest.raises(StoreError, match="entry_at must be timezone-aware"):
        store.create_stay(
            order_id="naive",
            plate="苏A12345",
            plate_colour="blue",
            vehicle_class="small",
            lane_id="A1",
            entry_at=datetime(2026, 3, 1, 8, 0),
        )
    with pytest.raises(StatementError, match="naive datetime refused"), db.sessionmaker.begin() as session:
        session.add(
            Stay(
                order_id="naive",
                plate="x",
                plate_colour="blue",
                vehicle_class="small",
                entry_lane="A1",
                entry_at=datetime(2026, 3, 1, 8, 0),
                state="in_lot",
                created_at=T0,
            )
        )
    assert store.stay_by_order_id("naive") is None


def test_the_timestamp_type_keeps_aware_utc_on_postgresql() -> None:
    column_type, dialect = UTCDateTime(), postgresql.dialect()
    bound = column_type.process_bind_param(datetime(2026, 3, 1, 16, 0, tzinfo=CST), dialect)
    assert bound == datetime(2026, 3, 1, 8, 0, tzinfo=UTC) and bound is not None and bound.tzinfo is UTC
    read = column_type.process_result_value(datetime(2026, 3, 1, 16, 0, tzinfo=CST), dialect)
    assert read is not None and read.tzinfo is UTC and read.hour == 8


# --- stays --------------------------------------------------------------------------------------------------


def test_create_and_find_stays(store: Store) -> None:
    first = new_stay(store, "o_1", plate="苏A12345")
    assert first.state == "in_lot" and first.entry_lane == "A1" and first.exit_at is None
    later = store.create_stay(
        order_id="o_2",
        plate="苏A12345",
        plate_colour="blue",
        vehicle_class="small",
        lane_id="A2",
        entry_at=T0 + timedelta(hours=1),
    )
    new_stay(store, "o_3", plate="京N8P8F8")
    assert store.stay_by_order_id("o_1") == first
    assert store.stay_by_id(first.id) == first
    assert store.stay_by_order_id("nope") is None
    found = store.open_stay_for_plate("苏A12345")
    assert found is not None and found.id == later.id  # the latest one in the lot
    assert store.open_stay_for_plate("沪C00000") is None
    assert store.count_in_lot() == 3
    assert store.plates_in_lot() == sorted({"苏A12345", "京N8P8F8"})


@pytest.mark.parametrize(
    ("order_id", "problem"),
    [("has-dash", "order_id must be"), ("x" * 49, "order_id must be"), ("", "order_id must be")],
)
def test_bad_order_ids_are_refused(store: Store, order_id: str, problem: str) -> None:
    with pytest.raises(StoreError, match=problem):
        new_stay(store, order_id)


def test_an_order_id_is_used_once(store: Store) -> None:
    first = new_stay(store, "x" * 48)
    with pytest.raises(StoreError, match=f"already used by stay {first.id}"):
        new_stay(store, "x" * 48, plate="京N8P8F8")


def test_empty_plate_is_refused(store: Store) -> None:
    with pytest.raises(StoreError, match="plate must not be empty"):
        new_stay(store, plate=" ")


def test_close_stay_is_idempotent_and_cancels_an_awaiting_order(store: Store) -> None:
    stay = new_stay(store, outbox=[item("bolink:inpark:o_1")])
    order_id = new_exit_order(store, stay.id)
    exit_at = T0 + timedelta(hours=2)
    store.close_stay(stay.id, lane_id="B1", exit_at=exit_at, outbox=[item("tmall:leave:o_1", cloud="tmall")])
    store.close_stay(stay.id, lane_id="B2", exit_at=exit_at + timedelta(minutes=5), outbox=[item("again")])
    closed = store.stay_by_id(stay.id)
    assert closed is not None
    assert (closed.state, closed.exit_lane, closed.exit_at) == ("exited", "B1", exit_at)
    order = store.exit_order_by_id(order_id)
    assert order is not None and order.state == "cancelled" and order.settled_at == exit_at
    assert store.count_in_lot() == 0
    assert store.open_stay_for_plate(stay.plate) is None
    with pytest.raises(StoreError, match="exited: no exit order"):
        new_exit_order(store, stay.id)


def test_a_missed_stay_is_closed_once_and_keeps_what_it_owed(store: Store) -> None:
    stay = new_stay(store)
    owing = store.close_missed_stay(stay.id, at=T0 + timedelta(minutes=90), lane_id="E1", owed_fen=700)
    assert owing is not None and (owing.amount_fen, owing.state, owing.noticed_lane) == (700, "open", "E1")
    # a repeat changes nothing and keeps no second debt
    assert store.close_missed_stay(stay.id, at=T0 + timedelta(minutes=95), lane_id="E1", owed_fen=900) is None
    closed = store.stay_by_id(stay.id)
    assert closed is not None and closed.state == "cancelled"
    assert closed.exit_at == T0 + timedelta(minutes=90)
    assert [a.amount_fen for a in store.open_arrears(closed.plate)] == [700]
    with pytest.raises(StoreError, match="is cancelled, it cannot exit"):
        store.close_stay(stay.id, lane_id="B1", exit_at=T0)
    with pytest.raises(StoreError, match="owed_fen"):
        store.close_missed_stay(new_stay(store, "o_2").id, at=T0, lane_id="E1", owed_fen=-1)


def test_unknown_rows_are_named(store: Store) -> None:
    with pytest.raises(StoreError, match="no stay with id 42"):
        store.close_stay(42, lane_id="B1", exit_at=T0)
    with pytest.raises(StoreError, match="no exit order with id 7"):
        store.release_exit_order(7, at=T0, reason="x")
    with pytest.raises(StoreError, match="no outbox row with id 3"):
        store.mark_outbox_sent(3, at=T0)
    with pytest.raises(StoreError, match="stay_id must be a positive integer id"):
        store.counted_payments(0)


# --- exit orders ------------------------------------------------------------------------------------------


def test_opening_an_exit_order_cancels_the_awaiting_one(store: Store) -> None:
    stay = new_stay(store)
    first = new_exit_order(store, stay.id, due_fen=500, minutes=60)
    second = new_exit_order(store, stay.id, due_fen=700, minutes=70)
    old, new = store.exit_order_by_id(first), store.exit_order_by_id(second)
    assert old is not None and new is not None
    assert old.state == "cancelled" and old.settled_at == T0 + timedelta(minutes=70)
    assert (new.state, new.due_fen, new.lane_id, new.quote_json) == ("awaiting", 700, "B1", '{"lines": []}')


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"due_fen": -1}, "due_fen must not be negative"),
        ({"gross_fen": 1.5}, "gross_fen must be an integer amount in fen"),
        ({"discount_fen": True}, "discount_fen must be an integer"),
        ({"quote_json": "{not json"}, "quote_json is not valid JSON"),
        ({"opened_at": datetime(2026, 3, 1)}, "opened_at must be timezone-aware"),
        ({"stay_id": 999}, "no stay with id 999"),
    ],
)
def test_bad_exit_orders_are_refused(store: Store, changes: dict[str, Any], problem: str) -> None:
    stay = new_stay(store)
    arguments: dict[str, Any] = {
        "stay_id": stay.id,
        "lane_id": "B1",
        "opened_at": T0,
        "quote_json": "{}",
        "gross_fen": 500,
        "paid_before_fen": 0,
        "discount_fen": 0,
        "due_fen": 500,
    }
    with pytest.raises(StoreError, match=problem):
        store.open_exit_order(**{**arguments, **changes})


def test_release_and_cancel(store: Store, db: Database) -> None:
    stay = new_stay(store)
    order_id = new_exit_order(store, stay.id)
    released_at = T0 + timedelta(minutes=65)
    outpark = item("bolink:outpark:o_1:free", kind="outpark")
    store.release_exit_order(order_id, at=released_at, reason="救护车", operator="张三", outbox=[outpark])
    store.release_exit_order(
        order_id, at=released_at, reason="again", operator="李四", outbox=[item("again")]
    )
    order = store.exit_order_by_id(order_id)
    assert order is not None
    assert (order.state, order.settled_at, order.release_reason, order.released_by) == (
        "released",
        released_at,
        "救护车",
        "张三",
    )
    assert outbox_keys(db) == ["bolink:outpark:o_1:free"]
    with pytest.raises(StoreError, match="is released, it cannot be cancelled"):
        store.cancel_exit_order(order_id, at=released_at)

    other = new_exit_order(store, stay.id)
    store.cancel_exit_order(other, at=released_at)
    store.cancel_exit_order(other, at=released_at)
    with pytest.raises(StoreError, match="is cancelled, it cannot be released"):
        store.release_exit_order(other, at=released_at, reason="x")
    with pytest.raises(StoreError, match="reason must not be empty"):
        store.release_exit_order(new_exit_order(store, stay.id), at=released_at, reason="")


# --- payments -----------------------------------------------------------------------------------------------


def test_a_payment_settles_the_awaiting_order_with_its_outbox_rows(store: Store, db: Database) -> None:
    stay = new_stay(store)
    order_id = new_exit_order(store, stay.id, due_fen=500)
    sync = item("alipay:order_sync:T1", cloud="alipay", kind="order_sync")
    outcome = pay(store, "o_1", order_id, "T1", amount_fen=500, outbox=[sync])
    assert outcome.status == "settled" and outcome.flag is None
    order = store.exit_order_by_id(order_id)
    assert order is not None
    assert (order.state, order.settled_by, order.settled_at) == (
        "paid",
        outcome.payment_id,
        T0 + timedelta(minutes=61),
    )
    assert paid_total(store, stay.id) == (500, T0 + timedelta(minutes=61))
    (payment,) = store.payments_for_stay(stay.id)
    assert (payment.trade_no, payment.channel, payment.pay_channel, payment.exit_order_id) == (
        "T1",
        "scancode",
        1,
        order_id,
    )
    assert payment.payer_id == "2088000000000001" and '"支付宝"' in payment.raw_json
    assert outbox_keys(db) == ["alipay:order_sync:T1"]
    (row,) = store.due_outbox("alipay", T0)
    assert row.stay_id == stay.id and row.payload == {"key": "alipay:order_sync:T1"}


def test_the_same_trade_no_is_a_duplicate_whatever_the_channel_says(store: Store, db: Database) -> None:
    stay = new_stay(store)
    order_id = new_exit_order(store, stay.id)
    first = pay(store, "o_1", order_id, "T1")
    again = pay(store, "o_1", order_id, " T1 ", channel="wallet", outbox=[item("k")])
    other_order = pay(store, "unknown", None, "T1", amount_fen=9)
    assert first.status == "settled"
    assert again == PaymentOutcome(status="duplicate", payment_id=first.payment_id, flag=None)
    assert other_order == again
    assert scalar(db, "SELECT count(*) FROM payments") == 1
    assert outbox_keys(db) == []
    assert paid_total(store, stay.id) == (500, T0 + timedelta(minutes=61))


def test_no_trade_number_is_never_a_duplicate(store: Store, db: Database) -> None:
    stay = new_stay(store)
    store.record_payment(
        order_ref="o_1",
        exit_order_id=None,
        channel="prepay",
        pay_channel=None,
        trade_no="",
        amount_fen=100,
        paid_at=T0,
        lane_id=None,
        operator="bolink",
        payer_id=None,
        raw=None,
    )
    store.record_payment(
        order_ref="o_1",
        exit_order_id=None,
        channel="prepay",
        pay_channel=None,
        trade_no=None,
        amount_fen=200,
        paid_at=T0,
        lane_id=None,
        operator="bolink",
        payer_id=None,
        raw=None,
    )
    assert scalar(db, "SELECT count(*) FROM payments WHERE trade_no IS NULL") == 2
    assert paid_total(store, stay.id) == (300, T0)


def test_a_payment_after_settlement_is_flagged_for_refund(store: Store, db: Database) -> None:
    stay = new_stay(store)
    order_id = new_exit_order(store, stay.id)
    pay(store, "o_1", order_id, "T1")
    late = pay(store, "o_1", order_id, "T2", outbox=[item("should-not-queue")])
    assert (late.status, late.flag) == ("flagged", "late_after_settlement")
    store.close_stay(stay.id, lane_id="B1", exit_at=T0 + timedelta(minutes=62))
    after_exit = pay(store, "o_1", None, "T3", minutes=90)
    assert (after_exit.status, after_exit.flag) == ("flagged", "late_after_settlement")
    assert paid_total(store, stay.id) == (500, T0 + timedelta(minutes=61))  # flagged money is not counted
    assert [p.flag for p in store.payments_for_stay(stay.id)] == [
        None,
        "late_after_settlement",
        "late_after_settlement",
    ]
    assert [p.trade_no for p in store.flagged_payments()] == ["T2", "T3"]
    assert outbox_keys(db) == []


def test_a_payment_for_a_released_order_is_flagged(store: Store) -> None:
    stay = new_stay(store)
    released = new_exit_order(store, stay.id)
    store.release_exit_order(released, at=T0, reason="free")
    outcome = pay(store, "o_1", released, "T1")
    assert (outcome.status, outcome.flag) == ("flagged", "late_after_settlement")
    assert paid_total(store, stay.id) == (0, None)


def test_a_payment_for_a_cancelled_order_counts_while_the_car_is_in_the_lot(store: Store) -> None:
    """The driver paid as the car backed away: the money counts towards the stay (no second charge)."""
    stay = new_stay(store)
    cancelled = new_exit_order(store, stay.id)
    store.cancel_exit_order(cancelled, at=T0)
    outcome = pay(store, "o_1", cancelled, "T2", amount_fen=300)
    assert (outcome.status, outcome.flag) == ("partial", None)
    assert paid_total(store, stay.id)[0] == 300
    store.close_stay(stay.id, lane_id="X1", exit_at=T0)
    assert pay(store, "o_1", cancelled, "T3").flag == "late_after_settlement"  # after it left: refund


def test_a_payment_for_an_unknown_order_is_kept_without_a_stay(store: Store, db: Database) -> None:
    outcome = pay(store, "never_seen", None, "T1", outbox=[item("k")])
    assert (outcome.status, outcome.flag) == ("flagged", "unknown_order")
    assert scalar(db, "SELECT stay_id IS NULL AND order_ref = 'never_seen' FROM payments") == 1
    assert outbox_keys(db) == []


def test_a_payment_naming_another_stays_order_settles_nothing(store: Store) -> None:
    first, second = new_stay(store, "o_1"), new_stay(store, "o_2", plate="京N8P8F8")
    order_of_second = new_exit_order(store, second.id)
    outcome = pay(store, "o_1", order_of_second, "T1")
    assert (outcome.status, outcome.flag) == ("flagged", "not_at_this_lane")
    order = store.exit_order_by_id(order_of_second)
    assert order is not None and order.state == "awaiting"
    assert store.payments_for_stay(first.id)[0].exit_order_id is None


def test_less_than_due_is_counted_but_settles_nothing(store: Store, db: Database) -> None:
    stay = new_stay(store)
    order_id = new_exit_order(store, stay.id, due_fen=500)
    outcome = pay(
        store, "o_1", order_id, "T1", amount_fen=300, outbox=[item("alipay:sync:T1", cloud="alipay")]
    )
    assert (outcome.status, outcome.flag) == ("partial", None)
    order = store.exit_order_by_id(order_id)
    assert order is not None and order.state == "awaiting" and order.settled_by is None
    assert paid_total(store, stay.id) == (300, T0 + timedelta(minutes=61))
    assert outbox_keys(db) == ["alipay:sync:T1"]


def test_a_payment_the_lane_says_must_not_settle_is_only_counted(store: Store) -> None:
    stay = new_stay(store)
    order_id = new_exit_order(store, stay.id, due_fen=500)
    outcome = pay(store, "o_1", order_id, "T1", amount_fen=500, settles=False)
    assert outcome.status == "partial"
    order = store.exit_order_by_id(order_id)
    assert order is not None and order.state == "awaiting"


def test_a_prepayment_in_the_lot_is_counted_but_not_while_an_exit_is_being_settled(store: Store) -> None:
    stay = new_stay(store)
    prepaid = pay(store, "o_1", None, "P1", channel="prepay", amount_fen=200, minutes=30)
    assert (prepaid.status, prepaid.flag) == ("partial", None)
    assert paid_total(store, stay.id) == (200, T0 + timedelta(minutes=30))
    new_exit_order(store, stay.id, due_fen=300)
    during_exit = pay(store, "o_1", None, "P2", channel="prepay", amount_fen=300)
    assert (during_exit.status, during_exit.flag) == ("flagged", "exit_in_progress")
    not_prepay = pay(store, "o_1", None, "P3", channel="scancode")
    assert not_prepay.flag == "exit_in_progress"  # whatever the channel: the awaiting due is stale
    assert paid_total(store, stay.id) == (200, T0 + timedelta(minutes=30))
    # money the payer can still be refused (a prepayment Bolink settles only on our "yes") is refused
    refused = store.record_payment(
        order_ref="o_1", exit_order_id=None, channel="prepay", pay_channel=None, trade_no="P4",
        amount_fen=300,
        paid_at=T0 + timedelta(minutes=40), lane_id=None, operator="bolink", payer_id=None, raw=None,
        settles=False, refusable=True,
    )  # fmt: skip
    assert (refused.status, refused.flag) == ("refused", "exit_in_progress")
    assert store.payment_by_trade_no("P4") is None and store.prepayment_refusal("P4") == "exit_in_progress"
    assert store.prepayment_refusal("P3") is None and store.prepayment_refusal("P") is None
    assert [a.detail["trade_no"] for a in store.audit_entries("prepay_refused")] == ["P4"]


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"amount_fen": -1}, "amount_fen must not be negative"),
        ({"amount_fen": 5.0}, "amount_fen must be an integer amount in fen"),
        ({"paid_at": datetime(2026, 3, 1)}, "paid_at must be timezone-aware"),
        ({"pay_channel": -1}, "pay_channel must be a non-negative integer"),
        ({"channel": ""}, "channel must not be empty"),
        ({"trade_no": "T" * 65}, "trade_no is longer than 64"),
        ({"raw": {"x": object()}}, "raw cannot be stored as JSON"),
        ({"outbox": [OutboxItem("wechat", "k", {}, "key")]}, "cloud must be one of"),
        (
            {"outbox": [OutboxItem("bolink", "k", {"x": {1, 2}}, "key")]},
            r"outbox\[0\].payload cannot be stored",
        ),
    ],
)
def test_bad_payments_are_refused_and_nothing_is_written(
    store: Store, db: Database, changes: dict[str, Any], problem: str
) -> None:
    stay = new_stay(store)
    order_id = new_exit_order(store, stay.id)
    arguments: dict[str, Any] = {
        "order_ref": "o_1",
        "exit_order_id": order_id,
        "channel": "scancode",
        "pay_channel": 1,
        "trade_no": "T1",
        "amount_fen": 500,
        "paid_at": T0,
        "lane_id": "B1",
        "operator": "bolink",
        "payer_id": None,
        "raw": None,
    }
    with pytest.raises(StoreError, match=problem):
        store.record_payment(**{**arguments, **changes})
    assert scalar(db, "SELECT count(*) FROM payments") == 0


def test_the_same_trade_no_from_two_threads_at_once_is_stored_once(store: Store, db: Database) -> None:
    rounds = 6
    with ThreadPoolExecutor(max_workers=2) as pool:
        for n in range(rounds):
            stay = new_stay(store, f"race_{n}", plate=f"苏A1000{n}")
            order_id = new_exit_order(store, stay.id)
            start = threading.Barrier(2)

            def book(
                order_ref: str = stay.order_id,
                exit_order_id: int = order_id,
                trade: str = f"RACE{n}",
                start: threading.Barrier = start,
            ) -> PaymentOutcome:
                start.wait(timeout=10)
                return pay(store, order_ref, exit_order_id, trade)

            outcomes = [f.result(timeout=30) for f in [pool.submit(book), pool.submit(book)]]
            assert sorted(o.status for o in outcomes) == ["duplicate", "settled"]
            assert outcomes[0].payment_id == outcomes[1].payment_id
    assert scalar(db, "SELECT count(*) FROM payments") == rounds
    assert scalar(db, "SELECT count(DISTINCT trade_no) FROM payments") == rounds


@pytest.mark.postgresql
def test_a_trade_no_committed_by_another_writer_during_a_booking_is_a_duplicate_on_postgresql(
    pg_url: str, clock: Clock
) -> None:
    """record_payment's IntegrityError path: a writer that does not queue on Booth's writers' lock (another
    program, a hand-made fix) inserts the same trade_no while a booking runs. The booking's insert waits on
    the unique index, fails when the other commits, and the booking answers duplicate: booked once."""
    import psycopg

    with open_database(pg_url) as db:
        store = Store(db, clock=clock)
        stay = new_stay(store)
        order_id = new_exit_order(store, stay.id)
        conninfo = make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(conninfo) as other, psycopg.connect(conninfo, autocommit=True) as watcher:
            cursor = other.execute(
                "INSERT INTO payments (order_ref, channel, trade_no, amount_fen, paid_at, operator, raw_json,"
                " created_at) VALUES ('o_1', 'scancode', 'T_RACE', 500, now(), 'other', '{}', now())"
                " RETURNING id"
            )
            (other_id,) = cursor.fetchone() or (None,)
            with ThreadPoolExecutor(max_workers=1) as pool:
                booking = pool.submit(pay, store, "o_1", order_id, "T_RACE")
                wait_until(
                    lambda: (
                        watcher.execute(
                            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                            " AND query LIKE 'INSERT INTO payments%'"
                        ).fetchone()
                        == (1,)
                    ),
                    what="the booking's insert to wait on the other writer's row",
                )
                assert not booking.done()
                other.commit()
                outcome = booking.result(timeout=30)
        assert outcome == PaymentOutcome(status="duplicate", payment_id=other_id, flag=None)
        assert scalar(db, "SELECT count(*) FROM payments") == 1
        order = store.exit_order_by_id(order_id)
        assert order is not None and order.state == "awaiting"  # the duplicate settled nothing


# --- one transaction ----------------------------------------------------------------------------------------


@pytest.fixture
def outbox_refuses_boom(db: Database) -> None:
    """A real database-level failure on the outbox insert, after the business row was written."""
    with db.engine.begin() as connection:
        if db.engine.dialect.name == "sqlite":
            connection.exec_driver_sql(
                "CREATE TRIGGER outbox_refuses_boom BEFORE INSERT ON outbox WHEN NEW.kind = 'boom'"
                " BEGIN SELECT RAISE(ABORT, 'outbox refuses boom'); END"
            )
            return
        connection.exec_driver_sql(
            "CREATE FUNCTION outbox_refuses_boom() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'outbox refuses boom'; END $$"
        )
        connection.exec_driver_sql(
            "CREATE TRIGGER outbox_refuses_boom BEFORE INSERT ON outbox FOR EACH ROW"
            " WHEN (NEW.kind = 'boom') EXECUTE FUNCTION outbox_refuses_boom()"
        )


@pytest.mark.usefixtures("outbox_refuses_boom")
def test_a_failing_outbox_insert_rolls_back_the_business_rows(store: Store, db: Database) -> None:
    boom = item("boom", kind="boom")
    with pytest.raises(StoreError, match="outbox refuses boom"):
        new_stay(store, "o_boom", outbox=[item("fine"), boom])
    assert store.stay_by_order_id("o_boom") is None
    assert outbox_keys(db) == []

    stay = new_stay(store, "o_1")
    order_id = new_exit_order(store, stay.id)
    with pytest.raises(StoreError, match="outbox refuses boom"):
        pay(store, "o_1", order_id, "T1", outbox=[boom])
    assert scalar(db, "SELECT count(*) FROM payments") == 0
    order = store.exit_order_by_id(order_id)
    assert order is not None and order.state == "awaiting"

    with pytest.raises(StoreError, match="outbox refuses boom"):
        store.close_stay(stay.id, lane_id="B1", exit_at=T0, outbox=[boom])
    still = store.stay_by_id(stay.id)
    assert still is not None and still.state == "in_lot"
    order = store.exit_order_by_id(order_id)
    assert order is not None and order.state == "awaiting"

    with pytest.raises(StoreError, match="outbox refuses boom"):
        store.release_exit_order(order_id, at=T0, reason="free", outbox=[boom])
    order = store.exit_order_by_id(order_id)
    assert order is not None and order.state == "awaiting"
    assert pay(store, "o_1", order_id, "T1").status == "settled"  # nothing of the failed attempts remained


def test_an_outbox_item_already_queued_is_skipped_silently(store: Store, db: Database) -> None:
    new_stay(store, "o_1", outbox=[item("bolink:inpark:o_1"), item("bolink:inpark:o_1")])
    second = new_stay(
        store, "o_2", plate="京N8P8F8", outbox=[item("bolink:inpark:o_1"), item("bolink:inpark:o_2")]
    )
    assert second.order_id == "o_2"
    assert outbox_keys(db) == ["bolink:inpark:o_1", "bolink:inpark:o_2"]
    store.enqueue([item("alipay:lot", cloud="alipay"), item("alipay:lot", cloud="alipay")])
    assert outbox_keys(db)[-1] == "alipay:lot"
    assert len(outbox_keys(db)) == 3


# --- gate events and audit ----------------------------------------------------------------------------------


def test_gate_events_and_audit_entries_are_kept(store: Store, db: Database) -> None:
    stay = new_stay(store)
    store.record_gate_event(
        lane_id="B1",
        stay_id=stay.id,
        reason="manual_lift",
        operator="张三",
        note="道闸故障",
        outcome="failed",
        attempt=1,
        detail="timeout after 2 s",
        at=T0,
    )
    store.record_gate_event(
        lane_id="B1",
        stay_id=None,
        reason="manual_lift",
        operator="张三",
        note="",
        outcome="opened",
        attempt=2,
        detail="",
        at=T0 + timedelta(seconds=3),
    )
    store.audit(actor="张三", action="manual_lift", detail={"lane": "B1", "reason": "道闸故障"}, at=T0)
    with db.read_sessionmaker.begin() as session:
        events = session.execute(
            text("SELECT stay_id, outcome, attempt, note FROM gate_events ORDER BY id")
        ).all()
        audit = session.execute(text("SELECT actor, action, detail_json FROM audit_log")).one()
    assert [tuple(e) for e in events] == [(stay.id, "failed", 1, "道闸故障"), (None, "opened", 2, "")]
    assert tuple(audit) == ("张三", "manual_lift", '{"lane": "B1", "reason": "道闸故障"}')


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"outcome": "maybe"}, "outcome must be one of"),
        ({"attempt": 0}, "attempt must be an integer >= 1"),
        ({"stay_id": 999}, "no stay with id 999"),
        ({"operator": ""}, "operator must not be empty"),
    ],
)
def test_bad_gate_events_are_refused(store: Store, changes: dict[str, Any], problem: str) -> None:
    arguments: dict[str, Any] = {
        "lane_id": "B1",
        "stay_id": None,
        "reason": "paid",
        "operator": "system",
        "note": "",
        "outcome": "opened",
        "attempt": 1,
        "detail": "",
        "at": T0,
    }
    with pytest.raises(StoreError, match=problem):
        store.record_gate_event(**{**arguments, **changes})


# --- outbox -------------------------------------------------------------------------------------------------


def test_a_stays_rows_go_out_in_order_one_at_a_time(store: Store) -> None:
    a = new_stay(store, "o_a", outbox=[item("a1"), item("a-tmall", cloud="tmall")])
    store.close_stay(a.id, lane_id="B1", exit_at=T0, outbox=[item("a2", kind="outpark")])
    new_stay(store, "o_b", plate="京N8P8F8", outbox=[item("b1")])
    store.enqueue([item("lot1"), item("lot2")])  # no stay: no order among themselves

    assert [r.dedupe_key for r in store.due_outbox("bolink", T0)] == ["a1", "b1", "lot1", "lot2"]
    assert [r.dedupe_key for r in store.due_outbox("bolink", T0, limit=2)] == ["a1", "b1"]
    assert [r.dedupe_key for r in store.due_outbox("tmall", T0)] == ["a-tmall"]  # other clouds do not wait
    assert store.due_outbox("bolink", T0 - timedelta(seconds=1)) == []  # not yet due

    a1 = store.due_outbox("bolink", T0)[0]
    store.mark_outbox_retry(a1.id, error="timeout", next_attempt_at=T0 + timedelta(minutes=1))
    # a1 waits for its retry, and a2 waits behind it
    assert [r.dedupe_key for r in store.due_outbox("bolink", T0)] == ["b1", "lot1", "lot2"]
    assert store.due_outbox("bolink", T0 + timedelta(minutes=1))[0].dedupe_key == "a1"
    store.mark_outbox_sent(a1.id, at=T0 + timedelta(minutes=1))
    assert store.due_outbox("bolink", T0 + timedelta(minutes=1))[0].dedupe_key == "a2"


def test_retry_dead_and_requeue(store: Store, clock: Clock) -> None:
    new_stay(store, "o_1", outbox=[item("first"), item("second")])
    first = store.due_outbox("bolink", T0)[0]
    store.mark_outbox_retry(first.id, error="502", next_attempt_at=T0 + timedelta(seconds=10))
    store.mark_outbox_retry(first.id, error="503", next_attempt_at=T0 + timedelta(seconds=30))
    row = store.outbox_by_id(first.id)
    assert row is not None
    assert (row.state, row.attempts, row.last_error, row.next_attempt_at) == (
        "pending",
        2,
        "503",
        T0 + timedelta(seconds=30),
    )
    store.mark_outbox_dead(first.id, error="signature refused")
    store.mark_outbox_dead(first.id, error="ignored, already dead")
    row = store.outbox_by_id(first.id)
    assert row is not None and (row.state, row.attempts, row.last_error) == ("dead", 3, "signature refused")
    with pytest.raises(StoreError, match="is dead, not pending"):
        store.mark_outbox_retry(first.id, error="x", next_attempt_at=T0)
    # a parked row blocks nothing behind it
    assert [r.dedupe_key for r in store.due_outbox("bolink", T0)] == ["second"]

    assert store.requeue_dead("alipay") == 0
    clock.now = T0 + timedelta(hours=1)
    assert store.requeue_dead("bolink") == 1
    row = store.outbox_by_id(first.id)
    assert row is not None
    assert (row.state, row.attempts, row.next_attempt_at, row.last_error) == (
        "pending",
        0,
        T0 + timedelta(hours=1),
        "signature refused",
    )
    assert store.requeue_dead() == 0

    store.mark_outbox_sent(first.id, at=clock.now)
    store.mark_outbox_sent(first.id, at=clock.now + timedelta(minutes=5))
    row = store.outbox_by_id(first.id)
    assert row is not None and (row.state, row.sent_at) == ("sent", clock.now)
    with pytest.raises(StoreError, match="already sent"):
        store.mark_outbox_dead(first.id, error="x")
    with pytest.raises(StoreError, match="cloud must be one of"):
        store.due_outbox("wechat", T0)


def test_backlog_per_cloud(store: Store, clock: Clock) -> None:
    assert store.outbox_backlog() == {}
    new_stay(store, "o_1", outbox=[item("b1"), item("t1", cloud="tmall")])
    clock.now = T0 + timedelta(minutes=5)
    new_stay(
        store,
        "o_2",
        plate="京N8P8F8",
        outbox=[item("b2"), item("t2", cloud="tmall"), item("al", cloud="alipay")],
    )
    by_key = {
        r.dedupe_key: r for cloud in ("bolink", "tmall", "alipay") for r in store.due_outbox(cloud, clock.now)
    }
    store.mark_outbox_sent(by_key["b1"].id, at=clock.now)
    store.mark_outbox_dead(by_key["t1"].id, error="x")
    store.mark_outbox_sent(by_key["al"].id, at=clock.now)

    backlog = store.outbox_backlog()
    assert set(backlog) == {"bolink", "tmall"}  # alipay has nothing pending or dead
    assert (backlog["bolink"].pending, backlog["bolink"].oldest_pending_at, backlog["bolink"].dead) == (
        1,
        T0 + timedelta(minutes=5),
        0,
    )
    assert (backlog["tmall"].pending, backlog["tmall"].oldest_pending_at, backlog["tmall"].dead) == (
        1,
        T0 + timedelta(minutes=5),
        1,
    )
    assert backlog["tmall"].oldest_pending_at is not None
    assert backlog["tmall"].oldest_pending_at.tzinfo is UTC


def test_outbox_records_are_plain_values(store: Store) -> None:
    payload = {"car_number": "苏A12345", "in_time": 1772352000, "nested": {"a": [1, 2]}}
    new_stay(store, "o_1", outbox=[item("k", payload=payload)])
    (row,) = store.due_outbox("bolink", T0)
    assert row.payload == payload
    row.payload["car_number"] = "changed"
    assert row.payload == payload  # each read is a fresh copy
    with pytest.raises(AttributeError):
        row.state = "sent"  # type: ignore[misc]


def test_an_exit_quotes_inputs_are_what_the_single_reads_say(store: Store) -> None:
    """#14: the quote reads the open stay, its counted money and the plate's arrears in one snapshot with
    statements built once; each part must equal what the store's own single reads return."""
    plate = "苏A12345"
    assert store.exit_quote_inputs(plate) is None  # no stay at all
    first = new_stay(store, "o_1", plate=plate)
    store.close_missed_stay(first.id, at=T0 + timedelta(minutes=30), lane_id="E1", owed_fen=700)
    assert store.exit_quote_inputs(plate) is None  # only a closed stay: nothing to quote
    stay = new_stay(store, "o_2", plate=plate)
    other = new_stay(store, "o_3", plate="苏B00001")  # another plate's money and stay must not show
    pay(store, "o_3", None, "t_other", amount_fen=999)
    pay(store, "o_2", None, "t_early", amount_fen=200, minutes=-30)  # before the entry (a provider's clock)
    pay(store, "o_2", None, "t_prepay", amount_fen=300, minutes=20)
    pay(store, "o_1", None, "t_late", amount_fen=50)  # for the closed stay: flagged, never counted here
    inputs = store.exit_quote_inputs(plate)
    assert inputs is not None
    got_stay, payments, arrears = inputs
    assert got_stay == store.open_stay_for_plate(plate) and got_stay.id == stay.id != other.id
    assert payments == store.counted_payments(stay.id) == [(T0, 200), (T0 + timedelta(minutes=20), 300)]
    assert arrears == store.open_arrears(plate) and [a.amount_fen for a in arrears] == [700]


def test_an_exit_order_opened_cancels_the_one_awaiting_and_links_open_arrears_only(
    store: Store, db: Database
) -> None:
    """#14: open_exit_order in Core statements keeps its rules: the stay's awaiting order is cancelled, only
    open arrears named are linked and counted, and the record returned is the row stored."""
    stay = new_stay(store, "o_2")
    owed = new_stay(store, "o_1")
    arrears = store.close_missed_stay(owed.id, at=T0 + timedelta(minutes=5), lane_id="E1", owed_fen=700)
    assert arrears is not None
    first = new_exit_order(store, stay.id)
    order = store.open_exit_order(
        stay_id=stay.id,
        lane_id="B2",
        opened_at=T0 + timedelta(minutes=70),
        quote_json='{"lines": []}',
        gross_fen=900,
        paid_before_fen=100,
        discount_fen=0,
        due_fen=1500,
        arrears_ids=[arrears.id, 999_999],  # one open, one that does not exist
    )
    assert order == store.exit_order_by_id(order.id)
    assert (order.state, order.lane_id, order.due_fen, order.arrears_fen) == ("awaiting", "B2", 1500, 700)
    cancelled = store.exit_order_by_id(first)
    assert cancelled is not None and cancelled.state == "cancelled"
    assert cancelled.settled_at == T0 + timedelta(minutes=70)
    assert scalar(db, "SELECT exit_order_id FROM arrears WHERE id = :i", i=arrears.id) == order.id
    with pytest.raises(StoreError, match="no stay with id 424242"):
        new_exit_order(store, 424242)
