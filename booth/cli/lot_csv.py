"""``booth lot report --csv FILE``: the lot report (booth.lot.report) as CSV, for Excel.

The file is UTF-8 with a BOM (Excel in China then reads the Chinese) and has the figures of the text report,
section after section, like a booth's own report CSV (booth.office.reports.csv_file): the first column names
the section, and each section has its own header row. Amounts are **yuan with two decimals** as text
("1234.50"), as in the text report and the booth's CSV; every amount column's name ends in ``_yuan`` and the
``report`` section says so (``amount_unit``). The sections:

- ``report``: the server, the period and its time zone, when it was generated (the server's clock);
- ``booth``: one row per booth and one for the lot (``booth`` "*", name 合计): entries, exits, missed exits,
  payments (count, total, counted, flagged), manual lifts and free releases (count and fees), open
  conflicts;
- ``pay_type``, ``pay_channel``, ``flag``: per booth and for the lot (``*``), one row per key, with the
  booth report's key and words, count and amount;
- ``open_conflict`` (and ``conflict_rule``, how many per rule), ``settled_conflict`` (settled in the period);
- ``incomplete``: the booths whose figures may be incomplete, and why.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path

from booth.domain.money import format_yuan
from booth.lot.conflicts import RULE_LABELS
from booth.lot.report import BoothFigures, LotReport
from booth.office.reports.csv_file import _inert
from booth.office.reports.records import (
    FLAG_LABELS,
    channel_label,
    pay_channel_key,
    pay_channel_label,
)

#: the lot's row in the ``booth`` and per-key sections
TOTAL_BOOTH = "*"


def lot_csv_rows(report: LotReport) -> list[list[str]]:
    """The CSV's rows (cells as text), section after section, an empty row between two sections."""
    rows: list[list[str]] = []
    r = report

    def section(name: str, header: Sequence[str], body: Iterable[Sequence[object]]) -> None:
        if rows:
            rows.append([])
        rows.append([name, *header])
        rows.extend([name, *("" if v is None else str(v) for v in line)] for line in body)

    lt = r.local_text
    section(
        "report",
        ["item", "value"],
        [
            ["title", "车场报表（全部岗亭）"],
            ["server", r.server],
            ["start", lt(r.start)],
            ["end", lt(r.end)],
            ["zone", str(r.zone)],
            ["generated_at", lt(r.generated_at)],
            ["amount_unit", "yuan（元，两位小数）"],
        ],
    )
    figures: list[BoothFigures] = [*r.booths, r.total]

    def booth_of(f: BoothFigures) -> str:
        return TOTAL_BOOTH if f.booth_id == "*" else f.booth_id

    section(
        "booth",
        [
            "booth",
            "name",
            "entries",
            "exits",
            "missed_exits",
            "payment_count",
            "total_yuan",
            "counted_yuan",
            "flagged_yuan",
            "manual_lifts",
            "manual_lift_yuan",
            "free_releases",
            "free_release_yuan",
            "open_conflicts",
        ],
        [
            [
                booth_of(f),
                "合计" if f.booth_id == "*" else f.name,
                f.entries,
                f.exits,
                f.missed_exits,
                f.payment_count,
                format_yuan(f.total_fen),
                format_yuan(f.counted_fen),
                format_yuan(f.flagged_fen),
                f.manual_lifts,
                format_yuan(f.manual_lift_fen),
                f.free_releases,
                format_yuan(f.free_release_fen),
                f.open_conflicts,
            ]
            for f in figures
        ],
    )
    section(
        "pay_type",
        ["booth", "key", "label", "count", "amount_yuan"],
        [
            [booth_of(f), t.key, channel_label(t.key), t.count, format_yuan(t.amount_fen)]
            for f in figures
            for t in f.by_channel
        ],
    )
    section(
        "pay_channel",
        ["booth", "key", "label", "count", "amount_yuan"],
        [
            [
                booth_of(f),
                pay_channel_key(t.key),
                pay_channel_label(pay_channel_key(t.key)),
                t.count,
                format_yuan(t.amount_fen),
            ]
            for f in figures
            for t in f.by_pay_channel
        ],
    )
    section(
        "flag",
        ["booth", "key", "label", "count", "amount_yuan"],
        [
            [booth_of(f), t.key, FLAG_LABELS.get(t.key, t.key), t.count, format_yuan(t.amount_fen)]
            for f in figures
            for t in f.by_flag
        ],
    )
    section(
        "conflict_rule",
        ["rule", "label", "count"],
        [[rule, RULE_LABELS.get(rule, rule), n] for rule, n in r.conflicts_by_rule],
    )
    section(
        "open_conflict",
        ["id", "found", "rule", "label", "subject", "booths", "fee_yuan", "note"],
        [
            *(
                [
                    k.id,
                    lt(k.found_at),
                    k.rule,
                    RULE_LABELS.get(k.rule, k.rule),
                    k.subject,
                    ",".join(k.booths),
                    "" if k.fee_fen is None else format_yuan(k.fee_fen),
                    k.note,
                ]
                for k in r.conflicts
            ),
            *(
                [["…", f"另有 {r.open_conflicts - len(r.conflicts)} 条未列出"]]
                if r.open_conflicts > len(r.conflicts)
                else []
            ),
        ],
    )
    section(
        "settled_conflict",
        ["id", "found", "rule", "label", "subject", "booths", "settled_at", "settled_by", "note"],
        [
            [
                d.id,
                lt(d.found_at),
                d.rule,
                RULE_LABELS.get(d.rule, d.rule),
                d.subject,
                ",".join(d.booths),
                lt(d.settled_at),
                d.settled_by,
                d.settled_note,
            ]
            for d in r.settled
        ],
    )
    section(
        "incomplete",
        ["booth", "last_contact", "silent", "backlog"],
        [
            [
                s.booth_id,
                "" if s.last_contact_at is None else lt(s.last_contact_at),
                "yes" if s.silent else "no",
                s.backlog,
            ]
            for s in r.incomplete()
        ],
    )
    return rows


def write_lot_csv(report: LotReport, path: Path) -> None:
    """The lot report as CSV at ``path`` (UTF-8 with a BOM). OSError when it cannot be written there."""
    rows = lot_csv_rows(report)
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        csv.writer(out).writerows([[_inert(cell) for cell in row] for row in rows])


__all__ = ["TOTAL_BOOTH", "lot_csv_rows", "write_lot_csv"]
