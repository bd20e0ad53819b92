"""The money of the exit lanes: asking Bolink for a payment (outpark and the lane's QR), booking a payment
with the rows that report it (Bolink, Alipay, Tmall) in one transaction, and letting an exit order go unpaid.

Every booking goes through ``book``: the store's unique trade_no is the guard against booking twice; the
trades booked lately (``booked_trades``) only spare a repeat a trip to the database and decide Bolink's
answer.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Mapping
from contextlib import nullcontext
from datetime import datetime

from booth.clouds.bolink import BolinkClient, BolinkError, BolinkRefused, BolinkUnavailable
from booth.clouds.bolink_session import lane_calls
from booth.config import LaneSettings, Settings
from booth.domain import lane as L
from booth.domain.money import format_yuan
from booth.domain.phrases import say
from booth.engine.runtime import Runtime
from booth.engine.stored import exception_item
from booth.store import OutboxItem, PaymentOutcome, StayRecord
from booth.store.worker import Priority
from booth.sync.rows import paid_by_alipay

log = logging.getLogger("booth.engine")

#: trade numbers kept as booked (months of running stay bounded)
BOOKED_TRADES_KEPT = 10_000


def outpark_row(
    order_id: str, stay_id: int | None, pay_type: str, total_fen: int, out_channel_id: str, at: datetime
) -> OutboxItem:
    """The outbox row of Bolink's ``outpark`` for an exit settled at the booth (cash, free, a pass); the
    Bolink relay sends it (booth.engine.bolink_uploads) with the stay's plate, entry and entry channel."""
    return OutboxItem(
        cloud="bolink",
        kind="outpark",
        payload={
            "order_id": order_id,
            "pay_type": pay_type,
            "total_fen": total_fen,
            "out_time": int(at.timestamp()),
            "out_channel_id": out_channel_id,
            "stay_id": stay_id,
        },
        dedupe_key=f"bolink:outpark:{order_id}:{pay_type}:{int(at.timestamp())}",
    )


def released_elsewhere_outpark(stay: StayRecord, *, lane_id: str, at: datetime) -> list[OutboxItem]:
    """Bolink's ``outpark`` for a stay of this booth closed because another booth of the lot let its car out
    as ``no_stay`` (booth.lot.released, rule ``released_without_stay``), at its lane ``lane_id`` at ``at``.
    This booth sent the stay's ``inpark``, so it owes Bolink the exit, or Bolink keeps the car in the park for
    ever. Nothing once the stay has left (the close queues it only when it closes the stay).

    It is the row a free release at a lane queues (``Payments.release``): ``pay_type`` "free", total 0 (the
    rule never charges; the fee is the supervisor's to decide), ``out_time`` the release's time.

    ``out_channel_id`` is the release lane's id, sent as its channel. The car left by that lane, another
    booth's: its Bolink channel is set in that booth's ``[[lanes]] channel_id`` alone, and the lot server
    does not hold it (``lot_booths.lanes`` lists lane ids). ``Payments.channel_of`` cannot help: lane ids
    are unique in a lot, so it knows no lane of another booth (with a clash it would name this booth's own
    lane). Not "": ``out_channel_id`` is one of outpark's fields and the emulator refuses it empty (as
    Bolink may), so the row would end dead and Bolink never hear of the exit. Not a channel of this booth:
    Bolink would record the car leaving by a lane it never used (an entry lane, at an entry booth). Booth's
    configurations name each lane's channel as its lane id (the example, the demo, the lot test), and then
    this is the release lane's channel exactly. Where a lot names them otherwise, Bolink records this free
    exit under the lane's id: no money moves, and a free exit is settled at once with nothing pushed about
    it (Bolink's SDK notes, the emulator), so no booth waits on that name.

    Every booth has ``[bolink]`` (it is not optional), and a free release at a lane always tells Bolink, so
    the engine always queues this one too."""
    if stay.state != "in_lot":
        return []
    return [outpark_row(stay.order_id, stay.id, "free", 0, lane_id, at)]


class Payments:
    """Books the lanes' and Bolink's payments; asks Bolink for the exits' payments."""

    def __init__(
        self,
        rt: Runtime,
        settings: Settings,
        lane_settings: Mapping[str, LaneSettings],
        bolink: BolinkClient,
    ) -> None:
        self._rt = rt
        self._settings = settings
        self._lane_settings = lane_settings
        self._bolink = bolink
        self._code_urls: dict[str, str] = {}
        #: trade numbers booked lately (the store's unique trade_no is the real guard; this only spares a
        #: repeat a trip to the database and decides the answer to Bolink), bounded for months of running
        self.booked_trades: OrderedDict[str, None] = OrderedDict()
        #: trade_no -> Bolink's pay_company (newer Bolink sends it instead of pay_channel), until booked
        self.pay_company: OrderedDict[str, int | None] = OrderedDict()

    def note_pay_company(self, trade_no: str, pay_company: int | None) -> None:
        """The lane machine knows pay_channel; pay_company waits here for the booking (bounded: repeats of
        booked results never reach the booking)."""
        self.pay_company[trade_no] = pay_company
        while len(self.pay_company) > 1000:
            self.pay_company.popitem(last=False)

    async def request(
        self, lane_id: str, cmd: L.RequestPayment
    ) -> L.PaymentRequested | L.PaymentRequestFailed:
        """Bolink's outpark for the exit order, then the lane's QR (asked once per channel and kept)."""
        bolink = self._bolink
        lane = self._lane_settings[lane_id]
        result: L.PaymentRequested | L.PaymentRequestFailed
        try:
            with lane_calls(lane_id):  # their round trips count in the lane's figures
                await bolink.outpark(
                    car_number=cmd.plate.text,
                    in_time=int(cmd.entry_at.timestamp()),
                    out_time=int(cmd.at.timestamp()),
                    order_id=cmd.order_id,
                    total_fen=cmd.due_fen,
                    pay_type="scancode",
                    out_channel_id=lane.channel_id,
                    in_channel_id=self.channel_of(cmd.entry_lane),
                    empty_plot=await self.empty_plot(),
                )
                code_url = self._code_urls.get(lane.channel_id)
                if code_url is None:
                    code_url = await bolink.code_url(lane.channel_id)
                    self._code_urls[lane.channel_id] = code_url
            result = L.PaymentRequested(cmd.exit_order_id, code_url, self._rt.now())
        except BolinkUnavailable as exc:
            result = L.PaymentRequestFailed(cmd.exit_order_id, f"泊链离线: {exc}", self._rt.now())
        except BolinkRefused as exc:
            result = L.PaymentRequestFailed(cmd.exit_order_id, f"泊链拒绝: {exc.errmsg}", self._rt.now())
        except BolinkError as exc:
            result = L.PaymentRequestFailed(cmd.exit_order_id, str(exc), self._rt.now())
        return result

    def channel_of(self, lane_id: str | None) -> str:
        """Bolink's channel id of a lane of this booth ("" for a lane it does not know: another booth's)."""
        lane = self._lane_settings.get(lane_id) if lane_id else None
        return lane.channel_id if lane is not None else ""

    async def empty_plot(self) -> int:
        """Free spaces for Bolink's ``empty_plot``: capacity less the stays now in the lot (0 when the lot
        has no configured capacity, as Bolink cannot be told anything better then)."""
        capacity = self._settings.park.capacity
        if not capacity:
            return 0
        store = self._rt.store
        return max(capacity - await self._rt.db(store.count_in_lot, Priority.BACKGROUND), 0)

    async def query(self, cmd: L.QueryPayment, lane_id: str | None = None) -> None:
        """Ask Bolink to send the order's result again (its answer arrives as a downstream message)."""
        bolink = self._bolink
        try:
            with lane_calls(lane_id) if lane_id is not None else nullcontext():
                await bolink.query_order(order_id=cmd.order_id, car_number=cmd.plate.text)
        except BolinkError as exc:
            log.info("query_order %s: %s", cmd.order_id, exc)

    async def book(
        self, lane_id: str | None, cmd: L.BookPayment, *, refusable: bool = False
    ) -> L.PaymentBooked:
        store = self._rt.store
        outbox: list[OutboxItem] = []
        if cmd.channel == "cash" and cmd.settles:
            outbox.append(
                self.outpark_item(cmd.order_id, cmd.stay_id, "cash", cmd.amount_fen, lane_id, cmd.at)
            )
        via_alipay = paid_by_alipay(cmd.pay_channel, self.pay_company.pop(cmd.trade_no, None))
        sync = self._rt.cloud_sync
        if via_alipay and not cmd.payer_id and sync is not None and sync.alipay_enabled:
            log.warning(
                "Alipay payment %s came without pay_user_id: it cannot be synced to Alipay", cmd.trade_no
            )

        def work() -> tuple[PaymentOutcome, str]:
            reports, unbuilt = self._payment_items(cmd, via_alipay)
            items = [*outbox, *reports]
            booked = store.record_payment(
                order_ref=cmd.order_id,
                exit_order_id=cmd.exit_order_id,
                settles=cmd.settles,
                channel=cmd.channel,
                pay_channel=cmd.pay_channel,
                trade_no=cmd.trade_no,
                amount_fen=cmd.amount_fen,
                paid_at=cmd.at,
                lane_id=lane_id,
                operator=cmd.operator,
                payer_id=cmd.payer_id,
                raw=None,
                outbox=items,
                refusable=refusable,
            )
            return booked, unbuilt

        outcome, unbuilt = await self._rt.db(work, Priority.MONEY)
        if unbuilt and outcome.status in ("settled", "partial"):  # (otherwise nothing was to be reported)
            self._rt.sync_alert("sync_payment_rebuild", unbuilt)
        if outcome.status != "refused":
            self.booked_trades[cmd.trade_no] = None
        if len(self.booked_trades) > BOOKED_TRADES_KEPT:
            self.booked_trades.popitem(last=False)
        if outcome.status in ("settled", "partial"):
            self._rt.wake_relays(bolink=bool(outbox))
        booked = L.PaymentBooked(
            cmd.exit_order_id, cmd.trade_no, outcome.status, outcome.payment_id, outcome.flag, self._rt.now()
        )
        log.info(
            "payment %s %s %s yuan via %s on order %s: %s%s",
            cmd.trade_no,
            {"duplicate": "seen before", "refused": "refused"}.get(outcome.status, "booked"),
            format_yuan(cmd.amount_fen),
            cmd.channel,
            cmd.order_id,
            outcome.status,
            f" ({outcome.flag})" if outcome.flag else "",
        )
        if lane_id is None and outcome.status == "flagged":
            said = say(
                "alert.payment_flagged_order",
                trade_no=cmd.trade_no,
                order_id=cmd.order_id,
                flag=str(outcome.flag),
            )
            await self._rt.said(None, "payment_flagged", said, cmd.at)
        return booked

    def outpark_item(
        self,
        order_id: str,
        stay_id: int | None,
        pay_type: str,
        total_fen: int,
        lane_id: str | None,
        at: datetime,
    ) -> OutboxItem:
        channel = self._lane_settings[lane_id].channel_id if lane_id else ""
        return outpark_row(order_id, stay_id, pay_type, total_fen, channel, at)

    async def release(
        self, lane_id: str, cmd: L.ReleaseExitOrder, bolink_order: tuple[str, int | None] | None
    ) -> None:
        """The exit order let go without money (a pass, a free release, a lift); Bolink is told of
        ``bolink_order`` (its order id and the stay's id), when the lane has one."""
        store = self._rt.store
        pay_type = "monthuser" if cmd.reason in ("monthly_pass", "whitelist") else "free"
        outbox = []
        if bolink_order is not None:
            order_id, stay_id = bolink_order
            outbox.append(self.outpark_item(order_id, stay_id, pay_type, 0, lane_id, cmd.at))
        exception = None if cmd.exception is None else exception_item(cmd.exception)
        await self._rt.db(
            lambda: store.release_exit_order(
                cmd.exit_order_id,
                at=cmd.at,
                reason=cmd.reason,
                operator=cmd.operator,
                outbox=outbox,
                exception=exception,
            ),
            Priority.MONEY,
        )
        if outbox:
            self._rt.wake_relays(bolink=True)

    def _payment_items(self, cmd: L.BookPayment, via_alipay: bool) -> tuple[list[OutboxItem], str]:
        """What Alipay and Tmall are told of a payment (database thread, inside the booking's job), and why
        it could not be built ("" when it could). The money is booked all the same: a failure queues rebuild
        markers the relay builds the rows from when it sends them, and `_book` alerts the supervisor."""
        sync = self._rt.cloud_sync
        if sync is None:
            return [], ""
        return sync.prepare_payment_items(
            order_id=cmd.order_id,
            trade_no=cmd.trade_no,
            amount_fen=cmd.amount_fen,
            paid_at=cmd.paid_at or cmd.at,  # when the driver paid: a re-delivered result comes later
            exit_order_id=cmd.exit_order_id,
            alipay_user_id=cmd.payer_id if via_alipay else None,
        )
