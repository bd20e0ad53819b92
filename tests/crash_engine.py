"""The engine processes of the crash test, forked from one pre-imported parent.

Importing Booth takes over a second; forking a process that has already imported it takes milliseconds, so
50 engine processes can be started, killed with SIGKILL and started again in well under a minute. Each
child builds a fresh Engine from the settings file (its threads, loop and database connections are made
after the fork) and runs it until it is killed; the parent holds no thread, loop or connection at any time.

Protocol (one line each way, on standard input and output):
  start  -> "started PID" (parent), then "ready PID" (the child, once its engine runs)
  drain  -> "started PID", then the child runs until nothing of Alipay's or Tmall's is pending and says
            "drained PID N" (N: rows still pending, 0) before it stops the engine and exits
  reap   -> "reaped PID STATUS" once a child ended (waits for it)
  quit   -> the parent exits
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

from booth.config import Settings, load_settings
from booth.engine import Engine


def _say(text: str) -> None:
    os.write(1, (text + "\n").encode())  # unbuffered: the parent's and children's lines never mix


def _run_child(settings: Settings, drain: bool) -> None:
    engine = Engine(settings)
    engine.start()
    engine.sync_started.wait(30)
    _say(f"ready {os.getpid()}")
    if not drain:
        threading.Event().wait()  # until SIGKILL
    deadline = time.monotonic() + 120
    pending = -1
    while time.monotonic() < deadline:
        status = engine.sync_status()
        pending = status.cloud("alipay").pending + status.cloud("tmall").pending
        if pending == 0 and status.taken_at.timestamp() > time.time() - 1:
            break
        time.sleep(0.05)
    engine.stop()
    _say(f"drained {os.getpid()} {pending}")


def main() -> int:
    settings = load_settings(Path(sys.argv[1]))
    for line in sys.stdin:
        command = line.strip()
        if command in ("start", "drain"):
            pid = os.fork()
            if pid == 0:
                code = 0
                try:
                    _run_child(settings, command == "drain")
                except BaseException as exc:
                    _say(f"failed {os.getpid()} {exc!r}")
                    code = 1
                finally:
                    os._exit(code)
            _say(f"started {pid}")
        elif command == "reap":
            pid, status = os.wait()
            _say(f"reaped {pid} {status}")
        elif command == "quit":
            break
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
