"""A Bolink cloud emulator (HTTP mode) on 127.0.0.1, for the demo, attendant training and tests.

It speaks the same protocol as the real cloud (:mod:`booth.clouds.bolink_protocol`): signed ``upload.do``
calls, the ``download.do`` long poll, stale tokens after a new login, a per-token rate limit, a body size
limit, and re-delivery of payment results the booth has not acknowledged. A small pay page at
``/pay/<channel_id>`` lets a person pay the order waiting at a lane from a browser (the booth's QR points
there). Test hooks push messages, play the driver, expire tokens and inject faults.

Choices where Bolink's behaviour is not documented publicly (documented here, mirrored by the client):

* stale or unknown token: ``{"state":0,"errmsg":"token_error"}`` (on both endpoints);
* no downstream message: the text ``500``; downstream messages are sent flat, like Bolink's examples;
* a repeated identical inpark/outpark/carpic/answer within ``duplicate_window_s``:
  ``{"state":0,"errmsg":"数据已处理过..."}`` (Bolink's server does this);
* cash, free and monthuser exits are settled without any downstream push (as Bolink's SDK 2.1.2.5 notes);
  wallet and sweepcode exits are paid at once and the result is pushed;
* the rate limit (100 requests / 10 s per token) applies to ``upload.do`` only.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import html
import itertools
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal
from urllib.parse import quote

from aiohttp import web

from booth.clouds.bolink_protocol import (
    ALREADY_PROCESSED_PREFIX,
    ANSWERED_SERVICES,
    DATA_TARGET,
    DOWNLOAD_PATH,
    NO_MESSAGE,
    ORDER_ID_RE,
    PAY_TYPES,
    RATE_LIMITED_ERRMSG,
    TOKEN_INVALID_ERRMSG,
    UPLOAD_PATH,
    BadMessage,
    BadSign,
    compact_json,
    verify_envelope,
)
from booth.domain.money import MoneyError, format_yuan, wire_to_fen
from booth.sandbox.server import LoopbackServer

logger = logging.getLogger("booth.sandbox.bolink")

MAX_BODY_BYTES: Final = 64 * 1024
RATE_LIMIT: Final = 100
RATE_WINDOW_S: Final = 10.0
FaultKind = Literal["http500", "html", "hang", "drop", "request_over_times"]
FAULT_KINDS: Final = ("http500", "html", "hang", "drop", "request_over_times")
#: what ``fail_next(service=...)`` may aim at: the long poll, or one upload.do service (login included)
DOWNLOAD_FAULT_TARGET: Final = "download"
_SETTLED_WITHOUT_PAYMENT: Final = {
    "cash": "settled_cash",
    "free": "settled_free",
    "monthuser": "settled_monthuser",
}
_DEDUPLICATED: Final = frozenset({"inpark", "outpark", "upload_carpic"})


@dataclass
class SandboxOrder:
    """One stay as the emulated cloud sees it. ``state``: in, awaiting, paying, paid, settled_<pay_type>."""

    order_id: str
    car_number: str
    in_time: int | None = None
    in_channel_id: str = ""
    total_fen: int = 0
    out_channel_id: str = ""
    state: str = "in"
    trade_no: str = ""
    pay_type: str = ""
    prepaid_fen: int = 0
    #: the result pushed when it was paid: a query_order of a paid order re-sends it as it was (its payer,
    #: channel and pay_time), as Bolink re-pushes a result
    paid_result: dict[str, Any] | None = None


@dataclass
class _Queued:
    body: bytes
    ack_key: tuple[str, str] | None = None


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
        self.redeliver_after_s = redeliver_after_s
        self.autopay_after_s = autopay_after_s
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.answers: list[dict[str, Any]] = []
        self.orders: dict[str, SandboxOrder] = {}
        self._base_url: str | None = None
        self._tokens: dict[str, str] = {}  # token -> local_id
        self._requests: dict[str, deque[float]] = {}
        self._seen: dict[str, float] = {}
        self._queue: deque[_Queued] = deque()
        self._wake = asyncio.Event()
        self._unacked: dict[tuple[str, str], bytes] = {}
        self._timers: dict[tuple[str, str], asyncio.TimerHandle] = {}
        self._awaiting_at: dict[str, str] = {}  # out_channel_id -> order_id
        self._waiters: dict[tuple[str, str], asyncio.Future[dict[str, Any]]] = {}
        self._faults: deque[tuple[FaultKind, str | None]] = deque()  # (how, service aimed at or None)
        #: the faults served so far, as (how, service), so tests can tell a fault really hit its target
        self.faults_injected: list[tuple[FaultKind, str]] = []
        self._autopay_handles: list[asyncio.TimerHandle] = []
        self._serial = itertools.count(1)

    # -- life cycle ----------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError("the Bolink sandbox has not been started")
        return self._base_url

    @property
    def unacknowledged_results(self) -> list[tuple[str, str]]:
        """(order_id, trade_no) of pushed payment results the booth has not acknowledged yet."""
        return list(self._unacked)

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[self._log_requests])
        app.router.add_post(UPLOAD_PATH, self._handle_upload)
        app.router.add_post(DOWNLOAD_PATH, self._handle_download)
        app.router.add_get("/pay/{channel_id}", self._handle_pay_page)
        app.router.add_post("/pay/{channel_id}", self._handle_pay_submit)
        return app

    async def after_start(self) -> None:
        self._base_url = f"http://{self.host}:{self._port}"
        for key in self._unacked:
            if key not in self._timers:
                self._arm_redelivery(key)
        logger.info("Bolink sandbox listening on %s", self._base_url)

    async def before_stop(self) -> None:
        """Held polls answer "no message" first; timers stop; recorded state is kept."""
        self._wake.set()
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for handle in self._autopay_handles:
            handle.cancel()
        self._autopay_handles.clear()
        logger.info("Bolink sandbox on %s stopping", self._base_url)

    # -- test and demo hooks -------------------------------------------------------------------------------

    def push(self, message: Mapping[str, Any] | bytes) -> None:
        """Queue a raw downstream message (bytes are sent as they are, so tests can send bad ones)."""
        body = message if isinstance(message, bytes) else compact_json(dict(message)).encode("utf-8")
        self._enqueue(_Queued(body))

    def expire_tokens(self) -> None:
        """Every current token becomes stale; the booth must log in again."""
        self._tokens.clear()
        self._wake.set()

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
        order = self._find_order(order_id, channel_id)
        return self._pay(
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
        order = self._latest_order_of(car_number)
        query_order_no = f"Q{int(time.time())}{next(self._serial):06d}"
        message = {
            "service_name": "query_price",
            "car_number": car_number,
            "order_id": order.order_id if order else "",
            "park_id": self.park_id,
            "pay_scene": pay_scene,
            "out_channel_id": channel_id,
            "query_order_no": query_order_no,
        }
        return await self._push_and_wait(message, ("query_price", query_order_no), timeout)

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
            order = self._latest_order_of(car_number)
            if order is None:
                raise LookupError(f"no order for {car_number} in the sandbox")
            order_id = order.order_id
        now = int(time.time())
        message = {
            "service_name": "prepay_order",
            "car_number": car_number,
            "prepay": _yuan_number(prepay_fen),
            "order_id": order_id,
            "query_order_no": f"Q{now}{next(self._serial):06d}",
            "park_id": self.park_id,
            "trade_no": self._new_trade_no(),
            "query_time": now,
            "prepay_type": "1",
        }
        answer = await self._push_and_wait(message, ("prepay_order", order_id), timeout)
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
        return await self._push_and_wait(message, ("nolicence_in_park", car_number), timeout)

    # -- internals: queue, delivery, redelivery ------------------------------------------------------------

    def _enqueue(self, item: _Queued) -> None:
        self._queue.append(item)
        self._wake.set()

    async def _push_and_wait(
        self, message: Mapping[str, Any], key: tuple[str, str], wait_s: float
    ) -> dict[str, Any]:
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiters[key] = future
        self.push(message)
        try:
            return await asyncio.wait_for(future, wait_s)
        except TimeoutError:
            raise TimeoutError(f"the booth did not answer {key[0]} {key[1]} within {wait_s:g} s") from None
        finally:
            self._waiters.pop(key, None)

    def _arm_redelivery(self, key: tuple[str, str]) -> None:
        old = self._timers.pop(key, None)
        if old is not None:
            old.cancel()
        loop = asyncio.get_running_loop()
        self._timers[key] = loop.call_later(self.redeliver_after_s, self._redeliver, key)

    def _redeliver(self, key: tuple[str, str]) -> None:
        self._timers.pop(key, None)
        body = self._unacked.get(key)
        if body is None or any(item.ack_key == key for item in self._queue):
            return
        logger.debug("re-pushing unacknowledged outpark result %s", key)
        self._enqueue(_Queued(body, key))

    def _acknowledge(self, key: tuple[str, str]) -> None:
        if self._unacked.pop(key, None) is None:
            return
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        self._queue = deque(item for item in self._queue if item.ack_key != key)

    async def _next_message(self, request: web.Request, token: str) -> _Queued | Literal["stale"] | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.poll_hold_s
        while True:
            if token not in self._tokens:
                return "stale"
            if self._stopped.is_set() or request.transport is None or request.transport.is_closing():
                return None
            if self._queue:
                return self._queue.popleft()
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), remaining)

    # -- internals: orders and payments --------------------------------------------------------------------

    def _new_trade_no(self) -> str:
        return time.strftime("%Y%m%d%H%M%S") + f"{next(self._serial):08d}"

    def _find_order(self, order_id: str | None, channel_id: str | None) -> SandboxOrder:
        if order_id is not None:
            order = self.orders.get(order_id)
            if order is None:
                raise LookupError(f"no order {order_id!r} in the sandbox")
            return order
        if channel_id is not None:
            waiting = self._awaiting_at.get(channel_id)
            if waiting is None or self.orders[waiting].state not in ("awaiting", "paying"):
                raise LookupError(f"no order is waiting for payment at channel {channel_id!r}")
            return self.orders[waiting]
        waiting_orders = [o for o in self.orders.values() if o.state in ("awaiting", "paying")]
        if len(waiting_orders) != 1:
            raise LookupError(f"{len(waiting_orders)} orders are waiting; say which (order_id or channel_id)")
        return waiting_orders[0]

    def _latest_order_of(self, car_number: str) -> SandboxOrder | None:
        found = [
            o
            for o in self.orders.values()
            if o.car_number == car_number and not o.state.startswith("settled")
        ]
        return found[-1] if found else None

    def _pay(
        self, order: SandboxOrder, *, state: int, pay_channel: int, pay_user_id: str, pay_type: str
    ) -> dict[str, Any]:
        if state not in (0, 1, 2):
            raise ValueError(f"state must be 0, 1 or 2, got {state}")
        # paying a paid order again re-sends the same result, as a repeated push would
        trade_no = order.trade_no if order.state == "paid" and state == 1 else self._new_trade_no()
        errmsg = {0: "支付失败", 1: "支付成功", 2: "支付中"}[state]
        message = self._result_message(order, state, trade_no, errmsg, pay_channel, pay_user_id, pay_type)
        if state == 1:
            order.state, order.trade_no = "paid", trade_no
            order.paid_result = order.paid_result if order.paid_result is not None else dict(message)
            if self._awaiting_at.get(order.out_channel_id) == order.order_id:
                del self._awaiting_at[order.out_channel_id]
        elif state == 2:
            order.state = "paying"
        self._push_result(message)
        logger.info("sandbox: %s for order %s (%s)", errmsg, order.order_id, format_yuan(order.total_fen))
        return message

    def _result_message(
        self,
        order: SandboxOrder,
        state: int,
        trade_no: str,
        errmsg: str,
        pay_channel: int,
        pay_user_id: str,
        pay_type: str,
    ) -> dict[str, Any]:
        return {
            "service_name": "outpark",
            "state": state,
            "order_id": order.order_id,
            "trade_no": trade_no,
            "pay_type": pay_type,
            "pay_channel": pay_channel,
            "out_channel_id": order.out_channel_id,
            "errmsg": errmsg,
            "pay_time": int(time.time()),
            "total": _yuan_number(order.total_fen),
            "car_number": order.car_number,
            "arrive_money": _yuan_number(order.total_fen),
            "fee": 0,
            "account_type": 1,
            "remark": f"收到停车费-{order.car_number}",
            "park_id": self.park_id,
            "pay_company": pay_channel if pay_channel in (0, 1) else None,
            "pay_user_id": pay_user_id,
        }

    def _push_result(self, message: dict[str, Any]) -> None:
        body = compact_json({k: v for k, v in message.items() if v is not None}).encode("utf-8")
        key: tuple[str, str] | None = None
        if message["state"] in (0, 1):  # final results are re-pushed until acknowledged
            key = (str(message["order_id"]), str(message["trade_no"]))
            self._unacked[key] = body
        self._enqueue(_Queued(body, key))

    def _schedule_autopay(self, order_id: str) -> None:
        if self.autopay_after_s is None:
            return

        def pay_now() -> None:
            order = self.orders.get(order_id)
            if order is not None and order.state == "awaiting" and self.running:
                self._pay(order, state=1, pay_channel=1, pay_user_id="2088000000000001", pay_type="scancode")

        handle = asyncio.get_running_loop().call_later(self.autopay_after_s, pay_now)
        self._autopay_handles.append(handle)

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
                self._take_answer(service_name, data)
            return _json(
                {"state": 0, "errmsg": f"{ALREADY_PROCESSED_PREFIX}...", "service_name": service_name}
                | {k: data[k] for k in ("order_id", "car_number") if k in data}
            )
        if is_answer:
            self.answers.append(data)
            self._take_answer(service_name, data)
            return _json({"state": 1, "errmsg": "", "service_name": service_name})
        handler = self._services.get(service_name)
        if handler is None:
            return _json({"state": 0, "errmsg": f"没有这个接口 unknown service_name {service_name!r}"})
        answer = handler(self, data)
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
        item = await self._next_message(request, token)
        if item == "stale":
            return _json({"state": 0, "errmsg": TOKEN_INVALID_ERRMSG})
        if item is None:
            return web.Response(text=NO_MESSAGE)
        if item.ack_key is not None:
            self._arm_redelivery(item.ack_key)
        logger.debug("delivering %s", item.body[:200].decode("utf-8", "replace"))
        return web.Response(body=item.body, content_type="application/json", charset="utf-8")

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
        self._wake.set()  # held polls of the replaced token answer "token_error" now
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

    def _take_answer(self, service_name: str, data: Mapping[str, Any]) -> None:
        if service_name == "outpark":
            self._acknowledge((str(data.get("order_id", "")), str(data.get("trade_no", ""))))
            return
        field = {"query_price": "query_order_no", "prepay_order": "order_id"}.get(service_name, "car_number")
        future = self._waiters.get((service_name, str(data.get(field, ""))))
        if future is not None and not future.done():
            future.set_result(dict(data))

    # -- upstream services ---------------------------------------------------------------------------------

    def _inpark(self, data: Mapping[str, Any]) -> dict[str, Any]:
        problem = _missing(data, "car_number", "in_time", "order_id", "in_channel_id") or _order_id_problem(
            data
        )
        if problem is None and not _is_int(data["in_time"]):
            problem = f"in_time must be unix seconds, got {data['in_time']!r}"
        if problem:
            return {"state": 0, "errmsg": problem, "order_id": data.get("order_id", "")}
        order_id = str(data["order_id"])
        known = self.orders.get(order_id)
        if known is not None and str(data.get("force_update", "0")) != "1":
            # an inpark that arrives after the exit began (it waited in the booth's outbox) must not
            # reset an awaiting or paid order; only force_update=1 recreates it
            known.in_time, known.in_channel_id = int(data["in_time"]), str(data["in_channel_id"])
            return {"state": 1, "errmsg": "上传成功", "order_id": order_id}
        self.orders[order_id] = SandboxOrder(
            order_id=order_id,
            car_number=str(data["car_number"]),
            in_time=int(data["in_time"]),
            in_channel_id=str(data["in_channel_id"]),
        )
        return {"state": 1, "errmsg": "上传成功", "order_id": order_id}

    def _outpark(self, data: Mapping[str, Any]) -> dict[str, Any]:
        problem = _missing(data, "car_number", "order_id", "pay_type", "total", "out_channel_id", "out_time")
        problem = problem or _order_id_problem(data)
        order_id = str(data.get("order_id", ""))
        if problem:
            return {"state": 0, "errmsg": problem, "order_id": order_id}
        pay_type = str(data["pay_type"])
        if pay_type not in PAY_TYPES:
            return {"state": 0, "errmsg": f"unknown pay_type {pay_type!r}", "order_id": order_id}
        if pay_type == "sweepcode" and not data.get("auth_code"):
            return {"state": 0, "errmsg": "auth_code is required with sweepcode", "order_id": order_id}
        try:
            total_fen = wire_to_fen(data["total"], field="total")
        except MoneyError as exc:
            return {"state": 0, "errmsg": str(exc), "order_id": order_id}
        order = self.orders.get(order_id)
        if order is None:
            order = self.orders[order_id] = SandboxOrder(
                order_id=order_id, car_number=str(data["car_number"])
            )
            order.in_time = int(data["in_time"]) if _is_int(data.get("in_time")) else None
        if order.state == "paid":
            return {"state": 1, "errmsg": "订单已支付", "order_id": order_id}
        order.car_number = str(data["car_number"])
        order.total_fen = total_fen
        order.out_channel_id = str(data["out_channel_id"])
        order.pay_type = pay_type
        if pay_type in _SETTLED_WITHOUT_PAYMENT or total_fen == 0:
            order.state = _SETTLED_WITHOUT_PAYMENT.get(pay_type, "settled_free")
            return {"state": 1, "errmsg": "结算成功", "order_id": order_id}
        previous = self._awaiting_at.get(order.out_channel_id)
        if previous is not None and previous != order_id and self.orders[previous].state == "awaiting":
            self.orders[previous].state = "in"  # the lane now waits for this car instead
        order.state = "awaiting"
        self._awaiting_at[order.out_channel_id] = order_id
        if pay_type in ("wallet", "sweepcode", "etc"):
            channel = 2 if pay_type == "wallet" else 1
            self._pay(order, state=1, pay_channel=channel, pay_user_id="2088000000000001", pay_type=pay_type)
            return {"state": 1, "errmsg": "支付成功", "order_id": order_id}
        self._schedule_autopay(order_id)
        return {"state": 1, "errmsg": "等待支付", "order_id": order_id}

    def _code_url(self, data: Mapping[str, Any]) -> dict[str, Any]:
        problem = _missing(data, "channel_id")
        if problem:
            return {"state": 0, "errmsg": problem}
        channel_id = str(data["channel_id"])
        return {
            "state": 1,
            "errmsg": "success",
            "code_url": f"{self.base_url}/pay/{quote(channel_id, safe='')}",
            "type": data.get("type", 2),
            "channel_id": channel_id,
        }

    def _query_order(self, data: Mapping[str, Any]) -> dict[str, Any]:
        problem = _missing(data, "order_id")
        if problem:
            return {"state": 0, "errmsg": problem}
        order = self.orders.get(str(data["order_id"]))
        if order is None:
            return {"state": 0, "errmsg": f"订单不存在 unknown order {data['order_id']!r}"}
        if order.state == "paid" and order.paid_result is not None:
            message = dict(order.paid_result)
        elif order.state == "paid":
            message = self._result_message(order, 1, order.trade_no, "支付成功", 1, "", "scancode")
        else:
            message = self._result_message(order, 2, "", "未支付", 1, "", "scancode")
        self._push_result(message)
        return {"state": 1, "errmsg": "查询已受理", "order_id": order.order_id}

    def _upload_carpic(self, data: Mapping[str, Any]) -> dict[str, Any]:
        problem = _missing(data, "order_id", "content")
        if problem is None:
            try:
                base64.b64decode(str(data["content"]), validate=True)
            except (binascii.Error, ValueError):
                problem = "content is not base64"
        if problem:
            return {"state": 0, "errmsg": problem}
        return {"state": 1, "errmsg": "上传成功", "order_id": data["order_id"]}

    _services: Final[dict[str, Callable[[BolinkSandbox, Mapping[str, Any]], dict[str, Any]]]] = {
        "inpark": _inpark,
        "outpark": _outpark,
        "code_url": _code_url,
        "query_order": _query_order,
        "upload_carpic": _upload_carpic,
    }

    # -- the pay page --------------------------------------------------------------------------------------

    async def _handle_pay_page(self, request: web.Request) -> web.StreamResponse:
        channel_id = request.match_info["channel_id"]
        try:
            order = self._find_order(None, channel_id)
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
            order = self._find_order(None, channel_id)
        except LookupError:
            return _nothing_to_pay(channel_id)
        self._pay(order, state=1, pay_channel=1, pay_user_id="2088000000000001", pay_type="scancode")
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


def _yuan_number(fen: int) -> float:
    """Bolink sends amounts as JSON numbers in yuan; the float exists only on the wire (0.07 stays 0.07)."""
    return float(format_yuan(fen))


def _missing(data: Mapping[str, Any], *keys: str) -> str | None:
    absent = [key for key in keys if data.get(key) in (None, "")]
    return f"missing {', '.join(absent)}" if absent else None


def _order_id_problem(data: Mapping[str, Any]) -> str | None:
    order_id = data.get("order_id")
    if not isinstance(order_id, str) or not ORDER_ID_RE.match(order_id):
        return f"order_id must be 1-48 letters, digits or _, got {order_id!r}"
    return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0
