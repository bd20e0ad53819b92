"""The tariff: golden quotes at every edge, each expected amount worked out by hand in its comment.

Tariffs used below (fen in the comments, 100 fen = 1 yuan):
  PLAIN       small: first 60 min 5.00, then every 30 min 2.00; large: first 60 min 10.00, then 30 min 4.00;
              free 15 min (charged in full once exceeded), grace 15 min, no caps, no night band.
  WITH_NIGHT  small as PLAIN by day, night 20:00-08:00 every 60 min 1.00, at most 5.00 per night.
  capped(w)   small as PLAIN with a daily cap of 30.00 per window w.
"""

from __future__ import annotations

import math
import random
import tomllib
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from booth.domain.tariff import (
    MAX_STAY_DAYS,
    Quote,
    QuoteLine,
    TariffError,
    TariffSettings,
    add_arrears,
    quote_fee,
    vehicle_class_for,
)

TZ = ZoneInfo("Asia/Shanghai")

SMALL = {
    "first_period_minutes": 60,
    "first_period_price": "5.00",
    "period_minutes": 30,
    "period_price": "2.00",
}
LARGE = {
    "first_period_minutes": 60,
    "first_period_price": "10.00",
    "period_minutes": 30,
    "period_price": "4.00",
}
NIGHT = {"start": "20:00", "end": "08:00", "period_minutes": 60, "period_price": "1.00", "cap": "5.00"}


def settings(**section: Any) -> TariffSettings:
    """A [tariff] section as the TOML would give it; the classes given replace PLAIN's (large stays)."""
    section["classes"] = {"small": SMALL, "large": LARGE, **section.get("classes", {})}
    return TariffSettings.model_validate(section)


PLAIN = settings()
WITH_NIGHT = settings(classes={"small": {**SMALL, "night": NIGHT}, "large": LARGE})


def capped(window: str, **small: Any) -> TariffSettings:
    return settings(
        cap_window=window, classes={"small": {**SMALL, "daily_cap": "30.00", **small}, "large": LARGE}
    )


def at(when: str | datetime) -> datetime:
    return when if isinstance(when, datetime) else datetime.fromisoformat(when).replace(tzinfo=TZ)


def quote(
    tariff: TariffSettings,
    entry: str | datetime,
    exit: str | datetime,
    *,
    plate: str = "京A12345",
    colour: str = "blue",
    **kwargs: Any,
) -> Quote:
    result = quote_fee(tariff, plate=plate, colour=colour, entry=at(entry), exit=at(exit), tz=TZ, **kwargs)
    # The documented invariants, checked on every quote in this file.
    assert sum(line.fen for line in result.lines) == result.due_fen
    assert result.due_fen >= 0
    return result


# --- minutes and periods --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "exit", "minutes", "fen", "rule"),
    [
        ("2024-05-01 09:00:00", "2024-05-01 09:00:00", 0, 0, "free_minutes"),  # no time at all
        ("2024-05-01 09:00:00", "2024-05-01 09:15:00", 15, 0, "free_minutes"),  # exactly the free 15 min
        # 15 min 1 s = 16 started minutes, more than the free 15: the first period, 500
        ("2024-05-01 09:00:00", "2024-05-01 09:15:01", 16, 500, "charged"),
        ("2024-05-01 09:00:00", "2024-05-01 10:00:00", 60, 500, "charged"),  # exactly the first period: 500
        ("2024-05-01 09:00:00", "2024-05-01 10:00:01", 61, 700, "charged"),  # 500 + 1 started period 200
        ("2024-05-01 09:00:00", "2024-05-01 10:30:00", 90, 700, "charged"),  # 500 + 1 x 200
        ("2024-05-01 09:00:00", "2024-05-01 10:30:01", 91, 900, "charged"),  # 500 + 2 x 200
        ("2024-05-01 09:00:00", "2024-05-01 12:00:00", 180, 1300, "charged"),  # 500 + (120/30 = 4) x 200
        ("2024-05-01 09:00:30", "2024-05-01 10:00:29", 60, 500, "charged"),  # 59 min 59 s -> 60 started min
        ("2024-05-01 09:00:30", "2024-05-01 10:00:30.000001", 61, 700, "charged"),  # 60 min + 1 us -> 61
        # midnight changes nothing without a night band or calendar cap: 75 min = 500 + 1 x 200
        ("2024-05-01 23:30:00", "2024-05-02 00:45:00", 75, 700, "charged"),
    ],
)
def test_minute_and_period_boundaries(entry: str, exit: str, minutes: int, fen: int, rule: str) -> None:
    result = quote(PLAIN, entry, exit)
    assert result.duration_minutes == minutes
    assert (result.gross_fen, result.due_fen, result.rule) == (fen, fen, rule)


def test_simple_quote_lines_and_fields() -> None:
    result = quote(PLAIN, "2024-05-01 09:00", "2024-05-01 10:30:01")
    # 91 min: first 60 min 500, then ceil(31/30) = 2 periods x 200 = 400.
    assert result.lines == (QuoteLine("首60分钟", 500), QuoteLine("续2个30分钟×2.00元", 400))
    assert result.entry == at("2024-05-01 09:00") and result.exit == at("2024-05-01 10:30:01")
    assert result.entry.tzinfo is TZ
    assert (result.vehicle_class, result.paid_fen, result.discount_fen) == ("small", 0, 0)


def test_free_minutes_not_charged_when_configured() -> None:
    tariff = settings(charge_free_minutes_when_exceeded=False)
    assert quote(tariff, "2024-05-01 09:00", "2024-05-01 09:15").due_fen == 0  # still free: 15 <= 15
    # 16 min: the first 15 are free, 1 charged minute starts a first period: 500.
    assert quote(tariff, "2024-05-01 09:00", "2024-05-01 09:16").due_fen == 500
    # 75 min: 60 charged minutes = exactly the first period: 500 (charged in full it would be 500+200=700).
    assert quote(tariff, "2024-05-01 09:00", "2024-05-01 10:15").due_fen == 500
    assert quote(PLAIN, "2024-05-01 09:00", "2024-05-01 10:15").due_fen == 700
    # 76 min: 61 charged minutes: 500 + 1 x 200.
    result = quote(tariff, "2024-05-01 09:00", "2024-05-01 10:16")
    assert result.due_fen == 700
    assert result.lines[0] == QuoteLine("前15分钟免费", 0)


def test_no_first_period() -> None:
    tariff = settings(
        classes={
            "small": {
                "first_period_minutes": 0,
                "first_period_price": "0",
                "period_minutes": 30,
                "period_price": "2.00",
            }
        }
    )
    # 95 min, periods from entry: ceil(95/30) = 4 x 200 = 800.
    assert quote(tariff, "2024-05-01 09:00", "2024-05-01 10:35", colour="blue").due_fen == 800


# --- vehicle classes ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("colour", "vehicle_class", "fen"),
    [
        # 91 min each. small: 500 + 2 x 200 = 900; large: 1000 + 2 x 400 = 1800.
        ("blue", "small", 900),
        ("yellow", "large", 1800),
        ("green", "small", 900),
        ("yellow_green", "large", 1800),
        ("white", "small", 900),
        ("black", "small", 900),
        ("unknown", "small", 900),
        (" Yellow ", "large", 1800),
        ("yellow-green", "large", 1800),
    ],
)
def test_each_class_by_colour(colour: str, vehicle_class: str, fen: int) -> None:
    result = quote(PLAIN, "2024-05-01 09:00", "2024-05-01 10:31", colour=colour)
    assert (result.vehicle_class, result.due_fen) == (vehicle_class, fen)


def test_colours_not_mapped_use_the_default_class() -> None:
    tariff = settings(class_by_colour={"blue": "small"}, default_class="large")
    assert vehicle_class_for(tariff, "blue") == "small"
    assert vehicle_class_for(tariff, "white") == "large"
    assert vehicle_class_for(tariff, "unknown") == "large"


def test_unknown_colour_is_refused_by_name() -> None:
    with pytest.raises(TariffError, match="unknown plate colour 'purple'"):
        quote(PLAIN, "2024-05-01 09:00", "2024-05-01 10:00", colour="purple")


# --- day and night --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "exit", "fen"),
    [
        # day only, 120 min: 500 + 2 x 200 = 900
        ("2024-05-01 09:00", "2024-05-01 11:00", 900),
        # day -> night: 19:30-20:00 day, first period 500 (rounded up to the whole first period);
        # 20:00-21:10 night 70 min = 2 started hours x 100 = 200; total 700
        ("2024-05-01 19:30", "2024-05-01 21:10", 700),
        # night -> day: 07:30-08:00 night 1 x 100; 08:00-09:00 day, no first period (the stay began at
        # night) 2 x 200 = 400; total 500
        ("2024-05-01 07:30", "2024-05-01 09:00", 500),
        # both sides partial: 07:50-08:00 night 1 x 100; 08:00-08:20 day 1 x 200; total 300
        ("2024-05-01 07:50", "2024-05-01 08:20", 300),
        # partial period at the switch rounds up in its own band: 18:50-20:00 day 70 min = 500 + 1 x 200;
        # 20:00-20:10 night 1 x 100; total 800
        ("2024-05-01 18:50", "2024-05-01 20:10", 800),
        # entry exactly at the switch is night: 20:00-21:00 1 x 100
        ("2024-05-01 20:00:00", "2024-05-01 21:00:00", 100),
        # 19:59:59-20:30:00 = 31 started minutes; minute 0 starts 19:59:59 (day): first period 500;
        # minutes 1-30 start from 20:00:59 (night): 30 min = 1 x 100; total 600
        ("2024-05-01 19:59:59", "2024-05-01 20:30:00", 600),
        # night across midnight, 22:00-02:00: 4 x 100 = 400, under the 500 night cap
        ("2024-05-01 22:00", "2024-05-02 02:00", 400),
        # night cap: 19:00-20:00 day 500; 20:00-08:00 12 x 100 = 1200 -> cap 500; 08:00-09:00 day 2 x 200
        # = 400; total 1400
        ("2024-05-01 19:00", "2024-05-02 09:00", 1400),
        # two nights: 500 (19-20 first period) + 500 (night 1 capped) + 24 x 200 = 4800 (08-20)
        # + 500 (night 2 capped) + 400 (08-09); total 6700
        ("2024-05-01 19:00", "2024-05-03 09:00", 6700),
    ],
)
def test_day_and_night(entry: str, exit: str, fen: int) -> None:
    assert quote(WITH_NIGHT, entry, exit).due_fen == fen


def test_band_switch_lines() -> None:
    result = quote(WITH_NIGHT, "2024-05-01 19:30", "2024-05-01 21:10")
    assert result.lines == (
        QuoteLine("日间 19:30–20:00 首60分钟", 500),
        QuoteLine("夜间 20:00–21:10 2个60分钟×1.00元", 200),
    )
    # ending exactly at the switch: no night piece at all; 120 min by day = 500 + 2 x 200
    ends_at_switch = quote(WITH_NIGHT, "2024-05-01 18:00", "2024-05-01 20:00")
    assert ends_at_switch.lines == (
        QuoteLine("日间 首60分钟", 500),
        QuoteLine("日间 续2个30分钟×2.00元", 400),
    )
    capped_night = quote(WITH_NIGHT, "2024-05-01 19:00", "2024-05-02 09:00")
    assert QuoteLine("夜间 05-01 20:00–05-02 08:00 12个60分钟×1.00元（12.00元，每夜封顶5.00元）", 500) in (
        capped_night.lines
    )


def test_night_band_within_one_day() -> None:
    tariff = settings(classes={"small": {**SMALL, "night": {**NIGHT, "start": "00:00", "end": "06:00"}}})
    # 23:00-00:00 day: first period 500; 00:00-06:00 night 6 x 100 = 600 -> cap 500;
    # 06:00-07:00 day 2 x 200 = 400; total 1400
    assert quote(tariff, "2024-05-01 23:00", "2024-05-02 07:00").due_fen == 1400


def test_night_band_only_for_the_class_that_has_one() -> None:
    # large has no night band: 19:30-21:10 = 100 min: 1000 + ceil(40/30) = 2 x 400; total 1800
    assert quote(WITH_NIGHT, "2024-05-01 19:30", "2024-05-01 21:10", colour="yellow").due_fen == 1800


# --- daily caps -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "exit", "fen"),
    [
        # 420 min: 500 + 12 x 200 = 2900, under the 3000 cap
        ("2024-05-01 09:00", "2024-05-01 16:00", 2900),
        # 421 min: 500 + 13 x 200 = 3100 -> 3000
        ("2024-05-01 09:00", "2024-05-01 16:01", 3000),
        # 720 min: 500 + 22 x 200 = 4900 -> 3000
        ("2024-05-01 09:00", "2024-05-01 21:00", 3000),
        # exactly 24 h: one window -> 3000
        ("2024-05-01 09:00", "2024-05-02 09:00", 3000),
        # 24 h + 1 min: a period starts at minute 1440 (= 60 + 46 x 30) in window 2: 3000 + 200
        ("2024-05-01 09:00", "2024-05-02 09:01", 3200),
        # 2 days + 3 h = 3060 min: 3000 + 3000 + window 3 [2880, 3060) 6 x 200 = 1200 (no second first
        # period); total 7200
        ("2024-05-01 09:00", "2024-05-03 12:00", 7200),
        # 20:00 -> 12:00 = 960 min in one window: 500 + 30 x 200 = 6500 -> 3000
        ("2024-05-01 20:00", "2024-05-02 12:00", 3000),
    ],
)
def test_rolling_daily_cap(entry: str, exit: str, fen: int) -> None:
    assert quote(capped("rolling_24h"), entry, exit).due_fen == fen


def test_a_period_belongs_to_the_window_it_starts_in() -> None:
    tariff = capped("rolling_24h", period_minutes=50)
    # periods start at 60 + 50k; k = 27 starts at minute 1410 (window 1, capped) and runs to 1460
    assert quote(tariff, "2024-05-01 09:00", "2024-05-02 09:10").due_fen == 3000  # 1450 min: none in window 2
    assert quote(tariff, "2024-05-01 09:00", "2024-05-02 09:20").due_fen == 3000  # 1460 min: still none
    assert quote(tariff, "2024-05-01 09:00", "2024-05-02 09:21").due_fen == 3200  # 1461: k = 28 at 1460


@pytest.mark.parametrize(
    ("entry", "exit", "fen"),
    [
        # 05-01 20:00-24:00 240 min: 500 + 6 x 200 = 1700; 05-02 00:00-12:00: 24 x 200 = 4800 -> 3000;
        # total 4700 (the rolling window gives 3000 for the same stay)
        ("2024-05-01 20:00", "2024-05-02 12:00", 4700),
        # 05-01 10:00-24:00 840 min: 500 + 26 x 200 = 5700 -> 3000; 05-02 48 x 200 -> 3000;
        # 05-03 00:00-13:00 26 x 200 = 5200 -> 3000; total 9000
        ("2024-05-01 10:00", "2024-05-03 13:00", 9000),
        # 23:00-01:00: 05-01 first period 500; 05-02 periods at 00:00 and 00:30: 400; total 900
        ("2024-05-01 23:00", "2024-05-02 01:00", 900),
        # a period starting exactly at midnight belongs to the new day: 05-01 08:00-24:00 960 min =
        # 500 + 30 x 200 = 6500 -> 3000; 05-02 the period from 00:00 (minute 960 = 60 + 30 x 30): 200
        ("2024-05-01 08:00", "2024-05-02 00:30", 3200),
    ],
)
def test_calendar_daily_cap(entry: str, exit: str, fen: int) -> None:
    assert quote(capped("calendar_day"), entry, exit).due_fen == fen


def test_capped_window_is_one_line() -> None:
    result = quote(capped("calendar_day"), "2024-05-01 20:00", "2024-05-02 12:00")
    assert result.lines == (
        QuoteLine("05-01 20:00–05-02 00:00 首60分钟", 500),
        QuoteLine("05-01 20:00–05-02 00:00 续6个30分钟×2.00元", 1200),
        QuoteLine("当日 05-02 00:00–05-02 12:00 封顶（按时计48.00元）", 3000),
    )


def test_night_cap_spans_midnight_under_calendar_caps() -> None:
    tariff = settings(
        cap_window="calendar_day", classes={"small": {**SMALL, "night": NIGHT, "daily_cap": "20.00"}}
    )
    # 20:00-08:00 is one night of 12 x 100: 05-01 gets 4 x 100 = 400 (100 of the cap left),
    # 05-02 gets 8 x 100 = 800 -> the 100 left; total 500, one night cap despite the midnight
    assert quote(tariff, "2024-05-01 20:00", "2024-05-02 08:00").due_fen == 500
    # multi-day, daily cap 2000:
    # 05-01: day 09-20 500 + 20 x 200 = 4500, night 20-24 400 -> 4900 -> 2000
    # 05-02: night 00-08 8 x 100 -> 100 left of night 1; day 24 x 200; night 20-24 400 -> 2000
    # 05-03: night 00-08 -> 100 left of night 2; day 08-10 4 x 200 = 800 -> 900
    # total 4900
    result = quote(tariff, "2024-05-01 09:00", "2024-05-03 10:00")
    assert result.due_fen == 4900
    assert result.lines[-2:] == (
        QuoteLine("夜间 05-03 00:00–05-03 08:00 8个60分钟×1.00元（8.00元，每夜封顶5.00元）", 100),
        QuoteLine("日间 05-03 08:00–05-03 10:00 4个30分钟×2.00元", 800),
    )


def test_default_tariff_is_usable() -> None:
    tariff = TariffSettings()
    assert tariff.free_minutes == 15 and tariff.grace_minutes == 15
    assert tariff.classes["small"].daily_cap == 4000 and tariff.classes["large"].daily_cap == 8000
    # 2 days + 3 h, rolling: 4000 + 4000 + 6 x 200 = 9200
    assert quote(tariff, "2024-05-01 09:00", "2024-05-03 12:00").due_fen == 9200
    # yellow is large: 91 min = 1000 + 2 x 400 = 1800
    assert quote(tariff, "2024-05-01 09:00", "2024-05-01 10:31", colour="yellow").due_fen == 1800


# --- monthly passes and whitelist -----------------------------------------------------------------------

MONTHLY = settings(
    monthly=[{"plate": "京A·88888", "valid_from": "2024-05-01", "valid_to": "2024-05-31", "note": "张三"}]
)


@pytest.mark.parametrize(
    ("entry", "exit", "fen", "rule"),
    [
        ("2024-05-10 09:00", "2024-05-10 18:00", 0, "monthly_pass"),  # valid
        ("2024-05-31 09:00", "2024-05-31 23:59:59", 0, "monthly_pass"),  # valid_to is inclusive
        ("2024-05-10 09:00", "2024-05-10 09:05", 0, "monthly_pass"),  # the pass, not the free minutes
        ("2024-06-01 09:00", "2024-06-01 11:00", 900, "charged"),  # expired: 500 + 2 x 200
        ("2024-04-30 09:00", "2024-04-30 11:00", 900, "charged"),  # not yet valid: 500 + 2 x 200
        # expires mid-stay: only 06-01 00:00-01:30 is charged, as a fresh stay: 500 + 1 x 200
        ("2024-05-31 22:00", "2024-06-01 01:30", 700, "charged"),
        # expires mid-stay, 10 charged minutes <= 15 free minutes
        ("2024-05-31 22:00", "2024-06-01 00:10", 0, "free_minutes"),
        # valid from mid-stay: 04-30 23:00-24:00 charged: first period 500
        ("2024-04-30 23:00", "2024-05-01 02:00", 500, "charged"),
        # the pass covers the middle: 04-30 22:00-24:00 500 + 2 x 200 = 900, 06-01 00:00-01:00 500
        ("2024-04-30 22:00", "2024-06-01 01:00", 1400, "charged"),
    ],
)
def test_monthly_pass(entry: str, exit: str, fen: int, rule: str) -> None:
    result = quote(MONTHLY, entry, exit, plate="京a 88888")
    assert (result.due_fen, result.rule) == (fen, rule)


def test_monthly_pass_lines() -> None:
    valid = quote(MONTHLY, "2024-05-10 09:00", "2024-05-10 18:00", plate="京A88888")
    assert valid.lines == (QuoteLine("月卡 京A88888 有效期2024-05-01至2024-05-31 张三", 0),)
    expiring = quote(MONTHLY, "2024-05-31 22:00", "2024-06-01 01:30", plate="京A88888")
    assert expiring.lines[0] == QuoteLine(
        "月卡 京A88888 05-31 22:00–06-01 00:00 有效期内免费（2024-05-01至2024-05-31）", 0
    )
    expired = quote(MONTHLY, "2024-06-01 09:00", "2024-06-01 11:00", plate="京A88888")
    assert expired.lines[0] == QuoteLine("月卡不在有效期（2024-05-01至2024-05-31）", 0)


def test_uncharged_free_minutes_with_a_pass_in_the_middle() -> None:
    tariff = MONTHLY.model_copy(update={"charge_free_minutes_when_exceeded": False})
    # charged time: 04-30 23:45-24:00 (15 min) and 06-01 00:00-01:00 (60 min) = 75 > 15; the free 15 are
    # the whole first part, so only 06-01 00:00-01:00 is charged: first period 500
    result = quote(tariff, "2024-04-30 23:45", "2024-06-01 01:00", plate="京A88888")
    assert (result.due_fen, result.rule) == (500, "charged")


def test_consecutive_passes_cover_the_month_change() -> None:
    tariff = settings(
        monthly=[
            {"plate": "京A88888", "valid_from": "2024-05-01", "valid_to": "2024-05-31"},
            {"plate": "京A88888", "valid_from": "2024-06-01", "valid_to": "2024-06-30"},
        ]
    )
    assert quote(tariff, "2024-05-31 22:00", "2024-06-01 02:00", plate="京A88888").rule == "monthly_pass"


def test_other_plates_do_not_use_a_pass() -> None:
    # 120 min: 500 + 2 x 200
    assert quote(MONTHLY, "2024-05-10 09:00", "2024-05-10 11:00", plate="京A88889").due_fen == 900


def test_whitelist() -> None:
    tariff = settings(whitelist=["京A·00001"], classes={"small": {**SMALL, "night": NIGHT}})
    result = quote(tariff, "2024-05-01 09:00", "2024-05-04 12:00", plate="京a00001", discount_fen=500)
    assert (result.gross_fen, result.due_fen, result.rule) == (0, 0, "whitelist")
    assert result.lines == (QuoteLine("白名单车辆 京A00001", 0), QuoteLine("优惠 5.00元（无需抵扣）", 0))
    assert quote(tariff, "2024-05-01 09:00", "2024-05-01 10:00", plate="京A00002").due_fen == 500


# --- payments, grace and deductions ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exit", "due", "rule"),
    [
        # entry 09:00, paid 700 at 10:30 (the fee for 90 min)
        ("2024-05-01 10:30:00", 0, "paid"),  # 90 min = 700 - 700
        ("2024-05-01 10:35:00", 0, "grace"),  # 95 min = 500 + 2 x 200 = 900; 200 waived, 5 min after paying
        ("2024-05-01 10:45:00", 0, "grace"),  # 105 min = 900; exactly 15 min after paying: still grace
        ("2024-05-01 10:45:01", 200, "charged"),  # 106 min = 900 - 700; 15 min 1 s after paying
        ("2024-05-01 11:30:00", 400, "charged"),  # 150 min = 500 + 3 x 200 = 1100 - 700
    ],
)
def test_grace_after_payment(exit: str, due: int, rule: str) -> None:
    result = quote(PLAIN, "2024-05-01 09:00", exit, paid_fen=700, last_paid_at=at("2024-05-01 10:30"))
    assert (result.due_fen, result.rule) == (due, rule)


def test_grace_needs_a_payment() -> None:
    # last_paid_at without any amount paid waives nothing: 95 min = 900
    result = quote(PLAIN, "2024-05-01 09:00", "2024-05-01 10:35", last_paid_at=at("2024-05-01 10:30"))
    assert (result.due_fen, result.rule) == (900, "charged")


def test_zero_grace() -> None:
    tariff = settings(grace_minutes=0)
    paid: dict[str, Any] = {"paid_fen": 500, "last_paid_at": at("2024-05-01 10:00")}
    assert quote(tariff, "2024-05-01 09:00", "2024-05-01 10:00", **paid).rule == "paid"  # 500 - 500
    late = quote(tariff, "2024-05-01 09:00", "2024-05-01 10:00:01", **paid)  # 61 min = 700 - 500
    assert (late.due_fen, late.rule) == (200, "charged")


def test_grace_lines() -> None:
    result = quote(
        PLAIN, "2024-05-01 09:00", "2024-05-01 10:35", paid_fen=700, last_paid_at=at("2024-05-01 10:30")
    )
    # 900 gross, 700 paid, 200 waived
    assert result.lines[-2:] == (
        QuoteLine("已付 7.00元", -700),
        QuoteLine("付款后15分钟内离场，免补缴", -200),
    )


@pytest.mark.parametrize(
    ("paid", "discount", "due", "deductions", "rule"),
    [
        # 90 min = 700 gross throughout
        (1000, 0, 0, [QuoteLine("已付 10.00元（抵扣7.00元）", -700)], "paid"),  # prepaid more than the fee
        (0, 2000, 0, [QuoteLine("优惠 20.00元（抵扣7.00元）", -700)], "paid"),  # discount more than the fee
        (300, 200, 200, [QuoteLine("优惠 2.00元", -200), QuoteLine("已付 3.00元", -300)], "charged"),
        # discount first (500), then 200 of the 500 paid
        (500, 500, 0, [QuoteLine("优惠 5.00元", -500), QuoteLine("已付 5.00元（抵扣2.00元）", -200)], "paid"),
    ],
)
def test_deductions(paid: int, discount: int, due: int, deductions: list[QuoteLine], rule: str) -> None:
    result = quote(PLAIN, "2024-05-01 09:00", "2024-05-01 10:30", paid_fen=paid, discount_fen=discount)
    assert (result.gross_fen, result.paid_fen, result.discount_fen) == (700, paid, discount)
    assert (result.due_fen, result.rule) == (due, rule)
    assert list(result.lines[2:]) == deductions


def test_deductions_on_a_free_stay() -> None:
    result = quote(PLAIN, "2024-05-01 09:00", "2024-05-01 09:10", paid_fen=500, discount_fen=300)
    assert (result.gross_fen, result.due_fen, result.rule, result.paid_fen) == (0, 0, "free_minutes", 500)
    # a line for each amount given, even with nothing to deduct it from
    assert result.lines == (
        QuoteLine("15分钟内免费", 0),
        QuoteLine("优惠 3.00元（无需抵扣）", 0),
        QuoteLine("已付 5.00元（无需抵扣）", 0),
    )
    text = result.breakdown().splitlines()
    assert [row.split()[0] for row in text[2:]] == ["15分钟内免费", "费用合计", "优惠", "已付", "应付"]


def test_breakdown_text() -> None:
    result = quote(WITH_NIGHT, "2024-05-01 19:30", "2024-05-01 21:10", paid_fen=500, discount_fen=100)
    text = result.breakdown().splitlines()
    # 700 gross (500 first period by day + 200 at night), 100 discount, 500 paid, 100 due
    assert text[0] == "入场 2024-05-01 19:30:00  离场 2024-05-01 21:10:00"
    assert text[1] == "停车 1小时40分钟  车型 small"
    assert text[2].startswith("日间 19:30–20:00 首60分钟") and text[2].endswith(" 5.00元")
    assert text[3].startswith("夜间 20:00–21:10 2个60分钟×1.00元") and text[3].endswith(" 2.00元")
    assert text[4].startswith("费用合计") and text[4].endswith(" 7.00元")
    assert text[5].startswith("优惠 1.00元") and text[5].endswith(" -1.00元")
    assert text[6].startswith("已付 5.00元") and text[6].endswith(" -5.00元")
    assert text[7].startswith("应付") and text[7].endswith(" 1.00元  (临时车计费)")
    long_stay = quote(PLAIN, "2024-05-01 09:00", "2024-05-03 12:05").breakdown()
    assert "停车 2天3小时5分钟" in long_stay


# --- bad input ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"entry": datetime(2024, 5, 1, 9)}, "entry 2024-05-01T09:00:00 has no time zone"),
        ({"exit": datetime(2024, 5, 1, 10)}, "exit 2024-05-01T10:00:00 has no time zone"),
        ({"last_paid_at": datetime(2024, 5, 1, 9, 30), "paid_fen": 1}, "last_paid_at .* has no time zone"),
        ({"entry": "2024-05-01 09:00"}, "entry must be a datetime, got str"),
        ({"exit": at("2024-05-01 08:59:59")}, "exit 2024-05-01T08:59:59\\+08:00 is before entry"),
        ({"last_paid_at": at("2024-05-01 08:00"), "paid_fen": 1}, "last_paid_at .* is before entry"),
        ({"paid_fen": -1}, "paid_fen cannot be negative"),
        ({"discount_fen": -5}, "discount_fen cannot be negative"),
        ({"paid_fen": 1.5}, "paid_fen must be an integer number of fen"),
        ({"discount_fen": True}, "discount_fen must be an integer number of fen"),
        ({"colour": "purple"}, "unknown plate colour 'purple'"),
        ({"colour": ["blue"]}, "unknown plate colour \\['blue'\\]"),
        ({"plate": None}, "plate must be text, got NoneType"),
        # 2010-01-01 to 2024-01-01: 14 x 365 + 3 leap days = 5113; + 121 days to 05-01 = 5234 days
        ({"entry": at("2010-01-01 09:00")}, "a stay of 5234 days .* is implausible"),
    ],
)
def test_bad_quote_input_is_refused_by_name(kwargs: dict[str, Any], message: str) -> None:
    call: dict[str, Any] = {
        "plate": "京A12345",
        "colour": "blue",
        "entry": at("2024-05-01 09:00"),
        "exit": at("2024-05-01 10:00"),
        "tz": TZ,
        **kwargs,
    }
    with pytest.raises(TariffError, match=message):
        quote_fee(PLAIN, **call)
    assert MAX_STAY_DAYS < 5234


def test_datetimes_in_other_zones_are_the_same_instants() -> None:
    utc = ZoneInfo("UTC")
    # 09:00 Shanghai = 01:00 UTC; 91 min: 500 + 2 x 200
    result = quote_fee(
        PLAIN,
        plate="京A12345",
        colour="blue",
        tz=TZ,
        entry=datetime(2024, 5, 1, 1, 0, tzinfo=utc),
        exit=at("2024-05-01 10:31"),
    )
    assert (result.duration_minutes, result.due_fen) == (91, 900)
    assert result.entry == at("2024-05-01 09:00") and result.entry.hour == 9


def test_durations_are_elapsed_time_across_a_dst_change() -> None:
    new_york = ZoneInfo("America/New_York")
    # 2024-03-10 01:30 EST -> 03:30 EDT is one real hour: 60 min = 500 (not 120 min)
    result = quote_fee(
        PLAIN,
        plate="京A12345",
        colour="blue",
        tz=new_york,
        entry=datetime(2024, 3, 10, 1, 30, tzinfo=new_york),
        exit=datetime(2024, 3, 10, 3, 30, tzinfo=new_york),
    )
    assert (result.duration_minutes, result.due_fen) == (60, 500)


# --- configuration --------------------------------------------------------------------------------------

TOML = """
[tariff]
free_minutes = 10
charge_free_minutes_when_exceeded = false
grace_minutes = 20
cap_window = "calendar_day"
default_class = "small"
whitelist = ["京A·00001"]

[tariff.class_by_colour]
blue = "small"
yellow = "large"

[tariff.classes.small]
first_period_minutes = 60
first_period_price = "5"
period_minutes = 30
period_price = "2.5"
daily_cap = "30.00"

[tariff.classes.small.night]
start = 20:00:00
end = "8:00"
period_minutes = 120
period_price = "1"
cap = "6"

[tariff.classes.large]
first_period_price = "10.00"
period_price = "4.00"

[[tariff.monthly]]
plate = "京B12345"
valid_from = 2024-05-01
valid_to = 2024-05-31
note = "合同 2024-017"
"""


def test_toml_section() -> None:
    tariff = TariffSettings.model_validate(tomllib.loads(TOML)["tariff"])
    small = tariff.classes["small"]
    assert (small.first_period_price, small.period_price, small.daily_cap) == (500, 250, 3000)
    assert small.night is not None
    assert (small.night.start, small.night.end, small.night.period_price, small.night.cap) == (
        1200,
        480,
        100,
        600,
    )
    assert tariff.classes["large"].daily_cap is None
    assert tariff.monthly[0].valid_to == date(2024, 5, 31)
    assert tariff.whitelist == ("京A00001",)
    assert vehicle_class_for(tariff, "green") == "small"
    # serialised back in the file's own units, and read back to the same settings
    dumped = tariff.model_dump(mode="json")
    assert dumped["classes"]["small"]["period_price"] == "2.50"
    assert dumped["classes"]["small"]["night"]["start"] == "20:00"
    assert TariffSettings.model_validate(dumped) == tariff


def _errors(section: dict[str, Any]) -> list[tuple[tuple[int | str, ...], str]]:
    with pytest.raises(ValidationError) as caught:
        TariffSettings.model_validate(section)
    return [(tuple(e["loc"]), e["msg"]) for e in caught.value.errors()]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (2.5, 'write amounts as yuan text in quotes, e.g. "5.00"; got the bare number 2.5'),
        (3, "got the bare number 3"),
        (True, "got bool"),
        ("2.555", "more than two decimals"),
        ("-1", "amounts cannot be negative"),
        ("abc", "not an amount in yuan: 'abc'"),
        ("", "not an amount in yuan: ''"),
        ("1e3", "not an amount in yuan"),
    ],
)
def test_bad_amounts(value: object, message: str) -> None:
    [(loc, msg)] = _errors({"classes": {"small": {**SMALL, "period_price": value}}})
    assert loc == ("classes", "small", "period_price")
    assert message in msg


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("25:00", 'expected a time of day "HH:MM"'),
        ("20:60", 'expected a time of day "HH:MM"'),
        ("2000", 'expected a time of day "HH:MM"'),
        ("20:00:30", 'expected a time of day "HH:MM"'),
        (time(20, 0, 30), "times of day are whole minutes"),
        (20, 'expected a time of day "HH:MM"'),
    ],
)
def test_bad_band_times(value: object, message: str) -> None:
    [(loc, msg)] = _errors({"classes": {"small": {**SMALL, "night": {**NIGHT, "start": value}}}})
    assert loc == ("classes", "small", "night", "start")
    assert message in msg


def test_empty_night_band() -> None:
    [(loc, msg)] = _errors({"classes": {"small": {**SMALL, "night": {**NIGHT, "end": "20:00"}}}})
    assert loc == ("classes", "small", "night")
    assert "night band start and end are both 20:00" in msg


@pytest.mark.parametrize(
    ("section", "loc"),
    [
        ({"free_minute": 10}, ("free_minute",)),
        (
            {"classes": {"small": {**SMALL, "nite": {}}}, "class_by_colour": {"blue": "small"}},
            ("classes", "small", "nite"),
        ),
        (
            {"classes": {"small": {**SMALL, "night": {**NIGHT, "caps": "1"}}}},
            ("classes", "small", "night", "caps"),
        ),
        (
            {"monthly": [{"plate": "京A1", "valid_from": "2024-05-01", "valid_to": "2024-05-02", "not": ""}]},
            ("monthly", 0, "not"),
        ),
    ],
)
def test_unknown_keys_are_refused(section: dict[str, Any], loc: tuple[int | str, ...]) -> None:
    section.setdefault("classes", {"small": SMALL, "large": LARGE})
    errors = _errors(section)
    assert (loc, "Extra inputs are not permitted") in errors


def test_class_by_colour_must_name_a_class() -> None:
    [(loc, msg)] = _errors(
        {"classes": {"small": SMALL}, "class_by_colour": {"blue": "small", "yellow": "truck"}}
    )
    assert loc == ()
    assert msg.startswith(
        "Value error, class_by_colour.yellow = 'truck', which is not in [tariff.classes] (have: small)"
    )


def test_default_class_must_exist() -> None:
    [(_, msg)] = _errors({"default_class": "bus"})
    assert "default_class 'bus' is not in [tariff.classes] (have: large, small)" in msg


def test_colour_keys_are_the_fixed_vocabulary() -> None:
    [(loc, _)] = _errors({"class_by_colour": {"purple": "small"}})
    assert loc == ("class_by_colour", "purple", "[key]")


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            {"monthly": [{"plate": "京A1", "valid_from": "2024-05-02", "valid_to": "2024-05-01"}]},
            "京A1: valid_to 2024-05-01 is before valid_from 2024-05-02",
        ),
        (
            {"monthly": [{"plate": " · ", "valid_from": "2024-05-01", "valid_to": "2024-05-01"}]},
            "not a plate",
        ),
        ({"whitelist": ["  "]}, "not a plate"),
        (
            {"classes": {"small": {**SMALL, "first_period_minutes": 0}, "large": LARGE}},
            "first_period_price is 5.00 but first_period_minutes is 0",
        ),
        ({"classes": {}}, "at least one vehicle class is required"),
        ({"classes": {"small car": SMALL}}, "class name 'small car'"),
        ({"free_minutes": -1}, "greater than or equal to 0"),
        ({"cap_window": "weekly"}, "'rolling_24h' or 'calendar_day'"),
    ],
)
def test_other_config_errors(section: dict[str, Any], message: str) -> None:
    assert any(message in msg for _, msg in _errors(section))


def test_settings_are_frozen_and_copies_reindex() -> None:
    with pytest.raises(ValidationError):
        PLAIN.free_minutes = 0  # type: ignore[misc]
    quote(PLAIN, "2024-05-01 09:00", "2024-05-01 10:00")  # builds PLAIN's plate index
    copy = PLAIN.model_copy(update={"whitelist": ("京A12345",)})
    assert quote(copy, "2024-05-01 09:00", "2024-05-01 10:00").rule == "whitelist"
    assert quote(PLAIN, "2024-05-01 09:00", "2024-05-01 10:00").rule == "charged"


def test_config_reports_tariff_errors_by_key_path() -> None:
    from booth.config import ConfigError, settings_from_mapping

    data = {
        "park": {"name": "测试停车场"},
        "bolink": {"base_url": "sandbox", "union_id": "u", "park_id": "p", "ukey": "k", "local_id": "l"},
        "lanes": [{"id": "A", "name": "出口", "direction": "exit", "channel_id": "c1"}],
        "tariff": {"classes": {"small": {**SMALL, "period_price": 2.5}, "large": LARGE}},
    }
    with pytest.raises(ConfigError) as caught:
        settings_from_mapping(data)
    assert caught.value.problems == [
        'tariff.classes.small.period_price: write amounts as yuan text in quotes, e.g. "5.00"; '
        "got the bare number 2.5"
    ]
    del data["tariff"]
    assert settings_from_mapping(data).tariff == TariffSettings()


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


# --- grace only after a payment that settled the whole fee due at its moment (issue 13, item 1) -------------


@pytest.mark.parametrize("paid", [1, 250, 699])
def test_a_partial_payment_never_earns_grace(paid: int) -> None:
    # entry 09:00; at 10:30 the fee is 700 and only part of it is paid; the exit at 10:35 owes 900 - paid
    paid_at = at("2024-05-01 10:30")
    result = quote(PLAIN, "2024-05-01 09:00", "2024-05-01 10:35", paid_fen=paid, last_paid_at=paid_at)
    assert (result.due_fen, result.rule) == (900 - paid, "charged")


def test_partial_payments_that_add_up_to_the_fee_earn_grace_from_the_last_of_them() -> None:
    payments = [(at("2024-05-01 10:00"), 300), (at("2024-05-01 10:30"), 400)]  # 700 = the fee at 10:30
    result = quote(PLAIN, "2024-05-01 09:00", "2024-05-01 10:40", paid_fen=700, payments=payments)
    assert (result.due_fen, result.rule) == (0, "grace")
    # the first of them alone settled nothing (the fee at 10:00 was 500): 10:12 is not within its grace
    early = quote(PLAIN, "2024-05-01 09:00", "2024-05-01 10:12", paid_fen=300, payments=payments[:1])
    assert (early.due_fen, early.rule) == (500 + 200 - 300, "charged")


def test_a_full_settlement_keeps_its_grace_after_a_later_partial_top_up() -> None:
    # 700 settles the fee at 10:30; a stray 1 fen at 10:40 (fee 900 then) settles nothing, takes nothing away
    payments = [(at("2024-05-01 10:30"), 700), (at("2024-05-01 10:40"), 1)]
    result = quote(PLAIN, "2024-05-01 09:00", "2024-05-01 10:44", paid_fen=701, payments=payments)
    assert (result.due_fen, result.rule) == (0, "grace")
    later = quote(PLAIN, "2024-05-01 09:00", "2024-05-01 10:46", paid_fen=701, payments=payments)
    assert (later.due_fen, later.rule) == (900 - 701, "charged")


def test_a_payment_made_while_nothing_was_due_earns_no_grace() -> None:
    # 1 fen paid within the free minutes "covers" a fee of 0: the exit at 09:20 still owes the first hour
    paid_at = at("2024-05-01 09:05")
    result = quote(PLAIN, "2024-05-01 09:00", "2024-05-01 09:20", paid_fen=1, last_paid_at=paid_at)
    assert (result.due_fen, result.rule) == (500 - 1, "charged")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"paid_fen": 5, "payments": [(at("2024-05-01 10:00"), 4)]}, "add up to 4 fen but paid_fen is 5"),
        ({"paid_fen": 1, "payments": [(datetime(2024, 5, 1, 10), 1)]}, r"payments\[0\] time .* no time zone"),
        ({"paid_fen": 1, "payments": [(at("2024-05-01 08:00"), 1)]}, r"payments\[0\] at .* is before entry"),
        ({"paid_fen": 1, "payments": [(at("2024-05-01 10:00"), True)]}, r"payments\[0\] amount must be"),
        ({"paid_fen": 1, "payments": ["x"]}, r"payments\[0\] must be a \(paid at, fen\) pair"),
        (
            {"paid_fen": 1, "payments": [(at("2024-05-01 10:00"), 1)], "last_paid_at": at("2024-05-01 10")},
            "either payments or last_paid_at",
        ),
    ],
)
def test_bad_payment_lists_are_refused_by_name(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(TariffError, match=message):
        quote(PLAIN, "2024-05-01 09:00", "2024-05-01 10:35", **kwargs)




@pytest.mark.parametrize("seed", range(4))
def test_grace_oracle_over_random_payment_histories(seed: int) -> None:
    """The rule, checked from gross prices alone: a quote waives the rest only when the exit is within grace
    of a moment at which the payments made by then covered a fee of more than nothing; otherwise it asks for
    exactly the gross fee less what was paid."""
    rng = random.Random(f"grace oracle {seed}")
    entry = at("2024-05-01 09:00")

    def gross(until: datetime) -> int:
        return quote_fee(PLAIN, plate="苏A12345", colour="blue", entry=entry, exit=until, tz=TZ).gross_fen

    for _ in range(150):
        moments = sorted(entry + timedelta(minutes=rng.randrange(0, 600), seconds=rng.randrange(60))
                         for _ in range(rng.randrange(1, 4)))  # fmt: skip
        payments = [(m, rng.choice([1, 100, 200, 500, gross(m), gross(m) + 1, max(gross(m) - 1, 0)]))
                    for m in moments]  # fmt: skip
        paid = sum(fen for _, fen in payments)
        exit = moments[-1] + timedelta(minutes=rng.randrange(0, 40), seconds=rng.randrange(60))
        result = quote_fee(PLAIN, plate="苏A12345", colour="blue", entry=entry, exit=exit, tz=TZ,
                           paid_fen=paid, payments=payments)  # fmt: skip
        owed = max(gross(exit) - paid, 0)
        settled_moments = [
            m for i, (m, _) in enumerate(payments)
            if (g := gross(m)) > 0 and sum(fen for _, fen in payments[: i + 1]) >= g
        ]  # fmt: skip
        graced = any(exit - m <= timedelta(minutes=PLAIN.grace_minutes) for m in settled_moments)
        assert result.due_fen == (0 if graced else owed), (payments, exit, result.breakdown())


def test_arrears_are_asked_on_top_and_money_paid_beyond_the_fee_counts_against_them() -> None:
    base = quote(PLAIN, "2024-05-01 09:00", "2024-05-01 10:30")  # 700, nothing paid
    owed = add_arrears(base, [300, 200])
    assert (owed.due_fen, owed.rule) == (1200, "charged")
    assert owed.lines[-1].fen == 500 and owed.lines[-1].phrase is not None
    assert owed.lines[-1].phrase.code == "tariff.arrears"
    # 900 paid towards a 700 fee: the spare 200 is set against the arrears, the rest is asked
    paid = add_arrears(quote(PLAIN, "2024-05-01 09:00", "2024-05-01 10:30", paid_fen=900), [500])
    assert paid.due_fen == 300 and [line.fen for line in paid.lines[-2:]] == [500, -200]
    assert sum(line.fen for line in paid.lines) == paid.due_fen
    # grace waives this stay's rest, never the arrears
    paid_at = at("2024-05-01 10:30")
    graced = quote(PLAIN, "2024-05-01 09:00", "2024-05-01 10:35", paid_fen=700, last_paid_at=paid_at)
    assert graced.rule == "grace" and add_arrears(graced, [400]).due_fen == 400
    assert add_arrears(base, []) is base


# --- integrator traps (#14 item 7) ----------------------------------------------------------------------


def test_one_class_alone_prices_every_colour() -> None:
    """Defining only [tariff.classes.small] used to fail on the default mapping's yellow = "large"."""
    only_small = '[tariff.classes.small]\nfirst_period_price = "6.00"\nperiod_price = "3.00"\n'
    tariff = TariffSettings.model_validate(tomllib.loads(only_small)["tariff"])
    colours = ("blue", "yellow", "green", "yellow_green", "white", "black", "unknown")
    assert {vehicle_class_for(tariff, colour) for colour in colours} == {"small"}
    # a yellow plate pays the one class's prices, never nothing
    lorry = quote_fee(tariff, plate="苏E12345", colour="yellow", entry=at("2024-05-01 09:00"),
                      exit=at("2024-05-01 10:30"), tz=TZ)  # fmt: skip
    assert (lorry.rule, lorry.due_fen) == ("charged", 600 + 300)
    # the one class need not be called small, and the settings read back the same
    only_cars = TariffSettings.model_validate({"classes": {"car": SMALL}})
    assert only_cars.default_class == "car" and vehicle_class_for(only_cars, "yellow_green") == "car"
    assert TariffSettings.model_validate(only_cars.model_dump(mode="json")) == only_cars


def test_one_class_does_not_override_what_the_file_says() -> None:
    [(_, msg)] = _errors({"classes": {"small": SMALL}, "default_class": "large"})
    assert msg == (
        "Value error, default_class 'large' is not in [tariff.classes] (have: small): under [tariff] write "
        'default_class = "small" (the class of a plate colour class_by_colour does not list), or define '
        "[tariff.classes.large]"
    )
    [(_, msg)] = _errors({"classes": {"small": SMALL}, "class_by_colour": {"yellow": "large"}})
    assert msg == (
        "Value error, class_by_colour.yellow = 'large', which is not in [tariff.classes] (have: small): "
        'define [tariff.classes.large], or write yellow = "small" (or another class) under '
        "[tariff.class_by_colour]"
    )


def test_several_classes_without_large_name_the_fix() -> None:
    """With two classes, which one a yellow plate pays is the lot's choice: the message says how."""
    [(_, msg)] = _errors({"classes": {"small": SMALL, "truck": LARGE}})
    assert msg == (
        "Value error, the default class_by_colour sends yellow, yellow_green plates to 'large', which is not "
        "in [tariff.classes] (have: small, truck): define [tariff.classes.large], or add "
        '[tariff.class_by_colour] naming each colour\'s class, e.g. yellow = "small" (colours it leaves out '
        "take default_class 'small')"
    )
    [(_, msg)] = _errors({"classes": {"car": SMALL, "truck": LARGE}})
    assert msg == (
        "Value error, default_class 'small' (the default) is not in [tariff.classes] (have: car, truck): "
        'under [tariff] write default_class = "car" (the class of a plate colour class_by_colour does not '
        "list), or define [tariff.classes.small]"
    )
    # the fix the message names is accepted
    fixed = TariffSettings.model_validate(
        {"classes": {"small": SMALL, "truck": LARGE}, "class_by_colour": {"yellow": "truck"}}
    )
    assert vehicle_class_for(fixed, "yellow") == "truck"
    assert vehicle_class_for(fixed, "yellow_green") == "small"
