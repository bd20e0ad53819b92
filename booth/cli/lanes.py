"""``booth lanes stats [--config FILE]``: each lane's figures over the last hour, day and week (cars out per
hour, payment → gate p50/p99, gate faults, manual lifts, free releases, camera push → quote p50/p99, the
lane's Bolink round trip p50/p99), from the rows the lanes keep anyway and the timings the engine keeps (see
booth.office.lane_figures). Reads the database only; works while the booth runs."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

from booth.config import ConfigError

WINDOWS = (
    ("last hour", timedelta(hours=1)),
    ("last day", timedelta(days=1)),
    ("last week", timedelta(days=7)),
)


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    lanes = subparsers.add_parser(
        "lanes", help="per-lane figures: cars per hour, payment to gate, camera to quote, Bolink, faults"
    )
    sub = lanes.add_subparsers(dest="lanes_command", required=True)
    stats = sub.add_parser("stats", help="each lane over the last hour, day and week")
    stats.add_argument("--config", metavar="FILE", dest="sub_config", help="settings file")
    stats.set_defaults(handler=_stats)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f} ms"


def _stats(args: argparse.Namespace) -> int:
    from booth.cli.demo import load_for_command
    from booth.office.lane_figures import lane_figures
    from booth.store import StoreError, open_database

    try:
        settings = load_for_command(args.sub_config or getattr(args, "config", None), bool(args.demo))
        database = open_database(settings.database.url)
    except (ConfigError, StoreError) as exc:
        print(exc, file=sys.stderr)
        return 1
    now = datetime.now(UTC)
    names = {lane.id: lane.name for lane in settings.lanes}
    try:
        for title, span in WINDOWS:
            figures = lane_figures(database, now - span, now)
            print(f"{title}:")
            if not figures:
                print("  no lane activity")
                continue
            print(f"  {'lane':<12} {'cars/h':>7} {'cars':>6} {'pay→gate p50':>13} {'p99':>8} "
                  f"{'gate faults':>11} {'lifts':>6} {'free':>5} {'cam→quote p50':>14} {'p99':>8} "
                  f"{'Bolink p50':>11} {'p99':>8}")  # fmt: skip
            for f in figures:
                label = f"{f.lane_id} {names.get(f.lane_id, '')}".strip()
                timing = f"{_ms(f.pay_to_gate_p50_ms):>13} {_ms(f.pay_to_gate_p99_ms):>8}"
                camera = f"{_ms(f.camera_to_quote_p50_ms):>14} {_ms(f.camera_to_quote_p99_ms):>8}"
                bolink = f"{_ms(f.bolink_p50_ms):>11} {_ms(f.bolink_p99_ms):>8}"
                print(
                    f"  {label:<12} {f.cars_per_hour:>7.1f} {f.cars_out:>6} {timing} "
                    f"{f.gate_faults:>11} {f.manual_lifts:>6} {f.free_releases:>5} {camera} {bolink}"
                )
    finally:
        database.close()
    return 0
