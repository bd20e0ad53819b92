"""The supervisor's screens: only after a supervisor's PIN; adding an attendant (PIN twice) who can then
sign in, disabling them, each change audited under the supervisor; the shift list opens a shift report."""

from __future__ import annotations

from typing import Any

import pytest
from lane_driving import type_chinese
from people_driving import (
    ATTENDANT,
    ATTENDANT_PIN,
    SUPERVISOR,
    SUPERVISOR_PIN,
    WAIT_MS,
    enter_pin,
    seed_people,
    tap,
)
from sqlalchemy import select

from PySide6.QtWidgets import QApplication, QLabel, QLineEdit

import ui.kit.i18n as i18n
from booth.engine import Engine
from booth.office.shifts import Shifts
from booth.office.staff import AuthError, Staff
from booth.store.models import AuditEntry
from ui.people.supervisor_panel import SupervisorPanel
from ui.shell.main_window import BoothWindow


@pytest.fixture
def people(engine: Engine) -> tuple[Staff, Shifts]:
    return seed_people(engine)


def open_as_supervisor(qtbot: Any, window: BoothWindow) -> SupervisorPanel:
    panel = window.staff_screens.supervisor_panel
    tap(qtbot, window.staff_screens.supervisor_button)
    assert panel.isVisible() and panel.page == "auth" and not panel.tabs.isVisible()
    picker = panel.auth_picker  # the active supervisors as name buttons: a tap, no keyboard
    qtbot.waitUntil(lambda: SUPERVISOR in picker.buttons and picker.buttons[SUPERVISOR].isVisible(),
                    timeout=WAIT_MS)
    assert list(picker.buttons) == [SUPERVISOR]  # supervisors only
    tap(qtbot, picker.buttons[SUPERVISOR])
    assert panel.auth_name.text() == SUPERVISOR and picker.buttons[SUPERVISOR].isChecked()
    enter_pin(qtbot, panel.auth_pad, SUPERVISOR_PIN)
    qtbot.waitUntil(lambda: panel.page == "people" and panel.supervisor is not None, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: SUPERVISOR in panel.person_rows, timeout=WAIT_MS)
    return panel


def audit(engine: Engine, action: str) -> list[tuple[str, str]]:
    with engine.database.read_sessionmaker() as session:
        rows = session.execute(
            select(AuditEntry.actor, AuditEntry.detail_json).where(AuditEntry.action == action)
        ).all()
    return [(r[0], r[1]) for r in rows]


def test_an_attendant_pin_does_not_open_the_supervisor_screens(
    qtbot: Any, window: BoothWindow, people: tuple[Staff, Shifts]
) -> None:
    panel = window.staff_screens.supervisor_panel
    tap(qtbot, window.staff_screens.supervisor_button)
    panel.auth_name.setText(ATTENDANT)
    enter_pin(qtbot, panel.auth_pad, ATTENDANT_PIN)
    qtbot.waitUntil(lambda: "需要主管的 PIN" in panel.message.text(), timeout=WAIT_MS)
    assert panel.page == "auth" and panel.supervisor is None and not panel.tabs.isVisible()


def test_add_an_attendant_who_signs_in_then_disable_them(
    qtbot: Any, window: BoothWindow, engine: Engine, people: tuple[Staff, Shifts]
) -> None:
    staff, _shifts = people
    panel = open_as_supervisor(qtbot, window)
    assert ATTENDANT in panel.person_rows
    tap(qtbot, panel.add_button)
    assert panel.page == "add"
    type_chinese(panel.new_name, "张伟")  # a keyboard with an input method: the name is typed
    assert panel.new_name.text() == "张伟"
    enter_pin(qtbot, panel.new_pad, "1002")  # the staff number, on the pad
    assert panel.new_username.text() == "1002"
    qtbot.waitUntil(lambda: panel.add_step == "pin", timeout=WAIT_MS)  # not taken (asked of the office)

    enter_pin(qtbot, panel.new_pad, "12")  # too short: refused before anything is sent
    assert "PIN 须为 4-12 位数字" in panel.message.text()
    enter_pin(qtbot, panel.new_pad, "5678")
    assert panel.pin_prompt.text() == "请再输入一次同一个 PIN"
    enter_pin(qtbot, panel.new_pad, "5679")
    assert "不一致" in panel.message.text() and staff.person("1002") is None

    enter_pin(qtbot, panel.new_pad, "5678")
    enter_pin(qtbot, panel.new_pad, "5678")
    qtbot.waitUntil(lambda: "1002" in panel.person_rows, timeout=WAIT_MS)
    assert panel.page == "people" and "已添加收费员 张伟（1002）" in panel.message.text()
    added = staff.person("1002")
    assert added is not None and added.role == "attendant" and added.active
    assert [actor for actor, detail in audit(engine, "person_added") if '"1002"' in detail] == [SUPERVISOR]

    # the same number again: refused in words at once, before any PIN is asked for
    tap(qtbot, panel.add_button)
    qtbot.keyClicks(panel.new_username, "1002")  # typed on a keyboard: the pad's number too
    assert panel.new_pad.field.text() == "1002"
    panel.new_name.setText("重复")
    tap(qtbot, panel.new_pad.confirm_button)
    qtbot.waitUntil(lambda: panel.message.text() == "工号 1002 已被使用，请换一个", timeout=WAIT_MS)
    assert panel.add_step == "number" and panel.new_pad.field.text() == "1002"  # to correct
    assert all(key.isEnabled() for key in panel.new_pad.keys.values())
    tap(qtbot, panel.cancel_add)

    # the new attendant signs in (no shift open: the shift-open step)
    screens = window.staff_screens
    tap(qtbot, screens.sign_out_button)
    overlay = screens.sign_in
    overlay.username.setText("1002")
    enter_pin(qtbot, overlay.pad, "5678")
    qtbot.waitUntil(lambda: overlay.step == "open_shift", timeout=WAIT_MS)
    tap(qtbot, overlay.back_button)

    # disabled by the supervisor: refused at sign-in
    panel = open_as_supervisor(qtbot, window)
    qtbot.waitUntil(lambda: ("1002", "disable") in panel.person_buttons, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: panel.person_buttons[("1002", "disable")].isVisible(), timeout=WAIT_MS)
    tap(qtbot, panel.person_buttons[("1002", "disable")])
    qtbot.waitUntil(lambda: ("1002", "enable") in panel.person_buttons, timeout=WAIT_MS)
    disabled = staff.person("1002")
    assert disabled is not None and not disabled.active
    assert "已停用" in panel.person_words(disabled)
    assert [actor for actor, _ in audit(engine, "person_disabled")] == [SUPERVISOR]
    panel.dismiss()
    overlay.username.setText("1002")
    enter_pin(qtbot, overlay.pad, "5678")
    qtbot.waitUntil(lambda: "已停用" in overlay.message.text(), timeout=WAIT_MS)
    assert overlay.isVisible() and window.person is None


def test_an_attendant_is_added_by_touch_alone_with_no_name(
    qtbot: Any, window: BoothWindow, engine: Engine, people: tuple[Staff, Shifts]
) -> None:
    """Issue #15: a kiosk has no keyboard and no input method. The staff number is tapped on the pad (its
    digits shown, not dots), the PIN twice; the name left empty, the staff number stands for it on the
    sign-in buttons; the screen says how a Chinese name is given without a keyboard."""
    staff, _shifts = people
    panel = open_as_supervisor(qtbot, window)
    tap(qtbot, panel.add_button)
    assert panel.page == "add" and panel.add_step == "number"
    assert "booth staff add" in panel.add_hint.text() and panel.add_hint.isVisible()
    assert panel.new_name.placeholderText() == "姓名（可不填）"
    tap(qtbot, panel.new_pad.confirm_button)  # nothing entered: nothing happens
    assert panel.add_step == "number"
    for digit in "1005":
        tap(qtbot, panel.new_pad.keys[digit])
    tap(qtbot, panel.new_pad.keys["backspace"])  # a slip corrected
    tap(qtbot, panel.new_pad.keys["3"])
    assert panel.new_username.text() == "1003"
    assert panel.new_pad.field.echoMode() == QLineEdit.EchoMode.Normal  # the number is read, not dots
    tap(qtbot, panel.new_pad.confirm_button)
    qtbot.waitUntil(lambda: panel.add_step == "pin", timeout=WAIT_MS)
    assert panel.new_pad.field.echoMode() == QLineEdit.EchoMode.Password
    assert panel.new_pad.field.text() == "" and panel.new_username.isReadOnly()
    enter_pin(qtbot, panel.new_pad, "2580")
    assert panel.add_step == "again"
    enter_pin(qtbot, panel.new_pad, "2580")
    qtbot.waitUntil(lambda: "1003" in panel.person_rows, timeout=WAIT_MS)
    assert panel.message.text() == "已添加收费员 1003（未填姓名，以工号显示）"
    added = staff.person("1003")
    assert added is not None and added.display_name == "1003" and added.role == "attendant"
    assert [actor for actor, detail in audit(engine, "person_added") if '"1003"' in detail] == [SUPERVISOR]

    # the new attendant signs in by touch: their number on a name button, then the PIN
    screens = window.staff_screens
    panel.dismiss()
    tap(qtbot, screens.sign_out_button)
    overlay = screens.sign_in
    qtbot.waitUntil(lambda: "1003" in overlay.people_buttons and overlay.people_buttons["1003"].isVisible(),
                    timeout=WAIT_MS)
    tap(qtbot, overlay.people_buttons["1003"])
    enter_pin(qtbot, overlay.pad, "2580")
    qtbot.waitUntil(lambda: overlay.step == "open_shift", timeout=WAIT_MS)
    tap(qtbot, overlay.back_button)


def test_a_locked_out_attendant_is_unlocked_and_the_shift_list_opens_a_report(
    qtbot: Any, window: BoothWindow, engine: Engine, people: tuple[Staff, Shifts]
) -> None:
    staff, shifts = people
    for _ in range(window.settings.staff.lockout_after):
        with pytest.raises(AuthError, match=r"wrong PIN|locked out"):
            staff.authenticate(ATTENDANT, "0000")
    closed = shifts.open(SUPERVISOR, opening_float_fen=0)
    shifts.close(closed.id, {}, handover_float_fen=0)
    shift = shifts.open(SUPERVISOR)
    panel = open_as_supervisor(qtbot, window)
    qtbot.waitUntil(lambda: (ATTENDANT, "unlock") in panel.person_buttons, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: panel.person_buttons[(ATTENDANT, "unlock")].isVisible(), timeout=WAIT_MS)
    tap(qtbot, panel.person_buttons[(ATTENDANT, "unlock")])
    qtbot.waitUntil(lambda: "已解锁 1001" in panel.message.text(), timeout=WAIT_MS)
    assert staff.authenticate(ATTENDANT, ATTENDANT_PIN).username == ATTENDANT

    tap(qtbot, panel.shifts_tab)
    qtbot.waitUntil(lambda: shift.id in panel.shift_buttons, timeout=WAIT_MS)
    assert panel.shift_buttons[shift.id].text() == "交班"  # open: the supervisor may close it
    qtbot.waitUntil(lambda: panel.shift_buttons[shift.id].isVisible(), timeout=WAIT_MS)
    assert panel.shift_buttons[closed.id].text() == "报表"
    tap(qtbot, panel.shift_buttons[shift.id])
    assert window.staff_screens.shift_panel.isVisible() and not panel.isVisible()
    window.staff_screens.shift_panel.dismiss()

    panel = open_as_supervisor(qtbot, window)
    tap(qtbot, panel.shifts_tab)
    qtbot.waitUntil(lambda: closed.id in panel.shift_buttons, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: panel.shift_buttons[closed.id].isVisible(), timeout=WAIT_MS)
    tap(qtbot, panel.shift_buttons[closed.id])
    view = window.staff_screens.report_view
    assert view.isVisible() and not panel.isVisible()
    qtbot.waitUntil(lambda: view.report is not None or "没有" in view.message.text(), timeout=WAIT_MS)
    assert view.report is not None and view.report.shift is not None and view.report.shift.id == closed.id


def test_a_refused_pin_and_the_supervisors_screens_follow_a_language_switch(
    qtbot: Any, qapp: QApplication, window: BoothWindow, people: tuple[Staff, Shifts]
) -> None:
    """Issue #15: a refused supervisor PIN (its words and the tries left), the title with the supervisor's
    name and the people listed are said again in the language switched to; they stayed in the language they
    were first said in."""
    panel = window.staff_screens.supervisor_panel
    tap(qtbot, window.staff_screens.supervisor_button)
    picker = panel.auth_picker
    qtbot.waitUntil(lambda: SUPERVISOR in picker.buttons and picker.buttons[SUPERVISOR].isVisible(),
                    timeout=WAIT_MS)
    tap(qtbot, picker.buttons[SUPERVISOR])
    enter_pin(qtbot, panel.auth_pad, "0000")
    left = window.settings.staff.lockout_after - 1
    qtbot.waitUntil(lambda: panel.message.text() == f"PIN 不正确（还可再试 {left} 次）", timeout=WAIT_MS)
    try:
        i18n.switch_language(qapp, "en")
        qtbot.waitUntil(lambda: panel.title.text() == "Supervisor", timeout=WAIT_MS)  # LanguageChange, posted
        assert panel.message.text() == f"Wrong PIN ({left} tries left)" and panel.message.isVisible()
        i18n.switch_language(qapp, "zh_CN")
        qtbot.waitUntil(lambda: panel.title.text() == "主管", timeout=WAIT_MS)
        assert panel.message.text() == f"PIN 不正确（还可再试 {left} 次）"

        enter_pin(qtbot, panel.auth_pad, SUPERVISOR_PIN)
        qtbot.waitUntil(lambda: panel.page == "people" and ATTENDANT in panel.person_rows, timeout=WAIT_MS)
        assert panel.title.text() == "主管：李主管" and not panel.message.isVisible()
        i18n.switch_language(qapp, "en")
        qtbot.waitUntil(lambda: panel.title.text() == "Supervisor: 李主管", timeout=WAIT_MS)
        row = panel.person_rows[ATTENDANT].findChild(QLabel)
        assert row is not None and row.text() == "王芳 · 1001 · Attendant · Active"
    finally:
        i18n.switch_language(qapp, "zh_CN")
    qtbot.waitUntil(lambda: panel.title.text() == "主管：李主管", timeout=WAIT_MS)
    row = panel.person_rows[ATTENDANT].findChild(QLabel)
    assert row is not None and row.text() == "王芳 · 1001 · 收费员 · 在职"
