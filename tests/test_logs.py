"""The log: one line per event, repeats counted, stderr under systemd and a rotating file otherwise, and never
the demo's ukey, PINs or full payer ids (a real headless demo run, its log grepped)."""

from __future__ import annotations

import io
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

from booth.cli.demo import _DEMO_BOLINK, DEMO_PEOPLE
from booth.cli.logs import OneLineFormatter, Redactor, RepeatFilter

REPO = Path(__file__).resolve().parent.parent
PAYER_IDS = ("2088000000000001", "2088000000000002")  # the Bolink emulator's payers


def demo_run(demo_dir: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "BOOTH_DEMO_DIR": str(demo_dir), "PYTHONPATH": str(REPO), **env}
    if "JOURNAL_STREAM" not in env:
        environment.pop("JOURNAL_STREAM", None)
    return subprocess.run(
        [sys.executable, "-m", "booth", "--autopay-s", "0.2", "run", "--headless", "--demo",
         "--stop-after-exits", "2"],
        capture_output=True, text=True, timeout=90, env=environment, check=False,
    )  # fmt: skip


def test_a_demo_runs_log_holds_no_secret_pin_or_full_payer_id(tmp_path: Path) -> None:
    done = demo_run(tmp_path / "demo")
    assert done.returncode == 0, done.stderr[-2000:]
    log_file = tmp_path / "demo" / "logs" / "booth.log"
    assert log_file.exists()
    written = log_file.read_text(encoding="utf-8")
    assert "2 exit(s) completed" in written and "booked" in written
    for text in (written, done.stderr):
        assert _DEMO_BOLINK["ukey"] not in text
        for _username, _name, _role, pin in DEMO_PEOPLE:
            assert not re.search(rf"\b{pin}\b", text), f"PIN {pin} in the log"
        for payer in PAYER_IDS:
            assert payer not in text
    for line in written.splitlines():  # one line per event: each starts with its time
        assert re.match(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} ", line), line


def test_under_systemd_the_log_goes_to_stderr_only(tmp_path: Path) -> None:
    done = demo_run(tmp_path / "demo", JOURNAL_STREAM="8:12345")
    assert done.returncode == 0, done.stderr[-2000:]
    assert not (tmp_path / "demo" / "logs").exists()
    lines = [line for line in done.stderr.splitlines() if not line.startswith("demo: data in")]
    assert any("2 exit(s) completed" in line for line in lines)
    assert all(re.match(r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL) ", line) for line in lines), lines[:3]


def test_repeats_are_counted_not_written() -> None:
    now = [0.0]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(OneLineFormatter("%(levelname)s %(message)s", Redactor()))
    handler.addFilter(RepeatFilter(window_s=10, clock=lambda: now[0]))
    log = logging.getLogger("test.repeats")
    log.propagate = False
    log.addHandler(handler)
    try:
        for _ in range(10_000):
            log.warning("camera %s: bad push", "X1")
        log.warning("another thing")
        now[0] = 11.0
        log.warning("camera %s: bad push", "X1")
    finally:
        log.removeHandler(handler)
    assert stream.getvalue().splitlines() == [
        "WARNING camera X1: bad push",
        "WARNING another thing",
        "WARNING camera X1: bad push (… repeated 9,999 times in the last 11 s)",
    ]


def test_a_traceback_is_one_line_and_secrets_are_masked() -> None:
    redact = Redactor(["S3CRETUKEY0000"])
    formatter = OneLineFormatter("%(message)s", redact)
    try:
        raise ValueError("signing with S3CRETUKEY0000 failed\nfor payer 2088123456781234, pin=4321")
    except ValueError:
        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "upload failed", None, sys.exc_info())
    line = formatter.format(record)
    assert "\n" not in line and "Traceback" in line and " ⏎ " in line
    assert "S3CRETUKEY0000" not in line and "***" in line
    assert "2088********1234" in line and "2088123456781234" not in line
    assert "pin=****" in line and "4321" not in line
