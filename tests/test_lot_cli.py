"""``booth lot init`` and ``booth lot status`` (issue #18), run as a person runs them."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from booth.cli.lot import age
from booth.cli.main import main
from booth.lot.server import touch_booth
from tests.lot_rig import heard_from
from tests.test_config import MINIMAL

REPO = Path(__file__).resolve().parent.parent


def settings_file(tmp_path: Path, server: str | None, booth_id: str = "exit-east") -> Path:
    lot = f'\n[lot]\nserver = "{server}"\nbooth_id = "{booth_id}"\n' if server else ""
    path = tmp_path / "booth.toml"
    path.write_text(
        f'{MINIMAL}\n[database]\nurl = "sqlite:///{tmp_path / "booth.sqlite"}"\n{lot}', encoding="utf-8"
    )
    path.chmod(0o600)
    return path


def run_booth(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "booth", *args], capture_output=True, text=True, timeout=60, env=env, cwd=REPO
    )


@pytest.mark.postgresql
def test_init_creates_then_says_there_is_nothing_to_do_and_status_lists_the_booths(
    pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = settings_file(tmp_path, pg_url.replace("+psycopg", ""))
    first = run_booth("lot", "init", "--config", str(config))
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().endswith("created the lot schema at revision l0004")
    assert main(["lot", "init", "--config", str(config)]) == 0
    second = capsys.readouterr()
    assert second.err == ""
    assert second.out.strip().endswith("the lot schema is at revision l0004 already; nothing to do")

    assert main(["lot", "status", "--config", str(config)]) == 0
    assert capsys.readouterr().out.splitlines()[1:] == ["  no booth has been in contact yet"]

    engine = create_engine(pg_url)
    try:
        with engine.begin() as connection:
            for booth_id, name, lanes, seconds, backlog, shift in (
                ("entry", "入口", ["E1"], 2, 0, None),
                ("exit-east", "东出口", ["X1", "X2"], 4, 3, (12, "wang")),
                ("exit-west", "西出口", ["X2"], 1800, 250, None),
            ):
                touch_booth(
                    connection,
                    booth_id,
                    name=name,
                    lanes=lanes,
                    version="0.9.1",
                    backlog=backlog,
                    open_shift=shift,
                )
                heard_from(connection, booth_id, seconds)
    finally:
        engine.dispose()

    assert main(["lot", "status", "--config", str(config)]) == 0  # flagged, but the command did its job
    done = capsys.readouterr()
    assert done.err == ""
    lines = done.out.splitlines()
    assert lines[0].startswith("lot server postgresql://postgres@127.0.0.1:5432/")
    assert lines[0].endswith(": lot schema l0004, 3 booth(s)")
    assert lines[1].split() == [
        "booth",
        "name",
        "lanes",
        "version",
        "last",
        "contact",
        "backlog",
        "open",
        "shift",
    ]
    entry, east, west = (line.split() for line in lines[2:5])
    # ages by the server's clock, a few seconds later than the contacts (a loaded machine: up to a minute)
    assert 2 <= int(entry[4]) < 60 and entry[5:7] == ["s", "ago"]
    assert entry[:4] + entry[7:] == ["entry", "入口", "E1", "0.9.1", "0", "-"]
    assert 4 <= int(east[5]) < 60 and east[6:8] == ["s", "ago"]
    assert east[:5] + east[8:] == [
        "exit-east", "(this)", "东出口", "X1,X2", "0.9.1", "3", "#12", "wang",
        "LANE", "X2", "ALSO", "AT", "ANOTHER", "BOOTH",
    ]  # fmt: skip
    assert west[4:7] in (["30", "min", "ago"], ["31", "min", "ago"])
    assert west[:4] + west[7:] == [
        "exit-west", "西出口", "X2", "0.9.1", "250", "-",
        "SILENT", "over", "60", "s;", "LANE", "X2", "ALSO", "AT", "ANOTHER", "BOOTH",
    ]  # fmt: skip
    assert lines[5:] == [
        "warning: not heard from for over 60 s: exit-west (stopped, or cut off from the server)",
        "warning: lane X2 is used by 2 booths (exit-east, exit-west): lane ids must be unique in the lot; "
        "rename one in its [[lanes]]",
    ]


def test_a_server_that_does_not_answer_is_one_line_and_exit_code_2(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = settings_file(tmp_path, f"postgresql://booth:secret@127.0.0.1:{port}/booth_lot")
    for command in ("status", "init"):
        done = run_booth("lot", command, "--config", str(config))
        assert done.returncode == 2, done
        assert done.stdout == ""
        (line,) = done.stderr.splitlines()
        server = f"postgresql://booth:***@127.0.0.1:{port}/booth_lot"
        assert line.startswith(f"booth lot {command}: lot server {server} does not answer: ")
        assert "secret" not in line


@pytest.mark.postgresql
def test_status_before_init_says_to_run_init(
    pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = settings_file(tmp_path, pg_url)
    assert main(["lot", "status", "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert err.endswith("has no lot schema: run booth lot init\n") and err.count("\n") == 1


def test_without_lot_the_commands_say_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = settings_file(tmp_path, None)
    for command in ("init", "status"):
        assert main(["lot", command, "--config", str(config)]) == 1
        assert capsys.readouterr().err.startswith(f"booth lot {command}: no [lot] section in the settings")


def test_a_bad_lot_section_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = settings_file(tmp_path, "postgresql://booth@127.0.0.1/booth_lot", booth_id="exit east")
    assert main(["lot", "status", "--config", str(config)]) == 1
    assert "lot.booth_id: 1 to 32 characters" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(0, "0 s"), (89, "89 s"), (90, "2 min"), (3599, "60 min"), (5400, "2 h"), (47 * 3600, "47 h"),
     (3 * 86400, "3 d"), (-5, "5 s ahead")],
)  # fmt: skip
def test_ages_read_at_a_glance(seconds: float, shown: str) -> None:
    assert age(seconds) == shown
