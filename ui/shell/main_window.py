"""The lane screen: one to four lanes side by side, whether Bolink is online (and a banner when it is not),
the background sync to the clouds (its panel one tap away), the park's clock, and the latest alert. Nothing
here is modal and nothing waits."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from PySide6.QtCore import QCoreApplication, QEvent, QObject, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QCloseEvent, QResizeEvent
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from booth.config import Settings
from booth.domain.lane import LaneView
from booth.engine import AlertRaised, Engine, SyncStatus
from booth.office.staff import PersonRecord
from ui.kit.i18n import SOURCE_LANGUAGE, TranslationError, current_language, retranslate_tree, switch_language
from ui.kit.screen_fit import ScreenFollower, fit_to_screen
from ui.kit.style import Sizes, area_is_compact, restyle, standard_target_px
from ui.kit.wording import bolink_tone, bolink_words
from ui.lanes.lane_panel import LanePanel
from ui.lanes.sync_panel import SyncIndicator, SyncPanel
from ui.link.bridge import CommandOutcome, EngineBridge, EngineStarted
from ui.shell.alert_bar import AlertBar
from ui.shell.lane_row import LaneRow
from ui.shell.staff_screens import StaffScreens, WordsButton

log = logging.getLogger("ui.window")

# how long the top bar may say "connecting" to Bolink: the engine reports only a change, and a Bolink that
# never answered was never "online", so without a bound the bar said "connecting" for as long as it was down
BOLINK_FIRST_ANSWER_MS = 10_000
#: alerts kept in memory for the session (the store audits them all)
MAX_ALERTS = 200


def _set_tone(widget: QWidget, tone: str) -> None:
    if widget.property("tone") != tone:
        widget.setProperty("tone", tone)
        widget.style().unpolish(widget)
        widget.style().polish(widget)


class OperatorLabel(QLabel):
    """Who works the booth, on the top bar: "收费员：王芳（1001）", or just the name when a crowded top bar
    (a small window, English) would leave the sync indicator no room for even its shortest words
    (``BoothWindow._fit_top_bar`` decides). Always as wide as the words it shows."""

    def __init__(self, words: str) -> None:
        super().__init__(words)
        self.setObjectName("operator")
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Preferred)
        self.forms = [words]
        self.short = False

    def show_words(self, words: str, short: str) -> None:
        self.forms = [words, short]
        self._show()

    def use_short(self, short: bool) -> None:
        if short != self.short:
            self.short = short
            self._show()

    def _show(self) -> None:
        self.setText(self.forms[-1] if self.short else self.forms[0])
        self.updateGeometry()

    def width_of(self, text: str) -> int:
        """The label's width showing ``text`` (its words and the style's padding)."""
        padding = max(0, super().sizeHint().width() - self.fontMetrics().horizontalAdvance(self.text()))
        return padding + self.fontMetrics().horizontalAdvance(text)


class BoothWindow(QMainWindow):
    """The booth's main window. It watches the engine through one ``EngineBridge`` and commands it.

    Signals (GUI thread): ``lanesReady()`` once the engine runs and every lane shows the engine's view.
    The window does not own the engine: whoever created the engine starts and stops it.
    """

    lanesReady = Signal()
    #: the person now signed in (PersonRecord) or None after a sign-out (GUI thread)
    operatorChanged = Signal(object)

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        operator: str,
        sizes: Sizes | None = None,
        sign_in: bool = False,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("boothWindow")
        self.settings = settings
        self.engine = engine
        self.operator = operator
        #: who signed in (issue #5); None: nobody yet, or a booth without people (``operator`` is then used)
        self.person: PersonRecord | None = None
        self.sizes = sizes or Sizes.for_screen()
        self.zone = settings.park.zone
        self.bridge = EngineBridge(engine, self)
        self.alerts: list[AlertRaised] = []
        self.bolink_online: bool | None = None
        self._bolink_reason = ""
        self._bolink_reported = False  # whether the engine itself said online or offline yet
        self._bolink_wait = QTimer(self)
        self._bolink_wait.setSingleShot(True)
        self._bolink_wait.setInterval(BOLINK_FIRST_ANSWER_MS)
        self._bolink_wait.timeout.connect(self._on_bolink_silent)
        self.engine_running = True  # start_engine() makes it False until the engine reports
        self.ready_at: float | None = None
        self._screen_follower: ScreenFollower | None = None
        #: whether the window chooses its layout from its size (the booth's window, once shown for the booth)
        self._adaptive = False
        self._relayout = QTimer(self)
        self._relayout.setSingleShot(True)
        self._relayout.setInterval(0)
        self._relayout.timeout.connect(self._choose_layout)
        self.setWindowTitle(self.tr("收费亭 — %1").replace("%1", settings.park.name))

        central = QWidget()
        central.setObjectName("central")
        self.setCentralWidget(central)
        outer = QVBoxLayout(central)
        compact = self.sizes.compact  # a small screen: tighter margins, the clock without its date
        outer.setContentsMargins(*((8, 0, 8, 6) if compact else (10, 0, 10, 10)))
        outer.setSpacing(6 if compact else 10)

        self.top_bar = top = QFrame()
        top.setObjectName("topBar")
        top_row = QHBoxLayout(top)
        top_row.setContentsMargins(*((8, 4, 8, 4) if compact else (12, 8, 12, 8)))
        self.park_label = QLabel(settings.park.name)
        self.park_label.setObjectName("parkName")
        self.cloud_status = QLabel("")
        self.cloud_status.setObjectName("cloudStatus")
        self.sync_indicator = SyncIndicator(self.sizes)
        self.operator_label = OperatorLabel(self.tr("收费员：%1").replace("%1", operator))
        self.clock_label = QLabel("")
        self.clock_label.setObjectName("clock")
        # the other language's name, in that language: whoever cannot read this one can still find it
        # never squeezed by a long sync summary beside it (a button may otherwise go down to its minimum)
        self.language_button = WordsButton(self.tr("English"))
        self.language_button.setObjectName("languageToggle")
        self.language_button.setToolTip(self.tr("切换界面语言"))
        self.language_button.setMinimumSize(self.sizes.target * 2, self.sizes.target)
        self.language_button.clicked.connect(self.toggle_language)
        top_row.addWidget(self.park_label)
        top_row.addStretch(1)
        top_row.addWidget(self.cloud_status)
        top_row.addSpacing(8)
        top_row.addWidget(self.sync_indicator)
        top_row.addSpacing(8 if compact else 20)
        top_row.addWidget(self.operator_label)
        # sign-in, shift close, supervisor and reports: overlays and side sheets over the lanes
        self.staff_screens = StaffScreens(self, central)
        for button in self.staff_screens.buttons:
            top_row.addWidget(button)
        top_row.addSpacing(8 if compact else 20)
        top_row.addWidget(self.clock_label)
        top_row.addSpacing(8 if compact else 12)
        top_row.addWidget(self.language_button)
        outer.addWidget(top)
        top.installEventFilter(self)  # its size or its words changed: the operator's words, whole or short

        self.banner = QFrame()
        self.banner.setObjectName("cloudBanner")
        banner_row = QHBoxLayout(self.banner)
        banner_row.setContentsMargins(16, 8, 16, 8)
        self.banner_text = QLabel("")
        self.banner_text.setWordWrap(True)
        banner_row.addWidget(self.banner_text, 1)
        self.banner.hide()
        outer.addWidget(self.banner)

        self.lane_row = LaneRow(settings, self.bridge, operator=operator, zone=self.zone, sizes=self.sizes)
        self.panels: dict[str, LanePanel] = self.lane_row.panels  # the same dict, whichever layout
        grid = QGridLayout()
        grid.addWidget(self.lane_row, 0, 0)
        # the sync panel lies over the right of the lanes (same cell, drawn on top): opening it moves nothing
        self.sync_panel = SyncPanel(self.bridge, operator=operator, zone=self.zone, sizes=self.sizes)
        grid.addWidget(self.sync_panel, 0, 0, Qt.AlignmentFlag.AlignRight)
        self.sync_panel.hide()
        self.sync_status: SyncStatus | None = None
        outer.addLayout(grid, 1)

        self.alert_bar = AlertBar(self.sizes)
        self.alert_text, self.alert_sync_button = self.alert_bar.text, self.alert_bar.sync_button
        self.alert_sync_button.clicked.connect(self.open_sync_panel)
        outer.addWidget(self.alert_bar)

        self.bridge.laneChanged.connect(self._on_lane_changed)
        self.bridge.bolinkChanged.connect(self._on_bolink_changed)
        self.bridge.alertRaised.connect(self._on_alert)
        self.bridge.commandDone.connect(self._on_command_done)
        self.bridge.engineStarted.connect(self._on_engine_started)
        self.bridge.syncChanged.connect(self._on_sync_changed)
        self.sync_indicator.clicked.connect(self.toggle_sync_panel)
        self._render_cloud_status("")
        # the one read of the engine's sync: never waits (a value kept by the engine); changes come as signals
        self._on_sync_changed(engine.sync_status())

        self.clock = QTimer(self)
        self.clock.setInterval(1000)
        self.clock.timeout.connect(self._tick_clock)
        self.clock.start()
        self._tick_clock()
        for view in engine.snapshot():
            self._on_lane_changed(view)
        if self.bolink_online is None:
            self._bolink_wait.start()  # the bound runs from the window's start, the engine's start within it
        self.staff_screens.start(sign_in=sign_in)

    # ----------------------------------------------------------------------------------- life cycle
    def start_engine(self) -> None:
        """Start the engine in the background; the window says so until it reports."""
        self.engine_running = False
        self.bridge.start_engine()

    def closeEvent(self, event: QCloseEvent) -> None:
        self.clock.stop()
        self._relayout.stop()
        self._bolink_wait.stop()
        self.bridge.close()
        super().closeEvent(event)

    def lane_panel(self, lane_id: str) -> LanePanel:
        return self.panels[lane_id]

    # ----------------------------------------------------------------------------------- layout
    def wants_compact(self) -> bool:
        """Whether the window's size (not the screen's) calls for the compact layout."""
        display = self.settings.display
        return area_is_compact(self.width(), self.height(), standard_target_px(display.font_scale))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.top_bar and event.type() in (QEvent.Type.Resize, QEvent.Type.LayoutRequest):
            self._fit_top_bar()
        return super().eventFilter(watched, event)

    def _fit_top_bar(self) -> None:
        """The operator's words whole unless that leaves the sync indicator less room than its shortest
        words need (it says less before it is cut; the operator's name alone comes before a cut)."""
        row = self.top_bar.layout()
        operator, sync = self.operator_label, self.sync_indicator
        if row is None or not self.top_bar.isVisible():
            return
        whole = operator.width_of(operator.forms[0])
        wanted = row.sizeHint().width() - operator.sizeHint().width() + whole
        sync_room = sync.sizeHint().width() - max(0, wanted - self.top_bar.width())
        operator.use_short(sync_room < sync.width_of(sync.forms[-1]))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self._adaptive and self.wants_compact() != self.sizes.compact:
            self._relayout.start()  # once the resizes settle (a window manager sends several)

    def _choose_layout(self) -> None:
        """The compact or the standard layout for the window's size now: the style sheet's sizes and the
        lanes are made again in it (each lane keeps its car, its pending commands and its open panel)."""
        compact = self.wants_compact()
        if compact == self.sizes.compact:
            return
        app = QCoreApplication.instance()
        display = self.settings.display
        self.sizes = Sizes.for_screen(display.font_scale, compact=compact)
        if isinstance(app, QApplication):
            restyle(app, self.sizes, theme=display.theme)
        layout = "compact" if compact else "standard"
        log.info("window %dx%d: the %s layout", self.width(), self.height(), layout)
        self.lane_row.remake(self.sizes)
        self.sync_panel.raise_()
        self._tick_clock()

    # ----------------------------------------------------------------------------------- language
    def toggle_language(self) -> None:
        """Chinese <-> English; a translation that cannot be loaded is said in the alert bar."""
        target = "en" if current_language() == SOURCE_LANGUAGE else SOURCE_LANGUAGE
        app = QCoreApplication.instance()
        if app is None:
            return
        try:
            switch_language(app, target)
        except TranslationError as exc:
            log.error("%s", exc)
            self.notice(self.tr("无法切换语言：%1").replace("%1", str(exc)))

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.LanguageChange:
            self.retranslate()

    def retranslate(self) -> None:
        """Re-word everything on screen in the current language (Qt sends LanguageChange on a switch)."""
        self.setWindowTitle(self.tr("收费亭 — %1").replace("%1", self.settings.park.name))
        self.operator_label.show_words(*self._operator_words())
        self.language_button.setText(self.tr("English"))
        self._render_cloud_status(self._bolink_reason)
        if self.sync_status is not None:
            self._on_sync_changed(self.sync_status)
        else:
            self.sync_indicator.show_status(None)
        for panel in self.panels.values():
            panel.retranslate()
        if self.alert_bar.isVisibleTo(self) and not self.alert_bar.redraw_notice() and self.alerts:
            self._show_alert(self.alerts[-1])  # (a notice on the bar stays: said again)
        retranslate_tree(self)  # last: whole-string words, including those the redraws above put back

    # ----------------------------------------------------------------------------------- operator
    def set_operator(self, person: PersonRecord | None) -> None:
        """``person`` signed in (None: signed out): every lane and the sync panel act in their name, and the
        lanes' actions are off while nobody is signed in."""
        self.person = person
        self.operator = person.username if person is not None else ""
        self.operator_label.show_words(*self._operator_words())
        for panel in self.panels.values():
            panel.operator = self.operator
            panel.action_bar.setEnabled(person is not None)
        self.sync_panel.operator = self.operator
        self.operatorChanged.emit(person)

    def work_unsigned(self, name: str) -> None:
        """No people in the database (a booth set up before issue #5): the lanes act under ``name`` (the login
        name), as they always did, until a supervisor is added."""
        self.set_operator(None)
        self.operator = name
        for panel in self.panels.values():
            panel.operator = name
            panel.action_bar.setEnabled(True)
        self.sync_panel.operator = name
        self.operator_label.show_words(self.tr("收费员：%1").replace("%1", name), name)

    def notice(self, text: str | Callable[[], str]) -> None:
        """``text`` in the alert bar (a word for the attendant, not an engine alert; words made when drawn are
        said again after a language switch)."""
        self.alert_bar.notice(text)

    def _operator_words(self) -> tuple[str, str]:
        """The top bar's words for who works the booth, and their short form (the name alone)."""
        person = self.person
        if person is not None:
            words = self.tr("主管：%1（%2）") if person.role == "supervisor" else self.tr("收费员：%1（%2）")
            name = person.display_name
            return words.replace("%1", name).replace("%2", person.username), name
        if self.operator:
            return self.tr("收费员：%1").replace("%1", self.operator), self.operator
        nobody = self.tr("未签到")
        return nobody, nobody

    # ----------------------------------------------------------------------------------- sync panel
    def open_sync_panel(self) -> None:
        if self.sync_status is not None:
            self.sync_panel.refresh_ages(datetime.now(UTC))
        self.sync_panel.show()
        self.sync_panel.raise_()

    def close_sync_panel(self) -> None:
        self.sync_panel.hide()

    def toggle_sync_panel(self) -> None:
        if self.sync_panel.isVisible():
            self.close_sync_panel()
        else:
            self.open_sync_panel()

    @Slot(object)
    def _on_sync_changed(self, status: SyncStatus) -> None:
        self.sync_status = status
        self.sync_indicator.show_status(status)
        self.sync_panel.show_status(status)

    # ----------------------------------------------------------------------------------- engine events
    @Slot(object)
    def _on_lane_changed(self, view: LaneView) -> None:
        panel = self.panels.get(view.lane_id)
        if panel is None:
            return
        panel.show_view(view)
        if view.bolink_online and not self._bolink_reported and not self.bolink_online:
            self._set_bolink(True, "")  # connected before this window subscribed
        self._check_ready()

    def _check_ready(self) -> None:
        every_lane_shown = all(p.first_view_shown for p in self.panels.values())
        if self.ready_at is None and self.engine_running and every_lane_shown:
            self.ready_at = time.monotonic()
            self.lanesReady.emit()

    @Slot(object)
    def _on_engine_started(self, started: EngineStarted) -> None:
        if started.error:
            words = self.tr("系统启动失败：%1。请检查配置后重新启动。")
            self.banner_text.setText(words.replace("%1", started.error))
            self.banner.show()
            return
        self.engine_running = True
        for view in self.engine.snapshot():
            if view.lane_id in self.panels:
                self.panels[view.lane_id].show_view(view)
        self._check_ready()

    @Slot(bool, str)
    def _on_bolink_changed(self, online: bool, reason: str) -> None:
        """The engine's word on Bolink (it reports changes only)."""
        self._bolink_reported = True
        self._set_bolink(online, reason)

    @Slot()
    def _on_bolink_silent(self) -> None:
        """No first answer from Bolink within the bound: it is offline for the driver and the attendant (cash
        only) until it answers; the engine keeps trying and the window follows when it reports."""
        if self.bolink_online is None:
            seconds = BOLINK_FIRST_ANSWER_MS // 1000
            log.warning("Bolink has not answered %d s after the start: shown offline", seconds)
            self._set_bolink(False, "")

    def _set_bolink(self, online: bool, reason: str) -> None:
        self._bolink_wait.stop()
        self.bolink_online = online
        self._bolink_reason = reason
        for panel in self.panels.values():
            panel.set_bolink_known(True)
        self._render_cloud_status(reason)

    def _render_cloud_status(self, reason: str) -> None:
        """The top bar's Bolink word and, offline, the banner. ``reason`` (an exception's text) is for the
        log, where the engine writes it: the screen says what to do."""
        online = self.bolink_online
        self.cloud_status.setText(bolink_words(online))
        _set_tone(self.cloud_status, bolink_tone(online))
        if online is False:
            self.banner_text.setText(self.tr("泊链云端离线：扫码支付暂停，请收现金；恢复后自动重新发起扫码支付。"))
            self.banner.show()
        elif self.engine_running:
            self.banner.hide()

    @Slot(object)
    def _on_alert(self, alert: AlertRaised) -> None:
        self.alerts.append(alert)
        del self.alerts[:-MAX_ALERTS]
        self._show_alert(alert)

    def _show_alert(self, alert: AlertRaised) -> None:
        lane = self.panels[alert.lane_id].view.name if alert.lane_id in self.panels else ""
        self.alert_bar.show_alert(alert, lane, self.zone)

    @Slot(object)
    def _on_command_done(self, outcome: CommandOutcome) -> None:
        panel = self.panels.get(outcome.lane_id)
        if panel is not None:
            panel.on_command_done(outcome)
        else:
            self.sync_panel.on_command_done(outcome)

    @Slot()
    def _tick_clock(self) -> None:
        now = datetime.now(UTC)
        shown = "%H:%M:%S" if self.sizes.compact else "%Y-%m-%d %H:%M:%S"
        self.clock_label.setText(now.astimezone(self.zone).strftime(shown))
        if self.sync_panel.isVisible():
            self.sync_panel.refresh_ages(now)

    def show_for_booth(self, kiosk: bool) -> None:
        """Full screen in kiosk mode (no window frame to close by accident), else maximised; either way the
        window takes the screen's area itself (no window manager in the X kiosk session acts on those
        states) and never grows with its content (ui/kit/screen_fit.py)."""
        self._adaptive = True
        fit_to_screen(self, full_screen=kiosk)
        self._choose_layout()
        if kiosk:
            self.setWindowFlag(Qt.WindowType.FramelessWindowHint, True)
            if self._screen_follower is None:
                self._screen_follower = ScreenFollower(self, full_screen=True)
            self.showFullScreen()
        else:
            self.showMaximized()
