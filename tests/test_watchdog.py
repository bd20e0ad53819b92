"""systemd notifications over a real unix datagram socket: READY=1, WATCHDOG=1 from the GUI thread's timer
(none while that thread is blocked), STOPPING=1 at the end, and clear errors for a bad environment."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before any QApplication exists

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ui.shell.watchdog import (
    NotifyError,
    SystemdNotifier,
    WatchdogFeeder,
    feeder_from_environment,
    notify_address,
    watchdog_interval_s,
)

WAIT_MS = 10_000


class NotifyServer:
    """What systemd listens on: a unix datagram socket; ``take()`` returns the datagrams received so far."""

    def __init__(self, address: str) -> None:
        self.address = address
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.sock.setblocking(False)
        self.received: list[str] = []

    def take(self) -> list[str]:
        while True:
            try:
                self.received.append(self.sock.recv(4096).decode())
            except BlockingIOError:
                return self.received

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[NotifyServer]:
    path = tmp_path / "notify.sock"
    if len(str(path)) >= 100:  # unix socket paths are short; fall back to the abstract namespace
        made = NotifyServer("\0booth-test-" + uuid.uuid4().hex)
    else:
        made = NotifyServer(str(path))
    yield made
    made.close()


def env_name(address: str) -> str:
    return "@" + address[1:] if address.startswith("\0") else address


def test_ready_then_watchdog_from_the_gui_thread_and_stopping(
    server: NotifyServer, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", env_name(server.address))
    monkeypatch.setenv("WATCHDOG_USEC", "100000")  # 0.1 s: fed every 50 ms
    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    feeder = feeder_from_environment()
    assert feeder is not None and feeder.timer.interval() == 50
    feeder.start()
    try:
        qtbot.waitUntil(lambda: server.take().count("WATCHDOG=1") >= 3, timeout=WAIT_MS)
        assert server.received[0] == "READY=1\nSTATUS=booth window up"

        # the GUI thread is stuck (here: blocked in recv for 10 intervals): nothing feeds systemd
        server.take()
        server.received.clear()
        server.sock.settimeout(0.5)
        with pytest.raises(TimeoutError):
            server.sock.recv(4096)
        server.sock.setblocking(False)
        assert server.take() == []

        qtbot.waitUntil(lambda: "WATCHDOG=1" in server.take(), timeout=WAIT_MS)  # the loop runs: fed again
    finally:
        feeder.stop()
    assert not feeder.timer.isActive()
    qtbot.waitUntil(lambda: "STOPPING=1" in server.take(), timeout=WAIT_MS)
    feeder.deleteLater()


def test_abstract_socket_and_no_watchdog(qtbot: Any) -> None:
    server = NotifyServer("\0booth-test-" + uuid.uuid4().hex)
    try:
        address = notify_address({"NOTIFY_SOCKET": env_name(server.address)})
        assert address == server.address
        assert address is not None
        feeder = WatchdogFeeder(SystemdNotifier(address), None)  # Type=notify without WatchdogSec=
        feeder.start()
        qtbot.waitUntil(lambda: server.take() == ["READY=1\nSTATUS=booth window up"], timeout=WAIT_MS)
        assert not feeder.timer.isActive()
        feeder.stop()
        feeder.deleteLater()
    finally:
        server.close()


def test_environment_errors_are_named() -> None:
    assert notify_address({}) is None
    with pytest.raises(NotifyError, match="absolute path or start with '@'"):
        notify_address({"NOTIFY_SOCKET": "relative/sock"})
    assert watchdog_interval_s({}) is None
    assert watchdog_interval_s({"WATCHDOG_USEC": "30000000"}) == 30.0
    assert watchdog_interval_s({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}, pid=2) is None
    with pytest.raises(NotifyError, match="whole number of microseconds, got 'soon'"):
        watchdog_interval_s({"WATCHDOG_USEC": "soon"})
    with pytest.raises(NotifyError, match="must be positive"):
        watchdog_interval_s({"WATCHDOG_USEC": "0"})


def test_a_missing_listener_is_logged_not_raised(tmp_path: Path) -> None:
    notifier = SystemdNotifier(str(tmp_path / "nobody.sock"))
    try:
        assert notifier.notify("WATCHDOG=1") is False
        with pytest.raises(NotifyError, match="one VARIABLE=value line"):
            notifier.notify("READY")
    finally:
        notifier.close()


def test_no_notify_socket_means_no_feeder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert feeder_from_environment() is None
    monkeypatch.setenv("NOTIFY_SOCKET", "not-a-path")
    assert feeder_from_environment() is None  # logged, and the booth runs without systemd's watchdog
