"""A report (booth.reports.Report) as a document: HTML for the screen, a PDF file and the printer.

One QTextDocument serves all three, so what is printed is what was shown. The hourly chart is drawn with
QPainter into a QImage that the document holds as a resource. Chinese text needs a font with its glyphs:
the document uses the system CJK family (ui.kit.style.pick_cjk_family; fonts-noto-cjk via fontconfig), and
Qt's own PDF writer embeds the glyphs it uses, with their Unicode mapping, so the text can be searched and
copied.
Every label goes through QCoreApplication.translate (context "Report").
"""

from __future__ import annotations

import html
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TypeAlias

from PySide6.QtCore import QCoreApplication, QMarginsF, QPointF, QRectF, QSizeF, Qt, QUrl
from PySide6.QtGui import (
    QColor,
    QFont,
    QGuiApplication,
    QImage,
    QPageLayout,
    QPageSize,
    QPainter,
    QPdfWriter,
    QPen,
    QRawFont,
    QTextBlock,
    QTextCursor,
    QTextDocument,
    QTextFormat,
    QTextTable,
)
from PySide6.QtPrintSupport import QPrinter

from booth.domain.money import format_yuan
from booth.office.reports import Report, ReportError
from ui.kit.style import pick_cjk_family
from ui.kit.wording import QT_TRANSLATE_NOOP, cloud_words

CHART_URL = QUrl("booth-report://hourly-chart.png")
CHART_SIZE = (1800, 560)  # pixels; shown at the text width
PDF_DPI = 300
BASE_POINT_SIZE = 9.0
FOOTER_MM = 6.0  # the page number, in the page's bottom margin (in the page when the margin is narrower)
CHART_MIN_BUCKETS = 4  # fewer hours than this are a table, not a chart

_CHANNELS = {
    "cash": QT_TRANSLATE_NOOP("Report", "现金"),
    "wallet": QT_TRANSLATE_NOOP("Report", "泊链钱包"),
    "scancode": QT_TRANSLATE_NOOP("Report", "泊链扫码"),
    "sweepcode": QT_TRANSLATE_NOOP("Report", "泊链被扫"),
    "prepay": QT_TRANSLATE_NOOP("Report", "预付"),
    "monthuser": QT_TRANSLATE_NOOP("Report", "月卡"),
    "free": QT_TRANSLATE_NOOP("Report", "免费"),
}
_PAY_CHANNELS = {
    "wechat": QT_TRANSLATE_NOOP("Report", "微信"),
    "alipay": QT_TRANSLATE_NOOP("Report", "支付宝"),
    "unionpay": QT_TRANSLATE_NOOP("Report", "银联"),
    "balance": QT_TRANSLATE_NOOP("Report", "余额"),
    "none": QT_TRANSLATE_NOOP("Report", "未注明（现金等）"),
}
_FLAGS = {
    "late_after_settlement": QT_TRANSLATE_NOOP("Report", "车辆离场后到账"),
    "unknown_order": QT_TRANSLATE_NOOP("Report", "未知订单"),
    "not_at_this_lane": QT_TRANSLATE_NOOP("Report", "非本车道订单"),
    "exit_in_progress": QT_TRANSLATE_NOOP("Report", "出场结算中到账"),
}
_EXCEPTIONS = {
    "free_release": QT_TRANSLATE_NOOP("Report", "免费放行"),
    "manual_lift": QT_TRANSLATE_NOOP("Report", "人工抬杆"),
}
_ARREARS = {
    "noticed": QT_TRANSLATE_NOOP("Report", "新记欠费"),
    "collected": QT_TRANSLATE_NOOP("Report", "收回欠费"),
    "waived": QT_TRANSLATE_NOOP("Report", "免收欠费"),
    "open": QT_TRANSLATE_NOOP("Report", "未收欠费"),
}
_SETTLEMENTS = {
    "paid": QT_TRANSLATE_NOOP("Report", "已支付"),
    "released": QT_TRANSLATE_NOOP("Report", "放行（未收费）"),
    "cancelled": QT_TRANSLATE_NOOP("Report", "已取消"),
}
_UNPAID = {
    "missed_exit": QT_TRANSLATE_NOOP("Report", "漏记出场"),
    "manual_lift": QT_TRANSLATE_NOOP("Report", "人工抬杆"),
}
_BACKLOG = {"pending": QT_TRANSLATE_NOOP("Report", "待发"), "dead": QT_TRANSLATE_NOOP("Report", "失败")}


translate = QCoreApplication.translate  # lupdate reads translate("Report", "...") outside f-strings only


def _tr(text: str) -> str:
    """A label from a table marked with QT_TRANSLATE_NOOP("Report", ...)."""
    return translate("Report", text)


def _h3(text: str) -> str:
    return f"<h3>{_e(text)}</h3>"


def _label(table: dict[str, str], key: str) -> str:
    return _tr(table[key]) if key in table else key


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _y(fen: int | None) -> str:
    return "—" if fen is None else format_yuan(fen)


def _fill(template: str, *values: object) -> str:
    """``template`` with %1, %2, ... replaced in one pass (a value holding "%2" stays)."""

    def value(match: re.Match[str]) -> str:
        number = int(match[1])
        return str(values[number - 1]) if 0 < number <= len(values) else match[0]

    return re.sub(r"%(\d)", value, template)


def _table(header: Sequence[str], rows: Sequence[Sequence[object]], *, numeric_from: int = 99) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td align="right">{_e(v)}</td>' if i >= numeric_from else f"<td>{_e(v)}</td>"
            for i, v in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return (
        '<table border="1" cellspacing="0" cellpadding="2" width="100%">'
        f"<thead><tr>{head}</tr></thead>{body}</table>"
    )


def _more(count: int) -> str:
    if count <= 0:
        return ""
    more = translate("Report", "另有 %1 条未列出").replace("%1", str(count))
    return f"<p><i>{_e(more)}</i></p>"


def report_title(report: Report) -> str:
    if report.kind == "shift" and report.shift is not None:
        return (
            translate("Report", "班次报表 #%1 · %2")
            .replace("%1", str(report.shift.id))
            .replace("%2", report.shift.attendant_name)
        )
    title = translate("Report", "期间报表 %1 – %2").replace("%1", report.local_text(report.start))
    title = title.replace("%2", report.local_text(report.end))
    if report.attendant_name:
        title += " · " + report.attendant_name
    return title


def report_html(report: Report) -> str:
    """The report as Qt rich text (the subset of HTML QTextDocument reads); the chart is CHART_URL."""
    r = report
    lt = r.local_text
    period = _fill(translate("Report", "时段：%1 – %2（%3）"), lt(r.start), lt(r.end), r.zone)
    generated = _fill(translate("Report", "生成时间：%1"), lt(r.generated_at))
    total_words = translate("Report", "收款合计：%1 元（%2 笔）")
    total = _fill(total_words, format_yuan(r.total_fen), r.payment_count)
    counted_words = translate("Report", "已计收 %1；已标记待处理 %2")
    counted = _fill(counted_words, format_yuan(r.counted_fen), format_yuan(r.flagged_fen))
    none: list[str] = []  # the lists with nothing in them: named on one line at the end

    def listing(title: str, header: Sequence[str], rows: Sequence[Sequence[object]], more: int) -> list[str]:
        if not rows:
            none.append(title)
            return []
        return [_h3(title), _table(header, rows) + _more(more)]

    parts = [
        f"<h1>{_e(r.lot_name)}</h1>",
        f"<h2>{_e(report_title(r))}</h2>",
        f"<p>{_e(period)}&nbsp;&nbsp;{_e(generated)}</p>",
        f"<h3>{_e(total)}</h3>",
        f"<p>{_e(counted)}</p>",
        _h3(translate("Report", "按支付方式")),
        _table(
            [translate("Report", "支付方式"), translate("Report", "笔数"), translate("Report", "金额（元）")],
            [
                *([_label(_CHANNELS, c.key), c.count, format_yuan(c.amount_fen)] for c in r.by_channel),
                [translate("Report", "合计"), r.payment_count, format_yuan(r.total_fen)],
            ],
            numeric_from=1,
        ),
        _h3(translate("Report", "按支付渠道")),
        _table(
            [translate("Report", "渠道"), translate("Report", "笔数"), translate("Report", "金额（元）")],
            [[_label(_PAY_CHANNELS, c.key), c.count, format_yuan(c.amount_fen)] for c in r.by_pay_channel],
            numeric_from=1,
        ),
    ]
    if r.by_flag:
        parts += [
            _h3(translate("Report", "已标记的付款")),
            _table(
                [translate("Report", "原因"), translate("Report", "笔数"), translate("Report", "金额（元）")],
                [[_label(_FLAGS, c.key), c.count, format_yuan(c.amount_fen)] for c in r.by_flag],
                numeric_from=1,
            ),
        ]
    parts += [
        _h3(translate("Report", "车辆")),
        _table(
            [translate("Report", "项目"), translate("Report", "数量"), translate("Report", "金额（元）")],
            [
                [translate("Report", "入场车辆"), r.vehicles_in, ""],
                [translate("Report", "出场车辆"), r.vehicles_out, ""],
                [translate("Report", "漏记出场"), r.missed_exits, ""],
                *(
                    [_label(_ARREARS, c.key), c.count, format_yuan(c.amount_fen)]
                    for c in r.arrears
                    if c.count
                ),
                *(
                    [
                        _fill(translate("Report", "结算：%1"), _label(_SETTLEMENTS, c.key)),
                        c.count,
                        format_yuan(c.amount_fen),
                    ]
                    for c in r.settlements
                ),
                *(
                    [_label(_EXCEPTIONS, c.key), c.count, format_yuan(c.amount_fen)]
                    for c in r.exception_totals
                ),
                [translate("Report", "支付失败"), r.failed_payments.total, ""],
            ],
            numeric_from=1,
        ),
    ]
    if r.cash is not None:
        c = r.cash
        parts += [
            _h3(translate("Report", "现金")),
            _table(
                [translate("Report", "项目"), translate("Report", "金额（元）")],
                [
                    [translate("Report", "备用金"), _y(c.opening_float_fen)],
                    [
                        _fill(translate("Report", "现金收入（%1 笔）"), c.cash_payments),
                        _y(c.cash_taken_fen),
                    ],
                    [translate("Report", "应有现金"), _y(c.expected_fen)],
                    *([f"{format_yuan(d)} × {n}", format_yuan(d * n)] for d, n in c.counted if n),
                    [translate("Report", "清点现金"), _y(c.counted_fen)],
                    [translate("Report", "差额"), _variance_words(c.variance_fen)],
                    [translate("Report", "主管签字"), c.cosigned_by or "—"],
                    [translate("Report", "留给下一班的备用金"), _y(c.handover_float_fen)],
                    [translate("Report", "备注"), c.close_note or "—"],
                ],
                numeric_from=1,
            ),
        ]
    hourly_title = (
        translate("Report", "每小时出场与收款")
        if r.hourly_kind == "hour"
        else translate("Report", "按时段（全期合计）出场与收款")
    )
    parts.append(f"<h3>{_e(hourly_title)}</h3>")
    if len(r.hourly) < CHART_MIN_BUCKETS:  # a few hours: a chart would be a bar or two, a table says more
        parts.append(
            _table(
                [
                    translate("Report", "时段"),
                    translate("Report", "出场（辆）"),
                    translate("Report", "收款（元）"),
                ],
                [[h.label, h.exits, format_yuan(h.revenue_fen)] for h in r.hourly],
                numeric_from=1,
            )
        )
    else:
        parts.append(f'<p><img src="{CHART_URL.toString()}" width="{{chart_width}}"></p>')
    parts += listing(
        translate("Report", "免费放行与人工抬杆"),
        [
            translate("Report", "时间"),
            translate("Report", "类型"),
            translate("Report", "车道"),
            translate("Report", "车牌"),
            translate("Report", "应收（元）"),
            translate("Report", "原因"),
            translate("Report", "操作人"),
            translate("Report", "批准人"),
        ],
        [
            [
                lt(e.at),
                _label(_EXCEPTIONS, e.kind),
                e.lane_id,
                e.plate or "",
                format_yuan(e.due_fen),
                _fill(translate("Report", "%1（%2）"), e.reason, e.note) if e.note else e.reason,
                e.operator,
                e.approved_by or "",
            ]
            for e in r.exceptions.items
        ],
        r.exceptions.more,
    )
    parts += listing(
        translate("Report", "支付失败"),
        [
            translate("Report", "时间"),
            translate("Report", "车道"),
            translate("Report", "车牌"),
            translate("Report", "金额（元）"),
            translate("Report", "方式"),
            translate("Report", "错误"),
        ],
        [
            [lt(f.at), f.lane_id, f.plate, _y(f.amount_fen), _label(_CHANNELS, f.pay_type), f.errmsg]
            for f in r.failed_payments.items
        ],
        r.failed_payments.more,
    )
    for title, payments in (
        (translate("Report", "车辆离场后到账"), r.late_payments),
        (translate("Report", "其他已标记的付款"), r.other_flagged),
    ):
        parts += listing(
            title,
            [
                translate("Report", "时间"),
                translate("Report", "方式"),
                translate("Report", "金额（元）"),
                translate("Report", "交易号"),
                translate("Report", "车牌/订单"),
                translate("Report", "原因"),
            ],
            [
                [
                    lt(p.paid_at),
                    _label(_CHANNELS, p.channel),
                    format_yuan(p.amount_fen),
                    p.trade_no or "",
                    p.plate or p.order_ref,
                    _label(_FLAGS, p.flag or ""),
                ]
                for p in payments.items
            ],
            payments.more,
        )
    parts += listing(
        translate("Report", "已付款未出场"),
        [
            translate("Report", "车牌"),
            translate("Report", "入场时间"),
            translate("Report", "已付（元）"),
            translate("Report", "最后付款"),
        ],
        [
            [p.plate, lt(p.entry_at), format_yuan(p.paid_fen), lt(p.last_paid_at)]
            for p in r.paid_not_exited.items
        ],
        r.paid_not_exited.more,
    )
    parts += listing(
        translate("Report", "未付款出场"),
        [
            translate("Report", "时间"),
            translate("Report", "类型"),
            translate("Report", "车牌"),
            translate("Report", "入场时间"),
            translate("Report", "车道"),
            translate("Report", "应收（元）"),
            translate("Report", "操作人"),
            translate("Report", "原因"),
        ],
        [
            [
                lt(u.at),
                _label(_UNPAID, u.kind),
                u.plate,
                lt(u.entry_at) if u.entry_at else "",
                u.lane_id or "",
                _y(u.due_fen),
                u.operator or "",
                u.reason or "",
            ]
            for u in r.exited_unpaid.items
        ],
        r.exited_unpaid.more,
    )
    parts += listing(
        translate("Report", "同步积压"),
        [
            translate("Report", "平台"),
            translate("Report", "状态"),
            translate("Report", "条数"),
            translate("Report", "最早"),
        ],
        [
            [cloud_words(b.cloud), _label(_BACKLOG, b.state), b.count, lt(b.oldest_at) if b.oldest_at else ""]
            for b in r.sync_backlog
        ],
        0,
    )
    if none:
        nothing = _fill(translate("Report", "以下各项无记录：%1"), translate("Report", "、").join(none))
        parts.append(f"<p>{_e(nothing)}</p>")
    return "\n".join(parts)


def _variance_words(fen: int | None) -> str:
    """The variance with its sign and, in words, over, short or exact: "−3.00（短款）"."""
    if fen is None:
        return "—"
    sign = "+" if fen > 0 else "−" if fen < 0 else ""
    verdict = (
        translate("Report", "长款") if fen > 0 else translate("Report", "短款") if fen < 0
        else translate("Report", "账实相符")
    )
    return _fill(translate("Report", "%1（%2）"), sign + format_yuan(abs(fen)), verdict)


def hourly_chart(report: Report, family: str | None = None) -> QImage:
    """Revenue per hour as bars (yuan, left scale) and exits per hour as dots (right scale)."""
    width, height = CHART_SIZE
    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = QFont(family) if family else QFont()
        font.setPixelSize(22)
        painter.setFont(font)
        left, right, top, bottom = 110.0, 90.0, 50.0, 60.0
        plot = QRectF(left, top, width - left - right, height - top - bottom)
        buckets = report.hourly
        top_fen = max((h.revenue_fen for h in buckets), default=0) or 100
        top_exits = max((h.exits for h in buckets), default=0) or 1
        painter.setPen(QPen(QColor("#444444"), 2))
        painter.drawRect(plot)
        painter.drawText(QPointF(left, top - 16), translate("Report", "收款（元）"))
        exits_label = translate("Report", "出场（辆）")
        label_x = width - right - painter.fontMetrics().horizontalAdvance(exits_label)
        painter.drawText(QPointF(label_x, top - 16), exits_label)
        painter.drawText(
            QRectF(0, plot.top() - 12, left - 8, 24), Qt.AlignmentFlag.AlignRight, format_yuan(top_fen)
        )
        painter.drawText(QRectF(0, plot.bottom() - 12, left - 8, 24), Qt.AlignmentFlag.AlignRight, "0")
        painter.drawText(QRectF(plot.right() + 8, plot.top() - 12, right, 24), Qt.AlignmentFlag.AlignLeft,
                         str(top_exits))  # fmt: skip
        n = max(len(buckets), 1)
        slot = plot.width() / n
        every = max(1, round(n / 12))
        for i, bucket in enumerate(buckets):
            x = plot.left() + i * slot
            bar = plot.height() * bucket.revenue_fen / top_fen
            painter.fillRect(QRectF(x + slot * 0.15, plot.bottom() - bar, slot * 0.7, bar), QColor("#2f7dd1"))
            if bucket.exits:
                y = plot.bottom() - plot.height() * bucket.exits / top_exits
                painter.setBrush(QColor("#e07b00"))
                painter.setPen(Qt.PenStyle.NoPen)
                painter.drawEllipse(QPointF(x + slot / 2, y), 6, 6)
                painter.setPen(QPen(QColor("#444444"), 2))
            if i % every == 0:
                label = bucket.label
                if report.hourly_kind == "hour" and i and bucket.hour:
                    label = label[-5:]  # "08:00"; the first bucket and midnights keep the date
                painter.drawText(
                    QRectF(x - 80, plot.bottom() + 6, slot + 160, 26), Qt.AlignmentFlag.AlignHCenter, label
                )
    finally:
        painter.end()
    return image


def report_document(
    report: Report, text_width: float | None = None, *, pixel_size: int | None = None
) -> QTextDocument:
    """The document the screen shows and the printer and the PDF get; ``text_width`` in 96-dpi pixels (the
    chart's width). ``pixel_size``: the screen's text size in pixels (the touchscreen's, read at arm's
    length); None: BASE_POINT_SIZE, for paper."""
    family = pick_cjk_family()
    document = QTextDocument()
    font = QFont(family) if family else QFont()
    if pixel_size is None:
        font.setPointSizeF(BASE_POINT_SIZE)
        h1, h2, h3, unit = BASE_POINT_SIZE * 2, BASE_POINT_SIZE * 1.45, BASE_POINT_SIZE * 1.2, "pt"
    else:
        font.setPixelSize(pixel_size)
        h1, h2, h3, unit = round(pixel_size * 1.6), round(pixel_size * 1.3), round(pixel_size * 1.12), "px"
    document.setDefaultFont(font)
    document.setDefaultStyleSheet(
        f"h1 {{ font-size: {h1:g}{unit}; }} h2 {{ font-size: {h2:g}{unit}; }}"
        f" h3 {{ font-size: {h3:g}{unit}; margin-top: 8px; margin-bottom: 2px; }}"
        " th { background-color: #e8e8e8; }"
    )
    if len(report.hourly) >= CHART_MIN_BUCKETS:
        chart = hourly_chart(report, family)
        document.addResource(QTextDocument.ResourceType.ImageResource, CHART_URL, chart)
    width = int(text_width * 0.98) if text_width else CHART_SIZE[0] // 2
    document.setHtml(report_html(report).replace("{chart_width}", str(width)))
    return document


def render_pdf(report: Report, path: Path) -> None:
    """Write the report as an A4 PDF (Qt's own PDF writer). Needs a QGuiApplication (render_pdf_headless
    makes one). Raises ReportError when the file cannot be written."""
    try:
        with path.open("wb"):
            pass  # QPdfWriter says nothing when it cannot write: find out here, with the reason
    except OSError as exc:
        raise ReportError(f"cannot write the PDF file {str(path)!r}: {exc.strerror or exc}") from exc
    writer = QPdfWriter(str(path))
    writer.setResolution(PDF_DPI)
    writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
    writer.setPageMargins(QMarginsF(15, 12, 15, 15), QPageLayout.Unit.Millimeter)
    writer.setTitle(f"{report.lot_name} {report_title(report)}")
    writer.setCreator("Booth")
    text = _print(report, writer)
    del writer  # the file is finished when the writer goes
    if not path.exists() or path.stat().st_size == 0:
        raise ReportError(f"the PDF file {str(path)!r} could not be written")
    repair_to_unicode(path, text)


def print_report(report: Report, printer: QPrinter) -> None:
    """Print on `printer` (set up by the caller, e.g. through QPrintDialog); a printer that writes a PDF
    file gets the same ToUnicode repair as render_pdf."""
    text = _print(report, printer)
    if printer.outputFormat() is QPrinter.OutputFormat.PdfFormat and printer.outputFileName():
        output = Path(printer.outputFileName())
        if output.exists():
            repair_to_unicode(output, text)


def paged_document(report: Report, device: QPdfWriter | QPrinter) -> QTextDocument:
    """The report laid out on ``device``'s pages (its resolution, its paint rectangle), each unit that
    fits on a page kept on one (keep_together)."""
    resolution = device.resolution()
    layout = device.pageLayout()
    rect = layout.paintRectPixels(resolution)
    bottom_margin = layout.fullRectPixels(resolution).bottom() - rect.bottom()
    footer = _footer_px(resolution)
    height = rect.height() if bottom_margin >= footer else rect.height() - footer  # the number needs room
    # an image's width in the document is in 96-dpi pixels, scaled to the device by the layout
    document = report_document(report, text_width=rect.width() * 96 / resolution)
    document.documentLayout().setPaintDevice(device)
    document.setDocumentMargin(0)
    document.setPageSize(QSizeF(rect.width(), height))
    keep_together(document)
    return document


def _footer_px(resolution: int) -> float:
    """The page number's band under the page's text, in the device's pixels."""
    return resolution * FOOTER_MM / 25.4


def _print(report: Report, device: QPdfWriter | QPrinter) -> str:
    """Lay the document out on ``device``'s pages, keep each table with its heading on one page, paint page
    by page with its number at the foot, and return the document's text (for the ToUnicode repair)."""
    document = paged_document(report, device)
    page = document.pageSize()
    footer = _footer_px(device.resolution())
    pages = document.pageCount()
    painter = QPainter()
    if not painter.begin(device):
        raise ReportError("cannot draw on the printer or the PDF file")
    try:
        font = QFont(document.defaultFont())
        font.setPointSizeF(BASE_POINT_SIZE * 0.9)
        for index in range(pages):
            if index:
                device.newPage()
            painter.save()
            painter.translate(0, -index * page.height())
            document.drawContents(painter, QRectF(0, index * page.height(), page.width(), page.height()))
            painter.restore()
            painter.setFont(font)
            painter.setPen(QColor("#444444"))
            number = _fill(translate("Report", "第 %1 / %2 页"), index + 1, pages)
            painter.drawText(
                QRectF(0, page.height(), page.width(), footer),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignBottom,
                number,
            )
    finally:
        painter.end()
    return document.toPlainText() + "\n" + _fill(translate("Report", "第 %1 / %2 页"), "", "")


Item: TypeAlias = tuple[QTextBlock | QTextTable, QRectF]


def _items(document: QTextDocument) -> list[Item]:
    """The document's top-level items in order, a table as one item, each with its laid-out rectangle."""
    layout = document.documentLayout()
    items: list[Item] = []
    seen: set[int] = set()
    block = document.begin()
    while block.isValid():
        table = QTextCursor(block).currentTable()
        if table is None:
            items.append((block, layout.blockBoundingRect(block)))
        elif table.firstPosition() not in seen:
            seen.add(table.firstPosition())
            items.append((table, layout.frameBoundingRect(table)))
        block = block.next()
    return items


def _units(document: QTextDocument) -> list[tuple[QTextBlock | QTextTable, float, float]]:
    """What is kept on one page: a heading (h1-h3) with the paragraphs and the table after it, up to the
    next heading; each as (its first item, its top, its bottom) in the document's coordinates."""
    items = _items(document)
    units: list[tuple[QTextBlock | QTextTable, float, float]] = []
    start = 0
    for index in range(1, len(items) + 1):
        item = items[index][0] if index < len(items) else None
        if item is None or (isinstance(item, QTextBlock) and item.blockFormat().headingLevel() > 0):
            units.append((items[start][0], items[start][1].top(), items[index - 1][1].bottom()))
            start = index
    return units


def page_spans(document: QTextDocument) -> list[tuple[str, int, int, bool]]:
    """Each unit keep_together sees as (its first words, its first page, its last page, whether it fits on
    one page), pages counted from 0, in a document laid out on pages (QTextDocument.setPageSize)."""
    height = document.pageSize().height()
    return [
        (_text_of(first)[:40], int(top // height), int((bottom - 1) // height), bottom - top <= height)
        for first, top, bottom in _units(document)
    ]


def _text_of(item: QTextBlock | QTextTable) -> str:
    if isinstance(item, QTextTable):
        cursor = QTextCursor(item.document())
        cursor.setPosition(item.firstPosition())
        cursor.setPosition(item.lastPosition(), QTextCursor.MoveMode.KeepAnchor)
        return cursor.selectedText()
    return item.text()


def keep_together(document: QTextDocument) -> int:
    """Page breaks so that no unit (a heading with its table or lines) is split across pages when it fits
    on one; a unit longer than a page runs on from where it is, its table's rows whole and its header row
    repeated on the next page (Qt's table layout). Returns the breaks made."""
    height = document.pageSize().height()
    made = 0
    for _ in range(200):  # one break a round: a break moves everything after it
        for first, top, bottom in _units(document):
            on_one_page = int(top // height) == int((bottom - 1) // height)
            if on_one_page or top % height < 1 or bottom - top > height:
                continue
            _break_before(first)
            made += 1
            break
        else:
            return made
    return made


def _break_before(item: QTextBlock | QTextTable) -> None:
    if isinstance(item, QTextTable):
        table_format = item.format()
        table_format.setPageBreakPolicy(QTextFormat.PageBreakFlag.PageBreak_AlwaysBefore)
        item.setFormat(table_format)
        return
    block_format = item.blockFormat()
    block_format.setPageBreakPolicy(QTextFormat.PageBreakFlag.PageBreak_AlwaysBefore)
    QTextCursor(item).setBlockFormat(block_format)


def repair_to_unicode(path: Path, text: str) -> int:
    """Make the PDF's text read back as the ideographs that were written; returns the entries changed.

    Noto CJK draws an ideograph and its look-alike radical (车 U+8F66 and ⻋ U+2ECB, 人 and ⼈) with one
    glyph, and Qt's PDF writer names each glyph in the ToUnicode map by the lowest code point that maps to
    it: the radical. The page looks right but search and copy give radicals. The CMap is written
    uncompressed and a BMP code point is four hex digits either way, so the entries are swapped in place
    and every offset in the file stays valid. Only radicals that share a glyph with an ideograph of
    `text`, and do not themselves occur in it, are swapped.
    """
    family = pick_cjk_family()
    raw = QRawFont.fromFont(QFont(family) if family else QFont())
    by_glyph: dict[int, str] = {}
    for char in sorted(set(text)):
        if 0x3400 <= ord(char) <= 0x9FFF:
            glyphs = raw.glyphIndexesForString(char)
            if glyphs and glyphs[0]:
                by_glyph.setdefault(glyphs[0], char)
    swaps: dict[bytes, bytes] = {}
    for code in range(0x2E80, 0x2FE0):  # CJK Radicals Supplement and Kangxi Radicals
        radical = chr(code)
        glyphs = raw.glyphIndexesForString(radical)
        if radical not in text and glyphs and glyphs[0] in by_glyph:
            swaps[f"<{code:04X}>".encode()] = f"<{ord(by_glyph[glyphs[0]]):04X}>".encode()
    if not swaps:
        return 0
    data = path.read_bytes()
    pattern = re.compile(rb"begincmap.*?endcmap", re.S)
    changed = 0

    def fix(match: re.Match[bytes]) -> bytes:
        nonlocal changed
        cmap = match.group(0)
        for old, new in swaps.items():
            changed += cmap.count(old)
            cmap = cmap.replace(old, new)
        return cmap

    fixed = pattern.sub(fix, data)
    if changed:
        path.write_bytes(fixed)
    return changed


def render_pdf_headless(report: Report, path: Path) -> None:
    """For ``booth report ... --pdf``: make an offscreen QGuiApplication when there is none, then render."""
    if QGuiApplication.instance() is None:
        _app = QGuiApplication([sys.argv[0] if sys.argv else "booth", "-platform", "offscreen"])
        render_pdf(report, path)
        return
    render_pdf(report, path)
