"""The supervisor's screens, after a supervisor's PIN: the people (add an attendant, disable, enable,
unlock), the shifts (with each closed shift's report) and the period reports.

An attendant is added by touch alone: the staff number on the pad, then the PIN twice; the name is optional
(a kiosk has no keyboard, and usually no input method for a Chinese name), the staff number standing for it
when left empty, and the screen says how a Chinese name is given without a keyboard (``booth staff add``).

Every change is made on the office thread by booth.staff in the supervisor's name (``by``), so the audit
log says who did it; a refusal (a username taken, the last supervisor) is shown in words, nothing changed.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Literal, Protocol

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QScroller,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from booth.config import Settings
from booth.engine import Engine
from booth.office.shifts import ShiftRecord
from booth.office.staff import PIN_MAX_LENGTH, PersonRecord
from ui.kit.person_picker import PersonPicker
from ui.kit.pin_pad import PinPad
from ui.kit.refusals import office_error_words
from ui.kit.sheet import SideSheet, Words
from ui.kit.style import Sizes
from ui.kit.wording import yuan
from ui.link.office_runner import OfficeRunner, active_people

log = logging.getLogger("ui.supervisor")

Page = Literal["auth", "people", "add", "shifts"]
# adding an attendant on the one pad: their staff number, their PIN, the PIN again
AddStep = Literal["number", "pin", "again"]
PAGES: tuple[Page, ...] = ("auth", "people", "add", "shifts")
#: how far back the shift list reaches
SHIFT_DAYS = 31


def _scroll(content: QWidget) -> QScrollArea:
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroll.setWidget(content)
    QScroller.grabGesture(scroll.viewport(), QScroller.ScrollerGestureType.TouchGesture)
    return scroll


class Reports(Protocol):
    """Where the supervisor's report buttons lead (ui.office.report_view.ReportView, given by the window)."""

    def show_period(self) -> None:
        """Today's period report, everyone's."""

    def show_shift(self, shift_id: int) -> None:
        """The report of the closed shift ``shift_id``."""


def _recent_shifts(engine: Engine) -> list[ShiftRecord]:
    since = datetime.now(UTC) - timedelta(days=SHIFT_DAYS)
    return list(reversed(engine.shifts.list(since=since)))


class SupervisorPanel(SideSheet):
    """Signals (GUI thread): ``closeShiftRequested(ShiftRecord)`` when the supervisor closes a shift left
    open (the window opens the blind count for it)."""

    closeShiftRequested = Signal(object)
    # the supervisor asked for the lane figures (the window opens ui.office.lane_figures_view)
    laneFiguresRequested = Signal()

    def __init__(
        self, parent: QWidget, engine: Engine, settings: Settings, *, sizes: Sizes, reports: Reports
    ) -> None:
        super().__init__(parent, sizes, width_targets=22)
        self.engine = engine
        self.settings = settings
        self.reports = reports
        self.office = OfficeRunner(engine, self)
        self.supervisor: PersonRecord | None = None
        self.page: Page = "auth"
        self.people: list[PersonRecord] = []
        self.shifts: list[ShiftRecord] = []
        self.person_rows: dict[str, QWidget] = {}
        self.person_buttons: dict[tuple[str, str], QPushButton] = {}
        self.shift_buttons: dict[int, QPushButton] = {}
        self._first_pin: str | None = None
        target = sizes.target
        self.show_words(self.title, self.tr("主管"))

        # tabs (shown once signed in)
        self.tabs = QWidget()
        tabs = QHBoxLayout(self.tabs)
        tabs.setContentsMargins(0, 0, 0, 0)
        self.people_tab = self._button(self.tr("人员"), partial(self.show_page, "people"))
        self.shifts_tab = self._button(self.tr("班次"), partial(self.show_page, "shifts"))
        self.reports_tab = self._button(self.tr("期间报表"), self.open_reports)
        self.figures_tab = self._button(self.tr("通道数据"), self.open_lane_figures)
        for button in (self.people_tab, self.shifts_tab, self.reports_tab, self.figures_tab):
            tabs.addWidget(button)
        tabs.addStretch(1)

        # auth: the supervisor (a name tapped, or the username typed) and the PIN
        auth = QWidget()
        self.auth_picker = PersonPicker(target, columns=4, placeholder=self.tr("或输入主管用户名"))
        self.auth_name = self.auth_picker.field
        self.auth_pad = PinPad(target)
        self.auth_pad.setMaximumWidth(target * 7)
        self.auth_pad.submitted.connect(self.authenticate)
        auth_column = QVBoxLayout(auth)
        auth_column.setContentsMargins(0, 0, 0, 0)
        hint = QLabel(self.tr("请主管点选姓名（或输入用户名），再输入 PIN。"))
        hint.setObjectName("actionHint")
        auth_column.addWidget(hint)
        auth_column.addWidget(self.auth_picker)
        auth_column.addWidget(self.auth_pad, 1, Qt.AlignmentFlag.AlignHCenter)

        # people
        people = QWidget()
        self.people_list = QWidget()
        self.people_layout = QVBoxLayout(self.people_list)
        self.people_layout.setContentsMargins(0, 0, 0, 0)
        self.people_layout.addStretch(1)
        self.add_button = self._button(self.tr("添加收费员"), self.show_add)
        people_column = QVBoxLayout(people)
        people_column.setContentsMargins(0, 0, 0, 0)
        people_column.addWidget(_scroll(self.people_list), 1)
        people_column.addWidget(self.add_button, 0, Qt.AlignmentFlag.AlignLeft)

        # add an attendant by touch: the staff number on the pad, then the PIN twice on the same pad. The
        # name is optional (a kiosk has no keyboard, and usually no input method for a Chinese name): left
        # empty, the staff number stands for it; typed when a keyboard is there.
        add = QWidget()
        self.add_step: AddStep = "number"
        self.add_hint = QLabel(self.tr(
            "工号用下方数字键输入。姓名可不填，名单和报表中以工号代替；中文姓名需用键盘输入，"
            "或在命令行添加：booth staff add 工号 --name 姓名 --role attendant --by 主管用户名"))
        self.add_hint.setObjectName("actionHint")
        self.add_hint.setWordWrap(True)
        self.new_username = QLineEdit()
        self.new_username.setObjectName("entry")
        self.new_username.setPlaceholderText(self.tr("工号（例如 1002）"))
        self.new_username.setMinimumHeight(target)
        self.new_username.setMaxLength(40)
        self.new_name = QLineEdit()
        self.new_name.setObjectName("entry")
        self.new_name.setPlaceholderText(self.tr("姓名（可不填）"))
        self.new_name.setMinimumHeight(target)
        self.new_name.setMaxLength(40)
        self.pin_prompt = QLabel("")
        self.pin_prompt.setObjectName("actionHint")
        self.pin_prompt.setWordWrap(True)
        self.new_pad = PinPad(target)
        self.new_pad.setMaximumWidth(target * 7)
        self.new_pad.submitted.connect(self.enter_new_pin)
        # on the number step the pad's digits are the staff number (shown, not dots), and a keyboard's typing
        # in the number field is the pad's too: one number, whichever way it was entered
        self.new_pad.field.textChanged.connect(self._pad_number)
        self.new_username.textEdited.connect(self._typed_number)
        self.cancel_add = self._button(self.tr("返回"), partial(self.show_page, "people"))
        add_column = QVBoxLayout(add)
        add_column.setContentsMargins(0, 0, 0, 0)
        add_column.addWidget(self.add_hint)
        add_column.addWidget(self.new_username)
        add_column.addWidget(self.new_name)
        add_column.addWidget(self.pin_prompt)
        add_column.addWidget(self.new_pad, 1, Qt.AlignmentFlag.AlignHCenter)
        add_column.addWidget(self.cancel_add, 0, Qt.AlignmentFlag.AlignLeft)

        # shifts
        self.shift_list = QWidget()
        self.shift_layout = QVBoxLayout(self.shift_list)
        self.shift_layout.setContentsMargins(0, 0, 0, 0)
        self.shift_layout.addStretch(1)

        self.pages = QStackedWidget()
        self.pages.addWidget(auth)
        self.pages.addWidget(people)
        self.pages.addWidget(add)
        self.pages.addWidget(_scroll(self.shift_list))
        self.message = QLabel("")
        self.message.setObjectName("actionError")
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.body.addWidget(self.tabs)
        self.body.addWidget(self.message)
        self.body.addWidget(self.pages, 1)

    def _button(self, text: str, on_press: object) -> QPushButton:
        button = QPushButton(text)
        button.setMinimumSize(self.sizes.target * 2, self.sizes.target)
        assert callable(on_press)
        button.clicked.connect(lambda _checked=False: on_press())
        return button

    # ------------------------------------------------------------------------------------------ sign-in
    def begin(self) -> None:
        """Open on the supervisor PIN (every time: the person at the booth may not be the supervisor)."""
        self.office.forget()
        self.supervisor = None
        self.auth_picker.clear()
        self.auth_pad.clear()
        self.auth_pad.set_busy(False)
        self.show_words(self.title, self.tr("主管"))
        self.show_page("auth")
        self.say("")
        self.present()
        self.office.run(active_people, self.engine, "supervisor", on_done=self._on_supervisors)

    def _on_supervisors(self, outcome: object) -> None:
        if isinstance(outcome, list) and self.page == "auth":
            self.auth_picker.set_people(outcome)

    def authenticate(self, pin: str) -> None:
        username = self.auth_picker.username()
        if not username:
            self.say(self.tr("请先点选主管姓名或输入用户名"))
            self.auth_pad.clear()
            return
        self.auth_pad.set_busy(True)
        engine = self.engine
        self.office.run(
            lambda: engine.staff.authenticate(username, pin, role="supervisor"),
            on_done=self._on_authenticated,
        )

    def _on_authenticated(self, outcome: object) -> None:
        self.auth_pad.set_busy(False)
        self.auth_pad.clear()
        if isinstance(outcome, BaseException):
            self.say(partial(office_error_words, outcome))
            return
        assert isinstance(outcome, PersonRecord)
        self.supervisor = outcome
        name = outcome.display_name
        self.show_words(self.title, lambda: self.tr("主管：%1").replace("%1", name))
        self.say("")
        self.show_page("people")

    def show_page(self, page: Page) -> None:
        if page != "auth" and self.supervisor is None:
            page = "auth"
        self.page = page
        self.pages.setCurrentIndex(PAGES.index(page))
        self.tabs.setVisible(page != "auth")
        if page == "people":
            self.refresh_people()
        elif page == "shifts":
            self.refresh_shifts()

    def open_reports(self) -> None:
        if self.supervisor is not None:
            self.hide()
            self.reports.show_period()

    def open_lane_figures(self) -> None:
        if self.supervisor is not None:
            self.hide()
            self.laneFiguresRequested.emit()

    def retranslate(self) -> None:
        super().retranslate()
        if self.person_rows:  # the people and the shifts listed, in the new language
            self._show_people()
        if self.shift_layout.count() > 1:  # (the stretch alone: not listed yet)
            self._show_shifts()

    def say(self, text: str | Words, *, error: bool = True) -> None:
        """The message line ('' hides it); words with data are said again after a language switch."""
        text = self.show_words(self.message, text)
        self.message.setProperty("tone", "bad" if error else "ok")
        self.message.setVisible(bool(text))

    # ------------------------------------------------------------------------------------------ people
    def refresh_people(self) -> None:
        self.office.run(lambda engine: engine.staff.people(), self.engine, on_done=self._on_people)

    def _on_people(self, outcome: object) -> None:
        if isinstance(outcome, BaseException) or not isinstance(outcome, list):
            self.say(partial(office_error_words, outcome))
            return
        self.people = outcome
        self._show_people()

    def _show_people(self) -> None:
        """A row for each of ``people`` (made again in the new language after a switch)."""
        for row in self.person_rows.values():
            self.people_layout.removeWidget(row)
            row.deleteLater()
        self.person_rows = {}
        self.person_buttons = {}
        for person in self.people:
            row = self._person_row(person)
            self.people_layout.insertWidget(self.people_layout.count() - 1, row)
            self.person_rows[person.username] = row

    def person_words(self, person: PersonRecord) -> str:
        role = self.tr("主管") if person.role == "supervisor" else self.tr("收费员")
        if not person.active:
            state = self.tr("已停用")
        elif person.locked_until is not None:
            until = person.locked_until.astimezone(self.settings.park.zone).strftime("%H:%M")
            state = self.tr("已锁定至 %1").replace("%1", until)
        else:
            state = self.tr("在职")
        return f"{person.display_name} · {person.username} · {role} · {state}"

    def _person_row(self, person: PersonRecord) -> QWidget:
        row = QFrame()
        row.setObjectName("syncCloud")
        layout = QHBoxLayout(row)
        layout.setContentsMargins(8, 4, 8, 4)
        label = QLabel(self.person_words(person))
        label.setTextFormat(Qt.TextFormat.PlainText)
        layout.addWidget(label, 1)
        actions = []
        if person.active:
            actions.append(("disable", self.tr("停用")))
        else:
            actions.append(("enable", self.tr("启用")))
        if person.locked_until is not None:
            actions.append(("unlock", self.tr("解锁")))
        for action, text in actions:
            button = self._button(text, partial(self.change_person, action, person.username))
            layout.addWidget(button)
            self.person_buttons[(person.username, action)] = button
        return row

    def change_person(self, action: str, username: str) -> None:
        """Disable, enable or unlock ``username`` in the supervisor's name; the list is then read again."""
        supervisor = self.supervisor
        if supervisor is None:
            return
        engine = self.engine

        def done() -> str:
            words = {
                "disable": self.tr("已停用 %1"),
                "enable": self.tr("已启用 %1"),
                "unlock": self.tr("已解锁 %1"),
            }
            return words[action].replace("%1", username)

        self.office.run(
            lambda: getattr(engine.staff, action)(username, by=supervisor.username),
            on_done=partial(self._on_changed, done),
        )

    def _on_changed(self, done: Words, outcome: object) -> None:
        if isinstance(outcome, BaseException):
            self.say(partial(office_error_words, outcome))
        else:
            self.say(done, error=False)
        self.refresh_people()

    # ------------------------------------------------------------------------------------------ adding
    def show_add(self) -> None:
        self.new_username.clear()
        self.new_name.clear()
        self._first_pin = None
        self._add_step("number")
        self.say("")
        self.show_page("add")

    def _pin_words(self) -> str:
        return (self.tr("在下方输入新收费员的 PIN（%1-%2 位数字）")
                .replace("%1", str(self.settings.staff.pin_min_length)).replace("%2", str(PIN_MAX_LENGTH)))

    def _add_step(self, step: AddStep) -> None:
        """The pad's job now: the staff number (its digits shown), the PIN, or the PIN again (dots)."""
        entered = self.new_username.text()
        self.add_step = step
        self.new_pad.clear()
        number = step == "number"
        self.new_pad.field.setEchoMode(QLineEdit.EchoMode.Normal if number else QLineEdit.EchoMode.Password)
        self.new_username.setReadOnly(not number)
        if number:
            self.new_pad.field.setText(entered)  # the number entered so far, to correct
            self.show_words(self.pin_prompt, self.tr("用下方数字键输入新收费员的工号，再按「确定」"))
        elif step == "pin":
            self.show_words(self.pin_prompt, self._pin_words)
        else:
            self.show_words(self.pin_prompt, self.tr("请再输入一次同一个 PIN"))

    def _pad_number(self, text: str) -> None:
        if self.add_step == "number" and self.new_username.text() != text:
            self.new_username.setText(text)

    def _typed_number(self, text: str) -> None:
        if self.add_step == "number":
            self.new_pad.field.setText(text)

    def enter_new_pin(self, entered: str) -> None:
        """The pad's confirm: the staff number first, then the PIN twice (the second time it is compared),
        then the person is added."""
        if self.add_step == "number":
            number = self.new_username.text().strip()
            if not number:
                self.say(self.tr("请先输入工号"))
                return
            self.new_username.setText(number)
            # a number already taken is said now, not after the PIN was typed twice
            self.new_pad.set_busy(True)
            engine = self.engine
            self.office.run(lambda: engine.staff.person(number), on_done=partial(self._on_number, number))
            return
        pin = entered
        self.new_pad.clear()
        low = self.settings.staff.pin_min_length
        if not low <= len(pin) <= PIN_MAX_LENGTH:
            self.say(lambda: self.tr("PIN 须为 %1-%2 位数字").replace("%1", str(low))
                     .replace("%2", str(PIN_MAX_LENGTH)))
            return
        if self.add_step == "pin":
            self._first_pin = pin
            self._add_step("again")
            self.say("")
            return
        first, self._first_pin = self._first_pin, None
        if pin != first:
            self._add_step("pin")
            self.say(self.tr("两次输入的 PIN 不一致，请重新输入"))
            return
        self.add_attendant(self.new_username.text().strip(), self.new_name.text().strip(), pin)

    def _on_number(self, number: str, outcome: object) -> None:
        self.new_pad.set_busy(False)
        if self.page != "add" or self.add_step != "number" or self.new_username.text().strip() != number:
            return  # left the page, or the number changed meanwhile
        if isinstance(outcome, BaseException):
            self.say(partial(office_error_words, outcome))
        elif outcome is not None:
            self.say(lambda: self.tr("工号 %1 已被使用，请换一个").replace("%1", number))
        else:
            self.say("")
            self._add_step("pin")

    def add_attendant(self, username: str, name: str, pin: str) -> None:
        """Add ``username`` with ``pin``; with no ``name``, the staff number is their name on screen and in
        the reports."""
        supervisor = self.supervisor
        if supervisor is None:
            return
        if not username:
            self.say(self.tr("请先输入工号"))
            self._add_step("number")
            return
        engine = self.engine
        shown = name or username
        self.office.run(
            lambda: engine.staff.add_person(username, shown, "attendant", pin, by=supervisor.username),
            on_done=self._on_added,
        )

    def _on_added(self, outcome: object) -> None:
        if isinstance(outcome, BaseException):
            self._add_step("number")  # a number taken or refused: to be entered again
            self.say(partial(office_error_words, outcome))
            return
        assert isinstance(outcome, PersonRecord)
        name, username = outcome.display_name, outcome.username

        def words() -> str:
            if name == username:
                return self.tr("已添加收费员 %1（未填姓名，以工号显示）").replace("%1", username)
            return self.tr("已添加收费员 %1（%2）").replace("%1", name).replace("%2", username)

        self.say(words, error=False)
        self.show_page("people")

    # ------------------------------------------------------------------------------------------ shifts
    def refresh_shifts(self) -> None:
        self.office.run(_recent_shifts, self.engine, on_done=self._on_shifts)

    def _on_shifts(self, outcome: object) -> None:
        if isinstance(outcome, BaseException) or not isinstance(outcome, list):
            self.say(partial(office_error_words, outcome))
            return
        self.shifts = outcome
        self._show_shifts()

    def _show_shifts(self) -> None:
        """A row for each of ``shifts`` (made again in the new language after a switch)."""
        while self.shift_layout.count() > 1:
            item = self.shift_layout.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        self.shift_buttons = {}
        if not self.shifts:
            empty = QLabel(self.tr("最近 %1 天没有班次").replace("%1", str(SHIFT_DAYS)))
            self.shift_layout.insertWidget(0, empty)
        for shift in self.shifts:
            self.shift_layout.insertWidget(self.shift_layout.count() - 1, self._shift_row(shift))

    def shift_words(self, shift: ShiftRecord) -> str:
        zone = self.settings.park.zone
        opened = shift.opened_at.astimezone(zone).strftime("%m-%d %H:%M")
        head = f"#{shift.id} {shift.attendant_name}（{shift.attendant}） {opened}"
        if shift.state == "open":
            return head + " · " + self.tr("未交班")
        closed = shift.closed_at.astimezone(zone).strftime("%m-%d %H:%M") if shift.closed_at else "—"
        words = self.tr("至 %1 · 应有 %2 · 清点 %3 · 差额 %4")
        words = (words.replace("%1", closed).replace("%2", yuan(shift.expected_fen or 0))
                 .replace("%3", yuan(shift.counted_fen or 0)).replace("%4", _signed(shift.variance_fen or 0)))
        if shift.cosigned_by:
            words += " · " + self.tr("主管签字：%1").replace("%1", shift.cosigned_by)
        return f"{head} {words}"

    def _shift_row(self, shift: ShiftRecord) -> QWidget:
        row = QFrame()
        row.setObjectName("syncCloud")
        layout = QHBoxLayout(row)
        layout.setContentsMargins(8, 4, 8, 4)
        label = QLabel(self.shift_words(shift))
        label.setWordWrap(True)
        label.setTextFormat(Qt.TextFormat.PlainText)
        layout.addWidget(label, 1)
        if shift.state == "closed":
            button = self._button(self.tr("报表"), partial(self._shift_report, shift.id))
        else:
            button = self._button(self.tr("交班"), partial(self.closeShiftRequested.emit, shift))
        layout.addWidget(button)
        self.shift_buttons[shift.id] = button
        return row

    def _shift_report(self, shift_id: int) -> None:
        self.hide()
        self.reports.show_shift(shift_id)


def _signed(fen: int) -> str:
    return ("+" if fen > 0 else "−" if fen < 0 else "") + yuan(abs(fen))
