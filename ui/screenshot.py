"""Take a screenshot of the lane screen on a real display (docs, and the test that runs it under Xvfb).

    python -m ui.screenshot OUT.png [--report REPORT.json]

Runs a real engine on the Bolink sandbox in a temporary directory: lane X1 shows a car waiting to pay with
its QR, lane X2 a car that paid cash with its gate open. The whole screen is grabbed from the display server
(not rendered by Qt on its own), so what is saved is what an attendant would see. The report says which font
drew the Chinese text and whether it has real glyphs for it (glyph 0 is the empty "tofu" box), and where the
plate and the QR are on the screen.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEventLoop, QPoint
from PySide6.QtGui import QFontInfo, QRawFont
from PySide6.QtWidgets import QApplication, QWidget

from booth.cli import demo_settings
from booth.config import Settings, settings_from_mapping
from booth.domain.lane import LaneState
from booth.engine import Engine
from ui.app import ensure_application
from ui.main_window import BoothWindow
from ui.style import apply_style

#: text whose glyphs must all be real in the font that draws it
CHINESE_SAMPLE = "苏A·12345京AD12345待付款道闸已开收现金更正车牌免费放行人工抬杆泊链在线应收金额"
DEADLINE_S = 30.0


def screenshot_settings(data_dir: Path) -> Settings:
    """The demo's two exit lanes, without the simulated camera or autopay, and a gate that stays open."""
    data = demo_settings(data_dir, autopay_s=None).model_dump(mode="json")
    data["simulator"]["enabled"] = False
    for lane in data["lanes"]:
        lane["pass_timeout_s"] = 600
    return settings_from_mapping(data, "<screenshot>")


def _spin_until(app: QApplication, done: Any, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit(f"screenshot: gave up waiting for {what}")
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)


def _global_rect(widget: QWidget) -> list[int]:
    top_left = widget.mapToGlobal(QPoint(0, 0))
    return [top_left.x(), top_left.y(), widget.width(), widget.height()]


def glyph_report(widget: QWidget, text: str) -> dict[str, Any]:
    """Which family draws ``widget``'s text, and which characters of ``text`` it would draw as the empty box.

    A character is missing when the font maps it to glyph 0 (.notdef, the "tofu" box) or when its glyph's
    image is the .notdef image. (QRawFont.supportsCharacter and QFontMetrics.inFont read fontconfig's
    coverage tables, which under-report the CJK collections: they say no for glyphs the font draws.)
    """
    font = widget.font()
    raw = QRawFont.fromFont(font)
    grey = QRawFont.AntialiasingType.PixelAntialiasing
    tofu = raw.alphaMapForGlyph(0, grey)
    missing = []
    for ch in dict.fromkeys(text):
        if ch.isspace():
            continue
        indexes = raw.glyphIndexesForString(ch)
        if not indexes or indexes[0] == 0 or raw.alphaMapForGlyph(indexes[0], grey) == tofu:
            missing.append(ch)
    return {"family": QFontInfo(font).family(), "pixel_size": font.pixelSize(), "missing": missing}


def take(out: Path, report_path: Path | None) -> None:
    app = ensure_application()
    apply_style(app)
    with tempfile.TemporaryDirectory(prefix="booth-screenshot-") as tmp:
        settings = screenshot_settings(Path(tmp))
        engine = Engine(settings)
        engine.start()
        window = BoothWindow(settings, engine, operator="王芳")
        try:
            screen = app.primaryScreen()
            window.setGeometry(screen.availableGeometry())
            window.show_for_booth(kiosk=True)
            now = datetime.now(UTC)
            engine.seed_stay("苏A12345", now - timedelta(hours=2, minutes=17)).result(10)
            engine.seed_stay("京AD12345", now - timedelta(minutes=47)).result(10)
            engine.vehicle_at("X1", "苏A12345", "blue").result(10)
            engine.vehicle_at("X2", "京AD12345", "green").result(10)

            async def heartbeat() -> None:  # the client says "online" when a long poll returns
                engine.sandbox.push({"service_name": "update_balance", "car_number": "苏A00000",
                                     "balance": "0.00", "autopay": 0})

            engine.call(heartbeat()).result(10)
            x1, x2 = window.lane_panel("X1"), window.lane_panel("X2")
            _spin_until(app, lambda: x2.view.state is LaneState.AWAITING_PAYMENT and bool(x2.view.due_fen),
                        "lane X2 to price its car")
            due = x2.view.due_fen or 0
            engine.cash("X2", (due // 1000 + 1) * 1000, "王芳").result(10)
            _spin_until(app, lambda: x1.view.code_url is not None and x2.view.state is LaneState.GATE_OPEN
                        and window.bolink_online is True, "the lanes to show their QR and open gate")
            for _ in range(10):
                app.processEvents()
            shot = screen.grabWindow(0)
            if shot.isNull() or not shot.save(str(out)):
                raise SystemExit(f"screenshot: could not grab the screen or write {out}")
            if report_path is not None:
                report = {
                    "platform": app.platformName(),
                    "screen": [screen.geometry().width(), screen.geometry().height()],
                    "plate_rect": _global_rect(x1.plate_label),
                    "qr_rect": _global_rect(x1.qr),
                    "qr_module_px": x1.qr.module_px(),
                    "pay_url": x1.view.code_url,
                    "plate_text": x1.plate_label.text(),
                    "plate_glyphs": glyph_report(x1.plate_label, CHINESE_SAMPLE),
                    "text_glyphs": glyph_report(x1.state_words, CHINESE_SAMPLE),
                    "window_rect": _global_rect(window),
                }
                report_path.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
        finally:
            window.close()
            engine.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ui.screenshot", description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="PNG file to write")
    parser.add_argument("--report", type=Path, help="also write a JSON report (fonts, widget positions)")
    args = parser.parse_args(argv)
    take(args.out, args.report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
