"""One booth's session with Bolink's HTTP mode: transport, the login token, the request budget.

:class:`BolinkSession` owns what every call to Bolink goes through: the httpx POST (explicit timeouts, a
1 MiB answer cap), the login token (one login at a time; a stale token answer logs in again once), the
client-side request budget (so Bolink never refuses with ``request_over_times``), and whether Bolink was
reached at all (:attr:`~BolinkSession.online`). It sends signed ``upload.do`` calls (:meth:`upload`,
:meth:`answer`) and one ``download.do`` long poll at a time (:meth:`download`); the services built on
the uploads live in :mod:`booth.clouds.bolink`, the loop over the long poll in
:mod:`booth.clouds.bolink_downstream`.

Errors: :class:`BolinkUnavailable` when Bolink cannot be reached or answers garbage (try again later),
:class:`BolinkRefused` when it answered and said no (state 0: retrying the same call will not help).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Final

import httpx

from booth.clouds.bolink_protocol import (
    DATA_TARGET,
    DOWNLOAD_PATH,
    NO_MESSAGE,
    RATE_LIMITED_ERRMSG,
    UPLOAD_PATH,
    answer_errmsg,
    answer_state,
    compact_json,
    encode_envelope,
    is_already_processed,
    is_token_invalid,
)
from booth.config import BolinkSettings

logger = logging.getLogger("booth.bolink")

MAX_ANSWER_BYTES: Final = 1 << 20
ALREADY_PROCESSED: Final = "already_processed"
"""Key set to True in an upload's returned answer when Bolink said it had received that message before."""
_HEADERS: Final = {"Content-Type": "application/json;charset=utf-8", "Accept": "application/json"}
_BUDGET_WINDOW_S: Final = 10.0


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
bolink_lane: ContextVar[str | None] = ContextVar("bolink_lane", default=None)
"""The lane a Bolink call is made for (set by :func:`lane_calls`), for the lane's round-trip figures."""


@contextmanager
def lane_calls(lane_id: str) -> Iterator[None]:
    """Calls made inside this block are made for ``lane_id`` (its figures keep their round trips)."""
    token = bolink_lane.set(lane_id)
    try:
        yield
    finally:
        bolink_lane.reset(token)


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


class BolinkSession:
    """The login token and the wire under it. ``http`` is closed by :meth:`aclose` only if created here."""

    def __init__(self, settings: BolinkSettings, *, base_url: str, http: httpx.AsyncClient | None) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"Bolink base URL must be http(s), got {base_url!r}")
        self._settings = settings
        self._base_url = base_url.rstrip("/")
        self._owns_http = http is None
        self._http = http if http is not None else httpx.AsyncClient()
        self._token: str | None = None
        self._online = False
        self._login_lock = asyncio.Lock()
        self._budget = _RequestBudget(settings.request_budget_per_10s, _BUDGET_WINDOW_S)
        #: told (service name, seconds) of each ``upload.do`` exchange that got an HTTP answer (the lane
        #: figures' Bolink round trip); the wait for the request budget is not in it
        self.on_round_trip: Callable[[str, float], None] | None = None

    @property
    def online(self) -> bool:
        """True when the last call or poll got a usable answer from Bolink (a refusal counts as reached)."""
        return self._online

    @property
    def base_url(self) -> str:
        return self._base_url

    @property
    def logged_in(self) -> bool:
        """Whether a token is held (it may have gone stale at Bolink since)."""
        return self._token is not None

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    def unavailable(self, what: str, reason: str) -> BolinkUnavailable:
        """Note that Bolink gave no usable answer to ``what``, log it, and return the error to raise."""
        self._online = False
        logger.warning("Bolink %s failed: %s", what, reason)
        return BolinkUnavailable(f"{what}: {reason}")

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
                    raise self.unavailable(what, f"answer of {declared} bytes refused (limit 1 MiB)")
                received = bytearray()
                async for chunk in response.aiter_bytes():
                    received += chunk
                    if len(received) > MAX_ANSWER_BYTES:
                        raise self.unavailable(what, "answer larger than 1 MiB refused")
                status = response.status_code
                content_type = response.headers.get("content-type", "")
        except TimeoutError:
            raise self.unavailable(what, f"no complete answer within {limit_s:g} s") from None
        except httpx.HTTPError as exc:
            raise self.unavailable(what, f"{type(exc).__name__}: {exc or 'connection failed'}") from None
        elapsed = time.monotonic() - started
        logger.debug("%s -> HTTP %s, %d bytes in %.3f s", what, status, len(received), elapsed)
        if self.on_round_trip is not None and path == UPLOAD_PATH:
            self.on_round_trip(what, elapsed)
        if status in (408, 429) or status >= 500:
            raise self.unavailable(what, f"HTTP {status}")
        if status >= 400:
            self._online = False
            reason = "request body too large" if status == 413 else "request refused"
            logger.warning("Bolink %s refused: HTTP %s (%s)", what, status, reason)
            raise BolinkRefused(f"HTTP {status}: {reason}", service_name=what)
        if not 200 <= status < 300:
            raise self.unavailable(what, f"unexpected HTTP {status}")
        return bytes(received), content_type

    def _json_answer(self, raw: bytes, what: str) -> dict[str, Any]:
        try:
            answer = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise self.unavailable(what, f"answer is not JSON: {raw[:80]!r}") from None
        if not isinstance(answer, dict):
            raise self.unavailable(what, f"answer is not a JSON object: {raw[:80]!r}")
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
            raise self.unavailable(service_name, f"answer without a state: {raw[:80]!r}")
        self._online = True
        logger.debug("upload %s answered %s", service_name, answer)
        return answer

    # -- the token -----------------------------------------------------------------------------------------

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
            raise self.unavailable("login", "answer has no token")
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

    # -- upload.do -----------------------------------------------------------------------------------------

    async def upload(self, service_name: str, data: Mapping[str, Any]) -> dict[str, Any]:
        """One signed ``upload.do`` call; returns the state-1 answer.

        A stale token answer triggers one re-login and one retry. Bolink's "数据已处理过" (already
        processed) counts as success: the answer is returned with ``already_processed: True``.
        """
        return await self._upload(service_name, data, allow_empty=False)

    async def answer(self, service_name: str, data: Mapping[str, Any]) -> None:
        """Answer a downstream message (``data_target: "bolink"``, same service_name)."""
        payload = dict(data)
        if payload.setdefault("service_name", service_name) != service_name:
            raise ValueError(f"answer to {service_name} carries service_name {payload['service_name']!r}")
        payload["data_target"] = DATA_TARGET
        await self._upload(service_name, payload, allow_empty=True)

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
            raise self.unavailable(service_name, "Bolink's rate limit was hit (request_over_times)")
        logger.warning("Bolink refused %s: %s", service_name, errmsg)
        raise BolinkRefused(errmsg, service_name=service_name, answer=answer)

    # -- download.do ---------------------------------------------------------------------------------------

    async def download(self) -> bytes | None:
        """One ``download.do`` long poll's message body, unread; None for "no message" or a renewed token.

        Bolink saying no (a state-0 status answer instead of a message) raises BolinkRefused; a stale token
        logs in again and returns None.
        """
        token = await self._current_token()
        body = compact_json({"token": token}).encode("utf-8")
        raw, content_type = await self._post(DOWNLOAD_PATH, body, self._settings.poll_timeout_s, "download")
        text = raw.strip()
        if text in (b"", NO_MESSAGE.encode()):
            self._online = True
            return None
        if "html" in content_type.lower():
            raise self.unavailable("download", f"answer is an HTML page, not a message: {text[:80]!r}")
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
                raise self.unavailable("download", "Bolink's rate limit was hit (request_over_times)")
            self._online = True
            raise BolinkRefused(errmsg[:200], service_name="download", answer=status)
        self._online = True
        return raw


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
