"""Signing in over the lanes: wrong PINs refused in words (lanes stay out of reach), the shift opened with
the float counted note by note, cash taken in the attendant's name, sign-out and back, and an
approval-required release with the supervisor chosen by name and the chosen reason highlighted."""

from __future__ import annotations

from collections.abc import Iterator
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
)
from qr_reading import decode_qr
from sqlalchemy import select

from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QPushButton, QWidget

from booth.config import Settings
from booth.domain.lane import LaneState
from booth.domain.money import format_yuan
from booth.engine import Engine
from booth.office.shifts import Shifts
from booth.office.staff import Staff
from booth.store.models import LaneException, Payment
from ui.kit.i18n import current_language, switch_language
from ui.kit.physical import px_to_mm
from ui.lanes.reason_panel import ReasonPanel
from ui.people.sign_in import SignInOverlay
from ui.shell.main_window import BoothWindow


@pytest.fixture
def people(engine: Engine) -> tuple[Staff, Shifts]:
    return seed_people(engine)


@pytest.fixture
def signin_window(
    qtbot: Any, settings: Settings, engine: Engine, people: tuple[Staff, Shifts]
) -> BoothWindow:
    window = BoothWindow(settings, engine, operator="测试员", sign_in=True)
    qtbot.addWidget(window)
    window.resize(1600, 900)
    window.show()
    return window


def overlay_of(window: BoothWindow) -> SignInOverlay:
    return window.staff_screens.sign_in


def sign_in(qtbot: Any, window: BoothWindow, username: str, pin: str) -> None:
    overlay = overlay_of(window)
    qtbot.waitUntil(
        lambda: username in overlay.people_buttons and overlay.people_buttons[username].isVisible(),
        timeout=WAIT_MS,
    )
    tap(qtbot, overlay.people_buttons[username])
    enter_pin(qtbot, overlay.pad, pin)


def test_wrong_pin_then_the_shift_opens_with_the_float(
    qtbot: Any, signin_window: BoothWindow, engine: Engine, people: tuple[Staff, Shifts]
) -> None:
    window = signin_window
    overlay = overlay_of(window)
    _staff, shifts = people
    assert overlay.isVisible()
    lane = window.lane_panel("X1")
    assert not lane.action_bar.isEnabled()  # nobody signed in: the lanes' actions are off
    assert window.operator_label.text() == "未签到"

    sign_in(qtbot, window, ATTENDANT, "1111")
    qtbot.waitUntil(lambda: "PIN 不正确" in overlay.message.text(), timeout=WAIT_MS)
    assert "还可再试 4 次" in overlay.message.text()
    assert overlay.isVisible() and not lane.action_bar.isEnabled()
    assert window.person is None and shifts.current() is None

    assert overlay.people_buttons[ATTENDANT].isChecked()  # the username stays chosen, and shows it
    enter_pin(qtbot, overlay.pad, ATTENDANT_PIN)
    qtbot.waitUntil(lambda: overlay.step == "open_shift", timeout=WAIT_MS)
    default = window.settings.shifts.default_float
    assert overlay.float_reference.text() == f"上一班留下的备用金：¥{format_yuan(default)}"
    # the float is counted note by note, like the close: no "exact" key, no banknote keys
    opening = overlay.pages.currentWidget()
    texts = [b.text() for b in opening.findChildren(QPushButton) if b.isVisible()]
    assert "正好" not in texts and not any(t.startswith("¥") for t in texts)
    assert overlay.float_total.text() == "¥0.00"
    rows = overlay.float_rows
    for _ in range(2):
        tap(qtbot, rows.plus_buttons[10_000])  # two ¥100 notes by +
    tap(qtbot, rows.count_fields[5_000])  # and two ¥50 typed on the pad, into the row tapped
    tap(qtbot, overlay.float_pad.keys["2"])
    assert rows.count_fields[5_000].text() == "2" and rows.subtotals[5_000].text() == "¥100.00"
    assert overlay.float_total.text() == "¥300.00"
    tap(qtbot, overlay.open_button)
    qtbot.waitUntil(lambda: not overlay.isVisible(), timeout=WAIT_MS)

    shift = shifts.current()
    assert shift is not None and shift.attendant == ATTENDANT and shift.opening_float_fen == 30_000
    assert window.person is not None and window.person.username == ATTENDANT
    assert window.operator_label.text() == "收费员：王芳（1001）"
    assert lane.action_bar.isEnabled() and lane.operator == ATTENDANT

    # cash taken at a lane through the window: booked in the attendant's name, in the shift's drawer
    bring_car(engine, "X1", "苏A12345")
    qtbot.waitUntil(lambda: lane.view.state is LaneState.AWAITING_PAYMENT, timeout=WAIT_MS)
    due = lane.view.due_fen
    assert due is not None and due > 0
    tap(qtbot, lane.action_buttons["cash"])
    cash = lane.panels["cash"]
    tap(qtbot, button(cash, "正好"))
    tap(qtbot, cash.confirm_button)
    qtbot.waitUntil(lambda: lane.view.state is LaneState.GATE_OPEN, timeout=WAIT_MS)
    with engine.database.read_sessionmaker() as session:
        operators = session.scalars(select(Payment.operator).where(Payment.channel == "cash")).all()
    assert operators == [ATTENDANT]
    assert shifts.expected_cash_fen(shift.id) == 30_000 + due


def test_sign_out_and_back_continues_the_shift_and_others_are_kept_out(
    qtbot: Any, signin_window: BoothWindow, people: tuple[Staff, Shifts]
) -> None:
    window = signin_window
    overlay = overlay_of(window)
    staff, shifts = people
    staff.add_person("1002", "张伟", "attendant", "2468", by=SUPERVISOR)
    sign_in(qtbot, window, ATTENDANT, ATTENDANT_PIN)
    qtbot.waitUntil(lambda: overlay.step == "open_shift", timeout=WAIT_MS)
    tap(qtbot, overlay.open_button)
    qtbot.waitUntil(lambda: window.person is not None, timeout=WAIT_MS)
    first = shifts.current()
    assert first is not None

    tap(qtbot, window.staff_screens.sign_out_button)
    assert overlay.isVisible() and window.person is None
    assert not window.lane_panel("X1").action_bar.isEnabled()

    overlay.load_people()  # 1002 was added after the overlay first listed the people
    sign_in(qtbot, window, "1002", "2468")
    qtbot.waitUntil(lambda: "尚未交班" in overlay.message.text(), timeout=WAIT_MS)
    assert overlay.isVisible() and window.person is None

    sign_in(qtbot, window, ATTENDANT, ATTENDANT_PIN)
    qtbot.waitUntil(lambda: not overlay.isVisible(), timeout=WAIT_MS)  # no second shift: the same one
    assert window.person is not None and window.person.username == ATTENDANT
    assert shifts.current() == first


def test_repeated_wrong_pins_lock_the_person_out(
    qtbot: Any, signin_window: BoothWindow, people: tuple[Staff, Shifts]
) -> None:
    overlay = overlay_of(signin_window)
    for _ in range(signin_window.settings.staff.lockout_after):
        sign_in(qtbot, signin_window, ATTENDANT, "0000")
        qtbot.waitUntil(lambda: not overlay.office.busy, timeout=WAIT_MS)
    assert "输错次数过多" in overlay.message.text()
    enter_pin(qtbot, overlay.pad, ATTENDANT_PIN)  # even the right PIN is refused while locked out
    qtbot.waitUntil(lambda: not overlay.office.busy, timeout=WAIT_MS)
    assert "输错次数过多" in overlay.message.text() and overlay.step == "credentials"


def test_a_free_release_for_an_approval_reason_needs_the_supervisor_pin(
    qtbot: Any, signin_window: BoothWindow, engine: Engine, people: tuple[Staff, Shifts]
) -> None:
    window = signin_window
    overlay = overlay_of(window)
    sign_in(qtbot, window, ATTENDANT, ATTENDANT_PIN)
    qtbot.waitUntil(lambda: overlay.step == "open_shift", timeout=WAIT_MS)
    tap(qtbot, overlay.open_button)
    qtbot.waitUntil(lambda: window.person is not None, timeout=WAIT_MS)

    lane = window.lane_panel("X1")
    bring_car(engine, "X1", "苏B55555")
    qtbot.waitUntil(lambda: lane.view.state is LaneState.AWAITING_PAYMENT, timeout=WAIT_MS)
    tap(qtbot, lane.action_buttons["free_release"])
    panel = lane.panels["free_release"]
    assert isinstance(panel, ReasonPanel)
    needing = window.settings.exceptions.approval_required[0]
    assert needing in [b.text() for b in panel.preset_buttons]
    tap(qtbot, button(panel, needing))
    assert panel.chosen_button() is button(panel, needing)  # the chosen reason is highlighted, alone
    assert [b.text() for b in panel.preset_buttons if b.isChecked()] == [needing]
    panel.note_field.setText("车主投诉计费")
    tap(qtbot, panel.confirm_button)
    assert panel.awaiting_approval()  # asked in the panel: nothing was sent yet
    assert lane.view.state is LaneState.AWAITING_PAYMENT

    # the active supervisors as name buttons (the attendant is not one): a tap chooses, no keyboard
    picker = panel.approver_picker
    qtbot.waitUntil(lambda: SUPERVISOR in picker.buttons and picker.buttons[SUPERVISOR].isVisible(),
                    timeout=WAIT_MS)
    assert list(picker.buttons) == [SUPERVISOR]
    enter_pin(qtbot, panel.approver_pad, "2222")  # the PIN before a name: refused in words, nothing sent
    assert panel.error.text() == "请先点选主管姓名或输入用户名"
    tap(qtbot, picker.buttons[SUPERVISOR])
    assert panel.approver_field.text() == SUPERVISOR and picker.buttons[SUPERVISOR].isChecked()
    enter_pin(qtbot, panel.approver_pad, "1111")
    qtbot.waitUntil(lambda: "主管批准未通过" in panel.error.text(), timeout=WAIT_MS)
    assert "PIN 不正确" in panel.error.text()
    assert lane.view.state is LaneState.AWAITING_PAYMENT and lane.view.gate == "closed"
    assert panel.awaiting_approval()

    enter_pin(qtbot, panel.approver_pad, SUPERVISOR_PIN)
    qtbot.waitUntil(lambda: lane.view.state is LaneState.GATE_OPEN, timeout=WAIT_MS)
    with engine.database.read_sessionmaker() as session:
        rows = session.execute(
            select(
                LaneException.operator, LaneException.reason, LaneException.approved_by, LaneException.note
            )
        ).all()
    assert [tuple(r) for r in rows] == [(ATTENDANT, needing, SUPERVISOR, "车主投诉计费")]


def test_every_button_on_the_people_screens_is_a_touch_target(
    qtbot: Any, signin_window: BoothWindow, people: tuple[Staff, Shifts]
) -> None:
    screens = signin_window.staff_screens
    _staff, shifts = people
    sheets: list[QWidget] = [screens.sign_in]
    qtbot.waitUntil(lambda: bool(screens.sign_in.people_buttons), timeout=WAIT_MS)
    shift = shifts.open(ATTENDANT)
    screens.shift_panel.open_for(shift)
    screens.supervisor_panel.begin()
    screens.report_view.show_period("today")
    sheets += [screens.shift_panel, screens.supervisor_panel, screens.report_view]
    checked = 0
    for sheet in sheets:
        sheet.show()
        qtbot.waitUntil(lambda s=sheet: all(b.isVisible() for b in s.findChildren(QPushButton)
                                            if not b.isHidden() and b.isVisibleTo(s)), timeout=WAIT_MS)
        for b in sheet.findChildren(QPushButton):
            if b.isVisible():
                assert px_to_mm(b.width()) >= 10 and px_to_mm(b.height()) >= 10, (b.text(), b.size())
                checked += 1
    assert checked > 40


@pytest.fixture
def back_to_chinese() -> Iterator[None]:
    yield
    app = QApplication.instance()
    if current_language() != "zh_CN" and app is not None:
        switch_language(app, "zh_CN")


def test_the_language_switches_on_the_sign_in_screen(
    qtbot: Any, signin_window: BoothWindow, back_to_chinese: None
) -> None:
    """Issue #15: the sign-in screen covers the top bar (and its language button), so it has its own: an
    attendant who reads the other language switches before signing in; the words of the step on screen,
    names and amounts in them, follow each switch."""
    window = signin_window
    overlay = overlay_of(window)
    qtbot.waitExposed(window)
    top = window.language_button
    assert window.childAt(top.mapTo(window, top.rect().center())) is not top  # covered by the sign-in
    assert overlay.language_button.text() == "English"
    tap(qtbot, overlay.language_button)
    assert current_language() == "en"
    qtbot.waitUntil(lambda: overlay.title.text() == "Attendant sign-in", timeout=WAIT_MS)
    assert overlay.prompt.text().startswith("Tap your name") and overlay.language_button.text() == "中文"

    sign_in(qtbot, window, ATTENDANT, ATTENDANT_PIN)  # no shift open: the float's step
    qtbot.waitUntil(lambda: overlay.step == "open_shift", timeout=WAIT_MS)
    assert overlay.title.text() == "Open shift" and overlay.float_reference.text().startswith("Float left")
    tap(qtbot, overlay.language_button)
    assert current_language() == "zh_CN"
    qtbot.waitUntil(lambda: overlay.title.text() == "开班", timeout=WAIT_MS)
    assert overlay.prompt.text().startswith(f"{ATTENDANT_NAME}，请按面额清点")
    assert overlay.float_reference.text().startswith("上一班留下的备用金：")
    assert overlay.step == "open_shift" and window.person is None  # nobody signed in by the switch
    tap(qtbot, overlay.back_button)


def test_a_refused_pin_is_said_again_in_the_language_switched_to(
    qtbot: Any, signin_window: BoothWindow, back_to_chinese: None
) -> None:
    """The refusal on the sign-in card (its words and the tries left) follows a switch of language; it stayed
    in the language the PIN was refused in."""
    overlay = overlay_of(signin_window)
    sign_in(qtbot, signin_window, ATTENDANT, "1111")
    qtbot.waitUntil(lambda: overlay.message.text() == "PIN 不正确（还可再试 4 次）", timeout=WAIT_MS)
    tap(qtbot, overlay.language_button)
    qtbot.waitUntil(lambda: overlay.title.text() == "Attendant sign-in", timeout=WAIT_MS)
    assert overlay.message.text() == "Wrong PIN (4 tries left)"
    tap(qtbot, overlay.language_button)
    qtbot.waitUntil(lambda: overlay.title.text() == "收费员签到", timeout=WAIT_MS)
    assert overlay.message.text() == "PIN 不正确（还可再试 4 次）"
    assert signin_window.person is None


def _rect_in(widget: QWidget, window: QWidget) -> QRect:
    return QRect(widget.mapTo(window, QPoint(0, 0)), widget.size())


@pytest.mark.parametrize("size", [(1920, 1080), (1366, 768)], ids=["1920x1080", "1366x768"])
def test_the_lanes_driver_side_stays_in_view_while_nobody_is_signed_in(
    qtbot: Any,
    signin_window: BoothWindow,
    engine: Engine,
    people: tuple[Staff, Shifts],
    size: tuple[int, int],
) -> None:
    """Issue #15 item 10 on the sign-in screen too: after a restart nobody is signed in, and a driver must
    still read the plate and the amount and scan the QR. The names and the PIN pad are on a card that hides
    part of the lanes only while it is open; untouched it closes, and the sign-in bar lies over the top bar
    alone. Touches on the lanes land on the overlay all the while; "sign in" on the bar opens the card."""
    window = signin_window
    window.resize(*size)
    overlay = overlay_of(window)
    lanes = [window.lane_panel("X1"), window.lane_panel("X2")]
    bring_car(engine, "X1", "苏A12345")
    bring_car(engine, "X2", "京AD12345")
    qtbot.waitUntil(lambda: all(p.view.code_url and p.qr.module_px() > 0 for p in lanes), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.width() == size[0] and window.height() == size[1], timeout=WAIT_MS)
    assert overlay.isVisible() and overlay.card_open  # the sign-in screen opens on its card
    assert overlay.card_timer.isActive()
    overlay.card_timer.timeout.emit()  # CARD_OPEN_MS untouched
    assert overlay.isVisible() and not overlay.card_open and overlay.bar.isVisible()

    QApplication.processEvents()
    drawn = window.grab().toImage()
    ratio = drawn.width() / window.width()
    bar = _rect_in(overlay.bar, window)
    assert bar.top() == 0  # over the top bar
    for panel in lanes:
        for part in (panel.plate_label, panel.amount, panel.qr, panel.qr_amount):
            assert part.isVisible() and not _rect_in(part, window).intersects(bar), part.objectName()
        qr = _rect_in(panel.qr, window)
        scaled = QRect(round(qr.x() * ratio), round(qr.y() * ratio), round(qr.width() * ratio),
                       round(qr.height() * ratio))
        assert decode_qr(drawn.copy(scaled)) == [panel.view.code_url], f"{panel.lane_id}: QR not readable"
        # a finger on the lane's buttons lands on the sign-in overlay: the lanes are out of the hands' reach
        cash = panel.action_buttons["cash"]
        assert window.childAt(cash.mapTo(window, cash.rect().center())) is overlay
        assert not panel.action_bar.isEnabled()

    tap(qtbot, overlay.card_button)  # the attendant comes: the card again
    assert overlay.card_open and overlay.card_timer.isActive()
    card = _rect_in(overlay.card, window)
    assert card.top() >= bar.bottom()  # below the bar; the buttons inside it are in reach
    tap(qtbot, overlay.hide_button)  # or put it away at once
    assert not overlay.card_open
    QTest.keyClick(window.lane_panel("X1"), Qt.Key.Key_1)  # a keyboard's digit opens it and goes to the pad
    assert overlay.card_open and overlay.pad.field.text() == "1"
    overlay.pad.clear()
    sign_in(qtbot, window, ATTENDANT, ATTENDANT_PIN)
    qtbot.waitUntil(lambda: overlay.step == "open_shift", timeout=WAIT_MS)
    assert not overlay.card_timer.isActive()  # counting the float: the card stays
    overlay.card_timer.timeout.emit()
    assert overlay.card_open
