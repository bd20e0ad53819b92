"""The [tariff] section: read from TOML, written back in its own units, and every bad value refused with the
key and the fix named (amounts as yuan text, times of day, classes, colours, passes)."""

from __future__ import annotations

import tomllib
from datetime import date, time
from typing import Any

import pytest
from pydantic import ValidationError

from booth.domain.tariff import TariffSettings, quote_fee, vehicle_class_for
from tests.test_tariff import LARGE, NIGHT, PLAIN, SMALL, TZ, at, quote

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
