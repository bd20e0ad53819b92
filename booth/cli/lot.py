"""``booth lot init|status [--config FILE]``: the lot server of ``[lot]`` (issue #18).

- ``init`` creates the lot schema on the server, or upgrades it to this Booth's, and says which it did
  (already there: says so and changes nothing). Run it once per lot, and again after upgrading Booth.
- ``status`` lists every booth the server knows, one line each: id, name, lanes, version, last contact (its
  age by the server's clock), backlog (journal entries not yet pushed, as the booth last told) and open
  shift. A booth not heard from for over a minute and a lane id used by two booths are flagged.

Exit codes: 0 done (also when something is flagged); 1 the settings or the server's schema are wrong; 2 the
server does not answer (the one line names it).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from booth.config import ConfigError, LotSettings

if TYPE_CHECKING:
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


def _lot_of(args: argparse.Namespace, command: str) -> LotSettings | None:
    """The settings' [lot], or None after saying on stderr why there is none."""
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
    return settings.lot


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


def age(seconds: float) -> str:
    """An age in the unit a person reads at a glance: 42 s, 7 min, 3 h, 2 d."""
    if seconds < 0:
        return f"{-seconds:.0f} s ahead"  # the booth's clock is ahead of the server's
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
            "(stopped, cut off from the server, or its clock is wrong)"
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
