"""A Taobao TOP router emulator on 127.0.0.1 that knows ``tmall.popupstore.park.backflow``.

It checks the system parameters, the signature (md5, hmac, hmac-sha256) and the timestamp (±10 min in China
time, as TOP allows), validates the backflow fields per action, counts what it accepted per
(car_no, action, mall_id), and fails on demand. It always answers JSON (the real router answers XML when
``format`` is not json).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import re
from collections import deque
from datetime import UTC, datetime
from typing import Any, Final, Literal, get_args

from aiohttp import web

from booth.clouds.alipay import response_node_name
from booth.clouds.http import parse_china_time
from booth.clouds.top import BACKFLOW, top_sign
from booth.config import BACKFLOW_ACTIONS, SIGN_METHODS
from booth.sandbox.server import LoopbackServer

logger = logging.getLogger("booth.sandbox.top")

ROUTER_PATH: Final = "/router/rest"
STATS_PATH: Final = "/_emulator/stats"
TopFault = Literal["7", "15", "25", "html", "hang", "http500", "refused"]
_FAULTS: Final = frozenset(get_args(TopFault))
_ACTION_TIME: Final = {"arrive": "start_time", "leave": "end_time", "pay": "pay_time"}
_NUMBER: Final = re.compile(r"^\d+$")


def _error(code: int, msg: str, sub_code: str = "", sub_msg: str = "") -> dict[str, Any]:
    node: dict[str, Any] = {"code": code, "msg": msg}
    if sub_code:
        node["sub_code"] = sub_code
    if sub_msg:
        node["sub_msg"] = sub_msg
    return node


class TopRouterEmulator(LoopbackServer):
    """The emulated router. ``calls`` records every parameter set received; ``accepted`` counts accepted
    backflows per (car_no, action, mall_id); ``backflows`` keeps their parameters in order."""

    def __init__(
        self,
        app_key: str,
        secret: str,
        *,
        session: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        timestamp_tolerance_s: float = 600.0,
        latency_s: float = 0.0,
    ) -> None:
        self.app_key = app_key
        self.latency_s = latency_s
        self.secret = secret
        self.session = session
        super().__init__(host, port)
        self.timestamp_tolerance_s = timestamp_tolerance_s
        self.calls: list[dict[str, str]] = []
        self.accepted: dict[tuple[str, str, str], int] = {}
        self.backflows: list[dict[str, str]] = []
        self._faults: deque[str] = deque()
        self._request_ids = itertools.count(1)

    @property
    def gateway_url(self) -> str:
        if self._runner is None:
            raise RuntimeError("the TOP router emulator has not been started")
        return f"http://{self.host}:{self._port}{ROUTER_PATH}"

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(ROUTER_PATH, self._handle)
        app.router.add_get(STATS_PATH, self._handle_stats)
        return app

    async def after_start(self) -> None:
        logger.info("TOP router emulator listening on %s", self.gateway_url)

    def fail_next(self, count: int, how: TopFault) -> None:
        """The next ``count`` calls fail without being processed: ``7`` (app call limited, a 1 s ban),
        ``15`` (remote service error, isp.*), ``25`` (invalid signature), ``html``, ``hang`` (no answer
        until the emulator stops), ``http500``, or ``refused`` (a 200 answer whose result_dto says
        success false)."""
        if how not in _FAULTS:
            raise ValueError(f"unknown fault {how!r}; one of {', '.join(sorted(_FAULTS))}")
        if count < 0:
            raise ValueError(f"count must be >= 0, got {count}")
        self._faults.extend([how] * count)

    def stats(self) -> dict[str, Any]:
        """What was accepted, as JSON-ready data (served at ``/_emulator/stats`` for other processes)."""
        return {
            "calls": len(self.calls),
            "accepted": [[*key, count] for key, count in self.accepted.items()],
            "backflows": len(self.backflows),
        }

    # -- HTTP ----------------------------------------------------------------------------------------------

    async def _handle_stats(self, request: web.Request) -> web.StreamResponse:
        return web.json_response(self.stats())

    def _json(self, node_name: str, node: dict[str, Any]) -> web.Response:
        node["request_id"] = f"emu{next(self._request_ids)}"
        text = json.dumps({node_name: node}, ensure_ascii=False, separators=(",", ":"))
        return web.Response(text=text, content_type="application/json", charset="utf-8")

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if self.latency_s > 0:  # the round trip to a real router, for tests and benchmarks
            await asyncio.sleep(self.latency_s)
        params: dict[str, str] = dict(request.query)
        form = await request.post()
        params.update({k: v for k, v in form.items() if isinstance(v, str)})
        fault = self._faults.popleft() if self._faults else None
        if fault is not None:
            logger.debug("injecting fault %s", fault)
            return await self._fault(fault, params.get("method", BACKFLOW))
        self.calls.append(params)
        error = self._system_problem(params)
        if error is not None:
            return self._json("error_response", error)
        error = self._backflow_problem(params)
        if error is not None:
            return self._json("error_response", error)
        key = (params["car_no"], params["action"], params["mall_id"])
        self.accepted[key] = self.accepted.get(key, 0) + 1
        self.backflows.append(params)
        logger.info("backflow accepted %s", key)
        return self._json(response_node_name(BACKFLOW), {"result_dto": {"success": True, "data": True}})

    async def _fault(self, fault: str, method: str) -> web.StreamResponse:
        if fault == "hang":
            await self._stopped.wait()
            return web.Response(status=503, text="stopping")
        if fault == "http500":
            return web.Response(status=500, text="Internal Server Error")
        if fault == "html":
            return web.Response(text="<html><body>502 Bad Gateway</body></html>", content_type="text/html")
        if fault == "7":
            return self._json(
                "error_response",
                _error(
                    7, "App Call Limited", "accesscontrol.limited", "This ban will last for 1 more seconds"
                ),
            )
        if fault == "15":
            return self._json(
                "error_response", _error(15, "Remote service error", "isp.remote-service-error", "系统繁忙")
            )
        if fault == "25":
            return self._json("error_response", _error(25, "Invalid signature"))
        refused = {
            "success": False,
            "data": False,
            "error_code": "-1",
            "error_message": "商圈未开通停车数据回流",
        }
        return self._json(response_node_name(method), {"result_dto": refused})

    # -- the router's logic --------------------------------------------------------------------------------

    def _system_problem(self, params: dict[str, str]) -> dict[str, Any] | None:
        missing = {
            "method": (21, "Missing Method"),
            "app_key": (28, "Missing App Key"),
            "timestamp": (30, "Missing Timestamp"),
            "sign": (24, "Missing Signature"),
            "v": (32, "Missing Version"),
        }
        for name, (code, msg) in missing.items():
            if not params.get(name):
                return _error(code, msg)
        if params["app_key"] != self.app_key:
            return _error(29, "Invalid App Key", "isv.appkey-not-exists")
        if params["v"] != "2.0":
            return _error(34, "Unsupported Version")
        try:
            sent_at = parse_china_time(params["timestamp"])
        except ValueError:
            return _error(31, "Invalid Timestamp")
        if abs((datetime.now(UTC) - sent_at).total_seconds()) > self.timestamp_tolerance_s:
            return _error(31, "Invalid Timestamp")
        sign_method = params.get("sign_method", "md5")
        if sign_method not in SIGN_METHODS or top_sign(params, self.secret, sign_method) != params["sign"]:
            return _error(25, "Invalid signature")
        if self.session is not None:
            if not params.get("session"):
                return _error(26, "Missing Session")
            if params["session"] != self.session:
                return _error(27, "Invalid Session", "invalid-sessionkey")
        if params["method"] != BACKFLOW:
            return _error(22, "Invalid Method")
        return None

    @staticmethod
    def _backflow_problem(params: dict[str, str]) -> dict[str, Any] | None:
        def missing(name: str) -> dict[str, Any]:
            return _error(
                40, "Missing Required Arguments", f"isv.missing-parameter:{name}", f"缺少参数 {name}"
            )

        def invalid(name: str) -> dict[str, Any]:
            return _error(41, "Invalid Arguments", f"isv.invalid-parameter:{name}", f"非法参数 {name}")

        for name in ("car_no", "action", "mall_id"):
            if not params.get(name):
                return missing(name)
        action = params["action"]
        if action not in BACKFLOW_ACTIONS:
            return invalid("action")
        needed = [_ACTION_TIME[action]] + (["park_duration"] if action == "pay" else [])
        for name in needed:
            if not params.get(name):
                return missing(name)
        for name in ("mall_id", "park_duration", "mobile"):
            if name in params and not _NUMBER.match(params[name]):
                return invalid(name)
        for name in _ACTION_TIME.values():
            if name in params:
                try:
                    parse_china_time(params[name])
                except ValueError:
                    return invalid(name)
        if "extend" in params:
            try:
                extend = json.loads(params["extend"])
            except ValueError:
                return invalid("extend")
            if not isinstance(extend, dict):
                return invalid("extend")
        return None
