"""The SQL of a report: one read transaction, every query over the same windows.

Everything is aggregated in SQL (GROUP BY / SUM / COUNT over the indexed time columns: payments.paid_at,
stays.entry_at / exit_at, exit_orders.settled_at, lane_exceptions.at, audit_log(action, at)), inside one
read transaction, so the figures are one consistent snapshot and a month of a million exits builds in
seconds. Lists are capped at ``list_limit`` rows; each says how many rows there are in all. Hourly buckets
are in the lot's local time: per hour for a window up to 48 hours, per hour of the day (0-23, summed) for
longer ones.

With [retention]'s archive files attached, each query but the sync backlog's (whose pending and dead rows
are never archived) runs once per file, the database and then each archive file
(booth.store.archive.each_file), and the files' rows are merged here: totals added, lists sorted as the SQL
sorts them and cut again. SQLite would materialise the archive's UNION ALL views whole inside a join.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, String, and_, exists, false, func, or_, select
from sqlalchemy.orm import Session, aliased

from booth.config import Settings
from booth.office.reports.records import (
    ARREARS_LABELS,
    EXCEPTION_LABELS,
    HOURLY_MAX,
    LATE,
    SETTLEMENT_LABELS,
    BacklogLine,
    CountLine,
    ExceptionLine,
    FailedPayment,
    HourBucket,
    Listing,
    PaidNotExited,
    PaymentLine,
    ReportError,
    UnpaidLine,
    Window,
)
from booth.store.archive import each_file
from booth.store.models import Arrears, AuditEntry, ExitOrder, LaneException, OutboxRow, Payment, Stay


@dataclass(frozen=True, slots=True)
class Figures:
    """The window's totals, gathered first (a period without any is refused before its lists are built)."""

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


class ReportQueries:
    """The queries of one report, all in one read transaction over the same windows (``span`` is the whole
    period; ``windows`` the parts of it counted, e.g. an attendant's shifts)."""

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

    def figures(self) -> Figures:
        s = self.session
        payment_slot = self.slot(Payment.paid_at)
        exit_slot = self.slot(Stay.exit_at)
        pay_rows: list[Any] = []
        exit_rows: list[Any] = []
        settled_by: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        exceptions_by: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        vehicles_in = failed = 0
        for _ in each_file(s):
            pay_rows += s.execute(
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
            exit_rows += s.execute(
                select(exit_slot, Stay.state, func.count())
                .where(self.within(Stay.exit_at))
                .group_by(exit_slot, Stay.state)
            ).all()
            vehicles_in += int(
                s.scalar(select(func.count()).select_from(Stay).where(self.within(Stay.entry_at))) or 0
            )
            for state, n, fen in s.execute(
                select(ExitOrder.state, func.count(), func.coalesce(func.sum(ExitOrder.due_fen), 0))
                .where(self.within(ExitOrder.settled_at))
                .group_by(ExitOrder.state)
            ):
                settled_by[state][0] += int(n)
                settled_by[state][1] += int(fen)
            for kind, n, fen in s.execute(
                select(LaneException.kind, func.count(), func.coalesce(func.sum(LaneException.due_fen), 0))
                .where(self.within(LaneException.at))
                .group_by(LaneException.kind)
            ):
                exceptions_by[kind][0] += int(n)
                exceptions_by[kind][1] += int(fen)
            failed += int(
                s.scalar(
                    select(func.count())
                    .select_from(AuditEntry)
                    .where(AuditEntry.action == "payment_failed", self.within(AuditEntry.at))
                )
                or 0
            )
        settled = sorted((st, n, fen) for st, (n, fen) in settled_by.items())
        exceptions = sorted((k, n, fen) for k, (n, fen) in exceptions_by.items())

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
        return Figures(
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
        found: list[LaneException] = []
        for _ in each_file(self.session):
            found += self.session.execute(
                select(LaneException)
                .where(self.within(LaneException.at))
                .order_by(LaneException.at, LaneException.id)
                .limit(self.limit)
            ).scalars()
        rows = sorted(found, key=lambda r: (r.at, r.id))[: self.limit]
        items = tuple(
            ExceptionLine(
                r.at, r.kind, r.lane_id, r.plate, r.due_fen, r.reason, r.note, r.operator, r.approved_by
            )
            for r in rows
        )
        return Listing(items, total)

    def failed_payments(self, total: int) -> Listing[FailedPayment]:
        found: list[Any] = []
        for _ in each_file(self.session):
            found += self.session.execute(
                select(AuditEntry.at, AuditEntry.id, AuditEntry.actor, AuditEntry.detail_json)
                .where(AuditEntry.action == "payment_failed", self.within(AuditEntry.at))
                .order_by(AuditEntry.at, AuditEntry.id)
                .limit(self.limit)
            ).all()
        rows = sorted(found, key=lambda r: (r[0], r[1]))[: self.limit]
        return Listing(tuple(_failed(at, actor, detail) for at, _, actor, detail in rows), total)

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
        found: list[Any] = []
        for _ in each_file(self.session):  # (each file's first `limit` of each kind: enough for all)
            found += self.session.execute(
                select(Payment, Stay.plate)
                .join(numbered, numbered.c.id == Payment.id)
                .outerjoin(Stay, Stay.id == Payment.stay_id)
                .where(numbered.c.n <= self.limit)
                .order_by(Payment.paid_at, Payment.id)
            ).all()
        found.sort(key=lambda row: (row[0].paid_at, row[0].id))
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
            for p, plate in found
        ]
        return (
            Listing(tuple(line for line in lines if line.flag == LATE)[: self.limit], late_total),
            Listing(tuple(line for line in lines if line.flag != LATE)[: self.limit], other_total),
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
        found: list[Any] = []
        total = 0
        for _ in each_file(self.session):  # (a stay and its payments are in one file)
            rows = self.session.execute(
                select(
                    stay.id,
                    stay.plate,
                    stay.order_id,
                    stay.entry_at,
                    grouped.c.paid,
                    grouped.c.last,
                    func.count().over(),  # every row's count of all rows: the list and its length at once
                )
                .join(grouped, grouped.c.stay_id == stay.id)
                .order_by(grouped.c.last, stay.id)
                .limit(self.limit)
            ).all()
            found += rows
            total += int(rows[0][-1]) if rows else 0
            if not rows and self.limit == 0:
                total += int(self.session.scalar(select(func.count()).select_from(grouped)) or 0)
        found.sort(key=lambda row: (utc(row[5]), row[0]))
        items = tuple(
            PaidNotExited(sid, plate, order_id, entry_at, int(paid), utc(last))
            for sid, plate, order_id, entry_at, paid, last, _ in found[: self.limit]
        )
        return Listing(items, total)

    def exited_unpaid(self) -> Listing[UnpaidLine]:
        s = self.session
        missed_where = and_(self.within(Stay.exit_at), Stay.state == "cancelled")
        missed_query = (
            select(Stay.exit_at, Stay.plate, Stay.entry_at, Arrears.noticed_lane, Arrears.amount_fen, Stay.id)
            .outerjoin(Arrears, Arrears.stay_id == Stay.id)
            .where(missed_where)
            .order_by(Stay.exit_at, Stay.id)
            .limit(self.limit)
        )
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
        lifts_query = (
            select(LaneException, Stay.entry_at, Stay.plate)
            .outerjoin(order, order.id == LaneException.exit_order_id)
            .outerjoin(Stay, Stay.id == LaneException.stay_id)
            .where(lift_where)
            .order_by(LaneException.at, LaneException.id)
            .limit(self.limit)
        )
        missed: list[Any] = []
        lifts: list[Any] = []
        total = 0
        for _ in each_file(s):  # (a lift's order, stay and payments are in its file)
            missed += s.execute(missed_query).all()
            lifts += s.execute(lifts_query).all()
            total += self._count(select(Stay.id).where(missed_where)) + self._count(
                select(LaneException.id)
                .outerjoin(order, order.id == LaneException.exit_order_id)
                .where(lift_where)
            )
        missed = sorted(missed, key=lambda row: (row[0], row[5]))[: self.limit]
        lifts = sorted(lifts, key=lambda row: (row[0].at, row[0].id))[: self.limit]
        lines = [
            UnpaidLine("missed_exit", at or entry_at, plate, entry_at, lane, owed, None, None)
            for at, plate, entry_at, lane, owed, _ in missed
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
            n = fen = 0
            for _ in each_file(s):
                count, amount = s.execute(
                    select(func.count(), func.coalesce(func.sum(Arrears.amount_fen), 0)).where(where)
                ).one()
                n, fen = n + int(count), fen + int(amount)
            lines.append(CountLine(key, ARREARS_LABELS[key], n, fen))
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
        return tuple(BacklogLine(c, st, int(n), utc(oldest) if oldest else None) for c, st, n, oldest in rows)

    def _count(self, query: Any) -> int:
        return int(self.session.scalar(select(func.count()).select_from(query.subquery())) or 0)


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


def utc(value: datetime | str) -> datetime:
    """Aggregates (MAX, MIN) lose the column type on SQLite and come back as text."""
    if isinstance(value, str):
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    return value if value.tzinfo else value.replace(tzinfo=UTC)
