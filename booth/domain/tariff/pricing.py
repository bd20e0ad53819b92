"""The parking tariff: a pure function from one stay to a quote with a breakdown a driver can check.

No I/O and no clock: the caller passes entry, exit and the lot's zone. Money is integer fen; the TOML
``[tariff]`` section writes amounts as yuan text ("5.00", "2.5") so that nobody confuses yuan and fen.

How a stay is priced (each choice is pinned by tests/test_tariff.py):

* **Minutes.** Started minutes count: a stay lasts ceil(seconds / 60) minutes, so 60 min 0 s is 60 minutes
  and 60 min 1 s is 61. Minute k of a stay is the slice starting at entry + k min; a slice belongs to the
  band, cap window and monthly pass in which it *starts*.
* **Free minutes.** Charged time (the whole stay, less what a monthly pass covers) of at most
  ``free_minutes`` costs nothing. Longer charged time is charged in full when
  ``charge_free_minutes_when_exceeded`` (most lots), otherwise its first ``free_minutes`` are not charged.
* **Periods.** Per vehicle class: a first period (e.g. first 60 min 5 yuan), then every ``period_minutes``
  ``period_price``; a started period is a whole period.
* **Day/night.** With a night band, the stay is cut where the band starts or ends and each piece is priced
  on its own, from its own start: day pieces in day periods, night pieces in night periods, each night
  capped at the night ``cap``. A piece's last started period is rounded up *within its band*, so no minute
  is ever charged at the other band's price; the cost is at most one rounded-up period per switch. The
  first-period price belongs to the start of the stay: it applies only when the stay starts in the day band.
* **Daily cap.** Windows of 24 elapsed hours from the start of charging (``rolling_24h``) or the lot's
  calendar days (``calendar_day``). A period belongs to the window in which it starts (it is never split or
  charged twice) and each window costs at most ``daily_cap``; a capped window is one line. Periods run on
  across windows: the first-period price is charged once per stay, never again at the start of a later day.
  A night cap and a daily cap both apply; a night that spans two calendar days is still one night.
* **Charged part.** What is charged (after uncharged free minutes, or outside a monthly pass) is priced as
  if the vehicle had entered when charging begins: its first period and rolling windows count from there.
  So a pass that expires mid-stay charges the time after it expired like a fresh stay; if a pass begins
  mid-stay, the time before it is priced the same way on its own.
* **Monthly passes and whitelist.** Whitelisted plates never pay. A pass is valid from ``valid_from``
  00:00 to the end of ``valid_to`` (lot time); the time it covers is free.
* **Deductions.** Discount first, then what was already paid; the due amount is never negative and an
  excess is not refunded (the deduction line says how much of it was used). If something is still due, it
  is waived when the exit is at most ``grace_minutes`` after a payment that **settled the whole fee due at
  that payment's moment** (the payments made by then, with the discount, cover the gross fee of the stay up
  to then, and that fee was more than nothing). A partial payment never earns grace, nor does one made while
  nothing was due yet: the rest is asked for.

Each amount paid or discounted gets a line, even when the fee leaves nothing of it to use.

The rule of a quote, first match: "whitelist", "monthly_pass" (a pass covers the whole stay),
"free_minutes", "paid" (deductions cover a fee), "grace", else "charged". The lines of a quote add up to
its due amount: charges first, then deductions (negative).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from typing import Annotated, Any, Literal, Self
from zoneinfo import ZoneInfo

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
from booth.domain.phrases import Phrase, say

Colour = Literal["blue", "yellow", "green", "yellow_green", "white", "black", "unknown"]
COLOURS: tuple[Colour, ...] = ("blue", "yellow", "green", "yellow_green", "white", "black", "unknown")
Rule = Literal["charged", "free_minutes", "monthly_pass", "whitelist", "grace", "paid"]

MAX_STAY_DAYS = 3660  # a longer "stay" is a wrong entry time (a camera with a reset clock), not a fee
_DAY_MINUTES = 1440
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


def _plate_key(plate: str) -> str:
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
    def _switches(self) -> tuple[tuple[int, bool], ...]:
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
        plate = _plate_key(value)
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
        plates = tuple(_plate_key(p) for p in value)
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
    def _index(self) -> _TariffIndex:
        """Look-ups built once, so a quote finds a plate or colour instead of scanning the lists."""
        passes: dict[str, list[MonthlyPass]] = {}
        for item in self.monthly:
            passes.setdefault(item.plate, []).append(item)
        return _TariffIndex(
            whitelist=frozenset(self.whitelist),
            passes={plate: tuple(items) for plate, items in passes.items()},
            class_of={colour: self.class_by_colour.get(colour, self.default_class) for colour in COLOURS},
        )

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """A copy with updated fields must not keep the old index (model_copy copies cached values)."""
        copy = super().model_copy(update=update, deep=deep)
        copy.__dict__.pop("_index", None)
        return copy


@dataclass(frozen=True, slots=True)
class _TariffIndex:
    whitelist: frozenset[str]
    passes: dict[str, tuple[MonthlyPass, ...]]
    class_of: dict[str, str]  # every colour name -> its class


# --- quotes ---------------------------------------------------------------------------------------------


class TariffError(ValueError):
    """The stay cannot be priced as given (naive datetimes, exit before entry, unknown colour...)."""


class QuoteLine:
    """One line of a quote: ``label`` is its Chinese text, ``phrase`` the same for a screen that translates
    (a "tariff.*" code of booth.domain.phrases; None only for lines built by hand). Lines compare by label
    and amount: the phrase is the same line in another form.

    The label is worded from the phrase when first read, not when the line is made: most quotes are never
    shown (a lane re-quotes, a benchmark or a report prices thousands), and wording every line eagerly cut
    the tariff's throughput from ~80,000 to ~35,000 quotes/s. Immutable once made.
    """

    __slots__ = ("_label", "fen", "phrase")
    _label: str | None
    fen: int
    phrase: Phrase | None

    def __init__(self, label: str | None, fen: int, phrase: Phrase | None = None) -> None:
        if label is None and phrase is None:
            raise TypeError("a quote line needs a label or a phrase")
        object.__setattr__(self, "_label", label)
        object.__setattr__(self, "fen", fen)
        object.__setattr__(self, "phrase", phrase)

    @property
    def label(self) -> str:
        label: str | None = self._label
        if label is None:
            assert self.phrase is not None
            label = self.phrase.text
            object.__setattr__(self, "_label", label)
        return label

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"QuoteLine is immutable: cannot set {name}")

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, QuoteLine):
            return NotImplemented
        return self.fen == other.fen and self.label == other.label

    def __hash__(self) -> int:
        return hash((self.label, self.fen))

    def __repr__(self) -> str:
        return f"QuoteLine({self.label!r}, {self.fen!r}, {self.phrase!r})"


def _line(phrase: Phrase, fen: int) -> QuoteLine:
    return QuoteLine(None, fen, phrase)


# Deduction lines start with these words (and no charge line does): the breakdown totals the lines above.
_DISCOUNT, _PAID, _GRACE = "优惠", "已付", "付款后"

_RULE_TEXT: dict[str, str] = {
    "charged": "临时车计费",
    "free_minutes": "免费时段内",
    "monthly_pass": "月卡有效",
    "whitelist": "白名单免费",
    "grace": "付款后宽限期内",
    "paid": "已付清",
}


@dataclass(frozen=True, slots=True)
class Quote:
    """The fee for one stay; ``sum(line.fen for line in lines) == due_fen``.

    ``paid_fen`` and ``discount_fen`` are the amounts given to quote_fee; the deduction lines show how much
    of each was used. ``entry`` and ``exit`` are in the lot's zone.
    """

    entry: datetime
    exit: datetime
    duration_minutes: int
    vehicle_class: str
    gross_fen: int
    paid_fen: int
    discount_fen: int
    due_fen: int
    rule: Rule
    lines: tuple[QuoteLine, ...]

    def breakdown(self) -> str:
        """The text an attendant reads out or prints: stay, each line, total, deductions, due."""
        out = [
            f"入场 {self.entry:%Y-%m-%d %H:%M:%S}  离场 {self.exit:%Y-%m-%d %H:%M:%S}",
            f"停车 {_duration_text(self.duration_minutes)}  车型 {self.vehicle_class}",
        ]
        charges = len(self.lines)
        while charges and self.lines[charges - 1].label.startswith((_DISCOUNT, _PAID, _GRACE)):
            charges -= 1
        out += [_aligned(line.label, line.fen) for line in self.lines[:charges]]
        out.append(_aligned("费用合计", self.gross_fen))
        out += [_aligned(line.label, line.fen) for line in self.lines[charges:]]
        out.append(_aligned("应付", self.due_fen) + f"  ({_RULE_TEXT[self.rule]})")
        return "\n".join(out)


def _duration_text(minutes: int) -> str:
    days, rest = divmod(minutes, _DAY_MINUTES)
    hours, mins = divmod(rest, 60)
    text = (f"{days}天" if days else "") + (f"{hours}小时" if hours or days else "")
    return f"{text}{mins}分钟"


def _aligned(label: str, fen: int, width: int = 44) -> str:
    shown = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in label)
    amount = f"{format_yuan(fen)}元"
    return f"{label}{' ' * max(2, width - shown - len(amount))}{amount}"


def vehicle_class_for(tariff: TariffSettings, colour: str) -> str:
    """The class a plate colour is charged as; colours outside the fixed vocabulary are refused by name."""
    try:
        vehicle_class = tariff._index.class_of.get(colour)
    except TypeError:  # unhashable
        vehicle_class = None
    if vehicle_class is None:
        key = colour.strip().lower().replace("-", "_") if isinstance(colour, str) else None
        vehicle_class = tariff._index.class_of.get(key) if key is not None else None
        if vehicle_class is None:
            raise TariffError(f"unknown plate colour {colour!r}; expected one of {', '.join(COLOURS)}")
    return vehicle_class


def _require_aware(name: str, value: object) -> datetime:
    """Name the datetime that cannot be placed in time (the fast path just lets the subtraction fail)."""
    if not isinstance(value, datetime):
        raise TariffError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise TariffError(f"{name} {value.isoformat()} has no time zone; pass a timezone-aware datetime")
    return value


def _require_fen(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TariffError(f"{name} must be an integer number of fen, got {value!r}")
    if value < 0:
        raise TariffError(f"{name} cannot be negative, got {value}")
    return value


def quote_fee(
    tariff: TariffSettings,
    *,
    plate: str,
    colour: str,
    entry: datetime,
    exit: datetime,
    tz: ZoneInfo,
    paid_fen: int = 0,
    discount_fen: int = 0,
    last_paid_at: datetime | None = None,
    payments: Sequence[tuple[datetime, int]] = (),
) -> Quote:
    """Price a stay from ``entry`` to ``exit`` and deduct what was paid or discounted (see module doc).

    ``payments`` are the counted payments of the stay as (paid at, fen); their sum must be ``paid_fen``. They
    decide the grace rule: grace runs from the latest payment after which everything paid by then covered the
    gross fee up to then. ``last_paid_at`` is the short form for one payment of the whole ``paid_fen`` at
    that moment. A payment without its time never earns grace.

    Raises TariffError, naming the argument, for naive datetimes, exit before entry, a payment before entry,
    negative or non-integer amounts, payments that do not add up to ``paid_fen``, an unknown plate colour, or
    an implausibly long stay.
    """
    try:  # subtracting a naive datetime (or a non-datetime) from an aware one raises TypeError
        entry_us = _epoch_us(entry)
        exit_us = _epoch_us(exit)
        paid_us = None if last_paid_at is None else _epoch_us(last_paid_at)
    except TypeError:
        for name, value in (("entry", entry), ("exit", exit), ("last_paid_at", last_paid_at)):
            if value is not None:
                _require_aware(name, value)
        raise
    if exit_us < entry_us:
        raise TariffError(f"exit {exit.isoformat()} is before entry {entry.isoformat()}")
    if type(paid_fen) is not int or type(discount_fen) is not int or paid_fen < 0 or discount_fen < 0:
        _require_fen("paid_fen", paid_fen)
        _require_fen("discount_fen", discount_fen)
    if last_paid_at is not None and paid_us is not None and paid_us < entry_us:
        raise TariffError(f"last_paid_at {last_paid_at.isoformat()} is before entry {entry.isoformat()}")
    if payments:
        if last_paid_at is not None:
            raise TariffError("pass either payments or last_paid_at, not both")
        timed = _timed_payments(payments, entry, entry_us, paid_fen)
    elif last_paid_at is not None and paid_us is not None and paid_fen:
        timed = [(paid_us, last_paid_at, paid_fen)]
    else:
        timed = []
    if not isinstance(plate, str):
        raise TariffError(f"plate must be text, got {type(plate).__name__}")
    index = tariff._index
    vehicle_class = index.class_of.get(colour) if type(colour) is str else None
    if vehicle_class is None:
        vehicle_class = vehicle_class_for(tariff, colour)
    stay = _Stay(tariff, entry, entry_us, exit, exit_us, tz)
    key = plate if plate.isalnum() and plate.isupper() else _plate_key(plate)
    lines: list[QuoteLine] = []
    gross, rule = _charge(tariff, stay, key, vehicle_class, lines)

    remaining = gross
    if discount_fen or paid_fen:
        for code, amount in (("tariff.discount", discount_fen), ("tariff.prepaid", paid_fen)):
            if amount:
                used = min(amount, remaining)
                if used == amount:
                    phrase = say(code, amount_fen=amount)
                elif used:
                    phrase = say(f"{code}_partly_used", amount_fen=amount, used_fen=used)
                else:
                    phrase = say(f"{code}_unused", amount_fen=amount)
                lines.append(_line(phrase, -used))
                remaining -= used
    if gross and remaining == 0 and (paid_fen or discount_fen):
        rule = "paid"
    elif (
        remaining
        and timed
        and _grace_applies(tariff, stay, exit_us, key, vehicle_class, timed, discount_fen)
    ):
        lines.append(_line(say("tariff.grace", minutes=tariff.grace_minutes), -remaining))
        remaining = 0
        rule = "grace"
    return Quote(
        entry=stay.entry_local,
        exit=stay.exit_local,
        duration_minutes=stay.duration,
        vehicle_class=vehicle_class,
        gross_fen=gross,
        paid_fen=paid_fen,
        discount_fen=discount_fen,
        due_fen=remaining,
        rule=rule,
        lines=tuple(lines),
    )


def _charge(
    tariff: TariffSettings, stay: _Stay, key: str, vehicle_class: str, lines: list[QuoteLine]
) -> tuple[int, Rule]:
    """The gross fee of ``stay`` and the rule that priced it, its charge lines appended to ``lines``."""
    index = tariff._index
    if key in index.whitelist:
        lines.append(_line(say("tariff.whitelist", plate=key), 0))
        return 0, "whitelist"
    parts = [(0, stay.duration)]
    passes = index.passes.get(key)
    if passes:
        parts = stay.outside_passes(passes, lines)
    free = tariff.free_minutes
    if not parts:
        return 0, "monthly_pass"
    if (parts[0][1] - parts[0][0] if len(parts) == 1 else sum(hi - lo for lo, hi in parts)) <= free:
        lines.append(_line(say("tariff.free_minutes", minutes=free), 0))
        return 0, "free_minutes"
    if free and not tariff.charge_free_minutes_when_exceeded:
        lines.append(_line(say("tariff.free_minutes_first", minutes=free), 0))
        parts = _without_first_minutes(parts, free)
    show_range = len(parts) > 1
    gross = 0
    for lo, hi in parts:
        gross += stay.price_part(tariff.classes[vehicle_class], lo, hi, show_range, lines)
    return gross, "charged"


def _timed_payments(
    payments: Sequence[tuple[datetime, int]], entry: datetime, entry_us: int, paid_fen: int
) -> list[tuple[int, datetime, int]]:
    """Check the counted payments and return them as (epoch µs, paid at, fen), oldest first."""
    timed: list[tuple[int, datetime, int]] = []
    total = 0
    for index, item in enumerate(payments):
        try:
            at, fen = item
        except (TypeError, ValueError):
            raise TariffError(f"payments[{index}] must be a (paid at, fen) pair, got {item!r}") from None
        if not isinstance(at, datetime):
            raise TariffError(f"payments[{index}] time must be a datetime, got {type(at).__name__}")
        _require_aware(f"payments[{index}] time", at)
        _require_fen(f"payments[{index}] amount", fen)
        at_us = _epoch_us(at)
        if at_us < entry_us:
            raise TariffError(f"payments[{index}] at {at.isoformat()} is before entry {entry.isoformat()}")
        timed.append((at_us, at, fen))
        total += fen
    if total != paid_fen:
        raise TariffError(f"payments add up to {total} fen but paid_fen is {paid_fen}")
    timed.sort(key=lambda item: item[0])
    return timed


def _grace_applies(
    tariff: TariffSettings,
    stay: _Stay,
    exit_us: int,
    key: str,
    vehicle_class: str,
    timed: list[tuple[int, datetime, int]],
    discount_fen: int,
) -> bool:
    """Whether the exit is within grace of a payment that settled the whole fee due at its moment: the money
    paid by then (and the discount) covers the gross fee of the stay from entry to that payment, and that
    fee was not nothing."""
    limit = tariff.grace_minutes * _US_PER_MINUTE
    paid_by: list[int] = []
    total = 0
    for _, _, fen in timed:
        total += fen
        paid_by.append(total)
    for index in range(len(timed) - 1, -1, -1):
        at_us, at, _ = timed[index]
        if index + 1 < len(timed) and timed[index + 1][0] == at_us:
            continue  # several payments at one instant count together, at the last of them
        if exit_us - at_us > limit:
            return False  # older payments are further from the exit still
        then = _Stay(tariff, stay.entry_local, stay.entry_us, at, at_us, stay.tz)
        gross_then, _ = _charge(tariff, then, key, vehicle_class, [])
        if gross_then and paid_by[index] + discount_fen >= gross_then:
            return True  # (a payment while nothing was due yet settled no fee: it earns no grace)
    return False


def add_arrears(quote: Quote, arrears_fen: Sequence[int]) -> Quote:
    """The exit's quote with the plate's arrears (fees of earlier stays whose exit was never seen) asked for
    on top: one line for them, and a deduction for money already paid beyond this stay's own fee (so a driver
    who paid part of the total before is not asked for it twice). Grace never waives arrears."""
    total = sum(arrears_fen)
    if not total:
        return quote
    lines = (*quote.lines, _line(say("tariff.arrears", count=len(arrears_fen)), total))
    spare = max(quote.paid_fen + quote.discount_fen - quote.gross_fen, 0)
    used = min(spare, total)
    if used:
        lines = (*lines, _line(say("tariff.arrears_paid"), -used))
    due = quote.due_fen + total - used
    return replace(quote, due_fen=due, lines=lines, rule="charged" if due else quote.rule)


def _without_first_minutes(parts: list[tuple[int, int]], minutes: int) -> list[tuple[int, int]]:
    """Drop the first ``minutes`` of charged time (the uncharged free minutes), which may span parts."""
    kept: list[tuple[int, int]] = []
    for lo, hi in parts:
        if minutes >= hi - lo:
            minutes -= hi - lo
            continue
        kept.append((lo + minutes, hi))
        minutes = 0
    return kept


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_US_PER_MINUTE = 60_000_000
_WALL_CACHE_LIMIT = 50_000
_wall_to_epoch_us: dict[ZoneInfo, dict[int, int]] = {}


def _epoch_us(instant: datetime) -> int:
    """Microseconds since the epoch: exact integer arithmetic, and immune to the wall-time subtraction that
    Python applies to two datetimes sharing one tzinfo (wrong across a DST change)."""
    return (instant - _EPOCH) // _MICROSECOND


def _local_epoch_us(tz: ZoneInfo, ordinal: int, minute_of_day: int) -> int:
    """The instant of a wall time in ``tz``; memoised, as every quote asks for the same few days' switches."""
    cache = _wall_to_epoch_us.get(tz)
    if cache is None:
        if len(_wall_to_epoch_us) >= 16:
            _wall_to_epoch_us.clear()
        cache = _wall_to_epoch_us.setdefault(tz, {})
    key = ordinal * _DAY_MINUTES + minute_of_day
    us = cache.get(key)
    if us is None:
        day = date.fromordinal(ordinal)
        us = _epoch_us(
            datetime(day.year, day.month, day.day, minute_of_day // 60, minute_of_day % 60, tzinfo=tz)
        )
        if len(cache) >= _WALL_CACHE_LIMIT:
            cache.clear()
        cache[key] = us
    return us


class _Stay:
    """One stay on its minute grid: maps instants to stay minutes and prices parts of it arithmetically."""

    __slots__ = (
        "clocks",
        "dated",
        "duration",
        "entry_local",
        "entry_us",
        "exit_local",
        "rolling",
        "tz",
        "walls",
    )

    def __init__(
        self,
        tariff: TariffSettings,
        entry: datetime,
        entry_us: int,
        exit: datetime,
        exit_us: int,
        tz: ZoneInfo,
    ) -> None:
        self.tz = tz
        self.entry_us = entry_us
        self.entry_local = entry if entry.tzinfo is tz else entry.astimezone(tz)
        self.exit_local = exit if exit.tzinfo is tz else exit.astimezone(tz)
        self.duration = -((entry_us - exit_us) // _US_PER_MINUTE)
        if self.duration > MAX_STAY_DAYS * _DAY_MINUTES:
            raise TariffError(
                f"a stay of {self.duration // _DAY_MINUTES} days (entry {entry.isoformat()}) is implausible; "
                "check the entry time"
            )
        self.rolling = tariff.cap_window == "rolling_24h"
        self.dated = self.entry_local.toordinal() != self.exit_local.toordinal()
        # stay minute -> (date ordinal, minute of day) of the band switches and midnights found, so labels
        # need no time-zone conversion for them
        self.walls: dict[int, tuple[int, int]] = {}
        self.clocks: dict[int, str] = {}  # each boundary ends one label's span and starts the next

    def minute_at(self, ordinal: int, minute_of_day: int) -> int:
        """Index of the first stay minute starting at or after a local wall time."""
        return -((self.entry_us - _local_epoch_us(self.tz, ordinal, minute_of_day)) // _US_PER_MINUTE)

    def local_at(self, minute: int) -> datetime:
        if minute == 0:
            return self.entry_local
        if minute == self.duration:
            return self.exit_local
        return (_EPOCH + (self.entry_us + minute * _US_PER_MINUTE) * _MICROSECOND).astimezone(self.tz)

    def clock(self, minute: int) -> str:
        """The local time a stay minute starts at, as labels show it ("20:00", or "05-01 20:00")."""
        text = self.clocks.get(minute)
        if text is None:
            text = self.clocks[minute] = self._clock(minute)
        return text

    def _clock(self, minute: int) -> str:
        wall = self.walls.get(minute)
        if wall is None:
            at = self.local_at(minute)
            month, day, hour, of_hour = at.month, at.day, at.hour, at.minute
        else:
            on = date.fromordinal(wall[0])
            month, day, (hour, of_hour) = on.month, on.day, divmod(wall[1], 60)
        if self.dated:
            return f"{month:02d}-{day:02d} {hour:02d}:{of_hour:02d}"
        return f"{hour:02d}:{of_hour:02d}"

    def outside_passes(
        self, passes: tuple[MonthlyPass, ...], lines: list[QuoteLine]
    ) -> list[tuple[int, int]]:
        """The parts of the stay no pass covers; a line names each pass that covers some of it or lapsed."""
        covered: list[tuple[int, int]] = []
        for item in passes:
            lo = max(0, self.minute_at(item.valid_from.toordinal(), 0))
            hi = min(self.duration, self.minute_at(item.valid_to.toordinal() + 1, 0))
            whole = lo == 0 and hi == self.duration
            if lo >= hi and not whole:
                continue
            valid_from, valid_to = item.valid_from.isoformat(), item.valid_to.isoformat()
            if whole:
                note = item.note.rstrip()
                if note:
                    phrase = say("tariff.pass_note", plate=item.plate, valid_from=valid_from,
                                 valid_to=valid_to, note=note)
                else:
                    phrase = say("tariff.pass", plate=item.plate, valid_from=valid_from, valid_to=valid_to)
                lines.append(_line(phrase, 0))
            else:
                lines.append(_line(say("tariff.pass_part", plate=item.plate, start=self.clock(lo),
                                       end=self.clock(hi), valid_from=valid_from, valid_to=valid_to), 0))
            covered.append((lo, hi))
        if not covered:
            latest = max(passes, key=lambda p: p.valid_to)
            lines.append(_line(say("tariff.pass_lapsed", valid_from=latest.valid_from.isoformat(),
                                   valid_to=latest.valid_to.isoformat()), 0))
        parts: list[tuple[int, int]] = []
        cursor = 0
        for lo, hi in sorted(covered):
            if lo > cursor:
                parts.append((cursor, lo))
            cursor = max(cursor, hi)
        if cursor < self.duration or not covered:
            parts.append((cursor, self.duration))
        return parts

    def band_segments(self, night: NightBand, start: int, end: int) -> list[tuple[int, int, bool]]:
        """Cut [start, end) where the night band starts or ends: (from, to, is_night) pieces."""
        first = self.local_at(start)
        is_night = night.contains(first.hour * 60 + first.minute)
        segments: list[tuple[int, int, bool]] = []
        cursor = start
        last = self.local_at(end).toordinal()
        known_us = _wall_to_epoch_us.get(self.tz, {})
        entry_us = self.entry_us
        for ordinal in range(first.toordinal(), last + 1):
            for minute_of_day, to_night in night._switches:
                switch_us = known_us.get(ordinal * _DAY_MINUTES + minute_of_day)  # inlined minute_at: hot
                if switch_us is None:
                    switch_us = _local_epoch_us(self.tz, ordinal, minute_of_day)
                switch = -((entry_us - switch_us) // _US_PER_MINUTE)
                if cursor < switch < end and to_night != is_night:
                    self.walls[switch] = (ordinal, minute_of_day)
                    segments.append((cursor, switch, is_night))
                    cursor, is_night = switch, to_night
        segments.append((cursor, end, is_night))
        return segments

    def cap_windows(self, start: int, end: int) -> list[tuple[int, int]]:
        if self.rolling:
            if end - start <= _DAY_MINUTES:
                return [(start, end)]
            return [(lo, min(lo + _DAY_MINUTES, end)) for lo in range(start, end, _DAY_MINUTES)]
        windows: list[tuple[int, int]] = []
        lo = start
        ordinal = self.local_at(start).toordinal() + 1
        while (midnight := self.minute_at(ordinal, 0)) < end:
            self.walls[midnight] = (ordinal, 0)
            windows.append((lo, midnight))
            lo = midnight
            ordinal += 1
        windows.append((lo, end))
        return windows

    def price_part(
        self, prices: ClassTariff, start: int, end: int, show_range: bool, lines: list[QuoteLine]
    ) -> int:
        """Charge stay minutes [start, end) as a stay of their own; append its lines, return its fee.

        Amounts first, labels after: a capped window gets one line, so its pieces are never formatted.
        """
        night = prices.night
        segments = [(start, end, False)] if night is None else self.band_segments(night, start, end)
        cap = prices.daily_cap
        if cap is None or (self.rolling and end - start <= _DAY_MINUTES):
            windows = [(start, end)]
        else:
            windows = self.cap_windows(start, end)
        if len(segments) == 1 and len(windows) == 1:
            return self.price_simple_part(prices, segments[0][2], start, end, show_range, lines)
        show_range = show_range or len(segments) > 1 or len(windows) > 1
        night_left = [-1 if night is None or night.cap is None else night.cap] * len(segments)
        total = 0
        first_seg = 0
        for index, (w_lo, w_hi) in enumerate(windows):
            window_fen = 0
            pieces: list[_Piece] = []
            while segments[first_seg][1] <= w_lo:
                first_seg += 1
            for seg in range(first_seg, len(segments)):
                s_lo, s_hi, is_night = segments[seg]
                if s_lo >= w_hi:
                    break
                lo, hi = max(s_lo, w_lo), min(s_hi, w_hi)
                if night is not None and is_night:
                    count = _periods_starting(s_lo, night.period_minutes, lo, hi)
                    fen = raw = count * night.period_price
                    left = night_left[seg]
                    if left >= 0:
                        fen = min(fen, left)
                        night_left[seg] = left - fen
                    pieces.append((lo, hi, True, False, count, fen, raw))
                else:
                    base = s_lo
                    first = False
                    if s_lo == start and prices.first_period_minutes:
                        base += prices.first_period_minutes
                        first = lo <= s_lo < hi
                        if first:
                            window_fen += prices.first_period_price
                    count = _periods_starting(base, prices.period_minutes, lo, hi)
                    fen = raw = count * prices.period_price
                    pieces.append((lo, hi, False, first, count, fen, raw))
                window_fen += fen
            if cap is not None and window_fen > cap:
                lines.append(_line(self.cap_phrase(index + 1, w_lo, w_hi, window_fen), cap))
                window_fen = cap
            else:
                for piece in pieces:
                    self.piece_lines(prices, piece, show_range, lines)
            total += window_fen
        return total

    def price_simple_part(
        self,
        prices: ClassTariff,
        is_night: bool,
        start: int,
        end: int,
        show_range: bool,
        lines: list[QuoteLine],
    ) -> int:
        """price_part for the common case of one band and one cap window, without its bookkeeping."""
        night = prices.night
        if night is not None and is_night:
            count = -((start - end) // night.period_minutes)
            fen = raw = count * night.period_price
            if night.cap is not None and fen > night.cap:
                fen = night.cap
            first = False
        else:
            first = prices.first_period_minutes > 0
            rest = end - start - prices.first_period_minutes if first else end - start
            count = -(-rest // prices.period_minutes) if rest > 0 else 0
            fen = raw = count * prices.period_price
        total = fen + prices.first_period_price if first else fen
        cap = prices.daily_cap
        if cap is not None and total > cap:
            lines.append(_line(self.cap_phrase(1, start, end, total), cap))
            return cap
        self.piece_lines(prices, (start, end, is_night, first, count, fen, raw), show_range, lines)
        return total

    def cap_phrase(self, window: int, lo: int, hi: int, raw_fen: int) -> Phrase:
        """The line of a capped window: the 24 hours it is (rolling) or the day, and what it would cost."""
        if self.rolling:
            return say("tariff.cap_window", window=window, start=self.clock(lo), end=self.clock(hi),
                       raw_fen=raw_fen)
        return say("tariff.cap_day", start=self.clock(lo), end=self.clock(hi), raw_fen=raw_fen)

    def piece_lines(
        self, prices: ClassTariff, piece: _Piece, show_range: bool, lines: list[QuoteLine]
    ) -> None:
        lo, hi, is_night, first, count, fen, raw = piece
        # where the piece lies: its band (when the class has a night band) and its span (when shown)
        band = "" if prices.night is None else "night" if is_night else "day"
        where: Phrase | str = ""
        if show_range:
            code = f"tariff.where.{band}_span" if band else "tariff.where.span"
            where = say(code, start=self.clock(lo), end=self.clock(hi))
        elif band:
            where = say(f"tariff.where.{band}")
        if is_night:
            night = prices.night
            assert night is not None
            if fen < raw:
                phrase = say("tariff.night_capped", where=where, count=count, minutes=night.period_minutes,
                             price_fen=night.period_price, raw_fen=raw, cap_fen=night.cap or 0)
            else:
                phrase = say("tariff.periods", where=where, count=count, minutes=night.period_minutes,
                             price_fen=night.period_price)
            lines.append(_line(phrase, fen))
            return
        if first:
            phrase = say("tariff.first_period", where=where, minutes=prices.first_period_minutes)
            lines.append(_line(phrase, prices.first_period_price))
        if count:
            code = "tariff.more_periods" if first else "tariff.periods"
            phrase = say(code, where=where, count=count, minutes=prices.period_minutes,
                         price_fen=prices.period_price)
            lines.append(_line(phrase, fen))


# (from, to, is night, has the first period, periods, fen after the night cap, fen before it)
_Piece = tuple[int, int, bool, bool, int, int, int]


def _periods_starting(base: int, step: int, lo: int, hi: int) -> int:
    """How many of the periods starting at base, base+step, ... start in [lo, hi)."""
    if hi <= base:
        return 0
    before_hi = -((base - hi) // step)
    before_lo = -((base - lo) // step) if lo > base else 0
    return before_hi - before_lo
