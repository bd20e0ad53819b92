"""A backup does not stall the lanes: write latency of the store while `booth backup` copies the database.

A database of ROWS audit rows (about 1 KB each) is made; a writer thread then books one audit row at a time
through the store (BEGIN IMMEDIATE, WAL, synchronous=FULL: as the engine's database thread writes), first
alone, then while backups run back to back on another thread (SQLite's online backup API in one read snapshot,
integrity check, as `booth backup` and the [backup] schedule do). Printed: the backup's size and time, and the
writer's p50 / p99 / max latency in both phases. Run: .venv/bin/python benchmarks/bench_backup.py [ROWS]
"""

from __future__ import annotations

import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from booth.store import Store, open_database
from booth.store.backup import backup_database


def make_database(path: Path, rows: int) -> None:
    open_database(f"sqlite:///{path}").close()
    raw = sqlite3.connect(path)
    try:
        detail = '{"pad": "' + "x" * 1000 + '"}'
        raw.executemany(
            "INSERT INTO audit_log (at, actor, action, detail_json) VALUES (?, 'bench', 'filler', ?)",
            ((datetime.now(UTC).isoformat(sep=" "), detail) for _ in range(rows)),
        )
        raw.commit()
    finally:
        raw.close()


def write_latencies(store: Store, seconds: float) -> list[float]:
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        started = time.perf_counter()
        store.audit(actor="bench", action="write", detail={"n": len(latencies)}, at=datetime.now(UTC))
        latencies.append((time.perf_counter() - started) * 1000)
    return latencies


def describe(name: str, latencies: list[float]) -> str:
    q = statistics.quantiles(latencies, n=100)
    worst = max(latencies)
    return f"{name}: {len(latencies)} writes, p50 {q[49]:.2f} ms, p99 {q[98]:.2f} ms, max {worst:.2f} ms"


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    with tempfile.TemporaryDirectory(prefix="bench-backup-") as folder:
        path = Path(folder) / "booth.sqlite"
        make_database(path, rows)
        url = f"sqlite:///{path}"
        print(f"database: {rows} rows, {path.stat().st_size / 1e6:.0f} MB")
        with open_database(url) as database:
            store = Store(database)
            alone = write_latencies(store, 3.0)
            stop = threading.Event()
            copies: list[tuple[float, int]] = []

            def back_up() -> None:
                n = 0
                while not stop.is_set():
                    result = backup_database(url, Path(folder) / f"copy{n % 2}.sqlite")
                    copies.append((result.seconds, result.size_bytes))
                    n += 1

            copier = threading.Thread(target=back_up, name="bench-backup")
            copier.start()
            try:
                during = write_latencies(store, 6.0)
            finally:
                stop.set()
                copier.join()
        seconds = [s for s, _ in copies]
        print(
            f"backup: {len(copies)} copies of {copies[-1][1] / 1e6:.0f} MB, "
            f"{statistics.median(seconds):.2f} s each (median), integrity-checked"
        )
        print(describe("writes alone        ", alone))
        print(describe("writes during backup", during))


if __name__ == "__main__":
    main()
