"""The background sync on screen: a compact indicator in the top bar and, one tap away, a panel with each
cloud's backlog, breaker, hold, last error and dead letters, and the supervisor's "retry" per cloud.

Both draw a ``SyncStatus`` (plain frozen values from the engine) handed to them by the window, which gets
it from the bridge's ``syncChanged``; nothing here asks the engine for it. The panel opens inside the
window over the right of the lanes — no dialog, nothing modal: the lanes keep updating and stay usable.
A requeue goes through ``EngineBridge.submit`` like any lane command and its outcome comes back later.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta, tzinfo

from PySide6.QtCore import QCoreApplication, QEvent, QSize, Qt, QTimer
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QScroller,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from booth.engine import CloudStatus, Engine, SyncStatus
from booth.office.staff import AuthError
from ui.kit.i18n import reword
from ui.kit.person_picker import PersonPicker
from ui.kit.pin_pad import PinPad
from ui.kit.refusals import refusal_words
from ui.kit.style import Sizes
from ui.kit.wording import (
    LOT_BEHIND_SHOWN,
    age_words,
    breaker_words,
    cloud_state,
    cloud_words,
    outbox_kind_words,
    shown_clouds,
    sync_summary,
)
from ui.link.bridge import CommandOutcome, EngineBridge
from ui.link.office_runner import OfficeRunner, active_people

#: the bridge routes outcomes by lane; requeues belong to no lane
NO_LANE = ""
#: "all clouds" in the panel's bookkeeping (``requeue_dead`` takes None for it)
ALL = "*"

#: words drawn in the current language when called (a retry's outcome, said again after a language switch)
Words = Callable[[], str]


def _set_tone(widget: QWidget, tone: str) -> None:
    if widget.property("tone") != tone:
        widget.setProperty("tone", tone)
        widget.style().unpolish(widget)
        widget.style().polish(widget)


def _label(name: str, text: str = "", *, wrap: bool = False) -> QLabel:
    label = QLabel(text)
    label.setObjectName(name)
    label.setTextFormat(Qt.TextFormat.PlainText)  # reasons come from clouds: never read as markup
    label.setWordWrap(wrap)
    return label


def sync_short_forms(status: SyncStatus) -> list[str]:
    """Shorter words for the top bar when the whole summary has no room (a small window, English), longest
    first: the backlog added up over the clouds ("同步异常：失败 1 · 待发 3"), then only the most pressing
    part ("同步异常：失败 1"), then, for a problem, the head alone ("同步异常"). Same head and tone as the
    whole summary; which cloud and what: a tap away, in the panel."""
    translate = QCoreApplication.translate
    clouds = shown_clouds(status)
    pending, dead = sum(c.pending for c in clouds), sum(c.dead for c in clouds)
    paused = any(c.held or c.breaker in ("open", "half_open") for c in clouds)
    lot = status.lot
    lot_behind = lot.behind if lot is not None and (not lot.online or lot.behind > LOT_BEHIND_SHOWN) else 0
    bits = []  # the most pressing first
    if dead:
        bits.append(translate("SyncWording", "失败 %1").replace("%1", str(dead)))
    if paused or (lot is not None and not lot.online):
        bits.append(translate("SyncWording", "暂停"))
    if pending or lot_behind:
        bits.append(translate("SyncWording", "待发 %1").replace("%1", str(pending + lot_behind)))
    if not bits:
        return []
    _words, tone = sync_summary(status)
    head = translate("SyncWording", "同步异常：" if tone in ("bad", "attention") else "同步：")
    forms = [head + " · ".join(bits), head + bits[0]]
    if tone in ("bad", "attention"):  # then the head alone ("同步异常", in its colour): sync needs a look
        forms.append(head.rstrip("：: "))
    return list(dict.fromkeys(forms))


class SyncIndicator(QPushButton):
    """The top bar's "同步：…" button: the backlog per cloud, and the warning state in words and colour.

    It asks for room for its whole text but gives way when the top bar has none (a small window, English):
    it then says less, in words that fit (``sync_short_forms``: the backlog added up, then only the most
    pressing part); the whole text is its accessible name and, per cloud, in the sync panel a tap away.
    Only a room smaller than the shortest words cuts them with "…", never mid-letter."""

    def __init__(self, sizes: Sizes, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("syncIndicator")
        self.setMinimumSize(sizes.target * 2, sizes.target)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self.setToolTip(self.tr("点按查看后台同步详情"))
        self.words = ""
        self.forms: list[str] = []  # the words it may show, longest first: the whole, then shorter ones
        self.show_status(None)

    def show_status(self, status: SyncStatus | None) -> None:
        if status is None:
            text, tone = self.tr("同步：—"), "idle"
        else:
            text, tone = sync_summary(status)
        _set_tone(self, tone)  # first: re-polishing resizes it at once, to the room of the words before
        self.words = text
        self.forms = [text] if status is None else [text, *sync_short_forms(status)]
        self.setAccessibleName(text)
        self.setText(text)  # whole, asking for its room; cut to the room it gets once laid out
        self.updateGeometry()
        if self.isVisible():
            QTimer.singleShot(0, self, self._fit_words)

    def _padding(self) -> int:
        """The button's width besides its text (the style's padding and border)."""
        return max(0, super().sizeHint().width() - self.fontMetrics().horizontalAdvance(self.text()))

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        return QSize(self.width_of(self.words), hint.height())

    def width_of(self, text: str) -> int:
        """The width it needs to show ``text`` whole (never less than its minimum)."""
        return max(self.minimumWidth(), self._padding() + self.fontMetrics().horizontalAdvance(text))

    def fitted(self) -> bool:
        """Whether the whole text is shown (not shortened, not cut with "…")."""
        return self.text() == self.words

    def cut(self) -> bool:
        """Whether its words are cut with "…" (not even the shortest form had room)."""
        return self.text() not in self.forms

    def minimumSizeHint(self) -> QSize:
        return QSize(self.minimumWidth(), super().minimumSizeHint().height())

    def _fit_words(self) -> None:
        room = self.contentsRect().width() - self._padding() if self.isVisible() else 1 << 20
        metrics = self.fontMetrics()
        shown = next((form for form in self.forms if metrics.horizontalAdvance(form) <= room), None)
        if shown is None:
            shown = metrics.elidedText(self.forms[-1], Qt.TextElideMode.ElideRight, max(room, 0))
        if shown != self.text():
            self.setText(shown)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit_words()


class CloudBox(QFrame):
    """One cloud in the sync panel: its state, the numbers, the dead letters, and its retry button."""

    def __init__(self, cloud: str, zone: tzinfo, sizes: Sizes, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("syncCloud")
        self.cloud = cloud
        self.zone = zone
        self.status: CloudStatus | None = None
        self._oldest_at: datetime | None = None
        self._reopens_at: datetime | None = None  # when an open breaker lets a probe through
        self._busy = False

        self.name_label = _label("syncCloudName", cloud_words(cloud))
        self.state_badge = _label("badge")
        self.retry_button = QPushButton(self.tr("重试失败项"))
        self.retry_button.setObjectName("syncRetry")
        self.retry_button.setMinimumSize(sizes.target * 3, sizes.target)
        self.retry_button.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.result = _label("syncResult", wrap=True)
        self.result.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        header = QHBoxLayout()
        header.addWidget(self.name_label)
        header.addWidget(self.state_badge)
        header.addWidget(self.result, 1)  # the outcome of a retry, right next to its button
        header.addWidget(self.retry_button)

        self.pending_value = _label("fieldValue")
        self.oldest_value = _label("fieldValue")
        self.breaker_value = _label("fieldValue", wrap=True)
        self.held_value = _label("fieldValue", wrap=True)
        self.error_value = _label("syncError", wrap=True)
        self.sent_value = _label("fieldValue")
        grid = QGridLayout()
        grid.setHorizontalSpacing(12)
        grid.setVerticalSpacing(2)
        rows = (
            (self.tr("待发送"), self.pending_value),
            (self.tr("最早一条已等"), self.oldest_value),
            (self.tr("熔断器"), self.breaker_value),
            (self.tr("暂停原因"), self.held_value),
            (self.tr("最近错误"), self.error_value),
            (self.tr("本次运行已发送"), self.sent_value),
        )
        #: value -> its caption: a row with nothing to say is hidden, so a healthy cloud takes little room
        self._captions: dict[QLabel, QLabel] = {}
        for row, (name, value) in enumerate(rows):
            caption = _label("fieldName", name)
            caption.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
            grid.addWidget(caption, row, 0)
            grid.addWidget(value, row, 1)
            self._captions[value] = caption
        grid.setColumnStretch(1, 1)

        self.dead_title = _label("syncDeadTitle")
        self.dead_list = _label("syncDeadLetters", wrap=True)
        self.dead_list.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)

        outer = QVBoxLayout(self)
        outer.setContentsMargins(12, 8, 12, 10)
        outer.setSpacing(6)
        outer.addLayout(header)
        outer.addLayout(grid)
        outer.addWidget(self.dead_title)
        outer.addWidget(self.dead_list)

    def show_status(self, c: CloudStatus, taken_at: datetime, now: datetime) -> None:
        self.status = c
        words, tone = cloud_state(c)
        self.state_badge.setText(words)
        _set_tone(self.state_badge, tone)
        self.pending_value.setText(self.tr("%1 条").replace("%1", str(c.pending)))
        self._oldest_at = c.oldest_pending_at
        self._reopens_at = taken_at + timedelta(seconds=c.reopens_in_s) if c.breaker == "open" else None
        self.breaker_value.setText(breaker_words(c.breaker, c.reopens_in_s))
        self.refresh_age(now)
        self.held_value.setText(c.held or "—")
        self.error_value.setText(c.last_error or "—")
        self.sent_value.setText(self.tr("%1 条").replace("%1", str(c.sent)))
        for value in (self.held_value, self.error_value):
            self._show_row(value, value.text() != "—")
        if c.dead:
            self.dead_title.setText(self.tr("失败项 %1 条（需排除原因后重试）").replace("%1", str(c.dead)))
        else:
            self.dead_title.setText(self.tr("失败项：无"))
        self.dead_title.setVisible(c.dead > 0)
        lines = []
        for letter in c.dead_letters:
            when = letter.created_at.astimezone(self.zone).strftime("%m-%d %H:%M:%S")
            head = self.tr("#%1 %2 · 已尝试%3次 · %4")
            head = (head.replace("%1", str(letter.id)).replace("%2", outbox_kind_words(letter.kind))
                    .replace("%3", str(letter.attempts)).replace("%4", when))
            lines.append(head)
            lines.append(self.tr("    原因：%1").replace("%1", letter.reason or self.tr("（未说明）")))
        if c.dead > len(c.dead_letters):
            lines.append(self.tr("……另有 %1 条未列出").replace("%1", str(c.dead - len(c.dead_letters))))
        self.dead_list.setText("\n".join(lines))
        self.dead_list.setVisible(bool(lines))
        self._refresh_button()

    def refresh_age(self, now: datetime) -> None:
        """The oldest row's age and an open breaker's countdown move every second; the engine re-sends the
        status only when its counts or states change."""
        oldest = self._oldest_at
        self.oldest_value.setText("—" if oldest is None else age_words((now - oldest).total_seconds()))
        self._show_row(self.oldest_value, oldest is not None)
        if self._reopens_at is not None:
            self.breaker_value.setText(breaker_words("open", (self._reopens_at - now).total_seconds()))

    def _show_row(self, value: QLabel, shown: bool) -> None:
        value.setVisible(shown)
        self._captions[value].setVisible(shown)

    def row_shown(self, value: QLabel) -> bool:
        """Whether a row is on screen when the box is (tests ask; isVisible needs the box shown)."""
        return not value.isHidden()

    def set_busy(self, busy: bool) -> None:
        """While a requeue is on its way the button is disabled (a second tap would send it twice)."""
        self._busy = busy
        self.retry_button.setText(self.tr("处理中…") if busy else self.tr("重试失败项"))
        self._refresh_button()

    @property
    def busy(self) -> bool:
        return self._busy

    def _refresh_button(self) -> None:
        dead = self.status.dead if self.status is not None else 0
        self.retry_button.setEnabled(dead > 0 and not self._busy)

    def set_result(self, text: str, tone: str) -> None:
        self.result.setText(text)
        _set_tone(self.result, tone)


class SyncPanel(QFrame):
    """The sync details, opened from the indicator inside the window. No signals: the window hands it each
    status with ``show_status`` and command outcomes with ``on_command_done`` (GUI thread)."""

    def __init__(
        self,
        bridge: EngineBridge,
        *,
        operator: str,
        zone: tzinfo,
        sizes: Sizes,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("syncPanel")
        self.bridge = bridge
        # Requeueing dead letters is a supervisor's action: each retry asks for a supervisor's username and
        # PIN (checked on the engine's office thread) and the requeue is audited under that supervisor.
        self.operator = operator
        self._asking: str | None = None  # the cloud (or ALL) whose retry waits for the supervisor's PIN
        self.zone = zone
        self.sizes = sizes
        self.status: SyncStatus | None = None
        self.boxes: dict[str, CloudBox] = {}
        self._pending: dict[int, tuple[str, list[Future[int]]]] = {}  # ticket -> (cloud or ALL, its future)
        self._all_busy = False
        # what each retry's result line says (cloud or ALL -> words, tone), drawn again after a switch
        self._results: dict[str, tuple[Words, str]] = {}

        target = sizes.target
        self.title = _label("actionTitle", self.tr("后台同步"))
        self.updated = _label("fieldName")
        self.close_button = QPushButton(self.tr("关闭"))
        self.close_button.setMinimumSize(target * 2, target)
        self.close_button.clicked.connect(self.hide)
        head = QHBoxLayout()
        head.addWidget(self.title)
        head.addSpacing(12)
        head.addWidget(self.updated, 1)
        head.addWidget(self.close_button)

        self.hint = _label(
            "actionHint",
            self.tr("失败项不会自动重发：请先排除原因（配置、数据或网络），再点「重试失败项」重新排队。"),
            wrap=True,
        )
        self.retry_all_button = QPushButton(self.tr("全部重试失败项"))
        self.retry_all_button.setObjectName("syncRetry")
        self.retry_all_button.setMinimumSize(target * 4, target)
        self.retry_all_button.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.retry_all_button.clicked.connect(lambda _checked=False: self.retry(None))
        self.retry_all_result = _label("syncResult", wrap=True)
        all_row = QHBoxLayout()
        all_row.addWidget(self.retry_all_button)
        all_row.addWidget(self.retry_all_result, 1)

        self.clouds = QWidget()
        self.clouds.setObjectName("syncClouds")
        self.clouds_layout = QVBoxLayout(self.clouds)
        self.clouds_layout.setContentsMargins(0, 0, 0, 0)
        self.clouds_layout.setSpacing(8)
        self.clouds_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setObjectName("syncScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self.clouds)
        # a finger drags the list (the scroll bar is too thin to hit); mouse clicks stay clicks
        QScroller.grabGesture(scroll.viewport(), QScroller.ScrollerGestureType.TouchGesture)
        self.scroll_area = scroll

        outer = QVBoxLayout(self)
        outer.setContentsMargins(14, 10, 14, 12)
        outer.setSpacing(8)
        outer.addLayout(head)
        outer.addWidget(self.hint)
        outer.addLayout(all_row)
        outer.addWidget(scroll, 1)
        # the supervisor's approval of a retry, asked for in the panel itself
        self.approval = QFrame()
        approval = QVBoxLayout(self.approval)
        approval.setContentsMargins(0, 0, 0, 0)
        self.approval_hint = _label(
            "actionHint",
            self.tr("重试失败项需要主管批准：请主管点选姓名（或输入用户名），再输入 PIN"),
            wrap=True,
        )
        self.office = OfficeRunner(bridge.engine, self)
        self.approver_picker = PersonPicker(target, columns=3, placeholder=self.tr("或输入主管用户名"))
        self.approver_field = self.approver_picker.field
        self.approver_pad = PinPad(target)
        self.approver_pad.submitted.connect(self._approved)
        self.approval_cancel = QPushButton(self.tr("取消"))
        self.approval_cancel.setMinimumSize(target * 2, target)
        self.approval_cancel.clicked.connect(lambda _checked=False: self._stop_asking())
        approval.addWidget(self.approval_hint)
        approval.addWidget(self.approver_picker)
        approval.addWidget(self.approver_pad)
        approval.addWidget(self.approval_cancel, 0, Qt.AlignmentFlag.AlignLeft)
        self.approval.hide()
        outer.addWidget(self.approval)
        self.setFixedWidth(target * 14)
        self._refresh_all_button()

    # ------------------------------------------------------------------------------------ showing
    def show_status(self, status: SyncStatus) -> None:
        """Draw the latest status (GUI thread): one box per cloud worth showing, in the engine's order."""
        self.status = status
        self.updated.setText(
            self.tr("更新于 %1").replace("%1", status.taken_at.astimezone(self.zone).strftime("%H:%M:%S"))
        )
        now = datetime.now(UTC)
        shown = {c.cloud for c in shown_clouds(status)}
        for c in status.clouds:
            box = self.boxes.get(c.cloud)
            if c.cloud not in shown:
                if box is not None:
                    box.hide()
                continue
            if box is None:
                box = self.boxes[c.cloud] = CloudBox(c.cloud, self.zone, self.sizes)
                box.retry_button.clicked.connect(lambda _checked=False, cloud=c.cloud: self.retry(cloud))
                self.clouds_layout.insertWidget(self.clouds_layout.count() - 1, box)
            box.show_status(c, status.taken_at, now)
            box.show()
        self._refresh_all_button()

    def refresh_ages(self, now: datetime) -> None:
        for box in self.boxes.values():
            box.refresh_age(now)

    def box(self, cloud: str) -> CloudBox:
        return self.boxes[cloud]

    # ------------------------------------------------------------------------------------ retrying
    def retry(self, cloud: str | None) -> None:
        """Requeue the dead letters of ``cloud`` (None: every cloud); the outcome shows next to the button."""
        key = ALL if cloud is None else cloud
        if self._is_busy(key):
            return
        self._asking = key
        self.approver_pad.clear()
        self.approval.show()
        self.office.run(active_people, self.bridge.engine, "supervisor", on_done=self._on_supervisors)
        self._show_result(key, self.tr("请主管输入 PIN"), "idle")

    def _on_supervisors(self, outcome: object) -> None:
        if isinstance(outcome, list):
            self.approver_picker.set_people(outcome)

    def _stop_asking(self) -> None:
        if self._asking is not None:
            self._show_result(self._asking, "", "idle")
        self._asking = None
        self.approver_pad.clear()
        self.approval.hide()

    def _approved(self, pin: str) -> None:
        """The supervisor's PIN for the retry asked for: checked, then the requeue, on the office thread."""
        key, supervisor = self._asking, self.approver_picker.username()
        self.approver_pad.clear()
        if key is None:
            return
        if not supervisor:
            self._show_result(key, self.tr("请先点选主管姓名或输入用户名"), "bad")
            return
        self._asking = None
        self.approval.hide()
        cloud = None if key == ALL else key
        engine = self.bridge.engine
        future: list[Future[int]] = []

        def requeue(engine: Engine) -> int:  # office thread: the PIN, then the requeue on the engine loop
            engine.staff.authenticate(supervisor, pin, role="supervisor")
            return engine.requeue_dead(cloud, supervisor).result(timeout=60)

        def command() -> Future[int]:
            requeued = engine.office(requeue, engine)
            future.append(requeued)
            return requeued

        self._set_busy(key, True)
        self._show_result(key, "", "idle")
        ticket = self.bridge.submit(NO_LANE, f"requeue_dead:{key}", command)
        self._pending[ticket] = (key, future)

    def on_command_done(self, outcome: CommandOutcome) -> None:
        """An outcome from the bridge (GUI thread); other commands' outcomes are ignored."""
        pending = self._pending.pop(outcome.ticket, None)
        if pending is None:
            return
        key, future = pending
        self._set_busy(key, False)
        if not outcome.ok:
            refused = future[0].exception(timeout=0) if future and future[0].done() else None
            if isinstance(refused, AuthError):
                pin_refused = refused
                self._show_result(key, lambda: refusal_words(pin_refused), "bad")
            else:
                self._show_result(key, outcome.words or outcome.error, "bad")
            return
        # the bridge posts the outcome from the future's done callback, so the future is done here;
        # timeout=0 makes sure the GUI thread could never wait on it anyway
        count = future[0].result(timeout=0) if future and future[0].done() else None
        if count is None:
            self._show_result(key, lambda: self.tr("已提交重试"), "ok")
        elif count == 0:
            self._show_result(key, lambda: self.tr("没有需要重试的失败项"), "idle")
        else:
            self._show_result(key, lambda: self.tr("已重新排队 %1 条").replace("%1", str(count)), "ok")

    def _is_busy(self, key: str) -> bool:
        return self._all_busy if key == ALL else key in self.boxes and self.boxes[key].busy

    def _set_busy(self, key: str, busy: bool) -> None:
        if key == ALL:
            self._all_busy = busy
            self.retry_all_button.setText(self.tr("处理中…") if busy else self.tr("全部重试失败项"))
            self._refresh_all_button()
        elif key in self.boxes:
            self.boxes[key].set_busy(busy)

    def _show_result(self, key: str, text: str | Words, tone: str) -> None:
        """The result line of ``key``'s retry: words made in the current language when drawn, or a text as
        it came (re-worded after a language switch when it is a whole known string)."""
        if callable(text):
            words = text
        else:
            label = self.retry_all_result if key == ALL or key not in self.boxes else self.boxes[key].result
            words = lambda: reword(text, label) or text  # noqa: E731
        self._results[key] = (words, tone)
        self._draw_result(key)

    def _draw_result(self, key: str) -> None:
        words, tone = self._results.get(key, (lambda: "", "idle"))
        if key == ALL:
            self.retry_all_result.setText(words())
            _set_tone(self.retry_all_result, tone)
        elif key in self.boxes:
            self.boxes[key].set_result(words(), tone)

    def changeEvent(self, event: QEvent) -> None:
        super().changeEvent(event)
        if event.type() == QEvent.Type.LanguageChange:  # the results said again in the new language
            for key in self._results:
                self._draw_result(key)

    def _refresh_all_button(self) -> None:
        dead = sum(c.dead for c in self.status.clouds) if self.status is not None else 0
        self.retry_all_button.setEnabled(dead > 0 and not self._all_busy)
