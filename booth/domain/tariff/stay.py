"""One stay on its minute grid: where the night band starts and ends, the cap windows, the parts a monthly
pass leaves uncovered, and the price of each part with its lines. The arithmetic behind quote_fee (see
pricing.py for the rules), kept apart as the hot path: integer microseconds and memoised wall times."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from booth.domain.phrases import Phrase, say
from booth.domain.tariff.quotes import QuoteLine, TariffError, quote_line
from booth.domain.tariff.settings import ClassTariff, MonthlyPass, NightBand, TariffSettings

MAX_STAY_DAYS = 3660  # a longer "stay" is a wrong entry time (a camera with a reset clock), not a fee
_DAY_MINUTES = 1440

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
US_PER_MINUTE = 60_000_000
_WALL_CACHE_LIMIT = 50_000
_wall_to_epoch_us: dict[ZoneInfo, dict[int, int]] = {}


def epoch_us(instant: datetime) -> int:
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
        us = epoch_us(
            datetime(day.year, day.month, day.day, minute_of_day // 60, minute_of_day % 60, tzinfo=tz)
        )
        if len(cache) >= _WALL_CACHE_LIMIT:
            cache.clear()
        cache[key] = us
    return us


class StayGrid:
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
        self.duration = -((entry_us - exit_us) // US_PER_MINUTE)
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
        return -((self.entry_us - _local_epoch_us(self.tz, ordinal, minute_of_day)) // US_PER_MINUTE)

    def local_at(self, minute: int) -> datetime:
        if minute == 0:
            return self.entry_local
        if minute == self.duration:
            return self.exit_local
        return (_EPOCH + (self.entry_us + minute * US_PER_MINUTE) * _MICROSECOND).astimezone(self.tz)

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
                lines.append(quote_line(phrase, 0))
            else:
                lines.append(quote_line(say("tariff.pass_part", plate=item.plate, start=self.clock(lo),
                                       end=self.clock(hi), valid_from=valid_from, valid_to=valid_to), 0))
            covered.append((lo, hi))
        if not covered:
            latest = max(passes, key=lambda p: p.valid_to)
            lines.append(quote_line(say("tariff.pass_lapsed", valid_from=latest.valid_from.isoformat(),
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
            for minute_of_day, to_night in night.switches:
                switch_us = known_us.get(ordinal * _DAY_MINUTES + minute_of_day)  # inlined minute_at: hot
                if switch_us is None:
                    switch_us = _local_epoch_us(self.tz, ordinal, minute_of_day)
                switch = -((entry_us - switch_us) // US_PER_MINUTE)
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
                lines.append(quote_line(self.cap_phrase(index + 1, w_lo, w_hi, window_fen), cap))
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
            lines.append(quote_line(self.cap_phrase(1, start, end, total), cap))
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
            lines.append(quote_line(phrase, fen))
            return
        if first:
            phrase = say("tariff.first_period", where=where, minutes=prices.first_period_minutes)
            lines.append(quote_line(phrase, prices.first_period_price))
        if count:
            code = "tariff.more_periods" if first else "tariff.periods"
            phrase = say(code, where=where, count=count, minutes=prices.period_minutes,
                         price_fen=prices.period_price)
            lines.append(quote_line(phrase, fen))


# (from, to, is night, has the first period, periods, fen after the night cap, fen before it)
_Piece = tuple[int, int, bool, bool, int, int, int]


def _periods_starting(base: int, step: int, lo: int, hi: int) -> int:
    """How many of the periods starting at base, base+step, ... start in [lo, hi)."""
    if hi <= base:
        return 0
    before_hi = -((base - hi) // step)
    before_lo = -((base - lo) // step) if lo > base else 0
    return before_hi - before_lo
