"""Chinese licence plates: normalise what cameras and people send, then validate it against the plate formats.

Pure logic, no I/O. Formats from the "Chinese plates" section of the device spec; camera habits (Vzenith
colour codes, Hikvision's colour prefix, "no plate" markers) from the same document.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "CONFUSABLE_GROUPS",
    "PLATELESS_MARKERS",
    "PROVINCES",
    "Plate",
    "PlateColour",
    "PlateError",
    "PlateKind",
    "colour_from_vzenith",
    "normalise_plate_text",
    "parse_plate",
    "plateless_plate",
    "suggest_plates",
]


class PlateColour(StrEnum):
    BLUE = "blue"
    YELLOW = "yellow"
    WHITE = "white"
    BLACK = "black"
    GREEN = "green"
    YELLOW_GREEN = "yellow_green"
    UNKNOWN = "unknown"


class PlateKind(StrEnum):
    ORDINARY = "ordinary"
    NEW_ENERGY_SMALL = "new_energy_small"
    NEW_ENERGY_LARGE = "new_energy_large"
    COACH = "coach"  # 学
    POLICE = "police"  # 警
    TRAILER = "trailer"  # 挂
    HONG_KONG = "hong_kong"  # 港
    MACAU = "macau"  # 澳
    CONSULATE = "consulate"  # 领
    EMBASSY = "embassy"  # 使
    ARMED_POLICE = "armed_police"  # WJ
    PLATELESS = "plateless"  # synthetic id from plateless_plate()


@dataclass(frozen=True)
class Plate:
    """A validated plate; `text` is canonical, so two reads of the same car compare equal on it."""

    text: str
    kind: PlateKind
    colour: PlateColour

    @property
    def is_plateless(self) -> bool:
        return self.kind is PlateKind.PLATELESS


class PlateError(ValueError):
    """A text is not a plate; the message (also `reason`) names exactly what is wrong with it.

    `code` and `params` say the same for a machine, so a screen can word the refusal in its own language:
    codes are "not_text", "empty", "no_plate", "emergency", "foreign", "not_province", "military",
    "too_short", "too_long", "letter_io", "last_only", "province_later", "wrong_char",
    "new_energy_start", "suffix_too_long", "not_new_energy", "bad_serial", "serial_range"; params hold
    "char", "chars", "position" (1-based), "shape" (a plate shape: "ordinary", "plate_max", "letter",
    "serial", "consulate", "large_new_energy", "small_new_energy", "armed_police", "embassy",
    "plateless"), "value", "max", and from parse_plate "text" (as given) and "read_as" (normalised).
    """

    def __init__(self, reason: str, code: str = "invalid", params: Mapping[str, str] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.params: dict[str, str] = dict(params or {})


# The 31 province characters, in the order of the spec.
PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"

# What cameras send when they saw a car but no plate (Vzenith "_无_", Hikvision "无车牌", others).
PLATELESS_MARKERS: frozenset[str] = frozenset(
    {"", "_无_", "无", "无牌", "无牌车", "无车牌", "无车牌车", "未识别", "未知", "车牌未识别"}
)

_DIGITS = "0123456789"
_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # A-Z without I and O, which are never issued
_SERIAL = _DIGITS + _LETTERS  # "X" in the spec
_SMALL_NEW_ENERGY_FIRST = "DABCEFGHJK"  # GA 36-2018 says D/F; public code widens it (unconfirmed)
_LARGE_NEW_ENERGY_LAST = "DF"
_SUFFIX_KINDS = {
    "学": PlateKind.COACH,
    "警": PlateKind.POLICE,
    "挂": PlateKind.TRAILER,
    "港": PlateKind.HONG_KONG,
    "澳": PlateKind.MACAU,
}
_LAST_ONLY = "".join(_SUFFIX_KINDS) + "领"
_PLATELESS_PREFIX = "无"
_PLATELESS_WIDTH = 7  # "无" + 7 = 8 characters, Bolink's car_number maximum
_PLATE_CHARS = frozenset(
    PROVINCES + _DIGITS + "ABCDEFGHIJKLMNOPQRSTUVWXYZ" + _LAST_ONLY + "使" + _PLATELESS_PREFIX
)
_MILITARY = re.compile(r"[A-Z]{2}[0-9]{5}")  # inferred in the spec; handled manually, never parsed

# Separators people and cameras put between plate characters ("浙A·66666", "浙A.66666", "浙A-66666").
_SEPARATORS = frozenset("·•・‧∙.-‐‑–—")
# Full-width ASCII (U+FF01..U+FF5E) and the ideographic space, as Chinese input methods type them.
_FULL_WIDTH = {code: code - 0xFEE0 for code in range(0xFF01, 0xFF5F)} | {0x3000: ord(" ")}
# Colour words Hikvision firmware puts before the plate; longest first so 黄绿 wins over 黄.
_COLOUR_PREFIXES = (
    ("黄绿", PlateColour.YELLOW_GREEN),
    ("蓝", PlateColour.BLUE),
    ("黄", PlateColour.YELLOW),
    ("白", PlateColour.WHITE),
    ("黑", PlateColour.BLACK),
    ("绿", PlateColour.GREEN),
)
_VZENITH_COLOURS = {
    0: PlateColour.UNKNOWN,
    1: PlateColour.BLUE,
    2: PlateColour.YELLOW,
    3: PlateColour.WHITE,
    4: PlateColour.BLACK,
    5: PlateColour.GREEN,
    6: PlateColour.YELLOW_GREEN,
}
_COLOUR_WORDS = {
    "蓝": PlateColour.BLUE,
    "黄": PlateColour.YELLOW,
    "白": PlateColour.WHITE,
    "黑": PlateColour.BLACK,
    "绿": PlateColour.GREEN,
    "渐变绿": PlateColour.GREEN,
    "黄绿": PlateColour.YELLOW_GREEN,
    "YELLOWGREEN": PlateColour.YELLOW_GREEN,
}
_INFERRED_COLOUR = {
    PlateKind.NEW_ENERGY_SMALL: PlateColour.GREEN,
    PlateKind.NEW_ENERGY_LARGE: PlateColour.YELLOW_GREEN,
    PlateKind.POLICE: PlateColour.WHITE,
    PlateKind.ARMED_POLICE: PlateColour.WHITE,
    PlateKind.EMBASSY: PlateColour.BLACK,
    PlateKind.CONSULATE: PlateColour.BLACK,
    PlateKind.HONG_KONG: PlateColour.BLACK,
    PlateKind.MACAU: PlateColour.BLACK,
    PlateKind.COACH: PlateColour.YELLOW,
    PlateKind.TRAILER: PlateColour.YELLOW,
}


def colour_from_vzenith(code: int) -> PlateColour:
    """Vzenith `colorType`; an unknown code reads as unknown colour (a colour never refuses a plate)."""
    if isinstance(code, bool) or not isinstance(code, int):
        return PlateColour.UNKNOWN
    return _VZENITH_COLOURS.get(code, PlateColour.UNKNOWN)


def _coerce_colour(colour: object) -> PlateColour:
    """Read a caller's colour (enum, value, Chinese word, Vzenith code); anything unrecognised is unknown."""
    if isinstance(colour, PlateColour):
        return colour
    if isinstance(colour, int) and not isinstance(colour, bool):
        return colour_from_vzenith(colour)
    if not isinstance(colour, str):
        return PlateColour.UNKNOWN
    word = colour.strip().removesuffix("色").upper().replace("-", "_").replace(" ", "_")
    if word.isdigit():
        return colour_from_vzenith(int(word))
    if word in _COLOUR_WORDS:
        return _COLOUR_WORDS[word]
    try:
        return PlateColour(word.lower())
    except ValueError:
        return PlateColour.UNKNOWN


def _is_province(char: str) -> bool:
    """True for one province character (a bare `in PROVINCES` would also accept "")."""
    return len(char) == 1 and char in PROVINCES


def _starts_like_plate(text: str) -> bool:
    return _is_province(text[:1]) or text[:1] == "使" or text.startswith("WJ")


def _serial_start(text: str) -> int | None:
    """Index where the serial begins, or None when the text has no recognisable plate head."""
    if text.startswith("WJ"):
        return 3 if _is_province(text[2:3]) else 2
    if _is_province(text[:1]):
        return 2
    if text[:1] in ("使", _PLATELESS_PREFIX):
        return 1
    return None


def _normalise(text: str) -> tuple[str, PlateColour | None]:
    """Canonical text plus the colour named by a leading colour word, if any."""
    cleaned = "".join(
        c.upper() if c.isascii() else c
        for c in text.translate(_FULL_WIDTH)
        if not (c.isspace() or c in _SEPARATORS)
    )
    prefix_colour = None
    for word, colour in _COLOUR_PREFIXES:
        # "黑" is also Heilongjiang: strip a colour word only when a plate head follows it.
        if cleaned.startswith(word) and _starts_like_plate(cleaned[len(word) :]):
            cleaned = cleaned[len(word) :]
            prefix_colour = colour
            break
    start = _serial_start(cleaned)
    if start is not None:
        # Serials never contain I or O, so a read of either is a 1 or a 0.
        cleaned = cleaned[:start] + cleaned[start:].replace("I", "1").replace("O", "0")
    return cleaned, prefix_colour


def normalise_plate_text(text: str) -> str:
    """Canonical form (separators, width, case, colour prefix, I/O in the serial), without validating."""
    if not isinstance(text, str):
        raise PlateError(f"plate is not text: {text!r}", "not_text", {"value": repr(text)})
    return _normalise(text)[0]


#: the plate shapes a refusal can name (PlateError params["shape"]), in the English of the messages
_SHAPES = {
    "letter": "the second character is a letter (A-Z without I and O)",
    "serial": "the serial is letters (no I or O) and digits",
    "consulate": "a consulate plate (领) has 4 digits between the letter and 领",
    "large_new_energy": "a large new-energy plate has 5 digits before its final D or F",
    "small_new_energy": "a small new-energy plate ends in 4 digits",
    "armed_police": "an armed police plate is WJ, an optional province character and 4-5 serial characters",
    "embassy": "an embassy plate is 使 followed by 6 digits",
    "plateless": f"a plateless id is 无 followed by {_PLATELESS_WIDTH} letters (no I or O) and digits",
}


def _misplaced(char: str, index: int, is_last: bool, shape: str) -> PlateError:
    if char in _LAST_ONLY and not is_last:
        return PlateError(f"{char!r} can only be the last character of a plate", "last_only", {"char": char})
    if char in PROVINCES and index > 0:
        return PlateError(
            f"{char!r} is a province character and can only come first", "province_later", {"char": char}
        )
    return PlateError(
        f"{char!r} cannot be character {index + 1}: {_SHAPES[shape]}",
        "wrong_char",
        {"char": char, "position": str(index + 1), "shape": shape},
    )


def _check(body: str, positions: range, allowed: str, shape: str) -> None:
    for i in positions:
        if body[i] not in allowed:
            raise _misplaced(body[i], i, i == len(body) - 1, shape)


def _provincial(body: str) -> PlateKind:
    if len(body) < 7:
        raise PlateError(
            "too short: an ordinary plate has 7 characters (province, letter, 5 serial characters)",
            "too_short",
            {"shape": "ordinary"},
        )
    if len(body) > 8:
        raise PlateError(
            "too long: a plate has at most 8 characters (a new-energy plate: province, letter, "
            "6 serial characters)",
            "too_long",
            {"shape": "plate_max"},
        )
    letter = body[1]
    if letter in "IO":
        raise PlateError(
            f"{letter!r} cannot be the second character: the letters I and O are never issued "
            "(only in the serial are they read as 1 and 0)",
            "letter_io",
            {"char": letter},
        )
    _check(body, range(1, 2), _LETTERS, "letter")
    if len(body) == 7:
        return _seven_characters(body)
    return _new_energy(body)


def _seven_characters(body: str) -> PlateKind:
    last = body[6]
    if last == "领":
        _check(body, range(2, 6), _DIGITS, "consulate")
        return PlateKind.CONSULATE
    _check(body, range(2, 6), _SERIAL, "serial")
    if last in _SUFFIX_KINDS:
        return _SUFFIX_KINDS[last]
    _check(body, range(6, 7), _SERIAL, "serial")
    return PlateKind.ORDINARY


def _new_energy(body: str) -> PlateKind:
    last = body[7]
    if body[2] in _DIGITS and last in _LARGE_NEW_ENERGY_LAST:
        _check(body, range(2, 7), _DIGITS, "large_new_energy")
        return PlateKind.NEW_ENERGY_LARGE
    if body[2] in _LETTERS:
        if body[2] not in _SMALL_NEW_ENERGY_FIRST:
            raise PlateError(
                f"{body[2]!r} cannot start the serial of a small new-energy plate "
                "(D or F; public code also accepts A, B, C, E, G, H, J, K)",
                "new_energy_start",
                {"char": body[2]},
            )
        _check(body, range(3, 4), _SERIAL, "serial")
        _check(body, range(4, 8), _DIGITS, "small_new_energy")
        return PlateKind.NEW_ENERGY_SMALL
    if last in _SUFFIX_KINDS:
        raise PlateError(
            f"too long for a plate ending in {last!r}: such a plate has 7 characters "
            "(province, letter, 4 serial characters, suffix)",
            "suffix_too_long",
            {"char": last},
        )
    _check(body, range(2, 7), _SERIAL, "serial")
    raise PlateError(
        f"an 8-character plate must be new-energy, but this one neither has D or F after the "
        f"letter (small) nor ends in D or F (large): it ends in {last!r}",
        "not_new_energy",
        {"char": last},
    )


def _length(body: str, shortest: int, longest: int, shape: str) -> None:
    if len(body) < shortest:
        raise PlateError(f"too short: {_SHAPES[shape]}", "too_short", {"shape": shape})
    if len(body) > longest:
        raise PlateError(f"too long: {_SHAPES[shape]}", "too_long", {"shape": shape})


def _armed_police(body: str) -> None:
    start = 3 if _is_province(body[2:3]) else 2
    _length(body, start + 4, start + 5, "armed_police")
    _check(body, range(start, len(body)), _SERIAL, "armed_police")


def _embassy(body: str) -> None:
    _length(body, 7, 7, "embassy")
    _check(body, range(1, 7), _DIGITS, "embassy")


def _plateless_id(body: str) -> None:
    _length(body, 1 + _PLATELESS_WIDTH, 1 + _PLATELESS_WIDTH, "plateless")
    _check(body, range(1, len(body)), _SERIAL, "plateless")


def _classify(body: str) -> PlateKind:
    """Kind of a normalised, non-empty text that holds only plate characters; raises PlateError otherwise."""
    first = body[0]
    if body.startswith("WJ"):
        _armed_police(body)
        return PlateKind.ARMED_POLICE
    if first == "使":
        _embassy(body)
        return PlateKind.EMBASSY
    if first == _PLATELESS_PREFIX:
        _plateless_id(body)
        return PlateKind.PLATELESS
    if first in PROVINCES:
        return _provincial(body)
    if _MILITARY.fullmatch(body):
        raise PlateError(
            f"{first!r} is not a province character; two letters and 5 digits look like a "
            "military plate, which is not handled automatically: route to manual handling",
            "military",
            {"char": first},
        )
    raise PlateError(
        f"{first!r} is not a province character (a plate starts with a province character, 使 or WJ)",
        "not_province",
        {"char": first},
    )


def _validate(stripped: str, body: str) -> PlateKind:
    if not body:
        raise PlateError("plate is empty", "empty")
    if stripped in PLATELESS_MARKERS or body in PLATELESS_MARKERS or "无牌" in body or "无车牌" in body:
        raise PlateError(
            "no plate: the camera sent its 'no plate' marker; register the car with plateless_plate()",
            "no_plate",
        )
    if "应急" in body:
        raise PlateError(
            "emergency (应急) plates are not handled automatically: route to manual handling", "emergency"
        )
    foreign = list(dict.fromkeys(c for c in body if c not in _PLATE_CHARS))
    # A lone unknown ideograph in front is a wrong province ("甲A12345"), not a stray character.
    if foreign and not (foreign == [body[0]] and body.count(body[0]) == 1 and not body[0].isascii()):
        raise PlateError(
            f"contains characters that are never on plates: {', '.join(map(repr, foreign))}",
            "foreign",
            {"chars": " ".join(foreign)},
        )
    return _classify(body)


def parse_plate(text: str, colour: PlateColour | str | int | None = None) -> Plate:
    """Normalise and validate a plate read; colour (enum, word or Vzenith code) is kept, else inferred.

    Cameras misjudge colours, so a colour never causes a refusal: an unrecognised or unknown colour falls
    back to the Hikvision-style prefix, then to what the plate's kind implies.
    """
    if not isinstance(text, str):
        raise PlateError(f"plate is not text: {text!r}", "not_text", {"value": repr(text)})
    stripped = text.strip()
    body, prefix_colour = _normalise(text)
    try:
        kind = _validate(stripped, body)
    except PlateError as error:
        shown = json.dumps(text, ensure_ascii=False)
        params = {**error.params, "text": text}
        if body and body != stripped:
            shown += f" (read as {json.dumps(body, ensure_ascii=False)})"
            params["read_as"] = body
        raise PlateError(f"{shown}: {error.reason}" if text else error.reason, error.code, params) from None
    chosen = _coerce_colour(colour)
    if chosen is PlateColour.UNKNOWN and prefix_colour is not None:
        chosen = prefix_colour
    if chosen is PlateColour.UNKNOWN:
        chosen = _INFERRED_COLOUR.get(kind, PlateColour.UNKNOWN)
    return Plate(text=body, kind=kind, colour=chosen)


def plateless_plate(serial: int) -> Plate:
    """Synthetic plate for a car without one: "无" + serial in base 34 (plate serial characters), 8 chars.

    The same serial always gives the same id and different serials different ids, so the caller owns
    uniqueness by never reusing a serial within a park.
    """
    limit = len(_SERIAL) ** _PLATELESS_WIDTH
    if isinstance(serial, bool) or not isinstance(serial, int):
        raise PlateError(f"plateless serial must be an integer, got {serial!r}", "bad_serial",
                         {"value": repr(serial)})
    if not 0 <= serial < limit:
        raise PlateError(f"plateless serial must be between 0 and {limit - 1}, got {serial}", "serial_range",
                         {"value": str(serial), "max": str(limit - 1)})
    digits = []
    for _ in range(_PLATELESS_WIDTH):
        serial, index = divmod(serial, len(_SERIAL))
        digits.append(_SERIAL[index])
    return Plate(
        text=_PLATELESS_PREFIX + "".join(reversed(digits)),
        kind=PlateKind.PLATELESS,
        colour=PlateColour.UNKNOWN,
    )


#: characters plate cameras mix up; all are legal serial characters, so only the lot can tell them apart
CONFUSABLE_GROUPS = ("0DQ", "8B", "2Z", "5S")
_CONFUSION_CLASS = {char: group for group in CONFUSABLE_GROUPS for char in group}


def _same_or_confused(a: str, b: str) -> bool:
    return a == b or (a in _CONFUSION_CLASS and _CONFUSION_CLASS[a] == _CONFUSION_CLASS.get(b))


def suggest_plates(misread: str, candidates: Iterable[str], limit: int = 5) -> list[str]:
    """The candidates (plates now in the lot) that ``misread`` may be, best first, at most ``limit``.

    A candidate matches when every character of the read equals it or is a known OCR confusion of it
    (0/D/Q, 8/B, 2/Z, 5/S). Whole-plate matches come first, fewest confusions first; then, for a read of
    two characters or more still being typed, plates that start like it. The read itself is never
    suggested (there is nothing to correct), and neither is a candidate that is not a plate's text.
    """
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
        raise ValueError(f"limit must be a non-negative integer, got {limit!r}")
    read = normalise_plate_text(misread)
    if not read:
        return []
    ranked: list[tuple[bool, int, int, str]] = []
    seen: set[str] = set()
    for candidate in candidates:
        if not isinstance(candidate, str):
            continue
        plate = normalise_plate_text(candidate)
        if plate == read or plate in seen or len(plate) < len(read):
            continue
        whole = len(plate) == len(read)
        if not whole and len(read) < 2:
            continue
        pairs = list(zip(read, plate, strict=False))
        if all(_same_or_confused(a, b) for a, b in pairs):
            seen.add(plate)
            ranked.append((not whole, sum(a != b for a, b in pairs), len(plate) - len(read), plate))
    return [plate for *_, plate in sorted(ranked)[:limit]]
