"""Client of Taobao's TOP router, for the mall parking data Booth sends back to Tmall (backflow).

No maintained Python TOP SDK exists; the protocol is small: system parameters, a signature over every
parameter (md5, HMAC-MD5 or HMAC-SHA256, upper-case hex), a form POST, and a JSON answer that is either an
``error_response`` or ``<method>_response``. TOP does not sign its answers; HTTPS carries the trust.

Like :class:`booth.clouds.alipay.AlipayClient`, :meth:`TopClient.execute` never raises for the network or
the answer: the outcome in :class:`TopResult` tells the outbox relay what to do.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Final
from urllib.parse import urlencode

import httpx

from booth.clouds.alipay import response_node_name
from booth.clouds.http import GatewayClient, TransportFailure, china_time_text, post_capped
from booth.config import BACKFLOW_ACTIONS, SIGN_METHODS, TOP_SANDBOX, BackflowAction, TmallSettings

logger = logging.getLogger("booth.top")

BACKFLOW: Final = "tmall.popupstore.park.backflow"

_FORM_HEADERS: Final = {
    "Content-Type": "application/x-www-form-urlencoded;charset=utf-8",
    "Accept": "application/json",
}
_METHOD_RE: Final = re.compile(r"^[a-z0-9]+(\.[a-z0-9_]+)+$")
_BAN_RE: Final = re.compile(r"(\d+)\s*more seconds")
_RESULT_DTO_METHODS: Final = frozenset({BACKFLOW})
"""Methods whose answer must carry a ``result_dto`` with success and data both true."""


# -- signing -----------------------------------------------------------------------------------------------


def top_sign_content(params: Mapping[str, str]) -> str:
    """Every parameter but ``sign`` and empty ones, sorted by key, as key+value with no separators."""
    return "".join(f"{k}{v}" for k, v in sorted(params.items()) if k != "sign" and v not in ("", None))


def top_sign(params: Mapping[str, str], secret: str, sign_method: str) -> str:
    """TOP's signature of ``params`` (upper-case hex)."""
    content = top_sign_content(params).encode("utf-8")
    key = secret.encode("utf-8")
    if sign_method == "md5":
        return hashlib.md5(key + content + key).hexdigest().upper()
    if sign_method == "hmac":
        return hmac.new(key, content, hashlib.md5).hexdigest().upper()
    if sign_method == "hmac-sha256":
        return hmac.new(key, content, hashlib.sha256).hexdigest().upper()
    raise ValueError(f"sign_method: one of {', '.join(SIGN_METHODS)}, got {sign_method!r}")


def top_param_text(name: str, value: object) -> str:
    """A parameter as TOP wants it on the wire: JSON types (``extend``) as compact JSON text, times in China
    time, booleans as true/false. None becomes "" (dropped from signing and sending)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        try:
            return china_time_text(value)
        except ValueError as exc:
            raise ValueError(f"{name}: {exc}") from None
    if isinstance(value, (Mapping, list, tuple)):
        try:
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{name}: not JSON-serialisable: {exc}") from None
    raise ValueError(f"{name}: cannot send a {type(value).__name__} ({value!r})")


# -- outcomes ----------------------------------------------------------------------------------------------


class TopOutcome(StrEnum):
    """What the caller should do; values match :class:`booth.clouds.alipay.AlipayOutcome`'s."""

    SUCCESS = "success"
    RETRY = "retry"
    FATAL = "fatal"


@dataclass(frozen=True, slots=True)
class TopResult:
    """One call's outcome. ``code``/``sub_code``/``msg``/``sub_msg`` come from an ``error_response`` (or the
    ``result_dto``'s error_code/error_message); for a transport or format failure ``msg`` says what happened.
    ``retry_after_s`` is set when TOP said how long a call-limit ban lasts."""

    outcome: TopOutcome
    code: int | None = None
    sub_code: str = ""
    msg: str = ""
    sub_msg: str = ""
    node: dict[str, Any] = field(default_factory=dict)
    raw: bytes = b""
    http_status: int | None = None
    request_id: str = ""
    retry_after_s: float | None = None

    @property
    def done(self) -> bool:
        return self.outcome is TopOutcome.SUCCESS

    def describe(self) -> str:
        parts = [self.outcome.value]
        if self.code is not None:
            parts.append(f"code={self.code}")
        if self.sub_code:
            parts.append(f"sub_code={self.sub_code}")
        parts.extend(p for p in (self.msg, self.sub_msg) if p)
        return " ".join(parts)


_RETRY_CODES: Final = frozenset({7, 8, 10, 15, 50})
_FATAL_CODES: Final = frozenset({11, 12, 13, *range(21, 35), *range(40, 44)})


def classify_top(code: int | None, sub_code: str = "") -> TopOutcome:
    """Map an ``error_response`` to an outcome.

    ``isv.*`` (the request is wrong) is never retried and ``isp.*`` (TOP or the service is in trouble)
    always is; then 7/8 (call limits), 10 (unavailable), 15 and 50 (remote service error) are retried
    and 11-13 (permissions), 21-34 (signature, session, timestamp...), 40-43 (arguments) are not.
    Unknown codes are retried.
    """
    if sub_code.startswith("isv."):
        return TopOutcome.FATAL
    if sub_code.startswith("isp.") or code in _RETRY_CODES:
        return TopOutcome.RETRY
    if code in _FATAL_CODES:
        return TopOutcome.FATAL
    return TopOutcome.RETRY


def _as_code(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def read_top_response(method: str, status: int, raw: bytes) -> TopResult:
    """Judge one HTTP answer of the router."""

    def retry(msg: str) -> TopResult:
        return TopResult(TopOutcome.RETRY, msg=msg, raw=raw, http_status=status)

    if status != 200:
        return retry(f"HTTP {status}: {raw[:80]!r}")
    try:
        answer = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return retry(f"answer is not UTF-8 text: {raw[:80]!r}")
    except ValueError:
        return retry(f"answer is not JSON (a proxy or error page?): {raw[:80]!r}")
    if not isinstance(answer, dict):
        return retry(f"answer is not a JSON object: {raw[:80]!r}")
    error = answer.get("error_response")
    if isinstance(error, dict):
        code = _as_code(error.get("code"))
        sub_code = str(error.get("sub_code", "") or "")
        sub_msg = str(error.get("sub_msg", "") or "")
        ban = _BAN_RE.search(sub_msg)
        return TopResult(
            classify_top(code, sub_code),
            code=code,
            sub_code=sub_code,
            msg=str(error.get("msg", "") or ""),
            sub_msg=sub_msg,
            node=error,
            raw=raw,
            http_status=status,
            request_id=str(error.get("request_id", "") or ""),
            retry_after_s=float(ban.group(1)) if ban else None,
        )
    node_name = response_node_name(method)
    node = answer.get(node_name)
    if not isinstance(node, dict):
        return retry(f"answer has neither {node_name!r} nor 'error_response'")
    request_id = str(node.get("request_id", "") or "")
    dto = node.get("result_dto")
    if dto is None and method not in _RESULT_DTO_METHODS:
        return TopResult(TopOutcome.SUCCESS, node=node, raw=raw, http_status=status, request_id=request_id)
    if not isinstance(dto, dict):
        return retry(f"{node_name!r} has no result_dto object")
    if dto.get("success") is True and dto.get("data") is True:
        return TopResult(TopOutcome.SUCCESS, node=node, raw=raw, http_status=status, request_id=request_id)
    return TopResult(
        TopOutcome.FATAL,
        sub_code=str(dto.get("error_code", "") or ""),
        msg=f"refused: success={dto.get('success')!r} data={dto.get('data')!r}",
        sub_msg=str(dto.get("error_message", "") or ""),
        node=node,
        raw=raw,
        http_status=status,
        request_id=request_id,
    )


# -- builders ----------------------------------------------------------------------------------------------


class TopDataError(ValueError):
    """A backflow field cannot be sent as it is; the message names the field."""


def build_backflow(
    action: BackflowAction,
    car_no: str,
    mall_id: int | str,
    *,
    start_time: datetime | None = None,
    end_time: datetime | None = None,
    pay_time: datetime | None = None,
    park_duration_minutes: int | None = None,
    car_type: str = "",
    extend: Mapping[str, Any] | None = None,
    user_nick: str = "",
    mobile: str = "",
    coupon_id: str = "",
) -> dict[str, str]:
    """Business parameters of ``tmall.popupstore.park.backflow``, checked per action.

    arrive needs ``start_time``, leave ``end_time``, pay ``pay_time`` and ``park_duration_minutes``.
    """
    if action not in BACKFLOW_ACTIONS:
        raise TopDataError(f"action: one of {', '.join(BACKFLOW_ACTIONS)}, got {action!r}")
    if not isinstance(car_no, str) or not car_no.strip():
        raise TopDataError(f"car_no: required, got {car_no!r}")
    mall_text = str(mall_id) if isinstance(mall_id, int) and not isinstance(mall_id, bool) else mall_id
    if not isinstance(mall_text, str) or not mall_text.isascii() or not mall_text.isdigit():
        raise TopDataError(f"mall_id: a number, got {mall_id!r}")
    required = {
        "arrive": ("start_time",),
        "leave": ("end_time",),
        "pay": ("pay_time", "park_duration_minutes"),
    }
    given = {
        "start_time": start_time,
        "end_time": end_time,
        "pay_time": pay_time,
        "park_duration_minutes": park_duration_minutes,
    }
    for name in required[action]:
        if given[name] is None:
            raise TopDataError(f"{name}: required when action is {action!r}")
    if park_duration_minutes is not None and (
        isinstance(park_duration_minutes, bool)
        or not isinstance(park_duration_minutes, int)
        or park_duration_minutes < 0
    ):
        raise TopDataError(f"park_duration_minutes: whole minutes >= 0, got {park_duration_minutes!r}")
    if mobile and not (mobile.isascii() and mobile.isdigit()):
        raise TopDataError(f"mobile: digits only, got {mobile!r}")
    if extend is not None and not isinstance(extend, Mapping):
        raise TopDataError(f"extend: a JSON object (mapping), got {type(extend).__name__}")
    params: dict[str, str] = {"car_no": car_no.strip(), "action": action, "mall_id": mall_text}
    for name, moment in (("start_time", start_time), ("end_time", end_time), ("pay_time", pay_time)):
        if moment is not None:
            try:
                params[name] = top_param_text(name, moment)
            except ValueError as exc:
                raise TopDataError(str(exc)) from None
    optional: dict[str, object] = {
        "park_duration": park_duration_minutes,
        "car_type": car_type,
        "extend": extend,
        "user_nick": user_nick,
        "mobile": mobile,
        "coupon_id": coupon_id,
    }
    for name, value in optional.items():
        try:
            text = top_param_text(name, value)
        except ValueError as exc:
            raise TopDataError(str(exc)) from None
        if text:
            params[name] = text
    return params


# -- the client --------------------------------------------------------------------------------------------


class TopClient(GatewayClient):
    """Signed calls to the TOP router. ``gateway_url`` overrides the settings (the emulator's in sandbox
    mode); ``http`` may be shared and is closed by :meth:`aclose` only if created here."""

    def __init__(
        self,
        settings: TmallSettings,
        *,
        gateway_url: str | None = None,
        http: httpx.AsyncClient | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        url = gateway_url if gateway_url is not None else settings.gateway_url
        if url == TOP_SANDBOX:
            raise ValueError('tmall.gateway_url is "sandbox": pass the running emulator\'s gateway_url')
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"TOP gateway URL must be http(s), got {url!r}")
        self._settings = settings
        super().__init__(url, http, clock)  # last: nothing to close if the settings were refused

    def request_params(
        self, method: str, params: Mapping[str, object], *, timestamp: str | None = None
    ) -> dict[str, str]:
        """System and business parameters as sent, ``sign`` included. ValueError names a bad parameter."""
        if not isinstance(method, str) or not _METHOD_RE.match(method):
            raise TopDataError(f"method: not a TOP API name: {method!r}")
        s = self._settings
        system = {
            "method": method,
            "app_key": s.app_key,
            "timestamp": timestamp if timestamp is not None else china_time_text(self._clock()),
            "format": "json",
            "v": "2.0",
            "sign_method": s.sign_method,
            "session": s.session.get_secret_value(),
            "partner_id": s.partner_id,
        }
        out = {k: v for k, v in system.items() if v}
        for name, value in params.items():
            if name in system or name == "sign":
                raise TopDataError(f"{name}: a system parameter, not a business one")
            text = top_param_text(name, value)
            if text:
                out[name] = text
        out["sign"] = top_sign(out, s.app_secret.get_secret_value(), s.sign_method)
        return out

    async def execute(self, method: str, params: Mapping[str, object]) -> TopResult:
        """One call. Never raises for the network or the answer (only cancellation propagates)."""
        try:
            form = self.request_params(method, params)
        except ValueError as exc:
            logger.error("TOP %s not sent: %s", method, exc)
            return TopResult(TopOutcome.FATAL, msg=f"request not built: {exc}")
        try:
            answer = await post_capped(
                self._http,
                self._url,
                content=urlencode(form).encode("ascii"),
                headers=_FORM_HEADERS,
                timeout_s=self._settings.request_timeout_s,
            )
        except TransportFailure as exc:
            logger.warning("TOP %s: %s", method, exc)
            return TopResult(TopOutcome.RETRY, msg=str(exc))
        result = read_top_response(method, answer.status, answer.body)
        logger.log(logging.INFO if result.done else logging.WARNING, "TOP %s: %s", method, result.describe())
        return result

    async def backflow(self, params: Mapping[str, object]) -> TopResult:
        """``tmall.popupstore.park.backflow`` with parameters from :func:`build_backflow`."""
        return await self.execute(BACKFLOW, params)
