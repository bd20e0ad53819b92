"""The lock screen: an overlay over the window's lanes (never a separate modal dialog) with a large PIN pad.

Two modes: "locked" (the signed-in attendant's PIN resumes; an idle booth locks itself) and "supervisor"
(leaving the kiosk needs a supervisor's PIN). The engine is never touched: lanes keep pricing cars, taking
payments and opening gates behind the lock, and a strip on the lock screen shows each lane's state so the
attendant sees that cars are still handled.

PINs are checked by an injected ``Verifier`` that returns a ``concurrent.futures.Future`` (the engine's office
thread runs it); the outcome comes back to the GUI thread through a queued signal. Nothing here waits.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import logging
from collections.abc import Callable, Sequence
from functools import partial
from typing import Literal

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from booth.domain.lane import LaneView
from ui.kit.overlay import CoveringOverlay
from ui.kit.pin_pad import PinPad
from ui.kit.refusals import refusal_words
from ui.kit.style import Sizes
from ui.kit.window_input import WindowInput
from ui.kit.wording import state_words
from ui.link.bridge import EngineBridge

log = logging.getLogger("ui.lock")

#: (username, pin, required role or None) -> a future that fails with an exception carrying ``.message``
Verifier = Callable[[str, str, str | None], concurrent.futures.Future[object]]
Mode = Literal["hidden", "locked", "supervisor"]

#: events that count as someone at the booth (a touch arrives as a mouse press too)
_INPUT_EVENTS = frozenset(
    {
        QEvent.Type.KeyPress,
        QEvent.Type.MouseButtonPress,
        QEvent.Type.MouseButtonRelease,
        QEvent.Type.MouseMove,
        QEvent.Type.Wheel,
        QEvent.Type.TouchBegin,
        QEvent.Type.TouchUpdate,
        QEvent.Type.TabletPress,
    }
)


class LockScreen(CoveringOverlay):
    """Covers its parent (the window's central widget) while locked or while a supervisor PIN is asked for.

    Signals (GUI thread): ``lockedChanged(bool)``; ``unlocked(str)`` with the username whose PIN resumed;
    ``exitApproved(str)`` with the supervisor who allowed leaving the kiosk; ``refused(str)`` with the words
    shown for a refused PIN.
    """

    lockedChanged = Signal(bool)
    unlocked = Signal(str)
    exitApproved = Signal(str)
    refused = Signal(str)
    _verified = Signal(int, object)  # (ticket, the person or the exception); emitted from any thread

    def __init__(
        self,
        parent: QWidget,
        verifier: Verifier,
        *,
        attendant: str,
        sizes: Sizes | None = None,
        bridge: EngineBridge | None = None,
    ) -> None:
        super().__init__(parent, "lockScreen")
        self.verifier = verifier
        self.attendant = attendant
        self.sizes = sizes or Sizes.for_screen()
        self.mode: Mode = "hidden"
        self._return_to: Mode = "hidden"
        self._tickets = itertools.count(1)
        self._pending: int | None = None
        self._verified.connect(self._on_verified, Qt.ConnectionType.QueuedConnection)
        target = self.sizes.target

        self.title = QLabel("")
        self.title.setObjectName("lockTitle")
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title.setStyleSheet(f"font-size: {self.sizes.state}px; font-weight: bold;")
        self.prompt = QLabel("")
        self.prompt.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.prompt.setWordWrap(True)
        self.supervisor_row = QHBoxLayout()
        self.supervisor_name = QLineEdit()
        self.supervisor_name.setObjectName("supervisorName")
        self.supervisor_name.setPlaceholderText(self.tr("主管用户名"))
        self.supervisor_name.setMinimumHeight(target)
        self.supervisor_buttons: list[QPushButton] = []
        self.supervisor_box = QWidget()
        box = QVBoxLayout(self.supervisor_box)
        box.setContentsMargins(0, 0, 0, 0)
        box.addLayout(self.supervisor_row)
        box.addWidget(self.supervisor_name)
        self.pad = PinPad(target)
        self.pad.setMaximumWidth(target * 7)
        self.pad.submitted.connect(self._submit)
        self.message = QLabel("")
        self.message.setObjectName("lockMessage")
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #ff8a80; font-weight: bold;")
        self.exit_button = self._button(self.tr("主管退出程序"), self.request_exit)
        self.cancel_button = self._button(self.tr("取消"), self.cancel_exit)

        self.lane_strip = QHBoxLayout()
        self.lane_labels: dict[str, QLabel] = {}

        column = QVBoxLayout()
        column.setSpacing(12)
        column.addWidget(self.title)
        column.addWidget(self.prompt)
        column.addWidget(self.supervisor_box)
        column.addWidget(self.pad, 1, Qt.AlignmentFlag.AlignHCenter)
        column.addWidget(self.message)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.exit_button)
        buttons.addStretch(1)
        column.addLayout(buttons)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(20, 20, 20, 20)
        outer.addLayout(self.lane_strip)
        outer.addStretch(1)
        outer.addLayout(column)
        outer.addStretch(1)

        if bridge is not None:
            for view in bridge.engine.snapshot():
                self._on_lane_changed(view)
            bridge.laneChanged.connect(self._on_lane_changed)

    def _button(self, text: str, on_press: Callable[[], None]) -> QPushButton:
        button = QPushButton(text)
        button.setMinimumSize(self.sizes.target * 3, self.sizes.target)
        button.clicked.connect(lambda _checked=False: on_press())
        return button

    # ------------------------------------------------------------------------------------------ modes
    @property
    def is_locked(self) -> bool:
        return self.mode == "locked"

    def lock(self) -> None:
        """Lock now: only the signed-in attendant's PIN resumes (a supervisor may still leave the kiosk)."""
        was_locked = self.is_locked
        self._enter("locked")
        if not was_locked:
            log.info("booth locked (attendant %s)", self.attendant)
            self.lockedChanged.emit(True)

    def request_exit(self) -> None:
        """Ask for a supervisor's PIN to leave the kiosk; cancelling returns to where it was."""
        if self.mode != "supervisor":
            self._return_to = self.mode
        self._enter("supervisor")

    def cancel_exit(self) -> None:
        if self.mode == "supervisor":
            self._enter(self._return_to)

    def set_supervisors(self, usernames: Sequence[str]) -> None:
        """Supervisors to pick with one tap (a touch screen has no keyboard to type a username)."""
        for button in self.supervisor_buttons:
            self.supervisor_row.removeWidget(button)
            button.deleteLater()
        self.supervisor_buttons = []
        for name in usernames:
            button = self._button(name, partial(self.supervisor_name.setText, name))
            button.setMinimumWidth(self.sizes.target * 2)
            self.supervisor_row.addWidget(button)
            self.supervisor_buttons.append(button)

    def _enter(self, mode: Mode) -> None:
        self.mode = mode
        self._pending = None  # an answer still on its way is for a request no longer on screen
        self.pad.set_busy(False)
        self.pad.clear()
        self.message.setText("")
        if mode == "hidden":
            self.hide()
            return
        if mode == "locked":
            self.title.setText(self.tr("已锁屏"))
            words = self.tr("收费员 %1 请输入 PIN 解锁。车道照常工作。")
            self.prompt.setText(words.replace("%1", self.attendant))
        else:
            self.title.setText(self.tr("退出收费程序"))
            self.prompt.setText(self.tr("需要主管输入用户名和 PIN。"))
        self.supervisor_box.setVisible(mode == "supervisor")
        self.exit_button.setVisible(mode == "locked")
        self.cancel_button.setVisible(mode == "supervisor")
        self.cover()
        self.pad.setFocus(Qt.FocusReason.OtherFocusReason)

    # ------------------------------------------------------------------------------------------ PINs
    @Slot(str)
    def _submit(self, pin: str) -> None:
        if self.mode == "locked":
            username, role = self.attendant, None
        elif self.mode == "supervisor":
            username, role = self.supervisor_name.text().strip(), "supervisor"
            if not username:
                self._refuse(self.tr("请先选择或输入主管用户名"))
                return
        else:
            return
        ticket = next(self._tickets)
        self._pending = ticket
        self.pad.set_busy(True)
        self.message.setText(self.tr("正在核对…"))
        try:
            future = self.verifier(username, pin, role)
        except Exception as exc:  # a verifier that fails at once still answers through the same path
            log.warning("the PIN check could not start: %r", exc)
            self._on_verified(ticket, exc)
            return
        future.add_done_callback(partial(self._deliver, ticket))

    def _deliver(self, ticket: int, future: concurrent.futures.Future[object]) -> None:
        """Any thread: hand the outcome to the GUI thread."""
        try:
            outcome: object = future.result()
        except BaseException as exc:  # the exception is the outcome
            outcome = exc
        try:
            self._verified.emit(ticket, outcome)
        except RuntimeError:  # the lock screen is gone (the window closed meanwhile): nobody to tell
            log.debug("a PIN answer arrived after the lock screen was deleted")

    @Slot(int, object)
    def _on_verified(self, ticket: int, outcome: object) -> None:
        if ticket != self._pending:
            return
        self._pending = None
        self.pad.set_busy(False)
        self.pad.clear()
        if isinstance(outcome, BaseException):
            self._refuse(refusal_words(outcome))
            return
        if self.mode == "locked":
            username = self.attendant
            log.info("booth unlocked by %s", username)
            self._enter("hidden")
            self.lockedChanged.emit(False)
            self.unlocked.emit(username)
        elif self.mode == "supervisor":
            username = self.supervisor_name.text().strip()
            was_locked = self._return_to == "locked"
            log.warning("kiosk exit approved by supervisor %s", username)
            self._enter("hidden")
            if was_locked:
                self.lockedChanged.emit(False)
            self.exitApproved.emit(username)

    def _refuse(self, words: str) -> None:
        self.message.setText(words)
        self.refused.emit(words)

    # ------------------------------------------------------------------------------------------ events
    @Slot(object)
    def _on_lane_changed(self, view: LaneView) -> None:
        label = self.lane_labels.get(view.lane_id)
        if label is None:
            label = QLabel("")
            label.setObjectName("lockLane")
            self.lane_labels[view.lane_id] = label
            self.lane_strip.addWidget(label)
        label.setText(f"{view.name} · {state_words(view.state)}")

    def keys_behind(self, event: QEvent) -> None:
        # keys meant for a field behind the lock (the cash field...) go to the PIN pad instead
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            self.pad.keyPressEvent(event)


class IdleLock(QObject):
    """Locks ``lock`` after ``idle_s`` seconds without a touch, click or key in its window, while someone is
    signed in (``lock.attendant``). The input is watched on the window's ``QWindow``, not application-wide
    (see ``ui.kit.window_input``).

    The timer runs only while the window is shown and the booth is not locked; ``idle_s`` 0 never locks.
    """

    def __init__(self, lock: LockScreen, idle_s: float, parent: QObject | None = None) -> None:
        super().__init__(parent if parent is not None else lock)
        self.lock = lock
        self.idle_s = idle_s
        self.window = lock.window()
        self.resets = 0  # inputs that restarted the count (for the curious and the tests)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(max(1, round(idle_s * 1000)))
        self.timer.timeout.connect(self._on_idle)
        lock.lockedChanged.connect(self._on_locked_changed)
        self.input = WindowInput(self.window, self)
        self.restart()

    @property
    def armed(self) -> bool:
        return self.timer.isActive()

    def restart(self) -> None:
        if self.idle_s > 0 and not self.lock.is_locked and self.window.isVisible():
            self.timer.start()

    def stop(self) -> None:
        """Stop for good (the window is closing): no lock, no timer left behind."""
        self.timer.stop()
        self.idle_s = 0
        self.input.release()

    @Slot()
    def _on_idle(self) -> None:
        if not self.lock.attendant:  # nobody signed in: no PIN could resume it (the sign-in screen is up)
            self.restart()
            return
        if not self.lock.is_locked:
            log.info("no input for %.0f s: locking", self.idle_s)
            self.lock.lock()

    @Slot(bool)
    def _on_locked_changed(self, locked: bool) -> None:
        if locked:
            self.timer.stop()
        else:
            self.restart()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind in _INPUT_EVENTS:
            if self.timer.isActive():
                self.timer.start()  # someone is here: count again from now
                self.resets += 1
        elif self.input.sees_show(watched, event):
            self.restart()
        elif watched is self.window and kind == QEvent.Type.Hide:
            self.timer.stop()
        return False
