"""Booth's log: one line per event, repeats rate-limited, never a secret, a PIN or a full payer id.

- **Where**: run by systemd (``JOURNAL_STREAM`` set) the log goes to stderr only, which the journal keeps
  (``journalctl -u booth``); otherwise also to ``logs/booth.log`` beside the database (the data folder), a
  ``RotatingFileHandler`` capped at :data:`MAX_BYTES` times :data:`BACKUPS` + 1.
- **One line**: a message or traceback spanning lines is joined with `` ⏎ ``.
- **Repeats**: the same message (logger, level and text) again within :data:`REPEAT_WINDOW_S` is counted, not
  written; its next line after the window says ``(… repeated N times)``.
- **Redacted**: the settings' secrets (Bolink ukey, TOP secret, Alipay key and token) become ``***``, Alipay
  user ids ``2088********1234``, and a ``pin=`` value ``****``, in every line and traceback.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import sys
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TextIO

from booth.config import Settings, default_log_dir

MAX_BYTES = 5 * 1024 * 1024
BACKUPS = 5
REPEAT_WINDOW_S = 10.0
_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
_JOURNAL_FORMAT = "%(levelname)-7s %(name)s: %(message)s"  # the journal stamps each line itself

_PAYER = re.compile(r"\b(2088)\d{8}(\d{4})\b")
_PIN = re.compile(r"(?i)(\bpin\w*[\"']?\s*[:=]\s*[\"']?)\d+")


class Redactor:
    """Masks the given secrets, Alipay user ids and PIN values in a line."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets = sorted({s for s in secrets if len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "***")
        text = _PAYER.sub(r"\1********\2", text)
        return _PIN.sub(r"\1****", text)


class OneLineFormatter(logging.Formatter):
    """Formats a record (with its traceback) as one redacted line."""

    def __init__(self, fmt: str, redact: Callable[[str], str]) -> None:
        super().__init__(fmt)
        self._redact = redact

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return self._redact(" ⏎ ".join(line for line in text.splitlines() if line.strip()))


class RepeatFilter(logging.Filter):
    """Lets a message through once per ``window_s``; the next one after the window carries the count."""

    def __init__(
        self,
        window_s: float = REPEAT_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
        limit: int = 1000,
    ) -> None:
        super().__init__()
        self._window_s = window_s
        self._clock = clock
        self._limit = limit
        self._seen: OrderedDict[tuple[str, int, str], list[float]] = OrderedDict()  # key -> [since, count]

    def filter(self, record: logging.LogRecord) -> bool:
        decided = getattr(record, "_booth_repeat", None)  # one decision per record, however many handlers
        if decided is not None:
            return bool(decided)
        passed = self._decide(record)
        record._booth_repeat = passed
        return passed

    def _decide(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            return True  # a broken format is the formatter's to report
        key = (record.name, record.levelno, message)
        now = self._clock()
        seen = self._seen.get(key)
        if seen is not None and now - seen[0] < self._window_s:
            seen[1] += 1
            self._seen.move_to_end(key)
            return False
        if seen is not None and seen[1]:
            record.msg = f"{message} (… repeated {int(seen[1]):,} times in the last {now - seen[0]:.0f} s)"
            record.args = None
        self._seen[key] = [now, 0]
        self._seen.move_to_end(key)
        while len(self._seen) > self._limit:
            self._seen.popitem(last=False)
        return True


def secrets_of(settings: Settings) -> list[str]:
    found = [settings.bolink.ukey.get_secret_value()]
    if settings.tmall is not None:
        found.append(settings.tmall.app_secret.get_secret_value())
    if settings.alipay is not None:
        found.append(settings.alipay.app_auth_token.get_secret_value())
        key = settings.alipay.app_private_key.get_secret_value()
        found += [line.strip() for line in key.splitlines() if len(line.strip()) >= 16]
    return found


def log_file_for(settings: Settings) -> Path:
    """``logs/booth.log`` beside an SQLite database (its data folder), else in the default data folder."""
    from booth.store.db import sqlite_file

    database = sqlite_file(settings.database.url)
    folder = database.parent / "logs" if database is not None else default_log_dir()
    return folder / "booth.log"


def setup_logging(settings: Settings, *, stream: TextIO | None = None) -> Path | None:
    """Configure the root logger for a command; returns the log file, or None under systemd (or when the
    process has its own logging already)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, "_booth", False):
            root.removeHandler(handler)
            handler.close()
    root.setLevel(getattr(logging, settings.logging.level))
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per long poll drowns the lane log
    if (
        root.handlers
    ):  # run inside another program (a test runner) that logs already: as basicConfig, add none
        return None
    redact = Redactor(secrets_of(settings))
    repeats = RepeatFilter()
    under_systemd = bool(os.environ.get("JOURNAL_STREAM"))
    console = logging.StreamHandler(stream or sys.stderr)
    console.setFormatter(OneLineFormatter(_JOURNAL_FORMAT if under_systemd else _FORMAT, redact))
    handlers: list[logging.Handler] = [console]
    path: Path | None = None
    if not under_systemd:
        path = log_file_for(settings)
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            file = logging.handlers.RotatingFileHandler(
                path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
            )
        except OSError as exc:
            if path.parent.parent.exists():  # else the data folder is missing: the database says so
                reason = exc.strerror or exc
                print(f"booth: no log file ({path}: {reason}); logging to stderr only", file=sys.stderr)
            path = None
        else:
            file.setFormatter(OneLineFormatter(_FORMAT, redact))
            handlers.append(file)
    for handler in handlers:
        handler.addFilter(repeats)
        handler._booth = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    return path
