"""The emulated Bolink cloud's orders: the upstream services that open, price and settle them, and payments.

:class:`OrderBook` answers the booth's ``inpark``, ``outpark``, ``code_url``, ``query_order`` and
``upload_carpic`` calls as Bolink would (see :mod:`booth.sandbox.bolink_cloud` for the choices where Bolink's
behaviour is not documented), keeps which order each lane's QR shows, and pays orders: a payment's
``outpark`` result goes to the booth through the cloud's :class:`~booth.sandbox.bolink_push.PushQueue`.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import itertools
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote

from booth.clouds.bolink_protocol import ORDER_ID_RE, PAY_TYPES
from booth.domain.money import MoneyError, format_yuan, wire_to_fen
from booth.sandbox.bolink_push import PushQueue

logger = logging.getLogger("booth.sandbox.bolink")

_SETTLED_WITHOUT_PAYMENT: Final = {
    "cash": "settled_cash",
    "free": "settled_free",
    "monthuser": "settled_monthuser",
}


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


Service = Callable[[Mapping[str, Any]], dict[str, Any]]
"""One upload.do service: the call's data in, the answer's fields out (``state`` 1 or 0 with an errmsg)."""


class OrderBook:
    """The orders the cloud knows, by order_id, and the order each lane's QR shows (``awaiting_at``)."""

    def __init__(
        self,
        *,
        park_id: str,
        pushes: PushQueue,
        base_url: Callable[[], str],
        running: Callable[[], bool],
        autopay_after_s: float | None,
    ) -> None:
        self._park_id = park_id
        self._pushes = pushes
        self._base_url = base_url
        self._running = running
        self.autopay_after_s = autopay_after_s
        self.orders: dict[str, SandboxOrder] = {}
        self.awaiting_at: dict[str, str] = {}  # out_channel_id -> order_id
        self._autopay_handles: list[asyncio.TimerHandle] = []
        self._serial = itertools.count(1)
        self._services: dict[str, Service] = {
            "inpark": self.inpark,
            "outpark": self.outpark,
            "code_url": self.code_url,
            "query_order": self.query_order,
            "upload_carpic": self.upload_carpic,
        }

    def service(self, service_name: str) -> Service | None:
        """The upload.do service of that name (None for one the cloud does not offer)."""
        return self._services.get(service_name)

    def next_serial(self) -> int:
        """A number never handed out before by this cloud (for query and trade numbers)."""
        return next(self._serial)

    def cancel_autopay(self) -> None:
        """The cloud is stopping: payments scheduled by ``autopay_after_s`` do not happen."""
        for handle in self._autopay_handles:
            handle.cancel()
        self._autopay_handles.clear()

    # -- upstream services ---------------------------------------------------------------------------------

    def inpark(self, data: Mapping[str, Any]) -> dict[str, Any]:
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

    def outpark(self, data: Mapping[str, Any]) -> dict[str, Any]:
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
        previous = self.awaiting_at.get(order.out_channel_id)
        if previous is not None and previous != order_id and self.orders[previous].state == "awaiting":
            self.orders[previous].state = "in"  # the lane now waits for this car instead
        order.state = "awaiting"
        self.awaiting_at[order.out_channel_id] = order_id
        if pay_type in ("wallet", "sweepcode", "etc"):
            channel = 2 if pay_type == "wallet" else 1
            self.pay(order, state=1, pay_channel=channel, pay_user_id="2088000000000001", pay_type=pay_type)
            return {"state": 1, "errmsg": "支付成功", "order_id": order_id}
        self._schedule_autopay(order_id)
        return {"state": 1, "errmsg": "等待支付", "order_id": order_id}

    def code_url(self, data: Mapping[str, Any]) -> dict[str, Any]:
        problem = _missing(data, "channel_id")
        if problem:
            return {"state": 0, "errmsg": problem}
        channel_id = str(data["channel_id"])
        return {
            "state": 1,
            "errmsg": "success",
            "code_url": f"{self._base_url()}/pay/{quote(channel_id, safe='')}",
            "type": data.get("type", 2),
            "channel_id": channel_id,
        }

    def query_order(self, data: Mapping[str, Any]) -> dict[str, Any]:
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
        self._pushes.push_result(message)
        return {"state": 1, "errmsg": "查询已受理", "order_id": order.order_id}

    def upload_carpic(self, data: Mapping[str, Any]) -> dict[str, Any]:
        problem = _missing(data, "order_id", "content")
        if problem is None:
            try:
                base64.b64decode(str(data["content"]), validate=True)
            except (binascii.Error, ValueError):
                problem = "content is not base64"
        if problem:
            return {"state": 0, "errmsg": problem}
        return {"state": 1, "errmsg": "上传成功", "order_id": data["order_id"]}

    # -- orders and payments -------------------------------------------------------------------------------

    def new_trade_no(self) -> str:
        """A trade number never handed out before (Bolink's: time, then a serial)."""
        return time.strftime("%Y%m%d%H%M%S") + f"{next(self._serial):08d}"

    def find_order(self, order_id: str | None, channel_id: str | None) -> SandboxOrder:
        """The order of that id, or the one waiting at that lane, or the only one waiting; or LookupError."""
        if order_id is not None:
            order = self.orders.get(order_id)
            if order is None:
                raise LookupError(f"no order {order_id!r} in the sandbox")
            return order
        if channel_id is not None:
            waiting = self.awaiting_at.get(channel_id)
            if waiting is None or self.orders[waiting].state not in ("awaiting", "paying"):
                raise LookupError(f"no order is waiting for payment at channel {channel_id!r}")
            return self.orders[waiting]
        waiting_orders = [o for o in self.orders.values() if o.state in ("awaiting", "paying")]
        if len(waiting_orders) != 1:
            raise LookupError(f"{len(waiting_orders)} orders are waiting; say which (order_id or channel_id)")
        return waiting_orders[0]

    def latest_order_of(self, car_number: str) -> SandboxOrder | None:
        """The newest order of a plate that is not settled yet."""
        found = [
            o
            for o in self.orders.values()
            if o.car_number == car_number and not o.state.startswith("settled")
        ]
        return found[-1] if found else None

    def pay(
        self, order: SandboxOrder, *, state: int, pay_channel: int, pay_user_id: str, pay_type: str
    ) -> dict[str, Any]:
        """The driver paid (state 1), failed (0) or is paying (2): push that outpark result; return it."""
        if state not in (0, 1, 2):
            raise ValueError(f"state must be 0, 1 or 2, got {state}")
        # paying a paid order again re-sends the same result, as a repeated push would
        trade_no = order.trade_no if order.state == "paid" and state == 1 else self.new_trade_no()
        errmsg = {0: "支付失败", 1: "支付成功", 2: "支付中"}[state]
        message = self._result_message(order, state, trade_no, errmsg, pay_channel, pay_user_id, pay_type)
        if state == 1:
            order.state, order.trade_no = "paid", trade_no
            order.paid_result = order.paid_result if order.paid_result is not None else dict(message)
            if self.awaiting_at.get(order.out_channel_id) == order.order_id:
                del self.awaiting_at[order.out_channel_id]
        elif state == 2:
            order.state = "paying"
        self._pushes.push_result(message)
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
            "total": yuan_number(order.total_fen),
            "car_number": order.car_number,
            "arrive_money": yuan_number(order.total_fen),
            "fee": 0,
            "account_type": 1,
            "remark": f"收到停车费-{order.car_number}",
            "park_id": self._park_id,
            "pay_company": pay_channel if pay_channel in (0, 1) else None,
            "pay_user_id": pay_user_id,
        }

    def _schedule_autopay(self, order_id: str) -> None:
        if self.autopay_after_s is None:
            return

        def pay_now() -> None:
            order = self.orders.get(order_id)
            if order is not None and order.state == "awaiting" and self._running():
                self.pay(order, state=1, pay_channel=1, pay_user_id="2088000000000001", pay_type="scancode")

        handle = asyncio.get_running_loop().call_later(self.autopay_after_s, pay_now)
        self._autopay_handles.append(handle)


def yuan_number(fen: int) -> float:
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
