"""The in-lane action panels' frame (title, body, error line, back / confirm), the cash panel and the
confirmation; the plate correction and the reason panels build on the frame in modules of their own
(ui/lanes/plate_panel.py, ui/lanes/reason_panel.py).

A panel replaces the lane's details inside the lane itself — no dialog, nothing modal; the other lanes and
this lane's live state stay on screen. A panel only collects and validates input: what it hands on is a
valid amount in fen, a plate the domain parser accepts, or a non-empty reason. Refusals are shown in words
right under the field (``error`` label), never as a pop-up.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from booth.domain.lane import LaneView
from booth.domain.money import MoneyError, format_yuan, parse_yuan
from ui.kit.i18n import reword
from ui.kit.keypads import MONEY_PARTIAL, MoneyPad
from ui.kit.wording import yuan


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
        self._error: Callable[[], str] | None = None  # the error line's words, drawn again after a switch

    def prepare(self, view: LaneView) -> None:
        """Called when the panel opens for the car now at the lane."""
        self.show_error("")
        self.set_busy(False)
        self.update_view(view)

    def update_view(self, view: LaneView) -> None:
        """The lane changed while the panel is open (subclasses refresh what they show)."""

    def show_error(self, text: str | Callable[[], str]) -> None:
        """Say ``text`` on the error line ('' hides it): words made in the current language when drawn (a
        command's failure, said again after a language switch), or a text as it came (re-worded after a
        switch when it is a whole known string)."""
        if callable(text):
            self._error = text
        else:
            self._error = (lambda: reword(text, self.error) or text) if text else None
        self.redraw_error()

    def redraw_error(self) -> None:
        """The error line in the current language (the lane calls it after a language switch)."""
        text = self._error() if self._error is not None else ""
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


def entry_field(max_len: int) -> QLineEdit:
    """A one-line field of the panels' style, at most ``max_len`` characters."""
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
        self.field = entry_field(9)
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
        """The amount due, the change and the confirm button again; an error shown stays unless the amount
        due changed (the lane redraws its open panel after a language switch: the error is said again)."""
        due_changed = view.due_fen != self._due_fen
        self._due_fen = view.due_fen
        if view.due_fen is not None:
            self.due_label.setText(self.tr("应收 %1").replace("%1", yuan(view.due_fen)))
        else:
            self.due_label.setText(self.tr("没有待付款订单"))
        self.pad.set_exact(format_yuan(view.due_fen) if view.due_fen is not None else None)
        if due_changed:
            self._on_amount_changed()
        else:
            self._show_change()
            self._refresh_confirm()

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
        self._show_change()
        if self.error.text():
            self.show_error("")
        self._refresh_confirm()

    def _show_change(self) -> None:
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
            due = self._due_fen
            self.show_error(lambda: self.tr("实收不足：应收 %1，实收 %2").replace("%1", yuan(due))
                            .replace("%2", yuan(fen)))
            return None
        return fen


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
