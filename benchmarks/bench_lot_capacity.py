"""How many booths one lot PostgreSQL serves (#18): N simulated booths replay a booth's own query mix.

Each simulated booth is a process of its own with a real booth's parts: its SQLite store with the lot
journal's triggers, a ``LotPusher`` (booth.lot.push) and a ``LotStays`` lookup (booth.lot.lookup). Every
TICK_S (default 2 s, with a random phase, i.e. 1,800 cars an hour in and as many out: a booth with two
busy exit lanes at peak, and more) it does what the engine does for one car in and one car out, the pusher
woken at each commit as the engine wakes it:

- entry: the stay (and its Bolink outbox row) written, then a push round;
- exit of a car that entered earlier: a lookup at the lot for its plate (as an exit whose stay is not known
  locally does; half of the plates are open at another booth, half are nowhere), then the exit order, the
  payment (a trade number) with the gate event and its outbox row, and the close, each commit followed by a
  push round (upsert, lot checks, ``pushed_seq``).

A push round's latency is ``push_once`` (the SQLite read, the server transaction, the local delete); a
lookup's is ``ask_server``. The server starts with BACKGROUND stays of other booths (a week, some open), so
the plate index is not a toy. For N = 1, 2, 4, 8, … booths, RUN_S seconds each, p50/p99 of both are printed
with the rounds done per second and how far the booths fell behind their schedule; the run stops once the
latency bends (push p50 over twice and p99 over BEND× the lowest seen with fewer booths, or a booth more than
a tick behind its schedule), or at MAX_N.

The booths' processes run on the same machine as PostgreSQL: on a small or busy machine the figures are the
machine's as much as the server's (the load average is printed). No asserts.
Run: .venv/bin/python benchmarks/bench_lot_capacity.py [max_n]   (BOOTH_TEST_POSTGRES: another admin URL)
"""

from __future__ import annotations

import math
import multiprocessing
import os
import random
import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ADMIN = os.environ.get("BOOTH_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
TICK_S = float(os.environ.get("BENCH_TICK_S", "2"))
RUN_S = float(os.environ.get("BENCH_RUN_S", "20"))
BACKGROUND = 100_000
BEND = 4.0
IN_LOT = 3  # cars each booth has in the lot when the clock starts
MAX_N = 64


def percentile(values: list[float], q: float) -> float:
    """Nearest rank."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def with_postgresql(run: Callable[[str], None]) -> None:
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    admin = make_url(ADMIN)
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"booth_bench_lot_capacity_{os.getpid()}_{secrets.token_hex(4)}"
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        run(admin.set(drivername="postgresql", database=name).render_as_string(hide_password=False))
    finally:
        with psycopg.connect(conninfo, autocommit=True) as connection:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            connection.execute(drop.format(sql.Identifier(name)))


def seed(url: str) -> list[str]:
    """The lot schema (booth lot init) and BACKGROUND stays of two other booths over a week, one in five
    still open; returns plates open at those booths."""
    import psycopg

    from booth.lot.server import init_lot

    init_lot(url)
    rng = random.Random(18)
    now = datetime.now(UTC)
    open_plates = []
    with psycopg.connect(url) as connection, connection.cursor() as cursor:
        columns = (
            "booth_id, id, order_id, plate, plate_colour, vehicle_class, entry_lane, entry_at, exit_lane, "
        )
        columns += "exit_at, state, created_at, origin_booth"
        with cursor.copy(f"COPY lot_stays ({columns}) FROM STDIN") as copy:
            for n in range(BACKGROUND):
                booth = ("far-a", "far-b")[n % 2]
                plate = f"浙B{n:06d}"
                entry = now - timedelta(seconds=rng.random() * 7 * 86400)
                still_in = rng.random() < 0.2
                if still_in:
                    open_plates.append(plate)
                exit_at = None if still_in else entry + timedelta(hours=2)
                copy.write_row(
                    (
                        booth,
                        n // 2 + 1,
                        f"bg{n:08d}",
                        plate,
                        "blue",
                        "small",
                        "FE1",
                        entry,
                        None if still_in else "FX1",
                        exit_at,
                        "in_lot" if still_in else "exited",
                        entry,
                        None,
                    )
                )
        connection.commit()
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE lot_stays")
    return open_plates


def booth(*args: Any) -> None:
    """A simulated booth; a failure is put on the queue (the last argument) as its message."""
    try:
        simulated_booth(*args)
    except Exception as exc:
        args[-1].put(f"{args[1]}: {type(exc).__name__}: {exc}")


def simulated_booth(
    url: str, booth_id: str, folder: str, open_plates: list[str], start_at: float, run_s: float, out: Any
) -> None:
    """One simulated booth (in a process of its own): its store, pusher and lookup, a car in and a car out
    every TICK_S until ``run_s`` after ``start_at``; puts (push latencies, lookup latencies, lag) on
    ``out``."""
    import logging

    from booth.lot.journal import ensure_journal
    from booth.lot.lookup import LotStays
    from booth.lot.push import LotPusher
    from booth.lot.server import server_engine
    from booth.store import Store, open_database
    from booth.store.records import OutboxItem

    logging.disable(logging.WARNING)
    rng = random.Random(booth_id)
    db = open_database(f"sqlite:///{folder}/{booth_id}.sqlite")
    ensure_journal(db.engine)
    store = Store(db)
    lot = server_engine(url, application_name=f"booth:{booth_id}")
    pusher = LotPusher(db, lot, booth_id, name=booth_id, lanes=[f"{booth_id}-E1", f"{booth_id}-X1"])
    lookup = LotStays(url, booth_id, query_timeout_ms=5000, connect_timeout_s=5)
    waiting: list[Any] = []
    for k in range(IN_LOT):  # cars already in the lot, so a car leaves from the first tick on
        waiting.append(
            store.create_stay(
                order_id=f"{booth_id.replace('-', '_')}_early_{k:03d}",
                plate=f"苏B{booth_id[-2:]}{k:03d}",
                plate_colour="blue",
                vehicle_class="small",
                lane_id=f"{booth_id}-E1",
                entry_at=datetime.now(UTC),
            )
        )
    pusher.push_once()  # first contact, and the connections made, before the clock starts
    lookup.ask_server("nowhere")
    pushes: list[float] = []
    lookups: list[float] = []
    lag = 0.0

    def push() -> None:
        t = time.perf_counter()
        pusher.push_once()
        pushes.append(time.perf_counter() - t)

    n = 0
    next_at = start_at + rng.random() * TICK_S
    time.sleep(max(0.0, next_at - time.time()))
    while time.time() < start_at + run_s:
        lag = max(lag, time.time() - next_at)
        now = datetime.now(UTC)
        stay = store.create_stay(
            order_id=f"{booth_id.replace('-', '_')}_{n:07d}{rng.randint(0, 9999):04d}",
            plate=f"苏A{booth_id[-2:]}{n:04d}",
            plate_colour="blue",
            vehicle_class="small",
            lane_id=f"{booth_id}-E1",
            entry_at=now,
            outbox=[OutboxItem("bolink", "inpark", {"n": n}, f"bolink:inpark:{booth_id}:{n}")],
        )
        push()
        waiting.append(stay)
        if len(waiting) > IN_LOT:  # the car that entered IN_LOT ticks ago leaves
            leaving = waiting.pop(0)
            plate = rng.choice(open_plates) if rng.random() < 0.5 else f"粤Z{rng.randint(0, 99999):05d}"
            t = time.perf_counter()
            lookup.ask_server(plate)
            lookups.append(time.perf_counter() - t)
            order = store.open_exit_order(
                stay_id=leaving.id,
                lane_id=f"{booth_id}-X1",
                opened_at=now,
                quote_json="{}",
                gross_fen=1000,
                paid_before_fen=0,
                discount_fen=0,
                due_fen=1000,
            )
            push()
            store.record_payment(
                order_ref=leaving.order_id,
                exit_order_id=order.id,
                channel="scancode",
                pay_channel=1,
                trade_no=f"T{booth_id}{n:07d}",
                amount_fen=1000,
                paid_at=now,
                lane_id=f"{booth_id}-X1",
                operator="att",
                payer_id=None,
                raw={"n": n},
                outbox=[OutboxItem("bolink", "outpark", {"n": n}, f"bolink:outpark:{booth_id}:{n}")],
            )
            store.record_gate_event(
                lane_id=f"{booth_id}-X1",
                stay_id=leaving.id,
                reason="paid",
                operator="att",
                note="",
                outcome="opened",
                attempt=1,
                detail="",
                at=now,
            )
            push()
            store.close_stay(leaving.id, lane_id=f"{booth_id}-X1", exit_at=now)
            push()
        n += 1
        next_at += TICK_S
        time.sleep(max(0.0, next_at - time.time()))
    lookup.close()
    lot.dispose()
    db.close()
    out.put((pushes, lookups, lag))


def step(url: str, folder: str, open_plates: list[str], n: int) -> tuple[list[float], list[float], float]:
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    start_at = time.time() + 3 + 0.15 * n  # every booth forked and connected before the clock starts
    procs = [
        context.Process(
            target=booth, args=(url, f"sim{n:02d}-{i:02d}", folder, open_plates, start_at, RUN_S, out)
        )
        for i in range(n)
    ]
    for p in procs:
        p.start()
    pushes: list[float] = []
    lookups: list[float] = []
    lag = 0.0
    for _ in procs:
        got = out.get(timeout=RUN_S + 120)
        if isinstance(got, str):
            raise SystemExit(f"a simulated booth failed: {got}")
        p_, l_, g = got
        pushes += p_
        lookups += l_
        lag = max(lag, g)
    for p in procs:
        p.join(timeout=30)
    return pushes, lookups, lag


def run(url: str, max_n: int) -> None:
    open_plates = seed(url)
    print(f"server seeded: {BACKGROUND:,} stays of two other booths, {len(open_plates):,} open")
    print(
        f"each booth: a car in and a car out every {TICK_S:g} s (4 push rounds and 1 lookup per tick), "
        f"{RUN_S:g} s per step"
    )
    print(
        f"{'booths':>6}  {'push p50':>9} {'push p99':>9}  {'lookup p50':>10} {'lookup p99':>10}  "
        f"{'rounds/s':>8}  {'behind':>7}  load"
    )
    best: tuple[float, float] | None = None  # the lowest push p50 and p99 seen at fewer booths
    with tempfile.TemporaryDirectory(prefix="bench-lot-capacity-") as folder:
        n = 1
        while n <= max_n:
            pushes, lookups, lag = step(url, folder, open_plates, n)
            p99 = percentile(pushes, 0.99)
            print(
                f"{n:>6}  {1000 * percentile(pushes, 0.5):>7.1f}ms {1000 * p99:>7.1f}ms  "
                f"{1000 * percentile(lookups, 0.5):>8.1f}ms {1000 * percentile(lookups, 0.99):>8.1f}ms  "
                f"{len(pushes) / RUN_S:>8.1f}  {lag:>6.2f}s  {os.getloadavg()[0]:.1f}",
                flush=True,
            )
            p50 = percentile(pushes, 0.5)
            if best is not None and ((p50 > 2 * best[0] and p99 > BEND * best[1]) or lag > TICK_S):
                print(
                    f"latency bent at {n} booths (push p50 over twice and p99 over {BEND:g}x the lowest "
                    "at fewer booths, or a booth a tick behind)"
                )
                break
            best = (p50, p99) if best is None else (min(best[0], p50), min(best[1], p99))
            n *= 2


def main() -> None:
    max_n = int(sys.argv[1]) if len(sys.argv) > 1 else MAX_N
    loads = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"machine: {os.cpu_count()} cores, load average {loads} at the start")
    with_postgresql(lambda url: run(url, max_n))


if __name__ == "__main__":
    main()
