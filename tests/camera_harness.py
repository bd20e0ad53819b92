"""The real camera listener on a loop thread of its own, with a sink that records what reached the lanes.

The listener tests and the fuzz suite drive it over loopback HTTP and raw sockets without a whole engine
(Bolink sandbox, database): what matters is what the listener lets through to the engine (``camera_read``,
``camera_left``, ``camera_record``) and that it never logs a traceback. Lanes and addresses are those of
tests/test_cameras.py: E1 (Vzenith, camera-relay gate) 127.0.0.2, X1 (Vzenith) 127.0.0.1, X2 (Hikvision)
127.0.0.3; 127.0.0.9 is nobody's.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from booth.config import CameraRelayGateSettings
from booth.devices.camera_reads import PlateRead
from booth.devices.cameras import CameraListener
from booth.devices.gates import GateDriver
from booth.devices.vzenith import CameraRelayGate
from booth.domain.phrases import Phrase
from tests.conftest import engine_settings
from tests.test_cameras import camera_lanes, listener_settings

T = TypeVar("T")


class RecordingSink:
    """A CameraSink that keeps everything; ``hold`` (when set) keeps ``camera_read`` waiting."""

    def __init__(self) -> None:
        self.reads: list[PlateRead] = []
        self.received_at: list[datetime] = []
        self.left: list[tuple[str, str]] = []
        self.records: list[tuple[str, str, dict[str, object]]] = []
        self.alerts: list[tuple[str, str]] = []
        self.hold: asyncio.Event | None = None

    async def camera_read(self, read: PlateRead) -> None:
        self.reads.append(read)
        self.received_at.append(datetime.now(UTC))
        if self.hold is not None:
            await self.hold.wait()

    async def camera_left(self, lane_id: str, source: str) -> None:
        self.left.append((lane_id, source))

    async def camera_record(self, lane_id: str, action: str, detail: dict[str, object]) -> None:
        self.records.append((lane_id, action, detail))

    async def camera_alert(self, lane_id: str, kind: str, said: Phrase) -> None:
        self.alerts.append((lane_id, kind))


class ProblemRecords(logging.Handler):
    """Collects log records that must never appear: ERROR and above, or anything with a traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.problems: list[logging.LogRecord] = []
        self.lines: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING:
            self.lines.append(record)
        if record.levelno >= logging.ERROR or record.exc_info:
            self.problems.append(record)

    def describe(self) -> str:
        return "\n".join(self.format(r) for r in self.problems)


@contextmanager
def problem_records() -> Iterator[ProblemRecords]:
    handler = ProblemRecords()
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


class ListenerThread:
    """The real CameraListener, started on its own event loop thread as the engine runs it."""

    def __init__(self, tmp_path: Path, **cameras: Any) -> None:
        settings = engine_settings(
            tmp_path, lanes=camera_lanes(), cameras=listener_settings(tmp_path, **cameras)
        )
        self.settings = settings
        self.sink = RecordingSink()
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="camera-listener", daemon=True)
        self._thread.start()
        self.gates: dict[str, GateDriver] = {}
        self.listener: CameraListener  # set by _start
        self.watch_task: asyncio.Task[None] | None = None
        self.call(self._start())

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 10) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _start(self) -> None:
        entry = self.settings.lanes[0]
        assert isinstance(entry.gate, CameraRelayGateSettings)
        self.gates = {entry.id: CameraRelayGate(entry.gate, entry.id)}
        self.listener = CameraListener(
            self.settings.cameras, self.settings.lanes, self.sink, self.gates, lambda: datetime.now(UTC),
            zone=self.settings.park.zone,
        )  # fmt: skip
        await self.listener.start()
        self.watch_task = asyncio.get_running_loop().create_task(self.listener.watch())

    async def _stop(self) -> None:
        if self.watch_task is not None:
            self.watch_task.cancel()
            await asyncio.gather(self.watch_task, return_exceptions=True)
        for gate in self.gates.values():
            await gate.aclose()
        await self.listener.stop()

    @property
    def port(self) -> int:
        return self.listener.port

    def alive(self) -> bool:
        """The listener's background task still runs (no exception killed it)."""
        return self.watch_task is not None and not self.watch_task.done()

    def stop(self) -> None:
        try:
            self.call(self._stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()
