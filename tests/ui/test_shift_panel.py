"""Closing a shift at the window: a blind count (the expected cash is shown nowhere before the close), bad
counts refused in words, a variance above the limit co-signed by a supervisor, and the float handed over."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from lane_driving import bring_car
from people_driving import (
    ATTENDANT,
    ATTENDANT_NAME,
    ATTENDANT_PIN,
    SUPERVISOR,
    SUPERVISOR_PIN,
    WAIT_MS,
    button,
    enter_pin,
    seed_people,
    tap,
    visible_texts,
)
from sqlalchemy import text

from PySide6.QtWidgets import QApplication

import ui.kit.i18n as i18n
from booth.config import Settings
from booth.domain.lane import LaneState
from booth.domain.money import format_yuan
from booth.engine import AlertRaised, Engine
from booth.office.shifts import Shifts
from booth.office.staff import Staff
from ui.kit.style import apply_style
from ui.office.shift_panel import ShiftClosePanel
from ui.shell.main_window import BoothWindow


@pytest.fixture
def people(engine: Engine) -> tuple[Staff, Shifts]:
    staff, shifts = seed_people(engine)
    shifts.open(ATTENDANT, opening_float_fen=50_000)  # the booth restarts into this shift
    return staff, shifts


def restarted_window(qtbot: Any, settings: Settings, engine: Engine) -> BoothWindow:
    """The window as a restart opens it, the open shift's attendant chosen on the sign-in overlay."""
    window = BoothWindow(settings, engine, operator="测试员", sign_in=True)
    qtbot.addWidget(window)
    window.resize(1600, 900)
    window.show()
    overlay = window.staff_screens.sign_in
    qtbot.waitUntil(lambda: overlay.username.text() == ATTENDANT, timeout=WAIT_MS)
    return window


@pytest.fixture
def shift_window(qtbot: Any, settings: Settings, engine: Engine, people: tuple[Staff, Shifts]) -> BoothWindow:
    window = restarted_window(qtbot, settings, engine)
    enter_pin(qtbot, window.staff_screens.sign_in.pad, ATTENDANT_PIN)
    qtbot.waitUntil(lambda: window.person is not None, timeout=WAIT_MS)
    return window


def take_cash(qtbot: Any, window: BoothWindow, engine: Engine, plate: str) -> int:
    lane = window.lane_panel("X1")
    bring_car(engine, "X1", plate)
    qtbot.waitUntil(lambda: lane.view.state is LaneState.AWAITING_PAYMENT, timeout=WAIT_MS)
    due = lane.view.due_fen
    assert due is not None
    tap(qtbot, lane.action_buttons["cash"])
    tap(qtbot, button(lane.panels["cash"], "正好"))
    tap(qtbot, lane.panels["cash"].confirm_button)
    qtbot.waitUntil(lambda: lane.view.state is LaneState.GATE_OPEN, timeout=WAIT_MS)
    engine.vehicle_passed("X1").result(10)
    qtbot.waitUntil(lambda: lane.view.state is LaneState.IDLE, timeout=WAIT_MS)
    return due


def open_close(qtbot: Any, window: BoothWindow) -> ShiftClosePanel:
    panel = window.staff_screens.shift_panel
    tap(qtbot, window.staff_screens.close_shift_button)
    qtbot.waitUntil(panel.isVisible, timeout=WAIT_MS)
    return panel


def test_a_restart_mid_shift_lands_on_sign_in_and_the_attendants_pin_resumes_the_shift(
    qtbot: Any, settings: Settings, engine: Engine, people: tuple[Staff, Shifts]
) -> None:
    """Nobody is signed in by a restart: whoever stands at the booth then may not be the attendant."""
    _staff, shifts = people
    open_shift = shifts.current()
    assert open_shift is not None
    window = restarted_window(qtbot, settings, engine)
    overlay = window.staff_screens.sign_in
    qtbot.waitUntil(lambda: overlay.title.text() == "继续班次", timeout=WAIT_MS)
    assert overlay.isVisible() and window.person is None
    assert overlay.prompt.text().startswith(f"{ATTENDANT_NAME}（{ATTENDANT}）的班次仍在进行：请输入 PIN 继续")
    assert window.operator_label.text() == "未签到"
    assert not window.lane_panel("X1").action_bar.isEnabled()

    enter_pin(qtbot, overlay.pad, "1111")
    qtbot.waitUntil(lambda: "PIN 不正确" in overlay.message.text(), timeout=WAIT_MS)
    assert overlay.isVisible() and window.person is None

    enter_pin(qtbot, overlay.pad, ATTENDANT_PIN)  # the attendant stays chosen
    qtbot.waitUntil(lambda: window.person is not None, timeout=WAIT_MS)
    assert not overlay.isVisible()
    assert window.person is not None and window.person.username == ATTENDANT
    assert window.operator_label.text() == f"收费员：{ATTENDANT_NAME}（{ATTENDANT}）"
    assert window.lane_panel("X1").action_bar.isEnabled()
    assert window.staff_screens.shift is not None and window.staff_screens.shift.id == open_shift.id
    assert shifts.current() == open_shift  # the same shift, still open: no new one, no float asked


def test_blind_count_cosigned_close_and_the_float_handed_over(
    qtbot: Any, shift_window: BoothWindow, engine: Engine, people: tuple[Staff, Shifts]
) -> None:
    window = shift_window
    _staff, shifts = people
    due = take_cash(qtbot, window, engine, "苏A12345")
    shift = shifts.current()
    assert shift is not None
    expected = 50_000 + due
    assert shifts.expected_cash_fen(shift.id) == expected

    panel = open_close(qtbot, window)
    assert panel.page == "count"
    for plus in range(3):
        tap(qtbot, panel.plus_buttons[10_000])
        assert panel.count_fields[10_000].text() == str(plus + 1)
    tap(qtbot, panel.minus_buttons[10_000])
    tap(qtbot, panel.plus_buttons[10_000])
    tap(qtbot, panel.count_fields[5_000])  # the pad types into the field tapped
    for key in "12":
        tap(qtbot, button(panel.pad, key))
    assert panel.count_fields[5_000].text() == "12"
    counted = 3 * 10_000 + 12 * 5_000
    assert panel.total_label.text() == f"¥{format_yuan(counted)}"
    panel.handover_field.setText("100")

    def expected_shown() -> bool:
        return any(format_yuan(expected) in text for text in visible_texts(window))

    assert not expected_shown()  # blind: neither the expected total ...
    assert not any(format_yuan(abs(counted - expected)) in t for t in visible_texts(window))  # nor the gap

    # a count that cannot be: refused in words naming it, nothing changed
    panel.count_fields[1_000].setText("-4")
    tap(qtbot, panel.submit_button)
    assert "¥10.00" in panel.error.text() and "-4" in panel.error.text()
    assert shifts.current() == shift
    panel.count_fields[1_000].setText("999999")
    tap(qtbot, panel.submit_button)
    assert "999999" in panel.error.text()
    panel.count_fields[1_000].setText("")

    # the variance is far above the limit: a supervisor must co-sign (still blind)
    tap(qtbot, panel.submit_button)
    qtbot.waitUntil(lambda: panel.page == "cosign", timeout=WAIT_MS)
    assert "主管" in panel.error.text()
    assert shifts.current() == shift and not expected_shown()

    picker = panel.cosigner_picker  # the active supervisors as name buttons: a tap, no keyboard
    qtbot.waitUntil(lambda: SUPERVISOR in picker.buttons and picker.buttons[SUPERVISOR].isVisible(),
                    timeout=WAIT_MS)
    tap(qtbot, picker.buttons[SUPERVISOR])
    assert panel.cosigner_field.text() == SUPERVISOR and picker.buttons[SUPERVISOR].isChecked()
    enter_pin(qtbot, panel.cosign_pad, "1111")
    qtbot.waitUntil(lambda: "主管签字未通过" in panel.error.text(), timeout=WAIT_MS)
    assert panel.page == "cosign" and shifts.current() == shift and not expected_shown()

    enter_pin(qtbot, panel.cosign_pad, SUPERVISOR_PIN)
    qtbot.waitUntil(lambda: panel.page == "result", timeout=WAIT_MS)
    closed = shifts.get(shift.id)
    assert closed.state == "closed" and closed.cosigned_by == SUPERVISOR
    assert closed.expected_fen == expected and closed.counted_fen == counted
    assert closed.variance_fen == counted - expected and closed.handover_float_fen == 10_000
    assert closed.counted is not None and closed.counted[10_000] == 3 and closed.counted[5_000] == 12
    result = panel.result_summary()
    assert f"应有现金：¥{format_yuan(expected)}" in result
    assert f"清点现金：¥{format_yuan(counted)}" in result
    assert f"差额：+¥{format_yuan(counted - expected)}（长款）" in result and "主管签字：9001" in result
    # the variance in large figures and the tone of its sign: over is "attention" (orange), never "ok"
    variance = panel.variance_figure
    assert variance.property("tone") == "attention" and variance.isVisible()
    assert variance.font().pixelSize() >= panel.sizes.amount - 1
    assert panel.result_figures["expected"].font().pixelSize() >= panel.sizes.amount - 1

    # done: the next attendant signs in and the float handed over is offered for the new shift
    tap(qtbot, panel.done_button)
    overlay = window.staff_screens.sign_in
    assert overlay.isVisible() and window.person is None
    qtbot.waitUntil(lambda: overlay.people_buttons.get(ATTENDANT) is not None
                    and overlay.people_buttons[ATTENDANT].isVisible(), timeout=WAIT_MS)
    tap(qtbot, overlay.people_buttons[ATTENDANT])
    enter_pin(qtbot, overlay.pad, ATTENDANT_PIN)
    qtbot.waitUntil(lambda: overlay.step == "open_shift", timeout=WAIT_MS)
    assert overlay.float_reference.text() == "上一班留下的备用金：¥100.00"


def test_a_close_within_the_limit_needs_no_cosigner_and_a_bad_handover_is_refused(
    qtbot: Any, shift_window: BoothWindow, people: tuple[Staff, Shifts]
) -> None:
    _staff, shifts = people
    shift = shifts.current()
    assert shift is not None
    panel = open_close(qtbot, shift_window)
    panel.count_fields[10_000].setText("5")  # exactly the float: no variance
    panel.handover_field.setText("600")
    tap(qtbot, panel.submit_button)
    assert "不能多于清点合计" in panel.error.text() and shifts.current() == shift
    panel.handover_field.setText("500")
    tap(qtbot, panel.submit_button)
    qtbot.waitUntil(lambda: panel.page == "result", timeout=WAIT_MS)
    closed = shifts.get(shift.id)
    assert closed.variance_fen == 0 and closed.cosigned_by is None
    assert "差额：¥0.00（账实相符）" in panel.result_summary()
    assert panel.variance_figure.property("tone") == "ok"
    assert "主管签字" not in panel.result_summary()  # nobody co-signed: no empty row
    # the same page for a close that came out short: red ("bad"), the shortfall with its sign and in words
    panel.show_result(replace(closed, counted_fen=closed.expected_fen - 300, variance_fen=-300))
    assert "差额：−¥3.00（短款）" in panel.result_summary()
    variance = panel.variance_figure
    colour = variance.palette().color(variance.backgroundRole())
    assert variance.property("tone") == "bad" and colour.red() > colour.green() + 80, colour.name()


def test_closing_when_no_shift_is_open_says_so(
    qtbot: Any, shift_window: BoothWindow, people: tuple[Staff, Shifts]
) -> None:
    _staff, shifts = people
    shift = shifts.current()
    assert shift is not None
    shifts.close(shift.id, {10_000: 5}, handover_float_fen=0)  # closed elsewhere (the CLI)
    tap(qtbot, shift_window.staff_screens.close_shift_button)
    qtbot.waitUntil(lambda: shift_window.alert_text.text() == "当前没有开启的班次", timeout=WAIT_MS)
    assert not shift_window.staff_screens.shift_panel.isVisible()


def test_the_close_its_refusal_and_its_result_follow_a_language_switch(
    qtbot: Any, qapp: QApplication, shift_window: BoothWindow, people: tuple[Staff, Shifts]
) -> None:
    """Issue #15: the close's title (whose shift), its refusal of a float larger than the count (the amounts
    in it) and the result's words are said again in the language switched to; they stayed in the language
    they were first said in."""
    _staff, shifts = people
    shift = shifts.current()
    assert shift is not None
    panel = open_close(qtbot, shift_window)
    panel.count_fields[10_000].setText("5")
    panel.handover_field.setText("600")
    tap(qtbot, panel.submit_button)
    refused = "留给下一班的备用金 ¥600.00 不能多于清点合计 ¥500.00"
    closing = f"交班：{ATTENDANT_NAME}（{ATTENDANT}）"
    assert panel.error.text() == refused and panel.title.text() == closing
    try:
        i18n.switch_language(qapp, "en")
        qtbot.waitUntil(lambda: panel.title.text() == f"Close shift: {ATTENDANT_NAME} ({ATTENDANT})",
                        timeout=WAIT_MS)  # LanguageChange, posted
        assert panel.error.text() == ("The float left for the next shift ¥600.00 cannot be more than "
                                      "the counted total ¥500.00") and panel.error.isVisible()
        i18n.switch_language(qapp, "zh_CN")
        qtbot.waitUntil(lambda: panel.title.text() == closing, timeout=WAIT_MS)
        assert panel.error.text() == refused

        panel.handover_field.setText("500")
        tap(qtbot, panel.submit_button)
        qtbot.waitUntil(lambda: panel.page == "result", timeout=WAIT_MS)
        assert panel.variance_figure.text() == "¥0.00（账实相符）"
        i18n.switch_language(qapp, "en")
        qtbot.waitUntil(lambda: panel.title.text() == f"Shift #{shift.id} closed: {ATTENDANT_NAME}",
                        timeout=WAIT_MS)
        assert panel.variance_figure.text() == "¥0.00 (Balanced)"
    finally:
        i18n.switch_language(qapp, "zh_CN")
    closed = f"班次 #{shift.id} 已交班：{ATTENDANT_NAME}"
    qtbot.waitUntil(lambda: panel.title.text() == closed, timeout=WAIT_MS)
    assert panel.variance_figure.text() == "¥0.00（账实相符）"


def test_a_refused_close_said_in_the_alert_bar_follows_a_language_switch(
    qtbot: Any, qapp: QApplication, shift_window: BoothWindow, engine: Engine
) -> None:
    """Issue #15: the top bar's "交班" could not read the open shift (the store failed): its refusal in the
    alert bar is said again in the language switched to (the store's own English detail as it is), and an
    earlier alert does not take its place."""
    bar = shift_window.alert_bar
    shift_window.bridge.alertRaised.emit(AlertRaised("X1", "gate_fault", "no answer", datetime.now(UTC)))
    qtbot.waitUntil(lambda: "no answer" in shift_window.alert_text.text(), timeout=WAIT_MS)
    with engine.database.sessionmaker.begin() as session:  # the store fails to read the shifts
        session.execute(text("ALTER TABLE shifts RENAME TO shifts_away"))
    try:
        tap(qtbot, shift_window.staff_screens.close_shift_button)
        qtbot.waitUntil(lambda: shift_window.alert_text.text().startswith("操作失败："), timeout=WAIT_MS)
    finally:
        with engine.database.sessionmaker.begin() as session:
            session.execute(text("ALTER TABLE shifts_away RENAME TO shifts"))
    refused = shift_window.alert_text.text()
    detail = refused.removeprefix("操作失败：")
    assert detail.startswith("StoreError: ") and not shift_window.staff_screens.shift_panel.isVisible()
    try:
        i18n.switch_language(qapp, "en")
        qtbot.waitUntil(lambda: shift_window.language_button.text() == "中文", timeout=WAIT_MS)
        assert shift_window.alert_text.text() == "Failed: " + detail and bar.isVisible()
        i18n.switch_language(qapp, "zh_CN")
        qtbot.waitUntil(lambda: shift_window.language_button.text() == "English", timeout=WAIT_MS)
        assert shift_window.alert_text.text() == refused
    finally:
        i18n.switch_language(qapp, "zh_CN")


@pytest.mark.parametrize("theme", ["standard", "high_contrast"])
def test_over_short_and_exact_look_different_in_both_themes(
    qtbot: Any, qapp: QApplication, shift_window: BoothWindow, people: tuple[Staff, Shifts], theme: str
) -> None:
    """The variance's highlight tells its sign: the top edge of the figure (its fill in the standard theme,
    its border's colour and pattern in high contrast) differs between short, exact and over."""
    _staff, shifts = people
    shift = shifts.current()
    assert shift is not None
    apply_style(qapp, theme=theme)
    try:
        panel = open_close(qtbot, shift_window)
        panel.count_fields[10_000].setText("5")
        tap(qtbot, panel.submit_button)
        qtbot.waitUntil(lambda: panel.page == "result", timeout=WAIT_MS)
        closed = shifts.get(shift.id)
        assert closed.expected_fen is not None
        edges = {}
        for variance, tone in ((-300, "bad"), (0, "ok"), (200, "attention")):
            counted = closed.expected_fen + variance
            panel.show_result(replace(closed, counted_fen=counted, variance_fen=variance))
            figure = panel.variance_figure
            assert figure.property("tone") == tone
            image = figure.grab().toImage()
            edges[tone] = tuple(image.pixel(x, 1) for x in range(4, image.width() - 4, 3))
            assert len(set(edges[tone])) <= 3  # a fill or a border, not text
        assert len(set(edges.values())) == 3, theme
    finally:
        apply_style(qapp)  # the other tests run on the standard theme
