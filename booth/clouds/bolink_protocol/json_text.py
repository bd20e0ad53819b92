"""Bolink's JSON as the booth reads and writes it: one compact form out, strict and total reading in.

Whatever bytes arrive, reading either gives values or raises :class:`BadMessage` with a one-line reason
(never a traceback, never hostile text in a log line): object members are walked one by one so the exact
text of each value is kept (a sign covers text, not values), constants like NaN are refused, and a number
too long to convert stands in as an :class:`Oversized` description so the refusal can name its field.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, Final

_WS = re.compile(r"[ \t\n\r]*")
SERVICE_NAME_RE: Final = re.compile(r"^[A-Za-z0-9_]{1,64}$")
"""A service_name the booth repeats in a log line or an answer (anything else is not repeated)."""
SURROGATES: Final = re.compile("[\ud800-\udfff]")
"""Lone surrogates: text holding them cannot be written as UTF-8."""
MAX_JSON_NUMBER_DIGITS: Final = 40
"""Longer integer literals are not converted at all (Python refuses > 4300 digits and slows before)."""
_SHOWN_CHARS = 60


class BadMessage(ValueError):
    """A message from the wire that cannot be used; ``reason`` names the problem.

    ``service_name`` is set when it could be read, so a message that expects an answer can be refused
    (state 0); ``fields`` holds the readable flat fields (for echoing ids in that refusal).
    """

    def __init__(
        self, reason: str, *, service_name: str | None = None, fields: Mapping[str, Any] | None = None
    ) -> None:
        # Only a plain name is kept: what the booth prints or answers never carries hostile text.
        if service_name is not None and not SERVICE_NAME_RE.match(service_name):
            service_name = None
        reason = one_line(reason)
        super().__init__(f"{service_name}: {reason}" if service_name else reason)
        self.reason = reason
        self.service_name = service_name
        self.fields: Mapping[str, Any] = MappingProxyType(dict(fields or {}))


class BadSign(BadMessage):
    """The envelope's sign does not match its data text and the key."""


def compact_json(value: Any) -> str:
    """The one JSON text form used on the wire: compact, UTF-8 characters kept, no NaN.

    Text holding a lone surrogate (echoed from a hostile message) cannot be UTF-8: then the whole text
    is written with ASCII escapes instead, which is the same JSON and can always be sent.
    """
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    if SURROGATES.search(text):
        return json.dumps(value, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return text


def shown(value: Any) -> str:
    """A short, one-line, printable picture of a value from the wire, for reasons and logs."""
    if isinstance(value, Oversized):
        return str(value)
    if isinstance(value, str) and len(value) > _SHOWN_CHARS:
        return f"{value[:_SHOWN_CHARS]!r}... ({len(value)} characters)"
    if isinstance(value, (dict, list)):
        text = f"{json_kind(value)} of {len(value)} item(s)"
        return text
    try:
        text = repr(value)
    except ValueError:  # an int too long to print
        return "a number too long to show"
    return text if len(text) <= _SHOWN_CHARS + 2 else text[:_SHOWN_CHARS] + "..."


def plain(value: Any) -> Any:
    """A value from the wire with every Oversized number replaced by its description (JSON-writable)."""
    if isinstance(value, Oversized):
        return str(value)
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def one_line(text: str) -> str:
    """Reasons are logged as one line whatever a message put in them."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def utf8(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadMessage(f"body is not UTF-8 text (byte {exc.start})") from None


def _refuse_constant(name: str) -> Any:
    raise BadMessage(f"not valid JSON: {name} is not a number")


class Oversized:
    """Stands in for a number literal too long to convert (or beyond a float), so the field holding it
    is named in the refusal rather than the whole message failing to decode."""

    def __init__(self, description: str) -> None:
        self.description = description

    def __str__(self) -> str:
        return self.description

    __repr__ = __str__


def _bounded_int(text: str) -> int | Oversized:
    digits = len(text.lstrip("-"))
    return int(text) if digits <= MAX_JSON_NUMBER_DIGITS else Oversized(f"a number of {digits} digits")


def _finite_float(text: str) -> float | Oversized:
    value = float(text)
    return value if math.isfinite(value) else Oversized(f"a number out of range ({text[:20]})")


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)
DOWNSTREAM_DECODER = json.JSONDecoder(
    parse_constant=_refuse_constant, parse_int=_bounded_int, parse_float=_finite_float
)


def top_level_members(text: str, decoder: json.JSONDecoder = _DECODER) -> list[tuple[str, Any, str]]:
    """(key, value, exact value text) for each member of the top-level JSON object in ``text``."""
    members: list[tuple[str, Any, str]] = []
    try:
        idx = _skip_ws(text, 0)
        if text[idx : idx + 1] != "{":
            raise BadMessage("not a JSON object")
        idx = _skip_ws(text, idx + 1)
        if text[idx : idx + 1] == "}":
            end = idx + 1
        else:
            while True:
                if text[idx : idx + 1] != '"':
                    raise BadMessage(f"not valid JSON: expected a key at character {idx}")
                key, idx = decoder.raw_decode(text, idx)
                idx = _skip_ws(text, idx)
                if text[idx : idx + 1] != ":":
                    raise BadMessage(f"not valid JSON: expected ':' at character {idx}")
                start = _skip_ws(text, idx + 1)
                value, stop = decoder.raw_decode(text, start)
                members.append((key, value, text[start:stop]))
                idx = _skip_ws(text, stop)
                separator = text[idx : idx + 1]
                if separator == ",":
                    idx = _skip_ws(text, idx + 1)
                    continue
                if separator == "}":
                    end = idx + 1
                    break
                raise BadMessage(f"not valid JSON: expected ',' or '}}' at character {idx}")
    except json.JSONDecodeError as exc:
        raise BadMessage(f"not valid JSON: {exc.msg} at character {exc.pos}") from None
    if text[end:].strip(" \t\n\r"):
        raise BadMessage(f"not valid JSON: extra text after the object at character {end}")
    return members


def _skip_ws(text: str, idx: int) -> int:
    match = _WS.match(text, idx)
    return match.end() if match else idx


def json_kind(value: Any) -> str:
    if isinstance(value, Oversized):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
