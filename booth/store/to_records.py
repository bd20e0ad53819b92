"""ORM rows to the frozen records the store hands out (never ORM objects)."""

from __future__ import annotations

from typing import cast

from booth.store.models import (
    Arrears,
    ExitOrder,
    LaneException,
    OutboxRow,
    Payment,
    Stay,
)
from booth.store.records import (
    ArrearsRecord,
    ExceptionKind,
    ExitOrderRecord,
    ExitOrderState,
    LaneExceptionRecord,
    OutboxRecord,
    OutboxState,
    PaymentRecord,
    StayRecord,
    StayState,
)

# --- ORM rows to records -------------------------------------------------------------------------------


def stay_record(row: Stay) -> StayRecord:
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
        origin_booth=row.origin_booth,
    )


def exit_order_record(row: ExitOrder) -> ExitOrderRecord:
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


def payment_record(row: Payment) -> PaymentRecord:
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


def outbox_record(row: OutboxRow) -> OutboxRecord:
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


def lane_exception_record(row: LaneException) -> LaneExceptionRecord:
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


def arrears_record(row: Arrears) -> ArrearsRecord:
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
