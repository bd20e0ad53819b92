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
from report_data import short_shift_report

from PySide6.QtCore import QMarginsF
from PySide6.QtGui import QColor, QImage, QPageLayout, QPageSize, QPdfWriter, QTextCursor
from PySide6.QtPrintSupport import QPrinter
from PySide6.QtWidgets import QApplication

from booth.config import Settings, settings_from_mapping
from booth.domain.money import format_yuan
from booth.office.reports import Report, ReportError, build_shift_report
from booth.store import Database, Store, open_database
from booth.store.models import LaneException, Person, Shift
from ui.kit import i18n
from ui.office.report_document import (
    hourly_chart,
    page_spans,
    paged_document,
    print_report,
    render_pdf,
    report_html,
)

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


def _pdf_pages(pdf: Path) -> list[str]:
    """The text of each page of ``pdf`` as poppler reads it (pdfinfo for the count, pdftotext a page)."""
    def run(*command: str) -> str:
        return subprocess.run(command, check=True, capture_output=True, text=True, timeout=60).stdout

    pages = re.search(r"^Pages:\s+(\d+)", run("pdfinfo", str(pdf)), re.M)
    assert pages is not None
    numbers = [str(n) for n in range(1, int(pages[1]) + 1)]
    return [run("pdftotext", "-layout", "-f", n, "-l", n, str(pdf), "-") for n in numbers]


CASH_ROWS = ("备用金", "现金收入", "应有现金", "清点现金", "差额", "主管签字", "留给下一班的备用金", "备注")


def test_a_four_minute_shift_is_one_page_with_the_cash_table_whole(
    qapp: QApplication, tmp_path: Path
) -> None:
    report = short_shift_report(tmp_path)
    pdf = tmp_path / "shift.pdf"
    render_pdf(report, pdf)
    [page] = _pdf_pages(pdf)
    text = re.sub(r"\s+", "", page)  # a line wrapped in the PDF is one text here
    for label in (*CASH_ROWS, "收款合计：12.00元（2笔）", "以下各项无记录：", "同步积压"):
        assert label in text, label
    assert "0.00（账实相符）" in text and "第1/1页" in text
    assert "时段：2026-11-0208:30" in text and "08:34（Asia/Shanghai）" in text


@pytest.mark.parametrize("exceptions", [2, 9, 24, 120])
def test_tables_stay_whole_rows_never_split_and_no_page_holds_only_a_trailing_line(
    qapp: QApplication, tmp_path: Path, exceptions: int
) -> None:
    """However long the lists, a heading with its table stays on one page when it fits on one, a longer
    table runs on with each row whole, and the last page has more on it than a line."""
    report = short_shift_report(tmp_path, busy=True, exceptions=exceptions)
    pdf = tmp_path / "busy.pdf"
    writer = QPdfWriter(str(tmp_path / "layout.pdf"))
    writer.setResolution(300)
    writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
    writer.setPageMargins(QMarginsF(15, 12, 15, 15), QPageLayout.Unit.Millimeter)
    document = paged_document(report, writer)
    height = document.pageSize().height()
    spans = page_spans(document)
    assert [words for words, *_ in spans][-3:] == ["免费放行与人工抬杆", "未付款出场", "同步积压"]
    for words, first, last, fits in spans:
        assert first == last or not fits, (words, first, last)
    rows = 0
    block = document.begin()
    while block.isValid():
        table = QTextCursor(block).currentTable()
        if table is not None and block.position() == table.cellAt(0, 0).firstPosition():
            for row in range(table.rows()):
                for column in range(table.columns()):
                    rect = document.documentLayout().blockBoundingRect(
                        table.cellAt(row, column).firstCursorPosition().block()
                    )
                    assert int(rect.top() // height) == int((rect.bottom() - 1) // height), (row, column)
                rows += 1
        block = block.next()
    assert rows > exceptions
    del writer

    render_pdf(report, pdf)
    pages = _pdf_pages(pdf)
    assert len(pages) == document.pageCount()
    [cash_page] = [page for page in pages if "应有现金" in page]
    assert all(label in cash_page for label in CASH_ROWS)
    last = [line for line in pages[-1].splitlines() if line.strip() and "页" not in line]
    assert len(last) > 2, pages[-1]
    assert f"第{len(pages)}/{len(pages)}页" in re.sub(r"\s+", "", pages[-1])
    # every free release printed once (they are in no other list): no row lost or cut at a page's end
    assert "".join(pages).count("员工车辆") == (exceptions + 1) // 2
