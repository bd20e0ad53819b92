"""The booth processes of the lane crash test and the wire benchmark, forked from one pre-imported parent.

Importing Booth (and the camera listener's aiohttp, the Modbus gate's pymodbus) takes over a second; forking
a process that has already imported them takes milliseconds, so a hundred booths can be started, killed with
SIGKILL and started again within the test's budget. Each child builds a fresh Engine from the settings file
(threads, loop, database connections and sockets are all made after the fork) and runs it with its camera
listener and Modbus gates until it is killed; the parent never holds a thread, loop or connection.

Protocol, one line each way on standard input and output:
  start  -> "started PID" (parent), then "ready PID CAMERA_PORT" (the child, once its lanes run)
  reap   -> "reaped PID STATUS" once a child ended (waits for it)
  quit   -> the parent exits
A child that gets SIGTERM drains instead of dying: it waits until nothing of Alipay's is pending (at most
DRAIN_S), stops its engine cleanly and says "drained PID N" (N: rows still pending). A child whose engine
could not start says "failed PID REASON".
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from pathlib import Path

# imported before the fork (the engine imports them only when a lane uses them): children start in ms
import booth.clouds.alipay
import booth.devices.cameras
import booth.devices.modbus_gates
import booth.sync.cloud_sync  # noqa: F401
from booth.config import Settings, load_settings
from booth.engine import Engine

DRAIN_S = 60.0


def _say(text: str) -> None:
    os.write(1, (text + "\n").encode())  # one write per line: the parent's and children's lines never mix


def _run_child(settings: Settings) -> None:
    # SIGTERM is taken with sigwait, never by a handler: blocked before any engine thread exists, every
    # thread inherits the mask and the signal waits for this thread (SIGKILL cannot be blocked).
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    logging.basicConfig(
        level=settings.logging.level,
        stream=sys.stderr,
        format=f"%(asctime)s {os.getpid()} %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    engine = Engine(settings)
    engine.start()
    port = engine.cameras.port if engine.cameras is not None else 0
    _say(f"ready {os.getpid()} {port}")
    signal.sigwait({signal.SIGTERM})
    deadline = time.monotonic() + DRAIN_S
    engine.sync_started.wait(DRAIN_S)
    pending = -1
    while time.monotonic() < deadline:
        status = engine.sync_status()
        pending = status.cloud("alipay").pending
        if pending == 0 and status.taken_at.timestamp() > time.time() - 1:
            break
        time.sleep(0.05)
    engine.stop()
    _say(f"drained {os.getpid()} {pending}")


def main() -> int:
    settings = load_settings(Path(sys.argv[1]))
    for line in sys.stdin:
        command = line.strip()
        if command == "start":
            pid = os.fork()
            if pid == 0:
                code = 0
                try:
                    _run_child(settings)
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
