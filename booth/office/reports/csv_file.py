"""A report as a CSV file (UTF-8 with a BOM, for Excel), and the channel totals read back from one."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from booth.domain.money import MoneyError, format_yuan, parse_yuan
from booth.office.reports.records import (
    EXCEPTION_LABELS,
    FLAG_LABELS,
    UNPAID_LABELS,
    Listing,
    Report,
    ReportError,
    channel_label,
)

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
                ["cosigned_by", "主管签字", c.cosigned_by or ""],
                ["handover_float", "留给下一班的备用金", _yuan(c.handover_float_fen)],
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
                    UNPAID_LABELS.get(u.kind, u.kind),
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
