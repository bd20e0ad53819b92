"""The headless engine under load: 1,000 exits on two lanes against the Bolink sandbox over loopback.

Prints (targets from issue #2):
  payment result -> gate command latency p50/p99   (p99 <= 20 ms)
  vehicle detected -> quote ready p99               (<= 50 ms)
  tariff quotes per second                          (>= 50,000)  -- see also bench_tariff.py
  peak RSS of the headless engine                   (<= 120 MB)

"Payment result" is the moment the engine hands Bolink's outpark result to the lane (after it came over
HTTP); "gate command" is the moment the gate driver is told to open, after the payment was booked in the
SQLite file (WAL, synchronous=FULL). The Bolink sandbox runs in its own process, as the real cloud is
remote; drivers pay through its pay page. Bolink's own limit of 100 requests per 10 s is lifted in the
sandbox and the booth's budget raised to match, so the run measures the booth, not Bolink's throttle (a
real lot is far below it). Run: .venv/bin/python benchmarks/bench_engine.py [exits]
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import resource
import socket
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

from booth.config import settings_from_mapping
from booth.domain.lane import LaneState
from booth.domain.tariff import TariffSettings, quote_fee
from booth.engine import Engine, EngineEvent, GateCommanded, LaneChanged

LANES = ("X1", "X2")
SANDBOX_PORT = 0  # set in main()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_sandbox(port: int, ready: threading.Event) -> None:  # runs in its own process
    from booth.sandbox.bolink_cloud import BolinkSandbox

    async def serve() -> None:
        sandbox = BolinkSandbox(union_id="1", park_id="1", ukey="K", port=port, rate_limit=1_000_000)
        await sandbox.start()
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(serve())


def settings(folder: Path):  # type: ignore[no-untyped-def]
    return settings_from_mapping(
        {
            "park": {"name": "压测停车场", "province": "苏"},
            "bolink": {
                "base_url": f"http://127.0.0.1:{SANDBOX_PORT}",
                "union_id": "1",
                "park_id": "1",
                "ukey": "K",
                "local_id": "bench",
                "query_start_s": 600,
                "request_budget_per_10s": 100_000,
            },
            "lanes": [
                {
                    "id": lane,
                    "name": lane,
                    "direction": "exit",
                    "channel_id": lane,
                    "pass_timeout_s": 60,
                    "gate": {"driver": "simulated", "open_ms": 0},
                }
                for lane in LANES
            ],
            "database": {"url": f"sqlite:///{folder / 'bench.sqlite'}"},
            "logging": {"level": "WARNING"},
        }
    )


class Probe:
    """Listens on the engine thread and timestamps the moments we measure."""

    def __init__(self) -> None:
        self.detected: dict[str, float] = {}
        self.result_at: dict[str, float] = {}
        self.quote_ms: list[float] = []
        self.gate_ms: list[float] = []
        self.awaiting = {lane: threading.Event() for lane in LANES}
        self.lifted = {lane: threading.Event() for lane in LANES}

    def __call__(self, event: EngineEvent) -> None:
        now = time.perf_counter()
        if isinstance(event, LaneChanged):
            v = event.view
            if v.state is LaneState.QUOTING:
                self.detected[v.lane_id] = now
            elif v.state is LaneState.AWAITING_PAYMENT and v.lane_id in self.detected:
                self.quote_ms.append((now - self.detected.pop(v.lane_id)) * 1000)
            elif v.state is LaneState.SETTLING:
                self.result_at[v.lane_id] = now
            if v.state is LaneState.AWAITING_PAYMENT and v.code_url:
                self.awaiting[v.lane_id].set()
        elif isinstance(event, GateCommanded) and event.attempt == 1 and event.lane_id in self.result_at:
            self.gate_ms.append((now - self.result_at.pop(event.lane_id)) * 1000)
            self.lifted[event.lane_id].set()


def drive_lane(engine: Engine, probe: Probe, lane: str, exits: int, errors: list[str]) -> None:
    pay_page = httpx.Client(base_url=f"http://127.0.0.1:{SANDBOX_PORT}", timeout=10)
    try:
        for i in range(exits):
            plate = f"苏{'AB'[LANES.index(lane)]}{i:05d}"
            engine.seed_stay(plate, engine.now() - timedelta(minutes=30 + i % 600)).result(10)
            probe.awaiting[lane].clear()
            probe.lifted[lane].clear()
            engine.vehicle_at(lane, plate).result(10)
            if not probe.awaiting[lane].wait(10):
                raise RuntimeError(f"{lane}: {plate} never awaited payment")
            paid = pay_page.post(f"/pay/{lane}")
            if paid.status_code != 200 or "支付成功" not in paid.text:
                raise RuntimeError(f"{lane}: the pay page said {paid.status_code} {paid.text[:200]}")
            if not probe.lifted[lane].wait(10):
                raise RuntimeError(f"{lane}: {plate} was paid but no gate command came")
            engine.vehicle_passed(lane).result(10)
    except Exception as exc:
        errors.append(repr(exc))
    finally:
        pay_page.close()


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def tariff_rate(seconds: float = 2.0) -> float:
    tariff, tz = TariffSettings(), ZoneInfo("Asia/Shanghai")
    entry = datetime(2026, 11, 20, 7, 13, tzinfo=UTC)
    stays = [timedelta(minutes=m) for m in (7, 16, 59, 61, 185, 700, 1441, 3 * 1440 + 77)]
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for stay in stays:
            quote_fee(tariff, plate="苏A12345", colour="blue", entry=entry, exit=entry + stay, tz=tz)
        n += len(stays)
    return n / (time.perf_counter() - start)


def main() -> int:
    global SANDBOX_PORT
    exits = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    logging.basicConfig(level=logging.ERROR)
    SANDBOX_PORT = free_port()
    ctx = multiprocessing.get_context("spawn")
    ready = ctx.Event()
    cloud = ctx.Process(target=run_sandbox, args=(SANDBOX_PORT, ready), daemon=True)
    cloud.start()
    if not ready.wait(30):
        print("the sandbox did not start")
        return 1
    with tempfile.TemporaryDirectory() as folder:
        engine = Engine(settings(Path(folder)), tick_s=0.25)
        probe = Probe()
        engine.subscribe(probe)
        engine.start()
        deadline = time.monotonic() + 10
        while not engine.bolink_online and time.monotonic() < deadline:
            time.sleep(0.01)
        errors: list[str] = []
        started = time.perf_counter()
        threads = [
            threading.Thread(target=drive_lane, args=(engine, probe, lane, exits // len(LANES), errors))
            for lane in LANES
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
        engine.stop()
    cloud.terminate()
    cloud.join(5)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if errors:
        print("errors:", errors)
        return 1
    print(
        f"exits: {len(probe.gate_ms)} on {len(LANES)} lanes in {elapsed:.1f} s "
        f"({len(probe.gate_ms) / elapsed:.0f} exits/s)"
    )
    print(
        f"payment result -> gate command: p50 {statistics.median(probe.gate_ms):.2f} ms, "
        f"p99 {pct(probe.gate_ms, 99):.2f} ms, max {max(probe.gate_ms):.2f} ms  (target p99 <= 20 ms)"
    )
    print(
        f"vehicle detected -> quote ready: p50 {statistics.median(probe.quote_ms):.2f} ms, "
        f"p99 {pct(probe.quote_ms, 99):.2f} ms  (target p99 <= 50 ms)"
    )
    print(f"tariff quotes/s: {tariff_rate():,.0f}  (target >= 50,000)")
    print(f"peak RSS of the headless engine: {rss_mb:.0f} MB  (target <= 120 MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
