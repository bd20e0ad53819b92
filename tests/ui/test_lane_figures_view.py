"""The supervisor's lane figures on screen (issue #16): opened from the supervisor's screens, one row per lane
with the figures a real engine's traffic left in its real store (checked against booth.office.lane_figures
on the same database), a switch between the last hour, day and week, and both languages."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from lane_driving import bring_car, driver_pays
from people_driving import WAIT_MS, seed_people, tap
from sqlalchemy import text
from test_supervisor_panel import open_as_supervisor

from PySide6.QtWidgets import QApplication

import ui.kit.i18n as i18n
from booth.domain.lane import LaneState
from booth.engine import Engine
from booth.office.lane_figures import lane_figures
from ui.office.lane_figures_view import LaneFiguresView
from ui.shell.main_window import BoothWindow

CJK = re.compile(r"[\u4e00-\u9fff]")
CARS_OUT, PER_HOUR, PAY_TO_GATE, CAMERA, BOLINK, FAULTS, LIFTS = 1, 2, 3, 4, 5, 6, 7


def lane(engine: Engine, lane_id: str) -> Any:
    return next(v for v in engine.snapshot() if v.lane_id == lane_id)


def two_paid_cars_at_x1(qtbot: Any, engine: Engine) -> None:
    for n, plate in enumerate(("苏A10001", "苏A10002")):
        bring_car(engine, "X1", plate)
        qtbot.waitUntil(lambda: bool(lane(engine, "X1").code_url), timeout=WAIT_MS)
        driver_pays(engine, "X1")
        qtbot.waitUntil(lambda: lane(engine, "X1").state is LaneState.GATE_OPEN, timeout=WAIT_MS)
        engine.vehicle_passed("X1").result(10)
        qtbot.waitUntil(lambda n=n: engine.exits_completed == n + 1, timeout=WAIT_MS)


def shown(view: LaneFiguresView) -> bool:
    return view.isVisible() and bool(view.row_labels) and view.message.isHidden()


def test_the_supervisor_opens_the_lane_figures_of_real_traffic(
    qtbot: Any, window: BoothWindow, engine: Engine
) -> None:
    seed_people(engine)
    two_paid_cars_at_x1(qtbot, engine)
    panel = open_as_supervisor(qtbot, window)
    view = window.staff_screens.lane_figures_view
    tap(qtbot, panel.figures_tab)
    assert not panel.isVisible()
    qtbot.waitUntil(lambda: shown(view) and "X1" in view.figures, timeout=WAIT_MS)
    assert view.span == "hour" and view.span_buttons["hour"].isChecked()

    # the same figures as the office's own reading of the store, over the same hour
    now = datetime.now(UTC)
    expected = {f.lane_id: f for f in lane_figures(engine.database, now - timedelta(hours=1), now)}
    x1 = expected["X1"]
    assert x1.cars_out == 2 and x1.paid_exits_timed == 2
    assert view.cell("X1", CARS_OUT) == "2" and view.cell("X1", PER_HOUR) == "2.0"
    p50, p99 = view.cell("X1", PAY_TO_GATE).split(" / ")
    assert x1.pay_to_gate_p50_ms is not None and x1.pay_to_gate_p99_ms is not None
    assert abs(float(p50) - x1.pay_to_gate_p50_ms) <= 1 and abs(float(p99) - x1.pay_to_gate_p99_ms) <= 1
    assert view.cell("X1", FAULTS) == "0" and view.cell("X1", LIFTS) == "0"
    # the Bolink round trips: on screen as read (the engine writes its timings every 5 s, maybe not yet)
    on_screen = view.figures["X1"]
    if on_screen.bolink_calls_timed:
        assert on_screen.bolink_p50_ms is not None and on_screen.bolink_p99_ms is not None
        assert view.cell("X1", BOLINK) == f"{on_screen.bolink_p50_ms:.0f} / {on_screen.bolink_p99_ms:.0f}"
    else:
        assert view.cell("X1", BOLINK) == "–"
    # X2 saw nothing: its row is there, with dashes where there was nothing to time
    assert [view.cell("X2", c) for c in (CARS_OUT, PAY_TO_GATE, CAMERA, BOLINK)] == ["0", "–", "–", "–"]
    assert list(view.row_labels) == ["X1", "X2"] and view.cell("X1", 0) == "X1\n东出口"
    assert all(c.height() >= window.sizes.target for c in view.row_labels["X1"])  # a touch target high

    tap(qtbot, view.span_buttons["day"])
    qtbot.waitUntil(
        lambda: view.span == "day" and view.cell("X1", PER_HOUR) == f"{2 / 24:.1f}", timeout=WAIT_MS
    )
    assert view.span_buttons["day"].isChecked() and not view.span_buttons["hour"].isChecked()
    assert view.cell("X1", CARS_OUT) == "2"


def test_the_bolink_round_trip_kept_by_the_engine_is_shown(
    qtbot: Any, window: BoothWindow, engine: Engine
) -> None:
    bring_car(engine, "X2", "苏B20001")
    qtbot.waitUntil(lambda: bool(lane(engine, "X2").code_url), timeout=WAIT_MS)
    engine.call(engine._parts.timings.flush()).result(10)  # what the background job writes every 5 s
    view = window.staff_screens.lane_figures_view
    view.show_figures("week")
    qtbot.waitUntil(lambda: shown(view) and "X2" in view.figures, timeout=WAIT_MS)
    x2 = view.figures["X2"]
    assert x2.bolink_calls_timed == 2  # outpark and the lane's QR
    assert x2.bolink_p50_ms is not None and x2.bolink_p99_ms is not None
    assert view.cell("X2", BOLINK) == f"{x2.bolink_p50_ms:.0f} / {x2.bolink_p99_ms:.0f}"


def test_in_english_and_back(qtbot: Any, qapp: QApplication, window: BoothWindow, engine: Engine) -> None:
    view = window.staff_screens.lane_figures_view
    view.show_figures()
    qtbot.waitUntil(lambda: shown(view), timeout=WAIT_MS)
    assert view.title.text() == "通道数据" and view.window_label.text().startswith("时段：")
    i18n.switch_language(qapp, "en")
    try:
        qtbot.waitUntil(lambda: view.title.text() == "Lane figures", timeout=WAIT_MS)
        headers = [label.text() for label in view.header_labels]
        assert headers[0] == "Lane" and "Bolink" in headers[BOLINK] and "p99" in headers[BOLINK]
        assert [b.text() for b in view.span_buttons.values()] == ["Last hour", "Last day", "Last week"]
        assert view.window_label.text().startswith("Window: ") and view.refresh_button.text() == "Refresh"
        assert not [h for h in headers if CJK.search(h)]
    finally:
        i18n.switch_language(qapp, "zh_CN")
    qtbot.waitUntil(lambda: view.title.text() == "通道数据", timeout=WAIT_MS)
    assert view.span_buttons["week"].text() == "近一周"


def test_a_refusal_follows_a_language_switch(
    qtbot: Any, qapp: QApplication, window: BoothWindow, engine: Engine
) -> None:
    """Issue #15: figures the store could not read are refused in words (the store's own English detail after
    them) that are said again in the language switched to; they stayed in the language first said in."""
    view = window.staff_screens.lane_figures_view
    with engine.database.sessionmaker.begin() as session:  # the store fails to read the lane exceptions
        session.execute(text("ALTER TABLE lane_exceptions RENAME TO lane_exceptions_away"))
    try:
        view.show_figures()
        qtbot.waitUntil(lambda: view.message.isVisible(), timeout=WAIT_MS)
    finally:
        with engine.database.sessionmaker.begin() as session:
            session.execute(text("ALTER TABLE lane_exceptions_away RENAME TO lane_exceptions"))
    refused = view.message.text()
    detail = refused.removeprefix("操作失败：")
    assert detail != refused and "lane_exceptions" in detail and not CJK.search(detail)
    try:
        i18n.switch_language(qapp, "en")
        qtbot.waitUntil(lambda: view.title.text() == "Lane figures", timeout=WAIT_MS)  # posted: wait
        assert view.message.text() == "Failed: " + detail and view.message.isVisible()
    finally:
        i18n.switch_language(qapp, "zh_CN")
    qtbot.waitUntil(lambda: view.title.text() == "通道数据", timeout=WAIT_MS)
    assert view.message.text() == refused
    view.refresh()  # the store reads again: the refusal goes
    qtbot.waitUntil(lambda: shown(view), timeout=WAIT_MS)
