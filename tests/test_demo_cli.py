"""The demo's one folder (named at start, keys gone at exit, database read by `booth --demo report/sync`),
`--autopay-s`, the one-line refusal without a display, and `staff add --pin-stdin`'s documented PIN order."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from booth.cli import main as cli_main
from booth.cli.demo import start_demo
from booth.config import ConfigError

REPO = Path(__file__).resolve().parent.parent


def run(*argv: str, demo_dir: Path, env: dict[str, str] | None = None, timeout: float = 90) -> Any:
    environment = {**os.environ, "BOOTH_DEMO_DIR": str(demo_dir), "PYTHONPATH": str(REPO), **(env or {})}
    return subprocess.run(
        [sys.executable, *argv], capture_output=True, text=True, timeout=timeout, env=environment, check=False
    )


def test_the_demo_names_its_folder_removes_its_keys_and_later_commands_read_it(tmp_path: Path) -> None:
    demo_dir = tmp_path / "demo"
    stray = demo_dir / "left-by-an-older-demo.txt"
    demo_dir.mkdir()
    stray.write_text("x")
    done = run(
        "-m", "booth", "run", "--headless", "--demo", "--stop-after-exits", "1", "--autopay-s", "0.2",
        demo_dir=demo_dir,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"demo: data in {demo_dir}" in done.stderr
    assert "1 exit(s) completed" in done.stderr  # paid by the emulated driver 0.2 s after the QR
    assert not stray.exists()  # emptied at start
    assert not (demo_dir / "keys").exists()  # the throwaway keys are gone at exit
    assert (demo_dir / "demo.sqlite").exists()
    assert (demo_dir.stat().st_mode & 0o077) == 0
    assert not list(Path(os.environ.get("TMPDIR", "/tmp")).glob(f"booth-demo-*{os.getpid()}*"))

    staff = run("-m", "booth", "--demo", "staff", "list", demo_dir=demo_dir)
    assert staff.returncode == 0 and "王芳" in staff.stdout and "李主管" in staff.stdout
    sync = run("-m", "booth", "--demo", "sync", "status", demo_dir=demo_dir)
    assert sync.returncode == 0 and "bolink:" in sync.stdout
    report = run("-m", "booth", "--demo", "report", "shift", "--id", "1", demo_dir=demo_dir)
    # the demo's shift is still open: the report command found it in the demo's database
    assert "shift 1 (1001) is still open" in report.stderr
    con = sqlite3.connect(demo_dir / "demo.sqlite")
    try:
        assert con.execute("SELECT COUNT(*) FROM payments").fetchone()[0] >= 1
    finally:
        con.close()


def test_commands_on_a_demo_that_never_ran_say_so(tmp_path: Path) -> None:
    done = run("-m", "booth", "--demo", "sync", "status", demo_dir=tmp_path / "none")
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"--demo: invalid configuration: no demo has run yet (nothing in {tmp_path / 'none'}): "
        "start one with booth --demo"
    )


def test_a_second_demo_is_refused_while_one_runs_on_the_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BOOTH_DEMO_DIR", str(tmp_path))
    running = sqlite3.connect(tmp_path / "demo.sqlite")  # the running demo's open database
    running.execute("PRAGMA journal_mode=WAL")
    running.execute("CREATE TABLE t (x)")
    try:
        with pytest.raises(ConfigError, match="a demo is running on"):
            start_demo()
        assert (tmp_path / "demo.sqlite").exists()  # left alone
    finally:
        running.close()


@pytest.mark.parametrize(("given", "expected"), [("30", 30.0), ("0", 0.0), ("off", None)])
def test_autopay_s_reaches_the_demo(
    given: str, expected: float | None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: dict[str, Any] = {}

    def fake_load(
        config: str | None, demo: bool, *, start: bool = False, autopay_s: float | None = 6.0
    ) -> Any:
        seen.update(demo=demo, start=start, autopay_s=autopay_s)
        raise ConfigError("<test>", ["stop here"])  # the demo's start itself is tested above

    monkeypatch.setattr(cli_main, "load_for_command", fake_load)
    assert cli_main.main(["--demo", "--autopay-s", given, "run", "--headless"]) == 1
    assert seen == {"demo": True, "start": True, "autopay_s": expected}


def test_autopay_s_is_refused_without_the_demo_and_out_of_range(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main.main(["--autopay-s", "30", "sync", "status"]) == 2
    assert "--autopay-s is for the demo" in capsys.readouterr().err
    assert cli_main.main(["--demo", "--autopay-s", "-5", "sync", "status"]) == 2
    assert "seconds from 0 to 3600, or off" in capsys.readouterr().err


def test_without_a_display_the_window_is_refused_in_one_line_before_anything_starts(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env |= {"BOOTH_DEMO_DIR": str(tmp_path / "demo"), "PYTHONPATH": str(REPO)}
    code = (
        "import sys; from ui.launcher import main; code = main(['--demo']); "
        "assert 'PySide6' not in sys.modules, 'Qt was loaded'; raise SystemExit(code)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env, check=False
    )
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("booth: no display to open the window on")
    assert "booth run --headless" in lines[0]
    assert not (tmp_path / "demo").exists()  # no demo was started for a window that cannot open


def test_staff_add_help_says_which_pin_comes_first(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main.main(["staff", "add", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert (
        "the new person's PIN first, then (unless this is the first supervisor) the --by supervisor's" in text
    )


def test_a_demo_folder_that_cannot_be_made_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a-file").write_text("x")
    monkeypatch.setenv("BOOTH_DEMO_DIR", str(tmp_path / "a-file" / "demo"))
    with pytest.raises(ConfigError, match=r"cannot make the demo folder .*a-file/demo: Not a directory"):
        start_demo()
