"""Bolink (泊链) HTTP-mode wire format: signing, envelopes, downstream messages and the booth's answers.

Pure functions and values, no I/O, shared by the client (``booth.clouds.bolink``) and the sandbox
(``booth.sandbox.bolink_cloud``) so both sides speak exactly the same dialect.

Envelope (upstream, ``upload.do``)::

    {"service_name":"<name>","token":"<token>","sign":"<32 upper hex>","data":{...}}

``sign = upper(md5_hex(utf8(DATA_TEXT + "key=" + ukey)))`` over the exact text of ``data`` as sent, so
:func:`encode_envelope` builds the body around the data text it signed, and :func:`verify_envelope` checks
the sign against the raw data text cut out of the body, never against a re-serialisation.

Downstream messages (``download.do`` answers) come flat, as in Bolink's document
(``{"service_name":"outpark","state":1,...}``); the sandbox sends them flat. :func:`parse_downstream` also
accepts them wrapped in an envelope (``{"service_name":...,"data":{...}}``). Parsing never checks a sign;
:func:`check_downstream_signs` does, separately, so the client can decide by setting whether a mismatch
only warns or refuses (Bolink documents no downstream envelope signature).

:func:`parse_downstream` is total: whatever bytes arrive, it returns a message, None, or raises
:class:`BadMessage` with a one-line reason (hostile input must never take the poll loop down).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar, Final

from booth.domain.money import MoneyError, format_yuan, wire_to_fen

DATA_TARGET: Final = "bolink"
UPLOAD_PATH: Final = "/bpd/upload.do"
DOWNLOAD_PATH: Final = "/bpd/download.do"
NO_MESSAGE: Final = "500"
"""What ``download.do`` answers when there is no message (public client code treats "500" so)."""
TOKEN_INVALID_ERRMSG: Final = "token_error"
"""The errmsg of a stale/unknown token answer. Bolink's exact text is not documented publicly; public
server code reports an unknown token as the error ``token_error``, so the sandbox answers
``{"state":0,"errmsg":"token_error"}`` and :func:`is_token_invalid` accepts any errmsg about the token."""
ALREADY_PROCESSED_PREFIX: Final = "数据已处理过"
RATE_LIMITED_ERRMSG: Final = "request_over_times"
ERRMSG_MAX: Final = 48
ANSWERED_SERVICES: Final = frozenset({"outpark", "query_price", "prepay_order", "nolicence_in_park"})
"""Downstream messages that Bolink expects an answer to (``data_target: "bolink"``)."""
DOWNSTREAM_SERVICES: Final = ANSWERED_SERVICES | {"update_balance"}
PAY_TYPES: Final = frozenset({"cash", "wallet", "sweepcode", "scancode", "monthuser", "free", "etc"})
ORDER_ID_RE: Final = re.compile(r"^[A-Za-z0-9_]{1,48}$")

_SIGN_RE = re.compile(r"^[0-9A-F]{32}$")
_WS = re.compile(r"[ \t\n\r]*")
_DIGITS = re.compile(r"^[0-9]+$")
_ECHOED_FIELDS = ("order_id", "trade_no", "query_order_no", "car_number", "park_id")
_SERVICE_NAME_RE = re.compile(r"^[A-Za-z0-9_]{1,64}$")
_UNSAFE_TEXT = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
"""Control characters (a NUL breaks PostgreSQL, a newline a log line) and lone surrogates (not UTF-8)."""
_SURROGATES = re.compile("[\ud800-\udfff]")
MAX_INTEGER_DIGITS: Final = 15
"""Longest integer read from a downstream field (unix ms has 13 digits); longer ones are refused by name."""
MAX_JSON_NUMBER_DIGITS: Final = 40
"""Longer integer literals are not converted at all (Python refuses > 4300 digits and slows before)."""
MAX_AMOUNT_TEXT: Final = 32
ID_MAX_CHARS: Final = 64
"""Ids Bolink documents as at most 48 characters (order_id, trade_no, query_order_no); some slack."""
FREE_TEXT_MAX_CHARS: Final = 256
"""errmsg and other words for people are cut to this length (they never decide anything)."""
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
        if service_name is not None and not _SERVICE_NAME_RE.match(service_name):
            service_name = None
        reason = _one_line(reason)
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
    if _SURROGATES.search(text):
        return json.dumps(value, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return text


def _shown(value: Any) -> str:
    """A short, one-line, printable picture of a value from the wire, for reasons and logs."""
    if isinstance(value, _Oversized):
        return str(value)
    if isinstance(value, str) and len(value) > _SHOWN_CHARS:
        return f"{value[:_SHOWN_CHARS]!r}... ({len(value)} characters)"
    if isinstance(value, (dict, list)):
        text = f"{_json_kind(value)} of {len(value)} item(s)"
        return text
    try:
        text = repr(value)
    except ValueError:  # an int too long to print
        return "a number too long to show"
    return text if len(text) <= _SHOWN_CHARS + 2 else text[:_SHOWN_CHARS] + "..."


def _plain(value: Any) -> Any:
    if isinstance(value, _Oversized):
        return str(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _one_line(text: str) -> str:
    """Reasons are logged as one line whatever a message put in them."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in text)


def sign(data_text: str, ukey: str) -> str:
    """Bolink's signature: upper(md5_hex(utf8(data_text + "key=" + ukey))); no "&" before "key="."""
    return hashlib.md5((data_text + "key=" + ukey).encode("utf-8")).hexdigest().upper()


def encode_envelope(service_name: str, data: Mapping[str, Any], *, ukey: str, token: str | None) -> bytes:
    """The body of an ``upload.do`` call; the signed text is byte-identical to the ``data`` text sent.

    ``token`` is None only for ``login``. Floats are refused: money goes out as yuan strings.
    """
    if not isinstance(service_name, str) or not service_name:
        raise ValueError(f"service_name must be a non-empty string, got {service_name!r}")
    _refuse_floats(data, "data")
    data_text = compact_json(dict(data))
    parts = ['{"service_name":', compact_json(service_name)]
    if token is not None:
        parts += [',"token":', compact_json(token)]
    parts += [',"sign":"', sign(data_text, ukey), '","data":', data_text, "}"]
    return "".join(parts).encode("utf-8")


def _refuse_floats(value: Any, path: str) -> None:
    if isinstance(value, float):
        raise TypeError(f"{path}: floats are not sent to Bolink (money goes as a yuan string), got {value!r}")
    if isinstance(value, Mapping):
        for key, item in value.items():
            _refuse_floats(item, f"{path}.{key}")
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _refuse_floats(item, f"{path}[{index}]")


def verify_envelope(body: bytes, ukey: str) -> tuple[str, str | None, dict[str, Any]]:
    """Check an ``upload.do`` body; return (service_name, token, data) or raise BadMessage.

    The top-level object is walked member by member with ``json.JSONDecoder.raw_decode`` at each value's
    position, which yields both the parsed value and the exact slice of text it came from; the sign is
    checked against that slice of the ``data`` member, exactly as the sender signed it.
    """
    members = _top_level_members(_utf8(body))
    top: dict[str, Any] = {}
    raw: dict[str, str] = {}
    for key, value, text in members:
        if key in top:
            raise BadMessage(f"duplicate key {key!r} in the envelope")
        top[key] = value
        raw[key] = text
    service_name = top.get("service_name")
    if service_name is None:
        raise BadMessage("missing service_name")
    if not isinstance(service_name, str) or not service_name.strip():
        raise BadMessage(f"service_name must be a non-empty string, got {service_name!r}")
    name = service_name.strip()
    token = top.get("token")
    if token is not None and not isinstance(token, str):
        raise BadMessage(f"token must be a string, got {type(token).__name__}", service_name=name)
    given = top.get("sign")
    if given is None:
        raise BadMessage("missing sign", service_name=name)
    if not isinstance(given, str) or not _SIGN_RE.match(given):
        raise BadMessage(f"sign must be 32 upper-case hex digits, got {given!r}", service_name=name)
    if "data" not in top:
        raise BadMessage("missing data", service_name=name)
    data = top["data"]
    if not isinstance(data, dict):
        raise BadMessage(f"data is not a JSON object but {_json_kind(data)}", service_name=name)
    if not hmac.compare_digest(sign(raw["data"], ukey), given):
        raise BadSign("bad sign: it does not match the data text and the key", service_name=name)
    return name, token or None, data


def _utf8(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadMessage(f"body is not UTF-8 text (byte {exc.start})") from None


def _refuse_constant(name: str) -> Any:
    raise BadMessage(f"not valid JSON: {name} is not a number")


class _Oversized:
    """Stands in for a number literal too long to convert (or beyond a float), so the field holding it
    is named in the refusal rather than the whole message failing to decode."""

    def __init__(self, description: str) -> None:
        self.description = description

    def __str__(self) -> str:
        return self.description

    __repr__ = __str__


def _bounded_int(text: str) -> int | _Oversized:
    digits = len(text.lstrip("-"))
    return int(text) if digits <= MAX_JSON_NUMBER_DIGITS else _Oversized(f"a number of {digits} digits")


def _finite_float(text: str) -> float | _Oversized:
    value = float(text)
    return value if math.isfinite(value) else _Oversized(f"a number out of range ({text[:20]})")


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)
_DOWNSTREAM_DECODER = json.JSONDecoder(
    parse_constant=_refuse_constant, parse_int=_bounded_int, parse_float=_finite_float
)


def _top_level_members(text: str, decoder: json.JSONDecoder = _DECODER) -> list[tuple[str, Any, str]]:
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


def _json_kind(value: Any) -> str:
    if isinstance(value, _Oversized):
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


# ---------------------------------------------------------------------------------------------------------
# Upstream answers (what upload.do / download.do say back)


def answer_state(answer: Mapping[str, Any]) -> int | None:
    """The ``state`` of an answer as an int (numbers or digit strings), None if absent or garbage."""
    value = answer.get("state")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and _DIGITS.match(value.strip()) and len(value.strip()) <= MAX_INTEGER_DIGITS:
        return int(value.strip())
    return None


def answer_errmsg(answer: Mapping[str, Any]) -> str:
    value = answer.get("errmsg")
    if isinstance(value, str):
        return value
    return "" if value is None else _shown(value)


def is_token_invalid(answer: Mapping[str, Any]) -> bool:
    """True for a state-0 answer about the token (stale, unknown, missing): the client must log in again."""
    return answer_state(answer) == 0 and "token" in answer_errmsg(answer).lower()


def is_already_processed(answer: Mapping[str, Any]) -> bool:
    """Bolink drops a repeated message with ``数据已处理过...``: that means it was received before."""
    return answer_state(answer) == 0 and answer_errmsg(answer).startswith(ALREADY_PROCESSED_PREFIX)


# ---------------------------------------------------------------------------------------------------------
# Downstream messages


@dataclass(frozen=True)
class OutparkResult:
    """3.4: the result of an exit payment. Only ``state == 1`` means paid."""

    service_name: ClassVar[str] = "outpark"
    state: int
    order_id: str
    trade_no: str
    pay_type: str
    pay_channel: int | None
    out_channel_id: str
    total_fen: int
    pay_time: int | None
    car_number: str
    errmsg: str
    pay_user_id: str
    pay_company: int | None
    raw: Mapping[str, Any] = field(repr=False, compare=False)

    @property
    def paid(self) -> bool:
        return self.state == 1


@dataclass(frozen=True)
class QueryPrice:
    """3.1: a driver scanned a code; Bolink asks what is due (pay_scene 0 in-lot, 1 exit, 2 plateless)."""

    service_name: ClassVar[str] = "query_price"
    car_number: str
    order_id: str
    park_id: str
    pay_scene: int
    out_channel_id: str
    query_order_no: str
    raw: Mapping[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class PrepayOrder:
    """3.2: a driver prepaid in the lot; Bolink settles only after the booth books it and answers 1."""

    service_name: ClassVar[str] = "prepay_order"
    car_number: str
    prepay_fen: int
    order_id: str
    query_order_no: str
    park_id: str
    trade_no: str
    query_time: int | None
    prepay_type: str
    raw: Mapping[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class NolicenceInPark:
    """3.3: a plateless car scanned the entry code; ``car_number`` is Bolink's synthetic id."""

    service_name: ClassVar[str] = "nolicence_in_park"
    car_number: str
    park_id: str
    channel_id: str
    timetemp: int | None
    pay_user_id: str
    raw: Mapping[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class UpdateBalance:
    """2.1.1: frictionless-pay status of a plate; no answer, the booth caches it."""

    service_name: ClassVar[str] = "update_balance"
    car_number: str
    balance_fen: int
    autopay: bool
    raw: Mapping[str, Any] = field(repr=False, compare=False)


DownstreamMessage = OutparkResult | QueryPrice | PrepayOrder | NolicenceInPark | UpdateBalance


def parse_downstream(body: bytes) -> DownstreamMessage | None:
    """Read one ``download.do`` answer; None means "no message" (``500`` or an empty answer).

    Lenient where it costs nothing (numbers may come as digit strings, ids as numbers, keys with stray
    spaces as in Bolink's own example), strict where money or identity is at stake: a missing order id,
    an unknown state, an amount that is not money, an id no store could keep (too long, control
    characters) raises BadMessage naming the field. Required fields are the ones the booth cannot act
    safely without; the others default to "" / None. Nothing else ever escapes: a failure this module did
    not foresee is still a BadMessage (the poll loop must survive whatever Bolink or a forger sends).
    """
    try:
        return _parse_downstream(body)
    except BadMessage as bad:
        if bad.service_name is not None or bad.fields:
            raise
        reason = bad.reason
    except RecursionError:
        reason = "not usable JSON: nested too deeply"
    except Exception as exc:  # a gap in the checks below: still one line, never a traceback
        reason = f"cannot be read ({type(exc).__name__}: {_one_line(str(exc))[:80]})"
    # Not even readable as an object: its ids are salvaged from the text so that, if it is a message that
    # expects an answer, the refusal can name it (that answer is what stops Bolink from re-sending it).
    salvaged = _salvage_ids(body)
    name = salvaged.get("service_name")
    raise BadMessage(reason, service_name=name if name in ANSWERED_SERVICES else None, fields=salvaged)


_SALVAGE_RE = re.compile(
    r'"(service_name|' + "|".join(_ECHOED_FIELDS) + r')"[ \t\r\n]*:[ \t\r\n]*("(?:[^"\\]|\\.)*"|[0-9]{1,40})'
)


def _salvage_ids(body: bytes) -> dict[str, Any]:
    """The first ``"key": "text"`` (or number) of each id in a text that is not valid JSON."""
    text = body.decode("utf-8", "replace")
    found: dict[str, Any] = {}
    for match in _SALVAGE_RE.finditer(text):
        key, token = match.group(1), match.group(2)
        if key in found:
            continue
        try:
            value = json.loads(token)
        except ValueError:
            continue
        if isinstance(value, (str, int)):
            found[key] = value.strip() if key == "service_name" and isinstance(value, str) else value
    return found


def _parse_downstream(body: bytes) -> DownstreamMessage | None:
    text = _utf8(body).strip()
    if text in ("", NO_MESSAGE):
        return None
    try:
        obj = _DOWNSTREAM_DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise BadMessage(f"not valid JSON: {exc.msg} at character {exc.pos}") from None
    if not isinstance(obj, dict):
        raise BadMessage(f"not a JSON object but {_json_kind(obj)}")
    fields = _flatten(obj)
    name = fields.get("service_name")
    if name is None:
        raise BadMessage("missing service_name", fields=fields)
    if not isinstance(name, str) or not name.strip():
        raise BadMessage(f"service_name must be a non-empty string, got {_shown(name)}", fields=fields)
    name = name.strip()
    parser = _PARSERS.get(name)
    if parser is None:
        raise BadMessage(f"unknown service_name {_shown(name)}", service_name=name, fields=fields)
    return parser(_Reader(name, fields))


def _strip_keys(obj: Mapping[str, Any]) -> dict[str, Any]:
    """Keys as written win; a key with stray spaces (``" car_number"``) fills in when the clean one is
    absent (Bolink's own example has such keys)."""
    out = {key: value for key, value in obj.items() if key == key.strip()}
    for key, value in obj.items():
        out.setdefault(key.strip(), value)
    return out


def _flatten(obj: Mapping[str, Any]) -> dict[str, Any]:
    top = _strip_keys(obj)
    if "data" not in top:
        return top
    data = top["data"]
    name = top.get("service_name")
    if isinstance(data, str):
        try:
            data = _DOWNSTREAM_DECODER.decode(data)
        except (json.JSONDecodeError, BadMessage):
            raise BadMessage("data is a string that is not a JSON object", service_name=_name(name)) from None
    if not isinstance(data, dict):
        raise BadMessage(f"data is not a JSON object but {_json_kind(data)}", service_name=_name(name))
    inner = _strip_keys(data)
    if name is not None and inner.get("service_name", name) != name:
        raise BadMessage(
            f"service_name {_shown(name)} of the envelope differs from "
            f"{_shown(inner['service_name'])} in data",
            service_name=_name(name),
        )
    if name is not None:
        inner["service_name"] = name
    return inner


def _name(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


class _Reader:
    """Typed access to one message's fields; every refusal names the service and the field."""

    def __init__(self, service_name: str, fields: Mapping[str, Any]) -> None:
        self.service_name = service_name
        self.fields = fields

    def bad(self, reason: str) -> BadMessage:
        return BadMessage(reason, service_name=self.service_name, fields=self.fields)

    def _get(self, key: str, required: bool) -> Any:
        value = self.fields.get(key)
        if value is None and required:
            raise self.bad(f"missing {key}")
        return value

    def text(self, key: str, *, required: bool = False, limit: int = ID_MAX_CHARS) -> str:
        """An id: numbers are accepted; required means present and not empty; an id longer than
        ``limit`` or holding control characters is refused (no store or answer could carry it)."""
        value = self._get(key, required)
        if value is None:
            return ""
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise self.bad(f"{key}: expected text, got {_json_kind(value)}")
        result = str(value).strip()
        if required and not result:
            raise self.bad(f"{key}: must not be empty")
        if len(result) > limit:
            raise self.bad(f"{key}: {len(result)} characters, at most {limit} expected")
        if _UNSAFE_TEXT.search(result):
            raise self.bad(f"{key}: holds control characters or broken UTF-16: {_shown(result)}")
        return result

    def words(self, key: str) -> str:
        """Free text for people (errmsg): never refused, cut to a sane length, made printable UTF-8."""
        value = self.fields.get(key)
        if value is None:
            return ""
        text = value if isinstance(value, str) else _shown(value)
        text = _SURROGATES.sub("\ufffd", text.strip())
        return text if len(text) <= FREE_TEXT_MAX_CHARS else text[:FREE_TEXT_MAX_CHARS] + "…"

    def integer(self, key: str, *, required: bool = False) -> int | None:
        """Non-negative integer of at most MAX_INTEGER_DIGITS digits; digit strings and integral floats
        are accepted, anything else refused."""
        value = self._get(key, required)
        if value is None:
            return None
        if isinstance(value, bool):
            raise self.bad(f"{key}: expected an integer, got a boolean")
        number: int | None = None
        if isinstance(value, int) and value >= 0:
            number = value
        elif isinstance(value, float) and value.is_integer() and value >= 0:
            number = int(value)
        elif isinstance(value, str) and _DIGITS.match(value.strip()) and len(value.strip()) <= 40:
            number = int(value.strip())
        if number is None:
            raise self.bad(f"{key}: expected a non-negative integer, got {_shown(value)}")
        if number >= 10**MAX_INTEGER_DIGITS:
            raise self.bad(f"{key}: {_shown(value)} is out of range (at most {MAX_INTEGER_DIGITS} digits)")
        return number

    def fen(self, key: str, *, required: bool = False) -> int | None:
        value = self._get(key, required)
        if value is None:
            return None
        if isinstance(value, _Oversized):
            raise self.bad(f"{key}: not a valid amount: {value}")
        if isinstance(value, str) and len(value) > MAX_AMOUNT_TEXT:
            raise self.bad(f"{key}: not a valid amount: {_shown(value)}")
        try:
            return wire_to_fen(value, field=key)
        except MoneyError as exc:
            raise self.bad(str(exc)) from None
        except (ArithmeticError, ValueError):  # decimal.InvalidOperation/Overflow on "1e400" and the like
            raise self.bad(f"{key}: not a valid amount: {_shown(value)}") from None

    def choice(self, key: str, allowed: Mapping[int, str]) -> int:
        value = self.integer(key, required=True)
        assert value is not None
        if value not in allowed:
            meaning = ", ".join(f"{k} {v}" for k, v in allowed.items())
            raise self.bad(f"{key}: unknown value {value} (expected {meaning})")
        return value

    def raw(self) -> Mapping[str, Any]:
        """All fields as received, except that a number too long to convert is kept as its description:
        whatever keeps or logs ``raw`` (the audit trail) can always write it as JSON."""
        return MappingProxyType({key: _plain(value) for key, value in self.fields.items()})


def _parse_outpark(r: _Reader) -> OutparkResult:
    state = r.choice("state", {0: "fail", 1: "paid", 2: "paying"})
    paid = state == 1
    return OutparkResult(
        state=state,
        order_id=r.text("order_id", required=True),
        trade_no=r.text("trade_no", required=paid),
        pay_type=r.text("pay_type"),
        pay_channel=r.integer("pay_channel"),
        out_channel_id=r.text("out_channel_id"),
        total_fen=r.fen("total", required=paid) or 0,
        pay_time=r.integer("pay_time"),
        car_number=r.text("car_number"),
        errmsg=r.words("errmsg"),
        pay_user_id=r.text("pay_user_id"),
        pay_company=r.integer("pay_company"),
        raw=r.raw(),
    )


def _parse_query_price(r: _Reader) -> QueryPrice:
    return QueryPrice(
        car_number=r.text("car_number"),
        order_id=r.text("order_id"),
        park_id=r.text("park_id"),
        pay_scene=r.choice("pay_scene", {0: "in-lot prepay", 1: "exit", 2: "plateless"}),
        out_channel_id=r.text("out_channel_id"),
        query_order_no=r.text("query_order_no"),
        raw=r.raw(),
    )


def _parse_prepay_order(r: _Reader) -> PrepayOrder:
    prepay = r.fen("prepay", required=True)
    assert prepay is not None
    return PrepayOrder(
        car_number=r.text("car_number"),
        prepay_fen=prepay,
        order_id=r.text("order_id", required=True),
        query_order_no=r.text("query_order_no"),
        park_id=r.text("park_id"),
        trade_no=r.text("trade_no", required=True),
        query_time=r.integer("query_time"),
        prepay_type=r.text("prepay_type"),
        raw=r.raw(),
    )


def _parse_nolicence(r: _Reader) -> NolicenceInPark:
    return NolicenceInPark(
        car_number=r.text("car_number", required=True),
        park_id=r.text("park_id"),
        channel_id=r.text("channel_id", required=True),
        timetemp=r.integer("timetemp"),
        pay_user_id=r.text("pay_user_id"),
        raw=r.raw(),
    )


def _parse_update_balance(r: _Reader) -> UpdateBalance:
    balance = r.fen("balance", required=True)
    assert balance is not None
    autopay = r.fields.get("autopay")
    flag = autopay if isinstance(autopay, bool) else r.choice("autopay", {0: "off", 1: "on"}) == 1
    return UpdateBalance(
        car_number=r.text("car_number", required=True), balance_fen=balance, autopay=flag, raw=r.raw()
    )


_PARSERS: Final[dict[str, Callable[[_Reader], DownstreamMessage]]] = {
    "outpark": _parse_outpark,
    "query_price": _parse_query_price,
    "prepay_order": _parse_prepay_order,
    "nolicence_in_park": _parse_nolicence,
    "update_balance": _parse_update_balance,
}


# ---------------------------------------------------------------------------------------------------------
# Signatures on downstream messages
#
# Bolink documents no signature on the download.do answer itself, but a message may come wrapped in the
# upstream envelope (``{"service_name":..,"sign":..,"data":{..}}``), and ``prepay_order`` (3.2) lists its
# own ``sign`` field ("数据签名", 32 upper-case hex). Bolink's public document does not say which text that
# field signs. ASSUMPTION (documented in docs and the settings): it follows Bolink's one rule,
# upper(md5(TEXT + "key=" + ukey)), over the message's other members as compact JSON — as they arrived
# (member order and number spelling kept) or with the keys sorted; either is accepted. A lot whose
# messages fail this rule while Bolink is known good should keep ``downstream_sign = "warn"``.


@dataclass(frozen=True)
class SignCheck:
    """What :func:`check_downstream_signs` found: which signs were present and which did not match."""

    service_name: str | None
    checked: tuple[str, ...]
    """Where a sign was present and checked: "envelope" and/or "message"."""
    mismatches: tuple[str, ...]
    """One line each: which sign did not match, and why."""

    @property
    def ok(self) -> bool:
        return not self.mismatches


def check_downstream_signs(body: bytes, ukey: str) -> SignCheck:
    """Check every sign a downstream message carries against ``ukey`` (see the assumption above).

    Call it on a body :func:`parse_downstream` accepted; on anything else it reports no signs.
    """
    try:
        text = body.decode("utf-8").strip()
        members = _top_level_members(text, _DOWNSTREAM_DECODER)
    except (BadMessage, UnicodeDecodeError, ValueError, RecursionError):
        return SignCheck(None, (), ())
    top = {key.strip(): (value, raw) for key, value, raw in members}
    name_value = top.get("service_name", (None, ""))[0]
    name = name_value.strip() if isinstance(name_value, str) else None
    checked: list[str] = []
    mismatches: list[str] = []
    message_text = text
    if "data" in top:
        data, data_raw = top["data"]
        if "sign" in top:
            checked.append("envelope")
            candidates = [data_raw] + ([data] if isinstance(data, str) else [])
            problem = _sign_problem(top["sign"][0], candidates, ukey)
            if problem:
                mismatches.append(f"envelope sign {problem} (over the data text)")
        message_text = data if isinstance(data, str) else data_raw
    try:
        inner = _top_level_members(message_text.strip(), _DOWNSTREAM_DECODER)
    except (BadMessage, ValueError, RecursionError):
        inner = []
    own = [(key, value, raw) for key, value, raw in inner if key.strip() == "sign"]
    if own:
        checked.append("message")
        rest = [(key, value, raw) for key, value, raw in inner if key.strip() != "sign"]
        problem = _sign_problem(own[0][1], _member_texts(rest), ukey)
        if problem:
            mismatches.append(f"{name or 'message'}'s own sign {problem} (over its other fields)")
    return SignCheck(
        name if name and _SERVICE_NAME_RE.match(name) else None, tuple(checked), tuple(mismatches)
    )


def _member_texts(members: list[tuple[str, Any, str]]) -> list[str]:
    """The texts a message's own sign may cover: its members as they arrived, re-serialised, sorted."""
    as_arrived = "{" + ",".join(f"{compact_json(key)}:{raw}" for key, _, raw in members) + "}"
    texts = [as_arrived]
    try:
        values = {key: value for key, value, _ in members}
        texts.append(compact_json(values))
        texts.append(compact_json(dict(sorted(values.items()))))
    except (TypeError, ValueError):  # an oversized number: only the text as it arrived can match
        pass
    return texts


def _sign_problem(given: Any, texts: list[str], ukey: str) -> str | None:
    """None when ``given`` is Bolink's sign of one of ``texts``; else what is wrong with it."""
    if not isinstance(given, str) or not re.fullmatch(r"[0-9A-Fa-f]{32}", given):
        return f"is not 32 hex digits: {_shown(given)}"
    wanted = given.upper()
    for text in texts:
        try:
            if hmac.compare_digest(sign(text, ukey), wanted):
                return None
        except UnicodeEncodeError:  # lone surrogates cannot have been signed as UTF-8
            continue
    return "does not match"


# ---------------------------------------------------------------------------------------------------------
# The booth's answers to downstream messages (sent with upload.do, data_target "bolink")


def _answer(service_name: str, state: int, errmsg: str, allowed: tuple[int, ...] = (0, 1)) -> dict[str, Any]:
    if state not in allowed:
        raise ValueError(f"{service_name} answer: state must be one of {allowed}, got {state!r}")
    if state == 0 and not errmsg:
        raise ValueError(f"{service_name} answer: state 0 needs an errmsg saying why")
    return {
        "service_name": service_name,
        "data_target": DATA_TARGET,
        "state": state,
        "errmsg": errmsg[:ERRMSG_MAX],
    }


def outpark_ack(*, order_id: str, trade_no: str, state: int = 1, errmsg: str = "") -> dict[str, Any]:
    """Acknowledge a payment result (state 1 = received); Bolink re-pushes until it gets this."""
    return {**_answer("outpark", state, errmsg), "trade_no": trade_no, "order_id": order_id}


def query_price_answer(
    *,
    park_id: str,
    order_id: str,
    price_fen: int,
    total_fen: int,
    duration_min: int,
    query_time: int,
    query_order_no: str,
    derate_fen: int = 0,
    derate_duration_min: int = 0,
    free_out_time_min: int = 0,
    state: int = 1,
    errmsg: str = "",
) -> dict[str, Any]:
    """What is due now (``price``, after prepay and discounts) and the gross ``total``, as yuan strings."""
    return {
        **_answer("query_price", state, errmsg),
        "park_id": park_id,
        "order_id": order_id,
        "price": format_yuan(price_fen),
        "duration": duration_min,
        "free_out_time": free_out_time_min,
        "query_time": query_time,
        "derate_money": format_yuan(derate_fen),
        "derate_duration": derate_duration_min,
        "total": format_yuan(total_fen),
        "query_order_no": query_order_no,
    }


def prepay_answer(
    *, park_id: str, order_id: str, prepay_fen: int, query_time: int | None, state: int = 1, errmsg: str = ""
) -> dict[str, Any]:
    """Book (state 1) or refuse a prepayment; Bolink settles the money only after state 1."""
    out = {**_answer("prepay_order", state, errmsg), "park_id": park_id, "order_id": order_id}
    out["prepay"] = format_yuan(prepay_fen)
    if query_time is not None:
        out["query_time"] = query_time
    return out


def nolicence_answer(*, car_number: str, state: int = 1, errmsg: str = "") -> dict[str, Any]:
    """Let a plateless car in (1), refuse (0) or 2; then the booth calls ``inpark`` with that car number."""
    return {**_answer("nolicence_in_park", state, errmsg, (0, 1, 2)), "car_number": car_number}


def bad_message_answer(bad: BadMessage) -> dict[str, Any] | None:
    """The state-0 answer to a malformed message that expects one (None if it expects none)."""
    if bad.service_name not in ANSWERED_SERVICES:
        return None
    out = _answer(bad.service_name, 0, f"bad message: {bad.reason}")
    for key in _ECHOED_FIELDS:
        value = bad.fields.get(key)
        if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
            out[key] = str(value)
    return out
