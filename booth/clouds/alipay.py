"""Client of the Alipay OpenAPI gateway (classic protocol): RSA2-signed requests, verified answers.

What the booth sends here is bookkeeping that must arrive exactly once in effect (``order.sync`` after an
Alipay payment, ``parkinglotinfo.create`` once per lot), so :meth:`AlipayClient.execute` never raises for
anything the network or the gateway does: it returns an :class:`AlipayResult` whose ``outcome`` tells the
outbox relay what to do (done, already done, retry later, park for the supervisor).

An answer counts only if its signature verifies over the raw bytes of the response node exactly as they were
received; re-serialising the parsed JSON would change them. A missing or bad signature is never a success
(a man in the middle, a captive portal or a misconfigured key): it is retried.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Final, Literal
from urllib.parse import urlencode

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from booth.clouds.http import (
    GatewayClient,
    TransportFailure,
    china_time_text,
    post_capped,
)
from booth.config import ALIPAY_SANDBOX, AlipaySettings
from booth.domain.money import format_yuan

logger = logging.getLogger("booth.alipay")

ORDER_SYNC: Final = "alipay.eco.mycar.parking.order.sync"
PARKINGLOT_CREATE: Final = "alipay.eco.mycar.parking.parkinglotinfo.create"
PARKINGLOT_QUERY: Final = "alipay.eco.mycar.parking.parkinglotinfo.query"
PARKINGLOT_UPDATE: Final = "alipay.eco.mycar.parking.parkinglotinfo.update"
ALREADY_SYNCED_SUB_CODE: Final = "PARKING_DEDUCT_ORDER_HAS_SYNCED"
"""UTC+8 without daylight saving: what Alipay and TOP mean by a timestamp, whatever the booth's own zone."""

_FORM_HEADERS: Final = {
    "Content-Type": "application/x-www-form-urlencoded;charset=utf-8",
    "Accept": "application/json",
}
_USER_ID_RE: Final = re.compile(r"^2088\d{12}$")
_OUT_ORDER_NO_RE: Final = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
_METHOD_RE: Final = re.compile(r"^[a-z0-9]+(\.[a-z0-9_]+)+$")
_JSON_WS: Final = " \t\n\r"
_JSON_DECODER: Final = json.JSONDecoder()


# -- outcomes ----------------------------------------------------------------------------------------------


class AlipayOutcome(StrEnum):
    """What the caller should do with the call's subject."""

    SUCCESS = "success"
    ALREADY_DONE = "already_done"  # Alipay already has it: as good as success
    RETRY = "retry"  # may work later: back off and send the same thing again
    FATAL = "fatal"  # will not work as it is: fix data or configuration, tell the supervisor


@dataclass(frozen=True, slots=True)
class AlipayResult:
    """One call's outcome.

    ``code``/``sub_code``/``sub_msg`` are the gateway's, and only filled from an answer whose signature
    verified (``verified``); otherwise ``msg`` says what went wrong (transport, HTTP status, bad signature).
    ``node`` is the verified response node (e.g. holding ``parking_id``), ``raw`` the answer's bytes.
    """

    outcome: AlipayOutcome
    code: str = ""
    sub_code: str = ""
    msg: str = ""
    node: dict[str, Any] = field(default_factory=dict)
    raw: bytes = b""
    sub_msg: str = ""
    verified: bool = False
    http_status: int | None = None
    signature_failed: bool = False
    """A well-formed answer whose signature was missing or wrong (what a misconfigured app_id gets)."""

    @property
    def done(self) -> bool:
        """True when Alipay has the data (SUCCESS or ALREADY_DONE)."""
        return self.outcome in (AlipayOutcome.SUCCESS, AlipayOutcome.ALREADY_DONE)

    def describe(self) -> str:
        """One line for logs and the supervisor."""
        parts = [self.outcome.value]
        if self.code:
            parts.append(f"code={self.code}")
        if self.sub_code:
            parts.append(f"sub_code={self.sub_code}")
        if self.msg:
            parts.append(self.msg)
        if self.sub_msg:
            parts.append(self.sub_msg)
        return " ".join(parts)


_RETRY_SUB_CODES: Final = frozenset({"SYSTEM_ERROR", "CALL_TOO_OFFTEN", "BIZ_UNKNOWN", "BIZ_ERROR"})
_FATAL_SUB_CODES: Final = frozenset({"INVALID_PARAMETER"})
_FATAL_SUFFIXES: Final = ("_IS_EMPTY", "_FORMAT_ERROR", "_ILLEGAL")
_FATAL_CODES: Final = frozenset({"20001", "40001", "40002", "40003", "40006"})
_ALREADY_EXISTS_MSG: Final = "订单信息已经存在"


def classify_alipay(code: str, sub_code: str = "", sub_msg: str = "") -> AlipayOutcome:
    """Map a verified answer's codes to an outcome.

    ``BIZ_ERROR`` is retried because the seed document answers "请重试" for most of its meanings; when its
    message says the order already exists it is ALREADY_DONE. An unknown ``40004`` refusal is fatal (the same
    request will be refused again); an unknown code is retried.
    """
    bare = (
        sub_code.rsplit(".", 1)[-1]
        if "." in sub_code and not sub_code.startswith(("isp.", "isv."))
        else sub_code
    )
    if code == "10000":
        return AlipayOutcome.SUCCESS
    if bare == ALREADY_SYNCED_SUB_CODE or (bare == "BIZ_ERROR" and _ALREADY_EXISTS_MSG in sub_msg):
        return AlipayOutcome.ALREADY_DONE
    if sub_code.startswith("isv.") or bare in _FATAL_SUB_CODES or bare.endswith(_FATAL_SUFFIXES):
        return AlipayOutcome.FATAL
    if sub_code.startswith("isp.") or bare in _RETRY_SUB_CODES or code == "20000":
        return AlipayOutcome.RETRY
    if code in _FATAL_CODES or code == "40004":
        return AlipayOutcome.FATAL
    return AlipayOutcome.RETRY


# -- signing -----------------------------------------------------------------------------------------------


def alipay_sign_content(params: Mapping[str, str]) -> str:
    """The text RSA2 signs: every parameter but ``sign``, empty ones dropped, sorted, ``k=v`` joined by ``&``.

    Values are raw, not URL-encoded. Python sorts str by code point, which is UTF-8 byte order.
    """
    return "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "sign" and v not in ("", None))


def rsa2_sign(content: str | bytes, key: rsa.RSAPrivateKey) -> str:
    """SHA256withRSA (PKCS#1 v1.5), base64."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    return base64.b64encode(key.sign(data, padding.PKCS1v15(), hashes.SHA256())).decode("ascii")


def rsa2_verify(content: bytes, sign: str, key: rsa.RSAPublicKey) -> bool:
    try:
        signature = base64.b64decode(sign, validate=True)
    except (binascii.Error, ValueError):
        return False
    try:
        key.verify(signature, content, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def biz_content_text(biz: Mapping[str, Any]) -> str:
    """The business fields as one compact JSON text, non-ASCII kept as is (as the official SDKs send it)."""
    return json.dumps(dict(biz), ensure_ascii=False, separators=(",", ":"))


def response_node_name(method: str) -> str:
    return method.replace(".", "_") + "_response"


# -- reading answers ---------------------------------------------------------------------------------------


def _skip_ws(text: str, i: int) -> int:
    while i < len(text) and text[i] in _JSON_WS:
        i += 1
    return i


def json_object_members(text: str) -> list[tuple[str, Any, int, int]]:
    """Each top-level member of a JSON object text as (key, value, start, end) of the value's exact text.

    The stdlib decoder finds where each value ends, so braces and quotes inside strings are handled; nothing
    is re-serialised. Raises ValueError for anything but one JSON object.
    """
    i = _skip_ws(text, 0)
    if text[i : i + 1] != "{":
        raise ValueError("not a JSON object")
    i = _skip_ws(text, i + 1)
    members: list[tuple[str, Any, int, int]] = []
    if text[i : i + 1] == "}":
        i += 1
    else:
        while True:
            if text[i : i + 1] != '"':
                raise ValueError(f"expected a member name at offset {i}")
            key, i = _JSON_DECODER.raw_decode(text, i)
            i = _skip_ws(text, i)
            if text[i : i + 1] != ":":
                raise ValueError(f"expected ':' at offset {i}")
            start = _skip_ws(text, i + 1)
            value, i = _JSON_DECODER.raw_decode(text, start)
            members.append((key, value, start, i))
            i = _skip_ws(text, i)
            separator = text[i : i + 1]
            if separator == "}":
                i += 1
                break
            if separator != ",":
                raise ValueError(f"expected ',' or '}}' at offset {i}")
            i = _skip_ws(text, i + 1)
    if _skip_ws(text, i) != len(text):
        raise ValueError(f"data after the object at offset {i}")
    return members


def read_alipay_response(
    method: str, status: int, raw: bytes, alipay_public_key: rsa.RSAPublicKey
) -> AlipayResult:
    """Judge one HTTP answer of the gateway: verify its signature, then classify its codes."""

    def retry(msg: str) -> AlipayResult:
        return AlipayResult(AlipayOutcome.RETRY, msg=msg, raw=raw, http_status=status)

    if status != 200:
        return retry(f"HTTP {status}: {raw[:80]!r}")
    try:
        text = raw.decode("utf-8")
        members = json_object_members(text)
    except UnicodeDecodeError:
        return retry(f"answer is not UTF-8 text: {raw[:80]!r}")
    except ValueError as exc:
        return retry(f"answer is not a JSON object ({exc}; a proxy or error page?): {raw[:80]!r}")
    names = [m[0] for m in members]
    node_name = response_node_name(method)
    if node_name not in names:
        node_name = "error_response"
    for name in (node_name, "sign"):
        if names.count(name) > 1:
            return retry(f"answer has {name!r} twice: refused as ambiguous")
    found = [m for m in members if m[0] == node_name]
    if not found:
        return retry(f"answer has neither {response_node_name(method)!r} nor 'error_response'")
    _, node, start, end = found[0]
    if not isinstance(node, dict):
        return retry(f"{node_name!r} is not a JSON object")
    claimed = f"code={node.get('code')!r} sub_code={node.get('sub_code')!r}"
    sign = next((m[1] for m in members if m[0] == "sign"), None)
    if not isinstance(sign, str) or not sign:
        return replace(retry(f"answer is not signed; it claimed {claimed}"), signature_failed=True)
    if not rsa2_verify(text[start:end].encode("utf-8"), sign, alipay_public_key):
        return replace(
            retry(
                f"signature does not verify (tampering, a proxy, or a wrong alipay_public_key); "
                f"it claimed {claimed}"
            ),
            signature_failed=True,
        )
    code = str(node.get("code", ""))
    sub_code = str(node.get("sub_code", "") or "")
    sub_msg = str(node.get("sub_msg", "") or "")
    return AlipayResult(
        classify_alipay(code, sub_code, sub_msg),
        code=code,
        sub_code=sub_code,
        msg=str(node.get("msg", "") or ""),
        node=node,
        raw=raw,
        sub_msg=sub_msg,
        verified=True,
        http_status=status,
    )


# -- business builders -------------------------------------------------------------------------------------


class AlipayDataError(ValueError):
    """A business field cannot be sent as it is; the message names the field."""


def _text(name: str, value: str, max_len: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise AlipayDataError(f"{name}: required, got {value!r}")
    if len(value) > max_len:
        raise AlipayDataError(f"{name}: at most {max_len} characters, got {len(value)}: {value!r}")
    return value


def _when(name: str, moment: datetime) -> str:
    if not isinstance(moment, datetime):
        raise AlipayDataError(f"{name}: expected a datetime, got {type(moment).__name__}")
    try:
        return china_time_text(moment)
    except ValueError:
        raise AlipayDataError(f"{name}: naive datetime refused (give an aware one): {moment!r}") from None


def out_order_no_for(order_id: str, trade_no: str) -> str:
    """Booth's ``out_order_no`` for one Alipay payment of one order: the same every time it is rebuilt.

    One per payment, not per order: a stay may be paid by Alipay twice (in the lot, then a top-up at the
    exit) and each trade must reach Alipay. Readable ``<order_id>_<trade_no>`` when that fits 64 safe
    characters, else the order id's head and a digest of both.
    """
    _text("order_id", order_id, 256)
    _text("trade_no", trade_no, 256)
    readable = f"{order_id}_{trade_no}"
    if _OUT_ORDER_NO_RE.match(readable):
        return readable
    digest = hashlib.sha256(f"{order_id}\n{trade_no}".encode()).hexdigest()[:24]
    head = re.sub(r"[^A-Za-z0-9_\-]", "", order_id)[:39]
    return f"{head}_{digest}" if head else digest


def build_order_sync_biz(
    *,
    user_id: str,
    out_parking_id: str,
    parking_name: str,
    car_number: str,
    out_order_no: str,
    order_time: datetime,
    order_no: str,
    pay_time: datetime,
    pay_money_fen: int,
    in_time: datetime,
    parking_id: str,
    pay_type: Literal["1", "2"] = "1",
    card_number: str = "*",
    in_duration_minutes: int | None = None,
    order_status: Literal["0", "1"] = "0",
) -> dict[str, str]:
    """The ``order.sync`` business fields, every one the document requires, in its order and formats.

    ``user_id`` and ``order_no`` are the Alipay payer and trade number from the payment itself.
    ``in_duration`` defaults to the whole minutes from ``in_time`` to ``pay_time``.
    """
    if not isinstance(user_id, str) or not _USER_ID_RE.match(user_id):
        raise AlipayDataError(f"user_id: an Alipay user id is 2088 and 12 digits, got {user_id!r}")
    if not isinstance(out_order_no, str) or not _OUT_ORDER_NO_RE.match(out_order_no):
        raise AlipayDataError(f"out_order_no: 1 to 64 of [A-Za-z0-9_-], got {out_order_no!r}")
    if not isinstance(parking_id, str) or not parking_id.strip():
        raise AlipayDataError(
            "parking_id: empty; register the lot first (parkinglotinfo.create) and store the parking_id "
            "it returns"
        )
    if isinstance(pay_money_fen, bool) or not isinstance(pay_money_fen, int):
        raise AlipayDataError(f"pay_money_fen: expected integer fen, got {pay_money_fen!r}")
    if not 0 < pay_money_fen <= 9_999_999:
        raise AlipayDataError(
            f"pay_money_fen: must be 1..9999999 fen (8 characters in yuan), got {pay_money_fen}"
        )
    if pay_type not in ("1", "2"):
        raise AlipayDataError(f"pay_type: 1 (online) or 2 (auto-debit), got {pay_type!r}")
    if order_status not in ("0", "1"):
        raise AlipayDataError(f"order_status: 0 (success) or 1 (failure), got {order_status!r}")
    in_text, pay_text = _when("in_time", in_time), _when("pay_time", pay_time)
    if in_duration_minutes is None:
        seconds = (pay_time - in_time).total_seconds()
        if seconds < 0:
            raise AlipayDataError(f"in_time {in_text} is after pay_time {pay_text}")
        in_duration_minutes = int(seconds // 60)
    if isinstance(in_duration_minutes, bool) or not 0 <= in_duration_minutes <= 999_999:
        raise AlipayDataError(f"in_duration_minutes: 0..999999, got {in_duration_minutes!r}")
    return {
        "user_id": user_id,
        "out_parking_id": _text("out_parking_id", out_parking_id, 32),
        "parking_name": _text("parking_name", parking_name, 64),
        "car_number": _text("car_number", car_number.strip(), 8),
        "out_order_no": out_order_no,
        "order_status": order_status,
        "order_time": _when("order_time", order_time),
        "order_no": _text("order_no", order_no, 64),
        "pay_time": pay_text,
        "pay_type": pay_type,
        "pay_money": format_yuan(pay_money_fen),
        "in_time": in_text,
        "parking_id": parking_id,
        "in_duration": str(in_duration_minutes),
        "card_number": _text("card_number", card_number, 64),
    }


def build_parkinglotinfo_create_biz(settings: AlipaySettings) -> dict[str, str]:
    """The ``parkinglotinfo.create`` business fields from ``[alipay]`` and ``[alipay.lot]``."""
    lot = settings.lot
    if lot is None:
        raise AlipayDataError(
            "[alipay.lot] is missing: the lot's address, position and type are needed to register it"
        )
    biz = {
        "city_id": lot.city_id,
        "equipment_name": lot.equipment_name,
        "out_parking_id": settings.out_parking_id,
        "parking_address": lot.parking_address,
        "longitude": format(lot.longitude, "f"),
        "latitude": format(lot.latitude, "f"),
        "parking_start_time": lot.parking_start_time.strftime("%H:%M:%S"),
        "parking_end_time": lot.parking_end_time.strftime("%H:%M:%S"),
        "parking_number": str(lot.parking_number),
        "parking_lot_type": str(lot.parking_lot_type),
        "parking_type": ",".join(str(t) for t in lot.parking_type),
        "payment_mode": str(lot.payment_mode),
        "pay_type": ",".join(str(t) for t in lot.pay_type),
        "shopingmall_id": lot.shopingmall_id,
        "parking_fee_description": lot.parking_fee_description,
        "contact_name": lot.contact_name,
        "contact_mobile": lot.contact_mobile,
        "contact_tel": lot.contact_tel,
        "contact_emali": lot.contact_email,  # sic: Alipay's field name
        "contact_weixin": lot.contact_weixin,
        "contact_alipay": lot.contact_alipay,
        "parking_name": settings.parking_name,
        "time_out": "" if lot.time_out is None else str(lot.time_out),
        "parking_poiid": lot.parking_poiid,
        "parking_mobile": lot.parking_mobile,
    }
    return {k: v for k, v in biz.items() if v != ""}


def build_parkinglotinfo_update_biz(settings: AlipaySettings, parking_id: str) -> dict[str, str]:
    """``parkinglotinfo.update``: Alipay's ``parking_id`` and the lot's fields as ``[alipay.lot]`` has
    them now (the same fields as ``create``)."""
    if not isinstance(parking_id, str) or not parking_id.strip():
        raise AlipayDataError("parking_id: required to update the lot; register it first")
    return {"parking_id": parking_id, **build_parkinglotinfo_create_biz(settings)}


def build_parkinglotinfo_query_biz(*, parking_id: str = "", out_parking_id: str = "") -> dict[str, str]:
    """``parkinglotinfo.query`` asks by Alipay's id or ours; at least one is needed."""
    if not parking_id and not out_parking_id:
        raise AlipayDataError("parkinglotinfo.query needs parking_id or out_parking_id")
    return {k: v for k, v in (("parking_id", parking_id), ("out_parking_id", out_parking_id)) if v}


# -- the client --------------------------------------------------------------------------------------------


class AlipayClient(GatewayClient):
    """Signed calls to the Alipay gateway.

    ``gateway_url`` and the keys override the settings (the engine passes the emulator's when
    ``settings.is_sandbox``). ``http`` may be shared; :meth:`aclose` closes it only if it was created here.
    """

    def __init__(
        self,
        settings: AlipaySettings,
        *,
        gateway_url: str | None = None,
        app_private_key: rsa.RSAPrivateKey | None = None,
        alipay_public_key: rsa.RSAPublicKey | None = None,
        http: httpx.AsyncClient | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        url = gateway_url if gateway_url is not None else settings.gateway_url
        if url == ALIPAY_SANDBOX:
            raise ValueError('alipay.gateway_url is "sandbox": pass the running emulator\'s gateway_url')
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"Alipay gateway URL must be http(s), got {url!r}")
        self._settings = settings
        self._app_key = app_private_key if app_private_key is not None else settings.load_app_private_key()
        self._alipay_key = (
            alipay_public_key if alipay_public_key is not None else settings.load_alipay_public_key()
        )
        super().__init__(url, http, clock)  # last: nothing to close if the settings were refused

    def request_params(
        self, method: str, biz: Mapping[str, Any], *, timestamp: str | None = None
    ) -> dict[str, str]:
        """All request parameters, ``sign`` included. Raises ValueError for a bad method or biz."""
        if not isinstance(method, str) or not _METHOD_RE.match(method):
            raise AlipayDataError(f"method: not an Alipay API name: {method!r}")
        if not isinstance(biz, Mapping):
            raise AlipayDataError(f"biz: expected a mapping of business fields, got {type(biz).__name__}")
        try:
            content = biz_content_text(biz)
        except (TypeError, ValueError) as exc:
            raise AlipayDataError(f"biz: not JSON-serialisable: {exc}") from None
        params = {
            "app_id": self._settings.app_id,
            "method": method,
            "format": "JSON",
            "charset": "utf-8",
            "sign_type": "RSA2",
            "timestamp": timestamp if timestamp is not None else china_time_text(self._clock()),
            "version": "1.0",
            "biz_content": content,
        }
        token = self._settings.app_auth_token.get_secret_value()
        if token:
            params["app_auth_token"] = token
        params["sign"] = rsa2_sign(alipay_sign_content(params), self._app_key)
        return params

    async def execute(self, method: str, biz: Mapping[str, Any]) -> AlipayResult:
        """One gateway call. Never raises for the network or the answer (only cancellation propagates)."""
        try:
            params = self.request_params(method, biz)
        except ValueError as exc:
            logger.error("Alipay %s not sent: %s", method, exc)
            return AlipayResult(AlipayOutcome.FATAL, msg=f"request not built: {exc}")
        # All in the body (the gateway accepts it): a URL query would put app_auth_token into access logs.
        body = urlencode(params).encode("ascii")
        try:
            answer = await post_capped(
                self._http,
                self._url,
                content=body,
                headers=_FORM_HEADERS,
                timeout_s=self._settings.request_timeout_s,
            )
        except TransportFailure as exc:
            logger.warning("Alipay %s: %s", method, exc)
            return AlipayResult(AlipayOutcome.RETRY, msg=str(exc))
        result = read_alipay_response(method, answer.status, answer.body, self._alipay_key)
        level = logging.INFO if result.done else logging.WARNING
        logger.log(level, "Alipay %s: %s", method, result.describe())
        return result

    async def sync_order(self, biz: Mapping[str, Any]) -> AlipayResult:
        """``order.sync`` with fields from :func:`build_order_sync_biz`."""
        return await self.execute(ORDER_SYNC, biz)

    async def create_parking_lot(self) -> AlipayResult:
        """Register the lot; on success ``result.node["parking_id"]`` must be stored for every order.sync."""
        try:
            biz = build_parkinglotinfo_create_biz(self._settings)
        except AlipayDataError as exc:
            return AlipayResult(AlipayOutcome.FATAL, msg=str(exc))
        return await self.execute(PARKINGLOT_CREATE, biz)

    async def update_parking_lot(self, parking_id: str) -> AlipayResult:
        """Send the lot's current ``[alipay.lot]`` fields for Alipay's ``parking_id``."""
        try:
            biz = build_parkinglotinfo_update_biz(self._settings, parking_id)
        except AlipayDataError as exc:
            return AlipayResult(AlipayOutcome.FATAL, msg=str(exc))
        return await self.execute(PARKINGLOT_UPDATE, biz)

    async def query_parking_lot(self, *, parking_id: str = "", out_parking_id: str = "") -> AlipayResult:
        """Ask Alipay what it has for a lot (by default this one, by our id)."""
        if not parking_id and not out_parking_id:
            out_parking_id = self._settings.out_parking_id
        return await self.execute(
            PARKINGLOT_QUERY,
            build_parkinglotinfo_query_biz(parking_id=parking_id, out_parking_id=out_parking_id),
        )
