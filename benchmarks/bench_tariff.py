"""Tariff throughput over a realistic exit-lane mix; prints ``tariff quotes/s: N`` (target: >= 50,000).

The mix: mostly short day stays, some crossing the day/night switch, some overnight and multi-day stays
under daily caps, and a few monthly-pass, whitelist and free-minute exits; one large tariff with a
thousand monthly passes so plate look-ups are realistic. Run: ``.venv/bin/python benchmarks/bench_tariff.py``.
"""

from __future__ import annotations

import argparse
import random
import time
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from booth.domain.tariff import TariffSettings, quote_fee

TZ = ZoneInfo("Asia/Shanghai")

TARIFF = TariffSettings.model_validate(
    {
        "free_minutes": 15,
        "grace_minutes": 15,
        "cap_window": "rolling_24h",
        "classes": {
            "small": {
                "first_period_minutes": 60,
                "first_period_price": "5.00",
                "period_minutes": 30,
                "period_price": "2.00",
                "daily_cap": "40.00",
                "night": {
                    "start": "20:00",
                    "end": "08:00",
                    "period_minutes": 60,
                    "period_price": "1.00",
                    "cap": "10.00",
                },
            },
            "large": {
                "first_period_minutes": 60,
                "first_period_price": "10.00",
                "period_minutes": 30,
                "period_price": "4.00",
                "daily_cap": "80.00",
            },
        },
        "monthly": [
            {"plate": f"京M{i:05d}", "valid_from": "2024-01-01", "valid_to": "2024-12-31"}
            for i in range(1000)
        ],
        "whitelist": [f"京W{i:05d}" for i in range(100)],
    }
)


# weight, plate prefix, first and last entry hour, shortest and longest stay in minutes
_KINDS = [
    (55, "京A", 7, 17, 16, 240),  # short day stays
    (5, "京A", 7, 20, 0, 15),  # within the free minutes
    (15, "京A", 17, 21, 60, 360),  # crossing the day/night switch
    (12, "京A", 0, 23, 600, 1400),  # overnight
    (7, "京A", 0, 23, 1440 * 2, 1440 * 4),  # multi-day under daily caps
    (4, "京M", 0, 23, 30, 2000),  # monthly pass (some expiring during the stay)
    (2, "京W", 0, 23, 30, 600),  # whitelist
]


def _mix(count: int, seed: int) -> list[dict[str, Any]]:
    """Quote inputs drawn from _KINDS; one in ten paid in the app a little before leaving."""
    rng = random.Random(seed)
    day0 = datetime(2024, 11, 1, tzinfo=TZ)
    picks = rng.choices(_KINDS, weights=[kind[0] for kind in _KINDS], k=count)
    cases: list[dict[str, Any]] = []
    for _, prefix, first_hour, last_hour, shortest, longest in picks:
        entry = day0 + timedelta(
            days=rng.randrange(75), hours=rng.randint(first_hour, last_hour), seconds=rng.randrange(3600)
        )
        exit_ = entry + timedelta(minutes=rng.randint(shortest, longest), seconds=rng.randrange(60))
        paid: dict[str, Any] = {}
        if rng.random() < 0.1:
            paid = {
                "paid_fen": 500,
                "last_paid_at": max(entry, exit_ - timedelta(minutes=rng.randint(1, 30))),
            }
        cases.append(
            {
                "plate": f"{prefix}{rng.randrange(100 if prefix == '京W' else 1000):05d}",
                "colour": "yellow" if rng.random() < 0.1 else "blue",
                "entry": entry,
                "exit": exit_,
                "tz": TZ,
                **paid,
            }
        )
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quotes", type=int, default=20_000, help="quotes per round")
    parser.add_argument("--rounds", type=int, default=5, help="the best round is reported")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    cases = _mix(args.quotes, args.seed)
    best = float("inf")
    due = 0
    for _ in range(args.rounds):
        started = time.perf_counter()
        for case in cases:
            due += quote_fee(TARIFF, **case).due_fen
        best = min(best, time.perf_counter() - started)
    print(f"quotes per round: {len(cases)}, rounds: {args.rounds} (best shown), total due: {due} fen")
    print(f"tariff quotes/s: {round(len(cases) / best)}")


if __name__ == "__main__":
    main()
