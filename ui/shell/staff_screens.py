"""The window's people screens wired together: sign-in, the shift close, the supervisor's screens and the
reports, and the top bar's "交班" / "主管" / "签退" buttons.

Kept out of ui/shell/main_window.py so the window only places the buttons and calls ``start``. What these
screens need of the window is the ``StaffHost`` protocol below (the window's engine, settings and sizes, who
is signed in, a notice in its alert bar), so this module never imports the window.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QEvent, QObject, Slot
from PySide6.QtWidgets import QPushButton, QWidget

from booth.config import Settings
from booth.engine import Engine, EngineError
from booth.office.shifts import ShiftRecord
from booth.office.staff import PersonRecord
from ui.kit.refusals import office_error_words
from ui.kit.style import Sizes
from ui.link.bridge import EngineBridge, EngineStarted
from ui.link.office_runner import OfficeRunner
from ui.people.sign_in import SignInOverlay

if TYPE_CHECKING:
    from ui.office.lane_figures_view import LaneFiguresView
    from ui.office.report_view import ReportView
    from ui.office.shift_panel import ShiftClosePanel
    from ui.people.supervisor_panel import SupervisorPanel

log = logging.getLogger("ui.staff")


def _resume_state(engine: Engine) -> tuple[bool, ShiftRecord | None, PersonRecord | None]:
    """Office thread: whether any supervisor exists, the open shift, and its attendant."""
    staff, shifts = engine.staff, engine.shifts
    current = shifts.current()
    person = staff.person(current.attendant) if current is not None else None
    return staff.has_supervisor(), current, person


class StaffHost(Protocol):
    """What the people screens need of the window they sit in (ui.shell.main_window.BoothWindow)."""

    engine: Engine
    settings: Settings
    sizes: Sizes
    bridge: EngineBridge
    # the name the lanes act under when nobody is signed in
    operator: str
    @property
    def top_bar(self) -> QWidget:
        """The window's top bar: the sign-in bar lies over it."""

    def set_operator(self, person: PersonRecord | None) -> None:
        """``person`` signed in (the lanes' actions open to them), or nobody (None: the actions close)."""

    def work_unsigned(self, name: str) -> None:
        """A booth with nobody set up yet: the lanes act under ``name``, unsigned."""

    def notice(self, text: str | Callable[[], str]) -> None:
        """``text`` in the window's alert bar (words made when drawn: said again after a language switch)."""

    def toggle_language(self) -> None:
        """Chinese <-> English (the sign-in screen covers the top bar's button: it has its own)."""


class WordsButton(QPushButton):
    """A button never narrower than its words: the style's min-width (one target) would otherwise let a
    crowded top bar squeeze it and cut the words off ("lose shif") while the window says it fits."""

    def setText(self, text: str) -> None:
        super().setText(text)
        self._fit()

    def event(self, event: QEvent) -> bool:
        handled = super().event(event)
        if event.type() in (QEvent.Type.Polish, QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._fit()
        return handled

    def _fit(self) -> None:
        self.setMinimumWidth(self.sizeHint().width())


class StaffScreens(QObject):
    """Owns the overlays and side sheets laid over ``central`` and the three top-bar buttons."""

    def __init__(self, window: StaffHost, central: QWidget) -> None:
        super().__init__(central)
        self.window = window
        engine, sizes = window.engine, window.sizes
        self.office = OfficeRunner(engine, self)
        self.shift: ShiftRecord | None = None
        self._fallback = window.operator or "收费员"
        self.close_shift_button = self._button(self.tr("交班"), self.close_shift)
        self.supervisor_button = self._button(self.tr("主管"), self.open_supervisor)
        self.sign_out_button = self._button(self.tr("签退"), self.sign_out)
        self.buttons = [self.close_shift_button, self.supervisor_button, self.sign_out_button]

        self._central = central
        # The shift close, supervisor and report sheets are built when first opened: together they cost
        # ~80 ms of the window's start, which the lanes should not wait for.
        self._report_view: ReportView | None = None
        self._shift_panel: ShiftClosePanel | None = None
        self._supervisor_panel: SupervisorPanel | None = None
        self._lane_figures: LaneFiguresView | None = None
        self.sign_in = SignInOverlay(
            central,
            engine,
            sizes=sizes,
            denominations=window.settings.shifts.denominations,
            top=window.top_bar,
        )
        self.sign_in.signedIn.connect(self._on_signed_in)
        self.sign_in.languageRequested.connect(window.toggle_language)
        window.bridge.engineStarted.connect(self._on_engine_started)

    @property
    def report_view(self) -> ReportView:
        if self._report_view is None:
            from ui.office.report_view import ReportView  # with booth.reports: not needed to start the lanes

            w = self.window
            self._report_view = ReportView(self._central, w.engine, w.settings, sizes=w.sizes)
        return self._report_view

    @property
    def lane_figures_view(self) -> LaneFiguresView:
        if self._lane_figures is None:
            from ui.office.lane_figures_view import LaneFiguresView

            w = self.window
            self._lane_figures = LaneFiguresView(self._central, w.engine, w.settings, sizes=w.sizes)
        return self._lane_figures

    @property
    def shift_panel(self) -> ShiftClosePanel:
        if self._shift_panel is None:
            from ui.office.shift_panel import ShiftClosePanel

            w = self.window
            self._shift_panel = ShiftClosePanel(self._central, w.engine, w.settings.shifts, sizes=w.sizes)
            self._shift_panel.finished.connect(self.sign_out)
            self._shift_panel.reportRequested.connect(self.report_view.show_shift)
        return self._shift_panel

    @property
    def supervisor_panel(self) -> SupervisorPanel:
        if self._supervisor_panel is None:
            from ui.people.supervisor_panel import SupervisorPanel

            w = self.window
            self._supervisor_panel = SupervisorPanel(
                self._central, w.engine, w.settings, sizes=w.sizes, reports=self.report_view
            )
            self._supervisor_panel.closeShiftRequested.connect(self._close_this_shift)
            self._supervisor_panel.laneFiguresRequested.connect(lambda: self.lane_figures_view.show_figures())
        return self._supervisor_panel

    def _button(self, text: str, on_press: object) -> QPushButton:
        button = WordsButton(text)
        button.setObjectName("topAction")
        button.setMinimumHeight(self.window.sizes.target)
        assert callable(on_press)
        button.clicked.connect(lambda _checked=False: on_press())
        return button

    # ------------------------------------------------------------------------------------------ start
    def start(self, *, sign_in: bool) -> None:
        """With ``sign_in``, the window opens on the sign-in overlay; an open shift (a restart mid-shift)
        stays open and its attendant's PIN resumes it (a restart never signs anyone in by itself: whoever
        stands at the booth after it may not be that attendant), and a booth with nobody set up yet works
        as before, unsigned."""
        self._fallback = self.window.operator or "收费员"
        if not sign_in:
            return
        self.window.set_operator(None)
        self.sign_in.begin()
        self.resume()

    def resume(self) -> None:
        self.office.run(_resume_state, self.window.engine, on_done=self._on_resume_state)

    @Slot(object)
    def _on_engine_started(self, started: EngineStarted) -> None:
        if not started.error and self.sign_in.active:
            self.sign_in.load_people()
            self.resume()

    def _on_resume_state(self, outcome: object) -> None:
        if isinstance(outcome, EngineError):
            return  # not running yet: asked again when the engine has started
        if isinstance(outcome, BaseException) or not isinstance(outcome, tuple):
            log.error("cannot read the shift to resume: %r", outcome)
            return
        anyone, current, person = outcome
        if not self.sign_in.active:
            return
        if not anyone:
            self.sign_in.hide()
            self.window.work_unsigned(self._fallback)
            self.notice(self.tr("尚未设置收费人员：请用 booth staff 命令添加主管和收费员"))
        elif current is not None and person is not None and person.active:
            log.info("shift %d of %s is open: its attendant's PIN resumes it", current.id, person.username)
            self.sign_in.expect_resume(person, current)

    # ------------------------------------------------------------------------------------------ actions
    @Slot(object, object)
    def _on_signed_in(self, person: PersonRecord, shift: ShiftRecord | None) -> None:
        self.shift = shift
        self.window.set_operator(person)

    def close_shift(self) -> None:
        """Open the blind count for the shift now open (read fresh on the office thread)."""
        self.office.run(lambda engine: engine.shifts.current(), self.window.engine, on_done=self._on_current)

    def _on_current(self, outcome: object) -> None:
        if isinstance(outcome, BaseException):
            self.notice(partial(office_error_words, outcome))
        elif outcome is None:
            self.notice(self.tr("当前没有开启的班次"))
        else:
            assert isinstance(outcome, ShiftRecord)
            self._close_this_shift(outcome)

    @Slot(object)
    def _close_this_shift(self, shift: ShiftRecord) -> None:
        for sheet in (self._supervisor_panel, self._report_view, self._lane_figures):
            if sheet is not None:
                sheet.hide()
        self.shift_panel.open_for(shift)

    def open_supervisor(self) -> None:
        self.supervisor_panel.begin()

    def sign_out(self) -> None:
        """Everything closes and the sign-in overlay comes back; the lanes keep running."""
        for sheet in (self._shift_panel, self._supervisor_panel, self._report_view, self._lane_figures):
            if sheet is not None:
                sheet.hide()
        self.shift = None
        self.window.set_operator(None)
        self.sign_in.begin()

    def notice(self, text: str | Callable[[], str]) -> None:
        self.window.notice(text)
