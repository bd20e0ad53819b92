"""`booth run --headless` runs unattended lanes end to end and logs every step (a real subprocess)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

CONFIG = """
[park]
name = "无人值守测试场"
province = "苏"

[bolink]
base_url = "sandbox"
union_id = "200208"
park_id = "21835"
ukey = "8403A41ED5EF20BC"
local_id = "booth_headless"
sandbox_autopay_s = 0.2
query_start_s = 600

[[lanes]]
id = "E1"
name = "入口"
direction = "entry"
channel_id = "E1"
pass_timeout_s = 0.2

[[lanes]]
id = "X1"
name = "出口"
direction = "exit"
channel_id = "X1"
pass_timeout_s = 0.2

[tariff]
free_minutes = 0   # the simulated stays are seconds long: let them cost the first period

[database]
url = "sqlite:///{db}"

[simulator]
enabled = true
every_s = 0.2
seed = 7
"""


def run_booth(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "booth", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONWARNINGS": "error::ResourceWarning"},
        check=False,
    )


def test_headless_run_processes_entries_and_paid_exits(tmp_path: Path) -> None:
    db = tmp_path / "headless.sqlite"
    config = tmp_path / "booth.toml"
    config.write_text(CONFIG.format(db=db), encoding="utf-8")
    done = run_booth("run", "--headless", "--config", str(config), "--stop-after-exits", "5")
    log = done.stderr
    assert done.returncode == 0, log[-3000:]
    assert "5 exit(s) completed: stopping" in log
    for step in (
        "lane E1: quoting",
        "E1: gate opened (entry)",
        "lane X1: quoting",
        "lane X1: awaiting_payment",
        "booked",
        "X1: gate opened (paid",
        "lane X1: gate_open",
        "engine stopped",
    ):
        assert step in log, f"missing step {step!r} in the log"
    assert "Traceback" not in log
    con = sqlite3.connect(db)
    try:
        exited = con.execute("SELECT COUNT(*) FROM stays WHERE state = 'exited'").fetchone()[0]
        paid = con.execute("SELECT COUNT(*), SUM(amount_fen) FROM payments WHERE flag IS NULL").fetchone()
        opened = con.execute("SELECT COUNT(*) FROM gate_events WHERE reason = 'paid' AND outcome = 'opened'")
        lifts = opened.fetchone()[0]
    finally:
        con.close()
    assert exited >= 5
    # every lift for money has one booked payment behind it; the run may stop with one more payment
    # booked whose lift was still under way (that car is paid and leaves free within the grace period)
    assert lifts >= 5 and lifts <= paid[0] <= lifts + 1
    assert paid[1] > 0


def test_headless_refuses_a_bad_config_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "booth.toml"
    config.write_text(
        CONFIG.format(db=tmp_path / "x.sqlite").replace('direction = "exit"', 'direction = "out"'),
        encoding="utf-8",
    )
    done = run_booth("run", "--headless", "--config", str(config), timeout=30)
    assert done.returncode == 1
    assert "lanes[1].direction" in done.stderr
    assert not (tmp_path / "x.sqlite").exists()  # nothing was started


def test_headless_refuses_another_programs_database_in_one_line_and_leaves_it_alone(tmp_path: Path) -> None:
    """It used to add Booth's tables to any SQLite file and start on it."""
    foreign = tmp_path / "notes.sqlite"
    con = sqlite3.connect(foreign)
    con.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY)")
    con.commit()
    con.close()
    config = tmp_path / "booth.toml"
    config.write_text(CONFIG.format(db=foreign), encoding="utf-8")
    done = run_booth("run", "--headless", "--config", str(config), "--duration", "5", timeout=30)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"booth run: sqlite:///{foreign} is not a Booth database (it has tables but neither Booth's "
        "application_id nor a Booth schema version): refusing to add Booth's tables to it; point "
        "database.url at a new or Booth's own file"
    ]
    con = sqlite3.connect(foreign)
    try:
        tables = [row[0] for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    finally:
        con.close()
    assert tables == ["notes"]


def test_headless_refuses_an_infinite_timeout_before_starting(tmp_path: Path) -> None:
    """`pass_timeout_s = inf` passed `config check` and crashed the start (timedelta overflow)."""
    config = tmp_path / "booth.toml"
    text = CONFIG.format(db=tmp_path / "x.sqlite").replace("pass_timeout_s = 0.2", "pass_timeout_s = inf", 1)
    config.write_text(text, encoding="utf-8")
    done = run_booth("run", "--headless", "--config", str(config), timeout=30)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"{config}: invalid configuration: lanes[0].pass_timeout_s: Input should be a finite number (got inf)"
    ]
    assert not (tmp_path / "x.sqlite").exists()
