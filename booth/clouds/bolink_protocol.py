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
accepts them wrapped in an envelope (``{"service_name":...,"data":{...}}``), whose ``sign`` is not checked
(Bolink documents no downstream signature).
"""

from __future__ import annotations

import hashlib
import hmac
import json
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
_DIGITS = re.compile(r"^\d+$")
_ECHOED_FIELDS = ("order_id", "trade_no", "query_order_no", "car_number", "park_id")


class BadMessage(ValueError):
    """A message from the wire that cannot be used; ``reason`` names the problem.

    ``service_name`` is set when it could be read, so a message that expects an answer can be refused
    (state 0); ``fields`` holds the readable flat fields (for echoing ids in that refusal).
    """

    def __init__(
        self, reason: str, *, service_name: str | None = None, fields: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(f"{service_name}: {reason}" if service_name else reason)
        self.reason = reason
        self.service_name = service_name
        self.fields: Mapping[str, Any] = MappingProxyType(dict(fields or {}))


class BadSign(BadMessage):
    """The envelope's sign does not match its data text and the key."""


def compact_json(value: Any) -> str:
    """The one JSON text form used on the wire: compact, UTF-8 characters kept, no NaN."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


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


_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


def _top_level_members(text: str) -> list[tuple[str, Any, str]]:
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
                key, idx = _DECODER.raw_decode(text, idx)
                idx = _skip_ws(text, idx)
                if text[idx : idx + 1] != ":":
                    raise BadMessage(f"not valid JSON: expected ':' at character {idx}")
                start = _skip_ws(text, idx + 1)
                value, stop = _DECODER.raw_decode(text, start)
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
    if isinstance(value, str) and _DIGITS.match(value.strip()):
        return int(value.strip())
    return None


def answer_errmsg(answer: Mapping[str, Any]) -> str:
    value = answer.get("errmsg")
    return value if isinstance(value, str) else ("" if value is None else str(value))


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
    an unknown state, or an amount that is not money raises BadMessage naming the field.
    Required fields are the ones the booth cannot act safely without; the others default to "" / None.
    """
    text = _utf8(body).strip()
    if text in ("", NO_MESSAGE):
        return None
    try:
        obj = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise BadMessage(f"not valid JSON: {exc.msg} at character {exc.pos}") from None
    if not isinstance(obj, dict):
        raise BadMessage(f"not a JSON object but {_json_kind(obj)}")
    fields = _flatten(obj)
    name = fields.get("service_name")
    if name is None:
        raise BadMessage("missing service_name", fields=fields)
    if not isinstance(name, str) or not name.strip():
        raise BadMessage(f"service_name must be a non-empty string, got {name!r}", fields=fields)
    name = name.strip()
    parser = _PARSERS.get(name)
    if parser is None:
        raise BadMessage(f"unknown service_name {name!r}", service_name=name, fields=fields)
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
            data = _DECODER.decode(data)
        except (json.JSONDecodeError, BadMessage):
            raise BadMessage("data is a string that is not a JSON object", service_name=_name(name)) from None
    if not isinstance(data, dict):
        raise BadMessage(f"data is not a JSON object but {_json_kind(data)}", service_name=_name(name))
    inner = _strip_keys(data)
    if name is not None and inner.get("service_name", name) != name:
        raise BadMessage(
            f"service_name {name!r} of the envelope differs from {inner['service_name']!r} in data",
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

    def text(self, key: str, *, required: bool = False) -> str:
        """Text field; numbers are accepted as ids; required means present and not empty."""
        value = self._get(key, required)
        if value is None:
            return ""
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise self.bad(f"{key}: expected text, got {_json_kind(value)}")
        result = str(value).strip()
        if required and not result:
            raise self.bad(f"{key}: must not be empty")
        return result

    def integer(self, key: str, *, required: bool = False) -> int | None:
        """Non-negative integer; digit strings and integral floats are accepted, anything else refused."""
        value = self._get(key, required)
        if value is None:
            return None
        if isinstance(value, bool):
            raise self.bad(f"{key}: expected an integer, got a boolean")
        if isinstance(value, int) and value >= 0:
            return value
        if isinstance(value, float) and value.is_integer() and value >= 0:
            return int(value)
        if isinstance(value, str) and _DIGITS.match(value.strip()):
            return int(value.strip())
        raise self.bad(f"{key}: expected a non-negative integer, got {value!r}")

    def fen(self, key: str, *, required: bool = False) -> int | None:
        value = self._get(key, required)
        if value is None:
            return None
        try:
            return wire_to_fen(value, field=key)
        except MoneyError as exc:
            raise self.bad(str(exc)) from None

    def choice(self, key: str, allowed: Mapping[int, str]) -> int:
        value = self.integer(key, required=True)
        assert value is not None
        if value not in allowed:
            meaning = ", ".join(f"{k} {v}" for k, v in allowed.items())
            raise self.bad(f"{key}: unknown value {value} (expected {meaning})")
        return value

    def raw(self) -> Mapping[str, Any]:
        return MappingProxyType(dict(self.fields))


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
        errmsg=r.text("errmsg"),
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
