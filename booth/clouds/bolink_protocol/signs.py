"""Signs on Bolink's downstream messages: which a message carries, and whether they match the key.

Bolink documents no signature on the download.do answer itself, but a message may come wrapped in the
upstream envelope (``{"service_name":..,"sign":..,"data":{..}}``), and ``prepay_order`` (3.2) lists its
own ``sign`` field ("数据签名", 32 upper-case hex). Bolink's public document does not say which text that
field signs. ASSUMPTION (documented in docs and the settings): it follows Bolink's one rule,
upper(md5(TEXT + "key=" + ukey)), over the message's other members as compact JSON — as they arrived
(member order and number spelling kept) or with the keys sorted; either is accepted. A lot whose
messages fail this rule while Bolink is known good should keep ``downstream_sign = "warn"``.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from typing import Any

from booth.clouds.bolink_protocol.json_text import (
    DOWNSTREAM_DECODER,
    SERVICE_NAME_RE,
    BadMessage,
    compact_json,
    shown,
    top_level_members,
)
from booth.clouds.bolink_protocol.wire import sign


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
        members = top_level_members(text, DOWNSTREAM_DECODER)
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
        inner = top_level_members(message_text.strip(), DOWNSTREAM_DECODER)
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
        name if name and SERVICE_NAME_RE.match(name) else None, tuple(checked), tuple(mismatches)
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
        return f"is not 32 hex digits: {shown(given)}"
    wanted = given.upper()
    for text in texts:
        try:
            if hmac.compare_digest(sign(text, ukey), wanted):
                return None
        except UnicodeEncodeError:  # lone surrogates cannot have been signed as UTF-8
            continue
    return "does not match"
