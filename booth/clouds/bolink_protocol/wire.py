"""Bolink's wire: its endpoints and names, the sign, the ``upload.do`` envelope and what upload.do says back.

Envelope (upstream, ``upload.do``)::

    {"service_name":"<name>","token":"<token>","sign":"<32 upper hex>","data":{...}}

``sign = upper(md5_hex(utf8(DATA_TEXT + "key=" + ukey)))`` over the exact text of ``data`` as sent, so
:func:`encode_envelope` builds the body around the data text it signed, and :func:`verify_envelope` checks
the sign against the raw data text cut out of the body, never against a re-serialisation.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any, Final

from booth.clouds.bolink_protocol.json_text import (
    BadMessage,
    BadSign,
    compact_json,
    json_kind,
    shown,
    top_level_members,
    utf8,
)

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
MAX_INTEGER_DIGITS: Final = 15
"""Longest integer read from a downstream field (unix ms has 13 digits); longer ones are refused by name."""
ECHOED_FIELDS: Final = ("order_id", "trade_no", "query_order_no", "car_number", "park_id")
"""The ids a refusal of a bad message echoes (and that are salvaged from a message that is not JSON)."""
_SIGN_RE = re.compile(r"^[0-9A-F]{32}$")
DIGITS: Final = re.compile(r"^[0-9]+$")
"""A number sent as a digit string (Bolink sends some numbers so)."""


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
    members = top_level_members(utf8(body))
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
        raise BadMessage(f"data is not a JSON object but {json_kind(data)}", service_name=name)
    if not hmac.compare_digest(sign(raw["data"], ukey), given):
        raise BadSign("bad sign: it does not match the data text and the key", service_name=name)
    return name, token or None, data


# ---------------------------------------------------------------------------------------------------------
# Upstream answers (what upload.do / download.do say back)


def answer_state(answer: Mapping[str, Any]) -> int | None:
    """The ``state`` of an answer as an int (numbers or digit strings), None if absent or garbage."""
    value = answer.get("state")
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and DIGITS.match(value.strip()) and len(value.strip()) <= MAX_INTEGER_DIGITS:
        return int(value.strip())
    return None


def answer_errmsg(answer: Mapping[str, Any]) -> str:
    value = answer.get("errmsg")
    if isinstance(value, str):
        return value
    return "" if value is None else shown(value)


def is_token_invalid(answer: Mapping[str, Any]) -> bool:
    """True for a state-0 answer about the token (stale, unknown, missing): the client must log in again."""
    return answer_state(answer) == 0 and "token" in answer_errmsg(answer).lower()


def is_already_processed(answer: Mapping[str, Any]) -> bool:
    """Bolink drops a repeated message with ``数据已处理过...``: that means it was received before."""
    return answer_state(answer) == 0 and answer_errmsg(answer).startswith(ALREADY_PROCESSED_PREFIX)
