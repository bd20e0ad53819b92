"""Bolink's inbox: each message the Bolink cloud pushes down (a payment result, a driver asking the price or
prepaying in the lot, a plateless car scanning in, a balance) handled, and the answer to upload returned.

A payment result goes to the lane whose exit waits for it; one that no lane waits for is booked (flagged by
the store) and opens nothing. A result is acknowledged only once it is booked, so Bolink resends it otherwise.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from booth.clouds.bolink_protocol import (
    DownstreamMessage,
    NolicenceInPark,
    OutparkResult,
    PrepayOrder,
    QueryPrice,
    UpdateBalance,
)
from booth.config import Settings
from booth.domain import lane as L
from booth.domain.money import format_yuan
from booth.domain.plates import Plate, PlateColour, PlateKind
from booth.domain.tariff import Quote, add_arrears, quote_fee
from booth.engine.events import BolinkChanged
from booth.engine.lanes import LaneRunner
from booth.engine.payments import Payments
from booth.engine.runtime import Runtime
from booth.engine.stays import Stays
from booth.engine.stored import pay_time_of, price_fields
from booth.store.records import PaymentRecord, StayRecord
from booth.store.worker import Priority

log = logging.getLogger("booth.engine")

#: failed payments already recorded (a repeat of one is kept once)
FAILED_RESULTS_KEPT = 1000


class BolinkInbox:
    """Answers Bolink's downstream services; tracks whether the session is online (``bolink_online``)."""

    def __init__(
        self, rt: Runtime, settings: Settings, lanes: LaneRunner, payments: Payments, stays: Stays
    ) -> None:
        self._rt = rt
        self._settings = settings
        self._lanes = lanes
        self._payments = payments
        self._stays = stays
        self.bolink_online = False
        #: what Bolink last said of a plate's wallet (update_balance): balance in fen, autopay on
        self.balances: dict[str, tuple[int, bool]] = {}
        self._failed_results: OrderedDict[str, None] = OrderedDict()

    def on_status(self, online: bool, reason: str) -> None:
        """The Bolink session went online or offline: the window and every lane are told."""
        if online == self.bolink_online:
            return
        self.bolink_online = online
        log.log(
            logging.INFO if online else logging.WARNING,
            "Bolink %s%s",
            "online" if online else "offline",
            f": {reason}" if reason else "",
        )
        self._rt.emit(BolinkChanged(online, reason))
        self._lanes.broadcast(lambda at: L.BolinkStatus(online, at), "bolink-status")
        if online and self._rt.bolink_relay is not None:
            self._rt.bolink_relay.wake()

    async def on_message(self, message: DownstreamMessage) -> Mapping[str, Any] | None:
        """Handle one message Bolink pushed; return the answer to upload (or None)."""
        match message:
            case OutparkResult():
                return await self._payment_result(message)
            case QueryPrice():
                return await self._query_price(message)
            case PrepayOrder():
                return await self._prepay(message)
            case NolicenceInPark():
                return await self._plateless_entry(message)
            case UpdateBalance():
                self.balances[message.car_number] = (message.balance_fen, message.autopay)
                return None
        return None

    async def _payment_result(self, msg: OutparkResult) -> Mapping[str, Any] | None:
        at = self._rt.now()
        paid_at = pay_time_of(msg.pay_time, at)
        if msg.state == 1 and msg.trade_no:
            self._payments.note_pay_company(msg.trade_no, msg.pay_company)
        event = L.PaymentResult(
            order_id=msg.order_id,
            state=msg.state,
            trade_no=msg.trade_no,
            amount_fen=msg.total_fen,
            pay_type=msg.pay_type,
            pay_channel=msg.pay_channel,
            payer_id=msg.pay_user_id or None,
            out_channel_id=msg.out_channel_id,
            errmsg=msg.errmsg,
            at=at,
            paid_at=paid_at,
        )
        owner = self._lanes.awaiting(msg.order_id)
        if msg.state == 0:
            self._rt.spawn(self._record_failed_payment(msg, owner, at), f"payment-failed-{msg.order_id}")
        if owner is not None:
            channel_lane = self._lanes.lane_by_channel.get(msg.out_channel_id)
            if msg.out_channel_id and channel_lane != owner:
                log.warning(
                    "result for %s names channel %r but the order waits at %s: held for the attendant",
                    msg.order_id,
                    msg.out_channel_id,
                    owner,
                )
            await self._lanes.dispatch(owner, event)
        elif msg.state == 1 and msg.trade_no not in self._payments.booked_trades:
            # not waiting at any lane: book the money (flagged by the store), open nothing
            await self._payments.book(
                None,
                L.BookPayment(
                    exit_order_id=None,
                    order_id=msg.order_id,
                    stay_id=None,
                    channel=msg.pay_type or "scancode",
                    pay_channel=msg.pay_channel,
                    trade_no=msg.trade_no,
                    amount_fen=msg.total_fen,
                    payer_id=msg.pay_user_id or None,
                    operator="bolink",
                    settles=False,
                    at=at,
                    paid_at=paid_at,
                ),
            )
        if msg.state == 2:
            return None  # "still paying" is not a result: nothing to acknowledge
        if msg.state == 1 and msg.trade_no not in self._payments.booked_trades:
            # not booked (a store failure, or its first delivery is still being booked): let Bolink resend
            return {
                "service_name": "outpark",
                "state": 0,
                "errmsg": "not booked yet, please resend",
                "trade_no": msg.trade_no,
                "order_id": msg.order_id,
            }
        return {
            "service_name": "outpark",
            "state": 1,
            "errmsg": "",
            "trade_no": msg.trade_no,
            "order_id": msg.order_id,
        }

    async def _record_failed_payment(self, msg: OutparkResult, owner: str | None, at: datetime) -> None:
        """Keep a failed payment (Bolink state 0) for the shift report: an audit row "payment_failed"
        with the lane, order, amount, pay_type, errmsg and plate. A repeat of the same result is kept once.
        """
        key = f"{msg.order_id}:{msg.trade_no}"
        if msg.trade_no and key in self._failed_results:
            return
        self._failed_results[key] = None
        while len(self._failed_results) > FAILED_RESULTS_KEPT:
            self._failed_results.popitem(last=False)
        lane_id = owner or self._lanes.lane_by_channel.get(msg.out_channel_id)
        lane = self._lanes.lanes.get(lane_id) if lane_id else None
        plate = msg.car_number
        if not plate and isinstance(lane, L.ExitLane) and lane.current is not None:
            plate = lane.current.plate.text
        detail = {
            "lane_id": lane_id,
            "order_id": msg.order_id,
            "amount_fen": msg.total_fen,
            "pay_type": msg.pay_type,
            "pay_channel": msg.pay_channel,
            "trade_no": msg.trade_no,
            "errmsg": msg.errmsg,
            "plate": plate or None,
            "out_channel_id": msg.out_channel_id,
            "at": at.isoformat(),
            "pay_time": msg.pay_time,
        }
        store = self._rt.store
        try:
            await self._rt.db(
                lambda: store.audit(
                    actor=f"lane:{lane_id}" if lane_id else "bolink",
                    action="payment_failed",
                    detail=detail,
                    at=at,
                ),
                Priority.BACKGROUND,
            )
        except Exception:
            log.exception("the failed payment of order %s could not be recorded", msg.order_id)

    async def _query_price(self, msg: QueryPrice) -> Mapping[str, Any]:
        store, tariff, zone = self._rt.store, self._settings.tariff, self._settings.park.zone
        at = self._rt.now()
        lane_id = self._lanes.lane_by_channel.get(msg.out_channel_id)
        lane = self._lanes.lanes.get(lane_id) if lane_id else None
        base = {
            "service_name": "query_price",
            "park_id": self._settings.bolink.park_id,
            "query_order_no": msg.query_order_no,
            "query_time": int(at.timestamp()),
        }
        if (
            isinstance(lane, L.ExitLane)
            and lane.current is not None
            and lane.current.quote is not None
            and lane.awaiting_order_id is not None
            and (not msg.car_number or msg.car_number == lane.current.plate.text)
        ):
            q = lane.current.quote
            return {
                **base,
                "state": 1,
                "errmsg": "",
                "order_id": lane.current.order_id,
                "car_number": lane.current.plate.text,
                **price_fields(q),
            }
        car = msg.car_number

        def work() -> tuple[str, Quote] | None:
            stay = store.open_stay_for_plate(car) if car else None
            if stay is None:
                return None
            payments = store.counted_payments(stay.id)
            quote = quote_fee(
                tariff,
                plate=car,
                colour=stay.plate_colour,
                entry=stay.entry_at,
                exit=at,
                tz=zone,
                paid_fen=sum(fen for _, fen in payments),
                payments=payments,
            )
            # a driver prepaying in the lot is asked for what the exit would ask: arrears included
            return stay.order_id, add_arrears(quote, [a.amount_fen for a in store.open_arrears(car)])

        found = await self._rt.db(work)
        if found is None and car and await self._stays.from_lot(car):
            found = await self._rt.db(work)  # (the stay entered at another booth of the lot, now kept here)
        if found is None:
            return {
                **base,
                "state": 0,
                "errmsg": f"未找到在场车辆 {car or ''}".strip(),
                "order_id": msg.order_id,
            }
        order_id, quote = found
        return {
            **base,
            "state": 1,
            "errmsg": "",
            "order_id": order_id,
            "car_number": car,
            **price_fields(quote),
        }

    async def _prepay(self, msg: PrepayOrder) -> Mapping[str, Any]:
        store = self._rt.store
        at = self._rt.now()
        base = {
            "service_name": "prepay_order",
            "park_id": self._settings.bolink.park_id,
            "order_id": msg.order_id,
            "prepay": format_yuan(msg.prepay_fen),
            "query_time": msg.query_time,
        }

        def look_up() -> tuple[PaymentRecord | None, str | None, StayRecord | None]:
            known = store.payment_by_trade_no(msg.trade_no) if msg.trade_no else None
            refused = store.prepayment_refusal(msg.trade_no) if msg.trade_no and known is None else None
            return known, refused, store.stay_by_order_id(msg.order_id)

        known, refused, stay = await self._rt.db(look_up)
        from_lot = known is None and refused is None and stay is None and msg.car_number
        if from_lot and await self._stays.from_lot(msg.car_number):  # (entered at another booth of the lot)
            stay = await self._rt.db(lambda: store.stay_by_order_id(msg.order_id))
        if refused is not None:
            return {**base, "state": 0, "errmsg": f"预付未入账：{refused}"}
        if known is not None:
            # Bolink repeats a prepayment until it hears an answer: the answer is the one the stored row gave,
            # whatever has changed since (the car now at an exit, or gone). Counted money is 1, flagged is 0.
            if known.order_ref != msg.order_id or known.amount_fen != msg.prepay_fen:
                log.warning(
                    "prepay_order %s repeats trade_no %s of order %s, %s fen: refused",
                    msg.order_id,
                    msg.trade_no,
                    known.order_ref,
                    known.amount_fen,
                )
                return {**base, "state": 0, "errmsg": f"交易号 {msg.trade_no} 已用于另一笔付款"}
            if known.flag is not None:
                return {**base, "state": 0, "errmsg": f"预付未入账：{known.flag}"}
            return {**base, "state": 1, "errmsg": ""}
        if stay is None or stay.state != "in_lot":
            return {**base, "state": 0, "errmsg": f"订单 {msg.order_id} 不在场"}
        booked = await self._payments.book(
            None,
            L.BookPayment(
                exit_order_id=None,
                order_id=msg.order_id,
                stay_id=stay.id,
                channel="prepay",
                pay_channel=None,
                trade_no=msg.trade_no,
                amount_fen=msg.prepay_fen,
                payer_id=None,
                operator="bolink",
                settles=False,
                at=at,
            ),
            refusable=True,  # Bolink takes the money only on our "yes": what cannot count is refused
        )
        if booked.flag is not None:  # refused now, or (a race with its own repeat) flagged before
            return {**base, "state": 0, "errmsg": f"预付未入账：{booked.flag}"}
        return {**base, "state": 1, "errmsg": ""}

    async def _plateless_entry(self, msg: NolicenceInPark) -> Mapping[str, Any]:
        lane_id = self._lanes.lane_by_channel.get(msg.channel_id)
        base = {"service_name": "nolicence_in_park", "car_number": msg.car_number}
        if lane_id is None or self._lanes.lanes[lane_id].direction != "entry":
            return {**base, "state": 0, "errmsg": f"通道 {msg.channel_id} 不是本系统的入口"}
        plate = Plate(msg.car_number, PlateKind.PLATELESS, PlateColour.UNKNOWN)
        await self._lanes.dispatch(lane_id, L.VehicleDetected(plate, self._rt.now()))
        lane = self._lanes.lanes[lane_id]
        if lane.state is L.LaneState.REFUSED:
            return {**base, "state": 0, "errmsg": lane.message}
        return {**base, "state": 1, "errmsg": ""}
