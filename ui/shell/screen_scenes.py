"""The booth's screens, played one after the other for the screenshots (ui/shell/screenshot.py): a real
engine on the Bolink sandbox in a temporary directory, an attendant and a supervisor with an open shift, a
window driven by taps (real pointer clicks through the X server with xdotool, ui/shell/x_display.py, or
the buttons' own click), and what each screen reports (fonts, glyphs, where things are, leftover Chinese).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QEventLoop, QObject, QPoint, Qt
from PySide6.QtGui import QFontInfo, QRawFont
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QLabel,
    QLineEdit,
    QPushButton,
    QTextBrowser,
    QWidget,
)

from booth.cli.demo import demo_settings
from booth.config import Settings, settings_from_mapping
from booth.domain.lane import LaneState
from booth.engine import Engine
from booth.office.shifts import Shifts
from booth.office.staff import Staff
from ui.kit.i18n import current_language
from ui.lanes.plate_panel import PlatePanel
from ui.lanes.reason_panel import ReasonPanel
from ui.people.supervisor_panel import SupervisorPanel
from ui.shell.booth_lock import BoothLock
from ui.shell.kiosk import KioskSession, staff_verifier
from ui.shell.main_window import BoothWindow
from ui.shell.x_display import XPointer

#: text whose glyphs must all be real in the font that draws it
CHINESE_SAMPLE = "苏A·12345京AD12345待付款道闸已开收现金更正车牌免费放行人工抬杆泊链在线应收金额"
DEADLINE_S = 30.0
KINDS = (
    "signin", "lanes", "reason", "approval", "keypad", "lock", "unlock", "shift", "closed", "report",
    "signinlanes", "open",
)
#: every scene in the order they are played; those not in KINDS are taken only when asked for by name
SCENES = (
    "signin", "lanes", "reason", "approval", "offline", "keypad", "lock", "locklanguage", "unlock",
    "staffadd", "lanefigures", "shift", "closed", "report", "signinlanes", "open",
)
TAPS = ("xdotool", "qt")
#: the open scene's float: five ¥100 notes counted by "+"
OPENING_NOTES = 5
#: the people of the screenshots (cheap scrypt: the database is thrown away with the temporary directory)
ATTENDANT, ATTENDANT_NAME, ATTENDANT_PIN = "1001", "王芳", "1234"
SUPERVISOR, SUPERVISOR_NAME, SUPERVISOR_PIN = "9001", "李主管", "9999"
OPENING_FLOAT_FEN = 50_000
#: the lane figures' Chinese words, whose glyphs must all be real
FIGURES_SAMPLE = "通道数据出场车辆每小时付款抬杆识别报价泊链往返道闸故障人工近一小时刷新"
#: the staff number the supervisor taps on the add-attendant screen
NEW_STAFF_NUMBER = "1002"
#: the keypad scene: the camera read 2 as Z; the lot holds the car it is, and one more it may be (5/S)
MISREAD, IN_LOT = "苏E55Z08", ("苏E55208", "苏ES5208")
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_TAG = re.compile(r"<[^>]*>")


def screenshot_settings(data_dir: Path) -> Settings:
    """The demo's two exit lanes, without the simulated camera or autopay, and a gate that stays open."""
    data = demo_settings(data_dir, autopay_s=None).model_dump(mode="json")
    data["simulator"]["enabled"] = False
    for lane in data["lanes"]:
        lane["pass_timeout_s"] = 600
    return settings_from_mapping(data, "<screenshot>")


# ------------------------------------------------------------------------------------------ reading


def spin_until(app: QApplication, done: Callable[[], object], what: str) -> None:
    """Run the event loop until ``done()`` holds; give up (naming ``what``) after DEADLINE_S."""
    deadline = time.monotonic() + DEADLINE_S
    while not done():
        if time.monotonic() > deadline:
            raise SystemExit(f"screenshot: gave up waiting for {what}")
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)


def wait_for(app: QApplication, future: Any, what: str) -> Any:
    """A future's result, the GUI's events running meanwhile (its callbacks may need them)."""
    spin_until(app, future.done, what)
    return future.result()


def global_rect(widget: QWidget) -> list[int]:
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


def visible_texts(root: QWidget) -> Iterator[str]:
    """Every text a person could read in ``root`` now (labels, buttons, fields, placeholders, browsers)."""
    for widget in [root, *root.findChildren(QWidget)]:
        if not widget.isVisible():
            continue
        if isinstance(widget, QLabel | QAbstractButton):
            yield _TAG.sub(" ", widget.text()).replace("&nbsp;", " ").strip()
        elif isinstance(widget, QLineEdit):
            yield widget.text() or widget.placeholderText()
        elif isinstance(widget, QTextBrowser):
            yield from widget.toPlainText().splitlines()


def clipped_texts(root: QWidget) -> list[str]:
    """The visible labels and buttons of ``root`` whose text is wider than the widget that shows it (a word-
    wrapped label is judged by its widest word's line as laid out: its height for its width)."""
    clipped = []
    for widget in [root, *root.findChildren(QWidget)]:
        if not widget.isVisible() or not isinstance(widget, QLabel | QPushButton):
            continue
        text = widget.text()
        if not text or "<" in text:
            continue
        metrics = widget.fontMetrics()
        room = widget.contentsRect().width()
        if isinstance(widget, QPushButton):
            room -= 8  # the style's padding, at least
        if isinstance(widget, QLabel) and widget.wordWrap():
            if widget.heightForWidth(widget.width()) > widget.height() + 1:
                clipped.append(text)
            continue
        if max(metrics.horizontalAdvance(line) for line in text.splitlines()) > room + 1:
            clipped.append(text)
    return clipped


def chinese_texts(root: QWidget) -> list[str]:
    """The visible texts with Chinese characters in them, each once (an English screen's leftovers)."""
    return list(dict.fromkeys(t for t in visible_texts(root) if _CJK.search(t)))


# ------------------------------------------------------------------------------------------ the booth


def greedy_counts(amount_fen: int, denominations: Iterable[int]) -> dict[int, int]:
    """Notes and coins making up ``amount_fen``, largest first (what a drawer that balances holds)."""
    counts: dict[int, int] = {}
    left = amount_fen
    for denomination in sorted(denominations, reverse=True):
        counts[denomination], left = divmod(left, denomination)
    return counts


class _TapWatcher(QObject):
    """Notes that a tap (the button's release) reached the widget it filters, sent through the X server."""

    def __init__(self, widget: QWidget, tapped: list[bool]) -> None:
        super().__init__(widget)
        self._tapped = tapped

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.MouseButtonRelease:
            self._tapped.append(True)
        return False


@dataclass
class Shot:
    """One screen to grab: its kind and what it reports beyond the common facts."""

    kind: str
    facts: dict[str, Any] = field(default_factory=dict)
    #: what puts the booth back as the next scene expects it, once the screen is grabbed
    then: Callable[[], None] | None = None


class BoothScenes:
    """A booth window on a throw-away engine, driven from one screen to the next (GUI thread).

    ``run(save)`` calls ``save(shot)`` each time the screen shows one of :data:`KINDS`, fully drawn.
    """

    def __init__(self, app: QApplication, data_dir: Path, *, taps: str = "qt", kiosk: bool = True) -> None:
        self.app = app
        self.settings = screenshot_settings(data_dir)
        self.data_dir = data_dir
        self.engine = Engine(self.settings)
        self.window: BoothWindow | None = None
        self.session: KioskSession | None = None
        if taps not in TAPS:
            raise ValueError(f"taps must be one of {', '.join(TAPS)}, got {taps!r}")
        self.taps = taps
        self.kiosk = kiosk  # False: the window maximised (a window manager could resize it)
        self.tapped = 0
        self._pointer = XPointer() if taps == "xdotool" else None

    def __enter__(self) -> BoothScenes:
        self.engine.start()
        try:
            self._seed_people()
            window = BoothWindow(self.settings, self.engine, operator=ATTENDANT_NAME, sign_in=True)
            self.window = window
            verifier, idle_s = staff_verifier(self.engine), self.settings.display.idle_lock_s
            lock = BoothLock(window, verifier, idle_lock_s=idle_s, guard_close=not self.kiosk)
            self.session = KioskSession(window, self.settings.kiosk, lock)
            window.show_for_booth(kiosk=self.kiosk)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.window is not None:
            self.window.close()
        self.engine.stop()

    def screen(self) -> Any:
        return self.app.primaryScreen()

    def _seed_people(self) -> None:
        """A supervisor, an attendant, and the attendant's shift open with a float in the drawer."""
        engine = self.engine

        def seed() -> None:
            staff = Staff(engine.database, engine.settings.staff, scrypt_n=2**10)
            staff.add_person(SUPERVISOR, SUPERVISOR_NAME, "supervisor", SUPERVISOR_PIN, by="system")
            staff.add_person(ATTENDANT, ATTENDANT_NAME, "attendant", ATTENDANT_PIN, by=SUPERVISOR)
            Shifts(engine.database, engine.settings.shifts, staff).open(
                ATTENDANT, opening_float_fen=OPENING_FLOAT_FEN
            )

        engine.office(seed).result(30)

    def _until(self, done: Callable[[], object], what: str) -> None:
        spin_until(self.app, done, what)

    def settle(self) -> None:
        """Let every pending paint and layout reach the display before a grab."""
        for _ in range(10):
            self.app.processEvents()
        if self.window is not None:
            self.window.repaint()
        self.app.processEvents()

    # ------------------------------------------------------------------------------------------ taps
    def tap(self, widget: QWidget, at: QPoint | None = None, *, landing: QWidget | None = None) -> None:
        """A finger on ``widget`` (at its centre, or at ``at`` in its own coordinates). With xdotool the
        pointer is moved and clicked through the X server and the tap is waited for (a button's click, or
        its release reaching the widget, or ``landing``: what lies over it); with qt a button is clicked and
        a field given the click directly (nothing can lie over it then: ``landing`` is for xdotool only)."""
        what = widget.text() if isinstance(widget, QAbstractButton | QLineEdit) else widget.objectName()
        if landing is None:
            self._until(lambda: widget.isVisible() and widget.isEnabled(), f"{what!r} to be there to tap")
        point = at if at is not None else widget.rect().center()
        self.tapped += 1
        if self._pointer is None:
            if isinstance(widget, QAbstractButton):
                widget.click()
            else:
                QTest.mouseClick(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, point)
            return
        arrived: list[bool] = []
        receiver = landing if landing is not None else widget
        watcher = _TapWatcher(receiver, arrived)
        receiver.installEventFilter(watcher)
        try:
            self.settle()
            spot = widget.mapToGlobal(point)
            self._pointer.click(spot.x(), spot.y())
            self._until(lambda: bool(arrived), f"the tap on {what!r} to arrive")
        finally:
            receiver.removeEventFilter(watcher)
        self.settle()

    def rest_pointer(self) -> None:
        """The pointer to the screen's bottom-left corner (the window's margin), so no button shows the
        hover of the last tap in a picture."""
        if self._pointer is not None:
            bottom = self.screen().geometry().height() - 1
            self._pointer.move(0, bottom)
            self.settle()

    def tap_digits(self, keys: dict[str, QPushButton], digits: str) -> None:
        for digit in digits:
            self.tap(keys[digit])

    # ------------------------------------------------------------------------------------------ scenes
    def run(self, save: Callable[[Shot], None], kinds: Iterable[str] = KINDS) -> None:
        wanted = set(kinds)
        steps = {"signin": self.signin, "lanes": self.lanes, "reason": self.reason, "approval": self.approval,
                 "offline": self.offline, "keypad": self.keypad, "lock": self.lock,
                 "locklanguage": self.locklanguage, "unlock": self.unlock,
                 "staffadd": self.staffadd, "lanefigures": self.lanefigures,
                 "shift": self.shift, "closed": self.closed,
                 "report": self.report, "signinlanes": self.signinlanes, "open": self.open}
        last = max(SCENES.index(k) for k in wanted)
        for kind in SCENES[: last + 1]:
            if kind not in KINDS and kind not in wanted:
                continue  # an extra scene nobody asked for
            shot = steps[kind]()
            if kind in wanted:
                self.settle()
                save(shot)
            if shot.then is not None:
                shot.then()

    def signin(self) -> Shot:
        """After the restart: the open shift's attendant chosen on the overlay, the PIN pad waiting."""
        overlay = self._window().staff_screens.sign_in
        self._until(lambda: overlay.username.text() == ATTENDANT and ATTENDANT in overlay.people_buttons
                    and overlay.people_buttons[ATTENDANT].isVisible(),
                    "the open shift's attendant on sign-in")
        self.settle()  # (the card is placed again on a layout request: its rects once it stands still)
        chosen = overlay.picker.chosen_button()
        return Shot("signin", {
            "overlay_rect": global_rect(overlay),
            "people": list(overlay.people_buttons),
            "chosen": [u for u, b in overlay.people_buttons.items() if b.isChecked()],
            "chosen_rect": global_rect(chosen) if chosen is not None else None,
            "username_rect": global_rect(overlay.username),
            "username_text": overlay.username.text(),
        })

    def lanes(self) -> Shot:
        window, engine = self._window(), self.engine
        overlay = window.staff_screens.sign_in
        self._until(lambda: overlay.username.text() == ATTENDANT, "the open shift's attendant on sign-in")
        self.tap_digits(overlay.pad.keys, ATTENDANT_PIN)
        self.tap(overlay.pad.confirm_button)
        self._until(lambda: window.person is not None, "the attendant's PIN to resume the shift")
        now = datetime.now(UTC)
        engine.seed_stay("苏A12345", now - timedelta(hours=2, minutes=17)).result(10)
        engine.seed_stay("京AD12345", now - timedelta(minutes=47)).result(10)
        for plate, minutes in zip(IN_LOT, (65, 190), strict=True):
            engine.seed_stay(plate, now - timedelta(minutes=minutes)).result(10)
        engine.vehicle_at("X1", "苏A12345", "blue").result(10)
        engine.vehicle_at("X2", "京AD12345", "green").result(10)

        async def heartbeat() -> None:  # the client says "online" when a long poll returns
            engine.sandbox.push({"service_name": "update_balance", "car_number": "苏A00000",
                                 "balance": "0.00", "autopay": 0})

        engine.call(heartbeat()).result(10)
        x1, x2 = window.lane_panel("X1"), window.lane_panel("X2")
        self._until(lambda: x2.view.state is LaneState.AWAITING_PAYMENT and bool(x2.view.due_fen),
                    "lane X2 to price its car")
        self._pay_cash("X2")
        self._until(lambda: x1.view.code_url is not None and x1.qr.module_px() > 0
                    and x2.view.state is LaneState.GATE_OPEN and window.bolink_online is True,
                    "the lanes to show their QR and open gate")
        return Shot("lanes", {
            "plate_rect": global_rect(x1.plate_label),
            "qr_rect": global_rect(x1.qr),
            "qr_module_px": x1.qr.module_px(),
            "pay_url": x1.view.code_url,
            "plate_text": x1.plate_label.text(),
            "lock_now_rect": global_rect(self._session().booth_lock.lock_button),
            "lock_now_text": self._session().booth_lock.lock_button.text(),
            "plate_glyphs": glyph_report(x1.plate_label, CHINESE_SAMPLE),
            "text_glyphs": glyph_report(x1.state_words, CHINESE_SAMPLE),
        })

    def _free_release(self) -> ReasonPanel:
        panel = self._window().lane_panel("X1").panels["free_release"]
        assert isinstance(panel, ReasonPanel)
        return panel

    def reason(self) -> Shot:
        """Free release on X1: the attendant taps a reason that needs a supervisor; it stays highlighted."""
        x1 = self._window().lane_panel("X1")
        self.tap(x1.action_buttons["free_release"])
        panel = self._free_release()
        self._until(lambda: x1.open_action() is panel, "the free release panel on lane X1")
        needing = next(r for r in self.settings.exceptions.free_release_reasons
                       if r in self.settings.exceptions.approval_required)
        self.tap(next(b for b in panel.preset_buttons if b.text() == needing))
        chosen = panel.chosen_button()
        return Shot("reason", {
            "panel_rect": global_rect(panel),
            "reason": panel.reason(),
            "checked": [b.text() for b in panel.preset_buttons if b.isChecked()],
            "chosen_rect": global_rect(chosen) if chosen is not None else None,
        })

    def approval(self) -> Shot:
        """Confirm asks for a supervisor: the supervisor's name is tapped, two digits of the PIN typed; then
        the panel is closed without sending (the lanes are needed as they are for the next scenes)."""
        panel = self._free_release()
        self.tap(panel.confirm_button)
        self._until(panel.awaiting_approval, "the approval page")
        picker = panel.approver_picker
        self._until(lambda: SUPERVISOR in picker.buttons and picker.buttons[SUPERVISOR].isVisible(),
                    "the supervisors as name buttons")
        self.tap(picker.buttons[SUPERVISOR])
        self.tap_digits(panel.approver_pad.keys, SUPERVISOR_PIN[:2])
        chosen = picker.chosen_button()
        facts = {
            "panel_rect": global_rect(panel),
            "supervisors": list(picker.buttons),
            "chosen": [u for u, b in picker.buttons.items() if b.isChecked()],
            "chosen_rect": global_rect(chosen) if chosen is not None else None,
            "field_rect": global_rect(panel.approver_field),
            "field_text": panel.approver_field.text(),
            "pin_rect": global_rect(panel.approver_pad.field),
            "pin_digits": len(panel.approver_pad.field.text()),
            "hint": panel.approval_hint.text(),
        }
        return Shot("approval", facts, then=self._leave_approval)

    def _leave_approval(self) -> None:
        window = self._window()
        panel = self._free_release()
        self.tap(panel.change_reason_button)
        self.tap(panel.back_button)
        self._until(lambda: window.lane_panel("X1").open_action() is None, "the free release panel to close")

    def offline(self) -> Shot:
        """Bolink's cloud goes away: X1 asks for its QR again and is told to take cash; then it comes back."""
        window, engine = self._window(), self.engine
        x1 = window.lane_panel("X1")
        engine.call(engine.sandbox.stop()).result(10)
        self._until(lambda: window.bolink_online is False, "the window to see Bolink offline")
        engine.retry_payment("X1", ATTENDANT).result(10)
        self._until(lambda: x1.view.said is not None and x1.view.said.code == "lane.bolink_unavailable"
                    and x1.qr_missing.isVisible(), "lane X1 to say cash only")
        self.settle()
        return Shot("offline", {"cash_only_rect": global_rect(x1.qr_missing),
                                "cash_only_text": x1.qr_missing.text()}, then=self._cloud_back)

    def _cloud_back(self) -> None:
        window, engine = self._window(), self.engine
        engine.call(engine.sandbox.start()).result(10)

        async def heartbeat() -> None:
            engine.sandbox.push({"service_name": "update_balance", "car_number": "苏A00000",
                                 "balance": "0.00", "autopay": 0})

        engine.call(heartbeat()).result(10)
        self._until(lambda: window.bolink_online is True, "Bolink back online")

    def keypad(self) -> Shot:
        window, engine = self._window(), self.engine
        x2 = window.lane_panel("X2")
        engine.vehicle_passed("X2").result(10)
        self._until(lambda: x2.view.state is LaneState.IDLE, "the paid car to leave lane X2")
        engine.vehicle_at("X2", MISREAD, "blue").result(10)
        self._until(lambda: x2.view.state is LaneState.NO_STAY and x2.view.plate == MISREAD,
                    "lane X2 to find no stay for the misread plate")
        self.tap(x2.action_buttons["correct_plate"])
        panel = x2.open_action()
        if not isinstance(panel, PlatePanel):
            raise SystemExit(f"screenshot: the plate keypad did not open on lane X2 (open: {panel!r})")
        self._until(lambda: panel.suggestion_bar.isVisible(), "the keypad's suggestions from the lot")
        offered = [b.text() for b in panel.suggestion_buttons if b.isVisible()]
        return Shot("keypad", {
            "panel_rect": global_rect(panel),
            "keypad_rect": global_rect(panel.keypad),
            "misread": MISREAD,
            "field_text": panel.field.text(),
            "field_rect": global_rect(panel.field),
            "suggestions": offered,
        })

    def lock(self) -> Shot:
        window = self._window()
        x2 = window.lane_panel("X2")
        panel = x2.open_action()
        assert isinstance(panel, PlatePanel)
        self.tap(panel.suggestion_buttons[0])  # the car it is: the lane prices it again and shows its QR
        self.tap(panel.confirm_button)
        self._until(lambda: x2.view.plate == IN_LOT[0] and x2.view.state is LaneState.AWAITING_PAYMENT
                    and x2.view.code_url is not None, "lane X2 to price the corrected plate")
        lock = self._session().lock
        lock_now = self._session().booth_lock.lock_button
        lock_now_rect = global_rect(lock_now)
        self.tap(lock_now)  # the attendant leaves the booth: "lock now" on the top bar, one tap
        panels = list(window.panels.values())
        self._until(lambda: lock.is_locked and lock.isVisible() and all(p.qr.module_px() > 0 for p in panels),
                    "the lock screen over the lanes, their QR in view")
        # a finger where the actions were, and on the QR: it lands on the lock, and nothing opens
        through: list[str] = []
        if self._pointer is not None:
            for lane in panels:
                for widget in (lane.lock_note, lane.qr):
                    self.tap(widget, landing=lock)
                    through.append(widget.objectName() or type(widget).__name__)
        opened = [p.lane_id for p in panels if p.open_action() is not None]
        return Shot("lock", {
            "lock_now_rect": lock_now_rect,
            "language_rect": global_rect(lock.language_button),
            "language_text": lock.language_button.text(),
            "taps_on_lanes": through,
            "opened_by_taps": opened,
            "lock_rect": global_rect(lock),
            "bar_rect": global_rect(lock.bar),
            "unlock_rect": global_rect(lock.unlock_button),
            "title": lock.title.text(),
            "lanes_behind": [p.view.state.value for p in panels],
            # what a driver needs stays in view behind the lock: the plate, the amount, the QR
            "qr_rects": [global_rect(p.qr) for p in panels],
            "pay_urls": [p.view.code_url for p in panels],
            "amount_rects": [global_rect(p.amount) for p in panels],
            "amounts": [p.amount.text() for p in panels],
            "plates": [p.plate_label.text() for p in panels],
            "lock_notes": [p.lock_note.isVisible() for p in panels],
        })

    def locklanguage(self) -> Shot:
        """Locked, the lock bar's language button tapped: the lock's and the driver's words in the other
        language, still locked; tapped again once the screen is grabbed (the next scenes' language)."""
        lock, window = self._session().lock, self._window()
        before = current_language()
        x1 = window.lane_panel("X1")
        words_before = (lock.title.text(), x1.state_words.text())
        self.tap(lock.language_button)
        self._until(lambda: current_language() != before and lock.title.text() != words_before[0]
                    and x1.state_words.text() != words_before[1], "the words in the other language")
        facts = {
            "language_before": before,
            "language": current_language(),
            "title": lock.title.text(),
            "prompt": lock.bar_prompt.text(),
            "state_words": x1.state_words.text(),
            # lane X2's "plate corrected to ..." from the keypad scene, said again in the other language
            "feedback": window.lane_panel("X2").feedback.text(),
            "language_text": lock.language_button.text(),
            "locked": lock.is_locked and lock.isVisible(),
            "lock_notes": [p.lock_note.isVisible() for p in window.panels.values()],
        }

        def back() -> None:
            self.tap(lock.language_button)
            self._until(lambda: current_language() == before and lock.title.text() == words_before[0],
                        "the language back")

        return Shot("locklanguage", facts, then=back)

    def unlock(self) -> Shot:
        """The attendant is back: "unlock" on the lock bar opens the PIN pad, two digits typed."""
        lock = self._session().lock
        self.tap(lock.unlock_button)
        self._until(lambda: lock.card_open, "the unlock card")
        self.tap_digits(lock.pad.keys, ATTENDANT_PIN[:2])
        return Shot("unlock", {"card_rect": global_rect(lock.card), "pad_rect": global_rect(lock.pad),
                               "card_title": lock.card_title.text(), "typed": len(lock.pad.field.text())})

    def _unlock(self) -> None:
        """The attendant's PIN on the lock screen, if it is still up (the unlock scene leaves it so)."""
        lock = self._session().lock
        if not lock.isVisible():
            return
        if not lock.card_open:
            self.tap(lock.unlock_button)
            self._until(lambda: lock.card_open, "the unlock card")
        if lock.pad.field.text():
            self.tap(lock.pad.keys["clear"])
        self.tap_digits(lock.pad.keys, ATTENDANT_PIN)
        self.tap(lock.pad.confirm_button)
        self._until(lambda: not lock.isVisible(), "the attendant's PIN to unlock")

    def _supervisor(self) -> SupervisorPanel:
        """The supervisor's screens, opened by the supervisor's name and PIN (unless open already)."""
        self._unlock()
        screens = self._window().staff_screens
        panel = screens.supervisor_panel
        if panel.isVisible() and panel.supervisor is not None:
            return panel
        self.tap(screens.supervisor_button)
        picker = panel.auth_picker
        self._until(lambda: SUPERVISOR in picker.buttons and picker.buttons[SUPERVISOR].isVisible(),
                    "the supervisors as name buttons")
        self.tap(picker.buttons[SUPERVISOR])
        self.tap_digits(panel.auth_pad.keys, SUPERVISOR_PIN)
        self.tap(panel.auth_pad.confirm_button)
        self._until(lambda: panel.page == "people" and panel.supervisor is not None, "the supervisor's PIN")
        return panel

    def staffadd(self) -> Shot:
        """The supervisor adds an attendant by touch: "add attendant", the staff number tapped on the pad
        (its digits shown); the name left empty, the hint saying how a Chinese name is given."""
        panel = self._supervisor()
        self.tap(panel.add_button)
        self._until(lambda: panel.page == "add", "the add-attendant page")
        self.tap_digits(panel.new_pad.keys, NEW_STAFF_NUMBER)
        return Shot("staffadd", {
            "panel_rect": global_rect(panel),
            "hint": panel.add_hint.text(),
            "hint_rect": global_rect(panel.add_hint),
            "step": panel.add_step,
            "number_text": panel.new_username.text(),
            "number_rect": global_rect(panel.new_username),
            "pad_text": panel.new_pad.field.text(),
            "pad_rect": global_rect(panel.new_pad),
            "name_placeholder": panel.new_name.placeholderText(),
            "clipped": clipped_texts(panel),
        }, then=lambda: self.tap(panel.cancel_add))

    def lanefigures(self) -> Shot:
        """The supervisor's lane figures (通道数据): a row per lane over the last hour."""
        panel = self._supervisor()
        if panel.page != "people":
            self.tap(panel.people_tab)
        self.tap(panel.figures_tab)
        view = self._window().staff_screens.lane_figures_view
        lane_ids = [lane.id for lane in self.settings.lanes]
        self._until(lambda: view.isVisible() and all(i in view.row_labels for i in lane_ids)
                    and bool(view.window_label.text()), "the lane figures")
        self.settle()
        return Shot("lanefigures", {
            "view_rect": global_rect(view),
            "grid_rect": global_rect(view.grid_host),
            "headers": [label.text() for label in view.header_labels],
            "rows": {i: [view.cell(i, c) for c in range(len(view.header_labels))] for i in lane_ids},
            "window": view.window_label.text(),
            "title": view.title.text(),
            "clipped": clipped_texts(view),
            "glyphs": glyph_report(view.header_labels[1], FIGURES_SAMPLE),
        }, then=lambda: self.tap(view.close_button))

    def shift(self) -> Shot:
        window = self._window()
        self._unlock()
        self._pay_cash("X2")
        x2 = window.lane_panel("X2")
        self._until(lambda: x2.view.state is LaneState.GATE_OPEN, "lane X2 to open for the cash")
        self.engine.vehicle_passed("X2").result(10)
        self._until(lambda: x2.view.state is LaneState.IDLE, "the car to leave lane X2")

        engine = self.engine
        current = wait_for(self.app, engine.office(lambda: engine.shifts.current()), "the open shift")
        expected = wait_for(self.app, engine.office(lambda: engine.shifts.expected_cash_fen(current.id)),
                         "the shift's expected cash")
        screens = window.staff_screens
        self.tap(screens.close_shift_button)
        panel = screens.shift_panel
        self._until(lambda: panel.isVisible() and panel.page == "count", "the shift close")
        for denomination, count in greedy_counts(expected, panel.denominations).items():
            panel.count_fields[denomination].setText(str(count) if count else "")
        return Shot("shift", {"panel_rect": global_rect(panel), "total": panel.total_label.text(),
                              "counted_fen": panel.counted_fen()})

    def closed(self) -> Shot:
        """The count submitted: the closed shift's figures, the variance in the tone of its sign."""
        panel = self._window().staff_screens.shift_panel
        self.tap(panel.submit_button)
        self._until(lambda: panel.page == "result", "the shift to close")
        variance = panel.variance_figure
        return Shot("closed", {"panel_rect": global_rect(panel), "result": panel.result_summary(),
                               "variance_rect": global_rect(variance), "variance": variance.text(),
                               "variance_tone": variance.property("tone"),
                               "figure_px": panel.result_figures["counted"].font().pixelSize(),
                               "buttons_rect": global_rect(panel.done_button)})

    def report(self) -> Shot:
        panel = self._window().staff_screens.shift_panel
        if panel.page != "result":  # the closed scene was not played
            self.tap(panel.submit_button)
            self._until(lambda: panel.page == "result", "the shift to close")
        self.tap(panel.report_button)
        view = self._window().staff_screens.report_view
        view.export_dir = self.data_dir / "reports"  # into the throwaway folder, not the user's Documents
        self._until(lambda: view.isVisible() and view.report is not None, "the shift's report")
        self.tap(view.pdf_button)
        message = view.message
        self._until(lambda: message.property("tone") == "ok" and message.isVisible(), "the PDF saved")
        return Shot("report", {"view_rect": global_rect(view), "title": view.title.text(),
                               "result": panel.result_summary(),
                               "report_px": view.browser.document().defaultFont().pixelSize(),
                               "message": view.message.text(), "message_rect": global_rect(view.message),
                               "message_tone": view.message.property("tone")},
                    then=self._leave_report)

    def _leave_report(self) -> None:
        screens = self._window().staff_screens
        view, panel = screens.report_view, screens.shift_panel
        self.tap(view.close_button)
        self._until(lambda: not view.isVisible(), "the report to close")
        self.tap(panel.done_button)
        self._until(lambda: screens.sign_in.isVisible(), "the sign-in after the close")

    def signinlanes(self) -> Shot:
        """Signed out, nobody signed in: the sign-in card put away ("back", or untouched for a while), its bar
        over the top bar, and the lanes in view: a driver reads the plate and the amount and scans the QR.
        The card opens again by the bar's "sign in" once the screen is grabbed (the next scene signs in)."""
        window, engine = self._window(), self.engine
        overlay = window.staff_screens.sign_in
        if not overlay.isVisible():  # the shift and report scenes were not played: sign out here
            self.tap(window.staff_screens.sign_out_button)
        x1, x2 = window.lane_panel("X1"), window.lane_panel("X2")
        if x2.view.state is not LaneState.AWAITING_PAYMENT:  # the next car at X2 (X1's still waits)
            engine.seed_stay("苏B66666", datetime.now(UTC) - timedelta(minutes=95)).result(10)
            engine.vehicle_at("X2", "苏B66666", "blue").result(10)
        self._until(lambda: overlay.isVisible() and overlay.card_open, "the sign-in card")
        self.tap(overlay.hide_button)
        panels = (x1, x2)
        self._until(lambda: not overlay.card_open and all(p.view.code_url and p.qr.module_px() > 0
                                                          for p in panels), "the lanes in view, their QR")
        through: list[str] = []
        if self._pointer is not None:  # a finger on a lane's button lands on the sign-in, nothing opens
            for lane in panels:
                self.tap(lane.action_buttons["cash"], landing=overlay)
                through.append(lane.lane_id)
        opened = [p.lane_id for p in panels if p.open_action() is not None]

        def card_again() -> None:
            self.tap(overlay.card_button)
            self._until(lambda: overlay.card_open, "the sign-in card again")

        return Shot("signinlanes", {
            "overlay_rect": global_rect(overlay),
            "bar_rect": global_rect(overlay.bar),
            "bar_title": overlay.bar_title.text(),
            "card_button_rect": global_rect(overlay.card_button),
            "card_open": overlay.card_open,
            "taps_on_lanes": through,
            "opened_by_taps": opened,
            "lanes_behind": [p.view.state.value for p in panels],
            "qr_rects": [global_rect(p.qr) for p in panels],
            "pay_urls": [p.view.code_url for p in panels],
            "amount_rects": [global_rect(p.amount) for p in panels],
            "amounts": [p.amount.text() for p in panels],
            "plate_rects": [global_rect(p.plate_label) for p in panels],
            "plates": [p.plate_label.text() for p in panels],
        }, then=card_again)

    def open(self) -> Shot:
        """The next shift: the attendant's name and PIN, then the float counted with "+" on the ¥100 row."""
        window = self._window()
        overlay = window.staff_screens.sign_in
        if not overlay.isVisible():  # the shift and report scenes were not played: sign out here
            self.tap(window.staff_screens.sign_out_button)
        self._until(lambda: ATTENDANT in overlay.people_buttons
                    and overlay.people_buttons[ATTENDANT].isVisible(), "the attendant's name on sign-in")
        self.tap(overlay.people_buttons[ATTENDANT])
        self.tap_digits(overlay.pad.keys, ATTENDANT_PIN)
        self.tap(overlay.pad.confirm_button)
        self._until(lambda: overlay.step == "open_shift", "the opening float")
        rows = overlay.float_rows
        note = max(rows.denominations)
        for _ in range(OPENING_NOTES):
            self.tap(rows.plus_buttons[note])
        page = overlay.pages.currentWidget()
        keys = [b.text() for b in page.findChildren(QPushButton) if b.isVisible()] if page is not None else []
        return Shot("open", {
            "overlay_rect": global_rect(overlay),
            "rows_rect": global_rect(rows),
            "pad_rect": global_rect(overlay.float_pad),
            "note_fen": note,
            "count_text": rows.count_fields[note].text(),
            "total": overlay.float_total.text(),
            "float_fen": rows.counted_fen(),
            "reference": overlay.float_reference.text(),
            "keys": keys,
        })

    # ------------------------------------------------------------------------------------------ helpers
    def _pay_cash(self, lane_id: str) -> None:
        """The attendant takes the next whole ten yuan above what is due (so there is change to give)."""
        due = self._window().lane_panel(lane_id).view.due_fen or 0
        self.engine.cash(lane_id, (due // 1000 + 1) * 1000, ATTENDANT).result(10)

    def _window(self) -> BoothWindow:
        assert self.window is not None, "use BoothScenes in a with block"
        return self.window

    def _session(self) -> KioskSession:
        assert self.session is not None, "use BoothScenes in a with block"
        return self.session
