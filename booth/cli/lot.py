"""``booth lot init|status|report [--config FILE]``: the lot server of ``[lot]`` (issue #18).

- ``init`` creates the lot schema on the server, or upgrades it to this Booth's, and says which it did
  (already there: says so and changes nothing). Run it once per lot, and again after upgrading Booth.
- ``status`` lists every booth the server knows, one line each: id, name, lanes, version, last contact (its
  age by the server's clock), backlog (journal entries not yet pushed, as the booth last told) and open
  shift. A booth not heard from for over a minute and a lane id used by two booths are flagged.
- ``report --from DATE --to DATE [--csv FILE]`` is the supervisor's lot report from the server's mirrors: per
  booth and in total, entries, exits, payments by pay type and channel to the fen, manual lifts, free
  releases, open conflicts, the conflicts settled in the period, and the booths whose figures may be
  incomplete (silent, or behind). Dates as ``booth report``. ``--csv`` writes the same figures as CSV
  (booth.cli.lot_csv) instead of printing them.
- ``conflicts [--all]`` lists the open conflicts (every one with ``--all``): id, when found, rule, subject,
  booths, the money in question, and what the rule says more than its subject.
- ``settle ID --note TEXT --by SUPERVISOR [--pin-stdin]`` settles one, once, with the supervisor's PIN
  checked against this booth's store (people are lot-wide: the pull copies them to every booth), as
  ``booth staff`` checks it (booth.lot.conflicts says what is written where).

Exit codes: 0 done (also when something is flagged); 1 the settings or the server's schema are wrong, or the
settle is refused (unknown id, settled already, wrong PIN); 2 the server does not answer (the one line names
it).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from booth.cli.staff import text_argument
from booth.config import ConfigError, LotSettings

if TYPE_CHECKING:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from booth.config import Settings
    from booth.lot.conflicts import ConflictList
    from booth.lot.report import LotReport
    from booth.lot.server import LotStatus

#: the exit code when the lot server does not answer
UNREACHABLE = 2


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    lot = subparsers.add_parser("lot", help="the lot server: its schema and every booth's last contact")
    sub = lot.add_subparsers(dest="lot_command", required=True)
    init = sub.add_parser("init", help="create the lot schema on the server, or upgrade it; idempotent")
    init.add_argument("--config", metavar="FILE", dest="sub_config", help="settings file")
    init.set_defaults(handler=_init)
    status = sub.add_parser("status", help="every booth: last contact, version, backlog, open shift")
    status.add_argument("--config", metavar="FILE", dest="sub_config", help="settings file")
    status.set_defaults(handler=_status)
    report = sub.add_parser(
        "report", help="the lot report: every booth, per booth and in total, from the server"
    )
    report.add_argument("--from", required=True, metavar="DATE", dest="start", help='"2026-11-01[T08:00]"')
    report.add_argument(
        "--to",
        required=True,
        metavar="DATE",
        dest="end",
        help="end (exclusive; a date alone: end of that day)",
    )
    report.add_argument(
        "--csv",
        metavar="FILE",
        type=Path,
        help="write the report as CSV (UTF-8 with a BOM, for Excel; amounts in yuan) instead of printing it",
    )
    report.add_argument("--config", metavar="FILE", dest="sub_config", help="settings file")
    report.set_defaults(handler=_report)
    conflicts = sub.add_parser("conflicts", help="the conflicts the lot checks found, for the supervisor")
    conflicts.add_argument("--all", action="store_true", help="settled ones too")
    conflicts.add_argument("--config", metavar="FILE", dest="sub_config", help="settings file")
    conflicts.set_defaults(handler=_conflicts)
    settle = sub.add_parser("settle", help="settle a conflict (a supervisor, with their PIN), once")
    settle.add_argument("conflict_id", type=_conflict_id, metavar="ID", help="as `booth lot conflicts` lists")
    settle.add_argument("--note", required=True, type=text_argument, help="what was decided (kept with it)")
    settle.add_argument(
        "--by", required=True, type=text_argument, metavar="SUPERVISOR", help="the supervisor settling it"
    )
    settle.add_argument(
        "--pin-stdin", action="store_true", help="read the supervisor's PIN from stdin (for scripts)"
    )
    settle.add_argument("--config", metavar="FILE", dest="sub_config", help="settings file")
    settle.set_defaults(handler=_settle)


#: lot_conflicts.id is a PostgreSQL bigint
MAX_CONFLICT_ID = 2**63 - 1


def _conflict_id(text: str) -> int:
    try:
        value = int(text.lstrip("#"))
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_CONFLICT_ID:
        raise argparse.ArgumentTypeError(f"a conflict number as `booth lot conflicts` lists it, got {text!r}")
    return value


def _lot_of(args: argparse.Namespace, command: str) -> LotSettings | None:
    """The settings' [lot], or None after saying on stderr why there is none."""
    settings = _settings_with_lot(args, command)
    return None if settings is None else settings.lot


def _settings_with_lot(args: argparse.Namespace, command: str) -> Settings | None:
    """The settings, if they have a [lot]; else None after saying on stderr why not."""
    from booth.cli.demo import load_for_command

    try:
        settings = load_for_command(args.sub_config or getattr(args, "config", None), bool(args.demo))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return None
    if settings.lot is None:
        print(
            f"booth lot {command}: no [lot] section in the settings: this booth is not part of a lot "
            "(see the commented [lot] in `booth config example`)",
            file=sys.stderr,
        )
        return None
    return settings


def _init(args: argparse.Namespace) -> int:
    from booth.lot.server import LotServerError, LotServerUnreachable, init_lot

    lot = _lot_of(args, "init")
    if lot is None:
        return 1
    try:
        done = init_lot(lot.server, connect_timeout_s=lot.connect_timeout_s)
    except LotServerUnreachable as exc:
        print(f"booth lot init: {exc}", file=sys.stderr)
        return UNREACHABLE
    except LotServerError as exc:
        print(f"booth lot init: {exc}", file=sys.stderr)
        return 1
    print(done.describe())
    return 0


def _status(args: argparse.Namespace) -> int:
    from booth.lot.server import LotServerError, LotServerUnreachable, lot_status

    lot = _lot_of(args, "status")
    if lot is None:
        return 1
    try:
        status = lot_status(lot.server, connect_timeout_s=lot.connect_timeout_s)
    except LotServerUnreachable as exc:
        print(f"booth lot status: {exc}", file=sys.stderr)
        return UNREACHABLE
    except LotServerError as exc:
        print(f"booth lot status: {exc}", file=sys.stderr)
        return 1
    for line in describe_status(status, this_booth=lot.booth_id):
        print(line)
    return 0


def _report(args: argparse.Namespace) -> int:
    from booth.cli.reports import parse_local
    from booth.lot.report import build_lot_report
    from booth.lot.server import LotServerError, LotServerUnreachable

    settings = _settings_with_lot(args, "report")
    if settings is None or settings.lot is None:
        return 1
    zone = settings.park.zone
    try:
        start = parse_local(args.start, zone, "--from", end_of_day=False)
        end = parse_local(args.end, zone, "--to", end_of_day=True)
    except ValueError as exc:
        print(f"booth lot report: {exc}", file=sys.stderr)
        return 1
    try:
        report = build_lot_report(
            settings.lot.server, start, end, zone, connect_timeout_s=settings.lot.connect_timeout_s
        )
    except LotServerUnreachable as exc:
        print(f"booth lot report: {exc}", file=sys.stderr)
        return UNREACHABLE
    except LotServerError as exc:
        print(f"booth lot report: {exc}", file=sys.stderr)
        return 1
    if args.csv is not None:
        from booth.cli.lot_csv import write_lot_csv

        try:
            write_lot_csv(report, args.csv)
        except OSError as exc:
            print(f"booth lot report: cannot write {args.csv}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        print(f"CSV written: {args.csv}")
        return 0
    for line in report_lines(report):
        print(line)
    return 0


def _conflicts(args: argparse.Namespace) -> int:
    from booth.lot.conflicts import list_conflicts
    from booth.lot.server import LotServerError, LotServerUnreachable

    settings = _settings_with_lot(args, "conflicts")
    if settings is None or settings.lot is None:
        return 1
    try:
        found = list_conflicts(
            settings.lot.server,
            settings.park.zone,
            include_settled=args.all,
            connect_timeout_s=settings.lot.connect_timeout_s,
        )
    except LotServerUnreachable as exc:
        print(f"booth lot conflicts: {exc}", file=sys.stderr)
        return UNREACHABLE
    except LotServerError as exc:
        print(f"booth lot conflicts: {exc}", file=sys.stderr)
        return 1
    for line in conflict_lines(found, settings.park.zone, every=args.all):
        print(line)
    return 0


def _settle(args: argparse.Namespace) -> int:
    """Read the conflict (unknown or settled: refused before any PIN is asked), check the supervisor's PIN
    against this booth's store, settle it on the server, then leave the audit entry here."""
    from booth.cli.staff import _PinReader, _Refused, _supervisor
    from booth.lot.conflicts import (
        ConflictAlreadySettled,
        ConflictError,
        already_settled,
        audit_settled,
        checked_note,
        get_conflict,
        settle_conflict,
    )
    from booth.lot.server import LotServerError, LotServerUnreachable
    from booth.office.staff import Staff
    from booth.store import StoreError, open_database

    command = "booth lot settle"
    settings = _settings_with_lot(args, "settle")
    if settings is None or settings.lot is None:
        return 1
    lot, zone = settings.lot, settings.park.zone
    try:
        note = checked_note(args.note)
    except ValueError as exc:
        print(f"{command}: {exc}", file=sys.stderr)
        return 1
    try:
        conflict = get_conflict(lot.server, args.conflict_id, zone, connect_timeout_s=lot.connect_timeout_s)
        if conflict.settled:
            raise ConflictAlreadySettled(already_settled(conflict, zone), conflict)
        database = open_database(settings.database.url)
        try:
            try:
                by = _supervisor(Staff(database, settings.staff), args.by, _PinReader(args.pin_stdin))
            except _Refused as exc:
                print(f"{command}: {exc}", file=sys.stderr)
                return exc.exit_code
            done = settle_conflict(
                lot.server, conflict.id, by=by, note=note, zone=zone, connect_timeout_s=lot.connect_timeout_s
            )
            try:
                audit_settled(database, done, booth_id=lot.booth_id)
            except StoreError as exc:
                print(f"{command}: warning: settled on the server, but {exc}", file=sys.stderr)
        finally:
            database.close()
    except LotServerUnreachable as exc:
        print(f"{command}: {exc}", file=sys.stderr)
        return UNREACHABLE
    except (ConflictError, LotServerError, StoreError, ValueError) as exc:
        print(f"{command}: {exc}", file=sys.stderr)
        return 1
    assert done.settled_at is not None
    print(
        f"conflict #{done.id} ({done.rule} {done.subject}) settled at "
        f"{done.settled_at.astimezone(zone).strftime('%Y-%m-%d %H:%M')} (server time) by {done.settled_by}: "
        f"{done.settled_note}"
    )
    return 0


def report_lines(report: LotReport) -> list[str]:
    """``booth lot report``'s text: a table of the booths and the lot's total, the payments by pay type, by
    pay channel and flagged (one column each, in the booth report's words and order), the open conflicts,
    and the booths whose figures may be incomplete."""
    from booth.domain.money import format_yuan as y
    from booth.lot.conflicts import RULE_LABELS
    from booth.office.reports.records import (
        CHANNEL_ORDER,
        FLAG_LABELS,
        PAY_CHANNEL_ORDER,
        channel_label,
        pay_channel_key,
        pay_channel_label,
    )

    r = report
    figures = [*r.booths, r.total]

    def who(booth_id: str) -> str:
        return "合计" if booth_id == "*" else booth_id

    lines = [
        f"车场报表（全部岗亭）：lot server {r.server}",
        f"时段：{r.local_text(r.start)} – {r.local_text(r.end)}（{r.zone}），"
        f"生成于 {r.local_text(r.generated_at)}（服务器时间）",
        "",
    ]
    head = (
        "岗亭",
        "入场",
        "出场",
        "漏记出场",
        "收款笔数",
        "收款金额",
        "已计收",
        "待处理",
        "人工抬杆",
        "免费放行",
        "未决冲突",
    )
    rows = [head] + [
        (
            who(f.booth_id),
            str(f.entries),
            str(f.exits),
            str(f.missed_exits),
            str(f.payment_count),
            y(f.total_fen),
            y(f.counted_fen),
            y(f.flagged_fen),
            f"{f.manual_lifts} 次 {y(f.manual_lift_fen)}",
            f"{f.free_releases} 次 {y(f.free_release_fen)}",
            str(f.open_conflicts),
        )
        for f in figures
    ]
    lines += _table(rows)
    kinds = (
        ("收款（按支付方式）", "by_channel", channel_label, lambda k: k, CHANNEL_ORDER),
        ("收款（按支付渠道）", "by_pay_channel", pay_channel_label, pay_channel_key, PAY_CHANNEL_ORDER),
        ("已标记待处理", "by_flag", lambda k: FLAG_LABELS.get(k, k), lambda k: k, tuple(FLAG_LABELS)),
    )
    for title, attr, label, key_of, order in kinds:
        per_booth = [
            (f, {key_of(t.key): t for t in getattr(f, attr)}) for f in figures
        ]  # pay channels: Bolink's number -> the booth report's key
        present = {k for _, mine in per_booth for k in mine}
        keys = [k for k in order if k in present] + sorted(k for k in present if k not in order)
        if not keys:
            continue
        lines += ["", f"{title}："]
        table = [("岗亭", *(str(label(k)) for k in keys))]
        for f, mine in per_booth:
            cells = (f"{mine[k].count} 笔 {y(mine[k].amount_fen)}" if k in mine else "-" for k in keys)
            table.append((who(f.booth_id), *cells))
        lines += _table(table)
    lines.append("")
    if r.open_conflicts:
        by_rule = "，".join(f"{RULE_LABELS.get(rule, rule)} {n}" for rule, n in r.conflicts_by_rule)
        lines.append(f"未决冲突 {r.open_conflicts} 条（{by_rule}）：")
        for k in r.conflicts:
            money = "" if k.fee_fen is None or k.note else f" 涉及金额 {y(k.fee_fen)}"
            lines.append(
                f"  #{k.id} {r.local_text(k.found_at)} {RULE_LABELS.get(k.rule, k.rule)} {k.subject}"
                f"（{'，'.join(k.booths)}）{money}"
            )
            if k.note:
                lines.append(f"    {k.note}")
        if r.open_conflicts > len(r.conflicts):
            lines.append(f"  …另有 {r.open_conflicts - len(r.conflicts)} 条")
    else:
        lines.append("未决冲突：无")
    if r.settled:
        lines.append(f"本时段已处理冲突 {len(r.settled)} 条：")
        for d in r.settled:
            lines.append(
                f"  #{d.id} {RULE_LABELS.get(d.rule, d.rule)} {d.subject}（{'，'.join(d.booths)}），"
                f"发现于 {r.local_text(d.found_at)}，{r.local_text(d.settled_at)} 由 {d.settled_by} 处理："
                f"{d.settled_note}"
            )
    incomplete = r.incomplete()
    if not incomplete:
        lines.append("各岗亭均已上传到时段结束之后。")
        return lines
    lines.append("以下岗亭的数据可能不完整：")
    for s in incomplete:
        why = []
        if s.last_contact_at is None:
            why.append("服务器上有其数据，但无岗亭记录（lot_booths）")
        else:
            if s.silent:
                why.append(f"失联，最后联系 {r.local_text(s.last_contact_at)}")
            elif s.last_contact_at < r.end:
                why.append(f"最后联系 {r.local_text(s.last_contact_at)}，早于时段结束")
            if s.backlog:
                why.append(f"{s.backlog} 条日志尚未上传")
        lines.append(f"  {s.booth_id}：{'；'.join(why)}")
    return lines


def conflict_lines(found: ConflictList, zone: ZoneInfo, *, every: bool = False) -> list[str]:
    """``booth lot conflicts``: a heading, then per conflict a line (id, found, rule, subject, booths, the
    money in question, open or settled) and, indented, the rule's words, its note and the settle's."""
    from booth.domain.money import format_yuan
    from booth.lot.conflicts import RULE_LABELS

    def local(at: datetime) -> str:
        return at.astimezone(zone).strftime("%Y-%m-%d %H:%M")

    conflicts = found.conflicts
    settled = sum(1 for k in conflicts if k.settled)
    what = f"{len(conflicts)} open conflict(s)"
    if every:
        what = f"{len(conflicts)} conflict(s), {settled} settled"
    lines = [f"lot server {found.server}: {what} (times in {zone}, money in yuan)"]
    if not conflicts:
        return lines
    rows = [("id", "found", "rule", "subject", "booths", "fee", "state")]
    for k in conflicts:
        state = "open" if k.settled_at is None else f"settled {local(k.settled_at)} by {k.settled_by}"
        rows.append(
            (
                f"#{k.id}",
                local(k.found_at),
                k.rule,
                k.subject,
                ",".join(k.booths) or "-",
                "-" if k.fee_fen is None else format_yuan(k.fee_fen),
                state,
            )
        )
    widths = [max(_width(row[i]) for row in rows) for i in range(len(rows[0]))]
    table = [
        ("  " + "  ".join(_pad(cell, widths[i], right=i == 5) for i, cell in enumerate(row))).rstrip()
        for row in rows
    ]
    lines.append(table[0])
    for k, line in zip(conflicts, table[1:], strict=True):
        lines.append(line)
        lines.append(f"      {RULE_LABELS.get(k.rule, k.rule)}" + (f"：{k.note}" if k.note else ""))
        if k.settled_note is not None:
            lines.append(f"      处理说明：{k.settled_note}")
    if not every:
        lines.append("settle one with: booth lot settle ID --note TEXT --by SUPERVISOR")
    return lines


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    """Columns padded to their widest cell (CJK counted as two), numbers right-aligned."""
    widths = [max(_width(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        ("  " + "  ".join(_pad(cell, widths[i], right=i > 0) for i, cell in enumerate(row))).rstrip()
        for row in rows
    ]


def age(seconds: float) -> str:
    """An age in the unit a person reads at a glance: 42 s, 7 min, 3 h, 2 d."""
    if seconds < 0:
        return f"{-seconds:.0f} s ahead"  # (contacts are the server's clock: only if it stepped back since)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} d"


def describe_status(status: LotStatus, *, this_booth: str | None = None) -> list[str]:
    """The lines ``booth lot status`` prints: a heading, one line per booth, then what is flagged."""
    from booth.lot.server import SILENT_AFTER_S

    lines = [f"lot server {status.server}: lot schema {status.revision}, {len(status.booths)} booth(s)"]
    if not status.booths:
        lines.append("  no booth has been in contact yet")
        return lines
    silent = {b.booth_id for b in status.silent()}
    clashes = status.lane_clashes()
    rows = [("booth", "name", "lanes", "version", "last contact", "backlog", "open shift", "")]
    for booth in status.booths:
        shift = (
            "-" if booth.open_shift_id is None else f"#{booth.open_shift_id} {booth.open_shift_person or ''}"
        )
        flags = []
        if booth.booth_id in silent:
            flags.append(f"SILENT over {SILENT_AFTER_S} s")
        clashing = [lane for lane in booth.lanes if lane in clashes]
        if clashing:
            flags.append("LANE " + ",".join(clashing) + " ALSO AT ANOTHER BOOTH")
        rows.append(
            (
                booth.booth_id + (" (this)" if booth.booth_id == this_booth else ""),
                booth.name or "-",
                ",".join(booth.lanes) or "-",
                booth.version or "-",
                age(status.age_s(booth)) + " ago" if status.age_s(booth) >= 0 else age(status.age_s(booth)),
                str(booth.backlog),
                shift.strip(),
                "; ".join(flags),
            )
        )
    widths = [max(_width(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [_pad(cell, widths[i], right=i == 5) for i, cell in enumerate(row[:-1])]
        lines.append(("  " + "  ".join(cells) + ("  " + row[-1] if row[-1] else "")).rstrip())
    if silent:
        lines.append(
            f"warning: not heard from for over {SILENT_AFTER_S} s: {', '.join(sorted(silent))} "
            "(stopped, or cut off from the server)"
        )
    for lane, booths in clashes.items():
        lines.append(
            f"warning: lane {lane} is used by {len(booths)} booths ({', '.join(booths)}): lane ids must be "
            "unique in the lot; rename one in its [[lanes]]"
        )
    return lines


def _width(text: str) -> int:
    """Columns a text takes in a terminal: a CJK character takes two."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int, *, right: bool = False) -> str:
    fill = " " * (width - _width(text))
    return fill + text if right else text + fill
