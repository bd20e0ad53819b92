"""Signing in at the booth: an overlay over the lanes (never a dialog) with the people as name buttons, a
username field (the alternative) and the PIN pad; then, when no shift is open, opening one with the float
counted into the drawer note by note (the same rows as the close's count).

The lanes keep running behind it (the engine is never paused), and in view, as behind the lock screen
(ui/people/lock_screen.py, issue #15 item 10): the overlay is see-through, so each lane's plate, amount, QR
and message to the driver stay on screen while nobody is signed in (after a restart a driver can still pay);
every touch on the lanes lands on the overlay, and a sign-in bar lies over the window's top bar. The names
and the PIN pad are on a card that hides part of the lanes only while it is open: it opens with the
sign-in screen, again by "签到" on the bar or by a key typed, and closes itself after ``CARD_OPEN_MS``
untouched (while the float is counted it stays). PINs and shifts are checked on the engine's office thread
and the answers come back as queued signals (ui/link/office_runner.py): nothing here waits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Literal

from PySide6.QtCore import QEvent, QObject, QPoint, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QHideEvent, QKeyEvent, QResizeEvent
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from booth.engine import Engine
from booth.office.shifts import ShiftRecord
from booth.office.staff import PersonRecord
from ui.kit.cash_count import CountRows, DigitPad
from ui.kit.overlay import CoveringOverlay
from ui.kit.person_picker import PersonPicker
from ui.kit.pin_pad import PinPad
from ui.kit.refusals import office_error_words
from ui.kit.style import Sizes
from ui.kit.wording import yuan
from ui.link.office_runner import OfficeRunner, active_people

log = logging.getLogger("ui.sign_in")

Step = Literal["credentials", "open_shift"]

#: the card (names, PIN pad) closes itself after this long untouched: the lanes it hides are the drivers'
CARD_OPEN_MS = 30_000
_SEE_THROUGH = "QWidget#signIn { background: transparent; }"


def _sign_in(engine: Engine, username: str, pin: str) -> tuple[PersonRecord, ShiftRecord | None, int]:
    """Office thread: the person, the open shift (if any) and the float a new shift would start with."""
    person = engine.staff.authenticate(username, pin)
    shifts = engine.shifts
    return person, shifts.current(), shifts.next_float_fen()


class SignInOverlay(CoveringOverlay):
    """Covers its parent (the window's central widget) until someone signs in.

    Signals (GUI thread): ``signedIn(PersonRecord, ShiftRecord | None)`` — the person, and the shift they
    work in (None: a supervisor who chose not to open one); ``refused(str)`` with the words shown.
    """

    signedIn = Signal(object, object)
    refused = Signal(str)
    # the language button was tapped (the host switches the language; the top bar's button is under this)
    languageRequested = Signal()

    def __init__(
        self,
        parent: QWidget,
        engine: Engine,
        *,
        sizes: Sizes,
        denominations: tuple[int, ...] = (),
        top: QWidget | None = None,
    ) -> None:
        super().__init__(parent, "signIn")
        self.setStyleSheet(_SEE_THROUGH)  # the lanes in view behind it; touches still land on it
        self.top = top  # the window's top bar: the sign-in bar lies over it
        self.engine = engine
        self.sizes = sizes
        self.office = OfficeRunner(engine, self)
        self.step: Step = "credentials"
        self._checking = False  # a PIN is being checked on the office thread
        self.person: PersonRecord | None = None
        self._next_float = 0
        target = sizes.target

        self.title = QLabel("")
        self.title.setObjectName("lockTitle")
        self.title.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.title.setStyleSheet(f"font-size: {sizes.state}px; font-weight: bold;")
        self.prompt = QLabel("")
        self.prompt.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.prompt.setWordWrap(True)
        self.message = QLabel("")
        self.message.setObjectName("signInMessage")
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #ff8a80; font-weight: bold;")
        # a refusal on the message line, as (its words, the text they made): said again after a switch of
        # language while the line still shows it
        self._said: tuple[Callable[[], str], str] | None = None
        # the other language's name, in that language, as on the top bar (which this overlay covers): an
        # attendant who reads only the other one can switch before signing in
        self.language_button = QPushButton(self.tr("English"))
        self.language_button.setObjectName("languageToggle")
        self.language_button.setMinimumSize(target * 2, target)
        self.language_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.language_button.clicked.connect(lambda _checked=False: self.languageRequested.emit())
        # what redraws the words of the step on screen (texts with names in them) after a switch of language
        self._redraw: Callable[[], None] = lambda: None

        # step 1: who (a tap on a name, or typed) and the PIN
        credentials = QWidget()
        self.picker = PersonPicker(target, columns=6, placeholder=self.tr("用户名（点选上方姓名或输入）"))
        self.people_buttons = self.picker.buttons
        self.username = self.picker.field
        self.picker.chosen.connect(self._on_chosen)
        self.pad = PinPad(target)
        self.pad.setMaximumWidth(target * 7)
        self.pad.submitted.connect(self.submit_pin)
        self.picker.setMinimumWidth(target * 9)  # the typed alternative's hint fits
        self.picker.setMaximumWidth(target * 20)
        column = QVBoxLayout(credentials)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.picker, 0, Qt.AlignmentFlag.AlignHCenter)
        column.addWidget(self.pad, 1, Qt.AlignmentFlag.AlignHCenter)

        # step 2: the opening float, counted note by note
        opening = QWidget()
        self.float_pad = DigitPad(target)
        self.float_rows = CountRows(denominations, target, pad=self.float_pad)
        self.float_rows.changed.connect(self._on_float_counted)
        self.float_total = QLabel("")
        self.float_total.setObjectName("amount")
        self.float_reference = QLabel("")
        self.float_reference.setObjectName("actionHint")
        self.float_reference.setWordWrap(True)
        self.open_button = QPushButton(self.tr("开班"))
        self.open_button.setObjectName("confirm")
        self.open_button.setMinimumSize(target * 3, target)
        self.open_button.clicked.connect(lambda _checked=False: self.open_shift())
        self.skip_button = QPushButton(self.tr("暂不开班（仅主管操作）"))
        self.skip_button.setMinimumSize(target * 4, target)
        self.skip_button.clicked.connect(lambda _checked=False: self._skip_shift())
        self.back_button = QPushButton(self.tr("返回"))
        self.back_button.setMinimumSize(target * 2, target)
        self.back_button.clicked.connect(lambda _checked=False: self.begin())
        side = QVBoxLayout()
        side.addWidget(QLabel(self.tr("备用金合计")))
        side.addWidget(self.float_total)
        side.addWidget(self.float_reference)
        side.addWidget(self.float_pad)
        side.addStretch(1)
        count_box = QWidget()  # as wide as the close's sheet: the rows and the pad side by side
        count_box.setFixedWidth(target * 20)
        count_row = QHBoxLayout(count_box)
        count_row.setContentsMargins(0, 0, 0, 0)
        count_row.addWidget(self.float_rows, 3)
        count_row.addLayout(side, 2)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.back_button)
        buttons.addWidget(self.skip_button)
        buttons.addWidget(self.open_button)
        buttons.addStretch(1)
        open_column = QVBoxLayout(opening)
        open_column.setContentsMargins(0, 0, 0, 0)
        open_column.addWidget(count_box, 1, Qt.AlignmentFlag.AlignHCenter)
        open_column.addLayout(buttons)

        self.pages = QStackedWidget()
        self.pages.addWidget(credentials)
        self.pages.addWidget(opening)
        self._show_page(0)

        # the sign-in bar, over the window's top bar: what this is, "sign in" (the card) and the language
        self.bar = QFrame(self)
        self.bar.setObjectName("lockBar")
        self.bar_title = QLabel("")
        self.bar_title.setObjectName("lockTitle")
        self.bar_title.setStyleSheet(f"font-size: {sizes.title}px; font-weight: bold;")
        self.bar_prompt = QLabel("")
        self.bar_prompt.setObjectName("lockPrompt")
        self.bar_prompt.setWordWrap(True)
        self.card_button = QPushButton(self.tr("签到"))
        self.card_button.setObjectName("confirm")  # the one thing to do here: the confirm look
        self.card_button.setMinimumSize(target * 3, target)
        self.card_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.card_button.clicked.connect(lambda _checked=False: self.open_card())
        bar_row = QHBoxLayout(self.bar)
        bar_row.setContentsMargins(12, 6, 12, 6)
        bar_row.setSpacing(12)
        bar_row.addWidget(self.bar_title)
        bar_row.addWidget(self.bar_prompt, 1)
        bar_row.addWidget(self.card_button)
        bar_row.addWidget(self.language_button)

        # the card: the step's words and its page (names and PIN pad, or the float's count)
        self.card = QFrame(self)
        self.card.setObjectName("lockCard")
        self.hide_button = QPushButton(self.tr("返回"))  # the lanes in full view again
        self.hide_button.setMinimumSize(target * 2, target)
        self.hide_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.hide_button.clicked.connect(lambda _checked=False: self.close_card())
        outer = QVBoxLayout(self.card)
        outer.setContentsMargins(20, 12, 20, 12)
        outer.setSpacing(10)
        outer.addWidget(self.title)
        outer.addWidget(self.prompt)
        self.prompt.hide()  # the bar above says it: the card keeps its room for the names and the pad
        outer.addWidget(self.message)
        outer.addWidget(self.pages, 1)
        outer.addWidget(self.hide_button, 0, Qt.AlignmentFlag.AlignHCenter)
        self.card.hide()
        self.card.installEventFilter(self)  # what it holds changed size (the names came): placed again
        self.card_timer = QTimer(self)
        self.card_timer.setSingleShot(True)
        self.card_timer.setInterval(CARD_OPEN_MS)
        self.card_timer.timeout.connect(self._on_card_idle)
        for touched in (self.pad.field.textChanged, self.username.textChanged, self.picker.chosen):
            touched.connect(self._card_touched)

    # ------------------------------------------------------------------------------------------ steps
    @property
    def active(self) -> bool:
        return self.isVisible()

    def begin(self) -> None:
        """Show the sign-in step over the lanes (after a sign-out, at the start, or "back")."""
        self.office.forget()
        self.step = "credentials"
        self.person = None
        self.pad.clear()
        self.pad.set_busy(False)
        self._checking = False
        self.picker.clear()
        self._say("")

        def words() -> None:
            self.title.setText(self.tr("收费员签到"))
            self.prompt.setText(self.tr("请点选姓名或输入用户名，再输入 PIN。车道照常工作。"))

        self._show_words(words)
        self._show_page(0)
        self.cover()
        self.open_card()
        self.load_people()

    def load_people(self) -> None:
        """The active people as name buttons (read on the office thread; typing still works meanwhile)."""
        self.office.run(active_people, self.engine, on_done=self._on_people)

    def _on_people(self, outcome: object) -> None:
        if not isinstance(outcome, list):
            log.info("people not listed on the sign-in screen: %r", outcome)
            return
        self.picker.set_people(outcome)
        self.people_buttons = self.picker.buttons

    def expect_resume(self, person: PersonRecord, shift: ShiftRecord) -> None:
        """A shift is open (the booth restarted mid-shift): its attendant is chosen already and their PIN
        resumes it; anyone else may still pick their name (a supervisor, or the refusal says whose it is)."""
        if self.step != "credentials":
            return

        def words() -> None:
            self.title.setText(self.tr("继续班次"))
            text = self.tr("%1（%2）的班次仍在进行：请输入 PIN 继续。车道照常工作。")
            self.prompt.setText(text.replace("%1", person.display_name).replace("%2", person.username))

        self._show_words(words)
        if not self.username.text():
            self.choose(person.username)

    def _on_chosen(self, _username: str) -> None:
        self._say("")

    def choose(self, username: str) -> None:
        self.picker.choose(username)
        self._say("")

    # ------------------------------------------------------------------------------------------ PIN
    def submit_pin(self, pin: str) -> None:
        username = self.picker.username()
        if not username:
            self._say(self.tr("请先点选姓名或输入用户名"))
            self.pad.clear()
            return
        self.pad.set_busy(True)
        self._checking = True
        self.message.setText(self.tr("正在核对…"))
        self.office.run(_sign_in, self.engine, username, pin, on_done=self._on_signed_in)

    def _on_signed_in(self, outcome: object) -> None:
        self.pad.set_busy(False)
        self._checking = False
        self.pad.clear()
        if isinstance(outcome, BaseException):
            refused = outcome
            self._say(lambda: office_error_words(refused))
            return
        assert isinstance(outcome, tuple)
        person, current, next_float = outcome
        assert isinstance(person, PersonRecord)
        log.info("%s (%s) signed in", person.username, person.role)
        if current is None:
            self.person = person
            self._next_float = next_float
            self._show_opening(person)
        elif current.attendant == person.username or person.role == "supervisor":
            self._finish(person, current)
        else:
            name, username = current.attendant_name, current.attendant
            self._say(lambda: self.tr("%1（%2）的班次尚未交班：请其先交班，或请主管处理")
                      .replace("%1", name).replace("%2", username))

    # ------------------------------------------------------------------------------------------ float
    def _show_opening(self, person: PersonRecord) -> None:
        self.step = "open_shift"
        self.card_timer.stop()  # the float is being counted: the card stays until opened or "back"
        self.hide_button.hide()

        def words() -> None:
            self.title.setText(self.tr("开班"))
            text = self.tr("%1，请按面额清点钱箱中的备用金，再开班。")
            self.prompt.setText(text.replace("%1", person.display_name))
            text = self.tr("上一班留下的备用金：%1")
            self.float_reference.setText(text.replace("%1", yuan(self._next_float)))

        self._show_words(words)
        self.float_rows.clear()
        self.float_rows.select_first()
        self.skip_button.setVisible(person.role == "supervisor")
        self.open_button.setEnabled(True)
        self._say("")
        self._on_float_counted()
        self._show_page(1)
        self._place()

    def _on_float_counted(self) -> None:
        total = self.float_rows.counted_fen()
        self.float_total.setText("—" if total is None else yuan(total))
        if self.step == "open_shift":
            self._say("")

    def float_fen(self) -> int:
        """The float counted, in fen; ValueError names the first count that is not a number of pieces."""
        return sum(d * n for d, n in self.float_rows.counts().items())

    def open_shift(self) -> None:
        """Open the shift with the float counted (refused in words when a count is not a count)."""
        person = self.person
        if person is None or self.step != "open_shift":
            return
        try:
            fen = self.float_fen()
        except ValueError as exc:
            self._say(str(exc))
            return
        self.open_button.setEnabled(False)
        self.message.setText(self.tr("正在开班…"))
        engine = self.engine
        self.office.run(
            lambda: engine.shifts.open(person.username, opening_float_fen=fen), on_done=self._on_opened
        )

    def _on_opened(self, outcome: object) -> None:
        self.open_button.setEnabled(True)
        person = self.person
        if isinstance(outcome, BaseException) or person is None:
            refused = outcome
            self._say(lambda: office_error_words(refused))
            return
        assert isinstance(outcome, ShiftRecord)
        log.info("shift %d opened by %s", outcome.id, person.username)
        self._finish(person, outcome)

    def _skip_shift(self) -> None:
        if self.person is not None and self.person.role == "supervisor":
            self._finish(self.person, None)

    def _finish(self, person: PersonRecord, shift: ShiftRecord | None) -> None:
        self.office.forget()
        self.person = None
        self.card_timer.stop()
        self.hide()
        self.signedIn.emit(person, shift)

    def _say(self, words: str | Callable[[], str]) -> None:
        """Say ``words`` on the message line ('' clears it): words made in the current language when drawn
        (a refusal, said again after a switch of language), or a text as it came."""
        text = words() if callable(words) else words
        self._said = (words, text) if callable(words) else None
        self.message.setText(text)
        if text:
            self.refused.emit(text)

    def _show_words(self, words: Callable[[], None]) -> None:
        """Show the step's words now, and again in the new language after a switch (the bar says the
        card's title and prompt: who may sign in, and that the lanes work on)."""

        def with_bar() -> None:
            words()
            self.bar_title.setText(self.title.text())
            self.bar_prompt.setText(self.prompt.text())
            self.card_button.setText(self.tr("签到"))
            self.hide_button.setText(self.tr("返回"))

        self._redraw = with_bar
        with_bar()

    # ------------------------------------------------------------------------------------------ the card
    def _show_page(self, index: int) -> None:
        """The step's page, the card as big as that page alone (not as the float's count when it asks for
        a PIN: the less of the lanes it hides, the better)."""
        for i in range(self.pages.count()):
            page = self.pages.widget(i)
            if page is None:
                continue
            ignored = QSizePolicy.Policy.Ignored
            page.setSizePolicy(QSizePolicy.Policy.Preferred if i == index else ignored,
                               QSizePolicy.Policy.Preferred if i == index else ignored)
        self.pages.setCurrentIndex(index)
        self.pages.updateGeometry()

    @property
    def card_open(self) -> bool:
        return self.isVisible() and self.card.isVisibleTo(self)

    def open_card(self) -> None:
        """The names and the PIN pad (or the float's count) over part of the lanes."""
        self.card.show()
        self.hide_button.setVisible(self.step == "credentials")
        self._place()
        self.card.raise_()
        if self.step == "credentials":
            self.card_timer.start()
            self.pad.setFocus(Qt.FocusReason.OtherFocusReason)

    def close_card(self) -> None:
        """The lanes in full view again, the sign-in bar over the top bar (the PIN typed so far dropped; the
        name chosen stays)."""
        if self.step != "credentials":
            return
        self.card_timer.stop()
        if not self._checking:
            self.pad.clear()
        self.card.hide()

    @Slot()
    def _on_card_idle(self) -> None:
        if self._checking:  # a PIN is being checked: its answer decides
            self.card_timer.start()
        else:
            self.close_card()

    @Slot()
    def _card_touched(self) -> None:
        if self.card_timer.isActive():
            self.card_timer.start()

    def _place(self) -> None:
        """The bar over the host's top bar (at least its own height), the card in the middle below it."""
        width = self.width()
        bar_height = 0
        layout = self.bar.layout()
        if layout is not None:  # the prompt wraps only when the bar leaves it less than one line
            margins = layout.contentsMargins()
            others = (self.bar_title, self.card_button, self.language_button)
            room = width - margins.left() - margins.right() - 3 * layout.spacing()
            room -= sum(widget.sizeHint().width() for widget in others)
            heights = [self.bar_prompt.heightForWidth(max(room, 1))] + [w.sizeHint().height() for w in others]
            tallest = max(heights)
            bar_height = tallest + margins.top() + margins.bottom()
        parent, top = self.parentWidget(), self.top
        if top is not None and parent is not None and parent.isAncestorOf(top):
            bar_height = max(bar_height, top.mapTo(parent, QPoint(0, top.height())).y())
        self.bar.setGeometry(0, 0, width, bar_height)
        self.place_card(self.card, bar_height, self.sizes.target * 8)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._place()

    def hideEvent(self, event: QHideEvent) -> None:
        timer = getattr(self, "card_timer", None)  # None: hidden by CoveringOverlay's __init__
        if timer is not None:
            timer.stop()  # signed in, or the window closing: nothing left to close
        super().hideEvent(event)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        card: QFrame | None = getattr(self, "card", None)  # None: a parent's event while __init__ runs
        if card is not None and watched is card and event.type() == QEvent.Type.LayoutRequest \
                and card.isVisible():
            QTimer.singleShot(0, self, self._place)
        return super().eventFilter(watched, event)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.LanguageChange:
            self.language_button.setText(self.tr("English"))
            self._redraw()
            said = getattr(self, "_said", None)  # None also while __init__ runs
            if said is not None and self.message.text() == said[1]:  # the refusal is still on screen
                text = said[0]()
                self._said = (said[0], text)
                self.message.setText(text)

    def keys_behind(self, event: QEvent) -> None:
        """A key for a widget behind the overlay (a lane's field kept the focus after a sign-out): as if typed
        here, so a keyboard's PIN reaches the pad instead of being lost."""
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            if not self.card_open:
                self.open_card()
            self.keyPressEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """A keyboard's digits go to the PIN pad when the username field does not have the focus."""
        if self.step == "credentials" and not self.username.hasFocus():
            self.pad.keyPressEvent(event)
            return
        super().keyPressEvent(event)
