"""An Alipay OpenAPI gateway emulator on 127.0.0.1, for the demo, training and tests.

It checks what the real gateway checks (common parameters, RSA2 signature with the app's public key,
timestamp, required business fields and their formats), answers signed responses for ``order.sync`` and
``parkinglotinfo.create``/``update``/``query``, and records what it accepted. ``fail_next`` injects the
failures a booth meets in the field.

Choices where Alipay's behaviour is not documented publicly (the client does not depend on them):

* common-parameter and signature errors come in the method's response node, ``error_response`` only for an
  unknown method; every answer is signed (Alipay cannot sign when it does not know the app);
* the timestamp must be within ``timestamp_tolerance_s`` of the emulator's clock (China time);
* missing or malformed business fields: ``40004`` / ``INVALID_PARAMETER`` naming the field;
* ``parkinglotinfo.create`` for an ``out_parking_id`` it already has answers the same ``parking_id``;
* ``order.sync`` does not check that ``parking_id`` was registered.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import re
from collections import deque
from datetime import UTC, datetime
from typing import Any, Final, Literal, get_args

from aiohttp import web

from booth.clouds.alipay import (
    ALREADY_SYNCED_SUB_CODE,
    ORDER_SYNC,
    PARKINGLOT_CREATE,
    PARKINGLOT_QUERY,
    PARKINGLOT_UPDATE,
    alipay_sign_content,
    response_node_name,
    rsa2_sign,
    rsa2_verify,
)
from booth.clouds.http import parse_china_time
from booth.config import load_private_key, load_public_key, public_key_pem
from booth.sandbox.server import LoopbackServer

logger = logging.getLogger("booth.sandbox.alipay")

GATEWAY_PATH: Final = "/gateway.do"
STATS_PATH: Final = "/_emulator/stats"
AlipayFault = Literal[
    "20000",
    "timeout",
    "hang",
    "bad_signature",
    "html",
    "http500",
    "duplicate",
    "truncated",
    "endless",
    "oversized",
    "unsigned",
]
_FAULTS: Final = frozenset(get_args(AlipayFault))
_PROCESSED_FAULTS: Final = frozenset({"bad_signature", "truncated"})
"""Faults that happen after the request was processed (the answer is lost or spoilt on the way back)."""
_COMMON_REQUIRED: Final = ("app_id", "method", "charset", "sign_type", "sign", "timestamp", "version")
_ORDER_SYNC_REQUIRED: Final = (
    "user_id", "out_parking_id", "parking_name", "car_number", "out_order_no", "order_status", "order_time",
    "order_no", "pay_time", "pay_type", "pay_money", "in_time", "parking_id", "in_duration", "card_number",
)  # fmt: skip
_CREATE_REQUIRED: Final = (
    "city_id", "out_parking_id", "parking_address", "longitude", "latitude", "parking_start_time",
    "parking_end_time", "parking_number", "parking_lot_type", "parking_type", "payment_mode", "pay_type",
    "parking_name",
)  # fmt: skip
_ORDER_SYNC_FORMATS: Final = {
    "user_id": re.compile(r"^2088\d{12}$"),
    "order_status": re.compile(r"^[01]$"),
    "pay_type": re.compile(r"^[12]$"),
    "pay_money": re.compile(r"^\d{1,5}\.\d{2}$"),
    "in_duration": re.compile(r"^\d{1,6}$"),
    "car_number": re.compile(r"^.{1,8}$"),
    "out_order_no": re.compile(r"^.{1,64}$"),
}
_CREATE_FORMATS: Final = {
    "city_id": re.compile(r"^\d{6}$"),
    "longitude": re.compile(r"^-?\d{1,3}(\.\d+)?$"),
    "latitude": re.compile(r"^-?\d{1,2}(\.\d+)?$"),
    "parking_start_time": re.compile(r"^\d{2}:\d{2}:\d{2}$"),
    "parking_end_time": re.compile(r"^\d{2}:\d{2}:\d{2}$"),
    "parking_number": re.compile(r"^\d{1,10}$"),
    "parking_lot_type": re.compile(r"^\d{1,2}$"),
    "parking_type": re.compile(r"^[123](,[123])*$"),
    "payment_mode": re.compile(r"^[123](,[123])*$"),
    "pay_type": re.compile(r"^[1-4](,[1-4])*$"),
}
_SUCCESS: Final = {"code": "10000", "msg": "Success"}


def _failure(code: str, msg: str, sub_code: str, sub_msg: str) -> dict[str, Any]:
    return {"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg}


def _invalid(sub_code: str, sub_msg: str) -> dict[str, Any]:
    return _failure("40002", "Invalid Arguments", sub_code, sub_msg)


def _business(sub_code: str, sub_msg: str) -> dict[str, Any]:
    return _failure("40004", "Business Failed", sub_code, sub_msg)


class AlipayGatewayEmulator(LoopbackServer):
    """The emulated gateway.

    Recorded for tests: ``requests`` (every parameter set that reached the gateway), ``accepted``
    (``out_order_no`` -> 1 once its ``order.sync`` was accepted), ``duplicates`` (repeats answered
    PARKING_DEDUCT_ORDER_HAS_SYNCED), ``orders`` (the accepted business fields) and ``lots`` (by parking_id).
    """

    def __init__(
        self,
        app_public_key_pem: str,
        alipay_private_key_pem: str,
        *,
        app_id: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        timestamp_tolerance_s: float = 600.0,
        latency_s: float = 0.0,
    ) -> None:
        self._app_key = load_public_key(app_public_key_pem, name="app_public_key")
        self.latency_s = latency_s
        self._alipay_key = load_private_key(alipay_private_key_pem, name="alipay_private_key")
        self.app_id = app_id
        super().__init__(host, port)
        self.timestamp_tolerance_s = timestamp_tolerance_s
        self.requests: list[dict[str, str]] = []
        self.accepted: dict[str, int] = {}
        self.duplicates: dict[str, int] = {}
        self.orders: dict[str, dict[str, Any]] = {}
        self.lots: dict[str, dict[str, Any]] = {}
        self._faults: deque[str] = deque()
        self._lot_serial = itertools.count(1509701209007395448)

    # -- life cycle ----------------------------------------------------------------------------------------

    @property
    def gateway_url(self) -> str:
        if self._runner is None:
            raise RuntimeError("the Alipay gateway emulator has not been started")
        return f"http://{self.host}:{self._port}{GATEWAY_PATH}"

    @property
    def alipay_public_key_pem(self) -> str:
        """The public half of the emulator's signing key: what the client must verify answers with."""
        return public_key_pem(self._alipay_key)

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(GATEWAY_PATH, self._handle)
        app.router.add_get(STATS_PATH, self._handle_stats)
        return app

    async def after_start(self) -> None:
        logger.info("Alipay gateway emulator listening on %s", self.gateway_url)

    def fail_next(self, count: int, how: AlipayFault) -> None:
        """The next ``count`` calls fail:

        ``20000`` (signed "service unavailable"), ``duplicate`` (signed PARKING_DEDUCT_ORDER_HAS_SYNCED),
        ``html`` (a proxy page), ``http500``, ``timeout``/``hang`` (no answer until the emulator stops),
        ``endless`` (headers, then a body that never ends), ``oversized`` (a body over 1 MiB), ``unsigned``
        (an unsigned isv.invalid-app-id refusal, as the gateway answers an app_id it does not know) — none
        of these process the call — or, after processing it, ``bad_signature`` (a valid-looking wrong
        signature) and ``truncated`` (the connection drops mid-answer).
        """
        if how not in _FAULTS:
            raise ValueError(f"unknown fault {how!r}; one of {', '.join(sorted(_FAULTS))}")
        if count < 0:
            raise ValueError(f"count must be >= 0, got {count}")
        self._faults.extend([how] * count)

    def stats(self) -> dict[str, Any]:
        """What was accepted, as JSON-ready data (served at ``/_emulator/stats`` for other processes)."""
        return {
            "requests": len(self.requests),
            "accepted": dict(self.accepted),
            "duplicates": dict(self.duplicates),
            "lots": sorted(self.lots),
        }

    # -- HTTP ----------------------------------------------------------------------------------------------

    async def _handle_stats(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(self.stats())

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if self.latency_s > 0:  # the round trip to a real gateway, for tests and benchmarks
            await asyncio.sleep(self.latency_s)
        fault = self._faults.popleft() if self._faults else None
        if fault is not None and fault not in _PROCESSED_FAULTS:
            logger.debug("injecting fault %s", fault)
            return await self._early_fault(request, fault)
        params: dict[str, str] = dict(request.query)
        form = await request.post()
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
        self.requests.append(params)
        node_name, node = self._answer(params)
        body = self._signed_body(node_name, node, spoil=fault == "bad_signature")
        if fault == "truncated":
            return await self._truncated(request, body)
        return web.Response(body=body, content_type="application/json", charset="utf-8")

    async def _early_fault(self, request: web.Request, fault: str) -> web.StreamResponse:
        if fault in ("timeout", "hang"):
            await self._stopped.wait()
            return web.Response(status=503, text="stopping")
        if fault == "http500":
            return web.Response(status=500, text="Internal Server Error")
        if fault == "html":
            page = "<html><head><title>认证</title></head><body>请先登录网络 {login}</body></html>"
            return web.Response(text=page, content_type="text/html", charset="utf-8")
        if fault in ("endless", "oversized"):
            return await self._stream_forever(request, fast=fault == "oversized")
        form = await request.post()
        sent_method = request.query.get("method") or form.get("method")
        method = sent_method if isinstance(sent_method, str) and sent_method else ORDER_SYNC
        if fault == "unsigned":
            node_text = json.dumps(_invalid("isv.invalid-app-id", "无效的AppID参数"), ensure_ascii=False)
            body = f'{{"{response_node_name(method)}":{node_text}}}'.encode()
            return web.Response(body=body, content_type="application/json", charset="utf-8")
        if fault == "20000":
            node = _failure("20000", "Service Currently Unavailable", "isp.unknow-error", "系统繁忙")
        else:  # duplicate
            node = _business(ALREADY_SYNCED_SUB_CODE, "该订单信息已经存在")
        return web.Response(
            body=self._signed_body(response_node_name(method), node),
            content_type="application/json",
            charset="utf-8",
        )

    async def _stream_forever(self, request: web.Request, *, fast: bool) -> web.StreamResponse:
        """A JSON-looking body that never ends (slowly), or one far over the client's cap (fast)."""
        response = web.StreamResponse(headers={"Content-Type": "application/json;charset=utf-8"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        chunk = b" " * (64 * 1024 if fast else 16)
        sent = 0
        try:
            await response.write(b'{"padding":"')
            while not self._stopped.is_set() and sent < 64 << 20:
                await response.write(chunk)
                sent += len(chunk)
                if not fast:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stopped.wait(), 0.02)
        except (ConnectionError, RuntimeError):
            pass  # the client hung up: that is the point
        return response

    async def _truncated(self, request: web.Request, body: bytes) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json;charset=utf-8"})
        response.content_length = len(body)
        await response.prepare(request)
        await response.write(body[: len(body) // 2])
        if request.transport is not None:
            request.transport.close()
        return response

    def _signed_body(self, node_name: str, node: dict[str, Any], *, spoil: bool = False) -> bytes:
        """``{"<node>":{...},"sign":"..."}`` signed over the node's exact text, as Alipay does."""
        node_text = json.dumps(node, ensure_ascii=False, separators=(",", ":"))
        signed = node_text + (" " if spoil else "")
        sign = rsa2_sign(signed.encode("utf-8"), self._alipay_key)
        return f'{{"{node_name}":{node_text},"sign":"{sign}"}}'.encode()

    # -- the gateway's logic -------------------------------------------------------------------------------

    def _answer(self, params: dict[str, str]) -> tuple[str, dict[str, Any]]:
        method = params.get("method", "")
        handlers = {
            ORDER_SYNC: self._order_sync,
            PARKINGLOT_CREATE: self._parkinglot_create,
            PARKINGLOT_QUERY: self._parkinglot_query,
            PARKINGLOT_UPDATE: self._parkinglot_update,
        }
        if method not in handlers:
            if not method:
                return "error_response", _failure(
                    "40001", "Missing Required Arguments", "isv.missing-method", "缺少方法名参数"
                )
            return "error_response", _invalid("isv.invalid-method", f"不存在的方法名 {method}")
        node_name = response_node_name(method)
        problem = self._common_problem(params)
        if problem is not None:
            return node_name, problem
        try:
            biz = json.loads(params.get("biz_content", ""))
        except ValueError:
            biz = None
        if not isinstance(biz, dict):
            return node_name, _business("INVALID_PARAMETER", "参数有误。biz_content 不是 JSON 对象")
        return node_name, handlers[method](biz)

    def _common_problem(self, params: dict[str, str]) -> dict[str, Any] | None:
        for name in _COMMON_REQUIRED:
            if not params.get(name):
                sub = f"isv.missing-{name.replace('_', '-')}"
                return _failure("40001", "Missing Required Arguments", sub, f"缺少 {name} 参数")
        if self.app_id is not None and params["app_id"] != self.app_id:
            return _invalid("isv.invalid-app-id", "无效的AppID参数")
        if params["sign_type"] != "RSA2":
            return _invalid("isv.invalid-signature-type", "无效的签名类型")
        if params["charset"].lower() not in ("utf-8", "utf8"):
            return _invalid("isv.invalid-charset", "字符集错误")
        if params.get("format", "JSON").upper() != "JSON":
            return _invalid("isv.invalid-format", "无效的数据格式")
        try:
            sent_at = parse_china_time(params["timestamp"])
        except ValueError:
            return _invalid("isv.invalid-timestamp", "非法的时间戳参数")
        if abs((datetime.now(UTC) - sent_at).total_seconds()) > self.timestamp_tolerance_s:
            return _invalid("isv.invalid-timestamp", "时间戳与网关时间相差过大")
        if not rsa2_verify(alipay_sign_content(params).encode("utf-8"), params["sign"], self._app_key):
            return _invalid("isv.invalid-signature", "验签出错")
        return None

    @staticmethod
    def _field_problem(
        biz: dict[str, Any], required: tuple[str, ...], formats: dict[str, re.Pattern[str]]
    ) -> dict[str, Any] | None:
        for name in required:
            value = biz.get(name)
            if not isinstance(value, str) or not value.strip():
                return _business("INVALID_PARAMETER", f"参数有误。必要参数为空【{name}】")
        for name, pattern in formats.items():
            if name in biz and not pattern.match(str(biz[name])):
                return _business("INVALID_PARAMETER", f"参数有误。参数格式错误【{name}】: {biz[name]!r}")
        return None

    def _order_sync(self, biz: dict[str, Any]) -> dict[str, Any]:
        problem = self._field_problem(biz, _ORDER_SYNC_REQUIRED, _ORDER_SYNC_FORMATS)
        if problem is not None:
            return problem
        for name in ("order_time", "pay_time", "in_time"):
            try:
                parse_china_time(biz[name])
            except ValueError:
                return _business("INVALID_PARAMETER", f"参数有误。时间格式错误【{name}】: {biz[name]!r}")
        out_order_no = biz["out_order_no"]
        if out_order_no in self.accepted:
            self.duplicates[out_order_no] = self.duplicates.get(out_order_no, 0) + 1
            return _business(ALREADY_SYNCED_SUB_CODE, "该订单信息已经存在")
        self.accepted[out_order_no] = 1
        self.orders[out_order_no] = dict(biz)
        logger.info("order.sync accepted %s (%s, %s yuan)", out_order_no, biz["car_number"], biz["pay_money"])
        return dict(_SUCCESS)

    def _parkinglot_create(self, biz: dict[str, Any]) -> dict[str, Any]:
        problem = self._field_problem(biz, _CREATE_REQUIRED, _CREATE_FORMATS)
        if problem is not None:
            return problem
        for parking_id, lot in self.lots.items():
            if lot["out_parking_id"] == biz["out_parking_id"]:
                return {**_SUCCESS, "parking_id": parking_id}
        parking_id = f"PI{next(self._lot_serial)}"
        self.lots[parking_id] = dict(biz)
        return {**_SUCCESS, "parking_id": parking_id}

    def _parkinglot_update(self, biz: dict[str, Any]) -> dict[str, Any]:
        parking_id = biz.get("parking_id", "")
        if not isinstance(parking_id, str) or not parking_id:
            return _business("INVALID_PARAMETER", "参数有误。停车场ID【parking_id】为空")
        if parking_id not in self.lots:
            return _business("INVALID_PARAMETER", "参数有误。停车场不存在")
        problem = self._field_problem(biz, (), _CREATE_FORMATS)
        if problem is not None:
            return problem
        self.lots[parking_id].update({k: v for k, v in biz.items() if k != "parking_id"})
        return dict(_SUCCESS)

    def _parkinglot_query(self, biz: dict[str, Any]) -> dict[str, Any]:
        parking_id, out_parking_id = biz.get("parking_id", ""), biz.get("out_parking_id", "")
        if not parking_id and not out_parking_id:
            return _business("INVALID_PARAMETER", "参数有误。parking_id和out_parking_id不能同时为空")
        for pid, lot in self.lots.items():
            if pid == parking_id or (not parking_id and lot["out_parking_id"] == out_parking_id):
                return {
                    **_SUCCESS,
                    "parking_id": pid,
                    "out_parking_id": lot["out_parking_id"],
                    "parking_name": lot["parking_name"],
                    "parking_address": lot["parking_address"],
                    "city_id": lot["city_id"],
                    "parking_longitude": lot["longitude"],
                    "parking_latitude": lot["latitude"],
                    "parking_lot_type": lot["parking_lot_type"],
                    "pay_type": lot["pay_type"],
                    "parking_fee_description": lot.get("parking_fee_description", ""),
                }
        return _business("INVALID_PARAMETER", "参数有误。停车场不存在")
