"""The tariff: golden quotes at every edge, each expected amount worked out by hand in its comment.

The tariff's tests follow its parts: this file prices stays (minutes, periods, classes, day and night, caps,
passes, the whitelist, bad input); test_tariff_grace.py deducts payments and discounts and waives by grace;
test_tariff_properties.py checks properties over many stays; test_tariff_settings.py reads the [tariff]
section. They share this file's tariffs and helpers.

Tariffs used below (fen in the comments, 100 fen = 1 yuan):
  PLAIN       small: first 60 min 5.00, then every 30 min 2.00; large: first 60 min 10.00, then 30 min 4.00;
              free 15 min (charged in full once exceeded), grace 15 min, no caps, no night band.
  WITH_NIGHT  small as PLAIN by day, night 20:00-08:00 every 60 min 1.00, at most 5.00 per night.
  capped(w)   small as PLAIN with a daily cap of 30.00 per window w.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from booth.domain.tariff import (
    MAX_STAY_DAYS,
    Quote,
    QuoteLine,
    TariffError,
    TariffSettings,
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
