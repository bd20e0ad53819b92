"""``booth archive [--dry-run]``: the months before [retention] months_online go to the yearly archive files.

What moves and what never does, and why a crash half-way loses nothing: :mod:`booth.store.archive`. The booth
may be running: each month's delete goes in short write transactions of about 2,000 rows, a pause between
two, so a lane's write waits behind one part at most; reports read the archive files with the database.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from booth.config import ConfigError


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    archive = subparsers.add_parser(
        "archive", help="move months older than [retention] months_online to yearly archive files"
    )
    archive.add_argument("--dry-run", action="store_true", help="only say what would move")
    archive.add_argument("--config", metavar="FILE", dest="sub_config", help="settings file")
    archive.set_defaults(handler=_archive)


def _archive(args: argparse.Namespace) -> int:
    from booth.cli.demo import load_for_command
    from booth.store import StoreError
    from booth.store.archive import archive_old_months

    try:
        settings = load_for_command(args.sub_config or getattr(args, "config", None), bool(args.demo))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    retention = settings.retention
    if retention.months_online == 0:
        print("booth archive: [retention] months_online is 0 (keep everything): nothing to do")
        return 0
    folder = retention.folder_for(settings.database.url)
    if folder is None:
        print("booth archive: the database is not an SQLite file: nothing to archive", file=sys.stderr)
        return 1
    try:
        result = archive_old_months(
            settings.database.url, retention.months_online, folder, settings.park.zone, dry_run=args.dry_run
        )
    except StoreError as exc:
        print(f"booth archive: {exc}", file=sys.stderr)
        return 1
    verb = "would move" if args.dry_run else "moved"
    for month in result.months:
        detail = ", ".join(f"{table} {n}" for table, n in month.rows.items() if n)
        print(f"{month.month}: {verb} {month.total} rows to {month.archive} ({detail})")
    kept_from = result.cutoff.astimezone(settings.park.zone).strftime("%Y-%m-%d")
    print(f"archive: {verb} {result.total} rows in all; the database keeps everything from {kept_from}")
    return 0
