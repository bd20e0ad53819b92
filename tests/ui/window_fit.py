"""The booth's window on a real X display without a window manager, as in the X kiosk session (issue #15
items 4-6): run by tests/ui/test_window_fit_xvfb.py on a private Xvfb, prints a JSON report.

    DISPLAY=:N QT_QPA_PLATFORM=xcb python tests/ui/window_fit.py kiosk
    DISPLAY=:N QT_QPA_PLATFORM=xcb python tests/ui/window_fit.py resize 1920x1080,1393x860,...

``kiosk``: the window shown for the kiosk, then the lanes with cars, an alert shown and dismissed, the cash
panel and the plate keypad opened on lane X1 and the shift count opened: after each, the window's rectangle,
where lane X1's cash button is, and how much of lane X2 is in view.
``resize``: the window shown maximised (where it opened, and the screen's available area), the lanes with
cars, then resized to each size: which layout it chose, and every text that does not fit its widget (a
label's or button's text wider than its contents, tariff lines wider than their label: they never wrap) on
the lane screen and with lane X1's cash panel and plate keypad open.
Both in Chinese and English.
"""

from __future__ import annotations

import json
import math
import re
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtGui import QTextDocument  # noqa: E402
from PySide6.QtWidgets import QAbstractButton, QApplication, QLabel, QWidget  # noqa: E402

from booth.domain.lane import LaneView  # noqa: E402
from booth.sync.status import CloudStatus, LotLine, SyncStatus  # noqa: E402
from ui.kit.i18n import LANGUAGES, SOURCE_LANGUAGE, switch_language  # noqa: E402
from ui.kit.style import apply_style  # noqa: E402
from ui.kit.wording import breakdown_words, yuan  # noqa: E402
from ui.shell.app import ensure_application  # noqa: E402
from ui.shell.main_window import BoothWindow  # noqa: E402
from ui.shell.screen_scenes import BoothScenes, global_rect, spin_until  # noqa: E402

_TAG = re.compile(r"<[^>]*>")


def _cloud(name: str, pending: int = 0, dead: int = 0, breaker: str = "closed") -> CloudStatus:
    return CloudStatus(name, True, pending, None, None, dead, (), breaker, 0.0, "", "", 0)


def backlogs() -> dict[str, SyncStatus]:
    """The top bar's sync with something to say: a backlog on two clouds (the words reported cut at
    1366x768 in English), and the longest it says: every cloud and the lot server with a problem."""
    now = datetime.now(UTC)
    return {
        "backlog": SyncStatus(now, (_cloud("bolink", 2, breaker="none"), _cloud("alipay"),
                                    _cloud("tmall", 1))),
        "trouble": SyncStatus(now, (_cloud("bolink", 4, breaker="none"), _cloud("alipay", 2, breaker="open"),
                                    _cloud("tmall", dead=5)), LotLine(online=False, behind=7)),
    }


def sync_fit(app: QApplication, window: BoothWindow) -> dict[str, Any]:
    """The top bar with each backlog: the sync indicator's words (whole, said shorter, or cut with "…"),
    the operator's, and every text of the top bar that does not fit. The engine's own status is held off
    meanwhile (it has none to say) and put back after."""
    window.bridge.syncChanged.disconnect(window._on_sync_changed)
    found: dict[str, Any] = {}
    try:
        for name, status in backlogs().items():
            window._on_sync_changed(status)
            settle(app)
            indicator = window.sync_indicator
            found[name] = {"text": indicator.text(), "whole": indicator.fitted(), "cut": indicator.cut(),
                           "operator": window.operator_label.text(), "misfits": misfits(window.top_bar)}
    finally:
        window._on_sync_changed(window.engine.sync_status())
        window.bridge.syncChanged.connect(window._on_sync_changed)
    return found


def settle(app: QApplication) -> None:
    for _ in range(5):
        app.processEvents()


def visible_area(widget: QWidget, window: QWidget) -> int:
    """How many pixels of ``widget`` are inside the window and not under a raised sibling sheet."""
    top_left = widget.mapTo(window, QPoint(0, 0))
    rect = widget.rect().translated(top_left).intersected(window.rect())
    if not widget.isVisible() or rect.isEmpty():
        return 0
    covered = 0
    central = window.centralWidget() if isinstance(window, BoothWindow) else None
    if central is not None:
        for sheet in central.findChildren(QWidget, "syncPanel"):
            if sheet.isVisible() and sheet.parentWidget() is central:
                other = sheet.geometry().translated(central.mapTo(window, QPoint(0, 0)))
                covered = max(covered, rect.intersected(other).width() * rect.intersected(other).height())
    return rect.width() * rect.height() - covered


def misfits(root: QWidget, view: LaneView | None = None) -> list[str]:
    """Every visible text under ``root`` that does not fit its widget: one line of a label or button wider
    than the widget's contents (a word-wrapped label: taller than its contents at that width)."""
    found: list[str] = []
    for widget in root.findChildren(QWidget):
        if not widget.isVisible() or not isinstance(widget, QLabel | QAbstractButton):
            continue
        text = widget.text()
        rich = isinstance(widget, QLabel) and widget.textFormat() != Qt.TextFormat.PlainText and "<" in text
        if not text or rich:
            continue  # rich text (the tariff lines): judged below
        box = widget.contentsRect()
        metrics = widget.fontMetrics()
        if isinstance(widget, QLabel) and widget.wordWrap():
            need = widget.heightForWidth(box.width())
            if need > box.height() + 1:
                name = widget.objectName() or type(widget).__name__
                found.append(f"{name} {text!r}: needs {need} px high, has {box.height()}")
            continue
        for line in text.replace("&&", "&").splitlines():
            need = metrics.horizontalAdvance(line)
            if need > box.width():
                found.append(f"{widget.objectName() or type(widget).__name__} {line!r}: needs {need} px, "
                             f"has {box.width()}")
    if view is not None:
        for panel in root.findChildren(QLabel, "breakdown"):
            if not panel.isVisible() or not panel.text():
                continue
            # the tariff lines as the label lays them out, unwrapped: as wide as they need
            document = QTextDocument()
            document.setDefaultFont(panel.font())
            document.setDocumentMargin(0)
            document.setHtml(panel.text())
            need = math.ceil(document.idealWidth())
            if need > panel.contentsRect().width():
                lines = " / ".join(f"{label} {yuan(fen)}" for label, fen in breakdown_words(view))
                found.append(f"tariff lines {lines!r}: need {need} px, have {panel.contentsRect().width()}")
    return found


def kiosk(app: QApplication, language: str) -> dict[str, Any]:
    steps: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="booth-fit-") as tmp, BoothScenes(app, Path(tmp)) as scenes:
        window = scenes._window()
        screen = window.screen().geometry()

        def note(step: str) -> None:
            settle(app)
            x1, x2 = window.lane_panel("X1"), window.lane_panel("X2")
            cash = x1.action_buttons["cash"]
            steps[step] = {
                "window": [window.x(), window.y(), window.width(), window.height()],
                "cash_button": global_rect(cash) if cash.isVisible() else None,
                "x1_shown": visible_area(x1, window) / max(1, x1.width() * x1.height()),
                "x2_shown": visible_area(x2, window) / max(1, x2.width() * x2.height()),
            }

        spin_until(app, lambda: window.isVisible() and window.width() > 0, "the window to show")
        note("opened")
        scenes.lanes()
        note("lanes")
        window.notice("测试提示")
        note("alert")
        window.alert_bar.hide()
        note("alert gone")
        x1 = window.lane_panel("X1")
        x1.open_panel("cash")
        note("cash panel")
        x1.close_panel()
        x1.open_panel("correct_plate")
        note("plate keypad")
        x1.close_panel()
        window.staff_screens.close_shift_button.click()
        panel = window.staff_screens.shift_panel
        spin_until(app, panel.isVisible, "the shift close")
        note("shift count")
        panel.dismiss()
        note("closed")
    return {"screen": [screen.x(), screen.y(), screen.width(), screen.height()], "steps": steps}


def resize(app: QApplication, language: str, sizes: list[tuple[int, int]]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="booth-fit-") as tmp, \
            BoothScenes(app, Path(tmp), kiosk=False) as scenes:
        window = scenes._window()
        spin_until(app, lambda: window.isVisible() and window.width() > 0, "the window to show")
        settle(app)
        area = window.screen().availableGeometry()
        results["opened"] = {"window": [window.x(), window.y(), window.width(), window.height()],
                             "available": [area.x(), area.y(), area.width(), area.height()]}
        scenes.lanes()
        for width, height in sizes:
            window.resize(width, height)
            spin_until(app, lambda w=width, h=height: window.width() == w and window.height() == h
                       and not window._relayout.isActive(), f"the window to be {width}x{height}")
            settle(app)
            x1 = window.lane_panel("X1")
            found = {"lanes": misfits(window, x1.view)}
            for action in ("cash", "correct_plate"):
                x1.open_panel(action)
                settle(app)
                found[action] = misfits(window)
                x1.close_panel()
            results[f"{width}x{height}"] = {
                "window": [window.width(), window.height()],
                "compact": window.sizes.compact,
                "misfits": found,
                "sync": sync_fit(app, window),
            }
        # a lane's open panel and its car survive the change of layout (the lanes are made again)
        window.resize(1920, 1080)
        spin_until(app, lambda: not window.sizes.compact and not window._relayout.isActive(), "standard")
        window.lane_panel("X1").open_panel("cash")
        plate = window.lane_panel("X1").view.plate
        window.resize(1366, 768)
        spin_until(app, lambda: window.sizes.compact and not window._relayout.isActive(), "compact")
        settle(app)
        x1 = window.lane_panel("X1")
        panel = x1.open_action()
        results["carried"] = {"open": panel.action if panel is not None else None, "plate": x1.view.plate,
                              "plate_before": plate, "shown": panel is not None and panel.isVisible()}
    return results


def main(argv: list[str]) -> int:
    app = ensure_application()
    apply_style(app)
    report: dict[str, Any] = {}
    for language in LANGUAGES:
        switch_language(app, language)
        if argv[0] == "kiosk":
            report[language] = kiosk(app, language)
        else:
            sizes = [tuple(int(n) for n in size.split("x")) for size in argv[1].split(",")]
            report[language] = resize(app, language, sizes)  # type: ignore[arg-type]
    switch_language(app, SOURCE_LANGUAGE)
    print(json.dumps(report, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
