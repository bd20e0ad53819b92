"""A Bolink cloud emulator (HTTP mode) on 127.0.0.1, for the demo, attendant training and tests.

It speaks the same protocol as the real cloud (:mod:`booth.clouds.bolink_protocol`): signed ``upload.do``
calls, the ``download.do`` long poll, stale tokens after a new login, a per-token rate limit, a body size
limit, and re-delivery of payment results the booth has not acknowledged. A small pay page at
``/pay/<channel_id>`` lets a person pay the order waiting at a lane from a browser (the booth's QR points
there). Test hooks push messages, play the driver, expire tokens and inject faults.

The cloud is in three parts: this module's :class:`BolinkSandbox` (HTTP, logins and tokens, the rate limit,
duplicates, faults, the pay page and the hooks), its orders and upstream services
(:mod:`booth.sandbox.bolink_orders`) and what it pushes to the booth (:mod:`booth.sandbox.bolink_push`).

Choices where Bolink's behaviour is not documented publicly (documented here, mirrored by the client):

* stale or unknown token: ``{"state":0,"errmsg":"token_error"}`` (on both endpoints);
* no downstream message: the text ``500``; downstream messages are sent flat, like Bolink's examples;
* a repeated identical inpark/outpark/carpic/answer within ``duplicate_window_s``:
  ``{"state":0,"errmsg":"数据已处理过..."}`` (Bolink's server does this);
* cash, free and monthuser exits are settled without any downstream push (as Bolink's SDK 2.1.2.5 notes);
  wallet and sweepcode exits are paid at once and the result is pushed;
* the rate limit (100 requests / 10 s per token) applies to ``upload.do`` only;
* several sessions (one per charging system, i.e. per booth of a lot): a downstream message about a channel
  goes to the session whose ``local_id`` names it (``"<id>_channels_X1_X2"``), else to any session
  (:mod:`booth.sandbox.bolink_push`).
"""

from __future__ import annotations

import html
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Final, Literal

from aiohttp import web

from booth.clouds.bolink_protocol import (
    ALREADY_PROCESSED_PREFIX,
    ANSWERED_SERVICES,
    DATA_TARGET,
    DOWNLOAD_PATH,
    NO_MESSAGE,
    RATE_LIMITED_ERRMSG,
    TOKEN_INVALID_ERRMSG,
    UPLOAD_PATH,
    BadMessage,
    BadSign,
    compact_json,
    verify_envelope,
)
from booth.domain.money import format_yuan
from booth.sandbox.bolink_orders import OrderBook, SandboxOrder, yuan_number
from booth.sandbox.bolink_push import PushQueue, channel_of, channels_named
from booth.sandbox.server import LoopbackServer

__all__ = ["DOWNLOAD_FAULT_TARGET", "FAULT_KINDS", "RATE_LIMIT", "BolinkSandbox", "FaultKind", "SandboxOrder"]

logger = logging.getLogger("booth.sandbox.bolink")

MAX_BODY_BYTES: Final = 64 * 1024
RATE_LIMIT: Final = 100
RATE_WINDOW_S: Final = 10.0
FaultKind = Literal["http500", "html", "hang", "drop", "request_over_times"]
FAULT_KINDS: Final = ("http500", "html", "hang", "drop", "request_over_times")
#: what ``fail_next(service=...)`` may aim at: the long poll, or one upload.do service (login included)
DOWNLOAD_FAULT_TARGET: Final = "download"
_DEDUPLICATED: Final = frozenset({"inpark", "outpark", "upload_carpic"})


class BolinkSandbox(LoopbackServer):
    """The emulated cloud. ``calls``, ``answers`` and ``orders`` record what the booth sent (for tests).

    State (orders, tokens, queued messages) survives :meth:`stop`; :meth:`start` again rebinds the same
    port, so a test can take the cloud away and bring it back.
    """

    duplicate_window_s: float = 10.0

    def __init__(
        self,
        *,
        union_id: str,
        park_id: str,
        ukey: str,
        host: str = "127.0.0.1",
        port: int = 0,
        poll_hold_s: float = 25.0,
        redeliver_after_s: float = 10.0,
        autopay_after_s: float | None = None,
        rate_limit: int = RATE_LIMIT,
    ) -> None:
        self.union_id = union_id
        self.rate_limit = rate_limit  # requests per 10 s per token, as the real cloud enforces
        self.park_id = park_id
        self.ukey = ukey
        super().__init__(host, port)
        self.poll_hold_s = poll_hold_s
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.answers: list[dict[str, Any]] = []
        self._base_url: str | None = None
        self._tokens: dict[str, str] = {}  # token -> local_id
        self._requests: dict[str, deque[float]] = {}
        self._seen: dict[str, float] = {}
        self._pushes = PushQueue(redeliver_after_s)
        self._book = OrderBook(
            park_id=park_id,
            pushes=self._pushes,
            base_url=lambda: self.base_url,
            running=lambda: self.running,
            autopay_after_s=autopay_after_s,
        )
        self._faults: deque[tuple[FaultKind, str | None]] = deque()  # (how, service aimed at or None)
        #: the faults served so far, as (how, service), so tests can tell a fault really hit its target
        self.faults_injected: list[tuple[FaultKind, str]] = []

    # -- life cycle ----------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("the Bolink sandbox has not been started")
        return self._base_url

    @property
    def orders(self) -> dict[str, SandboxOrder]:
        """Every order the cloud knows, by order_id."""
        return self._book.orders

    def order_at(self, channel_id: str) -> SandboxOrder | None:
        """The order a lane's QR shows (the last exit that waited for payment there; check its state)."""
        order_id = self._book.awaiting_at.get(channel_id)
        return self._book.orders.get(order_id) if order_id else None

    @property
    def unacknowledged_results(self) -> list[tuple[str, str]]:
        """(order_id, trade_no) of pushed payment results the booth has not acknowledged yet."""
        return self._pushes.unacknowledged

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[self._log_requests])
        app.router.add_post(UPLOAD_PATH, self._handle_upload)
        app.router.add_post(DOWNLOAD_PATH, self._handle_download)
        app.router.add_get("/pay/{channel_id}", self._handle_pay_page)
        app.router.add_post("/pay/{channel_id}", self._handle_pay_submit)
        return app

    async def after_start(self) -> None:
        self._base_url = f"http://{self.host}:{self._port}"
        self._pushes.resume()
        logger.info("Bolink sandbox listening on %s", self._base_url)

    async def before_stop(self) -> None:
        """Held polls answer "no message" first; timers stop; recorded state is kept."""
        self._pushes.pause()
        self._book.cancel_autopay()
        logger.info("Bolink sandbox on %s stopping", self._base_url)

    # -- test and demo hooks -------------------------------------------------------------------------------

    def push(self, message: Mapping[str, Any] | bytes) -> None:
        """Queue a raw downstream message (bytes are sent as they are, so tests can send bad ones, to any
        session; a mapping goes to the session naming its channel, see :mod:`booth.sandbox.bolink_push`)."""
        if isinstance(message, bytes):
            self._pushes.push(message)
        else:
            self._pushes.push(compact_json(dict(message)).encode("utf-8"), channel=channel_of(message))

    async def push_and_wait(
        self, message: Mapping[str, Any], key: tuple[str, str], wait_s: float
    ) -> dict[str, Any]:
        """Push a message and wait for the booth's answer to it: ``key`` is (service_name, the id the answer
        carries back: query_order_no for query_price, order_id for prepay_order, else car_number)."""
        return await self._pushes.push_and_wait(message, key, wait_s)

    def expire_tokens(self) -> None:
        """Every current token becomes stale; the booth must log in again."""
        self._tokens.clear()
        self._pushes.wake()

    def fail_next(self, count: int, how: FaultKind, *, service: str | None = None) -> None:
        """The next ``count`` requests to upload.do/download.do fail: HTTP 500, an HTML page, a hang
        (until the client gives up or the sandbox stops), a dropped connection, or Bolink's rate-limit
        answer ``{"state":0,"errmsg":"request_over_times"}``.

        ``service`` aims the faults at one kind of request only (others pass untouched): an upload.do
        ``service_name`` ("login", "outpark", "code_url", ...) or ``"download"`` for the long poll. Without
        it, any request takes the next fault, as before.
        """
        if how not in FAULT_KINDS:
            raise ValueError(f"unknown fault {how!r}; one of {', '.join(FAULT_KINDS)}")
        if count < 0:
            raise ValueError(f"count must not be negative, got {count}")
        if service is not None and not service:
            raise ValueError("service must name a service_name or 'download', not be empty")
        self._faults.extend([(how, service)] * count)

    @property
    def pending_faults(self) -> int:
        """Faults queued by ``fail_next`` that no request has taken yet."""
        return len(self._faults)

    async def driver_pays(
        self,
        *,
        order_id: str | None = None,
        channel_id: str | None = None,
        state: int = 1,
        pay_channel: int = 1,
        pay_user_id: str = "2088000000000001",
    ) -> dict[str, Any]:
        """The driver pays the order (by id, or the one waiting at a lane); pushes the outpark result."""
        order = self._book.find_order(order_id, channel_id)
        return self._book.pay(
            order, state=state, pay_channel=pay_channel, pay_user_id=pay_user_id, pay_type="scancode"
        )

    async def driver_asks_price(
        self,
        *,
        car_number: str,
        channel_id: str = "",
        pay_scene: int = 1,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> dict[str, Any]:
        """Push ``query_price`` (as when a driver scans a code) and wait for the booth's answer."""
        order = self._book.latest_order_of(car_number)
        query_order_no = f"Q{int(time.time())}{self._book.next_serial():06d}"
        message = {
            "service_name": "query_price",
            "car_number": car_number,
            "order_id": order.order_id if order else "",
            "park_id": self.park_id,
            "pay_scene": pay_scene,
            "out_channel_id": channel_id,
            "query_order_no": query_order_no,
        }
        return await self._pushes.push_and_wait(message, ("query_price", query_order_no), timeout)

    async def driver_prepays(
        self,
        *,
        car_number: str,
        prepay_fen: int,
        order_id: str | None = None,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> dict[str, Any]:
        """Push ``prepay_order`` and wait for the booth's answer; state 1 books the prepayment."""
        if order_id is None:
            order = self._book.latest_order_of(car_number)
            if order is None:
                raise LookupError(f"no order for {car_number} in the sandbox")
            order_id = order.order_id
        now = int(time.time())
        message = {
            "service_name": "prepay_order",
            "car_number": car_number,
            "prepay": yuan_number(prepay_fen),
            "order_id": order_id,
            "query_order_no": f"Q{now}{self._book.next_serial():06d}",
            "park_id": self.park_id,
            "trade_no": self._book.new_trade_no(),
            "query_time": now,
            "prepay_type": "1",
        }
        answer = await self._pushes.push_and_wait(message, ("prepay_order", order_id), timeout)
        if answer.get("state") == 1 and order_id in self.orders:
            self.orders[order_id].prepaid_fen += prepay_fen
        return answer

    async def plateless_car_scans(
        self,
        channel_id: str,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> dict[str, Any]:
        """Push ``nolicence_in_park`` for a synthetic plate and wait for the booth's answer."""
        car_number = f"无{uuid.uuid4().hex[:7].upper()}"
        message = {
            "service_name": "nolicence_in_park",
            "car_number": car_number,
            "park_id": self.park_id,
            "channel_id": channel_id,
            "timetemp": int(time.time()),
            "pay_user_id": "2088000000000002",
        }
        return await self._pushes.push_and_wait(message, ("nolicence_in_park", car_number), timeout)

    # -- HTTP ----------------------------------------------------------------------------------------------

    @web.middleware
    async def _log_requests(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        logger.debug("%s %s from %s", request.method, request.path, request.remote)
        return await handler(request)

    def _take_fault(self, service: str) -> FaultKind | None:
        """The first queued fault aimed at ``service`` (or at any request), removed from the queue."""
        for index, (how, target) in enumerate(self._faults):
            if target is None or target == service:
                del self._faults[index]
                self.faults_injected.append((how, service))
                return how
        return None

    async def _fault(self, request: web.Request, service: str) -> web.StreamResponse | None:
        if not self._faults:
            return None
        how = self._take_fault(service)
        if how is None:
            return None
        logger.debug("injecting fault %s on %s (%s)", how, request.path, service)
        if how == "request_over_times":
            return _json({"state": 0, "errmsg": RATE_LIMITED_ERRMSG, "service_name": service})
        if how == "http500":
            return web.Response(status=500, text="Internal Server Error")
        if how == "html":
            return web.Response(
                text="<html><body><h1>502 Bad Gateway</h1></body></html>", content_type="text/html"
            )
        if how == "hang":
            await self._stopped.wait()
            return web.Response(status=503, text="stopping")
        # drop: close the connection without an answer
        if request.transport is not None:
            request.transport.close()
        return web.Response(status=500)

    async def _handle_upload(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()  # over client_max_size: aiohttp answers 413
        fault = await self._fault(request, _service_name_of(body)) if self._faults else None
        if fault is not None:
            return fault
        try:
            service_name, token, data = verify_envelope(body, self.ukey)
        except BadSign as exc:
            return _json({"state": 0, "errmsg": f"签名无效 sign error: {exc.reason}"})
        except BadMessage as exc:
            return _json({"state": 0, "errmsg": f"数据格式错误: {exc.reason}"})
        if service_name == "login":
            return _json(self._login(data))
        if not token:
            return _json({"state": 0, "errmsg": "未识别到token标记 (missing token)"})
        if token not in self._tokens:
            return _json({"state": 0, "errmsg": TOKEN_INVALID_ERRMSG})
        if self._over_rate(token):
            return _json({"state": 0, "errmsg": RATE_LIMITED_ERRMSG})
        is_answer = data.get("data_target") == DATA_TARGET and service_name in ANSWERED_SERVICES
        if (is_answer or service_name in _DEDUPLICATED) and self._repeated(service_name, data):
            if is_answer:
                self._pushes.take_answer(service_name, data)
            return _json(
                {"state": 0, "errmsg": f"{ALREADY_PROCESSED_PREFIX}...", "service_name": service_name}
                | {k: data[k] for k in ("order_id", "car_number") if k in data}
            )
        if is_answer:
            self.answers.append(data)
            self._pushes.take_answer(service_name, data)
            return _json({"state": 1, "errmsg": "", "service_name": service_name})
        handler = self._book.service(service_name)
        if handler is None:
            return _json({"state": 0, "errmsg": f"没有这个接口 unknown service_name {service_name!r}"})
        answer = handler(data)
        if answer.get("state") == 1:
            self.calls.append((service_name, data))
        return _json({"service_name": service_name, **answer})

    async def _handle_download(self, request: web.Request) -> web.StreamResponse:
        fault = await self._fault(request, DOWNLOAD_FAULT_TARGET)
        if fault is not None:
            return fault
        body = await request.read()
        try:
            obj = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return _json({"state": 0, "errmsg": "数据格式错误: body is not JSON"})
        token = obj.get("token") if isinstance(obj, dict) else None
        if not isinstance(token, str) or token not in self._tokens:
            return _json({"state": 0, "errmsg": TOKEN_INVALID_ERRMSG})
        local_id = self._tokens[token]
        item = await self._pushes.next_message(
            lambda: token in self._tokens,
            lambda: self._stopped.is_set() or request.transport is None or request.transport.is_closing(),
            self.poll_hold_s,
            lambda queued: self._routes_to(local_id, queued.channel),
        )
        if item == "stale":
            return _json({"state": 0, "errmsg": TOKEN_INVALID_ERRMSG})
        if item is None:
            return web.Response(text=NO_MESSAGE)
        self._pushes.delivered(item)
        logger.debug("delivering %s", item.body[:200].decode("utf-8", "replace"))
        return web.Response(body=item.body, content_type="application/json", charset="utf-8")

    def _routes_to(self, local_id: str, channel: str | None) -> bool:
        """A message about ``channel`` is for the session ``local_id``: it names the channel, or no session
        logged in names it (then any session takes it, as with one session)."""
        if channel is None:
            return True
        owners = {owner for owner in self._tokens.values() if channel in channels_named(owner)}
        return not owners or local_id in owners

    def _login(self, data: Mapping[str, Any]) -> dict[str, Any]:
        if str(data.get("union_id", "")) != self.union_id:
            return {"state": 0, "errmsg": f"厂商不存在 unknown union_id {data.get('union_id')!r}"}
        if str(data.get("park_id", "")) != self.park_id:
            return {"state": 0, "errmsg": f"车场不存在 unknown park_id {data.get('park_id')!r}"}
        local_id = data.get("local_id")
        if not isinstance(local_id, str) or not local_id:
            return {"state": 0, "errmsg": "local_id is missing"}
        for token in [t for t, owner in self._tokens.items() if owner == local_id]:
            del self._tokens[token]
        token = uuid.uuid4().hex
        self._tokens[token] = local_id
        self._pushes.wake()  # held polls of the replaced token answer "token_error" now
        self.calls.append(("login", dict(data)))
        return {"state": 1, "token": token, "service_name": "login"}

    def _over_rate(self, token: str) -> bool:
        now = time.monotonic()
        sent = self._requests.setdefault(token, deque())
        while sent and now - sent[0] >= RATE_WINDOW_S:
            sent.popleft()
        if len(sent) >= self.rate_limit:
            return True
        sent.append(now)
        return False

    def _repeated(self, service_name: str, data: Mapping[str, Any]) -> bool:
        now = time.monotonic()
        self._seen = {k: t for k, t in self._seen.items() if now - t < self.duplicate_window_s}
        key = service_name + json.dumps(data, sort_keys=True, ensure_ascii=False)
        if key in self._seen:
            return True
        self._seen[key] = now
        return False

    # -- the pay page --------------------------------------------------------------------------------------

    async def _handle_pay_page(self, request: web.Request) -> web.StreamResponse:
        channel_id = request.match_info["channel_id"]
        try:
            order = self._book.find_order(None, channel_id)
        except LookupError:
            return _nothing_to_pay(channel_id)
        body = (
            f"<p class=plate>{html.escape(order.car_number)}</p>"
            f"<p class=amount>¥ {format_yuan(order.total_fen)}</p>"
            f'<form method="post"><button type="submit">支付 / Pay</button></form>'
        )
        return _page(f"停车缴费 / Parking fee — {channel_id}", body)  # _page escapes the title

    async def _handle_pay_submit(self, request: web.Request) -> web.StreamResponse:
        channel_id = request.match_info["channel_id"]
        try:
            order = self._book.find_order(None, channel_id)
        except LookupError:
            return _nothing_to_pay(channel_id)
        self._book.pay(order, state=1, pay_channel=1, pay_user_id="2088000000000001", pay_type="scancode")
        body = (
            f"<p class=plate>{html.escape(order.car_number)}</p>"
            f"<p class=amount>¥ {format_yuan(order.total_fen)}</p><p class=ok>支付成功 / Paid</p>"
        )
        return _page("支付成功 / Paid", body)


def _json(answer: Mapping[str, Any]) -> web.Response:
    return web.Response(text=compact_json(dict(answer)), content_type="application/json", charset="utf-8")


def _page(title: str, body_html: str, *, status: int = 200) -> web.Response:
    """A small UTF-8 page; ``title`` is escaped here, ``body_html`` must be escaped by the caller."""
    text = (
        "<!doctype html><html lang=zh-CN><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif;text-align:center;margin:2em}"
        ".plate{font-size:2em;font-weight:bold}.amount{font-size:2.5em}.ok{color:#080;font-size:1.5em}"
        "button{font-size:1.5em;padding:.5em 2em}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body_html}</body></html>"
    )
    return web.Response(text=text, content_type="text/html", charset="utf-8", status=status)


def _nothing_to_pay(channel_id: str) -> web.Response:
    lane = html.escape(channel_id)
    body = f"<p>通道 {lane} 没有待支付的订单。</p><p>No order is waiting for payment at lane {lane}.</p>"
    return _page("没有待支付的订单 / Nothing to pay", body, status=404)


def _service_name_of(body: bytes) -> str:
    """The envelope's service_name as sent ("" when the body is no envelope): what a fault is aimed at."""
    try:
        envelope = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return ""
    name = envelope.get("service_name") if isinstance(envelope, dict) else None
    return name if isinstance(name, str) else ""
