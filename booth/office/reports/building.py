"""Building a report: of one closed shift, or of a period (optionally only within one attendant's shifts).

A shift's window is [opened_at, closed_at); an attendant's period report is the union of that attendant's
shift windows clipped to the period. The queries are in :mod:`.queries`, what a report holds in
:mod:`.records`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from booth.config import Settings
from booth.office.reports.queries import Figures, ReportQueries
from booth.office.reports.records import (
    CHANNEL_ORDER,
    FLAG_LABELS,
    LATE,
    LIST_LIMIT,
    PAY_CHANNEL_ORDER,
    CashSummary,
    ChannelTotal,
    Report,
    ReportError,
    ShiftInfo,
    Window,
    channel_label,
    pay_channel_key,
    pay_channel_label,
)
from booth.office.shifts import cash_kept
from booth.store.archive import archive_reader, archived_shift_times
from booth.store.db import Database
from booth.store.models import Person, Shift
from booth.store.records import StoreError


def build_shift_report(
    db: Database, settings: Settings, shift_id: int, *, list_limit: int = LIST_LIMIT
) -> Report:
    """The report of one closed shift; ReportError for an unknown or still open shift."""
    if not isinstance(shift_id, int) or isinstance(shift_id, bool) or shift_id < 1:
        raise ReportError(f"a shift id is a positive whole number, got {shift_id!r}")
    times: tuple[datetime, datetime | None] | None
    with _read(db, settings, since=None, archive=False) as session:
        found = session.execute(select(Shift.opened_at, Shift.closed_at).where(Shift.id == shift_id)).first()
        times = None if found is None else (found[0], found[1])
    if times is None:  # a shift no longer in the database: the archive file that holds it
        try:
            times = archived_shift_times(settings.retention.folder_for(str(db.engine.url)), shift_id)
        except StoreError as exc:
            raise ReportError(f"cannot read the database: {exc}") from exc
        if times is None:
            raise ReportError(f"there is no shift {shift_id}")
    with _read(db, settings, since=times[0], until=times[1]) as session:
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
        queries = ReportQueries(session, settings, (window,), window, list_limit)
        figures = queries.figures()
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
        return _assemble(
            queries, figures, "shift", title, shift=info, attendant=(username, display_name), cash=cash
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
    with _read(db, settings, since=start, until=end) as session:
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
        queries = ReportQueries(session, settings, windows, (start, end), list_limit)
        figures = queries.figures()
        if figures.empty:
            raise ReportError(f"no data between {_text(start, zone)} and {_text(end, zone)}")
        title = f"期间报表 {_text(start, zone)} – {_text(end, zone)}"
        if who is not None:
            title += f" {who[1]}"
        return _assemble(queries, figures, "period", title, shift=None, attendant=who, cash=None)


def _assemble(
    q: ReportQueries,
    figures: Figures,
    kind: Literal["shift", "period"],
    title: str,
    *,
    shift: ShiftInfo | None,
    attendant: tuple[str, str] | None,
    cash: CashSummary | None,
) -> Report:
    """The report from its totals and the lists, in the same read transaction."""
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
    late, other = q.flagged(
        by_flag[LATE][0] if LATE in by_flag else 0, sum(n for k, (n, _) in by_flag.items() if k != LATE)
    )
    flagged = sum(fen for _, fen in by_flag.values())
    return Report(
        lot_name=q.settings.park.name,
        title=title,
        kind=kind,
        start=q.span[0],
        end=q.span[1],
        zone=q.zone,
        generated_at=datetime.now(UTC),
        windows=q.windows,
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
        exceptions=q.exceptions(sum(c.count for c in figures.exception_totals)),
        failed_payments=q.failed_payments(figures.failed_count),
        late_payments=late,
        other_flagged=other,
        paid_not_exited=q.paid_not_exited(),
        exited_unpaid=q.exited_unpaid(),
        arrears=q.arrears(),
        sync_backlog=q.sync_backlog(),
        hourly_kind="hour_of_day" if q.by_hour_of_day else "hour",
        hourly=figures.hourly,
        cash=cash,
    )


def _totals(table: dict[str, list[int]], label: Any, order: Sequence[str]) -> tuple[ChannelTotal, ...]:
    """Known keys first in their usual order, then any others alphabetically."""
    keys = [k for k in order if k in table] + sorted(k for k in table if k not in order)
    return tuple(ChannelTotal(k, label(k), table[k][0], table[k][1]) for k in keys)


def _counted(counted_json: str | None) -> tuple[tuple[int, int], ...]:
    if not counted_json:
        return ()
    try:
        raw = json.loads(counted_json)
        pairs = raw.items() if isinstance(raw, dict) else raw
        return tuple(sorted(((int(d), int(n)) for d, n in pairs), reverse=True))
    except (ValueError, TypeError) as exc:
        raise ReportError(f"the shift's stored cash count is unreadable: {counted_json!r} ({exc})") from None


def _text(at: datetime, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%Y-%m-%d %H:%M")


@contextmanager
def _read(
    db: Database,
    settings: Settings,
    *,
    since: datetime | None,
    until: datetime | None = None,
    archive: bool = True,
) -> Iterator[Session]:
    """One read transaction (a consistent snapshot); database errors become ReportError naming the cause.

    With [retention]'s archive files beside the database, those that may hold rows of [since, until) are
    read too (booth.store.archive.archive_reader)."""
    folder = settings.retention.folder_for(str(db.engine.url)) if archive else None
    try:
        with archive_reader(db, folder, settings.park.zone, since=since, until=until) as session:
            yield session
    except (SQLAlchemyError, StoreError) as exc:
        raise ReportError(f"cannot read the database: {exc}") from exc
