"""The lock screen: an overlay over the window's lanes (never a separate modal dialog) that locks only what
the attendant does.

Two modes: "locked" and "supervisor". Locked, the overlay is see-through over the lanes: each lane's plate,
amount, QR and message to the driver stay on screen and keep updating (the engine is never touched: lanes
keep pricing cars, taking payments and opening gates), so a driver can pay while the attendant is away. A
lock bar lies over the window's top bar, and every touch on the lanes lands on the overlay, not on them
(the shell also disables the attendant's buttons: ui/shell/booth_lock.py). "解锁" on the bar opens a card
with a large PIN pad (the signed-in attendant's PIN resumes); the card hides part of the lanes only while
it is open, and closes itself after ``CARD_OPEN_MS`` untouched. The bar's language button switches the
language while locked (``languageRequested``: it changes no money and no gate, and the driver's words and
the lock's follow). An idle booth locks itself (``IdleLock``); the top bar's "锁屏" locks at once.
"supervisor" (leaving the program needs a supervisor's PIN) covers the lanes: the program is about to end.

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

from PySide6.QtCore import QEvent, QObject, QPoint, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QKeyEvent, QResizeEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ui.kit.overlay import CoveringOverlay
from ui.kit.pin_pad import PinPad
from ui.kit.refusals import refusal_words
from ui.kit.style import Sizes
from ui.kit.window_input import WindowInput

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


# the unlock card closes itself after this long untouched: the lanes it hides are the drivers'
CARD_OPEN_MS = 30_000

_SEE_THROUGH = "QWidget#lockScreen { background: transparent; }"
_COVERING = "QWidget#lockScreen { background: #0e1319; }"


class LockScreen(CoveringOverlay):
    """Over its parent (the window's central widget) while locked or while a supervisor PIN is asked for.

    ``top`` is the host's top bar (a descendant of ``parent``): the lock bar lies over it. Signals (GUI
    thread): ``lockedChanged(bool)``; ``unlocked(str)`` with the username whose PIN resumed;
    ``exitApproved(str)`` with the supervisor who allowed leaving the program; ``refused(str)`` with the words
    shown for a refused PIN.
    """

    lockedChanged = Signal(bool)
    unlocked = Signal(str)
    # the language button on the lock bar was tapped (the host switches the language: no money, no gate)
    languageRequested = Signal()
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
        top: QWidget | None = None,
    ) -> None:
        super().__init__(parent, "lockScreen")
        self.verifier = verifier
        self.attendant = attendant
        self.sizes = sizes or Sizes.for_screen()
        self.top = top
        self.mode: Mode = "hidden"
        self._return_to: Mode = "hidden"
        self._tickets = itertools.count(1)
        self._pending: int | None = None
        self._sheet = ""
        self._verified.connect(self._on_verified, Qt.ConnectionType.QueuedConnection)
        target = self.sizes.target

        # the lock bar (locked): over the window's top bar, the lanes below it in view
        self.bar = QFrame(self)
        self.bar.setObjectName("lockBar")
        self.title = QLabel("")
        self.title.setObjectName("lockTitle")
        self.title.setStyleSheet(f"font-size: {self.sizes.title}px; font-weight: bold;")
        self.bar_prompt = QLabel("")
        self.bar_prompt.setObjectName("lockPrompt")
        self.bar_prompt.setWordWrap(True)
        self.unlock_button = self._button(self.tr("解锁"), self.open_card)
        self.unlock_button.setObjectName("confirm")  # the one thing to do here: the confirm look
        self.exit_button = self._button(self.tr("主管退出程序"), self.request_exit)
        # the other language's name, in that language, as on the top bar the lock bar lies over: a driver or
        # a relief attendant who cannot read this one can still switch while the booth is locked
        self.language_button = self._button(self.tr("English"), self.languageRequested.emit)
        self.language_button.setObjectName("languageToggle")
        self.language_button.setMinimumWidth(self.sizes.target * 2)
        row = QHBoxLayout(self.bar)
        row.setContentsMargins(12, 6, 12, 6)
        row.setSpacing(12)
        row.addWidget(self.title)
        row.addWidget(self.bar_prompt, 1)
        row.addWidget(self.unlock_button)
        row.addWidget(self.exit_button)
        row.addWidget(self.language_button)

        # the card: the PIN pad (and the supervisor's names), opened on demand
        self.card = QFrame(self)
        self.card.setObjectName("lockCard")
        self.card_title = QLabel("")
        self.card_title.setObjectName("lockCardTitle")
        self.card_title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.card_title.setStyleSheet(f"font-size: {self.sizes.state}px; font-weight: bold;")
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
        self.pad.field.textChanged.connect(self._card_touched)
        self.message = QLabel("")
        self.message.setObjectName("lockMessage")
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #ff8a80; font-weight: bold;")
        # a refusal on the message line, as (its words, the text they made): said again after a switch of
        # language while the line still shows it
        self._said: tuple[Callable[[], str], str] | None = None
        self.cancel_button = self._button(self.tr("取消"), self._cancel)
        column = QVBoxLayout(self.card)
        column.setContentsMargins(24, 16, 24, 16)
        column.setSpacing(12)
        column.addWidget(self.card_title)
        column.addWidget(self.prompt)
        column.addWidget(self.supervisor_box)
        column.addWidget(self.pad, 1, Qt.AlignmentFlag.AlignHCenter)
        column.addWidget(self.message)
        column.addWidget(self.cancel_button, 0, Qt.AlignmentFlag.AlignHCenter)
        self.card.hide()
        self.card_timer = QTimer(self)
        self.card_timer.setSingleShot(True)
        self.card_timer.setInterval(CARD_OPEN_MS)
        self.card_timer.timeout.connect(self._on_card_idle)

    def _button(self, text: str, on_press: Callable[[], None]) -> QPushButton:
        button = QPushButton(text)
        button.setMinimumSize(self.sizes.target * 3, self.sizes.target)
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys typed while locked go to the PIN pad
        button.clicked.connect(lambda _checked=False: on_press())
        return button

    # ------------------------------------------------------------------------------------------ modes
    @property
    def is_locked(self) -> bool:
        return self.mode == "locked"

    @property
    def card_open(self) -> bool:
        return self.mode != "hidden" and self.card.isVisibleTo(self)

    def lock(self) -> None:
        """Lock now: only the signed-in attendant's PIN resumes (a supervisor may still leave the program)."""
        was_locked = self.is_locked
        self._enter("locked")
        if not was_locked:
            log.info("booth locked (attendant %s)", self.attendant)
            self.lockedChanged.emit(True)

    def request_exit(self) -> None:
        """Ask for a supervisor's PIN to leave the program; cancelling returns to where it was."""
        if self.mode != "supervisor":
            self._return_to = self.mode
        self._enter("supervisor")

    def cancel_exit(self) -> None:
        if self.mode == "supervisor":
            self._enter(self._return_to)

    def open_card(self) -> None:
        """Locked: the PIN pad to unlock (it hides part of the lanes until unlocked, closed, or idle)."""
        if self.mode != "locked":
            return
        self._clear_card()
        self.card.show()
        self._place()
        self.card.raise_()
        self.card_timer.start()
        self.pad.setFocus(Qt.FocusReason.OtherFocusReason)

    def close_card(self) -> None:
        """Locked: back to the lanes in full view (the digits typed so far are dropped)."""
        self.card_timer.stop()
        if self.mode == "locked":
            self._clear_card()
            self.card.hide()

    def stop(self) -> None:
        """The window is closing: no timer, no filter left behind."""
        self.card_timer.stop()
        self.stop_watching_keys()

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

    def _clear_card(self) -> None:
        self._pending = None  # an answer still on its way is for a request no longer on screen
        self.pad.set_busy(False)
        self.pad.clear()
        self.message.setText("")

    def _enter(self, mode: Mode) -> None:
        self.mode = mode
        self.card_timer.stop()
        self._clear_card()
        if mode == "hidden":
            self.card.hide()
            self.hide()
            return
        sheet = _SEE_THROUGH if mode == "locked" else _COVERING
        if sheet != self._sheet:
            self._sheet = sheet
            self.setStyleSheet(sheet)
        self.bar.setVisible(mode == "locked")
        self.card.setVisible(mode == "supervisor")
        self.supervisor_box.setVisible(mode == "supervisor")
        self._words()
        self.cover()
        self._place()
        if self.card.isVisibleTo(self):
            self.pad.setFocus(Qt.FocusReason.OtherFocusReason)

    def _words(self) -> None:
        """The words of the mode now on screen (again after a change of language)."""
        if self.mode == "locked":
            self.title.setText(self.tr("已锁屏"))
            words = self.tr("收费员 %1 暂时离开：车道照常工作，司机可照常付款。")
            self.bar_prompt.setText(words.replace("%1", self.attendant))
            self.card_title.setText(self.tr("解锁"))
            self.prompt.setText(self.tr("收费员 %1 请输入 PIN 解锁。").replace("%1", self.attendant))
            self.cancel_button.setText(self.tr("返回"))
            self.language_button.setText(self.tr("English"))
        elif self.mode == "supervisor":
            self.card_title.setText(self.tr("退出收费程序"))
            self.prompt.setText(self.tr("需要主管输入用户名和 PIN。"))
            self.cancel_button.setText(self.tr("取消"))

    def _cancel(self) -> None:
        if self.mode == "supervisor":
            self.cancel_exit()
        else:
            self.close_card()

    @Slot()
    def _on_card_idle(self) -> None:
        if self._pending is not None:  # a PIN is being checked: its answer decides
            self.card_timer.start()
        else:
            self.close_card()

    @Slot()
    def _card_touched(self) -> None:
        if self.card_timer.isActive():
            self.card_timer.start()

    # ------------------------------------------------------------------------------------------ placing
    def _place(self) -> None:
        """The bar over the host's top bar (at least its own height), the card in the middle below it."""
        width = self.width()
        bar_height = 0
        if self.bar.isVisibleTo(self):
            bar_height = self.bar.sizeHint().height()
            layout = self.bar.layout()
            if layout is not None and layout.hasHeightForWidth():
                bar_height = max(bar_height, layout.totalHeightForWidth(width))
            parent = self.parentWidget()
            top = self.top
            if top is not None and parent is not None and parent.isAncestorOf(top):
                bar_height = max(bar_height, top.mapTo(parent, QPoint(0, top.height())).y())
            self.bar.setGeometry(0, 0, width, bar_height)
        self.place_card(self.card, bar_height, self.sizes.target * 8)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._place()

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.LanguageChange:
            self._words()
            said = getattr(self, "_said", None)  # None also while __init__ runs
            if said is not None and self.message.text() == said[1]:  # the refusal is still on screen
                text = said[0]()
                self._said = (said[0], text)
                self.message.setText(text)

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
            refused = outcome
            self._refuse(lambda: refusal_words(refused))
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
            log.warning("exit approved by supervisor %s", username)
            self._enter("hidden")
            if was_locked:
                self.lockedChanged.emit(False)
            self.exitApproved.emit(username)

    def _refuse(self, words: str | Callable[[], str]) -> None:
        """Say why the PIN was refused: words made in the current language when drawn (said again after a
        switch of language), or a text as it came."""
        text = words() if callable(words) else words
        self._said = (words, text) if callable(words) else None
        self.message.setText(text)
        self._card_touched()
        self.refused.emit(text)

    # ------------------------------------------------------------------------------------------ keys
    def keys_behind(self, event: QEvent) -> None:
        # keys meant for a field behind the lock (the cash field...) go to the PIN pad instead, its card
        # opened by the first key
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            if self.mode == "locked" and not self.card_open:
                self.open_card()
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
