"""What a plate camera tells the engine, whatever its vendor, and how a doubtful read is matched.

The vendor adapters (``vzenith``, ``hikvision``) turn a push into a ``PlateRead``; the engine (a
``CameraSink``) stores the photo and hands the plate to the lane. A read below the confidence threshold is
still handled, but the attendant sees the plates now in the lot that it most likely is: cameras confuse
0/D/Q, 8/B, 2/Z and 5/S, all of which are legal serial characters, so only the lot can tell them apart.

What every vendor's reads share lives here too: the one rule that decides whether a read is live
(``ReadFreshness``), the cap on reads waiting for a lane (``ReadBacklog``) and the rate-limited log that keeps
a hostile or broken camera from flooding the journal (``LogThrottle``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from booth.domain.phrases import Phrase
from booth.domain.plates import PlateColour


class CameraPayloadError(ValueError):
    """A camera push could not be understood; the message names the field and the problem."""


@dataclass(frozen=True)
class PlateRead:
    """One plate read by a lane's camera."""

    lane_id: str
    plate_text: str
    colour: PlateColour | None
    confidence: int | None  # 0-100
    camera_at: datetime | None  # the camera's own clock (may be off)
    image: bytes | None  # the full scene (JPEG)
    crop: bytes | None  # the plate crop (JPEG)
    source: str  # e.g. "vzenith 192.0.2.7 plateid 42", for logs and the audit


class CameraSink(Protocol):
    """What the camera listener needs from the engine (all on the engine loop)."""

    async def camera_read(self, read: PlateRead) -> None:
        """A car is at the lane now."""

    async def camera_left(self, lane_id: str, source: str) -> None:
        """The car at the lane turned back."""

    async def camera_record(self, lane_id: str, action: str, detail: dict[str, object]) -> None:
        """Audit something a camera said without acting on it (stale offline reads)."""

    async def camera_alert(self, lane_id: str, kind: str, said: Phrase) -> None:
        """Tell the attendant (camera offline/online): ``said`` is worded on screen in its language."""


class ReadFreshness:
    """The one rule for both vendors: a read is acted on only when the camera's time says it is now.

    A read older than ``max_age_s`` is a re-send (a Vzenith offline backlog, a Hikvision retry) of a car
    that has gone; one more than ``max_skew_s`` ahead of the booth's clock comes from a camera whose clock
    is wrong, so its age means nothing; one with no time cannot be judged. All three are recorded, never
    acted on: acting on them could open a gate for a car that is not there.
    """

    #: a camera whose live reads are refused for their time is pointed out to the attendant this often
    ALERT_EVERY = timedelta(minutes=10)

    def __init__(self, clock: Callable[[], datetime], max_age_s: float, max_skew_s: float) -> None:
        self._clock = clock
        self.max_age_s = max_age_s
        self.max_skew_s = max_skew_s
        self._alerted: dict[str, datetime] = {}

    def stale_reason(self, camera_at: datetime | None, *, backlog: bool = False) -> str | None:
        """Why the read must not be acted on, or None when it is live. A live push without a time (some
        firmware sends none) cannot be judged and is taken as now; a backlog read without one is refused."""
        if camera_at is None:
            return "the backlog read carries no camera time" if backlog else None
        if camera_at.tzinfo is None:
            return f"the camera time {camera_at.isoformat()} has no time zone"
        age = (self._clock() - camera_at).total_seconds()
        if age > self.max_age_s:
            return f"the camera time is {age:.0f} s old (offline_read_max_age_s {self.max_age_s:g})"
        if -age > self.max_skew_s:
            return (
                f"the camera time is {-age:.0f} s ahead of the booth's clock (max_clock_skew_s"
                f" {self.max_skew_s:g}): is the camera's clock set?"
            )
        return None

    def offset_s(self, camera_at: datetime) -> int:
        """How far the camera's time is from the booth's clock, in whole seconds (ahead is positive)."""
        return round((camera_at - self._clock()).total_seconds())

    def alert_due(self, camera: str) -> bool:
        """Whether to tell the attendant now that this camera's live reads are refused for their time (its
        clock is wrong, so the lane sees no car): the first time, then at most every ALERT_EVERY."""
        now = self._clock()
        last = self._alerted.get(camera)
        if last is not None and abs(now - last) < self.ALERT_EVERY:
            return False
        if len(self._alerted) > 1000:
            self._alerted.clear()
        self._alerted[camera] = now
        return True


class ReadBacklog:
    """How many reads each lane has waiting (being handled or queued behind one): at most ``limit``.

    Reads queue between the listener and the lane (a Hikvision event is answered at once and handled in
    order afterwards; each carries photos of up to ``max_body_bytes``), so a burst must not grow memory
    without bound. A read refused here is answered 429 and the camera sends it again later."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._waiting: dict[str, int] = {}
        self.refused = 0

    def admit(self, lane_id: str) -> bool:
        waiting = self._waiting.get(lane_id, 0)
        if waiting >= self.limit:
            self.refused += 1
            return False
        self._waiting[lane_id] = waiting + 1
        return True

    def done(self, lane_id: str) -> None:
        waiting = self._waiting.get(lane_id, 0) - 1
        if waiting > 0:
            self._waiting[lane_id] = waiting
        else:
            self._waiting.pop(lane_id, None)

    def waiting(self, lane_id: str) -> int:
        return self._waiting.get(lane_id, 0)


@dataclass
class _Cause:
    logged_at: float
    repeats: int
    level: int
    last: str


class LogThrottle:
    """One log line per cause per interval; later repeats are counted and reported with the next line (or
    by ``flush``). A camera (or anything on the LAN) sending garbage many times a second must not bury the
    journal: the first line says what is wrong, the count says how often."""

    def __init__(
        self, logger: logging.Logger, interval_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._log = logger
        self.interval_s = interval_s
        self._clock = clock
        self._causes: dict[Hashable, _Cause] = {}

    def log(
        self, level: int, cause: Hashable, message: str, *, exc_info: bool | BaseException | None = None
    ) -> bool:
        """Log ``message`` unless ``cause`` was logged less than an interval ago; True when logged."""
        now = self._clock()
        entry = self._causes.get(cause)
        if entry is not None and now - entry.logged_at < self.interval_s:
            entry.repeats += 1
            entry.last = message
            return False
        if entry is not None and entry.repeats:
            message += f" (and {entry.repeats} more like it in the last {now - entry.logged_at:.0f} s)"
        self._causes[cause] = _Cause(now, 0, level, message)
        self._log.log(level, "%s", message, exc_info=exc_info, stacklevel=3)
        return True

    def warning(self, cause: Hashable, message: str) -> bool:
        return self.log(logging.WARNING, cause, message)

    def flush(self) -> None:
        """Report the repeats of causes whose interval is over, and forget causes gone quiet."""
        now = self._clock()
        for cause, entry in list(self._causes.items()):
            if now - entry.logged_at < self.interval_s:
                continue
            if entry.repeats:
                self._log.log(
                    entry.level,
                    "%d more like it in the last %.0f s; the last: %s",
                    entry.repeats,
                    now - entry.logged_at,
                    entry.last,
                )
                self._causes[cause] = _Cause(now, 0, entry.level, entry.last)
            else:
                del self._causes[cause]


# Characters OCR mixes up, each with its look-alikes; all are legal serial characters.
_CONFUSABLE: dict[str, frozenset[str]] = {}
for _group in ("0DQ", "8B", "2Z", "5S"):
    for _ch in _group:
        _CONFUSABLE[_ch] = frozenset(_group)


def plate_similarity(read: str, candidate: str) -> float:
    """0..1: position by position, equal = 1, a known OCR confusion = 0.7, the province character
    (the least reliable) counts half. Plates of different lengths score 0 (a new-energy plate is not
    an ordinary one)."""
    if len(read) != len(candidate) or not read:
        return 0.0
    score = total = 0.0
    for index, (a, b) in enumerate(zip(read, candidate, strict=True)):
        weight = 0.5 if index == 0 else 1.0
        total += weight
        if a == b:
            score += weight
        elif b in _CONFUSABLE.get(a, frozenset()):
            score += 0.7 * weight
    return score / total


def likely_plates(read: str, in_lot: list[str], *, limit: int = 3, floor: float = 0.7) -> list[str]:
    """The plates in the lot that ``read`` most likely is, best first (at most ``limit``)."""
    scored = [(plate_similarity(read, p), p) for p in in_lot if p != read]
    best = sorted((s for s in scored if s[0] >= floor), key=lambda s: (-s[0], s[1]))
    return [plate for _, plate in best[:limit]]


@dataclass(frozen=True)
class CameraLanes:
    """The lane(s) one camera address serves. A lane without ``[lanes.camera] channel`` takes every read
    from the address (the key None; config check refuses a second lane on it); lanes with a channel take
    the reads whose push names it (Vzenith ``channel``, Hikvision ``channelID``)."""

    ip: str
    vendor: str
    by_channel: Mapping[int | None, str]

    @property
    def lane_ids(self) -> tuple[str, ...]:
        return tuple(self.by_channel.values())

    @property
    def label(self) -> str:
        """The lane(s), for log lines written before a read is matched to one."""
        return ", ".join(self.lane_ids)

    @property
    def by_channel_only(self) -> bool:
        """Reads are matched by the channel they name (no lane takes the address alone)."""
        return None not in self.by_channel

    @property
    def only_lane(self) -> str | None:
        """The lane of a camera that serves one lane: its polls and heartbeats can carry that lane's gate."""
        return self.lane_ids[0] if len(self.by_channel) == 1 else None

    def lane_for(self, channel: int | None) -> str | None:
        """The lane a read naming ``channel`` (None: the push names none) belongs to, if any."""
        if None in self.by_channel:
            return self.by_channel[None]
        return self.by_channel.get(channel) if channel is not None else None

    def unmatched(self, channel: int | None) -> str:
        """Why a read found no lane: for the log line, naming what the settings expect."""
        wanted = ", ".join(f"{ch} ({lane})" for ch, lane in sorted(self.by_channel.items(), key=str))
        named = "names no channel" if channel is None else f"names channel {channel}"
        return f"the push {named}; [lanes.camera] channel for this camera: {wanted}"
