"""End-of-shift and period reports: what the lot took, per channel and per hour, and what needs a look.

Everything is aggregated in SQL (GROUP BY / SUM / COUNT over the indexed time columns: payments.paid_at,
stays.entry_at / exit_at, exit_orders.settled_at, lane_exceptions.at, audit_log(action, at)), inside one
read transaction, so the figures are one consistent snapshot and a month of a million exits builds in
seconds. Lists (exceptions, failed and flagged payments, paid-but-not-exited, exited-unpaid) are capped;
each says how many rows there are in all.

Which money is in the totals: every stored payment whose `paid_at` falls in the window, flagged ones
included. A flagged payment (late after the car left, unknown order, ...) is money that was received and
must be refunded or matched by the supervisor; leaving it out would make the report disagree with the
provider's statement and with the cash drawer. So `total_fen` equals SUM(payments.amount_fen) over the
window to the fen; `counted_fen` (not flagged) and `flagged_fen` split it, and the flagged payments are
listed one by one (`late_payments`, `other_flagged`).

A shift's window is [opened_at, closed_at); an attendant's period report is the union of that attendant's
shift windows clipped to the period. Hourly buckets are in the lot's local time (settings.park.zone):
per hour for a window up to 48 hours, per hour of the day (0-23, summed) for longer ones.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, String, and_, exists, false, func, or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, aliased

from booth.config import Settings
from booth.domain.money import MoneyError, format_yuan, parse_yuan
from booth.office.shifts import cash_kept
from booth.store.db import Database
from booth.store.models import (
    Arrears,
    AuditEntry,
    ExitOrder,
    LaneException,
    OutboxRow,
    Payment,
    Person,
    Shift,
    Stay,
)

T = TypeVar("T")
Window = tuple[datetime, datetime]

LATE = "late_after_settlement"  # the payment flag of money that arrived after the car had left
#: Rows kept in each list; the rest is only counted (Listing.total).
LIST_LIMIT = 200
#: Windows longer than this get hour-of-day buckets (24) instead of one bucket per hour.
HOURLY_MAX = timedelta(hours=48)

#: Bolink pay_type -> the label used in CSV files and the command line (the window translates its own).
CHANNEL_LABELS = {
    "cash": "现金",
    "wallet": "泊链钱包",
    "scancode": "泊链扫码",
    "sweepcode": "泊链被扫",
    "prepay": "预付",
    "monthuser": "月卡",
    "etc": "ETC",
    "free": "免费",
}
#: Bolink pay_channel numbers -> keys; a payment without one (cash) is "none".
PAY_CHANNEL_KEYS = {0: "wechat", 1: "alipay", 2: "balance", 3: "unionpay"}
PAY_CHANNEL_LABELS = {
    "wechat": "微信",
    "alipay": "支付宝",
    "balance": "余额",
    "unionpay": "银联",
    "none": "未注明（现金等）",
}
FLAG_LABELS = {
    "late_after_settlement": "车辆离场后到账",
    "unknown_order": "未知订单",
    "not_at_this_lane": "非本车道订单",
    "exit_in_progress": "出场结算中到账",
}
EXCEPTION_LABELS = {"free_release": "免费放行", "manual_lift": "手动抬杆"}
ARREARS_LABELS = {"noticed": "新记欠费", "collected": "收回欠费", "waived": "免收欠费", "open": "未收欠费"}
SETTLEMENT_LABELS = {"paid": "已支付", "released": "放行（未收费）", "cancelled": "已取消"}


class ReportError(Exception):
    """A report cannot be built; the message names the problem (unknown shift, open shift, bad period)."""


@dataclass(frozen=True, slots=True)
class Listing(Generic[T]):
    """The first rows of a list and how many rows it has in all."""

    items: tuple[T, ...]
    total: int

    @property
    def more(self) -> int:
        return self.total - len(self.items)


@dataclass(frozen=True, slots=True)
class ChannelTotal:
    key: str  # Bolink pay_type ("cash", "scancode", ...), pay_channel key ("wechat", ...) or payment flag
    label: str
    count: int
    amount_fen: int


@dataclass(frozen=True, slots=True)
class CountLine:
    key: str
    label: str
    count: int
    amount_fen: int


@dataclass(frozen=True, slots=True)
class ExceptionLine:
    at: datetime
    kind: str  # "free_release" | "manual_lift"
    lane_id: str
    plate: str | None
    due_fen: int
    reason: str
    note: str
    operator: str
    approved_by: str | None


@dataclass(frozen=True, slots=True)
class FailedPayment:
    at: datetime
    actor: str
    lane_id: str
    order_ref: str
    plate: str
    amount_fen: int | None
    pay_type: str
    errmsg: str


@dataclass(frozen=True, slots=True)
class PaymentLine:
    paid_at: datetime
    channel: str
    pay_channel: int | None
    amount_fen: int
    trade_no: str | None
    order_ref: str
    plate: str | None
    lane_id: str | None
    flag: str | None


@dataclass(frozen=True, slots=True)
class PaidNotExited:
    """A car with money counted in the window that had not left by the window's end."""

    stay_id: int
    plate: str
    order_id: str
    entry_at: datetime
    paid_fen: int
    last_paid_at: datetime


@dataclass(frozen=True, slots=True)
class UnpaidLine:
    """A car that left without paying: its exit was missed (stay closed when the plate entered again) or it
    was let out by a manual lift while money was due. For a missed exit `due_fen` is what was kept as its
    arrears (see `Report.arrears`); None when nothing was kept (it owed nothing, could not be priced, or was
    closed before Booth kept arrears)."""

    kind: Literal["missed_exit", "manual_lift"]
    at: datetime
    plate: str
    entry_at: datetime | None
    lane_id: str | None
    due_fen: int | None
    operator: str | None
    reason: str | None


@dataclass(frozen=True, slots=True)
class BacklogLine:
    """Outbox rows not delivered when the report was built (the backlog is now, not of the window)."""

    cloud: str
    state: str  # "pending" | "dead"
    count: int
    oldest_at: datetime | None


@dataclass(frozen=True, slots=True)
class HourBucket:
    hour: int  # local hour of the day, 0-23
    start: datetime | None  # local start of the hour; None for hour-of-day buckets
    label: str
    exits: int
    payments: int
    revenue_fen: int


@dataclass(frozen=True, slots=True)
class ShiftInfo:
    id: int
    attendant: str  # username
    attendant_name: str
    opened_at: datetime
    closed_at: datetime


@dataclass(frozen=True, slots=True)
class CashSummary:
    """The drawer: what it started with, the cash taken, what the close expected, counted and found."""

    opening_float_fen: int
    cash_taken_fen: int  # the drawer's cash in the shift's window (booth.shifts.cash_kept, as the close)
    cash_payments: int
    expected_fen: int | None  # as stored by the close
    counted: tuple[tuple[int, int], ...]  # (denomination fen, pieces), largest first
    counted_fen: int | None
    variance_fen: int | None  # counted - expected
    cosigned_by: str | None
    handover_float_fen: int | None
    close_note: str


@dataclass(frozen=True, slots=True)
class Report:
    lot_name: str
    title: str
    kind: Literal["shift", "period"]
    start: datetime  # aware UTC
    end: datetime
    zone: ZoneInfo
    generated_at: datetime
    windows: tuple[Window, ...]
    shift: ShiftInfo | None
    attendant: str | None
    attendant_name: str | None
    by_channel: tuple[ChannelTotal, ...]
    by_pay_channel: tuple[ChannelTotal, ...]
    by_flag: tuple[ChannelTotal, ...]
    payment_count: int
    total_fen: int
    counted_fen: int
    flagged_fen: int
    vehicles_in: int
    vehicles_out: int
    missed_exits: int
    settlements: tuple[CountLine, ...]
    exception_totals: tuple[CountLine, ...]
    exceptions: Listing[ExceptionLine]
    failed_payments: Listing[FailedPayment]
    late_payments: Listing[PaymentLine]
    other_flagged: Listing[PaymentLine]
    paid_not_exited: Listing[PaidNotExited]
    exited_unpaid: Listing[UnpaidLine]
    #: fees of stays whose exit was not seen: noticed, collected and waived in the window, open at its end
    arrears: tuple[CountLine, ...]
    sync_backlog: tuple[BacklogLine, ...]
    hourly_kind: Literal["hour", "hour_of_day"]
    hourly: tuple[HourBucket, ...]
    cash: CashSummary | None

    def local(self, at: datetime) -> datetime:
        return at.astimezone(self.zone)

    def local_text(self, at: datetime) -> str:
        return at.astimezone(self.zone).strftime("%Y-%m-%d %H:%M")


# --- building ------------------------------------------------------------------------------------------


def build_shift_report(
    db: Database, settings: Settings, shift_id: int, *, list_limit: int = LIST_LIMIT
) -> Report:
    """The report of one closed shift; ReportError for an unknown or still open shift."""
    if not isinstance(shift_id, int) or isinstance(shift_id, bool) or shift_id < 1:
        raise ReportError(f"a shift id is a positive whole number, got {shift_id!r}")
    with _read(db) as session:
        row = session.execute(
            select(Shift, Person.username, Person.display_name)
            .join(Person, Person.id == Shift.attendant_id)
            .where(Shift.id == shift_id)
        ).first()
        if row is None:
            raise ReportError(f"there is no shift {shift_id}")
        shift, username, display_name = row
        if shift.state != "closed" or shift.closed_at is None:
            raise ReportError(
                f"shift {shift_id} ({username}) is still open: close it with the cash count first, "
                "then build its report"
            )
        info = ShiftInfo(shift.id, username, display_name, shift.opened_at, shift.closed_at)
        window = (shift.opened_at, shift.closed_at)
        builder = _Builder(session, settings, (window,), window, list_limit)
        figures = builder.figures()
        cash_count, cash_fen = cash_kept(session, shift.opened_at, shift.closed_at)  # as the close counted
        cash = CashSummary(
            opening_float_fen=shift.opening_float_fen,
            cash_taken_fen=cash_fen,
            cash_payments=cash_count,
            expected_fen=shift.expected_fen,
            counted=_counted(shift.counted_json),
            counted_fen=shift.counted_fen,
            variance_fen=shift.variance_fen,
            cosigned_by=shift.cosigned_by,
            handover_float_fen=shift.handover_float_fen,
            close_note=shift.close_note or "",
        )
        title = f"班次报表 #{shift.id} {display_name}"
        return builder.report(
            figures, "shift", title, shift=info, attendant=(username, display_name), cash=cash
        )


def build_period_report(
    db: Database,
    settings: Settings,
    start: datetime,
    end: datetime,
    *,
    attendant: str | None = None,
    list_limit: int = LIST_LIMIT,
    now: datetime | None = None,
) -> Report:
    """The report of [start, end), optionally only within `attendant`'s shifts; ReportError for a bad
    period, an unknown attendant, or a period with no data at all."""
    for name, value in (("start", start), ("end", end)):
        if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
            raise ReportError(f"{name} must be an aware datetime (with its time zone), got {value!r}")
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    zone = settings.park.zone
    if end <= start:
        raise ReportError(
            f"the period ends ({_text(end, zone)}) at or before it starts ({_text(start, zone)})"
        )
    now = (now or datetime.now(UTC)).astimezone(UTC)
    with _read(db) as session:
        who: tuple[str, str] | None = None
        windows: tuple[Window, ...] = ((start, end),)
        if attendant is not None:
            person = session.execute(
                select(Person.id, Person.username, Person.display_name).where(Person.username == attendant)
            ).first()
            if person is None:
                raise ReportError(f"there is no attendant {attendant!r}")
            who = (person.username, person.display_name)
            shifts = session.execute(
                select(Shift.opened_at, Shift.closed_at)
                .where(Shift.attendant_id == person.id, Shift.opened_at < end)
                .where(or_(Shift.closed_at.is_(None), Shift.closed_at > start))
                .order_by(Shift.opened_at)
            ).all()
            windows = tuple(
                (max(a, start), min(b or now, end)) for a, b in shifts if max(a, start) < min(b or now, end)
            )
            if not windows:
                raise ReportError(
                    f"no data between {_text(start, zone)} and {_text(end, zone)}: "
                    f"{attendant!r} worked no shift then"
                )
        builder = _Builder(session, settings, windows, (start, end), list_limit)
        figures = builder.figures()
        if figures.empty:
            raise ReportError(f"no data between {_text(start, zone)} and {_text(end, zone)}")
        title = f"期间报表 {_text(start, zone)} – {_text(end, zone)}"
        if who is not None:
            title += f" {who[1]}"
        return builder.report(figures, "period", title, shift=None, attendant=who, cash=None)


@dataclass(frozen=True, slots=True)
class _Figures:
    payment_groups: tuple[tuple[str, int | None, str | None, int, int], ...]  # channel, pay_ch, flag, n, fen
    hourly: tuple[HourBucket, ...]
    vehicles_in: int
    vehicles_out: int
    missed_exits: int
    settlements: tuple[CountLine, ...]
    exception_totals: tuple[CountLine, ...]
    failed_count: int

    @property
    def empty(self) -> bool:
        return not (
            self.payment_groups
            or self.vehicles_in
            or self.vehicles_out
            or self.missed_exits
            or self.settlements
            or self.exception_totals
            or self.failed_count
        )


class _Builder:
    """The queries of one report, all in one read transaction over the same windows."""

    def __init__(
        self,
        session: Session,
        settings: Settings,
        windows: tuple[Window, ...],
        span: Window,
        list_limit: int,
    ) -> None:
        if list_limit < 0:
            raise ReportError(f"list_limit must not be negative, got {list_limit}")
        self.session = session
        self.settings = settings
        self.zone = settings.park.zone
        self.windows = windows
        self.span = span
        self.limit = list_limit
        self.dialect = session.get_bind().dialect.name
        self.by_hour_of_day = span[1] - span[0] > HOURLY_MAX
        self.whole_hours = _whole_hour_offsets(self.zone, span)

    # the window filter and the hour slot of a timestamp column

    def within(self, column: Any) -> ColumnElement[bool]:
        parts = [and_(column >= a, column < b) for a, b in self.windows]
        return or_(*parts) if parts else false()

    def slot(self, column: Any) -> ColumnElement[str]:
        """The UTC hour (or minute, for zones whose offset is not whole hours) as text: 'YYYY-MM-DD HH'."""
        length = 13 if self.whole_hours else 16
        if self.dialect == "sqlite":
            return func.substr(column, 1, length, type_=String)
        pattern = "YYYY-MM-DD HH24" if self.whole_hours else "YYYY-MM-DD HH24:MI"
        return func.to_char(func.timezone("UTC", column), pattern, type_=String)

    def bucket_of(self, slot: str) -> tuple[int, datetime]:
        fmt = "%Y-%m-%d %H" if self.whole_hours else "%Y-%m-%d %H:%M"
        local = datetime.strptime(slot, fmt).replace(tzinfo=UTC).astimezone(self.zone)
        return local.hour, local.replace(minute=0, second=0, microsecond=0)

    # the aggregates

    def figures(self) -> _Figures:
        s = self.session
        payment_slot = self.slot(Payment.paid_at)
        pay_rows = s.execute(
            select(
                payment_slot,
                Payment.channel,
                Payment.pay_channel,
                Payment.flag,
                func.count(),
                func.sum(Payment.amount_fen),
            )
            .where(self.within(Payment.paid_at))
            .group_by(payment_slot, Payment.channel, Payment.pay_channel, Payment.flag)
        ).all()
        exit_slot = self.slot(Stay.exit_at)
        exit_rows = s.execute(
            select(exit_slot, Stay.state, func.count())
            .where(self.within(Stay.exit_at))
            .group_by(exit_slot, Stay.state)
        ).all()
        vehicles_in = int(
            s.scalar(select(func.count()).select_from(Stay).where(self.within(Stay.entry_at))) or 0
        )
        settled = s.execute(
            select(ExitOrder.state, func.count(), func.coalesce(func.sum(ExitOrder.due_fen), 0))
            .where(self.within(ExitOrder.settled_at))
            .group_by(ExitOrder.state)
            .order_by(ExitOrder.state)
        ).all()
        exceptions = s.execute(
            select(LaneException.kind, func.count(), func.coalesce(func.sum(LaneException.due_fen), 0))
            .where(self.within(LaneException.at))
            .group_by(LaneException.kind)
            .order_by(LaneException.kind)
        ).all()
        failed = int(
            s.scalar(
                select(func.count())
                .select_from(AuditEntry)
                .where(AuditEntry.action == "payment_failed", self.within(AuditEntry.at))
            )
            or 0
        )

        groups: dict[tuple[str, int | None, str | None], list[int]] = defaultdict(lambda: [0, 0])
        hours: dict[Any, list[int]] = defaultdict(lambda: [0, 0, 0])  # exits, payments, revenue
        for slot, channel, pay_channel, flag, count, fen in pay_rows:
            g = groups[(channel, pay_channel, flag)]
            g[0] += int(count)
            g[1] += int(fen)
            h = hours[self.hour_key(slot)]
            h[1] += int(count)
            h[2] += int(fen)
        out = missed = 0
        for slot, state, count in exit_rows:
            if state == "exited":
                out += int(count)
                hours[self.hour_key(slot)][0] += int(count)
            elif state == "cancelled":
                missed += int(count)
        return _Figures(
            payment_groups=tuple(
                (c, p, f, n, fen) for (c, p, f), (n, fen) in sorted(groups.items(), key=_gkey)
            ),
            hourly=self.hour_buckets(hours),
            vehicles_in=vehicles_in,
            vehicles_out=out,
            missed_exits=missed,
            settlements=tuple(
                CountLine(st, SETTLEMENT_LABELS.get(st, st), int(n), int(fen)) for st, n, fen in settled
            ),
            exception_totals=tuple(
                CountLine(k, EXCEPTION_LABELS.get(k, k), int(n), int(fen)) for k, n, fen in exceptions
            ),
            failed_count=failed,
        )

    def hour_key(self, slot: str) -> Any:
        hour, start = self.bucket_of(slot)
        return hour if self.by_hour_of_day else start

    def hour_buckets(self, hours: dict[Any, list[int]]) -> tuple[HourBucket, ...]:
        """Every bucket of the span, empty ones included, so the chart has no gaps."""
        if self.by_hour_of_day:
            return tuple(HourBucket(h, None, f"{h:02d}:00", *hours.get(h, (0, 0, 0))) for h in range(24))
        keys: list[datetime] = []
        at = self.span[0].astimezone(self.zone).replace(minute=0, second=0, microsecond=0)
        while at < self.span[1]:
            local = at.astimezone(self.zone)
            if local not in keys:
                keys.append(local)
            at += timedelta(hours=1)
        for key in hours:  # a DST fold can make a key not on the walk above
            if key not in keys:
                keys.append(key)
        keys.sort()
        return tuple(HourBucket(k.hour, k, k.strftime("%m-%d %H:00"), *hours.get(k, (0, 0, 0))) for k in keys)

    # the lists

    def exceptions(self, total: int) -> Listing[ExceptionLine]:
        rows = self.session.execute(
            select(LaneException)
            .where(self.within(LaneException.at))
            .order_by(LaneException.at, LaneException.id)
            .limit(self.limit)
        ).scalars()
        items = tuple(
            ExceptionLine(
                r.at, r.kind, r.lane_id, r.plate, r.due_fen, r.reason, r.note, r.operator, r.approved_by
            )
            for r in rows
        )
        return Listing(items, total)

    def failed_payments(self, total: int) -> Listing[FailedPayment]:
        rows = self.session.execute(
            select(AuditEntry.at, AuditEntry.actor, AuditEntry.detail_json)
            .where(AuditEntry.action == "payment_failed", self.within(AuditEntry.at))
            .order_by(AuditEntry.at, AuditEntry.id)
            .limit(self.limit)
        ).all()
        return Listing(tuple(_failed(at, actor, detail) for at, actor, detail in rows), total)

    def flagged(self, late_total: int, other_total: int) -> tuple[Listing[PaymentLine], Listing[PaymentLine]]:
        """The flagged payments, late ones and the others, each list capped: one pass over the window."""
        is_late = Payment.flag == LATE
        numbered = (
            select(
                Payment.id.label("id"),
                func.row_number()
                .over(partition_by=is_late, order_by=(Payment.paid_at, Payment.id))
                .label("n"),
            )
            .where(self.within(Payment.paid_at), Payment.flag.is_not(None))
            .subquery()
        )
        rows = self.session.execute(
            select(Payment, Stay.plate)
            .join(numbered, numbered.c.id == Payment.id)
            .outerjoin(Stay, Stay.id == Payment.stay_id)
            .where(numbered.c.n <= self.limit)
            .order_by(Payment.paid_at, Payment.id)
        ).all()
        lines = [
            PaymentLine(
                p.paid_at,
                p.channel,
                p.pay_channel,
                p.amount_fen,
                p.trade_no,
                p.order_ref,
                plate,
                p.lane_id,
                p.flag,
            )
            for p, plate in rows
        ]
        return (
            Listing(tuple(line for line in lines if line.flag == LATE), late_total),
            Listing(tuple(line for line in lines if line.flag != LATE), other_total),
        )

    def paid_not_exited(self) -> Listing[PaidNotExited]:
        end = self.span[1]
        grouped = (
            select(
                Payment.stay_id.label("stay_id"),
                func.sum(Payment.amount_fen).label("paid"),
                func.max(Payment.paid_at).label("last"),
            )
            .join(Stay, Stay.id == Payment.stay_id)
            .where(self.within(Payment.paid_at), Payment.flag.is_(None))
            .where(or_(Stay.state == "in_lot", and_(Stay.state == "exited", Stay.exit_at >= end)))
            .group_by(Payment.stay_id)
            .subquery()
        )
        stay = aliased(Stay)
        rows = self.session.execute(
            select(
                stay.id,
                stay.plate,
                stay.order_id,
                stay.entry_at,
                grouped.c.paid,
                grouped.c.last,
                func.count().over(),  # every row's count of all rows: the list and its length in one pass
            )
            .join(grouped, grouped.c.stay_id == stay.id)
            .order_by(grouped.c.last, stay.id)
            .limit(self.limit)
        ).all()
        items = tuple(
            PaidNotExited(sid, plate, order_id, entry_at, int(paid), _utc(last))
            for sid, plate, order_id, entry_at, paid, last, _ in rows
        )
        total = int(rows[0][-1]) if rows else 0
        if not rows and self.limit == 0:
            total = int(self.session.scalar(select(func.count()).select_from(grouped)) or 0)
        return Listing(items, total)

    def exited_unpaid(self) -> Listing[UnpaidLine]:
        s = self.session
        missed_where = and_(self.within(Stay.exit_at), Stay.state == "cancelled")
        missed = s.execute(
            select(Stay.exit_at, Stay.plate, Stay.entry_at, Arrears.noticed_lane, Arrears.amount_fen)
            .outerjoin(Arrears, Arrears.stay_id == Stay.id)
            .where(missed_where)
            .order_by(Stay.exit_at, Stay.id)
            .limit(self.limit)
        ).all()
        order = aliased(ExitOrder)
        paid_since = func.coalesce(order.opened_at, LaneException.at)
        counted = (
            select(Payment.id)
            .where(
                Payment.stay_id == LaneException.stay_id,
                Payment.flag.is_(None),
                Payment.paid_at >= paid_since,
            )
            .correlate(LaneException, order)
        )
        lift_where = and_(
            self.within(LaneException.at),
            LaneException.kind == "manual_lift",
            LaneException.due_fen > 0,
            ~exists(counted),
        )
        lifts = s.execute(
            select(LaneException, Stay.entry_at, Stay.plate)
            .outerjoin(order, order.id == LaneException.exit_order_id)
            .outerjoin(Stay, Stay.id == LaneException.stay_id)
            .where(lift_where)
            .order_by(LaneException.at, LaneException.id)
            .limit(self.limit)
        ).all()
        lift_total = self._count(
            select(LaneException.id)
            .outerjoin(order, order.id == LaneException.exit_order_id)
            .where(lift_where)
        )
        lines = [
            UnpaidLine("missed_exit", at or entry_at, plate, entry_at, lane, owed, None, None)
            for at, plate, entry_at, lane, owed in missed
        ] + [
            UnpaidLine(
                "manual_lift",
                le.at,
                le.plate or plate or "",
                entry_at,
                le.lane_id,
                le.due_fen,
                le.operator,
                le.reason,
            )
            for le, entry_at, plate in lifts
        ]
        lines.sort(key=lambda line: line.at)
        total = self._count(select(Stay.id).where(missed_where)) + lift_total
        return Listing(tuple(lines[: self.limit]), total)

    def arrears(self) -> tuple[CountLine, ...]:
        """Arrears noticed (a missed exit's fee kept), collected and waived in the window, and those still
        open at its end: one query each over small, indexed rows."""
        s, end = self.session, self.span[1]
        lines = []
        for key, where in (
            ("noticed", self.within(Arrears.noticed_at)),
            ("collected", and_(Arrears.state == "collected", self.within(Arrears.settled_at))),
            ("waived", and_(Arrears.state == "waived", self.within(Arrears.settled_at))),
            (
                "open",
                and_(Arrears.noticed_at < end, or_(Arrears.settled_at.is_(None), Arrears.settled_at >= end)),
            ),
        ):
            n, fen = s.execute(
                select(func.count(), func.coalesce(func.sum(Arrears.amount_fen), 0)).where(where)
            ).one()
            lines.append(CountLine(key, ARREARS_LABELS[key], int(n), int(fen)))
        return tuple(lines)

    def sync_backlog(self) -> tuple[BacklogLine, ...]:
        rows = self.session.execute(
            select(OutboxRow.cloud, OutboxRow.state, func.count(), func.min(OutboxRow.created_at))
            .where(
                OutboxRow.cloud.in_(("bolink", "alipay", "tmall")), OutboxRow.state.in_(("pending", "dead"))
            )
            .group_by(OutboxRow.cloud, OutboxRow.state)
            .order_by(OutboxRow.cloud, OutboxRow.state)
        ).all()
        return tuple(
            BacklogLine(c, st, int(n), _utc(oldest) if oldest else None) for c, st, n, oldest in rows
        )

    def _count(self, query: Any) -> int:
        return int(self.session.scalar(select(func.count()).select_from(query.subquery())) or 0)

    # the whole

    def report(
        self,
        figures: _Figures,
        kind: Literal["shift", "period"],
        title: str,
        *,
        shift: ShiftInfo | None,
        attendant: tuple[str, str] | None,
        cash: CashSummary | None,
    ) -> Report:
        by_channel: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        by_pay: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        by_flag: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for channel, pay_channel, flag, n, fen in figures.payment_groups:
            for table, key in ((by_channel, channel), (by_pay, pay_channel_key(pay_channel))):
                table[key][0] += n
                table[key][1] += fen
            if flag is not None:
                by_flag[flag][0] += n
                by_flag[flag][1] += fen
        total = sum(fen for *_, fen in figures.payment_groups)
        late, other = self.flagged(
            by_flag[LATE][0] if LATE in by_flag else 0, sum(n for k, (n, _) in by_flag.items() if k != LATE)
        )
        flagged = sum(fen for _, fen in by_flag.values())
        return Report(
            lot_name=self.settings.park.name,
            title=title,
            kind=kind,
            start=self.span[0],
            end=self.span[1],
            zone=self.zone,
            generated_at=datetime.now(UTC),
            windows=self.windows,
            shift=shift,
            attendant=attendant[0] if attendant else None,
            attendant_name=attendant[1] if attendant else None,
            by_channel=_totals(by_channel, channel_label, CHANNEL_ORDER),
            by_pay_channel=_totals(by_pay, pay_channel_label, PAY_CHANNEL_ORDER),
            by_flag=_totals(by_flag, lambda k: FLAG_LABELS.get(k, k), tuple(FLAG_LABELS)),
            payment_count=sum(n for _, _, _, n, _ in figures.payment_groups),
            total_fen=total,
            counted_fen=total - flagged,
            flagged_fen=flagged,
            vehicles_in=figures.vehicles_in,
            vehicles_out=figures.vehicles_out,
            missed_exits=figures.missed_exits,
            settlements=figures.settlements,
            exception_totals=figures.exception_totals,
            exceptions=self.exceptions(sum(c.count for c in figures.exception_totals)),
            failed_payments=self.failed_payments(figures.failed_count),
            late_payments=late,
            other_flagged=other,
            paid_not_exited=self.paid_not_exited(),
            exited_unpaid=self.exited_unpaid(),
            arrears=self.arrears(),
            sync_backlog=self.sync_backlog(),
            hourly_kind="hour_of_day" if self.by_hour_of_day else "hour",
            hourly=figures.hourly,
            cash=cash,
        )


CHANNEL_ORDER = ("cash", "wallet", "scancode", "sweepcode", "prepay")
PAY_CHANNEL_ORDER = ("wechat", "alipay", "unionpay", "balance", "none")


def channel_label(key: str) -> str:
    return CHANNEL_LABELS.get(key, key)


def pay_channel_key(pay_channel: int | None) -> str:
    if pay_channel is None:
        return "none"
    return PAY_CHANNEL_KEYS.get(pay_channel, f"pay_channel_{pay_channel}")


def pay_channel_label(key: str) -> str:
    return PAY_CHANNEL_LABELS.get(key, key)


def _totals(table: dict[str, list[int]], label: Any, order: Sequence[str]) -> tuple[ChannelTotal, ...]:
    """Known keys first in their usual order, then any others alphabetically."""
    keys = [k for k in order if k in table] + sorted(k for k in table if k not in order)
    return tuple(ChannelTotal(k, label(k), table[k][0], table[k][1]) for k in keys)


def _gkey(item: tuple[tuple[str, int | None, str | None], list[int]]) -> tuple[str, int, str]:
    (channel, pay_channel, flag), _ = item
    return channel, -1 if pay_channel is None else pay_channel, flag or ""


def _whole_hour_offsets(zone: ZoneInfo, span: Window) -> bool:
    """Whether every UTC offset the zone has in the span is whole hours (then UTC hours map onto local
    hours and the database can group by the UTC hour)."""
    at, end = span
    while True:
        offset = at.astimezone(zone).utcoffset() or timedelta(0)
        if offset % timedelta(hours=1):
            return False
        if at >= end:
            return True
        at = min(at + timedelta(hours=1), end)


def _counted(counted_json: str | None) -> tuple[tuple[int, int], ...]:
    if not counted_json:
        return ()
    try:
        raw = json.loads(counted_json)
        pairs = raw.items() if isinstance(raw, dict) else raw
        return tuple(sorted(((int(d), int(n)) for d, n in pairs), reverse=True))
    except (ValueError, TypeError) as exc:
        raise ReportError(f"the shift's stored cash count is unreadable: {counted_json!r} ({exc})") from None


def _failed(at: datetime, actor: str, detail_json: str) -> FailedPayment:
    try:
        detail = json.loads(detail_json)
    except ValueError:
        detail = {}
    if not isinstance(detail, dict):
        detail = {}
    amount = detail.get("amount_fen")
    return FailedPayment(
        at=at,
        actor=actor,
        lane_id=str(detail.get("lane_id") or ""),
        order_ref=str(detail.get("order_ref") or detail.get("order_id") or ""),
        plate=str(detail.get("plate") or ""),
        amount_fen=amount if isinstance(amount, int) and not isinstance(amount, bool) else None,
        pay_type=str(detail.get("pay_type") or ""),
        errmsg=str(detail.get("errmsg") or ""),
    )


def _utc(value: datetime | str) -> datetime:
    """Aggregates (MAX, MIN) lose the column type on SQLite and come back as text."""
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _text(at: datetime, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M")


@contextmanager
def _read(db: Database) -> Iterator[Session]:
    """One read transaction (a consistent snapshot); database errors become ReportError naming the cause."""
    try:
        with db.read_sessionmaker.begin() as session:
            yield session
    except SQLAlchemyError as exc:
        raise ReportError(f"cannot read the database: {exc}") from exc


# --- CSV -----------------------------------------------------------------------------------------------

CSV_TOTAL_KEY = "total"


def write_csv(report: Report, path: Path) -> None:
    """The report as CSV: UTF-8 with a BOM (Excel then reads the Chinese), one section after another,
    each with its own header row; amounts as yuan text ("12.50"). The first column names the section,
    so read_csv_totals (and a spreadsheet filter) can pick a section out."""
    rows: list[list[str]] = []
    r = report

    def section(name: str, header: Sequence[str], body: Iterable[Sequence[object]]) -> None:
        if rows:
            rows.append([])
        rows.append([name, *header])
        rows.extend([name, *("" if v is None else str(v) for v in line)] for line in body)

    def more(listing: Listing[Any]) -> list[list[str]]:
        return [["…", f"另有 {listing.more} 条未列出"]] if listing.more else []

    lt = r.local_text
    section(
        "report",
        ["item", "value"],
        [
            ["停车场", r.lot_name],
            ["报表", r.title],
            ["开始", lt(r.start)],
            ["结束", lt(r.end)],
            ["时区", str(r.zone)],
            ["收费员", r.attendant_name or ""],
            ["生成时间", lt(r.generated_at)],
        ],
    )
    section(
        "channel",
        ["key", "label", "count", "amount_yuan"],
        [
            *([c.key, c.label, c.count, format_yuan(c.amount_fen)] for c in r.by_channel),
            [CSV_TOTAL_KEY, "合计", r.payment_count, format_yuan(r.total_fen)],
        ],
    )
    section(
        "pay_channel",
        ["key", "label", "count", "amount_yuan"],
        [[c.key, c.label, c.count, format_yuan(c.amount_fen)] for c in r.by_pay_channel],
    )
    section(
        "money",
        ["key", "label", "amount_yuan"],
        [
            ["counted", "已计收", format_yuan(r.counted_fen)],
            ["flagged", "待处理（已标记）", format_yuan(r.flagged_fen)],
            *([f"flag:{c.key}", c.label, format_yuan(c.amount_fen)] for c in r.by_flag),
        ],
    )
    section(
        "vehicles",
        ["key", "label", "count", "amount_yuan"],
        [
            ["in", "入场车辆", r.vehicles_in, ""],
            ["out", "出场车辆", r.vehicles_out, ""],
            ["missed_exit", "漏记出场（作废）", r.missed_exits, ""],
            *([f"arrears:{c.key}", c.label, c.count, format_yuan(c.amount_fen)] for c in r.arrears),
            *([f"settled:{c.key}", c.label, c.count, format_yuan(c.amount_fen)] for c in r.settlements),
            *(
                [f"exception:{c.key}", c.label, c.count, format_yuan(c.amount_fen)]
                for c in r.exception_totals
            ),
            ["payment_failed", "支付失败", r.failed_payments.total, ""],
        ],
    )
    if r.cash is not None:
        c = r.cash
        section(
            "cash",
            ["key", "label", "value"],
            [
                ["opening_float", "备用金", format_yuan(c.opening_float_fen)],
                ["cash_taken", "现金收入", format_yuan(c.cash_taken_fen)],
                ["expected", "应有现金", _yuan(c.expected_fen)],
                *([f"count:{format_yuan(d)}", f"{format_yuan(d)} 元 × 张数", n] for d, n in c.counted),
                ["counted", "清点现金", _yuan(c.counted_fen)],
                ["variance", "差额", _yuan(c.variance_fen)],
                ["cosigned_by", "复核人", c.cosigned_by or ""],
                ["handover_float", "移交备用金", _yuan(c.handover_float_fen)],
                ["note", "备注", c.close_note],
            ],
        )
    section(
        "hourly",
        ["label", "exits", "payments", "revenue_yuan"],
        [[h.label, h.exits, h.payments, format_yuan(h.revenue_fen)] for h in r.hourly],
    )
    section(
        "exception",
        ["time", "kind", "lane", "plate", "due_yuan", "reason", "note", "operator", "approved_by"],
        [
            *(
                [
                    lt(e.at),
                    EXCEPTION_LABELS.get(e.kind, e.kind),
                    e.lane_id,
                    e.plate,
                    format_yuan(e.due_fen),
                    e.reason,
                    e.note,
                    e.operator,
                    e.approved_by,
                ]
                for e in r.exceptions.items
            ),
            *more(r.exceptions),
        ],
    )
    section(
        "payment_failed",
        ["time", "lane", "plate", "order", "amount_yuan", "pay_type", "error"],
        [
            *(
                [lt(f.at), f.lane_id, f.plate, f.order_ref, _yuan(f.amount_fen), f.pay_type, f.errmsg]
                for f in r.failed_payments.items
            ),
            *more(r.failed_payments),
        ],
    )
    for name, listing in (("late_payment", r.late_payments), ("flagged_payment", r.other_flagged)):
        section(
            name,
            ["time", "channel", "amount_yuan", "trade_no", "order", "plate", "lane", "flag"],
            [
                *(
                    [
                        lt(p.paid_at),
                        channel_label(p.channel),
                        format_yuan(p.amount_fen),
                        p.trade_no,
                        p.order_ref,
                        p.plate,
                        p.lane_id,
                        FLAG_LABELS.get(p.flag or "", p.flag),
                    ]
                    for p in listing.items
                ),
                *more(listing),
            ],
        )
    section(
        "paid_not_exited",
        ["plate", "order", "entry", "paid_yuan", "last_paid"],
        [
            *(
                [p.plate, p.order_id, lt(p.entry_at), format_yuan(p.paid_fen), lt(p.last_paid_at)]
                for p in r.paid_not_exited.items
            ),
            *more(r.paid_not_exited),
        ],
    )
    section(
        "exited_unpaid",
        ["time", "kind", "plate", "entry", "lane", "due_yuan", "operator", "reason"],
        [
            *(
                [
                    lt(u.at),
                    "漏记出场" if u.kind == "missed_exit" else "手动抬杆",
                    u.plate,
                    lt(u.entry_at) if u.entry_at else "",
                    u.lane_id,
                    _yuan(u.due_fen),
                    u.operator,
                    u.reason,
                ]
                for u in r.exited_unpaid.items
            ),
            *more(r.exited_unpaid),
        ],
    )
    section(
        "sync_backlog",
        ["cloud", "state", "count", "oldest"],
        [[b.cloud, b.state, b.count, lt(b.oldest_at) if b.oldest_at else ""] for b in r.sync_backlog],
    )
    try:
        with path.open("w", encoding="utf-8-sig", newline="") as out:
            csv.writer(out).writerows([[_inert(cell) for cell in row] for row in rows])
    except OSError as exc:
        raise ReportError(f"cannot write the CSV file {str(path)!r}: {exc.strerror or exc}") from exc


def _inert(cell: object) -> object:
    """A typed text (a note, a reason, a plate) that a spreadsheet would run as a formula is written with a
    leading apostrophe; amounts ("-12.50") and other values are written as they are."""
    if isinstance(cell, str) and cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
        try:
            parse_yuan(cell.lstrip("-"))
        except MoneyError:
            return "'" + cell
    return cell


def read_csv_totals(path: Path) -> dict[str, int]:
    """The per-channel totals (fen) of a CSV written by write_csv, and "total"."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as source:
            rows = list(csv.reader(source))
    except (OSError, UnicodeDecodeError) as exc:
        raise ReportError(f"cannot read the CSV file {str(path)!r}: {exc}") from exc
    totals: dict[str, int] = {}
    header_seen = False
    for number, row in enumerate(rows, 1):
        if not row or row[0] != "channel":
            continue
        if not header_seen:
            header_seen = True  # the section's header row
            continue
        if len(row) < 5:
            raise ReportError(f"{path}: line {number}: a channel row has {len(row)} columns, expected 5")
        try:
            totals[row[1]] = parse_yuan(row[4])
        except MoneyError as exc:
            raise ReportError(f"{path}: line {number}: {exc}") from None
    if CSV_TOTAL_KEY not in totals:
        raise ReportError(f"{path}: no channel totals in this file (not a Booth report?)")
    return totals


def _yuan(fen: int | None) -> str:
    return "" if fen is None else format_yuan(fen)
