"""Issue #18: does [lot] change the exit lanes' latency? bench_engine's traffic, three ways, in one run.

Two exit lanes against the Bolink sandbox (bench_engine's settings, probe and lane driver, imported), each
way on a fresh SQLite file and a fresh sandbox:

  (1) no [lot]: the booth on its own (issue #2's targets: pay -> gate p99 <= 20 ms, detected -> quote
      p99 <= 50 ms);
  (2) [lot] on a live PostgreSQL lot database made for the run (booth_bench_<pid> at 127.0.0.1:5432 as user
      postgres, `init_lot`, dropped WITH (FORCE) at the end whatever happens);
  (3) [lot] naming a server that does not answer (a loopback port with nothing listening).

Target for (2) and (3): "unchanged", i.e. the same as (1) within the machine's noise, as the pusher and the
puller run on threads of their own and an exit with a local stay never asks the lot. For each way it prints
pay -> gate and detected -> quote p50/p99 and the lot's push status when the traffic ends (journal entries
behind). In (2), a few cars then enter at a second booth (its own Engine, [lot] booth_id "entry", an entry
lane) and leave at the measured booth: their stay is found at the lot, imported and priced, so their
detected -> quote includes the lot lookup (bound: query_timeout_ms, 500 ms). Both booths hold a session on
the one sandbox; the measured booth's ``local_id`` names its exit channels (``bench_channels_X1_X2``, as
docs/lot.md asks of a lot booth), and the sandbox routes each payment result to the session naming its
channel. Before the sandbox routed (one push queue for every session), every second car (苏E00001, 03, …)
was paid with no gate command within 10 s: its result had gone to the entry booth's session.

Figures only, no asserts. Run: .venv/bin/python benchmarks/bench_lot_lanes.py [exits per way, default 400]
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_engine as be
import httpx
import psycopg
from psycopg.conninfo import make_conninfo

from booth.config.lot import LotSettings
from booth.engine import Engine
from booth.lot.server import init_lot

ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=3"  # (trust, as tests/pg.py)
CROSS_CARS = 10  # (2) only: cars entered at the second booth, leaving at the measured one


def conninfo(url: str) -> str:
    return make_conninfo(url.replace("postgresql+psycopg://", "postgresql://"), connect_timeout=3)


def admin(sql: str) -> None:
    with psycopg.connect(ADMIN, autocommit=True) as connection:
        connection.execute(sql)


def start_sandbox() -> Any:
    be.SANDBOX_PORT = be.free_port()
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    cloud = ctx.Process(target=be.run_sandbox, args=(be.SANDBOX_PORT, ready), daemon=True)
    cloud.start()
    if not ready.wait(30):
        raise RuntimeError("the sandbox did not start")
    return cloud


def lot_section(server: str, booth_id: str) -> LotSettings:
    return LotSettings(server=server, booth_id=booth_id)


def wait_for(predicate: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


def fmt(values: list[float]) -> str:
    if not values:
        return "no samples"
    p50, p99 = statistics.median(values), be.pct(values, 99)
    return f"p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {max(values):.2f} ms"


def cross_booth(engine: Engine, probe: be.Probe, server: str, folder: Path, errors: list[str]) -> str:
    """(2): cars entered at booth "entry" leave at the measured booth's X1; their figures apart."""
    folder.mkdir(exist_ok=True)
    base = be.settings(folder)
    lane = type(base.lanes[0]).model_validate(
        {
            "id": "E1",
            "name": "E1",
            "direction": "entry",
            "channel_id": "E1",
            "gate": {"driver": "simulated", "open_ms": 0},
        }
    )
    bolink = base.bolink.model_copy(update={"local_id": "bench-entry"}) if base.bolink else None
    entry = Engine(
        base.model_copy(update={"lanes": [lane], "lot": lot_section(server, "entry"), "bolink": bolink}),
        tick_s=0.25,
    )
    entry.start()
    quote_from, gate_from = len(probe.quote_ms), len(probe.gate_ms)
    found = 0
    pay_page = httpx.Client(base_url=f"http://127.0.0.1:{be.SANDBOX_PORT}", timeout=10)
    lot = psycopg.connect(conninfo(server), autocommit=True)

    def on_server(plate: str) -> bool:
        query = "SELECT 1 FROM lot_stays WHERE booth_id = 'entry' AND plate = %s AND state = 'in_lot'"
        return lot.execute(query, (plate,)).fetchone() is not None

    try:
        if not wait_for(lambda: getattr(entry.lot_status(), "online", False), 10):
            return "the entry booth never reached the lot"
        for i in range(CROSS_CARS):
            plate = f"苏E{i:05d}"
            # entered 45 min ago at E1 (past the free minutes; a car entered just now would leave free)
            entry.seed_stay(plate, entry.now() - timedelta(minutes=45), "E1").result(10)
            # the car drives from the entry to the exit: by then the entry booth has pushed its stay
            if not wait_for(lambda plate=plate: on_server(plate), 5):
                errors.append(f"cross-booth {plate}: its entry was not on the lot server within 5 s")
            probe.awaiting["X1"].clear()
            probe.lifted["X1"].clear()
            engine.vehicle_at("X1", plate).result(10)
            if not probe.awaiting["X1"].wait(10):
                errors.append(f"cross-booth {plate}: never awaited payment (not found at the lot?)")
                engine.vehicle_passed("X1").result(10)
                continue
            found += 1
            paid = pay_page.post("/pay/X1")
            if paid.status_code != 200 or "支付成功" not in paid.text:
                errors.append(f"cross-booth {plate}: the pay page said {paid.status_code}")
                continue
            if not probe.lifted["X1"].wait(10):
                errors.append(f"cross-booth {plate}: paid but no gate command")
                continue
            engine.vehicle_passed("X1").result(10)
    finally:
        pay_page.close()
        lot.close()
        entry.stop()
    return (
        f"  cross-booth: {found}/{CROSS_CARS} cars entered at booth 'entry', found at the lot, let out here\n"
        f"    detected -> quote (lot lookup + import included): {fmt(probe.quote_ms[quote_from:])}\n"
        f"    payment result -> gate command: {fmt(probe.gate_ms[gate_from:])}"
    )


def one_way(label: str, exits: int, server: str | None) -> dict[str, Any]:
    cloud = start_sandbox()
    try:
        with tempfile.TemporaryDirectory() as folder:
            settings = be.settings(Path(folder))
            if server is not None:  # a lot booth's local_id names its exit channels (docs/lot.md)
                named = f"{settings.bolink.local_id}_channels_{'_'.join(be.LANES)}"
                bolink = settings.bolink.model_copy(update={"local_id": named})
                settings = settings.model_copy(
                    update={"lot": lot_section(server, "exit-bench"), "bolink": bolink}
                )
            engine = Engine(settings, tick_s=0.25)
            probe = be.Probe()
            engine.subscribe(probe)
            engine.start()
            wait_for(lambda: engine.bolink_online, 10)
            if server is not None:  # a live lot: in contact before the cars; a dead one: its first try done
                wait_for(lambda: getattr(engine.lot_status(), "started", False), 10)
            errors: list[str] = []
            started, per_lane = time.perf_counter(), exits // len(be.LANES)
            threads = [
                threading.Thread(target=be.drive_lane, args=(engine, probe, lane, per_lane, errors))
                for lane in be.LANES
            ]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - started
            gate, quote = list(probe.gate_ms), list(probe.quote_ms)
            status = engine.lot_status()
            at_end = "no [lot]" if status is None else status.describe()
            settled = ""
            if status is not None and status.online:
                caught_up = wait_for(lambda: getattr(engine.lot_status(), "behind", 1) == 0, 10)
                after = engine.lot_status()
                settled = f"; {'caught up' if caught_up else 'still behind'} after the traffic: " + (
                    after.describe() if after else "?"
                )
            cross = ""
            if label.startswith("(2)"):
                cross = cross_booth(engine, probe, server or "", Path(folder) / "entry", errors)
            engine.stop()
    finally:
        cloud.terminate()
        cloud.join(5)
    return {
        "label": label,
        "exits": len(gate),
        "elapsed": elapsed,
        "gate": gate,
        "quote": quote,
        "lot": at_end + settled,
        "cross": cross,
        "errors": errors,
    }


def report(result: dict[str, Any], base: dict[str, Any] | None) -> None:
    gate, quote = result["gate"], result["quote"]
    print(f"{result['label']}: {result['exits']} exits in {result['elapsed']:.1f} s")
    if not gate:
        print(f"  errors: {result['errors']}")
        return
    if base is None:  # (1): issue #2's targets; (2) and (3): the same as (1)
        gate_target, quote_target = "target p99 <= 20 ms (#2)", "target p99 <= 50 ms (#2)"
    else:
        gate_target = (
            f"target: unchanged vs (1) p99 {be.pct(base['gate'], 99):.2f} ms" if base["gate"] else "?"
        )
        quote_target = (
            f"target: unchanged vs (1) p99 {be.pct(base['quote'], 99):.2f} ms" if base["quote"] else "?"
        )
    print(f"  payment result -> gate command: {fmt(gate)}  ({gate_target})")
    print(f"  vehicle detected -> quote ready: {fmt(quote)}  ({quote_target})")
    print(f"  lot push status when the traffic ended: {result['lot']}")
    if result["cross"]:
        print(result["cross"])
    if result["errors"]:
        print(f"  errors: {result['errors']}")


def main() -> int:
    exits = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    logging.basicConfig(level=logging.ERROR)
    try:
        load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        load = "?"
    print(f"bench_lot_lanes: {exits} exits per way on {len(be.LANES)} lanes; load average {load}")
    results = [one_way("(1) no [lot]", exits, None)]
    report(results[0], None)
    database = f"booth_bench_{os.getpid()}"
    live = f"postgresql://postgres@127.0.0.1:5432/{database}"
    try:
        admin(f'CREATE DATABASE "{database}"')
        try:
            init_lot(live)
            results.append(one_way(f"(2) [lot] on a live server ({database})", exits, live))
        finally:
            admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        report(results[-1], results[0])
    except Exception as exc:  # (the server not there: say so, and still measure (3))
        print(f"(2) [lot] on a live server: not measured: {' '.join(str(exc).split())}")
    dead = f"postgresql://postgres@127.0.0.1:{be.free_port()}/booth_lot"
    results.append(one_way("(3) [lot] on a server that does not answer (nothing listening)", exits, dead))
    report(results[-1], results[0])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
