"""Closing a shift: a blind cash count by denomination, the float handed over, and the result.

Blind: the panel never asks for the expected cash and shows only what was counted, so the count cannot be
made to fit. Only after the close was recorded does it show expected, counted and the variance. When the
variance is above the configured limit the close is refused with "cosign_required" (nothing changed) and a
supervisor's username and PIN are asked for right here; the close is then sent again with them.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Literal

from PySide6.QtCore import Qt, Signal
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

from booth.config import ShiftSettings
from booth.domain.money import MoneyError, format_yuan, parse_yuan
from booth.engine import Engine
from booth.office.shifts import ShiftError, ShiftRecord
from ui.kit.cash_count import CountRows, DigitPad, TapField
from ui.kit.person_picker import PersonPicker
from ui.kit.pin_pad import PinPad
from ui.kit.refusals import office_error_words
from ui.kit.sheet import SideSheet, Words
from ui.kit.style import Sizes
from ui.kit.wording import yuan
from ui.link.office_runner import OfficeRunner, active_people

log = logging.getLogger("ui.shift")

Page = Literal["count", "cosign", "result"]


class ShiftClosePanel(SideSheet):
    """The close of ``shift``: counts, handover, note; then a co-sign step when needed; then the result.

    Signals (GUI thread): ``shiftClosed(ShiftRecord)`` once the close is recorded; ``finished()`` when the
    attendant leaves the result ("done"); ``reportRequested(int)`` with the closed shift's id.
    """

    shiftClosed = Signal(object)
    finished = Signal()
    reportRequested = Signal(int)

    def __init__(self, parent: QWidget, engine: Engine, settings: ShiftSettings, *, sizes: Sizes) -> None:
        super().__init__(parent, sizes, width_targets=20)
        self.engine = engine
        self.denominations = settings.denominations
        self.office = OfficeRunner(engine, self)
        self.shift: ShiftRecord | None = None
        self.closed: ShiftRecord | None = None
        self.page: Page = "count"
        self._cosigner: tuple[str, str] | None = None
        target = sizes.target
        self.show_words(self.title, self.tr("交班：现金清点"))

        self.hint = QLabel(self.tr("按面额清点钱箱中的现金（含备用金）。提交前不显示应有现金。"))
        self.hint.setObjectName("actionHint")
        self.hint.setWordWrap(True)
        self.body.addWidget(self.hint)

        # --- the count page: one row per denomination (ui/kit/cash_count.py), the pad beside it
        count_page = QWidget()
        self.pad = DigitPad(target)
        self.rows = CountRows(self.denominations, target, pad=self.pad)
        self.rows.changed.connect(self._on_counts_changed)
        self.count_fields = self.rows.count_fields
        self.subtotals = self.rows.subtotals
        self.minus_buttons = self.rows.minus_buttons
        self.plus_buttons = self.rows.plus_buttons

        self.total_label = QLabel("")
        self.total_label.setObjectName("amount")
        self.handover_field = TapField()
        self.handover_field.setObjectName("entry")
        self.handover_field.setMaxLength(9)
        self.handover_field.setMinimumHeight(target)
        self.handover_field.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.handover_field.tapped.connect(partial(self.pad.select, self.handover_field, money=True))
        self.note_field = QLineEdit()
        self.note_field.setObjectName("entry")
        self.note_field.setMaxLength(200)
        self.note_field.setMinimumHeight(target)
        self.note_field.setPlaceholderText(self.tr("备注（可选）"))
        self.submit_button = QPushButton(self.tr("提交交班"))
        self.submit_button.setObjectName("confirm")
        self.submit_button.setMinimumSize(target * 3, target)
        self.submit_button.clicked.connect(lambda _checked=False: self.submit())

        side = QVBoxLayout()
        side.addWidget(QLabel(self.tr("清点合计")))
        side.addWidget(self.total_label)
        side.addWidget(QLabel(self.tr("留给下一班的备用金（元）")))
        side.addWidget(self.handover_field)
        side.addWidget(self.pad)
        side.addStretch(1)
        row_layout = QHBoxLayout()
        row_layout.addWidget(self.rows, 3)
        row_layout.addLayout(side, 2)
        count_column = QVBoxLayout(count_page)
        count_column.setContentsMargins(0, 0, 0, 0)
        count_column.addLayout(row_layout, 1)
        count_column.addWidget(self.note_field)

        # --- the co-sign page: a supervisor (a name tapped, or the username typed) and the PIN
        cosign_page = QWidget()
        self.cosign_hint = QLabel(self.tr("清点现金与应有现金的差额超出允许范围，需要主管共同签字。"))
        self.cosign_hint.setWordWrap(True)
        self.cosign_hint.setObjectName("actionHint")
        self.cosigner_picker = PersonPicker(target, columns=4, placeholder=self.tr("或输入主管用户名"))
        self.cosigner_field = self.cosigner_picker.field
        self.cosign_pad = PinPad(target)
        self.cosign_pad.setMaximumWidth(target * 7)
        self.cosign_pad.submitted.connect(self.cosign)
        self.recount_button = QPushButton(self.tr("返回重新清点"))
        self.recount_button.setMinimumSize(target * 3, target)
        self.recount_button.clicked.connect(lambda _checked=False: self._show_page("count"))
        cosign_column = QVBoxLayout(cosign_page)
        cosign_column.setContentsMargins(0, 0, 0, 0)
        cosign_column.addWidget(self.cosign_hint)
        cosign_column.addWidget(self.cosigner_picker)
        cosign_column.addWidget(self.cosign_pad, 1, Qt.AlignmentFlag.AlignHCenter)
        cosign_column.addWidget(self.recount_button, 0, Qt.AlignmentFlag.AlignLeft)

        # --- the result page: the figures large, the variance in the colour of its sign, the buttons below
        result_page = QWidget()
        self.result_names: dict[str, QLabel] = {}
        self.result_figures: dict[str, QLabel] = {}
        self.result_counts = QLabel("")
        self.result_counts.setObjectName("resultCounts")
        self.result_counts.setWordWrap(True)
        self.result_counts.setTextFormat(Qt.TextFormat.PlainText)
        self.result_card = QFrame()
        self.result_card.setObjectName("resultCard")
        figures = QGridLayout(self.result_card)
        figures.setContentsMargins(target // 2, target // 2, target // 2, target // 2)
        figures.setHorizontalSpacing(target // 2)
        figures.setVerticalSpacing(target * 2 // 3)
        rows = (
            ("expected", self.tr("应有现金"), "resultFigure"),
            ("counted", self.tr("清点现金"), "resultFigure"),
            ("variance", self.tr("差额"), "varianceFigure"),
            ("handover", self.tr("留给下一班的备用金"), "resultValue"),
            ("cosigner", self.tr("主管签字"), "resultValue"),
        )
        for row, (key, words, style) in enumerate(rows):
            name = QLabel(words)
            name.setObjectName("resultName")
            name.setWordWrap(True)
            figure = QLabel("")
            figure.setObjectName(style)
            figure.setTextFormat(Qt.TextFormat.PlainText)
            figure.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            figures.addWidget(name, row, 0)
            figures.addWidget(figure, row, 1)
            self.result_names[key] = name
            self.result_figures[key] = figure
        figures.setColumnStretch(0, 1)
        figures.addWidget(self.result_counts, len(rows), 0, 1, 2)
        self.variance_figure = self.result_figures["variance"]
        self.report_button = QPushButton(self.tr("查看本班报表"))
        self.report_button.setMinimumSize(target * 4, target)
        self.report_button.clicked.connect(lambda _checked=False: self._ask_report())
        self.done_button = QPushButton(self.tr("完成"))
        self.done_button.setObjectName("confirm")
        self.done_button.setMinimumSize(target * 3, target)
        self.done_button.clicked.connect(lambda _checked=False: self._done())
        result_buttons = QHBoxLayout()
        result_buttons.addWidget(self.report_button, 1)
        result_buttons.addWidget(self.done_button, 1)
        result_column = QVBoxLayout(result_page)
        result_column.setContentsMargins(0, 0, 0, 0)
        result_column.setSpacing(target // 3)
        result_column.addStretch(1)
        result_column.addWidget(self.result_card)
        result_column.addStretch(1)
        result_column.addLayout(result_buttons)

        self.pages = QStackedWidget()
        self.pages.addWidget(count_page)
        self.pages.addWidget(cosign_page)
        self.pages.addWidget(result_page)
        self.body.addWidget(self.pages, 1)
        self.error = QLabel("")
        self.error.setObjectName("actionError")
        self.error.setWordWrap(True)
        foot = QHBoxLayout()
        foot.addWidget(self.error, 1)
        foot.addWidget(self.submit_button)
        self.body.addLayout(foot)
        self._on_counts_changed()

    # ------------------------------------------------------------------------------------------ opening
    def open_for(self, shift: ShiftRecord) -> None:
        """Start the close of ``shift`` with empty counts; the handover is prefilled with its float."""
        self.office.forget()
        self.shift = shift
        self.closed = None
        self._cosigner = None
        self.rows.clear()
        self.handover_field.setText(format_yuan(shift.opening_float_fen))
        self.note_field.clear()
        self.cosigner_picker.clear()
        self.cosign_pad.clear()
        self.show_words(self.title, lambda: self.tr("交班：%1（%2）").replace("%1", shift.attendant_name)
                        .replace("%2", shift.attendant))
        self.rows.select_first()
        self._show_page("count")
        self.show_error("")
        self.present()

    def _show_page(self, page: Page) -> None:
        if page == "cosign" and self.page != "cosign":
            self.office.run(active_people, self.engine, "supervisor", on_done=self._on_supervisors)
        self.page = page
        self.pages.setCurrentIndex(("count", "cosign", "result").index(page))
        self.submit_button.setVisible(page == "count")
        self.hint.setVisible(page == "count")
        self.close_button.setVisible(page != "result")
        self._set_busy(False)
        if page != "result":
            self.show_error("")

    def _on_supervisors(self, outcome: object) -> None:
        if isinstance(outcome, list):
            self.cosigner_picker.set_people(outcome)
        else:
            log.info("no supervisors to offer for the co-signature: %r", outcome)

    # ------------------------------------------------------------------------------------------ counting
    def press(self, key: str) -> None:
        """A key of the pad, for the field last tapped (a count, or the handover amount)."""
        self.pad.press(key)

    def step_count(self, denomination: int, delta: int) -> None:
        self.rows.step_count(denomination, delta)

    def counts(self) -> dict[int, int]:
        """The pieces per denomination; ValueError names the first field that is not a count."""
        return self.rows.counts()

    def counted_fen(self) -> int | None:
        return self.rows.counted_fen()

    def _on_counts_changed(self) -> None:
        total = self.counted_fen()
        self.total_label.setText("—" if total is None else yuan(total))
        if self.error.text() and self.page == "count":
            self.show_error("")

    # ------------------------------------------------------------------------------------------ closing
    def submit(self) -> None:
        """Send the count (with the co-signer, once given). Bad input is refused here, in words."""
        shift = self.shift
        if shift is None or self.office.busy:
            return
        try:
            counted = self.counts()
        except ValueError:
            self.show_error(self._count_refusal)
            return
        try:
            handover = parse_yuan(self.handover_field.text())
        except MoneyError:
            self.show_error(self.tr("请输入留给下一班的备用金（元），例如 500"))
            return
        total = sum(d * n for d, n in counted.items())
        if handover > total:
            self.show_error(lambda: self.tr("留给下一班的备用金 %1 不能多于清点合计 %2")
                            .replace("%1", yuan(handover)).replace("%2", yuan(total)))
            return
        note = self.note_field.text().strip()
        cosigner = self._cosigner
        engine, shift_id = self.engine, shift.id
        self._set_busy(True)
        self.office.run(
            lambda: engine.shifts.close(
                shift_id, counted, handover_float_fen=handover, cosigner=cosigner, note=note
            ),
            on_done=self._on_closed,
        )

    def cosign(self, pin: str) -> None:
        username = self.cosigner_picker.username()
        if not username:
            self.show_error(self.tr("请先点选主管姓名或输入用户名"))
            self.cosign_pad.clear()
            return
        self._cosigner = (username, pin)
        self.cosign_pad.clear()
        self.submit()

    def _on_closed(self, outcome: object) -> None:
        self._set_busy(False)
        self._cosigner = None  # a PIN is used once: a refused one is typed again, a good one is spent
        if isinstance(outcome, ShiftError) and outcome.code in ("cosign_required", "bad_cosigner"):
            if self.page != "cosign":
                self._show_page("cosign")
            self.show_error(partial(office_error_words, outcome))
            return
        if isinstance(outcome, BaseException):
            if self.page == "cosign":
                self._show_page("count")
            self.show_error(partial(office_error_words, outcome))
            return
        assert isinstance(outcome, ShiftRecord)
        self.closed = outcome
        log.info("shift %d closed: counted %s", outcome.id, outcome.counted_fen)
        self.show_result(outcome)
        self._show_page("result")
        self.show_error("")
        self.shiftClosed.emit(outcome)

    def show_result(self, shift: ShiftRecord) -> None:
        """The closed shift's figures: expected, counted, the variance (its tone says over, short or exact),
        the float handed over, the co-signer, and what was counted note by note."""
        expected, counted, variance = shift.expected_fen or 0, shift.counted_fen or 0, shift.variance_fen or 0
        figures = self.result_figures
        self.show_words(self.title, lambda: self.tr("班次 #%1 已交班：%2").replace("%1", str(shift.id))
                        .replace("%2", shift.attendant_name))
        figures["expected"].setText(yuan(expected))
        figures["counted"].setText(yuan(counted))
        figures["variance"].setText(self.variance_words(variance))
        self.variance_figure.setProperty("tone", variance_tone(variance))
        self.variance_figure.style().unpolish(self.variance_figure)
        self.variance_figure.style().polish(self.variance_figure)
        figures["handover"].setText(yuan(shift.handover_float_fen or 0))
        figures["cosigner"].setText(shift.cosigned_by or "")
        figures["cosigner"].setVisible(bool(shift.cosigned_by))  # nobody co-signed: no empty row
        self.result_names["cosigner"].setVisible(bool(shift.cosigned_by))
        pieces = sorted((shift.counted or {}).items(), reverse=True)
        counts = "  ".join(f"{yuan(d)} × {n}" for d, n in pieces if n)
        self.result_counts.setText(self.tr("清点明细：%1").replace("%1", counts) if counts else "")
        self.result_counts.setVisible(bool(counts))

    def variance_words(self, variance_fen: int) -> str:
        """"+¥2.00（长款）", "−¥3.00（短款）" or "¥0.00（账实相符）"."""
        if variance_fen > 0:
            verdict = self.tr("长款")
        elif variance_fen < 0:
            verdict = self.tr("短款")
        else:
            verdict = self.tr("账实相符")
        return self.tr("%1（%2）").replace("%1", _signed(variance_fen)).replace("%2", verdict)

    def result_summary(self) -> str:
        """The result page as text, one ``name：figure`` a line (what the attendant reads)."""
        lines = [self.title.text()]
        for key, name in self.result_names.items():
            if not name.isHidden():
                line = self.tr("%1：%2").replace("%1", name.text())
                lines.append(line.replace("%2", self.result_figures[key].text()))
        if self.result_counts.text():
            lines.append(self.result_counts.text())
        return "\n".join(lines)

    def _ask_report(self) -> None:
        if self.closed is not None:
            self.reportRequested.emit(self.closed.id)

    def _done(self) -> None:
        self.hide()
        self.finished.emit()

    def dismiss(self) -> None:
        if self.page == "result":
            self._done()
            return
        self.office.forget()
        self.hide()

    def _set_busy(self, busy: bool) -> None:
        self.submit_button.setEnabled(not busy)
        self.submit_button.setText(self.tr("处理中…") if busy else self.tr("提交交班"))
        self.cosign_pad.set_busy(busy)

    def show_error(self, text: str | Words) -> None:
        """The line under the page ('' hides it); words with data are said again after a language switch."""
        self.error.setVisible(bool(self.show_words(self.error, text)))

    def _count_refusal(self) -> str:
        """Why the counts are refused, in the language shown now (the error goes when a count changes)."""
        try:
            self.counts()
        except ValueError as exc:
            return str(exc)
        return ""

    def retranslate(self) -> None:
        super().retranslate()
        if self.page == "result" and self.closed is not None:  # its figures' words in the new language
            self.show_result(self.closed)


def variance_tone(variance_fen: int) -> str:
    """The tone of a variance: short is "bad" (red), over is "attention" (orange), exact is "ok" (green)."""
    return "bad" if variance_fen < 0 else "attention" if variance_fen > 0 else "ok"


def _signed(fen: int) -> str:
    return ("+" if fen > 0 else "−" if fen < 0 else "") + yuan(abs(fen))
