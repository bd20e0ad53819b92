"""How long a report takes to build: a shift of 100,000 exits (target <= 1 s) and a month of 1,000,000
(target <= 10 s). With ``--year-month-exits N``, also a year of N exits a month archived by [retention]
(months_online = 2: ten months go to the yearly file): the reports of an archived month, of a period across
the archive and the database, and of the whole year, before and after archiving (they must be equal), and
how long the archiving took.

The rows are bulk-inserted straight into a temporary SQLite file made by open_database (the real schema and
indexes), in the store's own storage format, not through the engine: mixed channels and pay channels, a
share of free releases, manual lifts, failed payments, late payments, missed exits and cars still in the
lot. Each build is timed three times; the best and the median are printed.

    .venv/bin/python benchmarks/bench_report.py [--month-exits N] [--shift-exits N] [--year-month-exits N]
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import random
import sqlite3
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

from booth.config import RetentionSettings, Settings, settings_from_mapping
from booth.office.reports import Report, build_period_report, build_shift_report
from booth.store import Store, open_database
from booth.store.archive import archive_old_months, archive_path

CHANNELS = [
    ("cash", None),
    ("scancode", 0),
    ("scancode", 1),
    ("wallet", 2),
    ("sweepcode", 3),
    ("sweepcode", 1),
]
BATCH = 50_000


def _ts(at: datetime) -> str:
    """The store's SQLite form of an aware UTC timestamp (SQLAlchemy's DATETIME text, naive UTC)."""
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def settings_for(path: Path) -> Settings:
    return settings_from_mapping(
        {
            "park": {"name": "基准停车场", "province": "苏"},
            "bolink": {"base_url": "sandbox", "union_id": "1", "park_id": "1", "ukey": "k", "local_id": "b"},
            "lanes": [{"id": "X1", "name": "出口", "direction": "exit", "channel_id": "X1"}],
            "database": {"url": f"sqlite:///{path}"},
        }
    )


def fill(path: Path, start: datetime, end: datetime, exits: int, seed: int) -> None:
    """`exits` exits spread over [start, end), with their stays, exit orders, payments and the rest."""
    rng = random.Random(seed)
    con = sqlite3.connect(path)
    try:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=OFF")
        base = con.execute("SELECT COALESCE(MAX(id), 0) FROM stays").fetchone()[0]
        span = (end - start).total_seconds()
        for first in range(0, exits, BATCH):
            stays: list[tuple[object, ...]] = []
            orders: list[tuple[object, ...]] = []
            payments: list[tuple[object, ...]] = []
            exceptions: list[tuple[object, ...]] = []
            audits: list[tuple[object, ...]] = []
            outbox: list[tuple[object, ...]] = []
            for n in range(first, min(first + BATCH, exits)):
                sid = base + n + 1
                out_at = start + timedelta(seconds=span * (n + rng.random()) / exits)
                in_at = out_at - timedelta(minutes=rng.randint(5, 600))
                plate = f"苏A{sid % 100000:05d}"
                kind = rng.random()
                state = "cancelled" if kind < 0.002 else ("in_lot" if kind < 0.004 else "exited")
                exit_at = None if state == "in_lot" else _ts(out_at)
                stays.append(
                    (
                        sid,
                        f"X1_{sid}",
                        plate,
                        "blue",
                        "small",
                        "E1",
                        _ts(in_at),
                        "X1",
                        exit_at,
                        state,
                        _ts(in_at),
                    )
                )
                due = rng.choice((500, 1000, 1500, 2000, 3000, 4500))
                settled = "released" if 0.004 <= kind < 0.03 else "paid"
                orders.append(
                    (
                        sid,
                        sid,
                        "X1",
                        _ts(out_at - timedelta(seconds=30)),
                        "{}",
                        due,
                        0,
                        0,
                        due,
                        settled,
                        _ts(out_at),
                        None if settled == "released" or state == "cancelled" else sid * 2,  # (no payment)
                        None,
                        None,
                    )
                )
                if settled == "paid" and state != "cancelled":
                    channel, pay_channel = rng.choice(CHANNELS)
                    paid_at = out_at - timedelta(seconds=5)
                    payments.append(
                        (
                            sid * 2,
                            sid,
                            f"X1_{sid}",
                            sid,
                            channel,
                            pay_channel,
                            None if channel == "cash" else f"T{sid}",
                            due,
                            _ts(paid_at),
                            "X1",
                            "zhang",
                            None,
                            None,
                            "{}",
                            _ts(paid_at),
                        )
                    )
                    if kind > 0.998:  # a late payment after the car left
                        late = out_at + timedelta(seconds=90)
                        payments.append(
                            (
                                sid * 2 + 1,
                                sid,
                                f"X1_{sid}",
                                sid,
                                "scancode",
                                1,
                                f"L{sid}",
                                due,
                                _ts(late),
                                "X1",
                                "bolink",
                                None,
                                "late_after_settlement",
                                "{}",
                                _ts(late),
                            )
                        )
                if settled == "released":
                    exceptions.append(
                        (
                            _ts(out_at),
                            "free_release" if kind < 0.02 else "manual_lift",
                            "X1",
                            sid,
                            sid,
                            plate,
                            due,
                            "员工车辆",
                            "",
                            "zhang",
                            None,
                            None,
                        )
                    )
                if 0.03 <= kind < 0.035:
                    audits.append(
                        (
                            _ts(out_at - timedelta(seconds=20)),
                            "zhang",
                            "payment_failed",
                            json.dumps(
                                {
                                    "lane_id": "X1",
                                    "order_ref": f"X1_{sid}",
                                    "amount_fen": due,
                                    "pay_type": "scancode",
                                    "errmsg": "余额不足",
                                    "plate": plate,
                                }
                            ),
                        )
                    )
                if kind > 0.999:
                    outbox.append(
                        (
                            sid,
                            "alipay",
                            "order_sync",
                            "{}",
                            f"bench:{sid}",
                            "pending",
                            1,
                            _ts(out_at),
                            None,
                            _ts(out_at),
                            None,
                        )
                    )
            con.executemany(
                "INSERT INTO stays (id, order_id, plate, plate_colour, vehicle_class, entry_lane, entry_at, "
                "exit_lane, exit_at, state, created_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                stays,
            )
            con.executemany(
                "INSERT INTO exit_orders (id, stay_id, lane_id, opened_at, quote_json, gross_fen, "
                "paid_before_fen, discount_fen, due_fen, state, settled_at, settled_by, release_reason, "
                "released_by) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                orders,
            )
            con.executemany(
                "INSERT INTO payments (id, stay_id, order_ref, exit_order_id, channel, pay_channel, "
                "trade_no, amount_fen, paid_at, lane_id, operator, payer_id, flag, raw_json, created_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                payments,
            )
            con.executemany(
                "INSERT INTO lane_exceptions (at, kind, lane_id, stay_id, exit_order_id, plate, due_fen, "
                "reason, note, operator, approved_by, photo) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                exceptions,
            )
            con.executemany("INSERT INTO audit_log (at, actor, action, detail_json) VALUES (?,?,?,?)", audits)
            con.executemany(
                "INSERT INTO outbox (stay_id, cloud, kind, payload_json, dedupe_key, state, attempts, "
                "next_attempt_at, last_error, created_at, sent_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                outbox,
            )
            con.commit()
        con.execute("ANALYZE")
        con.commit()
    finally:
        con.close()


def add_shift(path: Path, opened: datetime, closed: datetime) -> int:
    con = sqlite3.connect(path)
    try:
        con.execute(
            "INSERT INTO people (username, display_name, role, pin_hash, failed_pins, created_at, "
            "created_by) VALUES ('zhang', '张三', 'attendant', 'x', 0, ?, 'bench')",
            (_ts(opened),),
        )
        cursor = con.execute(
            "INSERT INTO shifts (attendant_id, state, opened_at, opening_float_fen, closed_at, counted_json, "
            "counted_fen, expected_fen, variance_fen, handover_float_fen, close_note) "
            "VALUES (1, 'closed', ?, 50000, ?, '{\"10000\": 5}', 50000, 50100, -100, 50000, '')",
            (_ts(opened), _ts(closed)),
        )
        con.commit()
        return int(cursor.lastrowid or 0)
    finally:
        con.close()


def timed(build: Callable[[], Report], runs: int = 3) -> tuple[list[float], Report]:
    times: list[float] = []
    report: Report | None = None
    for _ in range(runs):
        t = time.perf_counter()
        report = build()
        times.append(time.perf_counter() - t)
    assert report is not None
    return times, report


def lane_writes(store: Store, stop: threading.Event, waits: list[float]) -> None:
    """A lane's writes while the archive runs: one audit row at a time through the store (BEGIN IMMEDIATE
    under the 5 s busy timeout, as the engine's database thread writes), each one's time in ms."""
    while not stop.is_set():
        started = time.perf_counter()
        store.audit(actor="bench", action="bench_write", detail={"n": len(waits)}, at=datetime.now(UTC))
        waits.append((time.perf_counter() - started) * 1000)
        time.sleep(0.005)


def year_with_archive(tmp: Path, per_month: int) -> None:
    """A year (December 2025 to November 2026, UTC+8) of `per_month` exits a month; the reports before and
    after [retention] months_online = 2 moved ten months to booth-archive-2025/2026.sqlite."""
    path, folder = tmp / "year.sqlite", tmp / "archive"
    settings = settings_for(path).model_copy(
        update={"retention": RetentionSettings(months_online=2, archive_folder=str(folder))}
    )
    open_database(settings.database.url).close()
    zone = settings.park.zone
    months = [datetime(2025, 12, 1, tzinfo=zone)] + [datetime(2026, m, 1, tzinfo=zone) for m in range(1, 13)]
    t = time.perf_counter()
    for n, (a, b) in enumerate(itertools.pairwise(months)):
        fill(path, a, b, per_month, seed=100 + n)
    generated = time.perf_counter() - t
    size_before = path.stat().st_size
    periods = {
        "archived month (2026-03)": (datetime(2026, 3, 1, tzinfo=zone), datetime(2026, 4, 1, tzinfo=zone)),
        "across (09-15 to 10-15)": (datetime(2026, 9, 15, tzinfo=zone), datetime(2026, 10, 15, tzinfo=zone)),
        "the year": (months[0], months[-1]),
    }
    db = open_database(settings.database.url)
    try:
        before = {k: timed(partial(build_period_report, db, settings, a, b)) for k, (a, b) in periods.items()}
        store, stop, waits = Store(db), threading.Event(), list[float]()
        writer = threading.Thread(target=lane_writes, args=(store, stop, waits), name="bench-lane-writes")
        writer.start()
        try:
            t = time.perf_counter()
            result = archive_old_months(path, 2, folder, zone, now=datetime(2026, 11, 20, tzinfo=zone))
            archived = time.perf_counter() - t
        finally:
            stop.set()
            writer.join()
        after = {k: timed(partial(build_period_report, db, settings, a, b)) for k, (a, b) in periods.items()}
    finally:
        db.close()
    files = [archive_path(folder, y) for y in (2025, 2026)]
    print(
        f"year: {12 * per_month:,} exits ({size_before / 1e6:.0f} MB, generated in {generated:.1f} s); "
        f"archived {result.total:,} rows of {len(result.months)} months in {archived:.1f} s "
        f"({archived / max(len(result.months), 1):.1f} s a month); database file now "
        f"{path.stat().st_size / 1e6:.0f} MB (pages freed, not shrunk), archive "
        + ", ".join(f"{f.name} {f.stat().st_size / 1e6:.0f} MB" for f in files if f.exists())
    )
    q = statistics.quantiles(waits, n=100) if len(waits) > 1 else [0.0] * 99
    print(
        f"    lane writes meanwhile (BEGIN IMMEDIATE, one audit row each, back to back): {len(waits):,}, "
        f"p50 {q[49]:.1f} ms, p99 {q[98]:.1f} ms, worst {max(waits, default=0):.0f} ms"
    )
    same = dataclasses.replace
    when = datetime(2000, 1, 1, tzinfo=UTC)
    for k in periods:
        (t0, r0), (t1, r1) = before[k], after[k]
        equal = same(r0, generated_at=when) == same(r1, generated_at=when)
        print(
            f"    {k}: {r1.payment_count:,} payments, total {r1.total_fen / 100:,.2f} yuan; median "
            f"{statistics.median(t0):.3f} s before, {statistics.median(t1):.3f} s with the archive; "
            f"{'the same report' if equal else 'REPORTS DIFFER'}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--shift-exits", type=int, default=100_000)
    parser.add_argument("--month-exits", type=int, default=1_000_000)
    parser.add_argument(
        "--year-month-exits", type=int, default=0, help="also a year at this many exits a month, archived"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="booth-bench-report-") as tmp:
        if args.year_month_exits:
            year_with_archive(Path(tmp), args.year_month_exits)
        for label, exits, days, target in (
            ("shift", args.shift_exits, None, 1.0),
            ("month", args.month_exits, 30, 10.0),
        ):
            path = Path(tmp) / f"{label}.sqlite"
            settings = settings_for(path)
            open_database(settings.database.url).close()  # the real schema and indexes
            start = datetime(2026, 11, 1, tzinfo=UTC) - timedelta(hours=8)  # local midnight (UTC+8)
            end = start + (timedelta(hours=8) if days is None else timedelta(days=days))
            t = time.perf_counter()
            fill(path, start, end, exits, seed=5)
            generated = time.perf_counter() - t
            db = open_database(settings.database.url)
            try:
                if days is None:
                    shift_id = add_shift(path, start, end)
                    times, report = timed(partial(build_shift_report, db, settings, shift_id))
                else:
                    times, report = timed(partial(build_period_report, db, settings, start, end))
            finally:
                db.close()
            best, median = min(times), statistics.median(times)
            print(
                f"{label}: {exits:,} exits ({path.stat().st_size / 1e6:.0f} MB, "
                f"generated in {generated:.1f} s): "
                f"report built in best {best:.3f} s, median {median:.3f} s "
                f"(runs {', '.join(f'{x:.3f}' for x in times)}; target <= {target:g} s: "
                f"{'OK' if median <= target else 'MISSED'})"
            )
            print(
                f"    {report.payment_count:,} payments, total {report.total_fen / 100:,.2f} yuan, "
                f"{report.vehicles_out:,} out, {sum(c.count for c in report.exception_totals):,} exceptions, "
                f"{report.failed_payments.total:,} failed, {report.late_payments.total:,} late, "
                f"{report.exited_unpaid.total:,} exited unpaid, "
                f"{report.paid_not_exited.total:,} paid not exited"
            )


if __name__ == "__main__":
    main()
