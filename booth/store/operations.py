"""The units of work the engine calls, each one transaction: business rows and their outbox rows commit
together or not at all.

Synchronous on purpose: the engine runs them on one dedicated database thread. Inputs are checked at the
boundary and refused with a StoreError that names the problem; database failures come out as StoreError
too, so the caller has one thing to catch. Results are frozen records, never ORM objects.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Connection, CursorResult, Table, exists, func, select, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session, aliased

from booth.store.db import Database
from booth.store.models import (
    DEDUPE_KEY_MAX,
    EXCEPTION_KINDS,
    NAME_MAX,
    ORDER_ID_MAX,
    ORDER_REF_MAX,
    OUTBOX_CLOUDS,
    PLATE_MAX,
    SHORT_MAX,
    Arrears,
    AuditEntry,
    ExitOrder,
    GateEvent,
    LaneException,
    OutboxRow,
    Payment,
    Stay,
)
from booth.store.records import (
    ArrearsRecord,
    AuditRecord,
    ExceptionKind,
    ExitInFlight,
    ExitOrderRecord,
    ExitOrderState,
    LaneExceptionItem,
    LaneExceptionRecord,
    OutboxBacklog,
    OutboxItem,
    OutboxRecord,
    OutboxState,
    PaymentFlag,
    PaymentOutcome,
    PaymentRecord,
    PaymentStatus,
    StayRecord,
    StayState,
    StoreError,
)

#: the tables the money path writes with Core statements (see record_payment)
_PAYMENTS = cast(Table, Payment.__table__)
_EXIT_ORDERS = cast(Table, ExitOrder.__table__)
_OUTBOX = cast(Table, OutboxRow.__table__)

_ORDER_ID_RE = re.compile(rf"^[A-Za-z0-9_]{{1,{ORDER_ID_MAX}}}$")
_GATE_OUTCOMES = ("opened", "failed")
#: the lane photo's path, as the photo store names it
_PHOTO_PATH_MAX = 1000
#: what an attendant may type next to a listed reason (the engine caps it tighter for the screen)
_EXCEPTION_NOTE_MAX = 2000
_Row = TypeVar("_Row")


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Store:
    """Booth's persistent state behind plain method calls; one instance per open Database."""

    def __init__(self, db: Database, *, clock: Callable[[], datetime] = _utc_now) -> None:
        self._db = db
        self._clock = clock

    # --- stays ----------------------------------------------------------------------------------------

    def create_stay(
        self,
        *,
        order_id: str,
        plate: str,
        plate_colour: str,
        vehicle_class: str,
        lane_id: str,
        entry_at: datetime,
        outbox: Sequence[OutboxItem] = (),
    ) -> StayRecord:
        """Record a vehicle entering, with what must be reported of it (e.g. Bolink inpark)."""
        order_id = _order_id(order_id)
        plate = _text("plate", plate, PLATE_MAX)
        plate_colour = _text("plate_colour", plate_colour, SHORT_MAX)
        vehicle_class = _text("vehicle_class", vehicle_class, SHORT_MAX)
        lane_id = _text("lane_id", lane_id, SHORT_MAX)
        entry_at = _aware("entry_at", entry_at)
        items = _outbox_items(outbox)
        now = self._now()
        with self._write("create_stay") as session:
            taken = session.scalar(select(Stay.id).where(Stay.order_id == order_id))
            if taken is not None:
                raise StoreError(f"order_id {order_id!r} is already used by stay {taken}")
            stay = Stay(
                order_id=order_id,
                plate=plate,
                plate_colour=plate_colour,
                vehicle_class=vehicle_class,
                entry_lane=lane_id,
                entry_at=entry_at,
                state="in_lot",
                created_at=now,
            )
            session.add(stay)
            session.flush()
            _enqueue(session, items, stay_id=stay.id, now=now)
            return _stay_record(stay)

    def stay_by_id(self, stay_id: int) -> StayRecord | None:
        with self._read("stay_by_id") as session:
            stay = session.get(Stay, _row_id("stay_id", stay_id))
            return None if stay is None else _stay_record(stay)

    def stay_by_order_id(self, order_id: str) -> StayRecord | None:
        with self._read("stay_by_order_id") as session:
            stay = session.scalar(select(Stay).where(Stay.order_id == order_id))
            return None if stay is None else _stay_record(stay)

    def open_stay_for_plate(self, plate: str) -> StayRecord | None:
        """The latest stay of this plate still in the lot (the one an exit settles)."""
        with self._read("open_stay_for_plate") as session:
            stay = session.scalar(
                select(Stay)
                .where(Stay.plate == plate, Stay.state == "in_lot")
                .order_by(Stay.entry_at.desc(), Stay.id.desc())
                .limit(1)
            )
            return None if stay is None else _stay_record(stay)

    def count_in_lot(self) -> int:
        with self._read("count_in_lot") as session:
            return session.scalar(select(func.count()).select_from(Stay).where(Stay.state == "in_lot")) or 0

    def plates_in_lot(self) -> list[str]:
        """Distinct plates in the lot, sorted: what a misread plate is matched against."""
        with self._read("plates_in_lot") as session:
            plates = select(Stay.plate).where(Stay.state == "in_lot").distinct().order_by(Stay.plate)
            return list(session.scalars(plates))

    def close_stay(
        self, stay_id: int, *, lane_id: str, exit_at: datetime, outbox: Sequence[OutboxItem] = ()
    ) -> None:
        """Mark the vehicle gone; an exit order still awaiting is cancelled, so a later payment is flagged.

        Idempotent: closing an exited stay again changes nothing and queues nothing.
        """
        stay_id = _row_id("stay_id", stay_id)
        lane_id = _text("lane_id", lane_id, SHORT_MAX)
        exit_at = _aware("exit_at", exit_at)
        items = _outbox_items(outbox)
        with self._write("close_stay") as session:
            stay = _get(session, Stay, stay_id, "stay")
            if stay.state == "exited":
                return
            if stay.state != "in_lot":
                raise StoreError(f"stay {stay_id} is {stay.state}, it cannot exit")
            stay.state = "exited"
            stay.exit_lane = lane_id
            stay.exit_at = exit_at
            _cancel_awaiting(session, stay_id, at=exit_at)
            session.flush()
            _enqueue(session, items, stay_id=stay_id, now=self._now())

    def close_missed_stay(
        self, stay_id: int, *, at: datetime, lane_id: str, owed_fen: int
    ) -> ArrearsRecord | None:
        """The plate entered again while this stay was in the lot: its exit was never seen. The stay is closed
        (state "cancelled", `at` as its exit time) and what it owed then, if anything, is kept as arrears for
        the plate's next exit (returned). Idempotent: a stay already closed this way changes nothing."""
        stay_id = _row_id("stay_id", stay_id)
        at = _aware("at", at)
        lane_id = _text("lane_id", lane_id, SHORT_MAX)
        owed_fen = _fen("owed_fen", owed_fen)
        with self._write("close_missed_stay") as session:
            stay = _get(session, Stay, stay_id, "stay")
            if stay.state == "cancelled":
                return None
            if stay.state != "in_lot":
                raise StoreError(f"stay {stay_id} is {stay.state}, its exit cannot have been missed")
            stay.state = "cancelled"
            stay.exit_at = at
            _cancel_awaiting(session, stay_id, at=at)
            if not owed_fen:
                return None
            row = Arrears(
                stay_id=stay_id,
                plate=stay.plate,
                amount_fen=owed_fen,
                noticed_at=at,
                noticed_lane=lane_id,
                state="open",
            )
            session.add(row)
            session.flush()
            return _arrears_record(row)

    def open_arrears(self, plate: str) -> list[ArrearsRecord]:
        """The plate's arrears not yet collected or waived, oldest first."""
        plate = _text("plate", plate, PLATE_MAX)
        with self._read("open_arrears") as session:
            rows = session.scalars(
                select(Arrears).where(Arrears.plate == plate, Arrears.state == "open").order_by(Arrears.id)
            )
            return [_arrears_record(row) for row in rows]

    def arrears_between(self, since: datetime, until: datetime) -> list[ArrearsRecord]:
        """Arrears noticed, collected or waived in [since, until), oldest first (the reports' list)."""
        since, until = _aware("since", since), _aware("until", until)
        with self._read("arrears_between") as session:
            rows = session.scalars(
                select(Arrears)
                .where(
                    ((Arrears.noticed_at >= since) & (Arrears.noticed_at < until))
                    | ((Arrears.settled_at >= since) & (Arrears.settled_at < until))
                )
                .order_by(Arrears.id)
            )
            return [_arrears_record(row) for row in rows]

    # --- exit orders and payments ---------------------------------------------------------------------

    def counted_payments(self, stay_id: int) -> list[tuple[datetime, int]]:
        """The money counted for this stay (flagged payments excluded) as (paid at, fen), oldest first: the
        tariff needs each payment's moment for its grace rule."""
        stay_id = _row_id("stay_id", stay_id)
        with self._read("counted_payments") as session:
            entry_at = _get(session, Stay, stay_id, "stay").entry_at
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
        stay_id = _row_id("stay_id", stay_id)
        lane_id = _text("lane_id", lane_id, SHORT_MAX)
        opened_at = _aware("opened_at", opened_at)
        if not isinstance(quote_json, str):
            raise StoreError(f"quote_json must be JSON text, got {type(quote_json).__name__}")
        try:
            json.loads(quote_json)
        except ValueError as exc:
            raise StoreError(f"quote_json is not valid JSON: {exc}") from None
        amounts = {
            name: _fen(name, value)
            for name, value in (
                ("gross_fen", gross_fen),
                ("paid_before_fen", paid_before_fen),
                ("discount_fen", discount_fen),
                ("due_fen", due_fen),
            )
        }
        with self._write("open_exit_order") as session:
            stay = _get(session, Stay, stay_id, "stay")
            if stay.state != "in_lot":
                raise StoreError(f"stay {stay_id} is {stay.state}: no exit order can be opened for it")
            _cancel_awaiting(session, stay_id, at=opened_at)
            order = ExitOrder(
                stay_id=stay_id,
                lane_id=lane_id,
                opened_at=opened_at,
                quote_json=quote_json,
                state="awaiting",
                **amounts,
            )
            session.add(order)
            session.flush()
            if arrears_ids:
                ids = [_row_id("arrears_id", i) for i in arrears_ids]
                linked = select(Arrears).where(Arrears.id.in_(ids), Arrears.state == "open")
                for row in session.scalars(linked):
                    row.exit_order_id = order.id
                    order.arrears_fen += row.amount_fen
            return _exit_order_record(order)

    def exit_order_by_id(self, exit_order_id: int) -> ExitOrderRecord | None:
        with self._read("exit_order_by_id") as session:
            order = session.get(ExitOrder, _row_id("exit_order_id", exit_order_id))
            return None if order is None else _exit_order_record(order)

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
        exit_order_id = _row_id("exit_order_id", exit_order_id)
        at = _aware("at", at)
        reason = _text("reason", reason, 2000)
        operator = _optional_text("operator", operator, NAME_MAX)
        items = _outbox_items(outbox)
        row: LaneException | None = None
        if exception is not None:
            if exception.exit_order_id is None:
                exception = replace(exception, exit_order_id=exit_order_id)
            elif exception.exit_order_id != exit_order_id:
                raise StoreError(
                    f"the exception names exit order {exception.exit_order_id}, not the one released "
                    f"({exit_order_id})"
                )
            row = _lane_exception_row(exception)
        with self._write("release_exit_order") as session:
            order = _get(session, ExitOrder, exit_order_id, "exit order")
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
                    _settle_arrears_of(session, order.id, how, at=at, operator=operator, reason=reason,
                                       approved_by=approver)  # fmt: skip
                session.flush()
                _enqueue(session, items, stay_id=order.stay_id, now=self._now())
            if row is None:
                return None
            _check_exception_refs(session, row)
            session.add(row)
            session.flush()
            return _lane_exception_record(row)

    # --- lane exceptions (free releases and manual lifts) ----------------------------------------------

    def record_lane_exception(self, item: LaneExceptionItem) -> LaneExceptionRecord:
        """Keep a free release or manual lift that settles no exit order (no stay found, an empty lane, a
        gate fault after payment, an entry lane)."""
        row = _lane_exception_row(item)
        with self._write("record_lane_exception") as session:
            _check_exception_refs(session, row)
            session.add(row)
            session.flush()
            return _lane_exception_record(row)

    def lane_exceptions(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        kind: str | None = None,
        lane_id: str | None = None,
    ) -> list[LaneExceptionRecord]:
        """Exceptions in [since, until), oldest first (for reports and the supervisor's review)."""
        query = select(LaneException).order_by(LaneException.at, LaneException.id)
        if since is not None:
            query = query.where(LaneException.at >= _aware("since", since))
        if until is not None:
            query = query.where(LaneException.at < _aware("until", until))
        if kind is not None:
            query = query.where(LaneException.kind == _exception_kind(kind))
        if lane_id is not None:
            query = query.where(LaneException.lane_id == _text("lane_id", lane_id, SHORT_MAX))
        with self._read("lane_exceptions") as session:
            return [_lane_exception_record(row) for row in session.scalars(query)]

    def count_lane_exceptions(self, kind: str, *, since: datetime, until: datetime | None = None) -> int:
        """How many exceptions of one kind in [since, until): the per-shift limits count with this."""
        query = select(func.count(LaneException.id)).where(
            LaneException.kind == _exception_kind(kind), LaneException.at >= _aware("since", since)
        )
        if until is not None:
            query = query.where(LaneException.at < _aware("until", until))
        with self._read("count_lane_exceptions") as session:
            return int(session.scalar(query) or 0)

    def cancel_exit_order(self, exit_order_id: int, *, at: datetime) -> None:
        """Abandon an awaiting order (the car backed off, a re-quote); a settled one is refused."""
        exit_order_id = _row_id("exit_order_id", exit_order_id)
        at = _aware("at", at)
        with self._write("cancel_exit_order") as session:
            order = _get(session, ExitOrder, exit_order_id, "exit order")
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
                        _exit_order_record(order),
                        _stay_record(stay),
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
        order_ref = _text("order_ref", order_ref, ORDER_REF_MAX, allow_empty=True)
        if exit_order_id is not None:
            exit_order_id = _row_id("exit_order_id", exit_order_id)
        channel = _text("channel", channel, SHORT_MAX)
        if pay_channel is not None and (
            not isinstance(pay_channel, int) or isinstance(pay_channel, bool) or pay_channel < 0
        ):
            raise StoreError(f"pay_channel must be a non-negative integer or None, got {pay_channel!r}")
        trade_no = _optional_text("trade_no", trade_no, NAME_MAX)
        amount_fen = _fen("amount_fen", amount_fen)
        paid_at = _aware("paid_at", paid_at)
        lane_id = _optional_text("lane_id", lane_id, SHORT_MAX)
        operator = _text("operator", operator, NAME_MAX)
        payer_id = _optional_text("payer_id", payer_id, NAME_MAX)
        raw_json = _json("raw", dict(raw) if raw is not None else {})
        items = _outbox_items(outbox)
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
                stay = conn.execute(select(Stay.id, Stay.state).where(Stay.order_id == order_ref)).first()
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
                            detail_json=_json("detail", detail),
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
                        _EXIT_ORDERS.update()
                        .where(_EXIT_ORDERS.c.id == linked_order.id)
                        .values(state="paid", settled_at=paid_at, settled_by=payment_id)
                    )
                    if linked_order.arrears_fen:  # (the check spares the booking a statement)
                        _settle_arrears_of(
                            session, linked_order.id, "collected", at=paid_at, operator=operator,
                            reason=trade_no,
                        )  # fmt: skip
                if flag is None and stay is not None:
                    _enqueue(session, items, stay_id=stay.id, now=now)
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
        stay_id = _row_id("stay_id", stay_id)
        with self._read("payments_for_stay") as session:
            rows = session.scalars(select(Payment).where(Payment.stay_id == stay_id).order_by(Payment.id))
            return [_payment_record(row) for row in rows]

    def payment_by_trade_no(self, trade_no: str) -> PaymentRecord | None:
        """The payment booked under this provider transaction number, if any (flagged ones included)."""
        trade_no = _text("trade_no", trade_no, NAME_MAX)
        with self._read("payment_by_trade_no") as session:
            row = session.scalar(select(Payment).where(Payment.trade_no == trade_no))
            return None if row is None else _payment_record(row)

    def prepayment_refusal(self, trade_no: str) -> PaymentFlag | None:
        """Why a refusable payment under this trade_no was refused (see record_payment), if it was."""
        trade_no = _text("trade_no", trade_no, NAME_MAX)
        with self._read("prepayment_refusal") as session:
            return _refusal_of(session, trade_no)

    def flagged_payments(self) -> list[PaymentRecord]:
        """Payments the supervisor must look at (late ones to refund, unknown orders), oldest first."""
        with self._read("flagged_payments") as session:
            rows = session.scalars(select(Payment).where(Payment.flag.is_not(None)).order_by(Payment.id))
            return [_payment_record(row) for row in rows]

    # --- gate and audit ----------------------------------------------------------------------------------

    def record_gate_event(
        self,
        *,
        lane_id: str,
        stay_id: int | None,
        reason: str,
        operator: str,
        note: str,
        outcome: str,
        attempt: int,
        detail: str,
        at: datetime,
    ) -> None:
        """Keep the evidence of one barrier command: why, by whom, and whether the gate opened."""
        lane_id = _text("lane_id", lane_id, SHORT_MAX)
        if stay_id is not None:
            stay_id = _row_id("stay_id", stay_id)
        reason = _text("reason", reason, SHORT_MAX)
        operator = _text("operator", operator, NAME_MAX)
        note = _text("note", note, 2000, allow_empty=True)
        if outcome not in _GATE_OUTCOMES:
            raise StoreError(f"outcome must be one of {_GATE_OUTCOMES}, got {outcome!r}")
        if not isinstance(attempt, int) or isinstance(attempt, bool) or attempt < 1:
            raise StoreError(f"attempt must be an integer >= 1, got {attempt!r}")
        detail = _text("detail", detail, 10_000, allow_empty=True)
        at = _aware("at", at)
        with self._write("record_gate_event") as session:
            if stay_id is not None:
                _get(session, Stay, stay_id, "stay")
            session.add(
                GateEvent(
                    lane_id=lane_id,
                    stay_id=stay_id,
                    reason=reason,
                    operator=operator,
                    note=note,
                    outcome=outcome,
                    attempt=attempt,
                    detail=detail,
                    at=at,
                )
            )

    def audit(self, *, actor: str, action: str, detail: Mapping[str, Any], at: datetime) -> None:
        actor = _text("actor", actor, NAME_MAX)
        action = _text("action", action, NAME_MAX)
        detail_json = _json("detail", dict(detail))
        at = _aware("at", at)
        with self._write("audit") as session:
            session.add(AuditEntry(at=at, actor=actor, action=action, detail_json=detail_json))

    def audit_entries(self, action: str, *, limit: int = 100) -> list[AuditRecord]:
        """The latest entries of one action, newest first (e.g. the lot's registration with Alipay)."""
        action = _text("action", action, NAME_MAX)
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise StoreError(f"limit must be a positive integer, got {limit!r}")
        with self._read("audit_entries") as session:
            rows = session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == action)
                .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                .limit(limit)
            )
            return [
                AuditRecord(id=r.id, at=r.at, actor=r.actor, action=r.action, detail_json=r.detail_json)
                for r in rows
            ]

    def audit_between(self, action: str, *, since: datetime, until: datetime) -> list[AuditRecord]:
        """Entries of one action in [since, until), oldest first (e.g. failed payments for a report)."""
        action = _text("action", action, NAME_MAX)
        since, until = _aware("since", since), _aware("until", until)
        if until <= since:
            raise StoreError(f"until ({until.isoformat()}) must be after since ({since.isoformat()})")
        with self._read("audit_between") as session:
            rows = session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == action, AuditEntry.at >= since, AuditEntry.at < until)
                .order_by(AuditEntry.at, AuditEntry.id)
            )
            return [
                AuditRecord(id=r.id, at=r.at, actor=r.actor, action=r.action, detail_json=r.detail_json)
                for r in rows
            ]

    # --- outbox ----------------------------------------------------------------------------------------

    def enqueue(self, items: Sequence[OutboxItem], *, stay_id: int | None = None) -> None:
        """Queue items that belong to no business write (e.g. registering the lot with Alipay)."""
        if stay_id is not None:
            stay_id = _row_id("stay_id", stay_id)
        prepared = _outbox_items(items)
        with self._write("enqueue") as session:
            if stay_id is not None:
                _get(session, Stay, stay_id, "stay")
            _enqueue(session, prepared, stay_id=stay_id, now=self._now())

    def due_outbox(self, cloud: str, now: datetime, limit: int = 50) -> list[OutboxRecord]:
        """Pending rows of `cloud` whose time has come, oldest first.

        A stay's rows go out in the order they were queued: a row is not due while an earlier row of the
        same stay and cloud is still pending (even one waiting for its retry time). Dead rows are parked
        and block nothing. Rows without a stay have no order among themselves.
        """
        cloud = _cloud(cloud)
        now = _aware("now", now)
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise StoreError(f"limit must be a positive integer, got {limit!r}")
        earlier = aliased(OutboxRow)
        blocked = exists().where(
            earlier.cloud == OutboxRow.cloud,
            earlier.stay_id == OutboxRow.stay_id,
            earlier.state == "pending",
            earlier.id < OutboxRow.id,
        )
        with self._read("due_outbox") as session:
            rows = session.scalars(
                select(OutboxRow)
                .where(
                    OutboxRow.cloud == cloud,
                    OutboxRow.state == "pending",
                    OutboxRow.next_attempt_at <= now,
                    ~blocked,
                )
                .order_by(OutboxRow.id)
                .limit(limit)
            )
            return [_outbox_record(row) for row in rows]

    def dead_outbox(self, cloud: str | None = None, *, limit: int = 100) -> list[OutboxRecord]:
        """Parked rows (of one cloud, or all), oldest first, with their last error: the supervisor's list."""
        if cloud is not None:
            cloud = _cloud(cloud)
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise StoreError(f"limit must be a positive integer, got {limit!r}")
        statement = select(OutboxRow).where(OutboxRow.state == "dead")
        if cloud is not None:
            statement = statement.where(OutboxRow.cloud == cloud)
        with self._read("dead_outbox") as session:
            rows = session.scalars(statement.order_by(OutboxRow.id).limit(limit))
            return [_outbox_record(row) for row in rows]

    def outbox_by_id(self, outbox_id: int) -> OutboxRecord | None:
        with self._read("outbox_by_id") as session:
            row = session.get(OutboxRow, _row_id("outbox_id", outbox_id))
            return None if row is None else _outbox_record(row)

    def mark_outbox_sent(self, outbox_id: int, *, at: datetime) -> None:
        """The cloud accepted it. Idempotent; also accepted for a dead row (a late success is a success)."""
        outbox_id = _row_id("outbox_id", outbox_id)
        at = _aware("at", at)
        with self._write("mark_outbox_sent") as session:
            row = _get(session, OutboxRow, outbox_id, "outbox row")
            if row.state == "sent":
                return
            row.state = "sent"
            row.sent_at = at

    def mark_outbox_retry(self, outbox_id: int, *, error: str, next_attempt_at: datetime) -> None:
        """A failed attempt that may succeed later: count it and wait until `next_attempt_at`."""
        outbox_id = _row_id("outbox_id", outbox_id)
        error = _text("error", error, 10_000, allow_empty=True)
        next_attempt_at = _aware("next_attempt_at", next_attempt_at)
        with self._write("mark_outbox_retry") as session:
            row = _get(session, OutboxRow, outbox_id, "outbox row")
            if row.state != "pending":
                raise StoreError(f"outbox row {outbox_id} is {row.state}, not pending: no retry")
            row.attempts += 1
            row.last_error = error
            row.next_attempt_at = next_attempt_at

    def mark_outbox_dead(self, outbox_id: int, *, error: str) -> None:
        """Park a row that cannot succeed (counting the failed attempt) until a supervisor requeues it."""
        outbox_id = _row_id("outbox_id", outbox_id)
        error = _text("error", error, 10_000, allow_empty=True)
        with self._write("mark_outbox_dead") as session:
            row = _get(session, OutboxRow, outbox_id, "outbox row")
            if row.state == "sent":
                raise StoreError(f"outbox row {outbox_id} was already sent; it cannot be parked")
            if row.state == "dead":
                return
            row.state = "dead"
            row.attempts += 1
            row.last_error = error

    def requeue_dead(self, cloud: str | None = None, *, at: datetime | None = None) -> int:
        """Give parked rows (of one cloud, or all) a fresh start: pending, attempts 0, due at `at` (now).

        Returns how many rows were requeued; their last_error is kept for the record.
        """
        if cloud is not None:
            cloud = _cloud(cloud)
        due_at = self._now() if at is None else _aware("at", at)
        statement = (
            update(OutboxRow)
            .where(OutboxRow.state == "dead")
            .values(state="pending", attempts=0, next_attempt_at=due_at)
            .execution_options(synchronize_session=False)
        )
        if cloud is not None:
            statement = statement.where(OutboxRow.cloud == cloud)
        with self._write("requeue_dead") as session:
            result = cast(CursorResult[Any], session.execute(statement))
            return result.rowcount

    def outbox_backlog(self) -> dict[str, OutboxBacklog]:
        """Per cloud with anything pending or dead: counts and the oldest pending row's age.

        A cloud that is missing has nothing pending and nothing dead.
        """
        with self._read("outbox_backlog") as session:
            rows = session.execute(
                select(OutboxRow.cloud, OutboxRow.state, func.count(), func.min(OutboxRow.created_at))
                .where(OutboxRow.state.in_(("pending", "dead")))
                .group_by(OutboxRow.cloud, OutboxRow.state)
            ).all()
        pending: dict[str, tuple[int, datetime | None]] = {}
        dead: dict[str, int] = {}
        for cloud, state, count, oldest in rows:
            if state == "pending":
                pending[cloud] = (int(count), oldest)
            else:
                dead[cloud] = int(count)
        return {
            cloud: OutboxBacklog(
                cloud=cloud,
                pending=pending.get(cloud, (0, None))[0],
                oldest_pending_at=pending.get(cloud, (0, None))[1],
                dead=dead.get(cloud, 0),
            )
            for cloud in sorted(pending.keys() | dead.keys())
        }

    # --- transactions ----------------------------------------------------------------------------------

    def _now(self) -> datetime:
        return _aware("clock()", self._clock())

    @contextmanager
    def _write(self, operation: str) -> Iterator[Session]:
        """One write transaction (BEGIN IMMEDIATE on SQLite); database errors become StoreError."""
        try:
            with self._db.sessionmaker.begin() as session:
                yield session
        except IntegrityError as exc:
            raise StoreError(f"{operation}: refused by the database: {exc.orig}") from exc
        except SQLAlchemyError as exc:
            raise StoreError(f"{operation}: database error: {exc}") from exc

    @contextmanager
    def _read(self, operation: str) -> Iterator[Session]:
        """One read transaction: a consistent snapshot that never takes the write lock."""
        try:
            with self._db.read_sessionmaker.begin() as session:
                yield session
        except SQLAlchemyError as exc:
            raise StoreError(f"{operation}: database error: {exc}") from exc


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
        order = conn.execute(
            select(
                ExitOrder.id, ExitOrder.stay_id, ExitOrder.state, ExitOrder.due_fen, ExitOrder.arrears_fen
            ).where(ExitOrder.id == exit_order_id)
        ).first()
        if order is None or order.stay_id != stay.id:
            # The lane was waiting for another order: the money is real, but it settles nothing here.
            return "flagged", "not_at_this_lane", None
    if order is None or order.state == "cancelled":
        # Money for a stay with no exit being settled: a prepayment in the lot, or a driver who paid as the
        # car backed away. While the car is in the lot it counts towards the stay (it leaves free or pays
        # the rest); after it left, it is to be refunded.
        if stay.state != "in_lot":
            return "flagged", "late_after_settlement", order
        awaiting = conn.execute(
            select(ExitOrder.id).where(ExitOrder.stay_id == stay.id, ExitOrder.state == "awaiting").limit(1)
        ).scalar()
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
    row = session.execute(select(Payment.id, Payment.flag).where(Payment.trade_no == trade_no)).first()
    if row is None:
        return None
    return PaymentOutcome(status="duplicate", payment_id=row.id, flag=cast("PaymentFlag | None", row.flag))


def _settle_arrears_of(
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


def _arrears_record(row: Arrears) -> ArrearsRecord:
    return ArrearsRecord(
        id=row.id,
        stay_id=row.stay_id,
        plate=row.plate,
        amount_fen=row.amount_fen,
        noticed_at=row.noticed_at,
        noticed_lane=row.noticed_lane,
        state=row.state,
        exit_order_id=row.exit_order_id,
        settled_at=row.settled_at,
        settled_by=row.settled_by,
        approved_by=row.approved_by,
        reason=row.reason,
    )


def _cancel_awaiting(session: Session, stay_id: int, *, at: datetime) -> None:
    for order in session.scalars(
        select(ExitOrder).where(ExitOrder.stay_id == stay_id, ExitOrder.state == "awaiting")
    ):
        order.state = "cancelled"
        order.settled_at = at


# --- outbox ------------------------------------------------------------------------------------------------


def _outbox_items(items: Sequence[OutboxItem]) -> list[tuple[OutboxItem, str]]:
    """Check every item and serialise its payload before anything is written."""
    prepared = []
    for index, item in enumerate(items):
        if not isinstance(item, OutboxItem):
            raise StoreError(f"outbox[{index}] must be an OutboxItem, got {type(item).__name__}")
        _cloud(item.cloud)
        _text(f"outbox[{index}].kind", item.kind, SHORT_MAX)
        _text(f"outbox[{index}].dedupe_key", item.dedupe_key, DEDUPE_KEY_MAX)
        if not isinstance(item.payload, Mapping):
            raise StoreError(f"outbox[{index}].payload must be a mapping, got {type(item.payload).__name__}")
        prepared.append((item, _json(f"outbox[{index}].payload", dict(item.payload))))
    return prepared


def _enqueue(
    session: Session, items: list[tuple[OutboxItem, str]], *, stay_id: int | None, now: datetime
) -> None:
    """Insert outbox rows; a dedupe_key already queued (now or before) is skipped, not an error."""
    if not items:
        return
    rows = [
        {
            "stay_id": stay_id,
            "cloud": item.cloud,
            "kind": item.kind,
            "payload_json": payload_json,
            "dedupe_key": item.dedupe_key,
            "state": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for item, payload_json in items
    ]
    conn = session.connection()
    insert = _outbox_insert(conn.dialect.name)
    if insert is not None:  # one statement, built once, for all the rows (Core: no unit of work)
        conn.execute(insert, rows)
        return
    for values in rows:
        if session.scalar(select(OutboxRow.id).where(OutboxRow.dedupe_key == values["dedupe_key"])) is None:
            session.add(OutboxRow(**values))
            session.flush()


_OUTBOX_INSERTS: dict[str, Any] = {}


def _outbox_insert(dialect: str) -> Any:
    """The outbox's INSERT that skips a dedupe_key already queued, for SQLite and PostgreSQL (None: another
    database, which checks first)."""
    if dialect not in _OUTBOX_INSERTS:
        if dialect == "sqlite":
            stmt: Any = sqlite.insert(_OUTBOX)
        elif dialect == "postgresql":
            # imported here, not at the top: ~100 ms of every start that a SQLite booth never needs
            from sqlalchemy.dialects import postgresql

            stmt = postgresql.insert(_OUTBOX)
        else:
            stmt = None
        if stmt is not None:
            stmt = stmt.on_conflict_do_nothing(index_elements=["dedupe_key"])
        _OUTBOX_INSERTS[dialect] = stmt
    return _OUTBOX_INSERTS[dialect]


# --- boundary checks -----------------------------------------------------------------------------------


def _aware(name: str, value: datetime) -> datetime:
    if not isinstance(value, datetime):
        raise StoreError(f"{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise StoreError(f"{name} must be timezone-aware (UTC), got the naive {value.isoformat()}")
    return value.astimezone(UTC)


def _fen(name: str, value: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise StoreError(f"{name} must be an integer amount in fen, got {type(value).__name__} {value!r}")
    if value < 0:
        raise StoreError(f"{name} must not be negative, got {value}")
    return value


def _row_id(name: str, value: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise StoreError(f"{name} must be a positive integer id, got {value!r}")
    return value


def _text(name: str, value: str, max_len: int, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str):
        raise StoreError(f"{name} must be text, got {type(value).__name__}")
    if not allow_empty and not value.strip():
        raise StoreError(f"{name} must not be empty")
    if len(value) > max_len:
        raise StoreError(f"{name} is longer than {max_len} characters: {value[:40]!r}...")
    return value


def _optional_text(name: str, value: str | None, max_len: int) -> str | None:
    """Empty or blank counts as absent: clouds send "" for "no trade number", and "" must not collide."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise StoreError(f"{name} must be text or None, got {type(value).__name__}")
    value = value.strip()
    return _text(name, value, max_len) if value else None


def _order_id(value: str) -> str:
    if not isinstance(value, str) or not _ORDER_ID_RE.match(value):
        raise StoreError(f"order_id must be 1-{ORDER_ID_MAX} characters of [A-Za-z0-9_], got {value!r}")
    return value


def _exception_kind(value: str) -> str:
    if value not in EXCEPTION_KINDS:
        raise StoreError(f"kind must be one of {EXCEPTION_KINDS}, got {value!r}")
    return value


def _lane_exception_row(item: LaneExceptionItem) -> LaneException:
    """Check an exception at the boundary and make its row (not yet added to a session)."""
    if not isinstance(item, LaneExceptionItem):
        raise StoreError(f"an exception must be a LaneExceptionItem, got {type(item).__name__}")
    return LaneException(
        at=_aware("at", item.at),
        kind=_exception_kind(item.kind),
        lane_id=_text("lane_id", item.lane_id, SHORT_MAX),
        stay_id=None if item.stay_id is None else _row_id("stay_id", item.stay_id),
        exit_order_id=None if item.exit_order_id is None else _row_id("exit_order_id", item.exit_order_id),
        plate=_optional_text("plate", item.plate, PLATE_MAX),
        due_fen=_fen("due_fen", item.due_fen),
        reason=_text("reason", item.reason, NAME_MAX),
        note=_text("note", item.note, _EXCEPTION_NOTE_MAX, allow_empty=True),
        operator=_text("operator", item.operator, NAME_MAX),
        approved_by=_optional_text("approved_by", item.approved_by, NAME_MAX),
        photo=_optional_text("photo", item.photo, _PHOTO_PATH_MAX),
    )


def _check_exception_refs(session: Session, row: LaneException) -> None:
    """The stay and exit order an exception names exist (a clear error instead of a foreign-key one)."""
    if row.stay_id is not None:
        _get(session, Stay, row.stay_id, "stay")
    if row.exit_order_id is not None:
        _get(session, ExitOrder, row.exit_order_id, "exit order")


def _cloud(value: str) -> str:
    if value not in OUTBOX_CLOUDS:
        raise StoreError(f"cloud must be one of {OUTBOX_CLOUDS}, got {value!r}")
    return value


def _json(name: str, value: dict[str, Any]) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise StoreError(f"{name} cannot be stored as JSON: {exc}") from None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate (e.g. a camera's undecodable byte): kept as a \u escape
        text = json.dumps(value, ensure_ascii=True, sort_keys=True, allow_nan=False)
    return text


def _get(session: Session, model: type[_Row], row_id: int, what: str) -> _Row:
    row = session.get(model, row_id)
    if row is None:
        raise StoreError(f"no {what} with id {row_id}")
    return row


# --- ORM rows to records -------------------------------------------------------------------------------


def _stay_record(row: Stay) -> StayRecord:
    return StayRecord(
        id=row.id,
        order_id=row.order_id,
        plate=row.plate,
        plate_colour=row.plate_colour,
        vehicle_class=row.vehicle_class,
        entry_lane=row.entry_lane,
        entry_at=row.entry_at,
        exit_lane=row.exit_lane,
        exit_at=row.exit_at,
        state=cast(StayState, row.state),
        created_at=row.created_at,
    )


def _exit_order_record(row: ExitOrder) -> ExitOrderRecord:
    return ExitOrderRecord(
        id=row.id,
        stay_id=row.stay_id,
        lane_id=row.lane_id,
        opened_at=row.opened_at,
        quote_json=row.quote_json,
        gross_fen=row.gross_fen,
        paid_before_fen=row.paid_before_fen,
        discount_fen=row.discount_fen,
        due_fen=row.due_fen,
        arrears_fen=row.arrears_fen or 0,
        state=cast(ExitOrderState, row.state),
        settled_at=row.settled_at,
        settled_by=row.settled_by,
        release_reason=row.release_reason,
        released_by=row.released_by,
    )


def _payment_record(row: Payment) -> PaymentRecord:
    return PaymentRecord(
        id=row.id,
        stay_id=row.stay_id,
        order_ref=row.order_ref,
        exit_order_id=row.exit_order_id,
        channel=row.channel,
        pay_channel=row.pay_channel,
        trade_no=row.trade_no,
        amount_fen=row.amount_fen,
        paid_at=row.paid_at,
        lane_id=row.lane_id,
        operator=row.operator,
        payer_id=row.payer_id,
        flag=row.flag,
        raw_json=row.raw_json,
        created_at=row.created_at,
    )


def _outbox_record(row: OutboxRow) -> OutboxRecord:
    return OutboxRecord(
        id=row.id,
        stay_id=row.stay_id,
        cloud=row.cloud,
        kind=row.kind,
        payload_json=row.payload_json,
        dedupe_key=row.dedupe_key,
        state=cast(OutboxState, row.state),
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        last_error=row.last_error,
        created_at=row.created_at,
        sent_at=row.sent_at,
    )


def _lane_exception_record(row: LaneException) -> LaneExceptionRecord:
    return LaneExceptionRecord(
        id=row.id,
        at=row.at,
        kind=cast(ExceptionKind, row.kind),
        lane_id=row.lane_id,
        stay_id=row.stay_id,
        exit_order_id=row.exit_order_id,
        plate=row.plate,
        due_fen=row.due_fen,
        reason=row.reason,
        note=row.note,
        operator=row.operator,
        approved_by=row.approved_by,
        photo=row.photo,
    )
