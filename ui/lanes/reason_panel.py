"""Free release and manual lift in the lane: a reason tapped (or typed), an optional note, and when the
reason needs it the supervisor's approval — a name tapped among the active supervisors, then the PIN — in
the panel itself. What it hands on is a non-empty reason, with the approver when one is needed.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from booth.domain.lane import LaneView
from booth.office.staff import PersonRecord
from ui.kit.person_picker import PersonPicker
from ui.kit.pin_pad import PinPad
from ui.lanes.actions import ActionPanel, entry_field

log = logging.getLogger("ui.actions")

#: the longest reason stored with a free release or manual lift
REASON_MAX_LEN = 60
#: the longest note with one (booth.engine.NOTE_MAX)
NOTE_MAX_LEN = 200


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
        self.field = entry_field(REASON_MAX_LEN)
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
        self.note_field = entry_field(NOTE_MAX_LEN)
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
