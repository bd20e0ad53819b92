"""Kiosk mode: the booth window cannot be left without a supervisor's PIN.

``KioskGuard`` makes the window frameless and full screen, optionally hides the pointer, and filters the
application's events: a close (``close()``, the window manager's close, Alt+F4) is refused and asks for a
supervisor's PIN on the lock screen; Escape, Ctrl+Q, Ctrl+W, Alt+Tab, the Super key and VT-switch chords
are swallowed. What the X server or the compositor handles itself (Ctrl+Alt+Backspace, Ctrl+Alt+F1..) an
application cannot see: the kiosk session turns those off (deploy/kiosk/, docs/kiosk.md).

The one way out from the screen: a supervisor's PIN on the lock screen (``LockScreen.exitApproved``), after
which the guard lets the window close. Code that owns the window (``run_window`` on SIGTERM, tests) calls
``uninstall()`` first.
"""

from __future__ import annotations

import concurrent.futures
import logging
import shutil
import subprocess
from typing import cast

from PySide6.QtCore import QEvent, QObject, Qt, Signal, Slot
from PySide6.QtGui import QGuiApplication, QKeyEvent
from PySide6.QtWidgets import QWidget

from booth.config import KioskSettings
from booth.engine import Engine
from booth.office.staff import Role
from ui.kit.screen_fit import fit_to_screen
from ui.kit.window_input import WindowInput
from ui.people.lock_screen import IdleLock, LockScreen, Verifier
from ui.shell.booth_lock import BoothLock
from ui.shell.main_window import BoothWindow

log = logging.getLogger("ui.kiosk")

_ESCAPE_KEYS = frozenset({Qt.Key.Key_Escape})
_SUPER_KEYS = frozenset({Qt.Key.Key_Meta, Qt.Key.Key_Super_L, Qt.Key.Key_Super_R, Qt.Key.Key_Menu})
_KEY_EVENTS = frozenset({QEvent.Type.KeyPress, QEvent.Type.ShortcutOverride})


def escape_name(event: QKeyEvent) -> str | None:
    """The escape attempt ``event`` is (e.g. "Alt+F4"), or None for an ordinary key."""
    key = event.key()
    mods = event.modifiers()
    alt = bool(mods & Qt.KeyboardModifier.AltModifier)
    ctrl = bool(mods & Qt.KeyboardModifier.ControlModifier)
    if key == Qt.Key.Key_F4 and (alt or ctrl):
        return "Ctrl+F4" if ctrl and not alt else "Alt+F4"
    if key in _ESCAPE_KEYS:
        return "Escape"
    if ctrl and key == Qt.Key.Key_Q:
        return "Ctrl+Q"
    if ctrl and key == Qt.Key.Key_W:
        return "Ctrl+W"
    if alt and key in (Qt.Key.Key_Tab, Qt.Key.Key_Backtab):
        return "Alt+Tab"
    if key in _SUPER_KEYS:
        return "Super"
    if ctrl and alt and (Qt.Key.Key_F1 <= key <= Qt.Key.Key_F12 or key == Qt.Key.Key_Backspace):
        return "Ctrl+Alt+" + ("Backspace" if key == Qt.Key.Key_Backspace else f"F{key - Qt.Key.Key_F1 + 1}")
    return None


#: escape attempts that mean "leave": they bring up the supervisor PIN instead
_LEAVING = frozenset({"close", "Alt+F4", "Ctrl+F4", "Ctrl+Q", "Ctrl+W"})


class KioskGuard(QObject):
    """Keeps ``window`` full screen and open until a supervisor's PIN on ``lock`` allows leaving.

    Signals (GUI thread): ``refused(str)`` names each refused escape attempt ("close", "Alt+F4", "Escape",
    ...); ``exitAllowed(str)`` names the supervisor whose PIN allowed the window to close.
    """

    refused = Signal(str)
    exitAllowed = Signal(str)

    def __init__(self, window: QWidget, lock: LockScreen, *, hide_cursor: bool = False) -> None:
        super().__init__(window)
        self.window = window
        self.lock = lock
        self.hide_cursor = hide_cursor
        self.installed = False
        self.exit_allowed = False
        self._cursor_hidden = False
        self.input: WindowInput | None = None
        lock.exitApproved.connect(self._on_exit_approved)

    def install(self) -> None:
        """Frameless full screen, pointer hidden if asked, escape attempts refused from now on."""
        if self.installed:
            return
        self.installed = True
        self.exit_allowed = False
        # keys on the window's QWindow (where a keyboard's keys arrive first), not application-wide: see
        # ui.kit.window_input. Booth defines no shortcuts, so no ShortcutOverride needs catching elsewhere.
        self.input = WindowInput(self.window, self)
        if self.hide_cursor:
            QGuiApplication.setOverrideCursor(Qt.CursorShape.BlankCursor)
            self._cursor_hidden = True
        if not self.window.windowFlags() & Qt.WindowType.FramelessWindowHint:
            self.window.setWindowFlag(Qt.WindowType.FramelessWindowHint, True)
        fit_to_screen(self.window, full_screen=True)  # no window manager acts on "full screen" in X kiosk
        self.window.showFullScreen()
        log.info("kiosk mode on (pointer %s)", "hidden" if self.hide_cursor else "shown")

    def uninstall(self) -> None:
        """Stop guarding (the owner is closing the window itself, e.g. on SIGTERM)."""
        if not self.installed:
            return
        self.installed = False
        if self.input is not None:
            self.input.release()
            self.input = None
        if self._cursor_hidden:
            QGuiApplication.restoreOverrideCursor()
            self._cursor_hidden = False

    @Slot(str)
    def _on_exit_approved(self, supervisor: str) -> None:
        if not self.installed:
            return
        log.warning("leaving kiosk mode: approved by supervisor %s", supervisor)
        self.exit_allowed = True
        self.uninstall()
        self.exitAllowed.emit(supervisor)
        self.window.close()

    def _refuse(self, what: str) -> None:
        log.info("kiosk: refused %s", what)
        self.refused.emit(what)
        if what in _LEAVING:
            self.lock.request_exit()

    def allow_exit(self) -> None:
        """The program itself is quitting (SIGTERM from systemd, run_window's shutdown): the window may close
        without anyone's PIN."""
        if self.installed:
            log.info("kiosk: the application is quitting; the window may close")
        self.exit_allowed = True

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if self.input is not None and self.input.sees_show(watched, event):
            return False
        if kind in _KEY_EVENTS and isinstance(event, QKeyEvent):
            what = escape_name(event)
            if what is None:
                return False
            event.accept()  # an accepted ShortcutOverride keeps a QShortcut from firing
            if kind == QEvent.Type.KeyPress and not event.isAutoRepeat():
                self._refuse(what)
            return True
        if watched is self.window and kind == QEvent.Type.Close and not self.exit_allowed:
            event.ignore()
            self._refuse("close")
            return True
        return False


def keep_screen_awake() -> bool:
    """Turn off X's screen saver and display power management for this session (``xset s off -dpms``).

    Under Wayland (cage) nothing blanks unless an idle daemon runs, and the kiosk session runs none; the
    text console's blanking is off with ``consoleblank=0`` (docs/kiosk.md). Returns whether xset ran.
    """
    if QGuiApplication.platformName() != "xcb":
        return False
    xset = shutil.which("xset")
    if xset is None:
        log.warning("xset is not installed: the screen may blank when idle (install x11-xserver-utils)")
        return False
    try:
        for args in (["s", "off"], ["s", "noblank"], ["-dpms"]):
            subprocess.run([xset, *args], check=True, timeout=5, capture_output=True)
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("could not turn screen blanking off with xset: %s", exc)
        return False
    return True


def staff_verifier(engine: Engine) -> Verifier:
    """PIN checks by the engine's staff on its office thread (never the GUI thread)."""

    def verify(username: str, pin: str, role: str | None) -> concurrent.futures.Future[object]:
        if role not in (None, "attendant", "supervisor"):
            raise ValueError(f"role must be None, 'attendant' or 'supervisor', got {role!r}")
        wanted = cast("Role | None", role)
        return engine.office(lambda: engine.staff.authenticate(username, pin, role=wanted))

    return verify


class KioskSession(QObject):
    """Everything kiosk mode adds to a booth window and its lock (``booth_lock``: the lock screen over the
    lanes and the idle lock, there in either mode): the guard and screen blanking off. ``start()`` once the
    window is built, ``stop()`` before the owner closes the window."""

    def __init__(self, window: BoothWindow, settings: KioskSettings, booth_lock: BoothLock) -> None:
        super().__init__(window)
        self.window = window
        self.booth_lock = booth_lock
        self.lock: LockScreen = booth_lock.lock
        self.idle: IdleLock = booth_lock.idle
        self.guard = KioskGuard(window, self.lock, hide_cursor=settings.hide_cursor)

    def start(self) -> None:
        self.guard.install()
        keep_screen_awake()
        self.booth_lock.start()

    def stop(self) -> None:
        self.booth_lock.stop()
        self.guard.uninstall()

    def load_supervisors(self, engine: Engine) -> None:
        """Offer the active supervisors as one-tap names on the exit screen (read on the office thread)."""
        self.booth_lock.load_supervisors(engine)
