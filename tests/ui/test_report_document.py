"""The report as a document: the PDF (Qt's writer) read back by poppler (pdftotext, pdftoppm), the printer
path, and the HTML the screen shows."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from PySide6.QtGui import QColor, QImage
from PySide6.QtPrintSupport import QPrinter
from PySide6.QtWidgets import QApplication

from booth.config import Settings, settings_from_mapping
from booth.domain.money import format_yuan
from booth.office.reports import Report, ReportError, build_shift_report
from booth.store import Database, Store, open_database
from booth.store.models import LaneException, Person, Shift
from ui.kit import i18n
from ui.office.report_document import hourly_chart, print_report, render_pdf, report_html

LOT = "测试停车场"
T0 = datetime(2026, 11, 2, 0, 30, tzinfo=UTC)  # 08:30 in the lot (Asia/Shanghai)


@pytest.fixture
def report(tmp_path: Path) -> Iterator[Report]:
    settings: Settings = settings_from_mapping(
        {
            "park": {"name": LOT, "province": "苏"},
            "bolink": {"base_url": "sandbox", "union_id": "1", "park_id": "1", "ukey": "k", "local_id": "b"},
            "lanes": [{"id": "X1", "name": "东出口", "direction": "exit", "channel_id": "X1"}],
            "database": {"url": f"sqlite:///{tmp_path / 'report.sqlite'}"},
        }
    )
    db: Database = open_database(settings.database.url)
    try:
        store = Store(db)
        for n, (channel, pay_channel, fen) in enumerate(
            [("cash", None, 1500), ("scancode", 1, 1250), ("scancode", 0, 800), ("wallet", 2, 600)]
        ):
            stay = store.create_stay(
                order_id=f"X1_{n}", plate=f"苏A1000{n}", plate_colour="blue", vehicle_class="small",
                lane_id="X1", entry_at=T0 - timedelta(hours=2),
            )  # fmt: skip
            store.record_payment(
                order_ref=stay.order_id, exit_order_id=None, channel=channel, pay_channel=pay_channel,
                trade_no=None if channel == "cash" else f"T{n}", amount_fen=fen,
                paid_at=T0 + timedelta(minutes=20 * n), lane_id="X1", operator="zhang", payer_id=None,
                raw=None,
            )  # fmt: skip
            store.close_stay(stay.id, lane_id="X1", exit_at=T0 + timedelta(minutes=20 * n + 1))
        with db.sessionmaker.begin() as session:
            person = Person(
                username="zhang", display_name="张三", role="attendant", pin_hash="x", failed_pins=0,
                created_at=T0, created_by="test",
            )  # fmt: skip
            session.add(person)
            session.flush()
            session.add(
                Shift(
                    attendant_id=person.id, state="closed", opened_at=T0, opening_float_fen=50_000,
                    closed_at=T0 + timedelta(hours=3),
                    counted_json=json.dumps({"10000": 5, "1000": 1, "500": 1}),
                    counted_fen=51_500, expected_fen=51_500, variance_fen=0, cosigned_by=None,
                    handover_float_fen=50_000, close_note="",
                )
            )  # fmt: skip
            session.add(
                LaneException(
                    at=T0 + timedelta(hours=2), kind="free_release", lane_id="X1", stay_id=None,
                    exit_order_id=None, plate="苏B88888", due_fen=500, reason="员工车辆", note="",
                    operator="zhang", approved_by=None, photo=None,
                )
            )  # fmt: skip
        yield build_shift_report(db, settings, 1)
    finally:
        db.close()


def _non_white(image: QImage) -> int:
    white = QColor("white").rgb()
    step = 3
    return sum(
        1
        for y in range(0, image.height(), step)
        for x in range(0, image.width(), step)
        if image.pixel(x, y) != white
    )


def test_pdf_shows_the_lot_name_and_the_totals_and_renders(
    qapp: QApplication, report: Report, tmp_path: Path
) -> None:
    assert report.total_fen == 4150
    pdf = tmp_path / "shift.pdf"
    render_pdf(report, pdf)
    assert pdf.read_bytes().startswith(b"%PDF")
    text = subprocess.run(
        ["pdftotext", "-layout", str(pdf), "-"], check=True, capture_output=True, text=True, timeout=60
    ).stdout
    assert LOT in text
    assert "张三" in text and "员工车辆" in text
    assert format_yuan(report.total_fen) in text  # 41.50
    for channel in report.by_channel:
        assert format_yuan(channel.amount_fen) in text
    subprocess.run(
        ["pdftoppm", "-r", "50", "-png", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")],
        check=True,
        capture_output=True,
        timeout=60,
    )
    [page] = sorted(tmp_path.glob("page*.png"))
    image = QImage(str(page))
    assert not image.isNull() and image.width() > 300  # A4 at 50 dpi: 413 x 585
    assert _non_white(image) > 500


def test_print_report_goes_to_a_printer(qapp: QApplication, report: Report, tmp_path: Path) -> None:
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    printed = tmp_path / "printed.pdf"
    printer.setOutputFileName(str(printed))
    print_report(report, printer)
    del printer
    text = subprocess.run(["pdftotext", str(printed), "-"], check=True, capture_output=True, text=True).stdout
    assert LOT in text and "41.50" in text


def test_html_and_chart(qapp: QApplication, report: Report) -> None:
    page = report_html(report)
    assert LOT in page and "现金" in page and "支付宝" in page and "微信" in page
    assert "41.50" in page and "500.00" in page  # the total and the float
    chart = hourly_chart(report)
    assert _non_white(chart) > 1000  # axes, bars and labels were drawn


def test_unwritable_pdf_is_refused_by_name(qapp: QApplication, report: Report, tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="cannot write the PDF file"):
        render_pdf(report, tmp_path / "no-such-dir" / "x.pdf")


def test_the_report_reads_in_english_when_english_is_chosen(
    qapp: QApplication, report: Report, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Headings, table headers, row labels and the chart's words all come from the translation."""
    monkeypatch.setenv(i18n.CACHE_ENV, str(tmp_path / "qm"))
    i18n.switch_language(qapp, "en")
    try:
        page = report_html(report)
        text = re.sub(r"<[^>]+>", " ", page)
        for data in (LOT, "张三", "员工车辆", "东出口", *(f"苏A1000{n}" for n in range(4)), "苏B88888"):
            text = text.replace(data, "")
        assert not re.findall(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]+", text)
        assert "Shift report #1" in page and "Total received" in page and "Cash" in page
    finally:
        i18n.switch_language(qapp, "zh_CN")
    assert "班次报表 #1" in report_html(report)
