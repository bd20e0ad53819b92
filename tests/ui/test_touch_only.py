"""Issue #15 items 1-3, by taps on the real widgets (offscreen; tests/ui/test_ui_screen_xvfb.py drives the
same screens on a real X server with xdotool):

1. a supervisor is chosen by name, not typed: the active supervisors (and, on sign-in, attendants) are large
   name buttons, the chosen one highlighted, typing the username still works; and what is typed can be read
   (light text on a dark field in every field a person types into, in both themes);
2. the chosen reason of a free release or manual lift stays highlighted, alone;
3. the float of a new shift is counted note by note (no "exact" key, no banknote keys), and a count that is
   not a count is refused in words, opening nothing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from lane_driving import bring_car
from people_driving import (
    ATTENDANT,
    ATTENDANT_PIN,
    SUPERVISOR,
    WAIT_MS,
    button,
    enter_pin,
    seed_people,
    tap,
)

from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication, QLineEdit, QPushButton

from booth.config import Settings
from booth.domain.lane import LaneState
from booth.engine import Engine
from booth.office.shifts import Shifts
from booth.office.staff import Staff
from ui.kit.physical import px_to_mm
from ui.kit.style import apply_style
from ui.lanes.reason_panel import ReasonPanel
from ui.people.lock_screen import LockScreen
from ui.people.sign_in import SignInOverlay
from ui.shell.kiosk import staff_verifier
from ui.shell.main_window import BoothWindow

#: WCAG's minimum contrast for text (AA, normal size)
READABLE = 4.5


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


@pytest.fixture
def restore_style(qapp: QApplication) -> Iterator[None]:
    yield
    apply_style(qapp)  # the other tests run on the standard theme


def overlay_of(window: BoothWindow) -> SignInOverlay:
    return window.staff_screens.sign_in


def sign_in_and_open(qtbot: Any, window: BoothWindow) -> None:
    """The attendant's name and PIN, and the shift opened with one ¥100 note counted as its float."""
    overlay = overlay_of(window)
    qtbot.waitUntil(lambda: ATTENDANT in overlay.people_buttons
                    and overlay.people_buttons[ATTENDANT].isVisible(), timeout=WAIT_MS)
    tap(qtbot, overlay.people_buttons[ATTENDANT])
    enter_pin(qtbot, overlay.pad, ATTENDANT_PIN)
    qtbot.waitUntil(lambda: overlay.step == "open_shift", timeout=WAIT_MS)
    tap(qtbot, overlay.float_rows.plus_buttons[10_000])
    tap(qtbot, overlay.open_button)
    qtbot.waitUntil(lambda: window.person is not None, timeout=WAIT_MS)


def free_release_panel(qtbot: Any, window: BoothWindow, engine: Engine, plate: str) -> ReasonPanel:
    lane = window.lane_panel("X1")
    bring_car(engine, "X1", plate)
    qtbot.waitUntil(lambda: lane.view.state is LaneState.AWAITING_PAYMENT, timeout=WAIT_MS)
    tap(qtbot, lane.action_buttons["free_release"])
    panel = lane.panels["free_release"]
    assert isinstance(panel, ReasonPanel) and lane.open_action() is panel
    return panel


def test_the_sign_in_covers_the_window_from_its_first_layout(
    qtbot: Any, signin_window: BoothWindow
) -> None:
    """The overlay is shown while the window is built, before the window itself: it must still follow the
    window's first layout, not stay at the unlaid 640x480 with its keys on top of each other (issue #15
    item 6; xdotool's taps missed the PIN's confirm key)."""
    overlay, central = overlay_of(signin_window), signin_window.centralWidget()
    qtbot.waitUntil(lambda: overlay.geometry() == central.rect(), timeout=WAIT_MS)
    assert overlay.width() > 640 and overlay.height() > 480
    confirm = overlay.pad.confirm_button
    centre = confirm.mapTo(signin_window, confirm.rect().center())
    assert signin_window.childAt(centre) is confirm  # nothing lies over the key a finger taps


# ------------------------------------------------------------------------------------------ legibility
def luminance(colour: QColor) -> float:
    """WCAG 2 relative luminance."""

    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    red, green, blue = colour.redF(), colour.greenF(), colour.blueF()
    return 0.2126 * channel(red) + 0.7152 * channel(green) + 0.0722 * channel(blue)


def text_contrast(field: QLineEdit) -> float:
    """The contrast of what ``field`` shows, as drawn: its background (the commonest colour inside the
    border) against the text's pixel that differs most from it."""
    image = field.grab().toImage()
    w, h = image.width(), image.height()
    inside = [QColor(image.pixel(x, y)) for x in range(8, w - 8) for y in range(h // 4, 3 * h // 4)]
    background = Counter(c.rgb() for c in inside).most_common(1)[0][0]
    back = luminance(QColor(background))
    text = max((luminance(c) for c in inside), key=lambda lum: abs(lum - back))
    bright, dark = max(back, text), min(back, text)
    return (bright + 0.05) / (dark + 0.05)


@pytest.mark.parametrize("theme", ["standard", "high_contrast"])
def test_what_a_person_types_can_be_read_in_every_field_they_type_into(
    qtbot: Any, qapp: QApplication, signin_window: BoothWindow, engine: Engine, people: tuple[Staff, Shifts],
    theme: str, restore_style: None,
) -> None:
    """Sign-in's username and PIN, the supervisor's screens, the approval in a lane, the shift close's
    co-signature, the sync's retry and the kiosk's exit: typed text is light on dark (or dark on light),
    never the style's near-white on the platform's white field."""
    apply_style(qapp, theme=theme)
    window = signin_window
    overlay = overlay_of(window)
    checked: dict[str, float] = {}

    def check(name: str, field: QLineEdit, text: str | None = "9001") -> None:
        qtbot.waitUntil(field.isVisible, timeout=WAIT_MS)
        if text is not None:
            field.clear()
            qtbot.keyClicks(field, text)  # a keyboard: the alternative to the name buttons
        assert field.text(), name
        checked[name] = text_contrast(field)

    check("sign-in username", overlay.username)
    enter_digits = overlay.pad
    for digit in "12":
        tap(qtbot, enter_digits.keys[digit])
    check("sign-in PIN dots", overlay.pad.field, None)
    overlay.pad.clear()

    overlay.username.clear()
    sign_in_and_open(qtbot, window)
    panel = free_release_panel(qtbot, window, engine, "苏A12345")
    tap(qtbot, button(panel, window.settings.exceptions.approval_required[0]))
    tap(qtbot, panel.confirm_button)
    assert panel.awaiting_approval()
    check("approval in a lane", panel.approver_field)
    window.lane_panel("X1").close_panel()

    screens = window.staff_screens
    tap(qtbot, screens.supervisor_button)
    check("supervisor's screens", screens.supervisor_panel.auth_name)
    screens.supervisor_panel.dismiss()

    tap(qtbot, screens.close_shift_button)
    close = screens.shift_panel
    qtbot.waitUntil(lambda: close.isVisible() and close.page == "count", timeout=WAIT_MS)
    tap(qtbot, close.plus_buttons[5_000])  # ¥50 against the ¥100 float: a supervisor must co-sign
    tap(qtbot, close.handover_field)
    for key in "⌫⌫⌫⌫⌫⌫0":  # nothing handed over (the field held 100.00)
        tap(qtbot, close.pad.keys[key])
    tap(qtbot, close.submit_button)
    qtbot.waitUntil(lambda: close.page == "cosign", timeout=WAIT_MS)
    check("shift close co-signature", close.cosigner_field)
    close.dismiss()

    window.open_sync_panel()
    window.sync_panel.retry(None)
    check("sync retry approval", window.sync_panel.approver_field)
    window.close_sync_panel()

    lock = LockScreen(window.centralWidget(), staff_verifier(engine), attendant=ATTENDANT, sizes=window.sizes)
    lock.request_exit()
    check("kiosk exit", lock.supervisor_name)
    lock.cancel_exit()

    assert len(checked) == 7
    unreadable = {name: round(ratio, 2) for name, ratio in checked.items() if ratio < READABLE}
    assert not unreadable, f"typed text below {READABLE}:1 contrast ({theme}): {unreadable}"


# ------------------------------------------------------------------------------------------ names
def test_a_supervisor_is_chosen_by_name_and_only_active_supervisors_are_offered(
    qtbot: Any, signin_window: BoothWindow, engine: Engine, people: tuple[Staff, Shifts]
) -> None:
    staff, _shifts = people
    staff.add_person("9002", "赵主管", "supervisor", "8888", by=SUPERVISOR)
    staff.add_person("9003", "钱主管", "supervisor", "7777", by=SUPERVISOR)
    staff.disable("9003", by=SUPERVISOR)
    window = signin_window
    overlay = overlay_of(window)
    overlay.load_people()  # as a sign-out does: the people changed after the window listed them
    # sign-in offers everyone active, attendants and supervisors, as buttons of 3 x 1.5 touch targets
    qtbot.waitUntil(lambda: set(overlay.people_buttons) == {ATTENDANT, SUPERVISOR, "9002"}
                    and all(b.isVisible() for b in overlay.people_buttons.values()), timeout=WAIT_MS)
    target = window.sizes.target
    assert px_to_mm(target) >= 10
    for name_button in overlay.people_buttons.values():
        assert name_button.height() >= int(target * 1.5) and name_button.width() >= target * 3
    tap(qtbot, overlay.people_buttons["9002"])
    assert overlay.username.text() == "9002"
    assert [u for u, b in overlay.people_buttons.items() if b.isChecked()] == ["9002"]
    tap(qtbot, overlay.people_buttons[ATTENDANT])  # another tap moves the highlight
    assert [u for u, b in overlay.people_buttons.items() if b.isChecked()] == [ATTENDANT]
    overlay.username.clear()
    qtbot.keyClicks(overlay.username, SUPERVISOR)  # typed: the name typed lights up too
    assert [u for u, b in overlay.people_buttons.items() if b.isChecked()] == [SUPERVISOR]
    qtbot.keyClicks(overlay.username, "9")  # "90019" is nobody shown: nothing highlighted
    assert not any(b.isChecked() for b in overlay.people_buttons.values())
    overlay.username.clear()

    sign_in_and_open(qtbot, window)
    panel = free_release_panel(qtbot, window, engine, "苏A12345")
    tap(qtbot, button(panel, window.settings.exceptions.approval_required[0]))
    tap(qtbot, panel.confirm_button)
    picker = panel.approver_picker
    # the approval offers the active supervisors only: not the attendant, not the disabled one
    qtbot.waitUntil(lambda: set(picker.buttons) == {SUPERVISOR, "9002"}
                    and all(b.isVisible() for b in picker.buttons.values()), timeout=WAIT_MS)
    tap(qtbot, picker.buttons["9002"])
    enter_pin(qtbot, panel.approver_pad, "8888")
    lane = window.lane_panel("X1")
    qtbot.waitUntil(lambda: lane.view.state is LaneState.GATE_OPEN, timeout=WAIT_MS)
    assert engine.snapshot()[0].gate in ("opening", "open")


# ------------------------------------------------------------------------------------------ reasons
def test_the_chosen_reason_stays_highlighted_alone(
    qtbot: Any, window: BoothWindow, engine: Engine
) -> None:
    ex = window.settings.exceptions
    lane = window.lane_panel("X1")
    bring_car(engine, "X1", "苏A12345")
    qtbot.waitUntil(lambda: lane.view.state is LaneState.AWAITING_PAYMENT, timeout=WAIT_MS)
    for action, reasons in (("free_release", ex.free_release_reasons),
                            ("manual_lift", ex.manual_lift_reasons)):
        tap(qtbot, lane.action_buttons[action])
        panel = lane.panels[action]
        assert isinstance(panel, ReasonPanel)
        assert panel.chosen_button() is None  # nothing chosen yet
        first, second = reasons[0], reasons[1]
        tap(qtbot, button(panel, first))
        assert [b.text() for b in panel.preset_buttons if b.isChecked()] == [first]
        tap(qtbot, button(panel, second))
        assert [b.text() for b in panel.preset_buttons if b.isChecked()] == [second]
        assert panel.field.text() == second
        tap(qtbot, button(panel, second))  # a second tap on the chosen one keeps it chosen
        assert panel.chosen_button() is button(panel, second) and panel.reason() == second
        panel.field.clear()
        qtbot.keyClicks(panel.field, "car broke down")  # typed: no preset is the reason
        assert panel.chosen_button() is None
        panel.field.clear()
        panel.field.setText(first)  # typed as a preset is worded: that preset is the reason
        assert panel.chosen_button() is button(panel, first)
        tap(qtbot, panel.back_button)
        tap(qtbot, lane.action_buttons[action])  # opened again: a fresh choice
        assert panel.chosen_button() is None and panel.reason() == ""
        tap(qtbot, panel.back_button)
        for reason_button in panel.preset_buttons:
            assert reason_button.objectName() == "reasonButton" and reason_button.isCheckable()


# ------------------------------------------------------------------------------------------ the float
def test_the_float_is_counted_note_by_note_and_a_bad_count_opens_nothing(
    qtbot: Any, signin_window: BoothWindow, people: tuple[Staff, Shifts]
) -> None:
    _staff, shifts = people
    window = signin_window
    overlay = overlay_of(window)
    qtbot.waitUntil(lambda: ATTENDANT in overlay.people_buttons
                    and overlay.people_buttons[ATTENDANT].isVisible(), timeout=WAIT_MS)
    tap(qtbot, overlay.people_buttons[ATTENDANT])
    enter_pin(qtbot, overlay.pad, ATTENDANT_PIN)
    qtbot.waitUntil(lambda: overlay.step == "open_shift", timeout=WAIT_MS)
    page = overlay.pages.currentWidget()
    assert page is not None
    keys = [b.text() for b in page.findChildren(QPushButton) if b.isVisible()]
    assert "正好" not in keys and not [k for k in keys if k.startswith("¥")]  # no exact, no banknotes
    rows = overlay.float_rows
    assert list(rows.count_fields) == list(window.settings.shifts.denominations)

    # a keyboard typed a letter into the ¥20 row: refused in words naming the row, nothing opened
    qtbot.keyClicks(rows.count_fields[2_000], "3x")
    assert rows.subtotals[2_000].text() == "无效" and overlay.float_total.text() == "—"
    tap(qtbot, overlay.open_button)
    assert overlay.message.text() == "¥20.00 的数量「3x」不正确：请输入 0 至 100000 的整数"
    assert overlay.step == "open_shift" and shifts.current() is None

    # corrected by taps: ⌫ on the pad, then three ¥100 by "+" and one ¥0.50 typed on the pad
    tap(qtbot, rows.count_fields[2_000])
    tap(qtbot, overlay.float_pad.keys["⌫"])
    assert rows.count_fields[2_000].text() == "3" and overlay.message.text() == ""
    for _ in range(3):
        tap(qtbot, rows.plus_buttons[10_000])
    tap(qtbot, rows.minus_buttons[10_000])
    tap(qtbot, rows.count_fields[50])
    tap(qtbot, overlay.float_pad.keys["1"])
    assert overlay.float_total.text() == "¥260.50"  # 2 × ¥100 + 3 × ¥20 + 1 × ¥0.50
    tap(qtbot, overlay.open_button)
    qtbot.waitUntil(lambda: not overlay.isVisible(), timeout=WAIT_MS)
    shift = shifts.current()
    assert shift is not None and shift.attendant == ATTENDANT and shift.opening_float_fen == 26_050
    assert window.person is not None and window.person.username == ATTENDANT
