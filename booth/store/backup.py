"""Backups of the database while the lanes work, their check, and restoring one while Booth is stopped.

- :func:`backup_database`: SQLite's online backup API in one read snapshot (WAL: writers are never held up;
  see :mod:`booth.store.sqlite_copy`), ``PRAGMA integrity_check`` on the copy, and the copy must be a Booth
  database of a schema this Booth knows. Optionally the photos folder, as a .tar beside it.
- :class:`BackupSchedule`: the same every ``interval`` on a thread of its own (never the engine's loop or its
  database thread), keeping the newest ``keep`` copies.
- :func:`restore_database`: checks the file, refuses while the database is in use, keeps the current file
  aside (``booth.before-restore-<time>.sqlite``) and copies the backup in.

**In use** is found by SQLite's own locks: a connection in ``locking_mode=EXCLUSIVE`` reading the file asks
for an exclusive lock, which SQLite refuses (at once: no busy timeout) while any other connection has the WAL
database open — a running booth keeps its pooled connections open all along, idle or not. The restore then
holds that lock until it is done, so a booth starting meanwhile waits instead of reading a half-copied file.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sqlite3
import tarfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from booth.store.db import BOOTH_APPLICATION_ID, SCHEMA_HEAD, booth_revisions, sqlite_file
from booth.store.records import StoreError
from booth.store.sqlite_copy import copy_sqlite, integrity_problems

log = logging.getLogger("booth.backup")

#: The scheduled copies' names: booth-20261203T103000Z.sqlite (UTC); only these are ever pruned.
_SCHEDULED = re.compile(r"^booth-\d{8}T\d{6}(?:\.\d{6})?Z\.sqlite$")


@dataclass(frozen=True)
class BackupResult:
    path: Path
    revision: str
    size_bytes: int
    seconds: float
    photos: Path | None = None
    photo_files: int = 0


@dataclass(frozen=True)
class RestoreResult:
    restored: Path
    revision: str
    aside: Path | None  # where the file it replaced was kept (None: there was none)


def stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def default_backup_name(at: datetime) -> str:
    return f"booth-{stamp(at)}.sqlite"


def database_file(url: str) -> Path:
    """The SQLite file of ``url``; StoreError for another kind of database (it has its own tools)."""
    path = sqlite_file(url)
    if path is None:
        raise StoreError(
            f"backups and restores work on an SQLite file; a {url.split('://')[0]} database is backed up "
            "with its own tools (pg_dump)"
        )
    return path


def backup_database(url: str, target: Path, *, photo_dir: Path | None = None) -> BackupResult:
    """Copy the database of ``url`` to ``target`` (and ``photo_dir`` to ``target``.photos.tar when given)."""
    source_path = database_file(url)
    if not source_path.exists():
        raise StoreError(f"no database at {source_path}: nothing to back up")
    if target.expanduser().resolve() == source_path.resolve():
        raise StoreError(f"{target} is the database itself: name another file")
    started = time.monotonic()
    source = sqlite3.connect(source_path, timeout=5)  # reads only; read-write opens a WAL file without -shm
    try:
        copy_sqlite(source, target)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read the database {source_path}: {exc}") from exc
    finally:
        source.close()
    try:
        revision = check_booth_database(target, integrity=False)  # copy_sqlite has checked its integrity
    except StoreError:
        target.unlink(missing_ok=True)
        raise
    photos, count = None, 0
    if photo_dir is not None:
        photos = target.with_name(target.name + ".photos.tar")
        count = copy_photos(photo_dir, photos)
    return BackupResult(
        path=target,
        revision=revision,
        size_bytes=target.stat().st_size,
        seconds=time.monotonic() - started,
        photos=photos,
        photo_files=count,
    )


def copy_photos(photo_dir: Path, tar_path: Path) -> int:
    """The photos folder as an uncompressed tar (JPEGs do not compress), private, written beside and renamed
    into place; files removed by the photo pruner while it runs are skipped. Returns the number of files."""
    partial = tar_path.with_name(f".{tar_path.name}.partial")
    count = 0
    try:
        with tarfile.open(partial, "w") as archive:
            if photo_dir.is_dir():
                for path in sorted(photo_dir.rglob("*")):
                    if not path.is_file():
                        continue
                    try:
                        archive.add(path, arcname=str(path.relative_to(photo_dir)), recursive=False)
                    except FileNotFoundError:
                        continue
                    count += 1
        partial.chmod(0o600)
        partial.replace(tar_path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise StoreError(f"cannot write the photos to {tar_path}: {exc.strerror or exc}") from exc
    return count


def check_booth_database(path: Path, *, integrity: bool = True) -> str:
    """The schema revision of the Booth database at ``path``, after SQLite's integrity check; StoreError
    naming what is wrong: not SQLite, damaged, another program's, or of a schema this Booth cannot read."""
    if not path.is_file():
        raise StoreError(f"{path}: no such file")
    try:
        problems = integrity_problems(path) if integrity else []
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            application_id = int(connection.execute("PRAGMA application_id").fetchone()[0])
            has_version = connection.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'alembic_version'"
            ).fetchone()
            versions = (
                [row[0] for row in connection.execute("SELECT version_num FROM alembic_version")]
                if has_version
                else []
            )
        finally:
            connection.close()
    except sqlite3.DatabaseError as exc:
        reason = str(exc)
        if reason == "file is not a database":
            reason += " (not an SQLite file, or damaged)"
        raise StoreError(f"{path}: {reason}") from exc
    if problems:
        raise StoreError(f"{path} fails SQLite's integrity check: {'; '.join(problems[:3])}")
    if application_id not in (0, BOOTH_APPLICATION_ID):
        raise StoreError(f"{path} belongs to another program (SQLite application_id {application_id:#x})")
    if len(versions) != 1 or versions[0] not in booth_revisions():
        if len(versions) == 1 and application_id == BOOTH_APPLICATION_ID:
            raise StoreError(
                f"{path} is at schema revision {versions[0]!r}, which this Booth (schema {SCHEMA_HEAD!r}) "
                "cannot read: it was made by a newer Booth"
            )
        raise StoreError(f"{path} is not a Booth database (no Booth schema version)")
    return str(versions[0])


@contextlib.contextmanager
def exclusive_database(path: Path) -> Iterator[sqlite3.Connection]:
    """A connection holding SQLite's exclusive lock on ``path`` until the block ends; StoreError at once
    when another connection (a running booth, a command) has the database open."""
    connection = sqlite3.connect(path, isolation_level=None, timeout=0)
    try:
        try:
            connection.execute("PRAGMA locking_mode=EXCLUSIVE")
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise StoreError(
                    f"the database {path} is in use (a running booth or another booth command has it open): "
                    "stop Booth first (systemctl stop booth) and try again"
                ) from exc
            raise StoreError(f"cannot open the database {path}: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"cannot open the database {path}: {exc}") from exc
        yield connection
    finally:
        connection.close()


def restore_database(url: str, backup: Path, *, now: datetime | None = None) -> RestoreResult:
    """Restore ``backup`` as the database of ``url`` (Booth stopped); the current file is kept aside."""
    revision = check_booth_database(backup)
    target = database_file(url)
    if target.exists() and target.resolve() == backup.resolve():
        raise StoreError(f"{backup} is the database itself: nothing to restore")
    at = now or datetime.now(UTC)
    source = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
    try:
        if not target.exists():
            copy_sqlite(source, target)
            return RestoreResult(restored=target, revision=revision, aside=None)
        aside = target.with_name(f"{target.stem}.before-restore-{stamp(at)}{target.suffix}")
        with exclusive_database(target) as current:
            copy_sqlite(current, aside)  # the file as it is, with what its WAL held
            try:
                source.backup(current)
            except sqlite3.Error as exc:
                raise StoreError(
                    f"the restore into {target} failed ({exc}); the file before it is kept as {aside}"
                ) from exc
            problems = [row[0] for row in current.execute("PRAGMA integrity_check")]
            if problems != ["ok"]:
                raise StoreError(
                    f"{target} failed the integrity check after the restore; the file before it is {aside}"
                )
    finally:
        source.close()
    log.warning("restored %s from %s (schema %s); the file before it is %s", target, backup, revision, aside)
    return RestoreResult(restored=target, revision=revision, aside=aside)


def prune_scheduled(folder: Path, keep: int) -> list[Path]:
    """Remove all but the newest ``keep`` scheduled copies (and their photo tars) in ``folder``; copies made
    by hand (other names) are never touched. Returns the removed files."""
    scheduled = [p for p in folder.glob("booth-*.sqlite") if _SCHEDULED.match(p.name)]
    copies = sorted(scheduled, key=lambda p: (p.stat().st_mtime_ns, p.name))  # oldest first
    removed: list[Path] = []
    for old in copies[: max(0, len(copies) - keep)]:
        for path in (old, old.with_name(old.name + ".photos.tar")):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed.append(path)
    return removed


class BackupSchedule:
    """``[backup]``: a copy every ``interval_s`` on a thread of its own, the newest ``keep`` kept.

    The first copy is made one interval after :meth:`start`. A failed copy is logged (and handed to
    ``on_failure``, e.g. for an alert) and tried again at the next interval; it never stops the thread."""

    def __init__(
        self,
        url: str,
        folder: Path,
        *,
        interval_s: float,
        keep: int,
        photo_dir: Path | None = None,
        on_done: Callable[[BackupResult], None] | None = None,
        on_failure: Callable[[str], None] | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self._url = url
        self._folder = folder
        self._interval_s = interval_s
        self._keep = keep
        self._photo_dir = photo_dir
        self._on_done = on_done
        self._on_failure = on_failure
        self._clock = clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="booth-backup", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop; a copy under way is finished first (up to ``timeout``)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def run_once(self) -> BackupResult:
        at = self._clock()
        target = self._folder / default_backup_name(at)
        if target.exists():  # two copies in one second (a short interval): keep the second's microseconds
            target = self._folder / f"booth-{at.astimezone(UTC).strftime('%Y%m%dT%H%M%S.%f')}Z.sqlite"
        result = backup_database(self._url, target, photo_dir=self._photo_dir)
        prune_scheduled(self._folder, self._keep)
        return result

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                result = self.run_once()
            except StoreError as exc:
                log.error("scheduled backup failed: %s", exc)
                if self._on_failure is not None:
                    self._on_failure(str(exc))
                continue
            except Exception as exc:  # a bug must not end the schedule silently
                log.exception("scheduled backup failed")
                if self._on_failure is not None:
                    self._on_failure(f"{type(exc).__name__}: {exc}")
                continue
            log.info(
                "backup %s: %.1f MB in %.2f s (schema %s)",
                result.path,
                result.size_bytes / 1e6,
                result.seconds,
                result.revision,
            )
            if self._on_done is not None:
                self._on_done(result)
