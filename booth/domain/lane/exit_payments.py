"""The exit lane's money: asking Bolink for the QR (and again after a failure), Bolink's payment results,
cash, and the store's verdict on a booking, which alone opens the gate for money.

The rules kept here (see booth.domain.lane): only ``state == 1`` pays; a result for an order that is not the
one waiting at this lane is booked but never opens this gate, nor does one naming another lane's channel
(held for the attendant); a repeated result changes nothing; the gate opens for money only on
``PaymentBooked(status="settled")``.
"""

from __future__ import annotations

from datetime import datetime

from booth.domain.lane.commands import (
    BookPayment,
    CancelExitOrder,
    LaneCommand,
    LiftReason,
    OpenGate,
    QuoteStay,
    RequestPayment,
    alert,
)
from booth.domain.lane.events import (
    BolinkStatus,
    CashTaken,
    PaymentBooked,
    PaymentRequested,
    PaymentRequestFailed,
    PaymentResult,
    RetryPayment,
)
from booth.domain.lane.exit_base import CurrentExit, ExitLaneBase
from booth.domain.lane.states import PAYABLE, LaneRuleError, LaneState
from booth.domain.phrases import say


class ExitPayments(ExitLaneBase):
    """The exit lane's handlers of payment requests, results, cash and bookings (part of ExitLane)."""

    # -- payment request
    def _request_payment(self, at: datetime, *, fresh: bool = True) -> RequestPayment:
        """Ask Bolink for the QR (outpark + code_url). ``fresh``: a new wait (after a quote, or the
        attendant's retry), whose payment timeout starts now; a retry or a refresh keeps its wait."""
        cur = self.current
        assert cur is not None and cur.exit_order_id is not None and cur.quote is not None
        assert cur.stay_id is not None and cur.order_id is not None and cur.entry_at is not None
        cur.code_url = None
        cur.requested_at = None
        cur.next_query_at = None
        cur.retry_at = None
        if fresh or cur.waiting_since is None:
            cur.waiting_since = at
            cur.retries = 0
            cur.qr_alerted = False
        return RequestPayment(
            exit_order_id=cur.exit_order_id,
            stay_id=cur.stay_id,
            order_id=cur.order_id,
            plate=cur.plate,
            entry_at=cur.entry_at,
            due_fen=cur.quote.due_fen,
            at=at,
            entry_lane=cur.entry_lane,
        )

    def _on_requested(self, ev: PaymentRequested) -> list[LaneCommand]:
        cur = self.current
        if cur is None or cur.exit_order_id != ev.exit_order_id or self.state not in PAYABLE:
            return []
        cur.code_url = ev.code_url
        cur.requested_at = ev.at
        cur.next_query_at = ev.at + self.timings.query_start
        cur.retries = 0
        self.state = LaneState.AWAITING_PAYMENT
        self.said = say("lane.scan_to_pay", due_fen=cur.quote.due_fen if cur.quote else 0)
        return []

    def _on_request_failed(self, ev: PaymentRequestFailed) -> list[LaneCommand]:
        cur = self.current
        if cur is None or cur.exit_order_id != ev.exit_order_id or self.state not in PAYABLE:
            return []
        cur.code_url = None
        # asked again after a backoff, while the payment timeout runs on; cash is always possible
        t = self.timings
        cur.retry_at = ev.at + min(t.request_retry_first * 2**cur.retries, t.request_retry_max)
        cur.retries += 1
        self.said = say("lane.bolink_unavailable", due_fen=cur.due_fen or 0, reason=ev.reason)
        return []

    def _on_bolink(self, ev: BolinkStatus) -> list[LaneCommand]:
        was_online, self.bolink_online = self.bolink_online, ev.online
        cur = self.current
        if (
            ev.online
            and not was_online
            and cur is not None
            and self.state is LaneState.AWAITING_PAYMENT
            and cur.code_url is None
            and cur.retry_at is not None  # (not while a request is under way)
        ):
            return [self._request_payment(ev.at, fresh=False)]  # Bolink is back: show the QR now
        return []

    def _on_retry(self, ev: RetryPayment) -> list[LaneCommand]:
        cur = self.current
        if self.state not in PAYABLE or cur is None or cur.quote is None:
            raise LaneRuleError(say("rule.nothing_to_retry"))
        if cur.held_trade_no is not None:
            # the attendant accepts the held payment: price the stay again with it counted
            commands: list[LaneCommand] = self._abandon(ev.at)
            self.current = CurrentExit(plate=cur.plate, detected_at=ev.at, photo=cur.photo)
            self.state = LaneState.QUOTING
            self.said = say("lane.partial_requote")
            commands.append(QuoteStay(cur.plate, ev.at))
            return commands
        self.state = LaneState.AWAITING_PAYMENT
        self.said = say("lane.retrying")
        return [self._request_payment(ev.at)]

    # -- money
    def _on_result(self, ev: PaymentResult) -> list[LaneCommand]:
        cur = self.current
        mine = cur is not None and cur.order_id == ev.order_id
        if ev.state != 1:
            if not mine or self.state is not LaneState.AWAITING_PAYMENT:
                return []  # a failure or "paying" for anything else changes nothing here
            assert cur is not None
            if ev.state == 2:
                # the booth's own query_order of an order nobody pays yet is answered state 2 "未支付" (not
                # paid): only a driver actually paying is "paying" (else every car said so on the first query)
                if "未支付" not in ev.errmsg:
                    self.said = say("lane.paying")
                return []
            self.state = LaneState.PAYMENT_FAILED
            if ev.errmsg:
                self.said = say("lane.payment_failed", error=ev.errmsg)
            else:
                self.said = say("lane.payment_failed_unknown")
            detail = say("alert.payment_failed", plate=cur.plate.text, error=ev.errmsg)
            return [alert("payment_failed", detail, ev.at)]
        # state 1: money arrived. It is always booked; whether it may open this gate is decided here.
        if mine and cur is not None and ev.trade_no in cur.seen_trade_nos:
            return []  # a repeat of a result already being booked or booked
        # a result naming another lane's channel is not proof that this car paid here: it is booked and held
        # for the attendant, who sees it and decides (re-price, then the lift is for money already counted)
        elsewhere = bool(ev.out_channel_id) and ev.out_channel_id != self.channel_id
        settles = (
            mine
            and not elsewhere
            and cur is not None
            and self.state in PAYABLE
            and cur.due_fen is not None
            and ev.amount_fen >= cur.due_fen
        )
        book = BookPayment(
            exit_order_id=cur.exit_order_id if mine and cur else None,
            order_id=ev.order_id,
            stay_id=cur.stay_id if mine and cur else None,
            channel=ev.pay_type or "scancode",
            pay_channel=ev.pay_channel,
            trade_no=ev.trade_no,
            amount_fen=ev.amount_fen,
            payer_id=ev.payer_id,
            operator="bolink",
            settles=settles,
            at=ev.at,
            # (whole seconds, Bolink's clock: never before the car came to this lane)
            paid_at=max(ev.paid_at, cur.detected_at) if ev.paid_at and mine and cur else ev.paid_at,
        )
        if not mine or cur is None:
            return [book]  # not the order waiting here: book and flag it, never open this gate
        cur.seen_trade_nos.add(ev.trade_no)
        if settles:
            cur.settling_trade_no = ev.trade_no
            self.state = LaneState.SETTLING
            self.said = say("lane.paid_booking")
        elif elsewhere and self.state in PAYABLE:
            cur.held_trade_no = ev.trade_no
            self.state = LaneState.PAYMENT_FAILED
            self.said = say("lane.payment_held", channel=ev.out_channel_id)
            detail = say(
                "alert.payment_wrong_lane",
                trade_no=ev.trade_no,
                channel=ev.out_channel_id,
                lane_id=self.lane_id,
                plate=cur.plate.text,
            )
            return [book, alert("payment_wrong_lane", detail, ev.at)]
        return [book]

    def _on_cash(self, ev: CashTaken) -> list[LaneCommand]:
        cur = self.current
        if self.state not in PAYABLE or cur is None or cur.quote is None or cur.exit_order_id is None:
            raise LaneRuleError(say("rule.nothing_to_cash"))
        due = cur.quote.due_fen
        if ev.tendered_fen < due:
            raise LaneRuleError(say("rule.cash_short", due_fen=due, tendered_fen=ev.tendered_fen))
        if not ev.operator.strip():
            raise LaneRuleError(say("rule.cash_needs_operator"))
        trade_no = f"CASH_{self.lane_id}_{cur.exit_order_id}"
        cur.change_fen = ev.tendered_fen - due
        cur.seen_trade_nos.add(trade_no)
        cur.settling_trade_no = trade_no
        self.state = LaneState.SETTLING
        self.said = say("lane.cash_taken", due_fen=due, change_fen=cur.change_fen)
        return [
            BookPayment(
                exit_order_id=cur.exit_order_id,
                order_id=cur.order_id or "",
                stay_id=cur.stay_id,
                channel="cash",
                pay_channel=None,
                trade_no=trade_no,
                amount_fen=due,
                payer_id=None,
                operator=ev.operator,
                settles=True,
                at=ev.at,
            )
        ]

    def _on_booked(self, ev: PaymentBooked) -> list[LaneCommand]:
        cur = self.current
        mine = (
            cur is not None
            and self.state is LaneState.SETTLING
            and cur.settling_trade_no == ev.trade_no
            and cur.exit_order_id == ev.exit_order_id
        )
        if (
            ev.status == "partial"
            and cur is not None
            and cur.exit_order_id is not None
            and cur.exit_order_id == ev.exit_order_id
            and self.state in PAYABLE
            and cur.held_trade_no != ev.trade_no  # a held payment waits for the attendant
        ):
            # less than due was paid: it counts towards the stay; price the rest
            commands: list[LaneCommand] = [CancelExitOrder(cur.exit_order_id, ev.at)]
            self.current = CurrentExit(plate=cur.plate, detected_at=ev.at, photo=cur.photo)
            self.state = LaneState.QUOTING
            self.said = say("lane.partial_requote")
            commands.append(QuoteStay(cur.plate, ev.at))
            return commands
        if not mine:
            if ev.status == "flagged":
                detail = say("alert.payment_flagged", trade_no=ev.trade_no, flag=str(ev.flag))
                return [alert("payment_flagged", detail, ev.at)]
            return []
        assert cur is not None
        cur.settling_trade_no = None
        if ev.status == "settled":
            cur.settled = True
            self.state = LaneState.OPENING
            self.gate = "opening"
            reason: LiftReason = "cash" if ev.trade_no.startswith("CASH_") else "paid"
            self.said = say("lane.paid_opening")
            return [OpenGate(reason, "system", ev.trade_no, cur.stay_id, ev.at)]
        # booked before (a repeat across a restart) or flagged: the money is safe, this gate stays shut
        self.state = LaneState.AWAITING_PAYMENT
        cur.change_fen = None
        self.said = say("lane.not_settling", trade_no=ev.trade_no, status=ev.status)
        if ev.flag:
            detail = say(
                "alert.payment_not_settling_flag", trade_no=ev.trade_no, status=ev.status, flag=ev.flag
            )
        else:
            detail = say("alert.payment_not_settling", trade_no=ev.trade_no, status=ev.status)
        return [alert("payment_not_settling", detail, ev.at)]
