"""The supervisor's lot report (#18) over a month of 1,000,000 exits across four booths, on PostgreSQL 15.

The mirrors are bulk-loaded with COPY, as four booths' pushes would have left them: each booth has an entry
and an exit lane; a car leaves at a random booth, one in ten having entered at another (then the leaving
booth holds an imported copy and the entry booth its copy closed by the pull, both ``exited``: the report
must count that exit once). Per exit: its stay, an exit order (paid, or released when nothing was due) and,
for nine cars in ten, a payment (cash, Bolink wallet/scan by WeChat or Alipay, some flagged); a few
thousand lifts and free releases; a week of the month before as well, outside the period. The lot schema
is made by ``booth lot init`` (its indexes are the ones every lot has).

Then ``build_lot_report`` over the month is timed (first run, then warm runs), and its exits and money are
checked against one SQL sum of the mirrors (printed, not asserted). No asserts: figures for docs/lot.md.
Run: .venv/bin/python benchmarks/bench_lot_report.py [exits]   (BOOTH_TEST_POSTGRES: another admin URL;
BENCH_HISTORY=3: three earlier months on the server as well)
"""

from __future__ import annotations

import os
import random
import secrets
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from booth.lot.report import build_lot_report
from booth.lot.schema import MIRRORS
from booth.lot.server import init_lot

ADMIN = os.environ.get("BOOTH_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
ZONE = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 1, tzinfo=ZONE).astimezone(UTC)
END = datetime(2026, 12, 1, tzinfo=ZONE).astimezone(UTC)
BOOTHS = ("north", "south", "east", "west")
CROSS = 0.10  # cars that entered at another booth than the one they leave by
BEFORE = 0.25  # exits of the week before the month (outside the period), per exit of the month
RUNS = 5
#: earlier months on the server besides the period's (BENCH_HISTORY=3: the period's stays and payments copied
#: three times, a month earlier each, by SQL): a lot server keeps every month, the report reads one
HISTORY = int(os.environ.get("BENCH_HISTORY", "0"))


def with_postgresql(run: Callable[[str], None]) -> None:
    import psycopg
    from psycopg import sql
    from sqlalchemy.engine import make_url

    admin = make_url(ADMIN)
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"booth_bench_lot_report_{os.getpid()}_{secrets.token_hex(4)}"
    with psycopg.connect(conninfo, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        run(admin.set(drivername="postgresql", database=name).render_as_string(hide_password=False))
    finally:
        with psycopg.connect(conninfo, autocommit=True) as connection:
            drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)")
            connection.execute(drop.format(sql.Identifier(name)))


class Loader:
    """Rows per mirror and per booth, numbered as each booth's store would number them."""

    def __init__(self) -> None:
        self.ids: dict[tuple[str, str], int] = {}
        self.rows: dict[str, list[tuple[Any, ...]]] = {
            "stays": [],
            "exit_orders": [],
            "payments": [],
            "lane_exceptions": [],
        }

    def next_id(self, table: str, booth: str) -> int:
        n = self.ids.get((table, booth), 0) + 1
        self.ids[(table, booth)] = n
        return n


def generate(exits: int, rng: random.Random) -> Iterator[tuple[str, list[tuple[Any, ...]]]]:
    """Batches of rows (table, rows) in COPY column order."""
    load = Loader()
    month = (END - START).total_seconds()
    total = exits + int(exits * BEFORE)
    pay_kinds = (
        ("cash", None, 0.30),
        ("scancode", 0, 0.30),
        ("scancode", 1, 0.25),
        ("wallet", 0, 0.05),
        ("sweepcode", 1, 0.05),
        ("prepay", 1, 0.05),
    )
    weights = [w for *_, w in pay_kinds]
    for n in range(total):
        inside = n < exits
        exit_at = (
            START + timedelta(seconds=rng.random() * month)
            if inside
            else START - timedelta(seconds=rng.random() * 7 * 86400)
        )
        entry_at = exit_at - timedelta(seconds=rng.randint(300, 6 * 3600))
        out = rng.choice(BOOTHS)
        came = rng.choice([b for b in BOOTHS if b != out]) if rng.random() < CROSS else out
        order_id = f"P{n:08d}{rng.randint(0, 9999):04d}"
        plate = f"苏A{rng.randint(0, 99999):05d}"
        exit_lane = f"{out}-X1"
        stay_id = load.next_id("stays", out)
        load.rows["stays"].append(
            (
                out,
                stay_id,
                order_id,
                plate,
                "blue",
                "small",
                f"{came}-E1",
                entry_at,
                exit_lane,
                exit_at,
                "exited",
                entry_at,
                came if came != out else None,
            )
        )
        if came != out:  # the entry booth's own stay, closed by its pull with the leaving booth's lane
            load.rows["stays"].append(
                (
                    came,
                    load.next_id("stays", came),
                    order_id,
                    plate,
                    "blue",
                    "small",
                    f"{came}-E1",
                    entry_at,
                    exit_lane,
                    exit_at,
                    "exited",
                    entry_at,
                    None,
                )
            )
        due = 0 if rng.random() < 0.1 else rng.choice((500, 1000, 1500, 2000, 3000, 4500))
        order_id_local = load.next_id("exit_orders", out)
        opened = exit_at - timedelta(seconds=40)
        payment_id = None
        if due:
            channel, pay_channel, _ = rng.choices(pay_kinds, weights)[0]
            payment_id = load.next_id("payments", out)
            flag = "late_after_settlement" if rng.random() < 0.002 else None
            trade_no = None if channel == "cash" else f"T{n:09d}"
            paid_at = exit_at - timedelta(seconds=20)
            load.rows["payments"].append(
                (
                    out,
                    payment_id,
                    stay_id,
                    order_id,
                    order_id_local,
                    channel,
                    pay_channel,
                    trade_no,
                    due,
                    paid_at,
                    exit_lane,
                    "att",
                    None,
                    flag,
                    "{}",
                    paid_at,
                )
            )
        load.rows["exit_orders"].append(
            (
                out,
                order_id_local,
                stay_id,
                exit_lane,
                opened,
                "{}",
                due,
                0,
                0,
                due,
                "paid" if due else "released",
                exit_at - timedelta(seconds=10),
                payment_id,
                None if due else "nothing_due",
                None,
                0,
            )
        )
        if rng.random() < 0.004:
            kind = rng.choice(("manual_lift", "free_release"))
            load.rows["lane_exceptions"].append(
                (
                    out,
                    load.next_id("lane_exceptions", out),
                    exit_at,
                    kind,
                    exit_lane,
                    stay_id,
                    order_id_local,
                    plate,
                    due,
                    "broken_gate",
                    "",
                    "att",
                    "boss",
                    None,
                )
            )
        if len(load.rows["stays"]) >= 50_000:
            yield from _flush(load)
    yield from _flush(load)


def _flush(load: Loader) -> Iterator[tuple[str, list[tuple[Any, ...]]]]:
    for table, rows in load.rows.items():
        if rows:
            yield table, rows
            load.rows[table] = []


def bulk_load(url: str, exits: int) -> dict[str, int]:
    import psycopg

    counts: dict[str, int] = {}
    columns = {
        t: [c.name for c in MIRRORS[t].columns]
        for t in ("stays", "exit_orders", "payments", "lane_exceptions")
    }
    with psycopg.connect(url) as connection, connection.cursor() as cursor:
        for table, rows in generate(exits, random.Random(18)):
            names = ", ".join(columns[table])
            with cursor.copy(f"COPY lot_{table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            counts[table] = counts.get(table, 0) + len(rows)
        now = datetime.now(UTC)
        for booth in BOOTHS:
            cursor.execute(
                "INSERT INTO lot_booths (booth_id, name, lanes, version, first_contact_at, last_contact_at)"
                " VALUES (%s, %s, %s, 'bench', %s, %s)",
                (booth, booth, f"{booth}-E1,{booth}-X1", now, now),
            )
        if HISTORY:
            for table, columns_at in (
                (
                    "stays",
                    {
                        "order_id": "order_id || 'h' || m",
                        "entry_at": None,
                        "exit_at": None,
                        "created_at": None,
                    },
                ),
                ("payments", {"paid_at": None}),
            ):
                every = [c.name for c in MIRRORS[table].columns]
                shifted = {
                    name: expr or f"{name} - m * interval '31 days'" for name, expr in columns_at.items()
                }
                values = ", ".join("id + m * 10000000" if n == "id" else shifted.get(n, n) for n in every)
                cursor.execute(
                    f"INSERT INTO lot_{table} ({', '.join(every)}) SELECT {values} FROM lot_{table},"
                    f" generate_series(1, {HISTORY}) AS m WHERE id < 10000000"
                )
                counts[f"{table} (earlier months)"] = cursor.rowcount
        connection.commit()
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")
    return counts


def oracle(url: str) -> tuple[int, int, int]:
    """Exits (distinct order ids left in the month), payments and their sum, by one SQL query each."""
    import psycopg

    with psycopg.connect(url) as connection:
        exits = connection.execute(
            "SELECT count(DISTINCT order_id) FROM lot_stays WHERE state = 'exited' AND exit_at >= %s"
            " AND exit_at < %s",
            (START, END),
        ).fetchone()
        paid = connection.execute(
            "SELECT count(*), sum(amount_fen) FROM lot_payments WHERE paid_at >= %s AND paid_at < %s",
            (START, END),
        ).fetchone()
    assert exits is not None and paid is not None
    return int(exits[0]), int(paid[0]), int(paid[1])


def explain(url: str) -> None:
    """The plan of the report's biggest query (the exits), to see which index it takes."""
    import psycopg

    with psycopg.connect(url) as connection:
        plan = connection.execute(
            "EXPLAIN (ANALYZE, TIMING OFF) SELECT booth_id, state, exit_lane, count(*) FROM lot_stays"
            " WHERE exit_at >= %s AND exit_at < %s AND state IN ('exited', 'cancelled') GROUP BY 1, 2, 3",
            (START, END),
        ).fetchall()
    for (line,) in plan:
        print("   ", line)


def run(url: str, exits: int) -> None:
    t0 = time.perf_counter()
    init_lot(url)
    counts = bulk_load(url, exits)
    loaded = time.perf_counter() - t0
    print(
        f"loaded in {loaded:.0f} s (COPY, then VACUUM ANALYZE): "
        + ", ".join(f"lot_{t} {n:,}" for t, n in counts.items())
    )
    times = []
    report = None
    for _ in range(RUNS):
        began = time.perf_counter()
        report = build_lot_report(url, START, END, ZONE)
        times.append(time.perf_counter() - began)
    assert report is not None
    exits_sql, payments_sql, fen_sql = oracle(url)
    print(
        f"lot report, a month ({exits:,} exits, {len(BOOTHS)} booths): first {times[0]:.2f} s, then "
        f"median {statistics.median(times[1:]):.2f} s, max {max(times[1:]):.2f} s over {RUNS - 1} runs"
    )
    t = report.total
    print(
        f"  report: exits {t.exits:,}, payments {t.payment_count:,}, {t.total_fen:,} fen; "
        f"SQL: exits {exits_sql:,}, payments {payments_sql:,}, {fen_sql:,} fen; "
        + (
            "equal"
            if (t.exits, t.payment_count, t.total_fen) == (exits_sql, payments_sql, fen_sql)
            else "DIFFERENT"
        )
    )
    for f in report.booths:
        print(
            f"  {f.booth_id:6} exits {f.exits:>8,}  entries {f.entries:>8,}  {f.total_fen / 100:>14,.2f} yuan"
        )
    print("the exits' query plan:")
    explain(url)


def main() -> None:
    exits = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    load = os.getloadavg()
    loads = " ".join(f"{x:.1f}" for x in load)
    print(f"machine: {os.cpu_count()} cores, load average {loads} at the start")
    with_postgresql(lambda url: run(url, exits))


if __name__ == "__main__":
    main()
