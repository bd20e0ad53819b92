"""Office work (PIN checks, people, shifts, reports) from the GUI without waiting for it.

``OfficeRunner.run`` hands a function to the engine's office thread (``Engine.office``) and, when it is
done, calls ``on_done`` on the GUI thread with its result or the exception it raised. The answer crosses
threads through a queued signal of a QObject that lives on the GUI thread, never through a lambda run on
the office thread, and the GUI never calls ``Future.result()`` on a future that is not done.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import itertools
import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal, Slot

from booth.engine import Engine
from booth.office.staff import PersonRecord, Role

log = logging.getLogger("ui.office")

#: the callback's argument: what the function returned, or the exception it raised
Answer = Callable[[object], None]


def active_people(engine: Engine, role: Role | None = None) -> list[PersonRecord]:
    """Office thread: the people who may act now (active), of ``role`` if given, in the staff's order."""
    return [p for p in engine.staff.people() if p.active and (role is None or p.role == role)]


class OfficeRunner(QObject):
    """Runs functions on the engine's office thread; answers arrive on the GUI thread, in order asked.

    ``forget()`` drops the answers still on their way (the screen that asked is gone or was reset).
    """

    _answered = Signal(int, object)  # (ticket, result or exception); emitted from the office thread

    def __init__(self, engine: Engine, parent: QObject | None = None, *, reports: bool = False) -> None:
        super().__init__(parent)
        self.engine = engine
        self._submit = engine.reports if reports else engine.office  # reports: the engine's reports thread
        self._tickets = itertools.count(1)
        self._waiting: dict[int, Answer] = {}
        self._answered.connect(self._on_answered, Qt.ConnectionType.QueuedConnection)

    @property
    def busy(self) -> bool:
        return bool(self._waiting)

    def run(self, fn: Callable[..., Any], *args: Any, on_done: Answer, **kwargs: Any) -> int:
        """Run ``fn(*args, **kwargs)`` on the office thread; ``on_done`` gets the outcome later (GUI
        thread). A call refused at once (the engine has stopped) answers the same way, later too."""
        ticket = next(self._tickets)
        self._waiting[ticket] = on_done
        try:
            future = self._submit(fn, *args, **kwargs)
        except Exception as exc:
            self._answered.emit(ticket, exc)  # queued: the caller finishes its own code first
            return ticket
        future.add_done_callback(partial(self._deliver, ticket))
        return ticket

    def forget(self) -> None:
        self._waiting.clear()

    def _deliver(self, ticket: int, future: concurrent.futures.Future[Any]) -> None:
        """Office thread (or here, if already done): pass the outcome to the GUI thread."""
        outcome: object
        if future.cancelled():
            outcome = concurrent.futures.CancelledError("the office thread stopped")
        else:
            exc = future.exception()
            outcome = exc if exc is not None else future.result()
        with contextlib.suppress(RuntimeError):  # the screen is gone (window closed): nobody to tell
            self._answered.emit(ticket, outcome)

    @Slot(int, object)
    def _on_answered(self, ticket: int, outcome: object) -> None:
        on_done = self._waiting.pop(ticket, None)
        if on_done is None:
            return
        on_done(outcome)
