"""Bolink's downstream messages (``download.do`` answers) read into typed values.

Downstream messages come flat, as in Bolink's document (``{"service_name":"outpark","state":1,...}``); the
sandbox sends them flat. :func:`parse_downstream` also accepts them wrapped in an envelope
(``{"service_name":...,"data":{...}}``). Parsing never checks a sign (:mod:`.signs` does, separately).

:func:`parse_downstream` is total: whatever bytes arrive, it returns a message, None, or raises
:class:`BadMessage` with a one-line reason (hostile input must never take the poll loop down).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar, Final

from booth.clouds.bolink_protocol.json_text import (
    DOWNSTREAM_DECODER,
    SURROGATES,
    BadMessage,
    Oversized,
    json_kind,
    one_line,
    plain,
    shown,
    utf8,
)
from booth.clouds.bolink_protocol.wire import (
    ANSWERED_SERVICES,
    DIGITS,
    ECHOED_FIELDS,
    MAX_INTEGER_DIGITS,
    NO_MESSAGE,
)
from booth.domain.money import MoneyError, wire_to_fen

_UNSAFE_TEXT = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
"""Control characters (a NUL breaks PostgreSQL, a newline a log line) and lone surrogates (not UTF-8)."""
MAX_AMOUNT_TEXT: Final = 32
ID_MAX_CHARS: Final = 64
"""Ids Bolink documents as at most 48 characters (order_id, trade_no, query_order_no); some slack."""
FREE_TEXT_MAX_CHARS: Final = 256
"""errmsg and other words for people are cut to this length (they never decide anything)."""


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
        reason = f"cannot be read ({type(exc).__name__}: {one_line(str(exc))[:80]})"
    # Not even readable as an object: its ids are salvaged from the text so that, if it is a message that
    # expects an answer, the refusal can name it (that answer is what stops Bolink from re-sending it).
    salvaged = _salvage_ids(body)
    name = salvaged.get("service_name")
    raise BadMessage(reason, service_name=name if name in ANSWERED_SERVICES else None, fields=salvaged)


_SALVAGE_RE = re.compile(
    r'"(service_name|' + "|".join(ECHOED_FIELDS) + r')"[ \t\r\n]*:[ \t\r\n]*("(?:[^"\\]|\\.)*"|[0-9]{1,40})'
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
    text = utf8(body).strip()
    if text in ("", NO_MESSAGE):
        return None
    try:
        obj = DOWNSTREAM_DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise BadMessage(f"not valid JSON: {exc.msg} at character {exc.pos}") from None
    if not isinstance(obj, dict):
        raise BadMessage(f"not a JSON object but {json_kind(obj)}")
    fields = _flatten(obj)
    name = fields.get("service_name")
    if name is None:
        raise BadMessage("missing service_name", fields=fields)
    if not isinstance(name, str) or not name.strip():
        raise BadMessage(f"service_name must be a non-empty string, got {shown(name)}", fields=fields)
    name = name.strip()
    parser = _PARSERS.get(name)
    if parser is None:
        raise BadMessage(f"unknown service_name {shown(name)}", service_name=name, fields=fields)
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
            data = DOWNSTREAM_DECODER.decode(data)
        except (json.JSONDecodeError, BadMessage):
            raise BadMessage("data is a string that is not a JSON object", service_name=_name(name)) from None
    if not isinstance(data, dict):
        raise BadMessage(f"data is not a JSON object but {json_kind(data)}", service_name=_name(name))
    inner = _strip_keys(data)
    if name is not None and inner.get("service_name", name) != name:
        raise BadMessage(
            f"service_name {shown(name)} of the envelope differs from {shown(inner['service_name'])} in data",
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
            raise self.bad(f"{key}: expected text, got {json_kind(value)}")
        result = str(value).strip()
        if required and not result:
            raise self.bad(f"{key}: must not be empty")
        if len(result) > limit:
            raise self.bad(f"{key}: {len(result)} characters, at most {limit} expected")
        if _UNSAFE_TEXT.search(result):
            raise self.bad(f"{key}: holds control characters or broken UTF-16: {shown(result)}")
        return result

    def words(self, key: str) -> str:
        """Free text for people (errmsg): never refused, cut to a sane length, made printable UTF-8."""
        value = self.fields.get(key)
        if value is None:
            return ""
        text = value if isinstance(value, str) else shown(value)
        text = SURROGATES.sub("\ufffd", text.strip())
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
        elif isinstance(value, str) and DIGITS.match(value.strip()) and len(value.strip()) <= 40:
            number = int(value.strip())
        if number is None:
            raise self.bad(f"{key}: expected a non-negative integer, got {shown(value)}")
        if number >= 10**MAX_INTEGER_DIGITS:
            raise self.bad(f"{key}: {shown(value)} is out of range (at most {MAX_INTEGER_DIGITS} digits)")
        return number

    def fen(self, key: str, *, required: bool = False) -> int | None:
        value = self._get(key, required)
        if value is None:
            return None
        if isinstance(value, Oversized):
            raise self.bad(f"{key}: not a valid amount: {value}")
        if isinstance(value, str) and len(value) > MAX_AMOUNT_TEXT:
            raise self.bad(f"{key}: not a valid amount: {shown(value)}")
        try:
            return wire_to_fen(value, field=key)
        except MoneyError as exc:
            raise self.bad(str(exc)) from None
        except (ArithmeticError, ValueError):  # decimal.InvalidOperation/Overflow on "1e400" and the like
            raise self.bad(f"{key}: not a valid amount: {shown(value)}") from None

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
        return MappingProxyType({key: plain(value) for key, value in self.fields.items()})


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
