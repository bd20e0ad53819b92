"""``booth staff`` and ``booth shift list`` against a real settings file and SQLite database: bootstrap of
the first supervisor, PINs from stdin or typed twice, supervisor-only changes, listings in the lot's time."""

from __future__ import annotations

import argparse
import io
import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from booth.cli import staff as staff_cli
from booth.config import load_settings
from booth.office.shifts import Shifts
from booth.office.staff import Staff
from booth.store import open_database

SETTINGS = """
[park]
name = "测试停车场"
timezone = "Asia/Shanghai"

[bolink]
base_url = "sandbox"
union_id = "200208"
park_id = "21835"
ukey = "8403A41ED5EF20BC"
local_id = "booth_test"

[[lanes]]
id = "X1"
name = "东出口"
direction = "exit"
channel_id = "X1"

[database]
url = "sqlite:///{db}"

[staff]
lockout_after = 2
"""


@pytest.fixture
def config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "booth.toml"
    path.write_text(SETTINGS.format(db=tmp_path / "booth.sqlite"), encoding="utf-8")
    monkeypatch.setattr(staff_cli.getpass, "getuser", lambda: "tester")
    return path


Run = Callable[..., int]


@pytest.fixture
def run(config: Path, monkeypatch: pytest.MonkeyPatch) -> Run:
    """Parse like `booth` does (a top-level --config, then register()'s commands) and run the handler;
    `stdin` feeds --pin-stdin, `typed` answers getpass prompts in order."""

    def run_command(*argv: str, stdin: str = "", typed: tuple[str, ...] = ()) -> int:
        parser = argparse.ArgumentParser(prog="booth")
        parser.add_argument("--config")
        staff_cli.register(parser.add_subparsers(dest="command"))
        args = parser.parse_args(["--config", str(config), *argv])
        answers = list(typed)
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        monkeypatch.setattr(staff_cli.getpass, "getpass", lambda prompt="": answers.pop(0))
        code: int = args.handler(args)
        assert not answers, f"prompts not asked: {answers}"
        return code

    return run_command


def rows(config: Path, sql: str) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(f"file:{config.parent / 'booth.sqlite'}?mode=ro", uri=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def with_boss(run: Run) -> None:
    assert (
        run("staff", "add", "boss", "--name", "王经理", "--role", "supervisor", "--pin-stdin", stdin="9999\n")
        == 0
    )


def test_the_first_supervisor_is_added_from_the_command_line(
    run: Run, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with_boss(run)
    assert "added supervisor boss (王经理)" in capsys.readouterr().out
    assert rows(config, "SELECT username, role, created_by FROM people") == [
        ("boss", "supervisor", "cli:tester")
    ]
    actor, action, detail = rows(config, "SELECT actor, action, detail_json FROM audit_log")[0]
    assert (actor, action, json.loads(detail)["username"]) == ("cli:tester", "person_added", "boss")


def test_the_first_person_must_be_a_supervisor(
    run: Run, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        run("staff", "add", "ann", "--name", "李娜", "--role", "attendant", "--pin-stdin", stdin="1234\n")
        == 1
    )
    assert "no supervisor yet" in capsys.readouterr().err
    assert rows(config, "SELECT count(*) FROM people") == [(0,)]


def test_then_a_supervisor_with_their_pin_adds_people(
    run: Run, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with_boss(run)
    add_ann = ("staff", "add", "ann", "--name", "李娜", "--role", "attendant")
    assert run(*add_ann, "--pin-stdin", stdin="1234\n") == 2
    assert "--by SUPERVISOR is required" in capsys.readouterr().err
    assert run(*add_ann, "--by", "boss", "--pin-stdin", stdin="1234\n0000\n") == 1
    assert "wrong PIN for boss" in capsys.readouterr().err
    assert run(*add_ann, "--by", "boss", "--pin-stdin", stdin="1234\n") == 2
    assert "stdin ended" in capsys.readouterr().err
    assert rows(config, "SELECT username FROM people") == [("boss",)]
    assert run(*add_ann, "--by", "boss", typed=("1234", "1234", "9999")) == 0
    assert rows(config, "SELECT username, created_by FROM people ORDER BY id") == [
        ("boss", "cli:tester"),
        ("ann", "boss"),
    ]
    assert (
        run(
            "staff",
            "add",
            "bob",
            "--name",
            "张伟",
            "--role",
            "attendant",
            "--by",
            "ann",
            typed=("5678", "5678", "1234"),
        )
        == 1
    )
    assert "ann is not a supervisor" in capsys.readouterr().err


def test_pins_typed_twice_must_agree_and_be_digits(
    run: Run, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        run("staff", "add", "boss", "--name", "王经理", "--role", "supervisor", typed=("9999", "9998")) == 1
    )
    assert "the two PINs differ" in capsys.readouterr().err
    assert (
        run("staff", "add", "boss", "--name", "王经理", "--role", "supervisor", typed=("99x9", "99x9")) == 1
    )
    assert "a PIN must be 4-12 digits" in capsys.readouterr().err
    assert rows(config, "SELECT count(*) FROM people") == [(0,)]


def test_disable_unlock_and_list(run: Run, config: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with_boss(run)
    assert (
        run(
            "staff",
            "add",
            "ann",
            "--name",
            "李娜",
            "--role",
            "attendant",
            "--by",
            "boss",
            "--pin-stdin",
            stdin="1234\n9999\n",
        )
        == 0
    )
    settings = load_settings(config)
    with open_database(settings.database.url) as db:
        staff = Staff(db, settings.staff)
        for _ in range(2):
            with pytest.raises(Exception, match="PIN"):
                staff.authenticate("ann", "0000")
    capsys.readouterr()
    assert run("staff", "list") == 0
    listed = capsys.readouterr().out
    assert "ann" in listed and "locked until" in listed and "王经理" in listed

    assert run("staff", "unlock", "ann", "--by", "boss", "--pin-stdin", stdin="9999\n") == 0
    assert run("staff", "disable", "ann", "--by", "boss", typed=("9999",)) == 0
    assert run("staff", "disable", "boss", "--by", "boss", typed=("9999",)) == 1
    assert "last active supervisor" in capsys.readouterr().err
    assert run("staff", "list") == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert "disabled" in lines["ann"] and "locked" not in lines["ann"]
    assert "active" in lines["boss"]
    assert [a for (a,) in rows(config, "SELECT action FROM audit_log WHERE actor = 'boss'")] == [
        "person_added",
        "person_unlocked",
        "person_disabled",
    ]


def test_shift_list_by_days_in_the_lots_time(
    run: Run, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with_boss(run)
    settings = load_settings(config)
    day = datetime(2026, 3, 1, tzinfo=UTC) - timedelta(hours=8)  # 2026-03-01 00:00 in Shanghai
    times = iter([day + timedelta(hours=h) for h in (6, 14, 30, 31)])
    with open_database(settings.database.url) as db:
        staff = Staff(db, settings.staff)
        shifts = Shifts(db, settings.shifts, staff, clock=lambda: next(times))
        first = shifts.open("boss")
        shifts.close(first.id, {10_000: 5}, handover_float_fen=30_000)
        shifts.open("boss")  # 2026-03-02 06:00, still open
    capsys.readouterr()
    assert run("shift", "list", "--from", "2026-03-01", "--to", "2026-03-01") == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2
    assert "2026-03-01 06:00" in out[1] and "2026-03-01 14:00" in out[1]
    assert "500.00" in out[1] and "300.00" in out[1]
    assert run("shift", "list", "--from", "2026-03-02") == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and "open" in out[1] and "300.00" in out[1]
    assert run("shift", "list") == 0
    assert len(capsys.readouterr().out.splitlines()) == 3
    assert run("shift", "list", "--from", "2026-03-05") == 0  # the open shift reaches to now
    assert "open" in capsys.readouterr().out
    assert run("shift", "list", "--to", "2026-02-28") == 0
    assert "no shifts" in capsys.readouterr().out
    assert run("shift", "list", "--from", "1.3.2026") == 2
    assert "--from: expected a date YYYY-MM-DD, got '1.3.2026'" in capsys.readouterr().err
    assert run("shift", "list", "--from", "2026-03-02", "--to", "2026-03-01") == 2


def test_a_broken_settings_file_is_reported(
    run: Run, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config.write_text("[park]\n", encoding="utf-8")
    assert run("staff", "list") == 1
    assert "invalid configuration" in capsys.readouterr().err


def test_rename_sets_a_name_later_with_the_supervisors_pin(
    run: Run, config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with_boss(run)
    add = ("staff", "add", "1042", "--name", "1042", "--role", "attendant", "--by", "boss")
    assert run(*add, "--pin-stdin", stdin="1234\n9999\n") == 0
    capsys.readouterr()
    rename = ("staff", "rename", "1042", "--name", "  李娜 ", "--by")

    assert run(*rename, "boss", "--pin-stdin", stdin="0000\n") == 1
    assert "wrong PIN for boss" in capsys.readouterr().err
    assert run(*rename, "1042", "--pin-stdin", stdin="1234\n") == 1
    assert "1042 is not a supervisor" in capsys.readouterr().err
    assert run("staff", "rename", "9", "--name", "李娜", "--by", "boss", "--pin-stdin", stdin="9999\n") == 1
    assert "no person with the username '9'" in capsys.readouterr().err
    assert run("staff", "rename", "1042", "--name", " ", "--by", "boss", "--pin-stdin", stdin="9999\n") == 1
    assert "display name must not be empty" in capsys.readouterr().err
    assert rows(config, "SELECT display_name FROM people WHERE username = '1042'") == [("1042",)]

    assert run(*rename, "boss", typed=("9999",)) == 0
    assert "1042 is now called 李娜" in capsys.readouterr().out
    assert rows(config, "SELECT display_name FROM people WHERE username = '1042'") == [("李娜",)]
    assert run("staff", "list") == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[1:]}
    assert lines["1042"].endswith("李娜")
    # the same name again changes nothing and audits nothing
    assert run(*rename, "boss", "--pin-stdin", stdin="9999\n") == 0
    renames = rows(
        config, "SELECT actor, detail_json FROM audit_log WHERE action = 'person_renamed' ORDER BY id"
    )
    assert [(actor, json.loads(detail)) for actor, detail in renames] == [
        ("boss", {"username": "1042", "old_name": "1042", "display_name": "李娜"})
    ]
