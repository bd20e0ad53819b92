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

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from zoneinfo import ZoneInfo

from booth.domain.phrases import say
from booth.domain.tariff.quotes import Quote, QuoteLine, Rule, TariffError, quote_line
from booth.domain.tariff.settings import COLOURS, TariffSettings, plate_key
from booth.domain.tariff.stay import US_PER_MINUTE, StayGrid, epoch_us


def vehicle_class_for(tariff: TariffSettings, colour: str) -> str:
    """The class a plate colour is charged as; colours outside the fixed vocabulary are refused by name."""
    try:
        vehicle_class = tariff.lookup.class_of.get(colour)
    except TypeError:  # unhashable
        vehicle_class = None
    if vehicle_class is None:
        key = colour.strip().lower().replace("-", "_") if isinstance(colour, str) else None
        vehicle_class = tariff.lookup.class_of.get(key) if key is not None else None
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
        entry_us = epoch_us(entry)
        exit_us = epoch_us(exit)
        paid_us = None if last_paid_at is None else epoch_us(last_paid_at)
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
    index = tariff.lookup
    vehicle_class = index.class_of.get(colour) if type(colour) is str else None
    if vehicle_class is None:
        vehicle_class = vehicle_class_for(tariff, colour)
    stay = StayGrid(tariff, entry, entry_us, exit, exit_us, tz)
    key = plate if plate.isalnum() and plate.isupper() else plate_key(plate)
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
                lines.append(quote_line(phrase, -used))
                remaining -= used
    if gross and remaining == 0 and (paid_fen or discount_fen):
        rule = "paid"
    elif (
        remaining
        and timed
        and _grace_applies(tariff, stay, exit_us, key, vehicle_class, timed, discount_fen)
    ):
        lines.append(quote_line(say("tariff.grace", minutes=tariff.grace_minutes), -remaining))
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
    tariff: TariffSettings, stay: StayGrid, key: str, vehicle_class: str, lines: list[QuoteLine]
) -> tuple[int, Rule]:
    """The gross fee of ``stay`` and the rule that priced it, its charge lines appended to ``lines``."""
    index = tariff.lookup
    if key in index.whitelist:
        lines.append(quote_line(say("tariff.whitelist", plate=key), 0))
        return 0, "whitelist"
    parts = [(0, stay.duration)]
    passes = index.passes.get(key)
    if passes:
        parts = stay.outside_passes(passes, lines)
    free = tariff.free_minutes
    if not parts:
        return 0, "monthly_pass"
    if (parts[0][1] - parts[0][0] if len(parts) == 1 else sum(hi - lo for lo, hi in parts)) <= free:
        lines.append(quote_line(say("tariff.free_minutes", minutes=free), 0))
        return 0, "free_minutes"
    if free and not tariff.charge_free_minutes_when_exceeded:
        lines.append(quote_line(say("tariff.free_minutes_first", minutes=free), 0))
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
        at_us = epoch_us(at)
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
    stay: StayGrid,
    exit_us: int,
    key: str,
    vehicle_class: str,
    timed: list[tuple[int, datetime, int]],
    discount_fen: int,
) -> bool:
    """Whether the exit is within grace of a payment that settled the whole fee due at its moment: the money
    paid by then (and the discount) covers the gross fee of the stay from entry to that payment, and that
    fee was not nothing."""
    limit = tariff.grace_minutes * US_PER_MINUTE
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
        then = StayGrid(tariff, stay.entry_local, stay.entry_us, at, at_us, stay.tz)
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
    lines = (*quote.lines, quote_line(say("tariff.arrears", count=len(arrears_fen)), total))
    spare = max(quote.paid_fen + quote.discount_fen - quote.gross_fen, 0)
    used = min(spare, total)
    if used:
        lines = (*lines, quote_line(say("tariff.arrears_paid"), -used))
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
