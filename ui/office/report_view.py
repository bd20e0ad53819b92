"""Reports on screen: a closed shift's report, or any period's (touch presets) for everyone or one
attendant; saved as PDF and CSV into the export folder (shown as text: no file dialog) and printed.

Reports are built on the engine's office thread (SQL aggregates, never on the GUI thread); the PDF is
drawn here (Qt paints on the GUI thread) and the CSV is written on the office thread. A report that
cannot be built (an open shift, a period with no data) says why right in the sheet.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from pathlib import Path
from typing import Literal

from PySide6.QtCore import QStandardPaths, Qt
from PySide6.QtPrintSupport import QPrintDialog, QPrinter
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScroller,
    QTextBrowser,
    QWidget,
)

from booth.config import Settings
from booth.engine import Engine
from booth.office.reports import Report, ReportError, build_period_report, build_shift_report, write_csv
from booth.office.staff import PersonRecord
from ui.kit.refusals import office_error_words
from ui.kit.sheet import SideSheet, Words
from ui.kit.style import Sizes
from ui.link.office_runner import OfficeRunner
from ui.office.report_document import print_report, render_pdf, report_document

log = logging.getLogger("ui.reports")

Preset = Literal["today", "yesterday", "this_week", "this_month", "last_month"]
PRESETS: tuple[Preset, ...] = ("today", "yesterday", "this_week", "this_month", "last_month")
EXPORT_FOLDER = "booth-reports"


def default_export_dir() -> Path:
    """The user's Documents/booth-reports (the home folder's when there is no Documents folder)."""
    documents = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    return Path(documents or Path.home()) / EXPORT_FOLDER


def preset_period(preset: Preset, today: date, zone: object) -> tuple[datetime, datetime]:
    """[start, end) of ``preset`` in the lot's local days, as aware datetimes in ``zone``."""
    assert hasattr(zone, "utcoffset")

    def midnight(day: date) -> datetime:
        return datetime.combine(day, time(0), tzinfo=zone)  # type: ignore[arg-type]

    if preset == "today":
        return midnight(today), midnight(today + timedelta(days=1))
    if preset == "yesterday":
        return midnight(today - timedelta(days=1)), midnight(today)
    if preset == "this_week":
        monday = today - timedelta(days=today.weekday())
        return midnight(monday), midnight(monday + timedelta(days=7))
    first = today.replace(day=1)
    next_month = (first + timedelta(days=32)).replace(day=1)
    if preset == "this_month":
        return midnight(first), midnight(next_month)
    last_first = (first - timedelta(days=1)).replace(day=1)
    return midnight(last_first), midnight(first)


def _attendants(engine: Engine) -> list[PersonRecord]:
    return [p for p in engine.staff.people() if p.role == "attendant"]


class ReportView(SideSheet):
    """The report sheet. ``show_shift(id)`` for one closed shift; ``show_period()`` for the presets.

    ``report`` is the report on screen (None: none, e.g. after a refusal); ``message`` says what happened
    last (built, saved, refused).
    """

    def __init__(
        self,
        parent: QWidget,
        engine: Engine,
        settings: Settings,
        *,
        sizes: Sizes,
        export_dir: Path | None = None,
    ) -> None:
        super().__init__(parent, sizes, width_targets=24)
        self.engine = engine
        self.settings = settings
        self.export_dir = export_dir if export_dir is not None else default_export_dir()
        self.office = OfficeRunner(engine, self, reports=True)  # never in front of a sign-in or an approval
        self.report: Report | None = None
        self.preset: Preset = "today"
        self.attendant: str | None = None
        self._print_dialog: QPrintDialog | None = None
        self._generation = 0
        target = sizes.target
        self.show_words(self.title, self.tr("报表"))

        self.period_bar = QWidget()
        period_row = QHBoxLayout(self.period_bar)
        period_row.setContentsMargins(0, 0, 0, 0)
        names = {
            "today": self.tr("今天"),
            "yesterday": self.tr("昨天"),
            "this_week": self.tr("本周"),
            "this_month": self.tr("本月"),
            "last_month": self.tr("上月"),
        }
        self.preset_buttons: dict[Preset, QPushButton] = {}
        for preset in PRESETS:
            button = self._button(names[preset], partial(self._preset_clicked, preset))
            button.setCheckable(True)
            period_row.addWidget(button)
            self.preset_buttons[preset] = button
        period_row.addStretch(1)
        self.attendant_bar = QWidget()
        self.attendant_row = QHBoxLayout(self.attendant_bar)
        self.attendant_row.setContentsMargins(0, 0, 0, 0)
        self.attendant_buttons: dict[str | None, QPushButton] = {}
        self._add_attendant_button(None, self.tr("全部收费员"))
        self.attendant_row.addStretch(1)

        self.browser = QTextBrowser()
        self.browser.setObjectName("reportBrowser")
        self.browser.setOpenLinks(False)
        QScroller.grabGesture(self.browser.viewport(), QScroller.ScrollerGestureType.TouchGesture)
        self.message = QLabel("")
        self.message.setObjectName("sheetMessage")  # its tone: "ok" green (built, saved), "bad" red
        self.message.setWordWrap(True)
        self.message.setTextFormat(Qt.TextFormat.PlainText)
        self.folder_label = QLabel("")
        self.folder_label.setObjectName("fieldName")
        self.folder_label.setWordWrap(True)
        self.folder_label.setTextFormat(Qt.TextFormat.PlainText)
        self.pdf_button = self._button(self.tr("保存 PDF"), self.save_pdf)
        self.csv_button = self._button(self.tr("保存 CSV"), self.save_csv)
        self.print_button = self._button(self.tr("打印"), self.print_dialog)
        actions = QHBoxLayout()
        actions.addWidget(self.folder_label, 1)
        actions.addWidget(self.pdf_button)
        actions.addWidget(self.csv_button)
        actions.addWidget(self.print_button)
        self.body.addWidget(self.period_bar)
        self.body.addWidget(self.attendant_bar)
        self.body.addWidget(self.message)
        self.body.addWidget(self.browser, 1)
        self.body.addLayout(actions)
        self.browser.setMinimumHeight(target * 4)
        self._show_report(None)

    def _button(self, text: str, on_press: partial[None] | object) -> QPushButton:
        button = QPushButton(text)
        button.setMinimumSize(self.sizes.target * 2, self.sizes.target)
        assert callable(on_press)
        button.clicked.connect(lambda _checked=False: on_press())
        return button

    def _add_attendant_button(self, username: str | None, text: str) -> None:
        button = self._button(text, partial(self._attendant_clicked, username))
        button.setCheckable(True)
        self.attendant_row.insertWidget(len(self.attendant_buttons), button)
        self.attendant_buttons[username] = button

    # ------------------------------------------------------------------------------------------ building
    def show_shift(self, shift_id: int) -> None:
        """The report of a closed shift (an open one is refused in words)."""
        self.period_bar.hide()
        self.attendant_bar.hide()
        self.show_words(self.title, lambda: self.tr("班次报表 #%1").replace("%1", str(shift_id)))
        self.present()
        settings, engine = self.settings, self.engine
        self._build(lambda: build_shift_report(engine.database, settings, shift_id))

    def show_period(self, preset: Preset = "today", attendant: str | None = None) -> None:
        """A period's report, everyone's or one attendant's; the presets and attendants are one tap."""
        self.period_bar.show()
        self.attendant_bar.show()
        self.show_words(self.title, self.tr("期间报表"))
        self.present()
        self.office.run(_attendants, self.engine, on_done=self._on_attendants)
        self.build_period(preset, attendant)

    def build_period(self, preset: Preset, attendant: str | None) -> None:
        self.preset, self.attendant = preset, attendant
        for key, button in self.preset_buttons.items():
            button.setChecked(key == preset)
        for name, button in self.attendant_buttons.items():
            button.setChecked(name == attendant)
        settings, engine = self.settings, self.engine
        zone = settings.park.zone
        start, end = preset_period(preset, datetime.now(UTC).astimezone(zone).date(), zone)
        self._build(
            lambda: build_period_report(engine.database, settings, start, end, attendant=attendant)
        )

    def _preset_clicked(self, preset: Preset) -> None:
        self.build_period(preset, self.attendant)

    def _attendant_clicked(self, username: str | None) -> None:
        self.build_period(self.preset, username)

    def _on_attendants(self, outcome: object) -> None:
        if not isinstance(outcome, list):
            return
        for username in [u for u in self.attendant_buttons if u is not None]:
            button = self.attendant_buttons.pop(username)
            self.attendant_row.removeWidget(button)
            button.deleteLater()
        for person in outcome:
            assert isinstance(person, PersonRecord)
            self._add_attendant_button(person.username, person.display_name)
        for name, button in self.attendant_buttons.items():
            button.setChecked(name == self.attendant)

    def _build(self, build: object) -> None:
        assert callable(build)
        self._generation += 1
        self._show_report(None)
        self.say(self.tr("正在生成报表…"), busy=True)
        self.office.run(build, on_done=partial(self._on_built, self._generation))

    def _on_built(self, generation: int, outcome: object) -> None:
        if generation != self._generation:
            return  # another report was asked for meanwhile
        if isinstance(outcome, ReportError):
            self.say(partial(self.report_error_words, outcome))  # said again after a language switch
            return
        if isinstance(outcome, BaseException):
            self.say(partial(office_error_words, outcome))
            return
        assert isinstance(outcome, Report)
        self.say("", error=False)
        self._show_report(outcome)

    def report_error_words(self, exc: ReportError) -> str:
        """ReportError messages are English and name the problem; the common ones get Chinese words."""
        text = str(exc)
        if "still open" in text:
            return self.tr("该班次尚未交班：请先完成现金清点交班，再查看其报表")
        if text.startswith("no data between"):
            return self.tr("所选期间没有任何数据（无收费、无车辆进出）") + f"\n{text}"
        if text.startswith("there is no shift"):
            return self.tr("没有这个班次")
        return self.tr("无法生成报表：%1").replace("%1", text)

    def _show_report(self, report: Report | None) -> None:
        self.report = report
        if report is None:
            self.browser.clear()
        else:
            width = max(self.browser.viewport().width() - 24, self.sizes.target * 8)
            document = report_document(report, text_width=width, pixel_size=self.sizes.text)
            document.setParent(self.browser)
            self.browser.setDocument(document)
        for button in (self.pdf_button, self.csv_button, self.print_button):
            button.setEnabled(report is not None)
        self.show_words(self.folder_label, lambda: self.tr("导出到：%1").replace("%1", str(self.export_dir)))

    def retranslate(self) -> None:
        super().retranslate()
        if self.report is not None:  # the report on screen with its headings in the new language
            self._show_report(self.report)

    def say(self, text: str | Words, *, error: bool = True, busy: bool = False) -> None:
        """A line above the report: an error in red, a success ("saved") in green, work under way in grey
        (words with data: said again in the new language after a switch)."""
        text = self.show_words(self.message, text)
        self.message.setProperty("tone", "idle" if busy else "bad" if error else "ok")
        self.message.style().unpolish(self.message)
        self.message.style().polish(self.message)
        self.message.setVisible(bool(text))

    # ------------------------------------------------------------------------------------------ export
    def file_stem(self, report: Report) -> str:
        local = report.local
        if report.kind == "shift" and report.shift is not None:
            return f"shift-{report.shift.id}-{local(report.start):%Y%m%d-%H%M}"
        who = f"-{report.attendant}" if report.attendant else ""
        return f"period-{local(report.start):%Y%m%d}-{local(report.end):%Y%m%d}{who}"

    def save_pdf(self) -> Path | None:
        """Write the report's PDF into the export folder; the path (or why not) is shown."""
        report = self.report
        if report is None:
            return None
        path = self.export_dir / f"{self.file_stem(report)}.pdf"
        try:
            self.export_dir.mkdir(parents=True, exist_ok=True)
            render_pdf(report, path)
        except (OSError, ReportError) as exc:
            failed = str(exc)
            self.say(lambda: self.tr("PDF 保存失败：%1").replace("%1", failed))
            return None
        self.say(lambda: self.tr("已保存 PDF：%1").replace("%1", str(path)), error=False)
        return path

    def save_csv(self) -> None:
        """Write the report's CSV into the export folder (on the office thread); the path is shown."""
        report = self.report
        if report is None:
            return
        folder = self.export_dir
        path = folder / f"{self.file_stem(report)}.csv"

        def write() -> Path:
            folder.mkdir(parents=True, exist_ok=True)
            write_csv(report, path)
            return path

        self.office.run(write, on_done=self._on_csv)

    def _on_csv(self, outcome: object) -> None:
        if isinstance(outcome, BaseException):
            self.say(lambda: self.tr("CSV 保存失败：%1").replace("%1", str(outcome)))
            return
        self.say(lambda: self.tr("已保存 CSV：%1").replace("%1", str(outcome)), error=False)

    def print_dialog(self) -> None:
        """The system's print dialog (window-modal, opened without waiting); printing starts on OK."""
        if self.report is None:
            return
        printer = QPrinter(QPrinter.PrinterMode.HighResolution)
        dialog = QPrintDialog(printer, self)
        dialog.accepted.connect(partial(self.print_to, printer))
        self._print_dialog = dialog
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.show()  # not exec(): the GUI thread never waits in a nested loop

    def print_to(self, printer: QPrinter) -> None:
        if self.report is None:
            return
        try:
            print_report(self.report, printer)
        except (OSError, ReportError) as exc:
            failed = str(exc)
            self.say(lambda: self.tr("打印失败：%1").replace("%1", failed))
            return
        self.say(self.tr("已发送到打印机"), error=False)
