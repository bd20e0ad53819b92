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

from PySide6.QtCore import QCoreApplication, QMarginsF, QPointF, QRectF, Qt, QUrl
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
    QTextDocument,
)
from PySide6.QtPrintSupport import QPrinter

from booth.domain.money import format_yuan
from booth.office.reports import Report, ReportError
from ui.kit.style import pick_cjk_family
from ui.kit.wording import QT_TRANSLATE_NOOP

CHART_URL = QUrl("booth-report://hourly-chart.png")
CHART_SIZE = (1800, 560)  # pixels; shown at the text width
PDF_DPI = 300
BASE_POINT_SIZE = 9.0

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
    "manual_lift": QT_TRANSLATE_NOOP("Report", "手动抬杆"),
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
    "manual_lift": QT_TRANSLATE_NOOP("Report", "手动抬杆"),
}
_BACKLOG = {"pending": QT_TRANSLATE_NOOP("Report", "待发送"), "dead": QT_TRANSLATE_NOOP("Report", "发送失败")}


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
    return f'<table border="1" cellspacing="0" cellpadding="3" width="100%"><tr>{head}</tr>{body}</table>'


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
    period, generated = translate("Report", "时段"), translate("Report", "生成时间")
    total, yuan = translate("Report", "收款合计"), translate("Report", "元")
    count = translate("Report", "%1 笔").replace("%1", str(r.payment_count))
    counted, flagged = translate("Report", "已计收"), translate("Report", "已标记待处理")
    parts = [
        f"<h1>{_e(r.lot_name)}</h1>",
        f"<h2>{_e(report_title(r))}</h2>",
        f"<p>{_e(period)}: {_e(lt(r.start))} – {_e(lt(r.end))} ({_e(str(r.zone))})"
        f"&nbsp;&nbsp;{_e(generated)}: {_e(lt(r.generated_at))}</p>",
        f"<h3>{_e(total)}: {_e(format_yuan(r.total_fen))} {_e(yuan)} ({_e(count)})</h3>",
        f"<p>{_e(counted)} {_e(format_yuan(r.counted_fen))}; "
        f"{_e(flagged)} {_e(format_yuan(r.flagged_fen))}</p>",
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
                *([_label(_ARREARS, c.key), c.count, format_yuan(c.amount_fen)] for c in r.arrears),
                *(
                    [
                        translate("Report", "结算：") + _label(_SETTLEMENTS, c.key),
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
                        translate("Report", "现金收入（%1 笔）").replace("%1", str(c.cash_payments)),
                        _y(c.cash_taken_fen),
                    ],
                    [translate("Report", "应有现金"), _y(c.expected_fen)],
                    *([f"{format_yuan(d)} × {n}", format_yuan(d * n)] for d, n in c.counted),
                    [translate("Report", "清点现金"), _y(c.counted_fen)],
                    [translate("Report", "差额"), _y(c.variance_fen)],
                    [translate("Report", "复核人"), c.cosigned_by or "—"],
                    [translate("Report", "移交备用金"), _y(c.handover_float_fen)],
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
    parts += [
        f"<h3>{_e(hourly_title)}</h3>",
        f'<p><img src="{CHART_URL.toString()}" width="{{chart_width}}"></p>',
        _h3(translate("Report", "免费放行与手动抬杆")),
        _table(
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
                    e.reason + (f"（{e.note}）" if e.note else ""),
                    e.operator,
                    e.approved_by or "",
                ]
                for e in r.exceptions.items
            ],
        )
        + _more(r.exceptions.more),
        _h3(translate("Report", "支付失败")),
        _table(
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
        )
        + _more(r.failed_payments.more),
    ]
    for title, listing in (
        (translate("Report", "车辆离场后到账"), r.late_payments),
        (translate("Report", "其他已标记的付款"), r.other_flagged),
    ):
        parts += [
            f"<h3>{_e(title)}</h3>",
            _table(
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
                    for p in listing.items
                ],
            )
            + _more(listing.more),
        ]
    parts += [
        _h3(translate("Report", "已付款未出场")),
        _table(
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
        )
        + _more(r.paid_not_exited.more),
        _h3(translate("Report", "未付款出场")),
        _table(
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
        )
        + _more(r.exited_unpaid.more),
        _h3(translate("Report", "同步积压")),
        _table(
            [
                translate("Report", "平台"),
                translate("Report", "状态"),
                translate("Report", "条数"),
                translate("Report", "最早"),
            ],
            [
                [b.cloud, _label(_BACKLOG, b.state), b.count, lt(b.oldest_at) if b.oldest_at else ""]
                for b in r.sync_backlog
            ],
        )
        if r.sync_backlog
        else "<p>" + _e(translate("Report", "无")) + "</p>",
    ]
    return "\n".join(parts)


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


def report_document(report: Report, text_width: float | None = None) -> QTextDocument:
    """The document the screen shows and the printer and the PDF get; `text_width` in the device's units."""
    family = pick_cjk_family()
    document = QTextDocument()
    font = QFont(family) if family else QFont()
    font.setPointSizeF(BASE_POINT_SIZE)
    document.setDefaultFont(font)
    document.setDefaultStyleSheet(
        "h1 { font-size: 18pt; } h2 { font-size: 13pt; } h3 { font-size: 11pt; margin-top: 10px; }"
        " th { background-color: #e8e8e8; }"
    )
    document.addResource(QTextDocument.ResourceType.ImageResource, CHART_URL, hourly_chart(report, family))
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
    writer.setPageMargins(QMarginsF(15, 15, 15, 15), QPageLayout.Unit.Millimeter)
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


def _print(report: Report, device: QPdfWriter | QPrinter) -> str:
    """Print and return the document's text (for the ToUnicode repair)."""
    # No page size of its own: print_ lays the document out again on the device, scaling from the screen's
    # resolution to the device's, so the chart's width is given in screen pixels.
    screen = QGuiApplication.primaryScreen()
    screen_dpi = screen.logicalDotsPerInch() if screen is not None else 96.0
    rect = device.pageLayout().paintRectPixels(device.resolution())
    document = report_document(report, text_width=rect.width() * screen_dpi / device.resolution())
    document.print_(device)
    return document.toPlainText()


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
