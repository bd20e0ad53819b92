"""The ``[tariff]`` section: prices per vehicle class (periods, daily cap, night band), free and grace
minutes, monthly passes and the whitelist. Amounts are yuan text ("5.00", "2.5"), held as integer fen, so
nobody confuses yuan and fen; times of day are "HH:MM", held as minutes after midnight. Every bad value is
refused with the key and the fix named."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, time
from functools import cached_property
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)

from booth.domain.money import MoneyError, format_yuan, parse_yuan

Colour = Literal["blue", "yellow", "green", "yellow_green", "white", "black", "unknown"]
COLOURS: tuple[Colour, ...] = ("blue", "yellow", "green", "yellow_green", "white", "black", "unknown")

_CLASS_NAME = re.compile(r"^[A-Za-z0-9_]{1,32}$")
_HHMM = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_TOO_PRECISE = re.compile(r"^\d+\.\d{3,}$")
_PLATE_NOISE = str.maketrans("", "", " \t\r\n\u3000·•・.-")


# --- config value types ---------------------------------------------------------------------------------


def _yuan_text_to_fen(value: object) -> int:
    """Amounts are yuan text: a bare number is refused (is 5 yuan or fen? is 2.3 exact?)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise ValueError(f'write amounts as yuan text in quotes, e.g. "5.00"; got the bare number {value!r}')
    if not isinstance(value, str):
        raise ValueError(f'write amounts as yuan text in quotes, e.g. "5.00"; got {type(value).__name__}')
    text = value.strip()
    if text.startswith("-"):
        raise ValueError(f"amounts cannot be negative, got {value!r}")
    if _TOO_PRECISE.match(text):
        raise ValueError(f"more than two decimals (the fen is the smallest unit): {value!r}")
    try:
        return parse_yuan(text)
    except MoneyError:
        raise ValueError(f'not an amount in yuan: {value!r} (write e.g. "5.00" or "2.5")') from None


def _optional_yuan_text_to_fen(value: object) -> int | None:
    return None if value is None else _yuan_text_to_fen(value)


def _clock_to_minute(value: object) -> int:
    """Times of day are "HH:MM" text (or a TOML time without seconds); held as minutes after midnight."""
    if isinstance(value, time):
        if value.second or value.microsecond:
            raise ValueError(f"times of day are whole minutes, got {value.isoformat()}")
        return value.hour * 60 + value.minute
    if isinstance(value, str):
        match = _HHMM.match(value.strip())
        if match:
            return int(match[1]) * 60 + int(match[2])
    raise ValueError(f'expected a time of day "HH:MM" from "00:00" to "23:59", got {value!r}')


def _hhmm(minute_of_day: int) -> str:
    return f"{minute_of_day // 60:02d}:{minute_of_day % 60:02d}"


def _yuan_or_none(fen: int | None) -> str | None:
    return None if fen is None else format_yuan(fen)


YuanFen = Annotated[int, BeforeValidator(_yuan_text_to_fen), PlainSerializer(format_yuan, return_type=str)]
OptionalYuanFen = Annotated[
    int | None,
    BeforeValidator(_optional_yuan_text_to_fen),
    PlainSerializer(_yuan_or_none, return_type=str | None),
]
ClockMinute = Annotated[int, BeforeValidator(_clock_to_minute), PlainSerializer(_hhmm, return_type=str)]


def plate_key(plate: str) -> str:
    """Compare plates without spaces, separators or case, so "京A·12345" in the config matches "京a12345"."""
    return plate.translate(_PLATE_NOISE).upper()


# --- the [tariff] section -------------------------------------------------------------------------------


class NightBand(BaseModel):
    """The night band of one vehicle class; the rest of the day is the day band."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: ClockMinute = Field(20 * 60, description='Local time the night band begins, "HH:MM".')
    end: ClockMinute = Field(
        8 * 60, description='Local time it ends, "HH:MM"; earlier than start means it crosses midnight.'
    )
    period_minutes: int = Field(60, ge=1, le=1440, description="Night period length in minutes.")
    period_price: YuanFen = Field(100, description='Price of each started night period, yuan text ("1.00").')
    cap: OptionalYuanFen = Field(None, description="Most charged for one night, yuan text; omit for no cap.")

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if self.start == self.end:
            raise ValueError(
                f"night band start and end are both {_hhmm(self.start)}: a band must not be empty or "
                "the whole day (omit [night] for a single band)"
            )
        return self

    def contains(self, minute_of_day: int) -> bool:
        if self.start < self.end:
            return self.start <= minute_of_day < self.end
        return minute_of_day >= self.start or minute_of_day < self.end

    @cached_property
    def switches(self) -> tuple[tuple[int, bool], ...]:
        """The day's (minute of day, night begins) switches in clock order."""
        return tuple(sorted(((self.start, True), (self.end, False))))


class ClassTariff(BaseModel):
    """The prices of one vehicle class (keyed like "small", "large")."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    first_period_minutes: int = Field(
        60, ge=0, le=1440, description="Length of the first period; 0 = no first period, periods from entry."
    )
    first_period_price: YuanFen = Field(500, description='Price of the first period, yuan text ("5.00").')
    period_minutes: int = Field(30, ge=1, le=1440, description="Length of each later period in minutes.")
    period_price: YuanFen = Field(200, description='Price of each started later period, yuan text ("2.00").')
    daily_cap: OptionalYuanFen = Field(
        None, description="Most charged per cap window (see cap_window), yuan text; omit for no cap."
    )
    night: NightBand | None = Field(None, description="Optional night band with its own prices.")

    @model_validator(mode="after")
    def _first_period_consistent(self) -> Self:
        if self.first_period_minutes == 0 and self.first_period_price != 0:
            raise ValueError(
                f"first_period_price is {format_yuan(self.first_period_price)} but first_period_minutes is 0 "
                '(no first period): set first_period_price = "0" or give the first period a length'
            )
        return self


class MonthlyPass(BaseModel):
    """A monthly (or longer) pass: the plate parks free from valid_from 00:00 to the end of valid_to."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    plate: str = Field(min_length=1, description="The plate, e.g. 京A12345.")
    valid_from: date = Field(description="First valid day (lot time), e.g. 2024-05-01.")
    valid_to: date = Field(description="Last valid day, inclusive.")
    note: str = Field("", description="Free text: holder, contract number.")

    @field_validator("plate")
    @classmethod
    def _plate(cls, value: str) -> str:
        plate = plate_key(value)
        if not plate:
            raise ValueError(f"not a plate: {value!r}")
        return plate

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.valid_to < self.valid_from:
            raise ValueError(
                f"{self.plate}: valid_to {self.valid_to.isoformat()} is before "
                f"valid_from {self.valid_from.isoformat()}"
            )
        return self


def _default_classes() -> dict[str, ClassTariff]:
    return {
        "small": ClassTariff.model_validate(
            {"first_period_price": "5.00", "period_price": "2.00", "daily_cap": "40.00"}
        ),
        "large": ClassTariff.model_validate(
            {"first_period_price": "10.00", "period_price": "4.00", "daily_cap": "80.00"}
        ),
    }


def _default_class_by_colour() -> dict[Colour, str]:
    return {
        "blue": "small",
        "yellow": "large",
        "green": "small",
        "yellow_green": "large",
        "white": "small",
        "black": "small",
        "unknown": "small",
    }


class TariffSettings(BaseModel):
    """The ``[tariff]`` section; every key has a default (a typical city lot), unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    free_minutes: int = Field(
        15, ge=0, le=1440, description="Charged time this long or shorter is free (minutes)."
    )
    charge_free_minutes_when_exceeded: bool = Field(
        True, description="Longer charged time is charged in full (true) or without its first free_minutes."
    )
    grace_minutes: int = Field(
        15,
        ge=0,
        le=1440,
        description="After paying, the driver may leave within this long without paying more.",
    )
    cap_window: Literal["rolling_24h", "calendar_day"] = Field(
        "rolling_24h",
        description='Caps apply per 24 h from the start of charging or per calendar day ("calendar_day").',
    )
    classes: dict[str, ClassTariff] = Field(
        default_factory=_default_classes,
        description="Prices per vehicle class, e.g. [tariff.classes.small]; keys left out of a class "
        "take ClassTariff's defaults (no daily cap, no night band).",
    )
    class_by_colour: dict[Colour, str] = Field(
        default_factory=_default_class_by_colour,
        description="Plate colour -> vehicle class; colours left out take default_class. When [tariff] "
        "defines exactly one class and no class_by_colour, every colour takes that class.",
    )
    default_class: str = Field(
        "small",
        description="Class of a plate colour not in class_by_colour; when [tariff] defines exactly one "
        "class and no default_class, that class.",
    )
    monthly: tuple[MonthlyPass, ...] = Field((), description="Monthly passes ([[tariff.monthly]]).")
    whitelist: tuple[str, ...] = Field((), description="Plates that always park free.")

    @field_validator("classes")
    @classmethod
    def _class_names(cls, value: dict[str, ClassTariff]) -> dict[str, ClassTariff]:
        if not value:
            raise ValueError("at least one vehicle class is required")
        for name in value:
            if not _CLASS_NAME.match(name):
                raise ValueError(f"class name {name!r}: use 1-32 letters, digits or _")
        return value

    @field_validator("whitelist")
    @classmethod
    def _whitelist_plates(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        plates = tuple(plate_key(p) for p in value)
        for raw, plate in zip(value, plates, strict=True):
            if not plate:
                raise ValueError(f"not a plate: {raw!r}")
        return plates

    @model_validator(mode="before")
    @classmethod
    def _one_class_prices_every_colour(cls, data: Any) -> Any:
        """A lot that defines one class means one price list for every car: without this, defining only
        [tariff.classes.small] failed on the default mapping's yellow = "large" (#14). With several
        classes the intent is not clear, so a missing one is refused with the fix named."""
        if not isinstance(data, dict):
            return data
        classes = data.get("classes")
        if not isinstance(classes, dict) or len(classes) != 1:
            return data
        [only] = classes
        if not isinstance(only, str):
            return data
        data = dict(data)
        data.setdefault("default_class", only)
        data.setdefault("class_by_colour", {})
        return data

    @model_validator(mode="after")
    def _classes_exist(self) -> Self:
        known = ", ".join(sorted(self.classes))
        suggested = self.default_class if self.default_class in self.classes else min(self.classes)
        if self.default_class not in self.classes:
            origin = "" if "default_class" in self.model_fields_set else " (the default)"
            raise ValueError(
                f"default_class {self.default_class!r}{origin} is not in [tariff.classes] (have: {known}): "
                f'under [tariff] write default_class = "{suggested}" (the class of a plate colour '
                f"class_by_colour does not list), or define [tariff.classes.{self.default_class}]"
            )
        missing: dict[str, list[str]] = {}
        for colour, name in self.class_by_colour.items():
            if name not in self.classes:
                missing.setdefault(name, []).append(colour)
        problems: list[str] = []
        for name, colours in missing.items():
            if "class_by_colour" in self.model_fields_set:
                problems.extend(
                    f"class_by_colour.{colour} = {name!r}, which is not in [tariff.classes] (have: {known}): "
                    f'define [tariff.classes.{name}], or write {colour} = "{suggested}" (or another class) '
                    "under [tariff.class_by_colour]"
                    for colour in colours
                )
            else:
                problems.append(
                    f"the default class_by_colour sends {', '.join(colours)} plates to {name!r}, which is "
                    f"not in [tariff.classes] (have: {known}): define [tariff.classes.{name}], or add "
                    "[tariff.class_by_colour] naming each colour's class, e.g. "
                    f'{colours[0]} = "{suggested}" (colours it leaves out take default_class '
                    f"{self.default_class!r})"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @cached_property
    def lookup(self) -> TariffLookup:
        """Look-ups built once, so a quote finds a plate or colour instead of scanning the lists."""
        passes: dict[str, list[MonthlyPass]] = {}
        for item in self.monthly:
            passes.setdefault(item.plate, []).append(item)
        return TariffLookup(
            whitelist=frozenset(self.whitelist),
            passes={plate: tuple(items) for plate, items in passes.items()},
            class_of={colour: self.class_by_colour.get(colour, self.default_class) for colour in COLOURS},
        )

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy with updated fields must not keep the old look-ups (model_copy copies cached values)."""
        copy = super().model_copy(update=update, deep=deep)
        copy.__dict__.pop("lookup", None)
        return copy


@dataclass(frozen=True, slots=True)
class TariffLookup:
    """TariffSettings.lookup: the whitelist, the passes by plate and the class of every colour."""

    whitelist: frozenset[str]
    passes: dict[str, tuple[MonthlyPass, ...]]
    class_of: dict[str, str]  # every colour name -> its class
