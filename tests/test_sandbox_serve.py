"""`python -m booth.sandbox.serve`, the demo's clouds in a process of their own: it stops cleanly on each of
the ways it is told to (a real subprocess)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def start_clouds() -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "booth.sandbox.serve",
            "--bolink-union-id=200208",
            "--bolink-park-id=21835",
            "--bolink-ukey=DEMO0000DEMO0000",
            "--top-app-key=12345678",
            "--top-secret=demo",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    assert process.stdout is not None
    ready = json.loads(process.stdout.readline())
    assert set(ready) >= {"bolink", "tmall"}
    assert all(url.startswith("http://127.0.0.1:") for url in ready.values())
    return process


@pytest.mark.parametrize("how", ["stdin closed", "SIGINT", "SIGTERM"])
def test_the_clouds_process_stops_cleanly(how: str) -> None:
    """Ctrl-C in the terminal of `./dev demo` sends SIGINT to the booth and this child alike; the child's
    stdin watcher must not turn that into a fatal error at the interpreter's shutdown."""
    with start_clouds() as process:
        try:
            if how != "stdin closed":
                process.send_signal(signal.SIGINT if how == "SIGINT" else signal.SIGTERM)
                assert process.wait(15) == 0  # by the signal alone: stdin is still open
            _, errors = process.communicate(timeout=15)  # (closes stdin)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 0
    assert "Fatal Python error" not in errors and "Traceback" not in errors, errors
