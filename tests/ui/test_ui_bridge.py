"""The bridge: engine events reach the widgets on the GUI thread, coalesced; commands never block."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lane_driving import bring_car, lane_settings

from PySide6.QtCore import QObject, Slot

from booth.domain.lane import LaneState, LaneView
from booth.engine import BolinkChanged, Engine, EngineEvent, LaneChanged
from ui.link.bridge import CommandOutcome, EngineBridge, EngineStarted

WAIT_MS = 10_000


class Recorder(QObject):
    """Lives on the GUI thread; notes on which thread each view arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.views: list[LaneView] = []
        self.on_main_thread: list[bool] = []

    @Slot(object)
    def on_view(self, view: LaneView) -> None:
        self.views.append(view)
        self.on_main_thread.append(threading.current_thread() is threading.main_thread())


class HandSource:
    """Stands in for the engine's subscribe(): the test publishes events from a thread of its choosing."""

    def __init__(self) -> None:
        self.listeners: list[Callable[[EngineEvent], None]] = []

    def subscribe(self, listener: Callable[[EngineEvent], None]) -> Callable[[], None]:
        self.listeners.append(listener)
        return lambda: self.listeners.remove(listener)


def view(message: str, lane_id: str = "X1") -> LaneView:
    return LaneView(lane_id, "东出口", "exit", LaneState.IDLE, message)


def test_engine_events_arrive_on_the_gui_thread(engine: Engine, qtbot: Any) -> None:
    bridge = EngineBridge(engine)
    recorder = Recorder()
    lambda_threads: list[bool] = []
    bridge.laneChanged.connect(recorder.on_view)
    bridge.laneChanged.connect(
        lambda _v: lambda_threads.append(threading.current_thread() is threading.main_thread())
    )
    try:
        bring_car(engine, "X1", "苏A12345")
        qtbot.waitUntil(lambda: any(v.state is LaneState.AWAITING_PAYMENT for v in recorder.views),
                        timeout=WAIT_MS)
    finally:
        bridge.close()
    assert recorder.on_main_thread and all(recorder.on_main_thread)
    assert lambda_threads and all(lambda_threads)  # re-emitted on the GUI thread: even lambdas run there


def test_views_published_faster_than_the_gui_draws_are_coalesced_per_lane(qtbot: Any) -> None:
    source = HandSource()
    bridge = EngineBridge(source)  # type: ignore[arg-type]
    views: list[LaneView] = []
    statuses: list[tuple[bool, str]] = []
    bridge.laneChanged.connect(views.append)
    bridge.bolinkChanged.connect(lambda online, reason: statuses.append((online, reason)))

    def publish() -> None:
        for i in range(500):
            source.listeners[0](LaneChanged(view(str(i))))
            source.listeners[0](LaneChanged(view(str(i), "X2")))
        source.listeners[0](BolinkChanged(False, "down"))
        source.listeners[0](BolinkChanged(True, "connected"))

    publisher = threading.Thread(target=publish)
    publisher.start()
    publisher.join()  # the GUI thread does not run meanwhile: everything queues up
    qtbot.waitUntil(lambda: len(statuses) == 2)
    assert [(v.lane_id, v.message) for v in views] == [("X1", "499"), ("X2", "499")]
    assert statuses == [(False, "down"), (True, "connected")]  # other events keep their order
    bridge.close()
    assert source.listeners == []
    source_events_after_close = LaneChanged(view("late"))
    bridge._on_engine_event(source_events_after_close)  # a straggler from the engine thread is dropped
    qtbot.wait(0)
    assert views[-1].message == "499"


def submit_and_wait(
    qtbot: Any, bridge: EngineBridge, action: str, command: Callable[[], Any]
) -> CommandOutcome:
    with qtbot.waitSignal(bridge.commandDone, timeout=WAIT_MS) as blocker:
        ticket = bridge.submit("X1", action, command)
    outcome = blocker.args[0]
    assert isinstance(outcome, CommandOutcome) and outcome.ticket == ticket
    return outcome


def test_command_outcomes_come_back_as_signals(engine: Engine, qtbot: Any) -> None:
    bridge = EngineBridge(engine)
    try:
        refused = submit_and_wait(qtbot, bridge, "cash", lambda: engine.cash("X1", 500, "测试员"))
        assert not refused.ok and refused.error == "没有等待支付的订单，不能收现金"

        bad_plate = submit_and_wait(
            qtbot, bridge, "correct_plate", lambda: engine.correct_plate("X1", "不是车牌", "测试员")
        )
        assert bad_plate.error.startswith("车牌无效：")

        no_lane = submit_and_wait(qtbot, bridge, "cancel", lambda: engine.cancel("X9", "测试员"))
        assert no_lane.error == "系统无法执行：no lane 'X9'"

        done = submit_and_wait(qtbot, bridge, "cancel", lambda: engine.cancel("X1", "测试员"))
        assert done.ok and done.error == ""
    finally:
        bridge.close()


def test_a_background_start_reports_success_and_failure(tmp_path: Path, qtbot: Any) -> None:
    good = Engine(lane_settings(tmp_path / "good"))
    (tmp_path / "good").mkdir()
    bridge = EngineBridge(good)
    try:
        with qtbot.waitSignal(bridge.engineStarted, timeout=WAIT_MS) as blocker:
            bridge.start_engine()
        assert blocker.args[0] == EngineStarted("")
        assert len(good.snapshot()) == 2
    finally:
        bridge.close()
        bridge.join_starter(30)
        good.stop()

    settings = lane_settings(tmp_path / "bad")
    data = settings.model_dump(mode="json")
    (tmp_path / "a-file").write_text("not a directory")
    data["database"]["url"] = f"sqlite:///{tmp_path / 'a-file' / 'booth.sqlite'}"  # cannot be created
    bad = Engine(type(settings).model_validate(data))
    bridge = EngineBridge(bad)
    try:
        with qtbot.waitSignal(bridge.engineStarted, timeout=WAIT_MS) as blocker:
            bridge.start_engine()
        assert blocker.args[0].error != ""
    finally:
        bridge.close()
        bridge.join_starter(30)
        bad.stop()
