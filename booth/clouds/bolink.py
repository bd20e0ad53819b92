"""Async client of Bolink's HTTP mode: signed ``upload.do`` calls and the ``download.do`` long poll.

The wire format lives in :mod:`booth.clouds.bolink_protocol`; this module adds transport (httpx, explicit
timeouts, a 1 MiB answer cap), the login token's life cycle, a client-side request budget, and the
downstream loop that keeps the booth connected through outages.

Errors: :class:`BolinkUnavailable` when Bolink cannot be reached or answers garbage (try again later),
:class:`BolinkRefused` when it answered and said no (state 0: retrying the same call will not help).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, Final

import httpx

from booth.clouds.bolink_protocol import (
    ANSWERED_SERVICES,
    DATA_TARGET,
    DOWNLOAD_PATH,
    NO_MESSAGE,
    ORDER_ID_RE,
    PAY_TYPES,
    RATE_LIMITED_ERRMSG,
    UPLOAD_PATH,
    BadMessage,
    BadSign,
    DownstreamMessage,
    answer_errmsg,
    answer_state,
    bad_message_answer,
    check_downstream_signs,
    compact_json,
    encode_envelope,
    is_already_processed,
    is_token_invalid,
    parse_downstream,
)
from booth.config import BolinkSettings
from booth.domain.money import format_yuan

logger = logging.getLogger("booth.bolink")

MAX_ANSWER_BYTES: Final = 1 << 20
ALREADY_PROCESSED: Final = "already_processed"
"""Key set to True in an upload's returned answer when Bolink said it had received that message before."""
_HEADERS: Final = {"Content-Type": "application/json;charset=utf-8", "Accept": "application/json"}
_BUDGET_WINDOW_S: Final = 10.0
REMEMBERED_MESSAGES: Final = 512
"""How many refused (and failed) downstream messages the client remembers, so a re-delivery is answered
the same way again without being handled, logged or alerted a second time."""
_SIGN_REQUIRED: Final = frozenset({"prepay_order"})
"""Messages that must carry a valid sign under ``downstream_sign = "refuse"`` (Bolink documents ``sign``
as a required field of prepay_order); the others are refused only when a sign they carry is wrong."""


@dataclass(frozen=True)
class SignMismatch:
    """A downstream message whose sign did not match (see ``BolinkClient(on_sign_mismatch=...)``)."""

    service_name: str | None
    detail: str
    """One line: which sign did not match (envelope, the message's own), or that a required one is missing."""
    refused: bool
    """True under ``downstream_sign = "refuse"``: the message was answered as refused, never handled."""
    count: int
    """Mismatches seen by this client so far, this one included."""

    @property
    def text(self) -> str:
        action = "refused" if self.refused else "handled anyway (downstream_sign = warn)"
        return f"Bolink {self.service_name or 'message'} with a bad sign, {action}: {self.detail}"


class BolinkError(Exception):
    """Base of the Bolink client's errors."""


class BolinkUnavailable(BolinkError):
    """Bolink could not be reached or gave no usable answer (network, timeout, 5xx, non-JSON, too big)."""


class BolinkRefused(BolinkError):
    """Bolink answered and refused (state 0, or an HTTP 4xx): ``errmsg`` says why."""

    def __init__(
        self, errmsg: str, *, service_name: str = "", answer: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(f"{service_name}: {errmsg}" if service_name else errmsg)
        self.errmsg = errmsg
        self.service_name = service_name
        self.answer: Mapping[str, Any] = dict(answer or {})


_background: ContextVar[bool] = ContextVar("bolink_background", default=False)


@contextmanager
def background_traffic() -> Iterator[None]:
    """Calls made inside this block (the outbox relay catching up) leave a third of the request budget
    to the lanes, so a backlog after an outage never delays a car's QR or a payment answer."""
    token = _background.set(True)
    try:
        yield
    finally:
        _background.reset(token)


class _RequestBudget:
    """Sliding-window limiter: waits rather than let Bolink refuse with ``request_over_times``."""

    def __init__(self, limit: int, window_s: float) -> None:
        self._limit = limit
        self._reserve = limit // 3 if limit >= 3 else 0
        self._window_s = window_s
        self._sent: deque[float] = deque()

    async def acquire(self) -> None:
        limit = self._limit - self._reserve if _background.get() else self._limit
        while True:
            now = time.monotonic()
            while self._sent and now - self._sent[0] >= self._window_s:
                self._sent.popleft()
            if len(self._sent) < limit:
                self._sent.append(now)
                return
            wait = self._window_s - (now - self._sent[-limit]) if limit else self._window_s
            logger.debug("request budget spent, waiting %.2f s", wait)
            await asyncio.sleep(max(wait, 0.01))


class BolinkClient:
    """One booth's session with Bolink: login token, signed uploads, long poll.

    ``base_url`` overrides ``settings.base_url`` (the engine passes the sandbox's URL when
    ``settings.is_sandbox``). ``http`` may be shared; it is closed by :meth:`aclose` only if created here.
    """

    backoff_min_s: float = 0.5
    backoff_max_s: float = 15.0

    def __init__(
        self,
        settings: BolinkSettings,
        *,
        base_url: str | None = None,
        http: httpx.AsyncClient | None = None,
        on_sign_mismatch: Callable[[SignMismatch], None] | None = None,
    ) -> None:
        url = base_url if base_url is not None else settings.base_url
        if settings.is_sandbox and base_url is None:
            raise ValueError('bolink.base_url is "sandbox": pass the running sandbox\'s base_url')
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"Bolink base URL must be http(s), got {url!r}")
        self._settings = settings
        self._base_url = url.rstrip("/")
        self._owns_http = http is None
        self._http = http if http is not None else httpx.AsyncClient()
        self._token: str | None = None
        self._online = False
        self._login_lock = asyncio.Lock()
        self._budget = _RequestBudget(settings.request_budget_per_10s, _BUDGET_WINDOW_S)
        self._on_sign_mismatch = on_sign_mismatch
        self._sign_mismatches = 0
        #: sha256 of a refused message's body -> the refusal sent (None when it expects no answer)
        self._refused: OrderedDict[bytes, Mapping[str, Any] | None] = OrderedDict()
        #: sha256 of messages the handler failed on (their traceback was logged once)
        self._handler_failed: OrderedDict[bytes, None] = OrderedDict()
        #: sha256 of messages whose bad sign was reported (a re-delivery is not reported again)
        self._sign_reported: OrderedDict[bytes, None] = OrderedDict()

    @property
    def online(self) -> bool:
        """True when the last call or poll got a usable answer from Bolink (a refusal counts as reached)."""
        return self._online

    @property
    def base_url(self) -> str:
        return self._base_url

    @property
    def sign_mismatches(self) -> int:
        """Downstream messages whose sign did not match since this client started (for the supervisor)."""
        return self._sign_mismatches

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    # -- transport -----------------------------------------------------------------------------------------

    async def _post(self, path: str, body: bytes, limit_s: float, what: str) -> tuple[bytes, str]:
        """POST and read the whole answer (capped, with an overall deadline); return (body, content type)."""
        url = self._base_url + path
        await self._budget.acquire()
        started = time.monotonic()
        try:
            async with (
                asyncio.timeout(limit_s),
                self._http.stream(
                    "POST", url, content=body, headers=_HEADERS, timeout=httpx.Timeout(limit_s)
                ) as response,
            ):
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > MAX_ANSWER_BYTES:
                    raise self._unavailable(what, f"answer of {declared} bytes refused (limit 1 MiB)")
                received = bytearray()
                async for chunk in response.aiter_bytes():
                    received += chunk
                    if len(received) > MAX_ANSWER_BYTES:
                        raise self._unavailable(what, "answer larger than 1 MiB refused")
                status = response.status_code
                content_type = response.headers.get("content-type", "")
        except TimeoutError:
            raise self._unavailable(what, f"no complete answer within {limit_s:g} s") from None
        except httpx.HTTPError as exc:
            raise self._unavailable(what, f"{type(exc).__name__}: {exc or 'connection failed'}") from None
        logger.debug(
            "%s -> HTTP %s, %d bytes in %.3f s", what, status, len(received), time.monotonic() - started
        )
        if status in (408, 429) or status >= 500:
            raise self._unavailable(what, f"HTTP {status}")
        if status >= 400:
            self._online = False
            reason = "request body too large" if status == 413 else "request refused"
            logger.warning("Bolink %s refused: HTTP %s (%s)", what, status, reason)
            raise BolinkRefused(f"HTTP {status}: {reason}", service_name=what)
        if not 200 <= status < 300:
            raise self._unavailable(what, f"unexpected HTTP {status}")
        return bytes(received), content_type

    def _unavailable(self, what: str, reason: str) -> BolinkUnavailable:
        self._online = False
        logger.warning("Bolink %s failed: %s", what, reason)
        return BolinkUnavailable(f"{what}: {reason}")

    def _json_answer(self, raw: bytes, what: str) -> dict[str, Any]:
        try:
            answer = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise self._unavailable(what, f"answer is not JSON: {raw[:80]!r}") from None
        if not isinstance(answer, dict):
            raise self._unavailable(what, f"answer is not a JSON object: {raw[:80]!r}")
        return answer

    async def _exchange(
        self, service_name: str, data: Mapping[str, Any], token: str | None, *, allow_empty: bool = False
    ) -> dict[str, Any]:
        body = encode_envelope(service_name, data, ukey=self._settings.ukey.get_secret_value(), token=token)
        logger.debug("upload %s %s", service_name, compact_json(dict(data))[:500])
        raw, _ = await self._post(UPLOAD_PATH, body, self._settings.request_timeout_s, service_name)
        if allow_empty and not raw.strip():
            self._online = True
            return {}
        answer = self._json_answer(raw, service_name)
        if answer_state(answer) is None:
            raise self._unavailable(service_name, f"answer without a state: {raw[:80]!r}")
        self._online = True
        logger.debug("upload %s answered %s", service_name, answer)
        return answer

    # -- session -------------------------------------------------------------------------------------------

    async def login(self) -> None:
        """Log in (again); a new token makes the old one stale at Bolink."""
        async with self._login_lock:
            await self._login_locked()

    async def _login_locked(self) -> None:
        s = self._settings
        data = {"union_id": s.union_id, "park_id": s.park_id, "local_id": s.local_id}
        answer = await self._exchange("login", data, token=None)
        if answer_state(answer) != 1:
            errmsg = answer_errmsg(answer) or "login refused"
            logger.warning("Bolink login refused: %s", errmsg)
            raise BolinkRefused(errmsg, service_name="login", answer=answer)
        token = answer.get("token")
        if not isinstance(token, str) or not token:
            raise self._unavailable("login", "answer has no token")
        self._token = token
        logger.info("logged in to Bolink (park %s, local_id %s)", s.park_id, s.local_id)

    async def _relogin(self, stale: str | None) -> None:
        """Log in again unless another task already replaced the stale token."""
        async with self._login_lock:
            if self._token == stale:
                await self._login_locked()

    async def _current_token(self) -> str:
        if self._token is None:
            await self._relogin(None)
        assert self._token is not None
        return self._token

    # -- upstream ------------------------------------------------------------------------------------------

    async def upload(self, service_name: str, data: Mapping[str, Any]) -> dict[str, Any]:
        """One signed ``upload.do`` call; returns the state-1 answer.

        A stale token answer triggers one re-login and one retry. Bolink's "数据已处理过" (already
        processed) counts as success: the answer is returned with ``already_processed: True``.
        """
        return await self._upload(service_name, data, allow_empty=False)

    async def _upload(
        self, service_name: str, data: Mapping[str, Any], *, allow_empty: bool
    ) -> dict[str, Any]:
        if service_name == "login":
            raise ValueError("use login() to log in")
        answer: dict[str, Any] = {}
        for attempt in (1, 2):
            token = await self._current_token()
            answer = await self._exchange(service_name, data, token, allow_empty=allow_empty)
            if not is_token_invalid(answer):
                break
            if attempt == 1:
                logger.info("Bolink says the token is stale (%s): logging in again", answer_errmsg(answer))
                await self._relogin(token)
        if not answer and allow_empty:
            return answer
        if answer_state(answer) == 1:
            return answer
        if is_already_processed(answer):
            logger.info("Bolink had already processed this %s: %s", service_name, answer_errmsg(answer))
            return {**answer, ALREADY_PROCESSED: True}
        errmsg = answer_errmsg(answer) or f"state {answer.get('state')!r}"
        if errmsg == RATE_LIMITED_ERRMSG:
            raise self._unavailable(service_name, "Bolink's rate limit was hit (request_over_times)")
        logger.warning("Bolink refused %s: %s", service_name, errmsg)
        raise BolinkRefused(errmsg, service_name=service_name, answer=answer)

    async def inpark(
        self,
        *,
        car_number: str,
        in_time: int,
        order_id: str,
        in_channel_id: str,
        empty_plot: int,
        uid: str = "",
        car_type: str = "小车",
        c_type: str = "通道照牌",
        license_color: str | None = None,
    ) -> None:
        """A vehicle entered: open the stay at Bolink under ``order_id``."""
        _check_plate(car_number)
        _check_order_id(order_id)
        data: dict[str, Any] = {
            "car_number": car_number,
            "in_time": _unix(in_time, "in_time"),
            "car_type": car_type,
            "c_type": c_type,
            "uid": uid,
            "order_id": order_id,
            "empty_plot": empty_plot,
            "in_channel_id": in_channel_id,
        }
        if license_color is not None:
            data["license_color"] = license_color
        await self.upload("inpark", data)

    async def outpark(
        self,
        *,
        car_number: str,
        in_time: int,
        out_time: int,
        order_id: str,
        total_fen: int,
        pay_type: str,
        out_channel_id: str,
        in_channel_id: str,
        empty_plot: int,
        uid: str = "",
        auth_code: str | None = None,
    ) -> dict[str, Any]:
        """Settle an exit (may be called again until settled); ``total`` is due now, as a yuan string."""
        _check_plate(car_number)
        _check_order_id(order_id)
        if out_time < in_time:
            raise ValueError(f"out_time {out_time} is before in_time {in_time}")
        if isinstance(total_fen, bool) or not isinstance(total_fen, int) or total_fen < 0:
            raise ValueError(f"total_fen must be a non-negative int (fen), got {total_fen!r}")
        if pay_type not in PAY_TYPES:
            raise ValueError(f"unknown pay_type {pay_type!r} (expected one of {sorted(PAY_TYPES)})")
        if (pay_type == "sweepcode") != bool(auth_code):
            raise ValueError("auth_code is required with pay_type sweepcode and only then")
        data: dict[str, Any] = {
            "car_number": car_number,
            "in_time": _unix(in_time, "in_time"),
            "out_time": _unix(out_time, "out_time"),
            "uid": uid,
            "duration": (out_time - in_time) // 60,
            "pay_type": pay_type,
            "empty_plot": empty_plot,
            "total": format_yuan(total_fen),
            "order_id": order_id,
            "out_channel_id": out_channel_id,
            "in_channel_id": in_channel_id,
        }
        if auth_code:
            data["auth_code"] = auth_code
        return await self.upload("outpark", data)

    async def code_url(self, channel_id: str, code_type: int = 2) -> str:
        """The lane's QR address. Bolink's document: type 2 = exit direct-pay code, 3 = plateless entry."""
        if not channel_id:
            raise ValueError("channel_id must not be empty")
        data = {"data_target": DATA_TARGET, "channel_id": channel_id, "type": code_type}
        answer = await self.upload("code_url", data)
        url = answer.get("code_url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise self._unavailable("code_url", f"answer has no usable code_url: {answer!r}")
        return url

    async def query_order(
        self, *, order_id: str, car_number: str, pay_type: str = "scancode", pay_scene: str = "outpay"
    ) -> None:
        """Ask for an order's payment state; the answer arrives downstream as an ``outpark`` result."""
        if pay_scene not in ("prepay", "outpay"):
            raise ValueError(f"pay_scene must be 'prepay' or 'outpay', got {pay_scene!r}")
        data = {
            "data_target": DATA_TARGET,
            "order_id": order_id,
            "car_number": car_number,
            "pay_type": pay_type,
            "pay_scene": pay_scene,
            "time_temp": int(time.time() * 1000),
        }
        await self.upload("query_order", data)

    async def answer(self, service_name: str, data: Mapping[str, Any]) -> None:
        """Answer a downstream message (``data_target: "bolink"``, same service_name)."""
        payload = dict(data)
        if payload.setdefault("service_name", service_name) != service_name:
            raise ValueError(f"answer to {service_name} carries service_name {payload['service_name']!r}")
        payload["data_target"] = DATA_TARGET
        await self._upload(service_name, payload, allow_empty=True)

    # -- downstream ----------------------------------------------------------------------------------------

    async def poll(self) -> DownstreamMessage | None:
        """One ``download.do`` long poll: a message, or None when there was none (or the token was renewed).

        Raises BadMessage for a message that cannot be used (BadSign for a bad sign under
        ``downstream_sign = "refuse"``), BolinkUnavailable/BolinkRefused otherwise.
        """
        raw = await self._poll_raw()
        return None if raw is None else self._read_message(raw)

    async def _poll_raw(self) -> bytes | None:
        """One long poll's message body, unread; None for "no message" or a renewed token."""
        token = await self._current_token()
        body = compact_json({"token": token}).encode("utf-8")
        raw, content_type = await self._post(DOWNLOAD_PATH, body, self._settings.poll_timeout_s, "download")
        text = raw.strip()
        if text in (b"", NO_MESSAGE.encode()):
            self._online = True
            return None
        if "html" in content_type.lower():
            raise self._unavailable("download", f"answer is an HTML page, not a message: {text[:80]!r}")
        status = _status_answer(text)
        if status is not None:
            if is_token_invalid(status):
                self._online = True
                logger.info(
                    "Bolink says the poll's token is stale (%r): logging in again", answer_errmsg(status)[:80]
                )
                await self._relogin(token)
                return None
            errmsg = answer_errmsg(status) or "state 0"
            if errmsg == RATE_LIMITED_ERRMSG:
                raise self._unavailable("download", "Bolink's rate limit was hit (request_over_times)")
            self._online = True
            raise BolinkRefused(errmsg[:200], service_name="download", answer=status)
        self._online = True
        return raw

    def _read_message(self, raw: bytes) -> DownstreamMessage:
        """Parse one message and check its signs; raise BadMessage (BadSign) when it must be refused."""
        message = parse_downstream(raw)
        if message is None:  # not reachable: _poll_raw returns None for "no message"
            raise BadMessage("empty message")
        check = check_downstream_signs(raw, self._settings.ukey.get_secret_value())
        refuse = self._settings.downstream_sign == "refuse"
        problems = list(check.mismatches)
        if refuse and not problems and message.service_name in _SIGN_REQUIRED and not check.checked:
            problems.append(f"{message.service_name} carries no sign")
        key = hashlib.sha256(raw).digest()
        if problems and key in self._sign_reported:  # a re-delivery (warn mode): reported already
            logger.debug("Bolink re-sent a %s with the same bad sign", message.service_name)
        elif problems:
            _remember(self._sign_reported, key, None)
            self._sign_mismatches += 1
            mismatch = SignMismatch(message.service_name, "; ".join(problems), refuse, self._sign_mismatches)
            logger.warning("%s", mismatch.text)
            if self._on_sign_mismatch is not None:
                try:
                    self._on_sign_mismatch(mismatch)
                except Exception:
                    logger.exception("on_sign_mismatch callback failed")
        if problems and refuse:
            raise BadSign(
                "bad sign: " + "; ".join(problems), service_name=message.service_name, fields=message.raw
            )
        logger.debug("downstream %s", message)
        return message

    async def run_downstream(
        self,
        handler: Callable[[DownstreamMessage], Awaitable[Mapping[str, Any] | None]],
        on_status: Callable[[bool, str], None],
    ) -> None:
        """Poll forever, hand each message to ``handler`` and upload its answer (if not None).

        Reconnects with capped exponential backoff and jitter; reports ``on_status(online, reason)`` when
        the state (or, offline, the reason) changes. Only failing to reach Bolink is "offline": whatever a
        message holds, and whatever the handler does with it, the loop goes on and stays online.
        A malformed message (or, under ``downstream_sign = "refuse"``, a badly signed one) is logged in one
        line and, if it expects an answer, refused with state 0 echoing its ids (that answer is Bolink's
        acknowledgement, so it is not pushed again); a re-delivery of the same bytes gets the same refusal
        without being logged again. A failing handler is logged (its traceback once per message) and sends
        no answer, so Bolink re-pushes the message later. Never raises except CancelledError.
        """
        reported: tuple[bool, str] | None = None
        failures = 0

        def report(online: bool, reason: str) -> None:
            nonlocal reported
            if reported is not None and reported[0] == online and (online or reported[1] == reason):
                return
            reported = (online, reason)
            (logger.info if online else logger.warning)(
                "Bolink %s: %s", "online" if online else "offline", reason
            )
            try:
                on_status(online, reason)
            except Exception:
                logger.exception("on_status callback failed")

        while True:
            try:
                if self._token is None or failures:
                    # A quick login says "reachable and accepted" at once; a long poll could take its whole
                    # hold time (~30 s) to say so, and the lanes would keep showing Bolink as offline.
                    await self.login()
                    failures = 0
                    report(True, "connected")
                raw = await self._poll_raw()
            except BolinkError as exc:
                failures += 1
                report(False, str(exc))
                await asyncio.sleep(self._backoff(failures))
                continue
            except Exception as exc:
                failures += 1
                logger.exception("unexpected error in the Bolink poll loop")
                report(False, f"unexpected error: {exc!r}")
                await asyncio.sleep(self._backoff(failures))
                continue
            failures = 0
            report(True, "connected")
            if raw is not None:
                await self._handle_raw(raw, handler)

    def _backoff(self, failures: int) -> float:
        base = min(self.backoff_max_s, self.backoff_min_s * 2 ** min(failures - 1, 30))
        return min(self.backoff_max_s, base + random.uniform(0, base / 4))

    async def _handle_raw(
        self, raw: bytes, handler: Callable[[DownstreamMessage], Awaitable[Mapping[str, Any] | None]]
    ) -> None:
        """Read, check, dispatch and answer one message. Never raises (except CancelledError)."""
        key = hashlib.sha256(raw).digest()
        try:
            if key in self._refused:
                self._refused.move_to_end(key)
                refusal = self._refused[key]
                logger.debug("Bolink re-sent a message already refused; answering the same again")
                if refusal is not None:
                    await self._send_refusal(refusal)
                return
            try:
                message = self._read_message(raw)
            except BadMessage as bad:
                await self._refuse_bad_message(key, bad)
                return
            await self._dispatch(key, message, handler)
        except Exception as exc:  # a bug of this client: one line, and the next message still comes
            logger.error("Bolink message not handled (%s: %s)", type(exc).__name__, str(exc)[:200])

    async def _refuse_bad_message(self, key: bytes, bad: BadMessage) -> None:
        logger.warning("Bolink sent a message that cannot be used: %s", bad)
        refusal = bad_message_answer(bad)
        _remember(self._refused, key, refusal)
        if refusal is not None:
            await self._send_refusal(refusal)

    async def _send_refusal(self, refusal: Mapping[str, Any]) -> None:
        try:
            await self.answer(str(refusal["service_name"]), refusal)
        except BolinkError as exc:
            logger.warning("could not refuse the bad %s message: %s", refusal["service_name"], exc)
        except (TypeError, ValueError) as exc:
            logger.error("the refusal of a bad %s message cannot be sent: %s", refusal["service_name"], exc)

    async def _dispatch(
        self,
        key: bytes,
        message: DownstreamMessage,
        handler: Callable[[DownstreamMessage], Awaitable[Mapping[str, Any] | None]],
    ) -> None:
        try:
            reply = await handler(message)
        except Exception as exc:
            if key in self._handler_failed:
                logger.warning(
                    "handler failed again on Bolink %s message (%s: %s); Bolink will push it again",
                    message.service_name,
                    type(exc).__name__,
                    str(exc)[:200],
                )
            else:
                _remember(self._handler_failed, key, None)
                logger.exception("handler failed on Bolink %s message %s", message.service_name, message)
            return
        if reply is None:
            if message.service_name in ANSWERED_SERVICES:
                logger.debug("handler sent no answer to %s; Bolink will push it again", message.service_name)
            return
        try:
            await self.answer(message.service_name, reply)
        except BolinkError as exc:
            logger.warning(
                "answer to %s not delivered (%s); Bolink will push it again", message.service_name, exc
            )
        except (TypeError, ValueError):  # the handler's answer is unsendable (a float, a wrong name)
            logger.exception("the handler's answer to %s cannot be sent: %r", message.service_name, reply)


def _remember(memory: OrderedDict[bytes, Any], key: bytes, value: Any) -> None:
    memory[key] = value
    memory.move_to_end(key)
    while len(memory) > REMEMBERED_MESSAGES:
        memory.popitem(last=False)


def _status_answer(text: bytes) -> dict[str, Any] | None:
    """A ``{"state":0,"errmsg":...}`` answer from download.do (not a message), else None."""
    try:
        obj = json.loads(text.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):  # parse_downstream names the problem
        return None
    if isinstance(obj, dict) and set(obj) <= _STATUS_KEYS and answer_state(obj) == 0:
        return obj
    return None


_STATUS_KEYS: Final = frozenset({"state", "errmsg", "errcode", "code", "msg"})
"""The members of a download.do status answer (``{"state":0,"errmsg":...}``); anything more is a message,
read (and, if broken, refused) as one, so a mangled message never passes for Bolink saying no."""


def _check_order_id(order_id: str) -> None:
    if not isinstance(order_id, str) or not ORDER_ID_RE.match(order_id):
        raise ValueError(f"order_id must be 1-48 letters, digits or _, got {order_id!r}")


def _check_plate(car_number: str) -> None:
    if not isinstance(car_number, str) or not car_number.strip():
        raise ValueError(f"car_number must not be empty, got {car_number!r}")


def _unix(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be unix seconds (int), got {value!r}")
    return value
