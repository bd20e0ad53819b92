"""A consistent copy of an SQLite database, taken through SQLite's online backup API while others use it.

The copy is made in one backup step: the source is read inside one read transaction, which in WAL mode
(Booth's) never blocks a writer, so the lanes keep booking while a large file is copied, and the copy is
the database as it was at one instant. (A copy in many small steps would restart each time another
connection writes, and on a busy booth might never finish.) The copy is written to a hidden file beside the
target, switched to a plain rollback journal (one self-contained file, no -wal beside it), checked with
``PRAGMA integrity_check``, flushed to disk and only then renamed into place, readable by its owner only
(it holds payer ids and the audit). A failed copy leaves no file behind.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from booth.store.records import StoreError


def copy_sqlite(source: sqlite3.Connection, target: Path) -> None:
    """Copy the database open on ``source`` to ``target`` (replaced if it exists); StoreError on failure.

    ``source`` must not be in a write transaction (SQLite answers busy, and the copy would wait forever)."""
    target = target.expanduser()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot make the backup folder {target.parent}: {exc.strerror or exc}") from exc
    partial = target.with_name(f".{target.name}.partial")
    _remove(partial)
    try:
        fd = os.open(partial, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)  # private from its first byte
        os.close(fd)
        copy = sqlite3.connect(partial, isolation_level=None)
        try:
            source.backup(copy)  # pages=-1: the whole file in one step, one read snapshot (see above)
            copy.execute("PRAGMA journal_mode=DELETE")
            problems = [row[0] for row in copy.execute("PRAGMA integrity_check")]
        finally:
            copy.close()
        if problems != ["ok"]:
            raise StoreError(f"the copy failed SQLite's integrity check: {'; '.join(problems[:3])}")
        _fsync(partial)
        os.replace(partial, target)
        _fsync(target.parent)
    except sqlite3.Error as exc:
        _remove(partial)
        raise StoreError(f"cannot copy the database to {target}: {exc}") from exc
    except OSError as exc:
        _remove(partial)
        raise StoreError(f"cannot write {target}: {exc.strerror or exc}") from exc
    except BaseException:
        _remove(partial)
        raise


def integrity_problems(path: Path) -> list[str]:
    """``PRAGMA integrity_check`` of the file at ``path`` opened read-only: [] when it is sound."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = [row[0] for row in connection.execute("PRAGMA integrity_check")]
    finally:
        connection.close()
    return [] if rows == ["ok"] else rows


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    for suffix in ("-journal", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            path.with_name(path.name + suffix).unlink()
