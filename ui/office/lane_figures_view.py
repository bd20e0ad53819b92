"""Lane figures on screen, for the supervisor (issue #16): one row per lane with cars out and cars per hour,
payment → gate, camera push → quote and the Bolink round trip (p50 / p99), gate faults and manual lifts,
over the last hour, day or week (three touch buttons).

The figures are read on the engine's office thread (booth.office.lane_figures: SQL over the rows the lanes
write anyway and the lane timings), never on the GUI thread. Every configured lane has its row, with dashes
where there was nothing to time; a lane no longer configured that still has figures in the window is listed
by its id.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Literal

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QScroller,
    QVBoxLayout,
    QWidget,
)

from booth.config import Settings
from booth.engine import Engine
from booth.office.lane_figures import LaneFigures, lane_figures
from ui.kit.refusals import office_error_words
from ui.kit.sheet import SideSheet
from ui.kit.style import Sizes
from ui.link.office_runner import OfficeRunner

log = logging.getLogger("ui.lane_figures")

Span = Literal["hour", "day", "week"]
SPANS: dict[Span, timedelta] = {
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(days=7),
}
COLUMNS = 8
DASH = "–"


def _pair(p50: float | None, p99: float | None) -> str:
    if p50 is None or p99 is None:
        return DASH
    return f"{p50:.0f} / {p99:.0f}"


def figure_cells(name: str, f: LaneFigures | None) -> list[str]:
    """The row of one lane (``f`` None: nothing happened there in the window)."""
    if f is None:
        return [name, "0", "0.0", DASH, DASH, DASH, "0", "0"]
    return [
        name,
        str(f.cars_out),
        f"{f.cars_per_hour:.1f}",
        _pair(f.pay_to_gate_p50_ms, f.pay_to_gate_p99_ms),
        _pair(f.camera_to_quote_p50_ms, f.camera_to_quote_p99_ms),
        _pair(f.bolink_p50_ms, f.bolink_p99_ms),
        str(f.gate_faults),
        str(f.manual_lifts),
    ]


class LaneFiguresView(SideSheet):
    """The lane figures sheet: ``show_figures()`` opens it on the span last chosen (the last hour at
    first). ``figures`` holds what is on screen (lane id → figures), ``message`` what went wrong."""

    def __init__(self, parent: QWidget, engine: Engine, settings: Settings, *, sizes: Sizes) -> None:
        super().__init__(parent, sizes, width_targets=30)
        self.engine = engine
        self.settings = settings
        self.office = OfficeRunner(engine, self, reports=True)
        self.span: Span = "hour"
        self.figures: dict[str, LaneFigures] = {}
        self._generation = 0
        self._shown_window: tuple[datetime, datetime] | None = None
        target = sizes.target

        span_bar = QWidget()
        span_row = QHBoxLayout(span_bar)
        span_row.setContentsMargins(0, 0, 0, 0)
        self.span_buttons: dict[Span, QPushButton] = {}
        for span in SPANS:
            button = QPushButton()
            button.setCheckable(True)
            button.setMinimumSize(target * 2, target)
            button.clicked.connect(partial(self._span_clicked, span))
            span_row.addWidget(button)
            self.span_buttons[span] = button
        span_row.addStretch(1)

        # a grid of labels (the theme's own colours; a row a touch target high), scrolled by touch
        self.grid_host = QWidget()
        self.grid_host.setObjectName("laneFigures")
        self.grid = QGridLayout(self.grid_host)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setHorizontalSpacing(8)
        self.grid.setVerticalSpacing(4)
        self.header_labels: list[QLabel] = []
        for column in range(COLUMNS):
            label = QLabel()
            label.setObjectName("fieldName")
            label.setAlignment(self._alignment(column) | Qt.AlignmentFlag.AlignBottom)
            self.grid.addWidget(label, 0, column)
            self.header_labels.append(label)
        self.grid.setColumnStretch(0, 1)
        self.row_labels: dict[str, list[QLabel]] = {}
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        inner = QWidget()
        column_box = QVBoxLayout(inner)
        column_box.setContentsMargins(0, 0, 0, 0)
        column_box.addWidget(self.grid_host)
        column_box.addStretch(1)
        scroll.setWidget(inner)
        QScroller.grabGesture(scroll.viewport(), QScroller.ScrollerGestureType.TouchGesture)

        self.message = QLabel("")
        self.message.setObjectName("actionError")
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.message.hide()
        self.window_label = QLabel("")
        self.window_label.setObjectName("fieldName")
        self.window_label.setWordWrap(True)
        self.refresh_button = QPushButton()
        self.refresh_button.setMinimumSize(target * 2, target)
        self.refresh_button.clicked.connect(lambda _checked=False: self.refresh())
        foot = QHBoxLayout()
        foot.addWidget(self.window_label, 1)
        foot.addWidget(self.refresh_button)

        self.body.addWidget(span_bar)
        self.body.addWidget(self.message)
        self.body.addWidget(scroll, 1)
        self.body.addLayout(foot)
        self.retranslate()

    def retranslate(self) -> None:
        """Every word of the sheet in the current language (at start and on a switch of language), a
        refusal on the message line too."""
        super().retranslate()
        self.title.setText(self.tr("通道数据"))
        names: dict[Span, str] = {
            "hour": self.tr("近一小时"),
            "day": self.tr("近一天"),
            "week": self.tr("近一周"),
        }
        for span, button in self.span_buttons.items():
            button.setText(names[span])
        headers = (
            self.tr("通道"),
            self.tr("出场车辆"),
            self.tr("每小时\n车辆"),
            self.tr("付款→抬杆\n毫秒 p50/p99"),
            self.tr("识别→报价\n毫秒 p50/p99"),
            self.tr("泊链往返\n毫秒 p50/p99"),
            self.tr("道闸\n故障"),
            self.tr("人工\n抬杆"),
        )
        for label, text in zip(self.header_labels, headers, strict=True):
            label.setText(text)
        self.refresh_button.setText(self.tr("刷新"))
        self._show_window()

    def _show_window(self) -> None:
        if self._shown_window is None:
            self.window_label.setText("")
            return
        since, until = self._shown_window
        zone = self.settings.park.zone
        shown = f"{since.astimezone(zone):%m-%d %H:%M} – {until.astimezone(zone):%m-%d %H:%M}"
        self.window_label.setText(
            self.tr("时段：%1（p50 为中位数，p99 为最慢的百分之一）").replace("%1", shown)
        )

    # -------------------------------------------------------------------------------------------- show
    def show_figures(self, span: Span | None = None) -> None:
        if span is not None:
            self.span = span
        self.present()
        self.refresh()

    def _span_clicked(self, span: Span, _checked: bool = False) -> None:
        self.show_figures(span)

    def refresh(self) -> None:
        for span, button in self.span_buttons.items():
            button.setChecked(span == self.span)
        until = datetime.now(UTC)
        since = until - SPANS[self.span]
        self._generation += 1
        engine = self.engine
        self.office.run(
            lambda: lane_figures(engine.database, since, until),
            on_done=partial(self._on_figures, self._generation, since, until),
        )

    def _on_figures(self, generation: int, since: datetime, until: datetime, outcome: object) -> None:
        if generation != self._generation:
            return  # a span chosen since: its figures are on the way
        if isinstance(outcome, BaseException):
            log.warning("lane figures not read: %r", outcome)
            self.show_words(self.message, partial(office_error_words, outcome))
            self.message.show()
            return
        assert isinstance(outcome, list)
        self.show_words(self.message, "")
        self.message.hide()
        self.figures = {f.lane_id: f for f in outcome}
        names = {lane.id: lane.name for lane in self.settings.lanes}
        lanes = [lane.id for lane in self.settings.lanes]
        lanes += [lane_id for lane_id in self.figures if lane_id not in names]
        for labels in self.row_labels.values():
            for old in labels:
                self.grid.removeWidget(old)
                old.deleteLater()
        self.row_labels = {}
        for row, lane_id in enumerate(lanes, start=1):
            name = f"{lane_id}\n{names[lane_id]}" if lane_id in names else lane_id  # (narrow: two lines)
            cells = []
            for column, text in enumerate(figure_cells(name, self.figures.get(lane_id))):
                cell = QLabel(text)
                cell.setObjectName("fieldValue")
                cell.setMinimumHeight(self.sizes.target)
                cell.setAlignment(self._alignment(column) | Qt.AlignmentFlag.AlignVCenter)
                self.grid.addWidget(cell, row, column)
                cells.append(cell)
            self.row_labels[lane_id] = cells
        self._shown_window = (since, until)
        self._show_window()

    @staticmethod
    def _alignment(column: int) -> Qt.AlignmentFlag:
        return Qt.AlignmentFlag.AlignLeft if column == 0 else Qt.AlignmentFlag.AlignRight

    def cell(self, lane_id: str, column: int) -> str:
        """The text shown for ``lane_id`` in ``column`` (tests, screenshots)."""
        return self.row_labels[lane_id][column].text()
