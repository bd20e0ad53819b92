"""The tariff over many stays: the fee never falls as a stay grows, agrees with an independent reading of the
rules minute by minute, and every line carries its phrase. Tariffs as in test_tariff.py."""

from __future__ import annotations

import math
import random
from collections import defaultdict
from datetime import datetime, timedelta

import pytest

from booth.domain.tariff import TariffSettings, quote_fee
from tests.test_tariff import NIGHT, PLAIN, SMALL, TZ, WITH_NIGHT, at, capped, quote, settings

# --- properties over many stays -------------------------------------------------------------------------

VARIANTS = {
    "plain": PLAIN,
    "night": WITH_NIGHT,
    "rolling": capped("rolling_24h"),
    "calendar_night": settings(
        cap_window="calendar_day",
        classes={"small": {**SMALL, "period_minutes": 25, "daily_cap": "35.00", "night": NIGHT}},
    ),
    "rolling_night_in_day": settings(
        classes={
            "small": {
                **SMALL,
                "daily_cap": "30.00",
                "night": {**NIGHT, "start": "01:30", "end": "05:45", "period_minutes": 45},
            }
        },
    ),
}


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_fee_never_falls_as_the_stay_grows(name: str) -> None:
    tariff = VARIANTS[name]
    entry = at("2024-05-01 18:47:23")
    previous = 0
    for minutes in range(0, 3 * 1440 + 120, 7):
        gross = quote(tariff, entry, entry + timedelta(minutes=minutes, seconds=11)).gross_fen
        assert gross >= previous, f"{name}: {minutes} min costs {gross} < {previous}"
        previous = gross


def _reference_gross(tariff: TariffSettings, entry: datetime, exit: datetime) -> int:
    """An independent, slow reading of the documented rules: walk the stay minute by minute."""
    prices = tariff.classes["small"]
    night = prices.night
    minutes = math.ceil((exit - entry).total_seconds() / 60)
    if minutes <= tariff.free_minutes:
        return 0
    per_window: dict[object, int] = defaultdict(int)
    band_start, band_is_night, night_spent = 0, None, 0
    for m in range(minutes):
        local = (entry + timedelta(minutes=m)).astimezone(TZ)
        of_day = local.hour * 60 + local.minute
        is_night = night is not None and (
            night.start <= of_day < night.end
            if night.start < night.end
            else not night.end <= of_day < night.start
        )
        if is_night != band_is_night:
            band_start, band_is_night, night_spent = m, is_night, 0
        into = m - band_start
        fen = 0
        if night is not None and is_night:
            if into % night.period_minutes == 0:
                fen = night.period_price
                if night.cap is not None:
                    fen = min(fen, night.cap - night_spent)
                    night_spent += fen
        elif band_start == 0 and prices.first_period_minutes:
            if into == 0:
                fen = prices.first_period_price
            elif (
                into >= prices.first_period_minutes
                and (into - prices.first_period_minutes) % prices.period_minutes == 0
            ):
                fen = prices.period_price
        elif into % prices.period_minutes == 0:
            fen = prices.period_price
        window = m // 1440 if tariff.cap_window == "rolling_24h" else local.date()
        per_window[window] += fen
    cap = prices.daily_cap
    return sum(fen if cap is None else min(fen, cap) for fen in per_window.values())


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_agrees_with_a_minute_by_minute_reading(name: str) -> None:
    tariff = VARIANTS[name]
    rng = random.Random(name)
    for _ in range(25):
        entry = at("2024-05-01 00:00") + timedelta(
            minutes=rng.randrange(30 * 1440), seconds=rng.randrange(60)
        )
        exit = entry + timedelta(
            minutes=rng.choice([rng.randrange(16, 600), rng.randrange(600, 3 * 1440 + 300)]),
            seconds=rng.randrange(60),
        )
        assert quote(tariff, entry, exit).gross_fen == _reference_gross(tariff, entry, exit), (
            name,
            entry,
            exit,
        )


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_every_line_carries_its_phrase(name: str) -> None:
    """Each line is also a "tariff.*" phrase for a screen that translates; its text is the label."""
    tariff = VARIANTS[name]
    rng = random.Random(f"phrases {name}")
    codes: set[str] = set()
    for _ in range(20):
        entry = at("2024-05-01 00:00") + timedelta(minutes=rng.randrange(30 * 1440))
        exit = entry + timedelta(minutes=rng.choice([5, rng.randrange(16, 600), rng.randrange(600, 4000)]))
        result = quote_fee(tariff, plate="苏A12345", colour="blue", entry=entry, exit=exit, tz=TZ,
                           paid_fen=rng.choice([0, 300, 99999]), discount_fen=rng.choice([0, 200]),
                           last_paid_at=exit - timedelta(minutes=rng.choice([0, 5])))
        for line in result.lines:
            assert line.phrase is not None and line.phrase.code.startswith("tariff."), line
            assert line.label == line.phrase.text
            codes.add(line.phrase.code)
    assert codes
