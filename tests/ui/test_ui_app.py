"""``run_window`` and ``booth --demo``: the window opens, the engine starts behind it, and closing the window
(or SIGTERM) stops everything — the leak check in conftest fails the test if a thread or timer survives."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from lane_driving import lane_settings

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

import booth.cli.main
from booth.domain.lane import LaneState
from ui import launcher
from ui.shell.app import run_window
from ui.shell.booth_lock import BoothLock
from ui.shell.main_window import BoothWindow

DEADLINE_MS = 20_000


class WhenReady:
    """Finds the booth window once it is up and runs ``then(window)`` when its lanes are ready.

    Polls from the event loop that ``run_window`` runs; a deadline quits the loop so a broken start fails
    the test instead of hanging it.
    """

    def __init__(self, then: Callable[[BoothWindow], None]) -> None:
        self.then = then
        self.window: BoothWindow | None = None
        self.views: dict[str, LaneState] = {}
        self.timed_out = False
        self.poll = QTimer()
        self.poll.setInterval(10)
        self.poll.timeout.connect(self._look)
        self.deadline = QTimer()
        self.deadline.setSingleShot(True)
        self.deadline.setInterval(DEADLINE_MS)
        self.deadline.timeout.connect(self._give_up)

    def arm(self) -> None:
        self.poll.start()
        self.deadline.start()

    def _look(self) -> None:
        for widget in QApplication.topLevelWidgets():
            if isinstance(widget, BoothWindow) and widget.isVisible():
                self.window = widget
        window = self.window
        if window is not None and window.ready_at is not None:
            self.poll.stop()
            self.deadline.stop()
            self.views = {lane_id: panel.view.state for lane_id, panel in window.panels.items()}
            self.then(window)

    def _give_up(self) -> None:
        self.timed_out = True
        self.poll.stop()
        QApplication.quit()


@pytest.fixture
def when_ready() -> Iterator[Callable[[Callable[[BoothWindow], None]], WhenReady]]:
    made: list[WhenReady] = []

    def make(then: Callable[[BoothWindow], None]) -> WhenReady:
        watcher = WhenReady(then)
        watcher.arm()
        made.append(watcher)
        return watcher

    yield make
    for watcher in made:
        watcher.poll.stop()
        watcher.deadline.stop()


def test_run_window_starts_the_engine_and_closing_the_window_stops_it(
    qapp: QApplication, tmp_path: Path, when_ready: Callable[[Callable[[BoothWindow], None]], WhenReady]
) -> None:
    def close(window: BoothWindow) -> None:
        window.close()

    watcher = when_ready(close)
    code = run_window(lane_settings(tmp_path), kiosk=False)
    assert not watcher.timed_out, "the lanes never became ready"
    assert code == 0
    assert watcher.views == {"X1": LaneState.IDLE, "X2": LaneState.IDLE}
    assert watcher.window is not None and watcher.window.engine_running


def test_sigterm_closes_the_window_cleanly(
    qapp: QApplication, tmp_path: Path, when_ready: Callable[[Callable[[BoothWindow], None]], WhenReady]
) -> None:
    previous = signal.getsignal(signal.SIGTERM)
    watcher = when_ready(lambda _window: os.kill(os.getpid(), signal.SIGTERM))
    code = run_window(lane_settings(tmp_path), kiosk=True)
    assert not watcher.timed_out
    assert code == 0
    assert signal.getsignal(signal.SIGTERM) is previous  # our handler was only there while the window ran


def test_out_of_kiosk_mode_a_locked_window_refuses_a_close_but_sigterm_still_ends_it(
    qapp: QApplication, tmp_path: Path, when_ready: Callable[[Callable[[BoothWindow], None]], WhenReady]
) -> None:
    seen: dict[str, object] = {}

    def lock_then_terminate(window: BoothWindow) -> None:
        booth_lock = window.findChild(BoothLock)
        assert isinstance(booth_lock, BoothLock)  # run_window makes the lock out of kiosk mode too
        booth_lock.lock.lock()
        seen["closed"] = window.close()  # the window manager's close: refused while locked
        seen["mode"] = booth_lock.lock.mode
        os.kill(os.getpid(), signal.SIGTERM)  # systemd stopping the booth needs no PIN

    watcher = when_ready(lock_then_terminate)
    code = run_window(lane_settings(tmp_path), kiosk=False)
    assert not watcher.timed_out
    assert code == 0
    assert seen == {"closed": False, "mode": "supervisor"}
    assert watcher.window is not None and not watcher.window.isVisible()


def test_booth_demo_opens_the_window_on_the_sandbox(
    qapp: QApplication, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    when_ready: Callable[[Callable[[BoothWindow], None]], WhenReady],
) -> None:
    demo_dir = tmp_path / "demo"
    demo_dir.mkdir()
    monkeypatch.setenv("BOOTH_DEMO_DIR", str(demo_dir))  # the demo's one folder
    seen: dict[str, Any] = {}

    def inspect(window: BoothWindow) -> None:
        seen["title"] = window.windowTitle()
        seen["lanes"] = [panel.view.name for panel in window.panels.values()]
        # the demo's emulators run in a child process on loopback, listening by now (or soon: it starts
        # beside the booth)
        settings = window.engine.settings
        assert settings.alipay is not None and settings.tmall is not None
        for name, address in (
            ("bolink", settings.bolink.base_url),
            ("alipay", settings.alipay.sandbox_url),
            ("tmall", settings.tmall.gateway_url),
        ):
            url = urlsplit(address)
            deadline = time.monotonic() + 10
            while True:
                try:
                    with socket.create_connection((url.hostname or "", url.port or 0), timeout=5):
                        seen[name] = url.hostname
                    break
                except ConnectionRefusedError:
                    assert time.monotonic() < deadline, f"the demo's {name} emulator is not listening"
                    time.sleep(0.05)
        assert window.engine.sync_started.wait(10)
        sync = window.engine.cloud_sync
        assert sync is not None
        seen["in_process_emulators"] = [
            kind
            for kind, running in (
                ("bolink", window.engine.sandbox),
                ("alipay", sync.alipay_emulator),
                ("tmall", sync.tmall_emulator),
            )
            if running is not None
        ]
        window.close()

    watcher = when_ready(inspect)
    assert launcher.main(["--demo"]) == 0  # the `booth` console script
    assert not watcher.timed_out
    assert seen == {
        "title": "收费亭 — 演示停车场",
        "lanes": ["东出口", "西出口"],
        "bolink": "127.0.0.1",
        "alipay": "127.0.0.1",
        "tmall": "127.0.0.1",
        "in_process_emulators": [],
    }
    assert (demo_dir / "demo.sqlite").exists()
    assert not (demo_dir / "keys").exists()  # the throwaway keys go with the command
    assert not booth.cli.demo._demo_children  # the emulator process is stopped with the command


def test_heavy_qt_use_does_not_wear_out_none_or_true(qapp: QApplication) -> None:
    """PySide6 6.12.0 drops a reference to None on every void call and to True on every emit; on CPython
    3.11 the process aborts after a few thousand calls ("none_dealloc"). pyproject.toml keeps PySide6 below
    6.12; this fails loudly should a leaking version ever be installed."""
    from PySide6.QtCore import QObject, Signal
    from PySide6.QtWidgets import QLabel

    class Emitter(QObject):
        ping = Signal(int)

    label, emitter = QLabel(), Emitter()
    none_before, true_before = sys.getrefcount(None), sys.getrefcount(True)
    for i in range(2_000):  # far below the crash, far above any real drift
        label.setText("x" if i % 2 else "y")
        emitter.ping.emit(i)
    assert sys.getrefcount(None) >= none_before - 50, "this PySide6 leaks references to None"
    assert sys.getrefcount(True) >= true_before - 50, "this PySide6 leaks references to True"
