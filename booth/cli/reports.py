"""``booth report``: the end-of-shift and period reports from the command line.

booth report shift --id N [--pdf FILE] [--csv FILE] [--config FILE]
booth report period --from DATE --to DATE [--attendant USER] [--pdf FILE] [--csv FILE] [--config FILE]

Dates are in the lot's local time: "2026-11-01" or "2026-11-01T08:00". A date alone in --to means the end of
that day, so ``--from 2026-11-01 --to 2026-11-30`` is all of November. Without --pdf/--csv a text summary is
printed. The PDF is drawn by Qt, which this package never imports: the ``booth`` console script (ui.launcher)
passes the renderer in, as it passes the window in to booth.cli.main.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from booth.cli.staff import FIRST_DAY, LAST_DAY, text_argument

if TYPE_CHECKING:
    from booth.config import Settings
    from booth.office.reports import Report

PdfRenderer = Callable[["Report", Path], None]
MAX_ID = 2**63 - 1

NO_QT = "--pdf needs the Qt part of Booth: run the `booth` command (not `python -m booth`), or use --csv"


def register(subparsers: Any) -> None:
    """Add ``report shift`` and ``report period`` to the ``booth`` parser's subcommands."""
    report = subparsers.add_parser("report", help="end-of-shift and period reports (screen text, PDF, CSV)")
    sub = report.add_subparsers(dest="report_command", required=True)
    shift = sub.add_parser("shift", help="the report of one closed shift")
    shift.add_argument(
        "--id", type=_shift_id, required=True, metavar="N", dest="shift_id", help="the shift's number"
    )
    period = sub.add_parser("period", help="the report of a period, optionally of one attendant")
    period.add_argument("--from", required=True, metavar="DATE", dest="start", help='"2026-11-01[T08:00]"')
    period.add_argument(
        "--to",
        required=True,
        metavar="DATE",
        dest="end",
        help="end (exclusive; a date alone: end of that day)",
    )
    period.add_argument(
        "--attendant", type=text_argument, metavar="USER", help="only within this attendant's shifts"
    )
    for p in (shift, period):
        p.add_argument("--pdf", metavar="FILE", type=Path, help="write the report as PDF")
        p.add_argument("--csv", metavar="FILE", type=Path, help="write the report as CSV (UTF-8, for Excel)")
        p.add_argument("--config", metavar="FILE", dest="sub_config")


def _shift_id(text: str) -> int:
    """--id: a shift number as the database can hold it (SQLite integers are 64-bit)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_ID:
        raise argparse.ArgumentTypeError(f"a shift number from 1 to {MAX_ID}, got {text!r}")
    return value


def run(args: argparse.Namespace, settings: Settings, render_pdf: PdfRenderer | None = None) -> int:
    """Build the report the parsed arguments ask for and print or write it; 0, or 1 with a message."""
    from booth.office.reports import ReportError, build_period_report, build_shift_report, write_csv
    from booth.store import StoreError, open_database

    if args.pdf is not None and render_pdf is None:
        print(NO_QT, file=sys.stderr)
        return 2
    try:
        if args.report_command == "period":
            start = parse_local(args.start, settings.park.zone, "--from", end_of_day=False)
            end = parse_local(args.end, settings.park.zone, "--to", end_of_day=True)
        database = open_database(settings.database.url)
        try:
            if args.report_command == "shift":
                report = build_shift_report(database, settings, args.shift_id)
            else:
                report = build_period_report(database, settings, start, end, attendant=args.attendant)
        finally:
            database.close()
        if args.csv is not None:
            write_csv(report, args.csv)
            print(f"CSV written: {args.csv}")
        if args.pdf is not None:
            assert render_pdf is not None
            render_pdf(report, args.pdf)
            print(f"PDF written: {args.pdf}")
    except (ReportError, StoreError, ValueError) as exc:
        print(f"report: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # the CSV or PDF cannot be written there
        where = exc.filename if exc.filename is not None else args.csv or args.pdf
        print(f"report: cannot write {where}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    if args.csv is None and args.pdf is None:
        for line in summary_lines(report):
            print(line)
    return 0


def parse_local(text: str, zone: ZoneInfo, option: str, *, end_of_day: bool) -> datetime:
    """'2026-11-01' or '2026-11-01T08:00' (the lot's local time) -> an aware datetime; ValueError by name."""
    value = text.strip()
    try:
        local = datetime.fromisoformat(value) if len(value) != 10 else None
        day = date.fromisoformat(value) if local is None else local.date()
    except ValueError:
        raise ValueError(
            f'{option}: not a date or date-time, expected "2026-11-01" or "2026-11-01T08:00", got {text!r}'
        ) from None
    if not FIRST_DAY <= day <= LAST_DAY:  # far outside, a day's end or its time in UTC overflows datetime
        raise ValueError(f"{option}: a date from {FIRST_DAY} to {LAST_DAY}, got {text!r}")
    if local is None:
        local = datetime.combine(day + timedelta(days=1 if end_of_day else 0), time())
    if local.tzinfo is not None:
        return local
    return local.replace(tzinfo=zone)


def summary_lines(report: Report) -> list[str]:
    """The report as plain text for the terminal (the main figures; the lists are counted, with samples)."""
    from booth.domain.money import format_yuan as y
    from booth.office.reports import (
        BACKLOG_LABELS,
        CLOUD_LABELS,
        EXCEPTION_LABELS,
        FLAG_LABELS,
        UNPAID_LABELS,
    )

    r = report
    lines = [
        f"{r.lot_name} — {r.title}",
        f"时段：{r.local_text(r.start)} – {r.local_text(r.end)}（{r.zone}）",
        "",
        "收款（按支付方式）：",
        *(f"  {c.label:<10} {c.count:>7} 笔 {y(c.amount_fen):>14}" for c in r.by_channel),
        f"  {'合计':<10} {r.payment_count:>7} 笔 {y(r.total_fen):>14}",
        "收款（按支付渠道）：",
        *(f"  {c.label:<10} {c.count:>7} 笔 {y(c.amount_fen):>14}" for c in r.by_pay_channel),
        f"已计收 {y(r.counted_fen)}，已标记待处理 {y(r.flagged_fen)}",
        *(f"  {c.label}：{c.count} 笔 {y(c.amount_fen)}" for c in r.by_flag),
        "",
        f"入场 {r.vehicles_in} 辆，出场 {r.vehicles_out} 辆，漏记出场 {r.missed_exits} 辆",
        "往次欠费：" + "，".join(f"{c.label} {c.count} 笔 {y(c.amount_fen)}" for c in r.arrears),
        *(
            f"  {EXCEPTION_LABELS.get(c.key, c.key)}：{c.count} 次，免收 {y(c.amount_fen)}"
            for c in r.exception_totals
        ),
        f"支付失败 {r.failed_payments.total} 次；"
        f"{FLAG_LABELS['late_after_settlement']} {r.late_payments.total} 笔；"
        f"已付款未出场 {r.paid_not_exited.total} 辆；未付款出场 {r.exited_unpaid.total} 辆",
    ]
    for e in r.exceptions.items[:10]:
        lines.append(
            f"  {r.local_text(e.at)} {EXCEPTION_LABELS.get(e.kind, e.kind)} {e.lane_id} {e.plate or ''} "
            f"{e.reason} {e.operator}" + (f"（批准 {e.approved_by}）" if e.approved_by else "")
        )
    for u in r.exited_unpaid.items[:10]:
        due = f" {y(u.due_fen)}" if u.due_fen is not None else ""
        lines.append(f"  未付款出场 {UNPAID_LABELS.get(u.kind, u.kind)} {r.local_text(u.at)} {u.plate}{due}")
    for p in r.late_payments.items[:10]:
        who = p.plate or p.order_ref
        late = FLAG_LABELS["late_after_settlement"]
        lines.append(f"  {late} {r.local_text(p.paid_at)} {who} {y(p.amount_fen)} {p.trade_no or ''}")
    if r.sync_backlog:
        backlog = (
            f"{CLOUD_LABELS.get(b.cloud, b.cloud)} {BACKLOG_LABELS.get(b.state, b.state)} {b.count}"
            for b in r.sync_backlog
        )
        lines.append("同步积压：" + "，".join(backlog))
    if r.cash is not None:
        c = r.cash
        lines += [
            "",
            f"备用金 {y(c.opening_float_fen)}  现金收入 {y(c.cash_taken_fen)}（{c.cash_payments} 笔）",
            f"应有现金 {_opt(c.expected_fen)}  清点现金 {_opt(c.counted_fen)}"
            f"  差额 {_variance(c.variance_fen)}" + (f"  主管签字 {c.cosigned_by}" if c.cosigned_by else ""),
            "  " + "  ".join(f"{y(d)}×{n}" for d, n in c.counted if n),
            f"留给下一班的备用金 {_opt(c.handover_float_fen)}"
            + (f"  备注 {c.close_note}" if c.close_note else ""),
        ]
    lines.append("")
    lines.append("每小时出场与收款（出场 / 收款）：")
    lines += [
        f"  {h.label:<12} {h.exits:>6} {y(h.revenue_fen):>14}" for h in r.hourly if h.exits or h.payments
    ]
    return lines


def _variance(fen: int | None) -> str:
    """The variance with its sign and in words, as the window's shift close says it: "−3.00（短款）"."""
    from booth.domain.money import format_yuan

    if fen is None:
        return "—"
    verdict = "长款" if fen > 0 else "短款" if fen < 0 else "账实相符"
    return f"{'+' if fen > 0 else '−' if fen < 0 else ''}{format_yuan(abs(fen))}（{verdict}）"


def _opt(fen: int | None) -> str:
    from booth.domain.money import format_yuan

    return "—" if fen is None else format_yuan(fen)
