"""UI tests: offscreen Qt, a real engine on the Bolink sandbox in tmp_path, and no leaks.

Every test here fails when it leaves a thread or an active QTimer behind, leaves a top-level widget alive,
or makes Qt print a warning (pytest-qt's qt_log_level_fail, applied to this directory's tests below).
"""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before any QApplication exists

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from lane_driving import lane_settings

from PySide6.QtCore import QEvent, QTimer
from PySide6.QtWidgets import QApplication

from booth.config import Settings
from booth.engine import Engine
from ui.kit.style import apply_style
from ui.shell.main_window import BoothWindow

UI_DIR = Path(__file__).resolve().parent
#: Qt platform-plugin chatter that says nothing about the booth (the offscreen plugin has no window manager)
QT_NOISE = (r"This plugin does not support propagateSizeHints",)
THREAD_GRACE_S = 10.0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if UI_DIR in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.qt_log_level_fail("WARNING"))
            item.add_marker(pytest.mark.qt_log_ignore(*QT_NOISE))


@pytest.fixture(scope="session", autouse=True)
def _styled(qapp: QApplication) -> None:
    """The real style sheet and font, so a broken style sheet shows up as a Qt warning in every test."""
    apply_style(qapp)


#: threads the window starts once and keeps for the process's life, by design (not leaks)
PROCESS_THREADS = ("photo-decode",)  # ui.lanes.lane_details.photo_decoder


@pytest.fixture(autouse=True)
def no_leaks(qapp: QApplication, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fail the test if it leaves threads, active QTimers or top-level widgets behind."""
    threads_before = set(threading.enumerate())
    widgets_before = set(qapp.topLevelWidgets())
    started: list[QTimer] = []
    original_start = QTimer.start

    def recording_start(self: QTimer, *args: Any) -> None:
        started.append(self)
        original_start(self, *args)

    monkeypatch.setattr(QTimer, "start", recording_start)
    yield
    monkeypatch.undo()
    qapp.processEvents()
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    problems: list[str] = []
    for timer in started:
        try:
            active = timer.isActive()
        except RuntimeError:  # the C++ object is gone: it cannot fire
            continue
        if active:
            timer.stop()
            problems.append(f"active QTimer (parent {timer.parent()!r}, interval {timer.interval()} ms)")
    for widget in set(qapp.topLevelWidgets()) - widgets_before:
        if widget.isVisible():
            problems.append(f"visible top-level widget {widget!r}")
            widget.close()
    deadline = time.monotonic() + THREAD_GRACE_S
    for thread in set(threading.enumerate()) - threads_before:
        if thread.name.startswith(PROCESS_THREADS):
            continue
        thread.join(max(0.0, deadline - time.monotonic()))  # threads that are just finishing get a moment
        if thread.is_alive():
            problems.append(f"thread left running: {thread.name}")
    if problems:
        pytest.fail("the test leaked: " + "; ".join(problems))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return lane_settings(tmp_path)


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    engine = Engine(settings)
    engine.start()
    assert engine.sync_started.wait(10), "the Alipay/Tmall sync did not start"
    try:
        yield engine
    finally:
        engine.stop()


@pytest.fixture
def make_window(qtbot: Any) -> Callable[[Settings, Engine], BoothWindow]:
    def make(settings: Settings, engine: Engine) -> BoothWindow:
        window = BoothWindow(settings, engine, operator="测试员")
        qtbot.addWidget(window)
        window.resize(1600, 900)
        window.show()
        return window

    return make


@pytest.fixture
def window(
    make_window: Callable[[Settings, Engine], BoothWindow], settings: Settings, engine: Engine
) -> BoothWindow:
    return make_window(settings, engine)
