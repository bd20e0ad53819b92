"""The lock over a booth window, in kiosk mode and out of it: the lock screen, the idle lock, and what the
lock turns off in the window.

Locked, the lanes' driver-facing parts (plate, amount due, QR, the message to the driver) stay on screen and
keep updating, and every action of the attendant is off: each lane's actions (an open panel is put away
with what was typed in it, and opened again on unlock), the top bar's buttons (shift close, supervisor,
sign-out, lock, language, sync) under the lock bar, the alert bar's buttons, and the side sheets (hidden,
their contents kept, shown again on unlock). The attendant's PIN on the lock screen unlocks. The lock bar has
its own language button: the language may be switched while locked (it changes no money and no gate).

The top bar's "锁屏" locks at once (the attendant leaving the booth), the same lock as the idle one. The
idle lock (``[display] idle_lock_s``) works in either mode. Out of kiosk mode the window has a frame and
a window manager's close button: while locked, closing asks for a supervisor's PIN as in kiosk mode (closing
the program would stop the lanes), and ``allow_exit`` lets the program itself quit (SIGTERM).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt, Signal, Slot
from PySide6.QtWidgets import QAbstractButton, QBoxLayout, QWidget

from booth.engine import Engine, EngineError
from booth.office.staff import PersonRecord
from ui.kit.sheet import SideSheet
from ui.lanes.sync_panel import SyncPanel
from ui.link.bridge import EngineStarted
from ui.people.lock_screen import IdleLock, LockScreen, Verifier
from ui.shell.staff_screens import WordsButton

if TYPE_CHECKING:
    from ui.shell.main_window import BoothWindow

log = logging.getLogger("ui.lock")


class BoothLock(QObject):
    """``lock`` (the LockScreen over ``window``'s lanes) and ``idle`` (locks after ``idle_lock_s`` untouched;
    0 never). With ``guard_close`` (not in kiosk mode, where the kiosk guard does it always) a close of the
    window while locked asks for a supervisor's PIN. ``stop()`` before the owner closes the window."""

    _supervisors = Signal(object)  # list[str], from the office thread

    def __init__(
        self, window: BoothWindow, verifier: Verifier, *, idle_lock_s: float, guard_close: bool = True
    ) -> None:
        super().__init__(window)
        self.window = window
        central = window.centralWidget()
        assert central is not None, "the booth window builds its central widget first"
        # only a signed-in person can resume a lock; while nobody is (the sign-in screen shows) none engages
        person = window.person
        attendant = person.username if person is not None else ""
        self.lock = LockScreen(central, verifier, attendant=attendant, sizes=window.sizes, top=window.top_bar)
        self.idle = IdleLock(self.lock, idle_lock_s)
        # "lock now": the attendant leaving the booth locks it with one tap, the same lock as the idle one
        self.lock_button = WordsButton(self.tr("锁屏"))
        self.lock_button.setObjectName("topAction")
        self.lock_button.setToolTip(self.tr("暂时离开：立即锁屏，车道照常工作，解锁需本人 PIN"))
        self.lock_button.setMinimumHeight(window.sizes.target)
        self.lock_button.setEnabled(bool(attendant))  # only a signed-in person's PIN could lift it
        self.lock_button.clicked.connect(lambda _checked=False: self.lock_now())
        self._place_lock_button()
        self.guard_close = guard_close
        self.exit_allowed = False
        # the side sheets the lock hid (shown again on unlock), the buttons it turned off (and their state)
        self._put_away: list[QWidget] = []
        self._was_enabled: dict[QAbstractButton, bool] = {}
        self.lock.lockedChanged.connect(self._on_locked_changed)
        self.lock.exitApproved.connect(self._on_exit_approved)
        self.lock.languageRequested.connect(window.toggle_language)
        self._supervisors.connect(self._on_supervisors, Qt.ConnectionType.QueuedConnection)
        window.bridge.engineStarted.connect(self._on_engine_started)
        window.operatorChanged.connect(self._on_operator_changed)
        if guard_close:
            window.installEventFilter(self)

    def start(self) -> None:
        self.idle.restart()

    def stop(self) -> None:
        """The owner closes the window now: no lock, no timer, no guard left."""
        self.idle.stop()
        self.lock.stop()
        self.allow_exit()

    def allow_exit(self) -> None:
        """The program itself is quitting (SIGTERM): the window may close, locked or not."""
        self.exit_allowed = True

    # ------------------------------------------------------------------------------------------ locking
    def _place_lock_button(self) -> None:
        """On the top bar, before "签退" (the two ways of leaving the booth side by side)."""
        window = self.window
        row = window.top_bar.layout()
        sign_out = window.staff_screens.sign_out_button
        assert isinstance(row, QBoxLayout), "the booth window's top bar is a row"
        index = row.indexOf(sign_out)
        row.insertWidget(index if index >= 0 else row.count(), self.lock_button)

    def lock_now(self) -> None:
        """Lock at once (the attendant leaves the booth), as the idle lock does; nothing while nobody is
        signed in (the sign-in screen covers the lanes then)."""
        if self.lock.attendant and self.lock.mode == "hidden":
            log.info("locked now by %s", self.lock.attendant)
            self.lock.lock()

    def attendant_buttons(self) -> list[QAbstractButton]:
        """The window's buttons outside the lanes that only the attendant may use: the top bar's and the
        alert bar's (each lane turns its own off)."""
        window = self.window
        buttons = list(window.top_bar.findChildren(QAbstractButton))
        buttons += window.alert_bar.findChildren(QAbstractButton)
        return buttons

    @Slot(bool)
    def _on_locked_changed(self, locked: bool) -> None:
        window = self.window
        if locked:
            self._was_enabled = {button: button.isEnabled() for button in self.attendant_buttons()}
            for button in self._was_enabled:
                button.setEnabled(False)
        else:
            was_enabled, self._was_enabled = self._was_enabled, {}
            for button, enabled in was_enabled.items():
                button.setEnabled(enabled)  # as each was (one of them may have been off for its own reason)
        for panel in window.panels.values():
            panel.set_locked(locked)
        central = window.centralWidget()
        if locked and central is not None:
            sheets = central.findChildren(QWidget, options=Qt.FindChildOption.FindDirectChildrenOnly)
            self._put_away = [s for s in sheets if isinstance(s, SideSheet | SyncPanel) and s.isVisible()]
            for sheet in self._put_away:
                sheet.hide()  # hidden, not closed: what was counted or typed in it stays
                sheet.setEnabled(False)
        elif not locked:
            put_away, self._put_away = self._put_away, []
            for sheet in put_away:
                sheet.setEnabled(True)
                if isinstance(sheet, SideSheet):
                    sheet.present()
                else:
                    window.open_sync_panel()

    @Slot(object)
    def _on_operator_changed(self, person: PersonRecord | None) -> None:
        """The lock resumes for whoever is signed in now."""
        self.lock.attendant = person.username if person is not None else ""
        self.lock_button.setEnabled(person is not None)

    # ------------------------------------------------------------------------------------------ leaving
    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (watched is self.window and event.type() == QEvent.Type.Close and self.lock.mode != "hidden"
                and not self.exit_allowed):
            event.ignore()
            log.info("close refused while locked: a supervisor's PIN is asked for")
            self.lock.request_exit()
            return True
        return False

    @Slot(str)
    def _on_exit_approved(self, supervisor: str) -> None:
        if not self.guard_close:
            return  # kiosk mode: the kiosk guard closes the window
        log.warning("closing the booth window: approved by supervisor %s", supervisor)
        self.exit_allowed = True
        self.window.close()

    @Slot(object)
    def _on_engine_started(self, started: EngineStarted) -> None:
        if not started.error:
            self.load_supervisors(self.window.engine)

    def load_supervisors(self, engine: Engine) -> None:
        """Offer the active supervisors as one-tap names on the exit screen (read on the office thread)."""

        def names() -> list[str]:
            return [p.username for p in engine.staff.people() if p.role == "supervisor" and p.active]

        try:
            future = engine.office(names)
        except EngineError as exc:
            log.warning("supervisors not listed on the exit screen: %s", exc)
            return
        future.add_done_callback(self._deliver_supervisors)

    def _deliver_supervisors(self, future: concurrent.futures.Future[list[str]]) -> None:
        try:
            names = future.result()
        except Exception as exc:  # the exit screen then asks for the name to be typed
            log.warning("supervisors not listed on the exit screen: %r", exc)
            return
        with contextlib.suppress(RuntimeError):  # the window closed meanwhile: nobody to tell
            self._supervisors.emit(names)

    @Slot(object)
    def _on_supervisors(self, names: list[str]) -> None:
        self.lock.set_supervisors(names)
