"""A car entered at booth A, known at booth B's exit (#18): p50/p99 on PostgreSQL 15 over loopback.

Three figures, each over CARS cars (the lot server holds BACKGROUND other stays of two more booths, most of
them closed, so the plate's index is not a toy one):

1. entered at A -> known at B: booth A (its own SQLite store, the journal's triggers, the pusher at its
   default push_interval_s of 0.2 s) commits a car's stay; from that moment booth B asks the lot
   (``LotStays.find_open``) every POLL_S until the stay is there. Once more with the pusher woken at the
   commit instead of waiting for its next look.
2. the lookup alone (B asks for a plate the lot has / has not): what an exit without a local stay pays.
3. at B's engine (SQLite, the Bolink sandbox in process): camera read -> quote on the lane (its due_fen
   shown), for a car that entered at B and for one entered at A (asked at the lot, imported, priced).

No asserts: figures for the README and docs/lot.md. The PostgreSQL database is made for the run and dropped
after. Run: .venv/bin/python benchmarks/bench_lot_lookup.py [cars]   (BOOTH_TEST_POSTGRES: another admin URL)
"""

from __future__ import annotations

import logging
import math
import os
import random
import secrets
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import Engine as SqlEngine
from sqlalchemy import create_engine, insert

from booth.config import settings_from_mapping
from booth.domain.lane import LaneState
from booth.engine import Engine, EngineEvent, LaneChanged
from booth.lot.journal import ensure_journal
from booth.lot.lookup import LotStays
from booth.lot.push import LotPusher
from booth.lot.schema import MIRRORS, lot_metadata
from booth.store import Store, open_database

ADMIN = os.environ.get("BOOTH_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
BACKGROUND = 50_000
POLL_S = 0.002


def percentile(values: list[float], q: float) -> float:
    """Nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def show(what: str, values: list[float]) -> None:
    p50, p99, top = (1000 * v for v in (percentile(values, 0.5), percentile(values, 0.99), max(values)))
    print(f"{what:60} p50 {p50:7.1f} ms   p99 {p99:7.1f} ms   max {top:7.1f} ms   ({len(values)})")


def with_postgresql(run: Callable[[str], None]) -> None:
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    admin = make_url(ADMIN)
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"booth_bench_lot_{os.getpid()}_{secrets.token_hex(4)}"
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        run(admin.set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False))
    finally:
        with psycopg.connect(conninfo, autocommit=True) as connection:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            connection.execute(drop.format(sql.Identifier(name)))


def seed_background(lot: SqlEngine) -> None:
    """Other booths' stays: a week of them, one in five still in the lot."""
    rng = random.Random(18)
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for n in range(BACKGROUND):
        booth = ("C", "D")[n % 2]
        entry = now - timedelta(minutes=rng.randrange(7 * 24 * 60))
        open_ = rng.random() < 0.2
        rows.append(
            {
                "booth_id": booth,
                "id": n + 1,
                "order_id": f"{booth}{n}_bg",
                "plate": f"浙B{rng.randrange(100_000):05d}",
                "plate_colour": "blue",
                "vehicle_class": "small",
                "entry_lane": f"{booth}_E1",
                "entry_at": entry,
                "exit_lane": None if open_ else f"{booth}_X1",
                "exit_at": None if open_ else entry + timedelta(hours=1),
                "state": "in_lot" if open_ else "exited",
                "created_at": entry,
                "origin_booth": None,
            }
        )
    with lot.begin() as connection:
        connection.execute(insert(MIRRORS["stays"]), rows)
        connection.exec_driver_sql("ANALYZE")


def entered_to_known(
    store: Store, pusher: LotPusher, b: LotStays, cars: int, *, wake: bool, first: int
) -> None:
    latencies: list[float] = []
    for n in range(first, first + cars):
        plate = f"苏A{n:05d}"
        store.create_stay(
            order_id=f"A{n}_bench",
            plate=plate,
            plate_colour="blue",
            vehicle_class="small",
            lane_id="A_E1",
            entry_at=datetime.now(UTC) - timedelta(hours=2),
        )
        committed = time.perf_counter()
        if wake:
            pusher.wake()
        while b.find_open(plate) is None:
            time.sleep(POLL_S)
        latencies.append(time.perf_counter() - committed)
        time.sleep(random.uniform(0, 0.2))  # (cars arrive at any moment of the pusher's period)
    how = "the pusher woken at the commit" if wake else "the pusher every 0.2 s"
    show(f"entered at A -> known at B ({how})", latencies)


def lookup_alone(b: LotStays, plates: list[str], rounds: int) -> None:
    for what, pick in (("found", lambda n: plates[n % len(plates)]), ("not found", lambda n: f"沪Z{n:05d}")):
        latencies: list[float] = []
        for n in range(rounds):
            started = time.perf_counter()
            found = b.find_open(pick(n))
            latencies.append(time.perf_counter() - started)
            assert (found is not None) == (what == "found")
        show(f"B's lookup alone, the plate {what}", latencies)


def engine_quotes(url: str, folder: Path, lot_plates: list[str], cars: int) -> None:
    settings = settings_from_mapping(
        {
            "park": {"name": "测试停车场", "province": "苏"},
            "bolink": {
                "base_url": "sandbox",
                "union_id": "200208",
                "park_id": "21835",
                "ukey": "8403A41ED5EF20BC",
                "local_id": "booth_b",
                "query_start_s": 600,
                "sandbox_port": 0,
            },
            "lanes": [
                {"id": "E1", "name": "入口", "direction": "entry", "channel_id": "E1"},
                {"id": "X1", "name": "东出口", "direction": "exit", "channel_id": "X1"},
            ],
            "database": {"url": f"sqlite:///{folder / 'b.sqlite'}"},
        },
        "<bench>",
    )
    quoted: dict[str, float] = {}
    idle = threading.Event()
    arrived = threading.Event()

    def listen(event: EngineEvent) -> None:  # (engine thread)
        if isinstance(event, LaneChanged) and event.view.lane_id == "X1":
            view = event.view
            if view.plate and view.due_fen is not None and view.plate not in quoted:
                quoted[view.plate] = time.perf_counter()
                arrived.set()
            if view.state is LaneState.IDLE:
                idle.set()

    engine = Engine(settings, tick_s=0.05, lot=LotStays(url, "B"))
    engine.subscribe(listen)
    engine.start()
    try:
        deadline = time.monotonic() + 10
        while not engine.bolink_online and time.monotonic() < deadline:
            time.sleep(0.01)
        local_plates = [f"苏B{n:05d}" for n in range(cars)]
        entry = engine.now() - timedelta(hours=2)
        for plate in local_plates:
            engine.seed_stay(plate, entry).result(5)
        results: dict[str, list[float]] = {"local": [], "lot": []}
        for n in range(2 * cars):
            kind = ("local", "lot")[n % 2]
            plate = (local_plates if kind == "local" else lot_plates)[n // 2]
            idle.clear()
            arrived.clear()
            started = time.perf_counter()
            engine.vehicle_at("X1", plate).result(5)
            if not arrived.wait(5):
                raise RuntimeError(f"{plate} was not quoted at B's exit")
            results[kind].append(quoted[plate] - started)
            engine.cancel("X1", "bench").result(5)
            idle.wait(5)
        show("B's exit: camera read -> quote, the car entered at B", results["local"])
        show("B's exit: camera read -> quote, the car entered at A", results["lot"])
    finally:
        engine.stop()


def run(url: str, cars: int) -> None:
    lot = create_engine(url)
    lot_metadata.create_all(lot)
    seed_background(lot)
    with tempfile.TemporaryDirectory() as folder:
        a_db = open_database(f"sqlite:///{folder}/a.sqlite")
        ensure_journal(a_db.engine)
        pusher = LotPusher(a_db, lot, "A", push_interval_s=0.2)
        pusher.start()
        b = LotStays(url, "B")
        try:
            store = Store(a_db)
            entered_to_known(store, pusher, b, 10, wake=True, first=90_000)  # (warm: connections, plans)
            entered_to_known(store, pusher, b, cars, wake=False, first=0)
            entered_to_known(store, pusher, b, cars, wake=True, first=cars)
            lot_plates = [f"苏A{n:05d}" for n in range(2 * cars)]
            lookup_alone(b, lot_plates, 10 * cars)
            engine_quotes(url, Path(folder), lot_plates, cars)
        finally:
            b.close()
            pusher.stop()
            a_db.close()
            lot.dispose()


def main() -> None:
    cars = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    logging.basicConfig(level=logging.ERROR)
    print(f"lot server: PostgreSQL over loopback, {BACKGROUND} stays of two other booths; {cars} cars")
    with_postgresql(lambda url: run(url, cars))


if __name__ == "__main__":
    main()
