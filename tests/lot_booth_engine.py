"""One booth of the lot test (tests/test_lot_crash.py): a parent that has imported Booth forks booth
processes from one settings file, one at a time, so that a booth can be SIGKILLed and started again in
milliseconds (as tests/crash_lanes_engine.py does for the lane crash test).

Each child builds a fresh Engine (with ``[lot]``: journal, pusher, puller, lookup) and runs it with its
camera listener and Modbus gates, plus a small control socket on 127.0.0.1 through which the test plays the
attendant at the booth's screen: read the lanes, take cash, free-release a car the booth does not know.

Protocol with the parent, one line each way on standard input and output:
  start  -> "started PID" (parent), then "ready PID CAMERA_PORT CONTROL_PORT" (the child, once its lanes run)
  reap   -> "reaped PID STATUS" once a child ended (waits for it)
  quit   -> the parent exits
A child that gets SIGUSR1 writes every thread's stack to standard error (a hang's evidence); one that
gets SIGTERM stops its engine cleanly (its last push included) and says "stopped PID".

Control socket: one JSON object per connection, one JSON answer ({"ok": …} or {"error": "…"}):
  {"op": "lanes"}                                   -> [{lane_id, state, plate, due_fen, order_id}, …]
  {"op": "cash", "lane": L, "fen": N}               -> the attendant takes N fen in cash
  {"op": "release", "lane": L, "reason": R}         -> a free release with reason R
  {"op": "lot"}                                     -> {online, behind} of the push (or null)
"""

from __future__ import annotations

import faulthandler
import json
import logging
import os
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Any

# imported before the fork (the engine imports them only when a lane uses them): children start in ms
import booth.clouds.alipay
import booth.devices.cameras
import booth.devices.modbus_gates
import booth.lot.service
import booth.sync.cloud_sync  # noqa: F401
from booth.config import Settings, load_settings
from booth.engine import Engine

OPERATOR_FILE = "operator"  # beside the settings: the attendant signed in at this booth


def _say(text: str) -> None:
    os.write(1, (text + "\n").encode())  # one write per line: the parent's and children's lines never mix


def _answer(engine: Engine, operator: str, request: dict[str, Any]) -> Any:
    op = request.get("op")
    if op == "lanes":
        return [
            {
                "lane_id": v.lane_id,
                "state": str(v.state.value),
                "plate": v.plate,
                "due_fen": v.due_fen,
                "order_id": v.order_id,
            }
            for v in engine.snapshot()
        ]
    if op == "cash":
        engine.cash(str(request["lane"]), int(request["fen"]), operator).result(5)
        return True
    if op == "release":
        engine.free_release(str(request["lane"]), str(request["reason"]), operator).result(5)
        return True
    if op == "lot":
        status = engine.lot_status()
        return None if status is None else {"online": status.online, "behind": status.behind}
    raise ValueError(f"unknown op {op!r}")


def _serve(engine: Engine, operator: str, listener: socket.socket) -> None:
    while True:
        try:
            client, _ = listener.accept()
        except OSError:
            return
        with client:
            try:
                client.settimeout(10)
                data = b""
                while not data.endswith(b"\n"):
                    chunk = client.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                try:
                    reply: dict[str, Any] = {"ok": _answer(engine, operator, json.loads(data))}
                except Exception as exc:  # the attendant's action refused: the test decides what next
                    reply = {"error": f"{type(exc).__name__}: {exc}"}
                client.sendall((json.dumps(reply, ensure_ascii=False) + "\n").encode())
            except OSError:
                pass


def _run_child(settings: Settings, operator: str) -> None:
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # every thread's stack on stderr, for a hang
    logging.basicConfig(
        level=settings.logging.level,
        stream=sys.stderr,
        format=f"%(asctime)s {os.getpid()} %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    engine = Engine(settings)
    engine.start()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    threading.Thread(target=_serve, args=(engine, operator, listener), daemon=True).start()
    port = engine.cameras.port if engine.cameras is not None else 0
    _say(f"ready {os.getpid()} {port} {listener.getsockname()[1]}")
    signal.sigwait({signal.SIGTERM})
    listener.close()
    engine.stop()
    _say(f"stopped {os.getpid()}")


def main() -> int:
    config = Path(sys.argv[1])
    settings = load_settings(config)
    operator_file = config.parent / OPERATOR_FILE
    operator = operator_file.read_text(encoding="utf-8").strip() if operator_file.exists() else "lot-test"
    for line in sys.stdin:
        command = line.strip()
        if command == "start":
            pid = os.fork()
            if pid == 0:
                code = 0
                try:
                    _run_child(settings, operator)
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
