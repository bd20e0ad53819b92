"""What a plate camera tells the engine, whatever its vendor, and how a doubtful read is matched.

The vendor adapters (``vzenith``, ``hikvision``) turn a push into a ``PlateRead``; the engine (a
``CameraSink``) stores the photo and hands the plate to the lane. A read below the confidence threshold is
still handled, but the attendant sees the plates now in the lot that it most likely is: cameras confuse
0/D/Q, 8/B, 2/Z and 5/S, all of which are legal serial characters, so only the lot can tell them apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
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
