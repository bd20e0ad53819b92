"""The booking of a payment on SQLite and on PostgreSQL 15 (loopback), the store alone (no engine, no HTTP).

Prints, per database, p50/p99 of ``record_payment`` (a settling payment with two outbox rows: the step
between a payment result and the gate) and of ``open_exit_order``, one writer at a time; then the bookings
per second and p99 with WRITERS threads booking at once (on PostgreSQL they queue on the writers' lock, as
on SQLite they queue on BEGIN IMMEDIATE). The PostgreSQL database is made for the run and dropped after.
Run: .venv/bin/python benchmarks/bench_store_pg.py [bookings]   (BOOTH_TEST_POSTGRES: another admin URL)
"""

from __future__ import annotations

import os
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from booth.store import Database, OutboxItem, Store, open_database

ADMIN = os.environ.get("BOOTH_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
WRITERS = 4
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def one_exit(store: Store, n: int, timings: dict[str, list[float]] | None) -> None:
    stay = store.create_stay(
        order_id=f"o_{n}", plate=f"苏A{n % 100_000:05d}", plate_colour="blue", vehicle_class="small",
        lane_id="E1", entry_at=T0,
    )  # fmt: skip
    started = time.perf_counter()
    order = store.open_exit_order(
        stay_id=stay.id, lane_id="X1", opened_at=T0 + timedelta(hours=1), quote_json="{}", gross_fen=500,
        paid_before_fen=0, discount_fen=0, due_fen=500,
    )  # fmt: skip
    opened = time.perf_counter()
    outcome = store.record_payment(
        order_ref=stay.order_id, exit_order_id=order.id, channel="scancode", pay_channel=1,
        trade_no=f"T{n}", amount_fen=500, paid_at=T0 + timedelta(hours=1), lane_id="X1", operator="bolink",
        payer_id=None, raw={"trade_no": f"T{n}"},
        outbox=[
            OutboxItem(cloud="bolink", kind="outpark", payload={"n": n}, dedupe_key=f"bolink:outpark:{n}"),
            OutboxItem(cloud="alipay", kind="sync", payload={"n": n}, dedupe_key=f"alipay:sync:{n}"),
        ],
    )  # fmt: skip
    booked = time.perf_counter()
    assert outcome.status == "settled", outcome
    if timings is not None:
        timings["open_exit_order"].append(opened - started)
        timings["record_payment"].append(booked - opened)


def measure(name: str, db: Database, bookings: int) -> None:
    store = Store(db, clock=lambda: T0)
    for n in range(50):  # warm the pool and the caches
        one_exit(store, 10_000_000 + n, None)
    timings: dict[str, list[float]] = {"open_exit_order": [], "record_payment": []}
    for n in range(bookings):
        one_exit(store, n, timings)
    for what, values in timings.items():
        print(
            f"{name:10} {what:16} p50 {statistics.median(values) * 1000:6.2f} ms"
            f"   p99 {percentile(values, 0.99) * 1000:6.2f} ms   ({len(values)} one at a time)"
        )
    each: list[float] = []

    def timed(n: int) -> None:
        started = time.perf_counter()
        one_exit(store, n, None)
        each.append(time.perf_counter() - started)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        list(pool.map(timed, range(bookings, 2 * bookings)))
    elapsed = time.perf_counter() - started
    print(
        f"{name:10} {WRITERS} writers      {bookings / elapsed:7.0f} exits/s"
        f"   p99 {percentile(each, 0.99) * 1000:6.2f} ms per exit (stay, order, payment)"
    )


def with_postgresql(run: Callable[[str], None]) -> None:
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    admin = make_url(ADMIN)
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"booth_bench_{os.getpid()}_{secrets.token_hex(4)}"
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        run(admin.set(database=name).render_as_string(hide_password=False))
    finally:
        with psycopg.connect(conninfo, autocommit=True) as connection:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            connection.execute(drop.format(sql.Identifier(name)))


def main() -> None:
    bookings = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    with tempfile.TemporaryDirectory() as folder, open_database(f"sqlite:///{folder}/b.sqlite") as db:
        measure("SQLite", db, bookings)

    def on_postgresql(url: str) -> None:
        with open_database(url) as db:
            measure("PostgreSQL", db, bookings)

    with_postgresql(on_postgresql)


if __name__ == "__main__":
    main()
