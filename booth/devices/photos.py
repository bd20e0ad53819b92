"""Vehicle photos from the plate cameras, kept on disk (never in the database) with a retention limit.

A lane shows the photo of the car at its barrier and Bolink gets a copy (``upload_carpic``); both only need
a path. The folder is bounded by count and by age so that a busy lot cannot fill the disk: the oldest
photos go first. Every method does blocking file I/O: the engine calls them on a worker thread.
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

log = logging.getLogger(__name__)

_JPEG_MAGIC = b"\xff\xd8\xff"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_PRUNE_EVERY = 50  # saves between two retention passes (a pass lists the folder)


class PhotoError(ValueError):
    """A photo could not be stored; the message says why (not an image, disk trouble)."""


@dataclass(frozen=True)
class StoredPhoto:
    path: Path
    size: int


def image_suffix(data: bytes) -> str:
    """The file suffix for JPEG or PNG bytes; anything else is refused (cameras send JPEG)."""
    if data.startswith(_JPEG_MAGIC):
        return ".jpg"
    if data.startswith(_PNG_MAGIC):
        return ".png"
    raise PhotoError(f"not a JPEG or PNG image (starts with {data[:4].hex() or 'nothing'})")


def _safe(text: str) -> str:
    """Plate text as a file-name part: letters, digits and CJK only (a plate never needs more)."""
    return "".join(ch for ch in text if ch.isalnum())[:16] or "noplate"


class PhotoStore:
    """Photos under ``root/YYYYMMDD/``; at most ``keep`` files, none older than ``keep_days``."""

    def __init__(self, root: Path, *, keep: int, keep_days: int) -> None:
        if keep < 1 or keep_days < 1:
            raise ValueError(
                f"photo retention must keep at least 1 photo for 1 day (got {keep}, {keep_days})"
            )
        self.root = root
        self.keep = keep
        self.keep_days = keep_days
        self._lock = threading.Lock()
        self._saves = 0

    def save(self, lane_id: str, plate_text: str, data: bytes, at: datetime) -> StoredPhoto:
        """Write one photo; raise PhotoError if it is not an image or cannot be written."""
        suffix = image_suffix(data)
        folder = self.root / f"{at:%Y%m%d}"
        name = f"{_safe(lane_id)}_{at:%H%M%S%f}_{_safe(plate_text)}{suffix}"
        path = folder / name
        try:
            folder.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(path.suffix + ".part")
            tmp.write_bytes(data)
            os.replace(tmp, path)  # a half-written photo is never shown or uploaded
        except OSError as exc:
            raise PhotoError(f"cannot write {path}: {exc.strerror or exc}") from exc
        with self._lock:
            self._saves += 1
            due = self._saves % _PRUNE_EVERY == 0
        if due:
            # retention walks every stored photo: never on the path of the car whose photo this is
            threading.Thread(
                target=self._prune_quietly, args=(at,), name="photo-retention", daemon=True
            ).start()
        return StoredPhoto(path, len(data))

    def _prune_quietly(self, now: datetime) -> None:
        try:
            self.prune(now)
        except Exception:
            log.exception("photo retention failed under %s", self.root)

    def photos(self) -> list[Path]:
        """Every stored photo, oldest first."""
        return [path for _, _, path in self._dated()]

    def _dated(self) -> list[tuple[int, str, Path]]:
        """(modified ns, name, path) of every stored photo, oldest first; files that vanish while being
        listed (a retention pass on its thread) are skipped."""
        if not self.root.is_dir():
            return []
        dated: list[tuple[int, str, Path]] = []
        for path in self.root.glob("*/*"):
            if path.suffix not in (".jpg", ".png"):
                continue
            try:
                dated.append((path.stat().st_mtime_ns, path.name, path))
            except FileNotFoundError:
                continue
        return sorted(dated)

    def prune(self, now: datetime) -> int:
        """Delete photos beyond the count limit or older than the age limit; return how many went."""
        with self._lock:
            dated = self._dated()
            cutoff_ns = int((now - timedelta(days=self.keep_days)).timestamp() * 1e9)
            excess = max(len(dated) - self.keep, 0)
            doomed = [path for _, _, path in dated[:excess]]
            doomed += [path for mtime, _, path in dated[excess:] if mtime < cutoff_ns]
            removed = 0
            for path in doomed:
                try:
                    path.unlink()
                    removed += 1
                except OSError as exc:
                    log.warning("photo retention: cannot delete %s: %s", path, exc.strerror or exc)
            for folder in {p.parent for p in doomed}:
                with contextlib.suppress(OSError):
                    folder.rmdir()  # only succeeds once the day's folder is empty
            if removed:
                log.info("photo retention: deleted %d photo(s) under %s", removed, self.root)
            return removed
