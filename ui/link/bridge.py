"""The one door between the engine thread and the GUI thread.

The engine calls its listeners on its own thread. The bridge's listener only stores the event under a short
lock and, if the GUI has not been woken yet, emits ``_wake`` — a signal of this QObject, which lives on the
GUI thread, connected with a queued connection to the ``@Slot`` ``_drain``. So every signal the widgets see is
emitted on the GUI thread, and no widget is ever touched from the engine thread (in PySide6 6.12 a lambda
connected to a signal emitted from another thread would run on that thread: nothing here relies on lambdas).

Lane views are coalesced per lane: if the engine publishes five views of a lane before the GUI runs, the
window draws only the latest. Other events keep their order.

Commands go the other way: ``submit`` calls an engine command (which returns a Future at once), and the
Future's outcome comes back through the same queue as ``commandDone``. The GUI never calls
``Future.result()`` and never waits.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, Qt, Signal, Slot

from booth.domain.lane import LaneRuleError, LaneView
from booth.domain.money import MoneyError
from booth.domain.plates import PlateError
from booth.engine import (
    AlertRaised,
    BolinkChanged,
    Engine,
    EngineError,
    EngineEvent,
    GateCommanded,
    LaneChanged,
    SyncChanged,
)
from booth.office.reports import ReportError
from booth.office.shifts import ShiftError
from booth.office.staff import StaffError
from ui.kit.refusals import office_error_words
from ui.kit.wording import plate_error_words, refused_words

log = logging.getLogger("ui.bridge")
#: refusals an attendant can cause (each with its words below); anything else failing is a bug and is
#: logged with its traceback. StaffError covers AuthError (a refused PIN).
_EXPECTED_REFUSALS = (LaneRuleError, PlateError, MoneyError, EngineError, StaffError, ShiftError, ReportError)


#: words drawn in the language shown when called (a failure kept to be said again after a language switch)
Words = Callable[[], str]


@dataclass(frozen=True)
class CommandOutcome:
    """How an attendant's command ended. ``error`` is the message to show next to the action ('' if ok), in
    the language shown when the command failed; ``words``, when set, says it again in the language shown
    when called (a widget that keeps showing the failure draws it with ``words`` after a language switch;
    None: ``error`` is all there is, e.g. an outcome built by hand)."""

    ticket: int
    lane_id: str
    action: str
    error: str
    words: Words | None = field(default=None, compare=False)

    @property
    def ok(self) -> bool:
        return not self.error

    def error_words(self) -> str:
        """The failure in the language shown now ('' if ok)."""
        return self.words() if self.words is not None and self.error else self.error


@dataclass(frozen=True)
class EngineStarted:
    """The engine finished starting (``error`` is '' on success)."""

    error: str


def failure_words(exc: BaseException) -> Words:
    """``describe_failure(exc)`` kept to be said again: each call says it in the language shown then (its
    phrase, code or template looked up again; an exception's own text, e.g. an unexpected error's, stays
    as it is). Holds ``exc`` for as long as the words are kept."""
    return lambda: describe_failure(exc)


def failed_outcome(ticket: int, lane_id: str, action: str, exc: BaseException) -> CommandOutcome:
    """The outcome of a command that raised ``exc``: its words now, and the way to say them again."""
    words = failure_words(exc)
    return CommandOutcome(ticket, lane_id, action, words(), words)


def describe_failure(exc: BaseException) -> str:
    """The words an attendant sees for a failed command, in the screen's language: a lane rule or refused
    exception by its phrase, a PIN or office refusal by its code, a plate by its PlateError code.
    (``failure_words`` keeps them to be said again in another language.)

    Called on the engine thread too (QCoreApplication.translate is thread-safe)."""
    said = refused_words(exc)
    if said is not None:
        return said
    if isinstance(exc, LaneRuleError):
        return str(exc)  # raised with a bare message: booth's own words
    if isinstance(exc, StaffError | ShiftError):
        return office_error_words(exc)  # a refused PIN (AuthError) by refusal_words, the rest by code
    translate = QCoreApplication.translate
    if isinstance(exc, ReportError):
        words, detail = translate("CommandFailure", "报表无法生成：%1"), str(exc)
    elif isinstance(exc, PlateError):
        words = translate("CommandFailure", "车牌无效：%1")
        detail = plate_error_words(exc.code, exc.params, exc.reason)
    elif isinstance(exc, MoneyError):
        words, detail = translate("CommandFailure", "金额无效：%1"), str(exc)
    elif isinstance(exc, EngineError):
        words, detail = translate("CommandFailure", "系统无法执行：%1"), str(exc)
    elif isinstance(exc, concurrent.futures.CancelledError):
        return translate("CommandFailure", "操作被取消（系统正在停止）")
    else:
        words, detail = translate("CommandFailure", "操作失败：%1"), f"{type(exc).__name__}: {exc}"
    return words.replace("%1", detail)


class EngineBridge(QObject):
    """Re-emits engine events as Qt signals on the GUI thread; runs commands without waiting for them.

    Signals, all emitted on the GUI thread (the thread this object lives on):
        laneChanged(LaneView)         a lane's latest view
        bolinkChanged(bool, str)      Bolink online?, reason
        alertRaised(AlertRaised)      something the attendant or supervisor must see
        gateCommanded(GateCommanded)  a gate command was sent
        commandDone(CommandOutcome)   an attendant's command finished (or was refused)
        engineStarted(EngineStarted)  a background start finished
        syncChanged(SyncStatus)       the cloud sync's backlog/breaker changed (not shown yet: a later issue)
    """

    laneChanged = Signal(object)
    bolinkChanged = Signal(bool, str)
    alertRaised = Signal(object)
    gateCommanded = Signal(object)
    commandDone = Signal(object)
    engineStarted = Signal(object)
    syncChanged = Signal(object)
    _wake = Signal()  # emitted from any thread; queued to _drain on the GUI thread

    def __init__(self, engine: Engine, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self._lock = threading.Lock()
        self._views: dict[str, LaneView] = {}
        self._events: deque[EngineEvent | CommandOutcome | EngineStarted] = deque()
        self._wake_posted = False
        self._closed = False
        self._tickets = itertools.count(1)
        self._starter: threading.Thread | None = None
        self._wake.connect(self._drain, Qt.ConnectionType.QueuedConnection)
        self._unsubscribe: Callable[[], None] | None = engine.subscribe(self._on_engine_event)

    # ------------------------------------------------------------------------------- any thread
    def _on_engine_event(self, event: EngineEvent) -> None:
        """The engine's listener (engine thread): queue the event, wake the GUI once."""
        with self._lock:
            if self._closed:
                return
            if isinstance(event, LaneChanged):
                self._views[event.view.lane_id] = event.view
            else:
                self._events.append(event)
            self._post_wake_locked()

    def _post(self, item: CommandOutcome | EngineStarted) -> None:
        with self._lock:
            if self._closed:
                return
            self._events.append(item)
            self._post_wake_locked()

    def _post_wake_locked(self) -> None:
        if not self._wake_posted:
            self._wake_posted = True
            self._wake.emit()  # queued: _drain runs later on the GUI thread

    # ------------------------------------------------------------------------------- GUI thread
    @Slot()
    def _drain(self) -> None:
        with self._lock:
            self._wake_posted = False
            views = list(self._views.values())
            self._views.clear()
            events = list(self._events)
            self._events.clear()
        for view in views:
            self.laneChanged.emit(view)
        for event in events:
            match event:
                case BolinkChanged(online=online, reason=reason):
                    self.bolinkChanged.emit(online, reason)
                case AlertRaised():
                    self.alertRaised.emit(event)
                case GateCommanded():
                    self.gateCommanded.emit(event)
                case CommandOutcome():
                    self.commandDone.emit(event)
                case EngineStarted():
                    self.engineStarted.emit(event)
                case SyncChanged(status=status):
                    self.syncChanged.emit(status)

    def submit(self, lane_id: str, action: str, command: Callable[[], concurrent.futures.Future[Any]]) -> int:
        """Run an engine command; its outcome arrives later as ``commandDone`` with the returned ticket.

        A command refused synchronously (a bad plate, an engine that is not running) arrives the same way,
        so the caller has one path for every outcome.
        """
        ticket = next(self._tickets)
        try:
            future = command()
        except Exception as exc:  # refused before reaching the engine loop
            self._post(failed_outcome(ticket, lane_id, action, exc))
            return ticket

        def finished(done: concurrent.futures.Future[Any]) -> None:  # engine thread, or here if already done
            if done.cancelled():
                self._post(failed_outcome(ticket, lane_id, action, concurrent.futures.CancelledError()))
                return
            exc = done.exception()
            if exc is None:
                self._post(CommandOutcome(ticket, lane_id, action, ""))
                return
            if not isinstance(exc, _EXPECTED_REFUSALS):
                log.error("%s on lane %s failed", action, lane_id, exc_info=exc)
            self._post(failed_outcome(ticket, lane_id, action, exc))

        future.add_done_callback(finished)
        return ticket

    def start_engine(self) -> None:
        """Start the engine on a short-lived thread (opening the database can take a while); the outcome
        arrives as ``engineStarted``. Meanwhile the window is up and says it is starting."""
        if self._starter is not None:
            raise RuntimeError("the engine is already being started")

        def run() -> None:
            try:
                self.engine.start()
            except Exception as exc:
                log.error("engine failed to start: %s", exc)
                self._post(EngineStarted(str(exc) or type(exc).__name__))
            else:
                self._post(EngineStarted(""))

        self._starter = threading.Thread(target=run, name="booth-engine-start", daemon=True)
        self._starter.start()

    def close(self) -> None:
        """Stop listening (GUI thread). Events and outcomes that arrive later are dropped."""
        with self._lock:
            self._closed = True
            self._views.clear()
            self._events.clear()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def join_starter(self, timeout: float) -> None:
        """Wait for a background start to finish (only at shutdown, after the event loop has ended)."""
        if self._starter is not None:
            self._starter.join(timeout)
