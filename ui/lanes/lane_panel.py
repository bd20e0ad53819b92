"""One lane on screen: what an attendant reads from 2 m (plate, state in words and colour, amount, gate) and
the actions, each one or two taps.

The panel draws a ``LaneView`` (a plain frozen value from the engine) and sends commands through the bridge.
It never waits: a command's outcome comes back later through ``on_command_done``, and meanwhile this lane
and the others keep updating. The action panels open inside the lane, in place of its details.

Here: the header, the state bar, the action buttons and panels, and the commands they send; the details
(plate, QR, amount, tariff lines, times, photos) are ``LaneDetails`` in ui/lanes/lane_details.py.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import replace
from datetime import tzinfo
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QPushButton,
    QSizePolicy,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from booth.config import ExceptionSettings, LaneSettings
from booth.domain.lane import LaneState, LaneView
from booth.engine import ApprovalError
from booth.office.staff import PersonRecord
from ui.kit.i18n import reword
from ui.kit.refusals import refusal_words
from ui.kit.style import Sizes
from ui.kit.wording import (
    bolink_tone,
    bolink_words,
    gate_tone,
    gate_words,
    lane_message_words,
    state_tone,
    state_words,
    yuan,
)
from ui.lanes.actions import ActionPanel, CashPanel, ConfirmPanel
from ui.lanes.lane_details import PAYABLE, LaneDetails, named_label, set_tone
from ui.lanes.plate_panel import PlatePanel
from ui.lanes.reason_panel import ReasonPanel
from ui.link.bridge import CommandOutcome, EngineBridge
from ui.link.office_runner import active_people

UNSETTLED = PAYABLE | {LaneState.QUOTING, LaneState.NO_STAY}

# what the lane said once money was taken: the amount is then what was paid, no longer what is due
PAID_SAID = frozenset({"lane.paid_booking", "lane.paid_opening", "lane.cash_taken"})
# the text between a state's words and the rest of its message ("支付失败：请重新…"), dropped beside them
_JOINERS = "：:，,。. "

ACTIONS = ("cash", "correct_plate", "free_release", "manual_lift", "retry_payment", "cancel")
EXIT_ONLY = frozenset({"cash", "correct_plate", "free_release", "retry_payment"})


#: words drawn in the current language when called (a phrase's key and arguments, kept to draw it again)
Phrase = Callable[[], str]


def _no_words() -> str:
    return ""


def _kept_text(text: str, widget: QWidget) -> Phrase:
    """A text that came as it is (e.g. a command's failure in the engine's words): drawn again as it was,
    or in the current language when it is a whole string the catalogue knows."""
    if not text:
        return _no_words
    return lambda: reword(text, widget) or text


def action_allowed(action: str, view: LaneView) -> bool:
    """Whether the action makes sense in the lane's state (the engine enforces the real rules)."""
    state = view.state
    if view.direction == "entry" and action in EXIT_ONLY:
        return False
    match action:
        case "cash" | "retry_payment":
            return state in PAYABLE and view.due_fen is not None
        case "correct_plate":
            return state in UNSETTLED and view.plate is not None
        case "free_release":
            return state in PAYABLE | {LaneState.NO_STAY}
        case "manual_lift":
            return state not in (LaneState.SETTLING, LaneState.OPENING)
        case "cancel":
            return state in UNSETTLED | {LaneState.GATE_FAULT, LaneState.REFUSED}
    return False


def beside_state(state: str, message: str) -> str:
    """The message to show beside the state's words, without repeating them: "等待车辆" beside "等待车辆" is
    nothing, "支付失败：请重新发起支付" beside "支付失败" is "请重新发起支付"."""
    if message == state:
        return ""
    if state and message.startswith(state):
        rest = message[len(state):].lstrip(_JOINERS)
        if rest:
            return rest[:1].upper() + rest[1:]  # English: "… : check the plate" starts a sentence now
    return message


class LanePanel(QFrame):
    """One lane: header (name, Bolink, gate), state bar, plate, photo, times, amount with its breakdown, the
    payment QR with the amount beside it, feedback, and the action buttons.

    No signals: commands go out through ``EngineBridge.submit``; the window hands back their outcomes with
    ``on_command_done`` and new views with ``show_view`` (all on the GUI thread).
    """

    def __init__(
        self,
        lane: LaneSettings,
        bridge: EngineBridge,
        *,
        operator: str,
        zone: tzinfo,
        sizes: Sizes,
        narrow: bool = False,
        home_province: str | None = None,
        exceptions: ExceptionSettings | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("lanePanel")
        # the reasons offered, which need a supervisor, whether free text is allowed ([exceptions])
        ex = exceptions if exceptions is not None else ExceptionSettings()
        #: ticket -> the exception command's future, kept to tell an ApprovalError's code on failure
        self._exception_futures: dict[int, list[Future[Any]]] = {}
        self.narrow = narrow  # three or four lanes side by side: everything stacks in one tall column
        # a small screen (Sizes.compact): the same two columns, condensed; the actions in two rows
        self.compact = sizes.compact and not narrow
        compact = self.compact
        self.lane_id = lane.id
        self.direction = lane.direction
        self.bridge = bridge
        self.operator = operator
        self.zone = zone
        self.sizes = sizes
        self.view = LaneView(lane.id, lane.name, lane.direction, LaneState.IDLE, self.tr("正在启动…"))
        self.bolink_known = False
        self._pending: dict[int, tuple[str, Phrase]] = {}  # ticket -> (action, its success words)
        # what the feedback line says, as words made in the current language when drawn: a language switch
        # draws them again (its text alone would stay in the language it was said in)
        self._feedback: Phrase = _no_words
        self._panel_plate: str | None = None
        self._paid_order: str | None = None  # the last order this lane saw paid (its amount reads "paid")
        self.first_view_shown = False
        # the booth is locked (ui/shell/booth_lock.py): the driver's side in view, the attendant's locked
        self.locked = False
        # the panel put away by the lock, to open again on unlock: (action, its car's plate, whether the
        # panel still holds what was typed: not when the lane was made again in another layout meanwhile)
        self._parked: tuple[str, str | None, bool] | None = None

        target = sizes.target
        # header
        self.name_label = named_label("laneName", f"{lane.name} · {lane.id}")
        self.bolink_badge = named_label("badge")
        self.gate_badge = named_label("badge")
        header = QGridLayout()
        header.setHorizontalSpacing(8)
        header.addWidget(self.name_label, 0, 0)
        header.addWidget(self.bolink_badge, 1 if narrow else 0, 0 if narrow else 1)
        header.addWidget(self.gate_badge, 1 if narrow else 0, 1 if narrow else 2)
        header.setColumnStretch(0 if not narrow else 2, 1)
        # state bar: words and colour together
        self.state_bar = QFrame()
        self.state_bar.setObjectName("stateBar")
        self.state_words = named_label("stateWords")
        self.state_message = named_label("stateMessage")
        self.state_message.setWordWrap(True)
        bar = QHBoxLayout(self.state_bar)
        bar.setContentsMargins(*((10, 2, 10, 2) if compact else (14, 6, 14, 6)))
        bar.addWidget(self.state_words)
        bar.addSpacing(16)
        bar.addWidget(self.state_message, 1)

        # details: plate over the QR (or the photo when nothing is due) | amount, breakdown, times, photo
        self.details = details = LaneDetails(lane.direction, zone, sizes, narrow=narrow, compact=compact)
        # the details' widgets, by the names the lane has always had
        self.plate_label, self.qr, self.media = details.plate_label, details.qr, details.media
        self.qr_caption, self.qr_amount = details.qr_caption, details.qr_amount
        self.qr_missing = details.qr_missing
        self.photo_large, self.photo_small = details.photo_large, details.photo_small
        self.amount_box, self.amount_caption = details.amount_box, details.amount_caption
        self.amount = details.amount
        self.breakdown, self.change = details.breakdown, details.change
        self.entry_value, self.exit_value = details.entry_value, details.exit_value
        self.duration_value = details.duration_value
        # action panels, shown in place of the details
        engine = bridge.engine

        def supervisors() -> Future[list[PersonRecord]]:  # offered as names when a reason needs approval
            return engine.office(active_people, engine, "supervisor")

        self.panels: dict[str, ActionPanel] = {
            "cash": CashPanel(target, narrow=narrow),
            "correct_plate": PlatePanel(
                target, narrow=narrow, home_province=home_province,
                plates_in_lot=lambda: bridge.engine.call(bridge.engine.plates_in_lot()),
            ),
            # the reasons are the lot's own words from the settings (the engine checks them as written)
            "free_release": ReasonPanel(
                "free_release", self.tr("免费放行"), self.tr("确认免费放行"), list(ex.free_release_reasons),
                target, columns=2 if narrow else 3, free_text=ex.free_text_allowed,
                approval_required=ex.approval_required, typed_need_approval=ex.typed_reasons_need_approval,
                supervisors=supervisors,
            ),
            "manual_lift": ReasonPanel(
                "manual_lift", self.tr("人工抬杆"), self.tr("确认抬杆"), list(ex.manual_lift_reasons),
                target, columns=2 if narrow else 3, free_text=ex.free_text_allowed,
                approval_required=ex.approval_required, typed_need_approval=ex.typed_reasons_need_approval,
                supervisors=supervisors,
            ),
            "cancel": ConfirmPanel(
                "cancel", self.tr("取消出场"),
                self.tr("取消这辆车的本次出场？车辆仍在道闸前，可重新识别或更正车牌。"),
                self.tr("确认取消"), target,
            ),
        }
        self.stack = QStackedWidget()
        # compact: the action buttons sit on the details page, so an open panel (the keypad) also gets
        # their room; otherwise they stay under the stack, as before
        details_page: QWidget = details
        if compact:
            details_page = QWidget()
            page = QVBoxLayout(details_page)
            page.setContentsMargins(0, 0, 0, 0)
            page.setSpacing(5)
            page.addWidget(details, 1)
        self.stack.addWidget(details_page)
        for panel in self.panels.values():
            self.stack.addWidget(panel)
            panel.confirmed.connect(self._on_panel_confirmed)
            panel.dismissed.connect(self.close_panel)

        self.feedback = named_label("feedback")
        self.feedback.setWordWrap(True)
        # always there, empty when there is nothing to say: a line appearing would move the buttons
        self.feedback.setMinimumHeight(self.feedback.fontMetrics().lineSpacing())
        self.action_buttons: dict[str, QPushButton] = {}
        self.action_bar = QWidget()
        actions = QGridLayout(self.action_bar)
        actions.setContentsMargins(0, 0, 0, 0)
        actions.setSpacing(8)
        names = {
            "cash": self.tr("收现金"),
            "correct_plate": self.tr("更正车牌"),
            "free_release": self.tr("免费放行"),
            "manual_lift": self.tr("人工抬杆"),
            "retry_payment": self.tr("重新支付"),
            "cancel": self.tr("取消出场"),
        }
        per_row = 3 if narrow or compact else len(ACTIONS)
        for i, action in enumerate(ACTIONS):
            button = QPushButton(names[action])
            button.setObjectName("action")
            button.setMinimumSize(target, target)
            button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            button.clicked.connect(self._on_action_clicked)
            button.setProperty("action", action)
            if self.direction == "entry" and action in EXIT_ONLY:
                button.hide()
            self.action_buttons[action] = button
            actions.addWidget(button, i // per_row, i % per_row)
        # in the action bar's place while the booth is locked (the same height: nothing moves)
        self.lock_note = named_label("lockNote", self.tr("已锁屏：收费员操作暂停"))
        self.lock_note.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.lock_note.hide()

        outer = QVBoxLayout(self)
        outer.setContentsMargins(*((10, 6, 10, 6) if compact else (12, 10, 12, 10)))
        outer.setSpacing(5 if compact else 8)
        outer.addLayout(header)
        outer.addWidget(self.state_bar)
        outer.addWidget(self.stack, 1)
        outer.addWidget(self.feedback)
        if compact:
            page.addWidget(self.action_bar)
            page.addWidget(self.lock_note)
        else:
            outer.addWidget(self.action_bar)
            outer.addWidget(self.lock_note)
        self._render()

    def take_over(self, old: LanePanel) -> None:
        """Carry on where ``old`` (the same lane in the other layout) was: its car, who acts, the commands on
        their way, its feedback, and its open panel (opened again for the same car; typed input is not
        carried over)."""
        self.operator = old.operator
        self.bolink_known = old.bolink_known
        self._pending, self._exception_futures = old._pending, old._exception_futures
        self._paid_order = old._paid_order
        self.action_bar.setEnabled(old.action_bar.isEnabled())
        if old.first_view_shown:
            self.show_view(old.view)
        self.set_feedback(old._feedback, str(old.feedback.property("tone") or "idle"))
        panel = old.open_action()
        if panel is not None:
            self.open_panel(panel.action).set_busy(panel.busy)
        if old.locked:
            self.set_locked(True)
        if old._parked is not None:
            action, plate, _kept = old._parked
            self._parked = (action, plate, False)
            self.panels[action].set_busy(old.panels[action].busy)

    # ------------------------------------------------------------------------------------ showing
    def show_view(self, view: LaneView) -> None:
        """Draw the lane's latest view (GUI thread)."""
        if view.lane_id != self.lane_id:
            raise ValueError(f"view of lane {view.lane_id!r} given to lane {self.lane_id!r}")
        previous = self.view
        self.view = view
        self.first_view_shown = True
        if view.said is not None and view.said.code in PAID_SAID and view.order_id:
            self._paid_order = view.order_id  # "goodbye" at the open gate no longer says how it was settled
        if view.plate != previous.plate and view.plate is not None and not self._pending:
            self.set_feedback("", "idle")  # a new car: the last car's messages no longer apply
        self._follow_open_panel(view)
        self._render()

    def retranslate(self) -> None:
        """The language changed: redraw what mixes words and data (the window re-words the rest)."""
        self.details.retranslate()
        self._render()
        self.feedback.setText(self._feedback())
        for each in self.panels.values():  # a refusal under a field, also in a panel the lock put away
            each.redraw_error()
        panel = self.open_action()
        if panel is not None:
            panel.update_view(self.view)
            panel.set_busy(panel.busy)

    def set_bolink_known(self, known: bool) -> None:
        if known != self.bolink_known:
            self.bolink_known = known
            self._render()

    def _render_bolink(self) -> None:
        online = self.view.bolink_online if self.bolink_known else None
        self.bolink_badge.setText(bolink_words(online))
        set_tone(self.bolink_badge, bolink_tone(online))

    def _render(self) -> None:
        v = self.view
        self._render_bolink()
        self.gate_badge.setText(gate_words(v.gate))
        set_tone(self.gate_badge, gate_tone(v.gate))
        self._render_message(v)
        set_tone(self.state_bar, state_tone(v.state))

        self.details.show_view(v, paid=self._paid(v), cash_only=self.cash_only(v))
        for action, button in self.action_buttons.items():
            allowed = action_allowed(action, v) and not self.locked
            # its own flag (not isEnabled(), which a disabled parent also turns off); changes only
            if button.testAttribute(Qt.WidgetAttribute.WA_ForceDisabled) == allowed:
                button.setEnabled(allowed)

    def _render_message(self, v: LaneView) -> None:
        """The state's words and, beside them, what the lane says (never the same words twice). While the
        cash panel is open the driver is paying cash: the bar says so instead of "scan to pay"."""
        words = state_words(v.state)
        self.state_words.setText(words)
        panel = self.open_action()
        if isinstance(panel, CashPanel) and v.state in PAYABLE and v.due_fen is not None:
            message = self.tr("现金付款 %1").replace("%1", yuan(v.due_fen))
        else:
            message = lane_message_words(v)
        self.state_message.setText(beside_state(words, message))

    def _paid(self, v: LaneView) -> bool:
        """Whether the amount shown was paid (then it reads "已付", no longer "应收金额")."""
        if not v.plate or v.state in UNSETTLED:
            return False
        if v.said is not None and v.said.code in PAID_SAID:
            return True
        return v.order_id is not None and v.order_id == self._paid_order

    def cash_only(self, v: LaneView) -> bool:
        """No QR can be had now (Bolink is offline, or the lane's request for one failed): cash only."""
        if v.code_url:
            return False
        offline = self.bolink_known and not v.bolink_online
        return offline or (v.said is not None and v.said.code == "lane.bolink_unavailable")

    def set_feedback(self, words: str | Phrase, tone: str) -> None:
        """Say ``words`` on the feedback line: a phrase (drawn again in the new language after a switch), or
        a text as it came (re-worded after a switch when it is a whole known string)."""
        self._feedback = words if callable(words) else _kept_text(words, self.feedback)
        self.feedback.setText(self._feedback())
        set_tone(self.feedback, tone)

    def _closed_words(self, panel: ActionPanel, state: LaneState | None = None) -> Phrase:
        """Words that ``panel`` was closed: the car changed (``state`` None), or the lane's state did."""
        title = panel.title.text()

        def words() -> str:
            shown = reword(title, panel.title) or title  # the title in the current language
            if state is None:
                return self.tr("车辆已变化，「%1」已关闭").replace("%1", shown)
            said = self.tr("车道状态已变为「%1」，「%2」已关闭")
            return said.replace("%1", state_words(state)).replace("%2", shown)

        return words

    # ------------------------------------------------------------------------------------ actions
    def open_panel(self, action: str) -> ActionPanel:
        panel = self.panels[action]
        self._panel_plate = self.view.plate
        panel.prepare(self.view)
        self.stack.setCurrentWidget(panel)
        self.action_bar.hide()
        self._render_message(self.view)
        return panel

    def close_panel(self) -> None:
        self.stack.setCurrentIndex(0)
        self._panel_plate = None
        self.action_bar.setVisible(not self.locked)
        self._render_message(self.view)

    # ------------------------------------------------------------------------------------ the lock
    def set_locked(self, locked: bool) -> None:
        """Locked: the driver's side (plate, amount, QR, message) in view and updating, every action of the
        attendant's off (buttons disabled, an open panel put away with what was typed in it). Unlocked: the
        actions back, and the panel put away opened again as it was if its car is still there and it still
        applies (else the feedback line says it was closed)."""
        if locked == self.locked:
            return
        self.locked = locked
        if locked:
            panel = self.open_action()
            if panel is not None:
                self._parked = (panel.action, self._panel_plate, True)
                self._panel_plate = None
                self.stack.setCurrentIndex(0)
            self.lock_note.setMinimumHeight(self.action_bar.sizeHint().height())
            self.action_bar.hide()
            self.lock_note.show()
        else:
            self.lock_note.hide()
            self.action_bar.show()
        for panel in self.panels.values():
            panel.setEnabled(not locked)
        self._render()
        if not locked:
            self._reopen_parked()

    def _reopen_parked(self) -> None:
        parked, self._parked = self._parked, None
        if parked is None:
            return
        action, plate, kept = parked
        panel = self.panels[action]
        if self.view.plate != plate:
            panel.set_busy(False)
            self.set_feedback(self._closed_words(panel), "idle")
        elif not action_allowed(action, self.view) and not panel.busy:
            self.set_feedback(self._closed_words(panel, self.view.state), "idle")
        elif kept:  # as it was left: what was typed, an error shown, a command on its way
            self._panel_plate = plate
            self.stack.setCurrentWidget(panel)
            self.action_bar.hide()
            panel.update_view(self.view)
            self._render_message(self.view)
        else:
            self.open_panel(action).set_busy(panel.busy)

    def open_action(self) -> ActionPanel | None:
        widget = self.stack.currentWidget()
        return widget if isinstance(widget, ActionPanel) else None

    def _follow_open_panel(self, view: LaneView) -> None:
        """An open panel belongs to the car it was opened for and to a state where it applies."""
        panel = self.open_action()
        if panel is None or panel.busy:
            return
        if view.plate != self._panel_plate:
            self.close_panel()
            self.set_feedback(self._closed_words(panel), "idle")
        elif not action_allowed(panel.action, view):
            self.close_panel()
            self.set_feedback(self._closed_words(panel, view.state), "idle")
        else:
            panel.update_view(view)

    def _on_action_clicked(self) -> None:
        button = self.sender()
        action = button.property("action") if isinstance(button, QPushButton) else None
        if not isinstance(action, str):
            return
        self.trigger(action)

    def trigger(self, action: str) -> None:
        """What a tap on an action button does: open its panel, or (retry payment) send it at once."""
        if action == "retry_payment":
            engine, lane_id, operator = self.bridge.engine, self.lane_id, self.operator
            retried = lambda: self.tr("已重新发起支付")  # noqa: E731
            self._submit(action, lambda: engine.retry_payment(lane_id, operator), retried)
            return
        self.open_panel(action)

    def _on_panel_confirmed(self) -> None:
        panel = self.open_action()
        if panel is None or panel.busy:
            return
        engine, lane_id, operator = self.bridge.engine, self.lane_id, self.operator
        command: Callable[[], Future[Any]]
        done: Phrase
        if isinstance(panel, CashPanel):
            fen = panel.validated()
            if fen is None:
                return
            command = lambda: engine.cash(lane_id, fen, operator)  # noqa: E731
            done = lambda: self.tr("已收现金 %1").replace("%1", yuan(fen))  # noqa: E731
        elif isinstance(panel, PlatePanel):
            plate = panel.validated()
            if plate is None:
                return
            command = lambda: engine.correct_plate(lane_id, plate, operator)  # noqa: E731
            done = lambda: self.tr("车牌已更正为 %1").replace("%1", plate)  # noqa: E731
        elif isinstance(panel, ReasonPanel):
            reason = panel.validated()
            if reason is None:
                return
            note, approver = panel.note(), panel.take_approver()
            send = engine.free_release if panel.action == "free_release" else engine.manual_lift
            sent: list[Future[Any]] = []

            def command() -> Future[Any]:
                future = send(lane_id, reason, operator, note=note, approver=approver)
                sent.append(future)
                return future

            if panel.action == "free_release":
                done = lambda: self.tr("已免费放行：%1").replace("%1", reason)  # noqa: E731
            else:
                done = lambda: self.tr("已人工抬杆：%1").replace("%1", reason)  # noqa: E731
            panel.set_busy(True)
            ticket = self.bridge.submit(self.lane_id, panel.action, command)
            self._pending[ticket] = (panel.action, done)
            self._exception_futures[ticket] = sent
            return
        else:
            command = lambda: engine.cancel(lane_id, operator)  # noqa: E731
            done = lambda: self.tr("已取消本次出场")  # noqa: E731
        panel.set_busy(True)
        self._submit(panel.action, command, done)

    def _submit(self, action: str, command: Callable[[], Future[Any]], done_text: Phrase) -> None:
        ticket = self.bridge.submit(self.lane_id, action, command)
        self._pending[ticket] = (action, done_text)

    def approval_words(self, exc: ApprovalError) -> str:
        """A refused approval in words by its code (the engine's message mixes in the English reason)."""
        if exc.code == "approval_required":
            return self.tr("该原因需要主管输入用户名和 PIN 批准")
        return self.tr("主管批准未通过：%1").replace("%1", refusal_words(exc.auth or exc))

    def on_command_done(self, outcome: CommandOutcome) -> None:
        """An outcome from the bridge (GUI thread); outcomes of other lanes are ignored."""
        pending = self._pending.pop(outcome.ticket, None)
        if pending is None:
            return
        action, done_text = pending
        sent = self._exception_futures.pop(outcome.ticket, [])
        if not outcome.ok and sent and sent[0].done() and not sent[0].cancelled():
            refused = sent[0].exception(timeout=0)
            if isinstance(refused, ApprovalError):
                approval = refused
                outcome = replace(outcome, error=self.approval_words(approval),
                                  words=lambda: self.approval_words(approval))
        # the failure as words said again after a language switch (a hand-built outcome: its text)
        failure: str | Phrase = outcome.words or outcome.error
        panel = self.open_action()
        if panel is not None and panel.action == action and panel.busy:
            panel.set_busy(False)
            if outcome.ok:
                self.close_panel()
            else:
                panel.show_error(failure)
                return
        elif self._parked is not None and self._parked[0] == action and self.panels[action].busy:
            parked = self.panels[action]  # put away by the lock while its command was on its way
            parked.set_busy(False)
            if outcome.ok:
                self._parked = None
            else:
                parked.show_error(failure)  # seen when it opens again on unlock
                return
        if outcome.ok:
            self.set_feedback(done_text, "ok")
        else:
            self.set_feedback(failure, "bad")
