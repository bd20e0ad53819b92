"""``booth backup [FILE] [--photos]`` and ``booth restore FILE``.

A backup is taken while the lanes work (SQLite's online backup API, one read snapshot: writers are not held
up), checked with ``PRAGMA integrity_check`` and written readable by its owner only. Without FILE it goes to
``[backup] folder`` (default: the data folder's ``backups``) as ``booth-<UTC time>.sqlite``.

A restore needs Booth stopped: it refuses while any connection has the database open (SQLite's own locks, see
:mod:`booth.store.backup`), checks the file is a Booth database of a schema this Booth can read, keeps the
current file aside as ``<name>.before-restore-<UTC time>.sqlite`` and copies the backup in. A backup of an
older schema is upgraded at the next start (which keeps its own copy first).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from booth.config import ConfigError


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    backup = subparsers.add_parser("backup", help="a consistent copy of the database, while the lanes work")
    backup.add_argument(
        "file",
        nargs="?",
        metavar="FILE",
        help="where the copy goes (default: [backup] folder/booth-<time>.sqlite)",
    )
    backup.add_argument("--photos", action="store_true", help="also the photos folder, as FILE.photos.tar")
    backup.add_argument("--config", metavar="FILE", dest="sub_config", help="settings file")
    backup.set_defaults(handler=_backup)
    restore = subparsers.add_parser(
        "restore", help="put a backup back (Booth stopped); the current file is kept"
    )
    restore.add_argument("file", metavar="FILE", help="a copy made by booth backup")
    restore.add_argument("--config", metavar="FILE", dest="sub_config", help="settings file")
    restore.set_defaults(handler=_restore)


def _backup(args: argparse.Namespace) -> int:
    from booth.cli.demo import load_for_command
    from booth.store import StoreError
    from booth.store.backup import backup_database, default_backup_name

    try:
        settings = load_for_command(args.sub_config or getattr(args, "config", None), bool(args.demo))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    target = (
        Path(args.file) if args.file else settings.backup.folder_path / default_backup_name(datetime.now(UTC))
    )
    photos = settings.cameras.photo_path if args.photos else None
    try:
        result = backup_database(settings.database.url, target, photo_dir=photos)
    except StoreError as exc:
        print(f"booth backup: {exc}", file=sys.stderr)
        return 1
    print(
        f"backup: {result.path} ({result.size_bytes / 1e6:.1f} MB, schema {result.revision}, integrity ok, "
        f"{result.seconds:.2f} s)"
    )
    if result.photos is not None:
        print(f"photos: {result.photos} ({result.photo_files} file(s))")
    return 0


def _restore(args: argparse.Namespace) -> int:
    from booth.cli.demo import load_for_command
    from booth.store import StoreError
    from booth.store.backup import restore_database
    from booth.store.db import SCHEMA_HEAD

    try:
        settings = load_for_command(args.sub_config or getattr(args, "config", None), bool(args.demo))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    try:
        result = restore_database(settings.database.url, Path(args.file))
    except StoreError as exc:
        print(f"booth restore: {exc}", file=sys.stderr)
        return 1
    print(f"restored {args.file} into {result.restored} (schema {result.revision})")
    if result.aside is not None:
        print(f"the file it replaced is kept as {result.aside}")
    if result.revision != SCHEMA_HEAD:
        print(f"the next start upgrades it to schema {SCHEMA_HEAD} (keeping a copy first)")
    return 0
