"""The in-lane action panels: cash, plate correction, a reason (free release, manual lift), a confirmation.

A panel replaces the lane's details inside the lane itself — no dialog, nothing modal; the other lanes and
this lane's live state stay on screen. A panel only collects and validates input: what it hands on is a
valid amount in fen, a plate the domain parser accepts, or a non-empty reason. Refusals are shown in words
right under the field (``error`` label), never as a pop-up.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from booth.domain.lane import LaneView
from booth.domain.money import MoneyError, format_yuan, parse_yuan
from booth.domain.plates import PlateError, parse_plate, suggest_plates
from booth.office.staff import PersonRecord
from ui.kit.keypads import MONEY_PARTIAL, PLATE_MAX_LEN, MoneyPad, PlateKeypad
from ui.kit.person_picker import PersonPicker
from ui.kit.pin_pad import PinPad
from ui.kit.wording import plate_error_words, yuan

log = logging.getLogger("ui.actions")

#: the longest reason stored with a free release or manual lift
REASON_MAX_LEN = 60
#: the longest note with one (booth.engine.NOTE_MAX)
NOTE_MAX_LEN = 200


class ActionPanel(QFrame):
    """Title, the panel's own content, an error line, and "back" / "confirm" buttons.

    Signals (GUI thread): ``confirmed()`` when confirm is tapped, ``dismissed()`` when back is tapped.
    """

    confirmed = Signal()
    dismissed = Signal()

    def __init__(self, action: str, target: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.action = action
        self.setObjectName("actionPanel")
        self.title = QLabel("")
        self.title.setObjectName("actionTitle")
        self.back_button = QPushButton(self.tr("返回"))
        self.back_button.setMinimumSize(target * 2, target)
        self.confirm_button = QPushButton("")
        self.confirm_button.setObjectName("confirm")
        self.confirm_button.setMinimumSize(target * 3, target)
        self.error = QLabel("")
        self.error.setObjectName("actionError")
        self.error.setWordWrap(True)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        self.body = QVBoxLayout()
        self.body.setSpacing(8)
        foot = QHBoxLayout()
        foot.setSpacing(8)
        foot.addWidget(self.error, 1)
        foot.addWidget(self.back_button)
        foot.addWidget(self.confirm_button)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(12, 8, 12, 10)
        outer.setSpacing(8)
        outer.addWidget(self.title)
        outer.addLayout(self.body, 1)
        outer.addLayout(foot)
        self.back_button.clicked.connect(self.dismissed)
        self.confirm_button.clicked.connect(self.confirmed)
        self._busy = False

    def prepare(self, view: LaneView) -> None:
        """Called when the panel opens for the car now at the lane."""
        self.show_error("")
        self.set_busy(False)
        self.update_view(view)

    def update_view(self, view: LaneView) -> None:
        """The lane changed while the panel is open (subclasses refresh what they show)."""

    def show_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))

    def set_busy(self, busy: bool) -> None:
        """While a command is on its way, confirm is disabled (a second tap would send it twice)."""
        self._busy = busy
        self.confirm_button.setEnabled(not busy and self.can_confirm())
        self.confirm_button.setText(self.tr("处理中…") if busy else self.confirm_text())

    @property
    def busy(self) -> bool:
        return self._busy

    def can_confirm(self) -> bool:
        return True

    def confirm_text(self) -> str:
        return self.tr("确认")

    def _refresh_confirm(self) -> None:
        self.confirm_button.setEnabled(not self._busy and self.can_confirm())


def _entry(max_len: int) -> QLineEdit:
    field = QLineEdit()
    field.setObjectName("entry")
    field.setMaxLength(max_len)
    return field


class CashPanel(ActionPanel):
    """Cash received: the amount is typed on the pad (or a banknote tapped); the change is shown live."""

    def __init__(self, target: int, *, narrow: bool = False, parent: QWidget | None = None) -> None:
        super().__init__("cash", target, parent)
        self.title.setText(self.tr("收现金"))
        self._due_fen: int | None = None
        self.due_label = QLabel("")
        self.due_label.setObjectName("amount")
        self.field = _entry(9)
        self.field.setPlaceholderText(self.tr("实收金额（元）"))
        self.field.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.change_label = QLabel("")
        self.change_label.setObjectName("change")
        self.pad = MoneyPad(self.field, target)
        self.change_label.setWordWrap(True)
        amounts = QVBoxLayout()
        amounts.setSpacing(8)
        amounts.addWidget(self.due_label)
        amounts.addWidget(self.field)
        amounts.addWidget(self.change_label)
        amounts.addStretch(1)
        row = QVBoxLayout() if narrow else QHBoxLayout()
        row.setSpacing(8 if narrow else 16)
        if narrow:
            amounts.takeAt(amounts.count() - 1)  # the pad below takes the room, not a gap
            row.addLayout(amounts)
            row.addWidget(self.pad, 1)
        else:
            row.addWidget(self.pad, 3)
            row.addLayout(amounts, 2)
        self.body.addLayout(row, 1)
        self.field.textEdited.connect(self._typed)
        self.pad.edited.connect(self._on_amount_changed)
        self.set_busy(False)

    def confirm_text(self) -> str:
        return self.tr("确认收款")

    def prepare(self, view: LaneView) -> None:
        self.field.setText("")
        super().prepare(view)
        self._on_amount_changed()

    def update_view(self, view: LaneView) -> None:
        self._due_fen = view.due_fen
        if view.due_fen is not None:
            self.due_label.setText(self.tr("应收 %1").replace("%1", yuan(view.due_fen)))
        else:
            self.due_label.setText(self.tr("没有待付款订单"))
        self.pad.set_exact(format_yuan(view.due_fen) if view.due_fen is not None else None)
        self._on_amount_changed()

    def _typed(self, text: str) -> None:
        """A hardware keyboard typed into the field: keep only what a money amount may look like."""
        if not MONEY_PARTIAL.match(text):
            self.field.setText("".join(ch for ch in text if ch.isdigit() or ch == ".")[:9])
            if not MONEY_PARTIAL.match(self.field.text()):
                self.field.setText("")
        self._on_amount_changed()

    def tendered_fen(self) -> int:
        """The amount typed, in fen. Raises MoneyError naming the problem."""
        return parse_yuan(self.field.text())

    def _on_amount_changed(self) -> None:
        text = self.field.text()
        change = ""
        if text and self._due_fen is not None:
            try:
                fen = parse_yuan(text)
            except MoneyError:
                pass
            else:
                if fen >= self._due_fen:
                    change = self.tr("找零 %1").replace("%1", yuan(fen - self._due_fen))
                else:
                    change = self.tr("还差 %1").replace("%1", yuan(self._due_fen - fen))
        self.change_label.setText(change)
        if self.error.text():
            self.show_error("")
        self._refresh_confirm()

    def can_confirm(self) -> bool:
        return self._due_fen is not None and bool(self.field.text())

    def validated(self) -> int | None:
        """The tendered amount if it can be taken (shows the reason otherwise)."""
        if self._due_fen is None:
            self.show_error(self.tr("没有待付款订单，不能收现金"))
            return None
        try:
            fen = self.tendered_fen()
        except MoneyError:
            self.show_error(self.tr("请输入金额（元），最多两位小数，例如 20 或 12.50"))
            return None
        if fen < self._due_fen:
            self.show_error(self.tr("实收不足：应收 %1，实收 %2").replace("%1", yuan(self._due_fen))
                            .replace("%2", yuan(fen)))
            return None
        return fen


class PlatePanel(ActionPanel):
    """Correct the plate: typed on the province keypad; refused with the parser's reason under the field.

    The field opens with the plate as read, to edit: the keys type at the cursor (a tap in the field moves
    it), ⌫ takes the character before it, "clear" starts from the province.

    Under the field, the plates now in the lot that the misread (or what is typed) may be — the OCR
    confusions 0/D/Q, 8/B, 2/Z, 5/S — as large buttons: one tap fills the field. ``plates_in_lot`` returns a
    future of the lot's plates (resolved on another thread); it is asked once each time the panel opens.
    """

    #: suggestion buttons shown at most
    SUGGESTIONS = 4
    _candidatesArrived = Signal(int, object)  # generation, list[str]; emitted from any thread

    def __init__(
        self, target: int, *, narrow: bool = False, home_province: str | None = None,
        plates_in_lot: Callable[[], Future[list[str]]] | None = None, parent: QWidget | None = None,
    ) -> None:
        super().__init__("correct_plate", target, parent)
        self.title.setText(self.tr("更正车牌"))
        self.current = QLabel("")
        self.current.setObjectName("actionHint")
        self.field = _entry(PLATE_MAX_LEN)
        self.field.setPlaceholderText(self.tr("输入正确车牌，例如 苏A12345"))
        self.keypad = PlateKeypad(
            self.field, target, columns=8 if narrow else 10, home_province=home_province
        )
        row = QVBoxLayout() if narrow else QHBoxLayout()
        row.addWidget(self.current)
        row.addWidget(self.field, 1)
        self.body.addLayout(row)
        self._plates_in_lot = plates_in_lot
        self._candidates: list[str] = []
        self._generation = 0
        self._misread: str | None = None
        self.suggestion_bar = QWidget()
        suggestions = QHBoxLayout(self.suggestion_bar)
        suggestions.setContentsMargins(0, 0, 0, 0)
        suggestions.setSpacing(8)
        self.suggestion_caption = QLabel(self.tr("在场车辆中可能是："))
        self.suggestion_caption.setObjectName("actionHint")
        suggestions.addWidget(self.suggestion_caption)
        self.suggestion_buttons: list[QPushButton] = []
        for _ in range(self.SUGGESTIONS):
            button = QPushButton("")
            button.setObjectName("suggestion")
            button.setMinimumSize(target * 3, target)
            button.clicked.connect(self._on_suggestion_clicked)
            suggestions.addWidget(button)
            self.suggestion_buttons.append(button)
        suggestions.addStretch(1)
        self.suggestion_bar.hide()
        self.body.addWidget(self.suggestion_bar)
        self.body.addWidget(self.keypad, 1)
        self.keypad.edited.connect(self._on_edited)
        self.field.textEdited.connect(self._typed)
        self._candidatesArrived.connect(self._on_candidates, Qt.ConnectionType.QueuedConnection)
        self.set_busy(False)

    def confirm_text(self) -> str:
        return self.tr("确认车牌")

    def prepare(self, view: LaneView) -> None:
        self._misread = view.plate
        self._candidates = []
        self._ask_for_candidates()
        self.keypad.clear()
        self.keypad.set_text(view.plate or "")  # the misread, to edit (cursor at its end)
        super().prepare(view)
        self.field.setFocus()
        self._refresh_confirm()

    def update_view(self, view: LaneView) -> None:
        self.current.setText(self.tr("识别为 %1").replace("%1", view.plate or "—"))

    # ------------------------------------------------------------------------------------ suggestions
    def _ask_for_candidates(self) -> None:
        self._generation += 1
        if self._plates_in_lot is None:
            return
        generation = self._generation
        try:
            future = self._plates_in_lot()
        except Exception:  # the engine is not running: no suggestions, the keypad still works
            log.info("no plates in the lot to suggest from", exc_info=True)
            return

        def arrived(done: Future[list[str]]) -> None:  # any thread
            if done.cancelled() or done.exception() is not None:
                log.info("listing the plates in the lot failed: %s", done.exception() if not done.cancelled()
                         else "cancelled")
                return
            with contextlib.suppress(RuntimeError):  # the panel is gone (window closed meanwhile)
                self._candidatesArrived.emit(generation, list(done.result()))

        future.add_done_callback(arrived)

    @Slot(int, object)
    def _on_candidates(self, generation: int, plates: list[str]) -> None:
        if generation == self._generation:
            self._candidates = plates
            self._refresh_suggestions()

    def suggestions(self) -> list[str]:
        """The plates offered now: in-lot plates that the text typed (before typing: the misread) may be."""
        read = self.field.text().strip() or (self._misread or "")
        if not read or not self._candidates:
            return []
        try:
            return suggest_plates(read, self._candidates, limit=self.SUGGESTIONS)
        except PlateError:
            return []

    def _refresh_suggestions(self) -> None:
        offered = self.suggestions()
        for i, button in enumerate(self.suggestion_buttons):
            button.setVisible(i < len(offered))
            button.setText(offered[i] if i < len(offered) else "")
        self.suggestion_bar.setVisible(bool(offered))

    def _on_suggestion_clicked(self) -> None:
        button = self.sender()
        if isinstance(button, QPushButton) and button.text():
            self.field.setText(button.text())
            self._on_edited()

    # ------------------------------------------------------------------------------------ typing
    def _typed(self, text: str) -> None:
        upper = text.upper()
        if upper != text:
            at = self.field.cursorPosition()
            self.field.setText(upper)
            self.field.setCursorPosition(at)
        self._on_edited()

    def _on_edited(self) -> None:
        if self.error.text():
            self.show_error("")
        self._refresh_confirm()
        self._refresh_suggestions()

    def can_confirm(self) -> bool:
        """Something typed, and not the plate as read (nothing corrected yet)."""
        text = self.field.text().strip()
        return bool(text) and text != (self._misread or "")

    def validated(self) -> str | None:
        """The plate's canonical text if the parser accepts it (shows its reason otherwise)."""
        try:
            return parse_plate(self.field.text()).text
        except PlateError as exc:
            reason = plate_error_words(exc.code, exc.params, exc.reason)
            self.show_error(self.tr("车牌无效：%1").replace("%1", reason))
            return None


class ReasonPanel(ActionPanel):
    """Free release and manual lift: a reason (a preset tapped, or typed when ``free_text``), an optional
    note, then confirm. The preset chosen stays highlighted. A reason in ``approval_required`` needs a
    supervisor: confirm then asks, in the panel itself, for the supervisor — the active supervisors as name
    buttons (``supervisors`` lists them off the GUI thread), or the username typed — and the PIN on the pad;
    the command carries them."""

    _supervisorsArrived = Signal(int, object)  # generation, list[PersonRecord]; emitted from any thread

    def __init__(
        self, action: str, title: str, confirm_text: str, presets: list[str], target: int, *,
        columns: int = 3, free_text: bool = True, approval_required: Sequence[str] = (),
        typed_need_approval: bool = False,
        supervisors: Callable[[], Future[list[PersonRecord]]] | None = None, parent: QWidget | None = None,
    ) -> None:
        super().__init__(action, target, parent)
        self.title.setText(title)
        self._supervisors = supervisors
        self._generation = 0
        self._confirm_text = confirm_text
        self.free_text = free_text
        self.approval_required = frozenset(approval_required)
        self.typed_need_approval = typed_need_approval
        self._approver: tuple[str, str] | None = None
        self.field = _entry(REASON_MAX_LEN)
        if free_text:
            self.field.setPlaceholderText(self.tr("原因（必填）：点选或输入"))
        else:
            self.field.setPlaceholderText(self.tr("原因（必填）：请点选"))
            self.field.setReadOnly(True)
        grid = QGridLayout()
        grid.setSpacing(6)
        self.preset_buttons: list[QPushButton] = []
        for i, text in enumerate(presets):
            button = QPushButton(text)
            button.setObjectName("reasonButton")
            button.setCheckable(True)  # the chosen reason stays highlighted
            button.setMinimumSize(target, target)
            button.clicked.connect(lambda _checked=False, t=text: self._choose(t))
            grid.addWidget(button, i // columns, i % columns)
            self.preset_buttons.append(button)
        self.note_field = _entry(NOTE_MAX_LEN)
        self.note_field.setPlaceholderText(self.tr("备注（可选）"))
        reason_page = QWidget()
        reason_column = QVBoxLayout(reason_page)
        reason_column.setContentsMargins(0, 0, 0, 0)
        reason_column.addWidget(self.field)
        reason_column.addLayout(grid)
        reason_column.addWidget(self.note_field)
        reason_column.addStretch(1)
        # the supervisor's approval, asked for only when the reason needs it
        approval_page = QWidget()
        self.approval_hint = QLabel("")
        self.approval_hint.setObjectName("actionHint")
        self.approval_hint.setWordWrap(True)
        self.approver_picker = PersonPicker(target, columns=2, placeholder=self.tr("或输入主管用户名"))
        self.approver_field = self.approver_picker.field
        self.approver_picker.edited.connect(self._on_approver_edited)
        self.approver_pad = PinPad(target)
        self.approver_pad.setMaximumWidth(target * 6)
        self.approver_pad.submitted.connect(self._on_approver_pin)
        self.change_reason_button = QPushButton(self.tr("更换原因"))
        self.change_reason_button.setMinimumSize(target * 2, target)
        self.change_reason_button.clicked.connect(lambda _checked=False: self.show_reasons())
        approval_side = QVBoxLayout()
        approval_side.addWidget(self.approval_hint)
        approval_side.addWidget(self.approver_picker)
        approval_side.addWidget(self.change_reason_button)
        approval_side.addStretch(1)
        approval_row = QHBoxLayout(approval_page)
        approval_row.setContentsMargins(0, 0, 0, 0)
        approval_row.addLayout(approval_side, 1)
        approval_row.addWidget(self.approver_pad, 1)
        self.pages = QStackedWidget()
        self.pages.addWidget(reason_page)
        self.pages.addWidget(approval_page)
        self.body.addWidget(self.pages, 1)
        self.field.textChanged.connect(self._on_edited)
        self._supervisorsArrived.connect(self._on_supervisors, Qt.ConnectionType.QueuedConnection)
        self.set_busy(False)

    def confirm_text(self) -> str:
        return self._confirm_text

    def prepare(self, view: LaneView) -> None:
        self.field.setText("")
        self.note_field.setText("")
        self.approver_picker.clear()
        self._approver = None
        self.show_reasons()
        super().prepare(view)

    def _choose(self, text: str) -> None:
        self.field.setText(text)
        self._highlight_reason()  # a second tap on the chosen one toggled it: it stays chosen

    def _on_edited(self) -> None:
        if self.error.text():
            self.show_error("")
        self._highlight_reason()
        self._refresh_confirm()

    def _highlight_reason(self) -> None:
        """The preset the field holds is highlighted (typed or tapped), no other."""
        reason = self.reason()
        for button in self.preset_buttons:
            button.setChecked(button.text() == reason)

    def chosen_button(self) -> QPushButton | None:
        """The preset highlighted now, if the reason is one."""
        return next((b for b in self.preset_buttons if b.isChecked()), None)

    def reason(self) -> str:
        return " ".join(self.field.text().split())[:REASON_MAX_LEN]

    def note(self) -> str:
        return " ".join(self.note_field.text().split())

    def needs_approval(self) -> bool:
        return self._needs_approval(self.reason())

    def _needs_approval(self, reason: str) -> bool:
        """As the engine decides: a listed reason that needs a supervisor, or any typed one when so set."""
        typed = reason not in {b.text() for b in self.preset_buttons}
        return reason in self.approval_required or (typed and self.typed_need_approval)

    def awaiting_approval(self) -> bool:
        return self.pages.currentIndex() == 1

    def show_reasons(self) -> None:
        self.pages.setCurrentIndex(0)
        self.approver_pad.clear()
        self.confirm_button.show()

    def show_approval(self) -> None:
        """The supervisor (a name tapped, or typed) and the PIN, in place of the reasons; the PIN pad's
        "confirm" sends."""
        words = self.tr("「%1」需要主管批准：请主管点选姓名（或输入用户名），再输入 PIN")
        self.approval_hint.setText(words.replace("%1", self.reason()))
        self.approver_pad.clear()
        self.approver_pad.set_busy(False)
        self.pages.setCurrentIndex(1)
        self.confirm_button.hide()  # the pad's own confirm sends, with the PIN
        self._ask_for_supervisors()

    # ------------------------------------------------------------------------------------ supervisors
    def _ask_for_supervisors(self) -> None:
        """The active supervisors, asked each time the approval opens (people change between approvals)."""
        self._generation += 1
        if self._supervisors is None:
            return
        generation = self._generation
        try:
            future = self._supervisors()
        except Exception:  # the engine is not running: the username can still be typed
            log.info("no supervisors to offer for the approval", exc_info=True)
            return

        def arrived(done: Future[list[PersonRecord]]) -> None:  # any thread
            if done.cancelled() or done.exception() is not None:
                log.info("listing the supervisors failed: %s",
                         done.exception() if not done.cancelled() else "cancelled")
                return
            with contextlib.suppress(RuntimeError):  # the panel is gone (window closed meanwhile)
                self._supervisorsArrived.emit(generation, list(done.result()))

        future.add_done_callback(arrived)

    @Slot(int, object)
    def _on_supervisors(self, generation: int, people: list[PersonRecord]) -> None:
        if generation == self._generation:
            self.approver_picker.set_people(people)

    def _on_approver_edited(self) -> None:
        if self.error.text():
            self.show_error("")

    def _on_approver_pin(self, pin: str) -> None:
        username = self.approver_picker.username()
        self.approver_pad.clear()
        if not username:
            self.show_error(self.tr("请先点选主管姓名或输入用户名"))
            return
        self._approver = (username, pin)
        self.confirmed.emit()

    def take_approver(self) -> tuple[str, str] | None:
        """The supervisor's (username, PIN), once: a refused PIN is typed again."""
        approver, self._approver = self._approver, None
        return approver

    def set_busy(self, busy: bool) -> None:
        super().set_busy(busy)
        if hasattr(self, "approver_pad"):
            self.approver_pad.set_busy(busy)

    def validated(self) -> str | None:
        """The reason, when it can be sent now; a reason needing approval first asks for the supervisor."""
        reason = self.reason()
        if not reason:
            self.show_error(self.tr("请填写或选择原因"))
            return None
        if not self.free_text and reason not in {b.text() for b in self.preset_buttons}:
            self.show_error(self.tr("请从列表中选择原因"))
            return None
        if self._needs_approval(reason) and self._approver is None:
            self.show_approval()
            return None
        return reason


class ConfirmPanel(ActionPanel):
    """A second tap for what cannot be undone from the lane (cancelling the exit being handled)."""

    def __init__(self, action: str, title: str, question: str, confirm_text: str, target: int,
                 parent: QWidget | None = None) -> None:
        super().__init__(action, target, parent)
        self.title.setText(title)
        self._confirm_text = confirm_text
        self.question = QLabel(question)
        self.question.setObjectName("actionHint")
        self.question.setWordWrap(True)
        self.body.addWidget(self.question)
        self.body.addStretch(1)
        self.confirm_button.setObjectName("danger")
        self.set_busy(False)

    def confirm_text(self) -> str:
        return self._confirm_text
