"""Opening the booth window: ``booth`` and ``booth --demo`` end up in :func:`run_window`."""

from __future__ import annotations

import contextlib
import gc
import getpass
import linecache
import logging
import signal
import socket
import sys
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QLoggingCategory, QSocketNotifier
from PySide6.QtWidgets import QApplication

from booth.config import Settings
from booth.engine import Engine
from ui.kit.i18n import TranslationError, switch_language
from ui.kit.style import apply_style
from ui.shell.booth_lock import BoothLock
from ui.shell.kiosk import KioskSession, staff_verifier
from ui.shell.main_window import BoothWindow

if TYPE_CHECKING:
    from ui.lanes.voice import Voice
from ui.shell.watchdog import feeder_from_environment

log = logging.getLogger("ui.app")

#: how long shutdown waits for a start still under way (the engine's own start timeout, plus a little)
_START_JOIN_S = 35.0


def read_less_on_import() -> None:
    """PySide6 asks of every module imported after it whether its source names PySide6 (for
    ``from __feature__ import ...``), by ``inspect.getsource``, and ``linecache`` then keeps every line of
    every such file: the engine's start alone imports ~200 modules (the camera listener's aiohttp, httpx's
    transports, ...), ~8 MB of RSS that stays as the heap's high-water mark even once the cache is cleared.
    The same question is answered here from the file's bytes, which are not kept. Modules without a ``.py``
    file are still asked PySide6's way; if PySide6's internals are not as expected, nothing changes."""
    feature = sys.modules.get("shibokensupport.feature")
    upstream = getattr(feature, "_mod_uses_pyside", None)
    if feature is None or not callable(upstream) or getattr(upstream, "booth_reads_bytes", False):
        return

    def uses_pyside(module: ModuleType) -> bool:
        path = getattr(module, "__file__", None)
        if not isinstance(path, str) or not path.endswith(".py"):
            return bool(upstream(module))
        try:
            with open(path, "rb") as source:
                return b"PySide6" in source.read()
        except OSError:
            return bool(upstream(module))

    setattr(uses_pyside, "booth_reads_bytes", True)  # noqa: B010  (installed once)
    setattr(feature, "_mod_uses_pyside", uses_pyside)  # noqa: B010


def ensure_application(argv: list[str] | None = None) -> QApplication:
    """The process's QApplication (created here unless someone — a test, a benchmark — already did)."""
    read_less_on_import()
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        return existing
    QCoreApplication.setApplicationName("booth")
    QCoreApplication.setOrganizationName("booth")
    return QApplication(argv if argv is not None else sys.argv[:1])


def default_operator() -> str:
    """The attendant's name for the audit trail: the login name until attendants sign in to the booth."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "收费员"


@contextlib.contextmanager
def quit_on_os_signals(app: QApplication, before_quit: Callable[[], None] | None = None) -> Iterator[None]:
    """Route SIGINT/SIGTERM into the Qt event loop, so shutdown happens in one place (after ``exec``).
    ``before_quit`` runs first (kiosk mode lets the window close: Qt's quit asks every window to).

    Python runs signal handlers only between bytecodes, and Qt's loop runs in C++: the wake-up fd makes a
    socket readable, its notifier runs (Python) code, and the handler then asks the application to quit.
    """
    reader, writer = socket.socketpair()
    reader.setblocking(False)
    writer.setblocking(False)
    previous_fd = signal.set_wakeup_fd(writer.fileno())
    notifier = QSocketNotifier(reader.fileno(), QSocketNotifier.Type.Read)

    def drain() -> None:
        with contextlib.suppress(OSError):
            while reader.recv(64):
                pass

    def on_signal(signum: int, _frame: object) -> None:
        log.info("signal %d: closing the window", signum)
        if before_quit is not None:
            before_quit()
        app.quit()

    notifier.activated.connect(drain)
    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        signal.set_wakeup_fd(previous_fd)
        notifier.setEnabled(False)
        notifier.deleteLater()
        reader.close()
        writer.close()


def freeze_startup_objects() -> None:
    """Move everything allocated so far (modules, the window, the engine's tables) out of the cyclic
    collector's reach: a full collection then scans only what was made since, instead of pausing every
    thread — the GUI's included — for tens of milliseconds. Only the young generations are collected first:
    a full collection here stalled the window for ~110 ms just as its lanes appeared, to free little.

    First the module sources PySide6's import hook read are dropped: it checks every module an import
    statement names for ``from __feature__ import ...`` by reading its file, and linecache keeps them all
    (~7 MB of strings by the time the lanes show; a traceback reads its files again when it needs them)."""
    linecache.clearcache()
    gc.collect(1)
    gc.freeze()


def start_voice(window: BoothWindow, settings: Settings) -> Voice:
    """The driver's and attendant's prompts for ``window``'s lanes (imported here: QtMultimedia is heavy)."""
    # QtMultimedia probes for PipeWire first and warns when it is absent (PulseAudio or ALSA then play the
    # sound): noise on every booth without PipeWire, and a failure under pytest-qt's strict Qt log check.
    QLoggingCategory.setFilterRules("qt.multimedia.symbolsresolver.warning=false")
    from ui.lanes.voice import LaneAnnouncer, Voice

    voice = Voice(enabled=settings.display.voice, parent=window)
    LaneAnnouncer(window.bridge, voice, parent=window)
    linecache.clearcache()  # what PySide6's import hook read of the modules just imported (see above)
    return voice


def quitting(lock: BoothLock, session: KioskSession | None) -> None:
    """SIGINT/SIGTERM: the window may close (Qt's quit asks every window to) without anyone's PIN."""
    lock.allow_exit()
    if session is not None:
        session.guard.allow_exit()


def run_window(settings: Settings, *, kiosk: bool = False) -> int:
    """Open the booth window on ``settings``, run until it is closed (or SIGINT/SIGTERM), then stop the
    engine. Returns the process exit code."""
    app = ensure_application()
    display = settings.display
    sizes = apply_style(app, theme=display.theme, font_scale=display.font_scale)
    try:
        switch_language(app, display.language)  # before any widget exists: built in that language
    except TranslationError as exc:
        log.error("%s; the window stays in Chinese", exc)
    engine = Engine(settings)
    # opens on the sign-in overlay; a shift left open resumes, a booth with no people yet works unsigned
    window = BoothWindow(settings, engine, operator=default_operator(), sizes=sizes, sign_in=True)
    voices: list[Voice] = []
    # Qt's multimedia and text-to-speech load (and probe speech-dispatcher) once the lanes show, not before:
    # no prompt is due until a car is at a lane, and the lanes should not wait for them.
    window.lanesReady.connect(lambda: voices.append(start_voice(window, settings)) if not voices else None)
    kiosk = kiosk or settings.kiosk.enabled
    # the lock (and the idle lock) in either mode; in kiosk mode the kiosk guard keeps the window open
    lock = BoothLock(window, staff_verifier(engine), idle_lock_s=display.idle_lock_s, guard_close=not kiosk)
    session = KioskSession(window, settings.kiosk, lock) if kiosk else None
    window.show_for_booth(kiosk)
    if session is not None:
        session.start()
    else:
        lock.start()
    watchdog = feeder_from_environment(window) if settings.kiosk.watchdog else None
    if watchdog is not None:
        watchdog.start()  # READY=1, then WATCHDOG=1 from this (the GUI) thread's event loop
    # once the engine is up, all made so far lives for the session (not before: it would delay the start)
    window.bridge.engineStarted.connect(lambda _started: freeze_startup_objects())
    window.start_engine()
    try:
        with quit_on_os_signals(app, lambda: quitting(lock, session)):
            code = app.exec()
    finally:
        if watchdog is not None:
            watchdog.stop()
        if session is not None:
            session.stop()  # the owner closes the window now: no supervisor PIN for SIGTERM
        lock.stop()
        for voice in voices:
            voice.close()
        window.close()
        window.bridge.join_starter(_START_JOIN_S)
        engine.stop()
    return int(code)
