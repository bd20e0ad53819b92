"""Exit orders and payments in the store: an exit order opened with its quote, released or cancelled, what
a restart left in flight, and ``record_payment``, the one place a payment is booked (exactly once, and
settling an exit only when it belongs to it and covers its due)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Connection, Table, bindparam, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from booth.store.base import StoreBase
from booth.store.checks import (
    check_exception_refs,
    checked_aware,
    checked_fen,
    checked_optional_text,
    checked_row_id,
    checked_text,
    get_row,
    json_text,
    lane_exception_row,
)
from booth.store.models import (
    NAME_MAX,
    ORDER_REF_MAX,
    PLATE_MAX,
    SHORT_MAX,
    Arrears,
    AuditEntry,
    ExitOrder,
    GateEvent,
    LaneException,
    Payment,
    Stay,
)
from booth.store.outbox_ops import enqueue_rows, outbox_items
from booth.store.records import (
    ArrearsRecord,
    ExitInFlight,
    ExitOrderRecord,
    LaneExceptionItem,
    LaneExceptionRecord,
    OutboxItem,
    PaymentFlag,
    PaymentOutcome,
    PaymentRecord,
    PaymentStatus,
    StayRecord,
    StoreError,
)
from booth.store.to_records import (
    arrears_record,
    exit_order_record,
    lane_exception_record,
    payment_record,
    stay_record,
)

#: the tables the money path writes with Core statements (see record_payment)
_PAYMENTS = cast(Table, Payment.__table__)
_EXIT_ORDERS = cast(Table, ExitOrder.__table__)
_STAYS = cast(Table, Stay.__table__)

# The booking's statements, built once with bound parameters: it runs between a payment result and the
# gate, and building a statement's expression each time cost more than SQLite took to run it (#14).
_PAYMENT_OF_TRADE_NO = select(_PAYMENTS.c.id, _PAYMENTS.c.flag).where(
    _PAYMENTS.c.trade_no == bindparam("trade_no")
)
_STAY_OF_ORDER_REF = select(_STAYS.c.id, _STAYS.c.state).where(_STAYS.c.order_id == bindparam("order_ref"))
_ORDER_TO_SETTLE = select(
    _EXIT_ORDERS.c.id,
    _EXIT_ORDERS.c.stay_id,
    _EXIT_ORDERS.c.state,
    _EXIT_ORDERS.c.due_fen,
    _EXIT_ORDERS.c.arrears_fen,
).where(_EXIT_ORDERS.c.id == bindparam("exit_order_id"))
_AWAITING_OF_STAY = (
    select(_EXIT_ORDERS.c.id)
    .where(_EXIT_ORDERS.c.stay_id == bindparam("stay_id"), _EXIT_ORDERS.c.state == "awaiting")
    .limit(1)
)
_ARREARS = cast(Table, Arrears.__table__)
# An exit's quote: what it is priced from, read in one snapshot, and the order it opens (#14: the quote holds
# the database thread while a payment at the other lane waits for it).
_OPEN_STAY_OF_PLATE = (
    select(_STAYS)
    .where(_STAYS.c.plate == bindparam("plate"), _STAYS.c.state == "in_lot")
    .order_by(_STAYS.c.entry_at.desc(), _STAYS.c.id.desc())
    .limit(1)
)
_COUNTED_OF_STAY = (
    select(_PAYMENTS.c.paid_at, _PAYMENTS.c.amount_fen)
    .where(_PAYMENTS.c.stay_id == bindparam("stay_id"), _PAYMENTS.c.flag.is_(None))
    .order_by(_PAYMENTS.c.paid_at, _PAYMENTS.c.id)
)
_OPEN_ARREARS_OF_PLATE = (
    select(_ARREARS)
    .where(_ARREARS.c.plate == bindparam("plate"), _ARREARS.c.state == "open")
    .order_by(_ARREARS.c.id)
)
_STATE_OF_STAY = select(_STAYS.c.state).where(_STAYS.c.id == bindparam("stay_id"))
_CANCEL_AWAITING = (
    _EXIT_ORDERS.update()
    .where(_EXIT_ORDERS.c.stay_id == bindparam("b_stay_id"), _EXIT_ORDERS.c.state == "awaiting")
    .values(state="cancelled", settled_at=bindparam("b_at"))  # (parameters not named as columns)
)
_CLOSE_STAY = (
    _STAYS.update()
    .where(_STAYS.c.id == bindparam("b_stay_id"))
    .values(state="exited", exit_lane=bindparam("b_lane"), exit_at=bindparam("b_at"))
)
_EXIT_ORDER_BY_ID = select(_EXIT_ORDERS).where(_EXIT_ORDERS.c.id == bindparam("order_id"))
_SETTLE_ORDER = (
    _EXIT_ORDERS.update()
    .where(_EXIT_ORDERS.c.id == bindparam("order_id"))
    .values(state="paid", settled_at=bindparam("at"), settled_by=bindparam("payment_id"))
)


class PaymentOps(StoreBase):
    """Exit orders and payments."""

    # --- exit orders and payments ---------------------------------------------------------------------

    def counted_payments(self, stay_id: int) -> list[tuple[datetime, int]]:
        """The money counted for this stay (flagged payments excluded) as (paid at, fen), oldest first: the
        tariff needs each payment's moment for its grace rule."""
        stay_id = checked_row_id("stay_id", stay_id)
        with self._read("counted_payments") as session:
            entry_at = get_row(session, Stay, stay_id, "stay").entry_at
            rows = session.execute(
                select(Payment.paid_at, Payment.amount_fen)
                .where(Payment.stay_id == stay_id, Payment.flag.is_(None))
                .order_by(Payment.paid_at, Payment.id)
            ).all()
            # a payment is never earlier than its stay began (a provider's clock may say so)
            return [(max(row.paid_at, entry_at), int(row.amount_fen)) for row in rows]

    def open_exit_order(
        self,
        *,
        stay_id: int,
        lane_id: str,
        opened_at: datetime,
        quote_json: str,
        gross_fen: int,
        paid_before_fen: int,
        discount_fen: int,
        due_fen: int,
        arrears_ids: Sequence[int] = (),
    ) -> ExitOrderRecord:
        """Start settling an exit with this quote; any other order of the stay still awaiting is cancelled
        first, so at most one order per stay can be paid. `arrears_ids` are the plate's open arrears the
        quote asks for too: paying the order collects them, releasing it waives them."""
        stay_id = checked_row_id("stay_id", stay_id)
        lane_id = checked_text("lane_id", lane_id, SHORT_MAX)
        opened_at = checked_aware("opened_at", opened_at)
        if not isinstance(quote_json, str):
            raise StoreError(f"quote_json must be JSON text, got {type(quote_json).__name__}")
        try:
            json.loads(quote_json)
        except ValueError as exc:
            raise StoreError(f"quote_json is not valid JSON: {exc}") from None
        amounts = {
            name: checked_fen(name, value)
            for name, value in (
                ("gross_fen", gross_fen),
                ("paid_before_fen", paid_before_fen),
                ("discount_fen", discount_fen),
                ("due_fen", due_fen),
            )
        }
        ids = [checked_row_id("arrears_id", i) for i in arrears_ids]
        # Core statements built once, not the unit of work: a quote holds the database thread (#14)
        with self._write("open_exit_order") as session:
            conn = session.connection()
            state = state_of_stay(session, stay_id)
            if state != "in_lot":
                raise StoreError(f"stay {stay_id} is {state}: no exit order can be opened for it")
            conn.execute(_CANCEL_AWAITING, {"b_stay_id": stay_id, "b_at": opened_at})
            inserted = conn.execute(
                _EXIT_ORDERS.insert(),
                {
                    "stay_id": stay_id,
                    "lane_id": lane_id,
                    "opened_at": opened_at,
                    "quote_json": quote_json,
                    "state": "awaiting",
                    "arrears_fen": 0,
                    **amounts,
                },
            )
            key = inserted.inserted_primary_key
            assert key is not None  # (an INSERT of one row always has one)
            order_id = int(key[0])
            if ids:  # the plate's open arrears this order asks for too (rare: no statement built once)
                linked = conn.execute(
                    select(_ARREARS.c.id, _ARREARS.c.amount_fen).where(
                        _ARREARS.c.id.in_(ids), _ARREARS.c.state == "open"
                    )
                ).all()
                if linked:
                    conn.execute(
                        _ARREARS.update()
                        .where(_ARREARS.c.id.in_([row.id for row in linked]))
                        .values(exit_order_id=order_id)
                    )
                    conn.execute(
                        _EXIT_ORDERS.update()
                        .where(_EXIT_ORDERS.c.id == order_id)
                        .values(arrears_fen=sum(int(row.amount_fen) for row in linked))
                    )
            row = conn.execute(_EXIT_ORDER_BY_ID, {"order_id": order_id}).one()
            return exit_order_record(cast(ExitOrder, row))  # (a row of the table's columns, read by name)

    def exit_quote_inputs(
        self, plate: str
    ) -> tuple[StayRecord, list[tuple[datetime, int]], list[ArrearsRecord]] | None:
        """What an exit's quote is priced from, in one snapshot: the plate's open stay (the latest, as
        ``open_stay_for_plate``), the money counted for it (as ``counted_payments``) and the plate's open
        arrears (as ``open_arrears``); None when the plate has no open stay."""
        plate = checked_text("plate", plate, PLATE_MAX)
        with self._read("exit_quote_inputs") as session:
            conn = session.connection()
            stay_row = conn.execute(_OPEN_STAY_OF_PLATE, {"plate": plate}).first()
            if stay_row is None:
                return None
            stay = stay_record(cast(Stay, stay_row))  # (a row of the table's columns, read by name)
            counted = conn.execute(_COUNTED_OF_STAY, {"stay_id": stay.id}).all()
            arrears = conn.execute(_OPEN_ARREARS_OF_PLATE, {"plate": plate}).all()
        # a payment is never earlier than its stay began (a provider's clock may say so)
        payments = [(max(row.paid_at, stay.entry_at), int(row.amount_fen)) for row in counted]
        return stay, payments, [arrears_record(cast(Arrears, row)) for row in arrears]

    def exit_order_by_id(self, exit_order_id: int) -> ExitOrderRecord | None:
        with self._read("exit_order_by_id") as session:
            order = session.get(ExitOrder, checked_row_id("exit_order_id", exit_order_id))
            return None if order is None else exit_order_record(order)

    def release_exit_order(
        self,
        exit_order_id: int,
        *,
        at: datetime,
        reason: str,
        operator: str | None = None,
        outbox: Sequence[OutboxItem] = (),
        exception: LaneExceptionItem | None = None,
    ) -> LaneExceptionRecord | None:
        """Settle without payment (free tariff, free release, manual lift): `reason` is what the attendant
        gave, `outbox` what must be reported of it (e.g. Bolink outpark with pay_type free), `exception`
        the attendant's free release or manual lift behind it, kept in the same transaction (and returned).

        Releasing a released order again is a no-op and queues nothing (an exception given is still kept:
        each lift has its row); a paid or cancelled one is refused.
        """
        exit_order_id = checked_row_id("exit_order_id", exit_order_id)
        at = checked_aware("at", at)
        reason = checked_text("reason", reason, 2000)
        operator = checked_optional_text("operator", operator, NAME_MAX)
        items = outbox_items(outbox)
        row: LaneException | None = None
        if exception is not None:
            if exception.exit_order_id is None:
                exception = replace(exception, exit_order_id=exit_order_id)
            elif exception.exit_order_id != exit_order_id:
                raise StoreError(
                    f"the exception names exit order {exception.exit_order_id}, not the one released "
                    f"({exit_order_id})"
                )
            row = lane_exception_row(exception)
        with self._write("release_exit_order") as session:
            order = get_row(session, ExitOrder, exit_order_id, "exit order")
            if order.state not in ("released", "awaiting"):
                raise StoreError(f"exit order {exit_order_id} is {order.state}, it cannot be released")
            if order.state == "awaiting":
                order.state = "released"
                order.settled_at = at
                order.release_reason = reason
                order.released_by = operator
                # arrears this order asked for: covered when nothing was due (money paid before), else forgone
                # with the release's reason and approver
                how = "collected" if order.due_fen == 0 else "waived"
                approver = exception.approved_by if exception is not None else None
                if order.arrears_fen:
                    settle_arrears_of(session, order.id, how, at=at, operator=operator, reason=reason,
                                       approved_by=approver)  # fmt: skip
                session.flush()
                enqueue_rows(session, items, stay_id=order.stay_id, now=self._now())
            if row is None:
                return None
            check_exception_refs(session, row)
            session.add(row)
            session.flush()
            return lane_exception_record(row)

    def cancel_exit_order(self, exit_order_id: int, *, at: datetime) -> None:
        """Abandon an awaiting order (the car backed off, a re-quote); a settled one is refused."""
        exit_order_id = checked_row_id("exit_order_id", exit_order_id)
        at = checked_aware("at", at)
        with self._write("cancel_exit_order") as session:
            order = get_row(session, ExitOrder, exit_order_id, "exit order")
            if order.state == "cancelled":
                return
            if order.state != "awaiting":
                raise StoreError(f"exit order {exit_order_id} is {order.state}, it cannot be cancelled")
            order.state = "cancelled"
            order.settled_at = at

    def exits_in_flight(self) -> list[ExitInFlight]:
        """Exits the last run left unfinished (see ExitInFlight): every exit order still awaiting, and the
        latest settled order of each stay still in the lot, oldest first. Read at start, before lanes act."""
        with self._read("exits_in_flight") as session:
            rows = session.execute(
                select(ExitOrder, Stay)
                .join(Stay, Stay.id == ExitOrder.stay_id)
                .where(Stay.state == "in_lot", ExitOrder.state.in_(("awaiting", "paid", "released")))
                .order_by(ExitOrder.id)
            ).all()
            latest_settled: dict[int, int] = {}
            for order, stay in rows:
                if order.state != "awaiting":
                    latest_settled[stay.id] = order.id
            found = []
            for order, stay in rows:
                if order.state != "awaiting" and latest_settled[stay.id] != order.id:
                    continue
                lift = None
                if order.state != "awaiting" and order.settled_at is not None:
                    lift = session.execute(
                        select(GateEvent.at, GateEvent.lane_id)
                        .where(
                            GateEvent.stay_id == stay.id,
                            GateEvent.outcome == "opened",
                            GateEvent.at >= order.settled_at,
                        )
                        .order_by(GateEvent.at)
                        .limit(1)
                    ).first()
                found.append(
                    ExitInFlight(
                        exit_order_record(order),
                        stay_record(stay),
                        lift.at if lift is not None else None,
                        lift.lane_id if lift is not None else None,
                    )
                )
            return found

    def record_payment(
        self,
        *,
        order_ref: str,
        exit_order_id: int | None,
        channel: str,
        pay_channel: int | None,
        trade_no: str | None,
        amount_fen: int,
        paid_at: datetime,
        lane_id: str | None,
        operator: str,
        payer_id: str | None,
        raw: Mapping[str, Any] | None,
        outbox: Sequence[OutboxItem] = (),
        settles: bool = True,
        refusable: bool = False,
    ) -> PaymentOutcome:
        """Book a payment exactly once and say what it did (see PaymentOutcome).

        Money is never dropped: a payment that cannot settle anything is still stored, flagged for the
        supervisor. It settles `exit_order_id` only if that order belongs to the stay named by `order_ref`,
        is still awaiting, gets at least its due, and the caller (the lane, which knows whether this
        gate may open) passes `settles=True`. `outbox` is queued only when the money is counted
        ("settled" or "partial"). With `refusable=True` (the payer can still be told no) money that would be
        flagged is refused instead: not stored as a payment, the refusal audited as "prepay_refused".
        """
        order_ref = checked_text("order_ref", order_ref, ORDER_REF_MAX, allow_empty=True)
        if exit_order_id is not None:
            exit_order_id = checked_row_id("exit_order_id", exit_order_id)
        channel = checked_text("channel", channel, SHORT_MAX)
        if pay_channel is not None and (
            not isinstance(pay_channel, int) or isinstance(pay_channel, bool) or pay_channel < 0
        ):
            raise StoreError(f"pay_channel must be a non-negative integer or None, got {pay_channel!r}")
        trade_no = checked_optional_text("trade_no", trade_no, NAME_MAX)
        amount_fen = checked_fen("amount_fen", amount_fen)
        paid_at = checked_aware("paid_at", paid_at)
        lane_id = checked_optional_text("lane_id", lane_id, SHORT_MAX)
        operator = checked_text("operator", operator, NAME_MAX)
        payer_id = checked_optional_text("payer_id", payer_id, NAME_MAX)
        raw_json = json_text("raw", dict(raw) if raw is not None else {})
        items = outbox_items(outbox)
        now = self._now()
        try:
            with self._db.sessionmaker.begin() as session:
                if trade_no is not None:
                    known = _payment_by_trade_no(session, trade_no)
                    if known is not None:
                        return known
                    if refusable:
                        refused = _refusal_of(session, trade_no)
                        if refused is not None:
                            return PaymentOutcome(status="refused", payment_id=0, flag=refused)
                # Core statements on the session's connection, not ORM objects: this runs between a payment
                # result and the gate, and the unit of work cost more than the statements themselves
                conn = session.connection()
                stay = conn.execute(_STAY_OF_ORDER_REF, {"order_ref": order_ref}).first()
                status, flag, linked_order = _classify_payment(
                    conn, stay, exit_order_id, channel=channel, amount_fen=amount_fen, settles=settles
                )
                if refusable and flag is not None:
                    detail = {"trade_no": trade_no, "order_id": order_ref, "amount_fen": amount_fen}
                    detail["flag"] = flag
                    session.add(
                        AuditEntry(
                            at=paid_at,
                            actor=operator,
                            action=PREPAY_REFUSED,
                            detail_json=json_text("detail", detail),
                        )
                    )
                    return PaymentOutcome(status="refused", payment_id=0, flag=flag)
                inserted = conn.execute(
                    _PAYMENTS.insert(),
                    {
                        "stay_id": None if stay is None else stay.id,
                        "order_ref": order_ref,
                        "exit_order_id": None if linked_order is None else linked_order.id,
                        "channel": channel,
                        "pay_channel": pay_channel,
                        "trade_no": trade_no,
                        "amount_fen": amount_fen,
                        "paid_at": paid_at,
                        "lane_id": lane_id,
                        "operator": operator,
                        "payer_id": payer_id,
                        "flag": flag,
                        "raw_json": raw_json,
                        "created_at": now,
                    },
                )
                key = inserted.inserted_primary_key
                assert key is not None  # (an INSERT of one row always has one)
                payment_id = int(key[0])
                if status == "settled" and linked_order is not None:
                    conn.execute(
                        _SETTLE_ORDER, {"order_id": linked_order.id, "at": paid_at, "payment_id": payment_id}
                    )
                    if linked_order.arrears_fen:  # (the check spares the booking a statement)
                        settle_arrears_of(
                            session, linked_order.id, "collected", at=paid_at, operator=operator,
                            reason=trade_no,
                        )  # fmt: skip
                if flag is None and stay is not None:
                    enqueue_rows(session, items, stay_id=stay.id, now=now)
                return PaymentOutcome(status=status, payment_id=payment_id, flag=flag)
        except IntegrityError as exc:
            # Another connection stored the same trade_no between our check and our insert (possible on
            # PostgreSQL; SQLite's BEGIN IMMEDIATE serialises writers): then it is a duplicate.
            if trade_no is not None:
                with self._read("record_payment") as session:
                    known = _payment_by_trade_no(session, trade_no)
                if known is not None:
                    return known
            raise StoreError(f"record_payment: refused by the database: {exc.orig}") from exc
        except SQLAlchemyError as exc:
            raise StoreError(f"record_payment: database error: {exc}") from exc

    def payments_for_stay(self, stay_id: int) -> list[PaymentRecord]:
        """Every payment booked to the stay, flagged ones included, oldest first."""
        stay_id = checked_row_id("stay_id", stay_id)
        with self._read("payments_for_stay") as session:
            rows = session.scalars(select(Payment).where(Payment.stay_id == stay_id).order_by(Payment.id))
            return [payment_record(row) for row in rows]

    def payment_by_trade_no(self, trade_no: str) -> PaymentRecord | None:
        """The payment booked under this provider transaction number, if any (flagged ones included)."""
        trade_no = checked_text("trade_no", trade_no, NAME_MAX)
        with self._read("payment_by_trade_no") as session:
            row = session.scalar(select(Payment).where(Payment.trade_no == trade_no))
            return None if row is None else payment_record(row)

    def prepayment_refusal(self, trade_no: str) -> PaymentFlag | None:
        """Why a refusable payment under this trade_no was refused (see record_payment), if it was."""
        trade_no = checked_text("trade_no", trade_no, NAME_MAX)
        with self._read("prepayment_refusal") as session:
            return _refusal_of(session, trade_no)

    def flagged_payments(self) -> list[PaymentRecord]:
        """Payments the supervisor must look at (late ones to refund, unknown orders), oldest first."""
        with self._read("flagged_payments") as session:
            rows = session.scalars(select(Payment).where(Payment.flag.is_not(None)).order_by(Payment.id))
            return [payment_record(row) for row in rows]


# --- what a payment settles -------------------------------------------------------------------------------


def _classify_payment(
    conn: Connection,
    stay: Any,  # a row (id, state) or None
    exit_order_id: int | None,
    *,
    channel: str,
    amount_fen: int,
    settles: bool,
) -> tuple[PaymentStatus, PaymentFlag | None, Any]:
    """Decide status, flag and the exit order to link, from the rows as they are inside the transaction
    (``stay``: its id and state; the order returned: id, stay_id, state, due_fen, arrears_fen).

    When in doubt the money is flagged, not counted: a flagged payment is refunded by the supervisor, while
    a counted one next to an awaiting order with a stale due would charge the driver twice.
    """
    if stay is None:
        return "flagged", "unknown_order", None
    order: Any = None  # a row, read by column name
    if exit_order_id is not None:
        order = conn.execute(_ORDER_TO_SETTLE, {"exit_order_id": exit_order_id}).first()
        if order is None or order.stay_id != stay.id:
            # The lane was waiting for another order: the money is real, but it settles nothing here.
            return "flagged", "not_at_this_lane", None
    if order is None or order.state == "cancelled":
        # Money for a stay with no exit being settled: a prepayment in the lot, or a driver who paid as the
        # car backed away. While the car is in the lot it counts towards the stay (it leaves free or pays
        # the rest); after it left, it is to be refunded.
        if stay.state != "in_lot":
            return "flagged", "late_after_settlement", order
        awaiting = conn.execute(_AWAITING_OF_STAY, {"stay_id": stay.id}).scalar()
        # An exit being settled right now has a due that does not know of this money: counting it too
        # would charge the driver twice.
        return ("flagged", "exit_in_progress", order) if awaiting is not None else ("partial", None, order)
    if order.state != "awaiting":
        return "flagged", "late_after_settlement", order
    if not settles or amount_fen < order.due_fen:
        return "partial", None, order
    return "settled", None, order


#: the audit action of a refused prepayment (record_payment(refusable=True)): a refusal, not money
PREPAY_REFUSED = "prepay_refused"


def _refusal_of(session: Session, trade_no: str) -> PaymentFlag | None:
    """The flag a refused payment of this trade_no was refused for. Refusals are rare: the action's index
    narrows the scan to them, and the JSON text narrows it to this trade_no before it is parsed."""
    needle = json.dumps(trade_no, ensure_ascii=False)
    rows = session.scalars(
        select(AuditEntry.detail_json).where(
            AuditEntry.action == PREPAY_REFUSED, AuditEntry.detail_json.contains(needle, autoescape=True)
        )
    )
    for text in rows:
        detail = json.loads(text)
        if detail.get("trade_no") == trade_no:
            return cast("PaymentFlag", detail.get("flag"))
    return None


def _payment_by_trade_no(session: Session, trade_no: str) -> PaymentOutcome | None:
    row = session.connection().execute(_PAYMENT_OF_TRADE_NO, {"trade_no": trade_no}).first()
    if row is None:
        return None
    return PaymentOutcome(status="duplicate", payment_id=row.id, flag=cast("PaymentFlag | None", row.flag))


def settle_arrears_of(
    session: Session,
    exit_order_id: int,
    how: str,
    *,
    at: datetime,
    operator: str | None,
    reason: str | None,
    approved_by: str | None = None,
) -> None:
    """Close the open arrears an exit order asked for: one UPDATE, without loading rows or flushing first
    (this runs inside the booking of a payment, on the path to the gate)."""
    with session.no_autoflush:
        session.execute(
            update(Arrears)
            .where(Arrears.exit_order_id == exit_order_id, Arrears.state == "open")
            .values(state=how, settled_at=at, settled_by=operator, reason=reason, approved_by=approved_by)
            .execution_options(synchronize_session=False)
        )


def cancel_awaiting(session: Session, stay_id: int, *, at: datetime) -> None:
    """The stay's exit order still awaiting, if any, is cancelled: one UPDATE (no rows loaded; what the
    session holds changed is written first, so the statements keep their order)."""
    session.flush()
    session.connection().execute(_CANCEL_AWAITING, {"b_stay_id": stay_id, "b_at": at})


def state_of_stay(session: Session, stay_id: int) -> str:
    """A stay's state, read with a statement built once; StoreError when there is no such stay."""
    state = session.connection().execute(_STATE_OF_STAY, {"stay_id": stay_id}).scalar()
    if state is None:
        raise StoreError(f"no stay with id {stay_id}")
    return str(state)


def mark_stay_exited(session: Session, stay_id: int, *, lane_id: str, at: datetime) -> None:
    """The stay's car left at this lane and time (its exit order still awaiting is cancelled too)."""
    session.connection().execute(_CLOSE_STAY, {"b_stay_id": stay_id, "b_lane": lane_id, "b_at": at})
    cancel_awaiting(session, stay_id, at=at)
