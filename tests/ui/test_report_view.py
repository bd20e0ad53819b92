"""Reports in the window: a closed shift's report on screen, saved as PDF and CSV, printed; a report asked
for an open shift and a period with no data are refused in words."""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from lane_driving import bring_car
from people_driving import ATTENDANT, SUPERVISOR, SUPERVISOR_PIN, WAIT_MS, seed_people, tap

from PySide6.QtPrintSupport import QPrinter
from PySide6.QtWidgets import QApplication

import ui.kit.i18n as i18n
from booth.config import Settings
from booth.domain.money import format_yuan
from booth.engine import Engine
from booth.office.reports import read_csv_totals
from booth.office.shifts import ShiftRecord, Shifts
from ui.office.report_view import ReportView
from ui.shell.main_window import BoothWindow


@pytest.fixture
def shifts(engine: Engine) -> Shifts:
    return seed_people(engine)[1]


@pytest.fixture
def view(window: BoothWindow, tmp_path: Path) -> ReportView:
    view = window.staff_screens.report_view
    view.export_dir = tmp_path / "exports"
    return view


def shift_with_cash(engine: Engine, shifts: Shifts) -> tuple[ShiftRecord, int]:
    shift = shifts.open(ATTENDANT, opening_float_fen=10_000)
    bring_car(engine, "X1", "苏A12345")
    due = next(v for v in engine.snapshot() if v.lane_id == "X1").due_fen
    assert due is not None and due > 0
    engine.cash("X1", due, ATTENDANT).result(10)
    # the car has left (gate lifted, stay closed) before the shift is closed: else the report lists it as
    # "paid, not out" and the one-page check below read a report that depended on the machine's speed
    deadline = time.monotonic() + WAIT_MS / 1000
    while engine.exits_completed < 1:
        assert time.monotonic() < deadline, "the cash-paid car never left"
        time.sleep(0.01)
    return shift, due


def test_a_closed_shift_report_on_screen_as_pdf_csv_and_printed(
    qtbot: Any, view: ReportView, engine: Engine, shifts: Shifts, settings: Settings, tmp_path: Path
) -> None:
    shift, due = shift_with_cash(engine, shifts)
    view.show_shift(shift.id)  # still open: refused in words, nothing shown
    qtbot.waitUntil(lambda: "尚未交班" in view.message.text(), timeout=WAIT_MS)
    assert view.report is None and not view.pdf_button.isEnabled()

    shifts.close(shift.id, {10_000: 1}, handover_float_fen=10_000, cosigner=(SUPERVISOR, SUPERVISOR_PIN))
    view.show_shift(shift.id)
    qtbot.waitUntil(lambda: view.report is not None, timeout=WAIT_MS)
    text = view.browser.toPlainText()
    assert settings.park.name in text and format_yuan(due) in text
    assert view.isVisible() and view.message.isHidden()
    assert str(view.export_dir) in view.folder_label.text()

    # the text at the touchscreen's size (the window's text size), not the paper's 9 pt
    assert view.browser.document().defaultFont().pixelSize() == view.sizes.text >= 16

    pdf = view.save_pdf()
    assert pdf is not None and pdf.read_bytes().startswith(b"%PDF")
    assert str(pdf) in view.message.text()
    # a shift of a few minutes from a real engine is one A4 page (it was three, the last a lone line)
    info = subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True, text=True).stdout
    assert re.search(r"^Pages:\s+1$", info, re.M), info
    # "saved" reads in a positive colour (green), a refusal in red
    saved = view.message.palette().color(view.message.foregroundRole())
    assert view.message.property("tone") == "ok" and saved.green() > saved.red() + 60, saved.name()
    view.say("x")
    refused = view.message.palette().color(view.message.foregroundRole())
    assert view.message.property("tone") == "bad" and refused.red() > refused.green() + 60, refused.name()
    tap(qtbot, view.csv_button)
    qtbot.waitUntil(lambda: "已保存 CSV" in view.message.text(), timeout=WAIT_MS)
    csv_files = list(view.export_dir.glob("*.csv"))
    assert len(csv_files) == 1 and read_csv_totals(csv_files[0])["total"] == due

    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    printer.setOutputFileName(str(tmp_path / "printed.pdf"))
    view.print_to(printer)
    assert (tmp_path / "printed.pdf").read_bytes().startswith(b"%PDF")
    assert view.message.text() == "已发送到打印机"


def test_period_reports_by_preset_and_attendant_and_a_period_without_data(
    qtbot: Any, view: ReportView, engine: Engine, shifts: Shifts
) -> None:
    _shift, due = shift_with_cash(engine, shifts)
    view.show_period("today")
    qtbot.waitUntil(lambda: view.report is not None, timeout=WAIT_MS)
    assert view.report is not None and view.report.total_fen == due
    qtbot.waitUntil(lambda: ATTENDANT in view.attendant_buttons, timeout=WAIT_MS)

    tap(qtbot, view.preset_buttons["last_month"])
    qtbot.waitUntil(lambda: "没有任何数据" in view.message.text(), timeout=WAIT_MS)
    assert view.report is None and view.browser.toPlainText() == ""

    qtbot.waitUntil(lambda: view.attendant_buttons[ATTENDANT].isVisible(), timeout=WAIT_MS)
    tap(qtbot, view.preset_buttons["today"])
    qtbot.waitUntil(lambda: view.report is not None, timeout=WAIT_MS)
    tap(qtbot, view.attendant_buttons[ATTENDANT])
    qtbot.waitUntil(lambda: view.report is not None and view.report.attendant == ATTENDANT, timeout=WAIT_MS)
    assert view.report is not None and view.report.total_fen == due
    assert "王芳" in view.browser.toPlainText()


def test_a_refused_report_and_the_report_shown_follow_a_language_switch(
    qtbot: Any, qapp: QApplication, view: ReportView, engine: Engine, shifts: Shifts
) -> None:
    """Issue #15: a period refused for having no data (its words, then the store's own English detail), the
    export folder's line and the report on screen are said again in the language switched to; they stayed in
    the language they were first said in."""
    shift_with_cash(engine, shifts)
    view.show_period("today")
    qtbot.waitUntil(lambda: view.report is not None, timeout=WAIT_MS)
    shown = view.browser.toPlainText()
    folder = f"导出到：{view.export_dir}"
    assert view.folder_label.text() == folder and view.title.text() == "期间报表"
    try:
        i18n.switch_language(qapp, "en")
        qtbot.waitUntil(lambda: view.title.text() == "Period report", timeout=WAIT_MS)  # posted: wait
        assert "Period report" in view.browser.toPlainText() and "期间报表" not in view.browser.toPlainText()
        assert view.folder_label.text() == f"Export to: {view.export_dir}"
        i18n.switch_language(qapp, "zh_CN")
        qtbot.waitUntil(lambda: view.title.text() == "期间报表", timeout=WAIT_MS)
        assert view.browser.toPlainText() == shown and view.folder_label.text() == folder

        tap(qtbot, view.preset_buttons["last_month"])
        qtbot.waitUntil(lambda: "没有任何数据" in view.message.text(), timeout=WAIT_MS)
        refused = view.message.text()
        words, detail = refused.split("\n", 1)
        assert words == "所选期间没有任何数据（无收费、无车辆进出）" and detail.startswith("no data between")
        i18n.switch_language(qapp, "en")
        qtbot.waitUntil(lambda: view.title.text() == "Period report", timeout=WAIT_MS)
        english = "Nothing in the chosen period (no payments, no vehicles in or out)"
        assert view.message.text() == f"{english}\n{detail}" and view.message.isVisible()
    finally:
        i18n.switch_language(qapp, "zh_CN")
    qtbot.waitUntil(lambda: view.title.text() == "期间报表", timeout=WAIT_MS)
    assert view.message.text() == refused
