"""Languages: every string the code marks for translation has an English translation, the .qm is built
when missing or stale, and a real window switches to English and back while it runs."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from lane_driving import bring_car, lane_settings

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QAbstractButton, QApplication, QLabel, QLineEdit, QWidget

import ui.kit.i18n as i18n
from booth.config import Settings, settings_from_mapping
from booth.domain.lane import LaneState, LaneView
from booth.domain.plates import PROVINCES
from booth.engine import Engine
from booth.sync.status import CloudStatus, DeadLetter, SyncStatus
from ui.kit.keypads import PLATE_PREFIXES, PLATE_SUFFIXES
from ui.kit.wording import alert_detail_words
from ui.lanes.plate_panel import PlatePanel
from ui.lanes.reason_panel import ReasonPanel
from ui.link.bridge import CommandOutcome
from ui.shell.main_window import BoothWindow

ROOT = Path(__file__).resolve().parents[2]
WAIT_MS = 10_000
#: CJK ideographs, CJK punctuation and full-width forms: none may be left in English words
CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")
#: a plate, as data inside a text (the example in a placeholder, a plate on a button)
PLATE = re.compile(rf"(?:[{PROVINCES}使]|WJ)[A-Z0-9·]{{4,7}}[{PLATE_SUFFIXES}]?")
#: plate characters are keys, not words
KEY_CHARACTERS = frozenset(PROVINCES + PLATE_PREFIXES + PLATE_SUFFIXES)
#: the alert line is checked without the alert's Chinese message: ui/shell/main_window.py still shows
#: ``alert.message``; its translated detail (ui.kit.wording.alert_detail_words) is checked on its own below


# ------------------------------------------------------------------------------------ the .ts and the .qm


def scanned_messages(tmp_path: Path) -> set[tuple[str, str]]:
    """(context, source) of every string pyside6-lupdate finds in ui/ now (new screens included)."""
    lupdate = Path(sys.executable).parent / "pyside6-lupdate"
    ts = tmp_path / "scan.ts"
    files = sorted(str(p) for p in (ROOT / "ui").rglob("*.py"))
    subprocess.run([str(lupdate), "-silent", "-source-language", "zh_CN", "-target-language", "en", *files,
                    "-ts", str(ts)], check=True, capture_output=True, timeout=120)
    return {(m.context, m.source) for m in i18n.read_ts(ts)}


def test_every_string_in_the_code_has_a_finished_english_translation(tmp_path: Path) -> None:
    scanned = scanned_messages(tmp_path)
    assert len(scanned) > 200  # the scan found the window's strings
    translated = {(m.context, m.source): m for m in i18n.read_ts(i18n.ts_file("en"))}
    missing = sorted(key for key in scanned if key not in translated)
    assert not missing, f"run tools/update_translations.py and translate: {missing}"
    unfinished = sorted(k for k in scanned if not (translated[k].finished and translated[k].translation))
    assert not unfinished, f"untranslated in booth_en.ts: {unfinished}"
    for key in scanned:
        source, english = key[1], translated[key].translation
        assert set(re.findall(r"%\d", source)) == set(re.findall(r"%\d", english)), key
        # plate characters (使, 领, 无 …) are quoted as they are printed on plates
        words = PLATE.sub("", english).translate({ord(c): None for c in KEY_CHARACTERS | {"无"}})
        assert not CJK.search(words) or english == "中文", (key, english)


@pytest.fixture
def translations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the translation sources, without any shipped .qm, so the build at start is exercised."""
    folder = tmp_path / "translations"
    folder.mkdir()
    shutil.copy(i18n.ts_file("en"), folder / "booth_en.ts")
    monkeypatch.setattr(i18n, "TRANSLATIONS", folder)
    return folder


def test_the_qm_is_built_into_the_cache_when_missing_or_older_than_the_ts(translations: Path,
                                                                          tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    built = i18n.compiled("en", cache=cache)
    assert built == cache / "booth_en.qm" and built.stat().st_size > 0
    first = built.stat().st_mtime_ns
    assert i18n.compiled("en", cache=cache) == built and built.stat().st_mtime_ns == first  # fresh: kept
    ts = translations / "booth_en.ts"
    os.utime(ts, ns=(first + 10**9, first + 10**9))  # the .ts was edited after the build
    assert i18n.compiled("en", cache=cache) == built and built.stat().st_mtime_ns > first
    shipped = translations / "booth_en.qm"  # an install built one next to the .ts: used as it is
    shutil.copy(built, shipped)
    os.utime(shipped, ns=(first + 2 * 10**9, first + 2 * 10**9))
    assert i18n.compiled("en", cache=cache) == shipped
    assert i18n.compiled("zh_CN", cache=cache) is None  # the source language needs no file


def test_translation_problems_are_named(translations: Path, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch, qapp: QApplication) -> None:
    with pytest.raises(i18n.TranslationError, match="unknown language 'fr'"):
        i18n.switch_language(qapp, "fr")
    monkeypatch.setattr(i18n, "find_lrelease", lambda: None)
    with pytest.raises(i18n.TranslationError, match="lrelease was not found"):
        i18n.compiled("en", cache=tmp_path / "cache")
    (translations / "booth_en.ts").write_text("<TS><context>", encoding="utf-8")
    with pytest.raises(i18n.TranslationError, match="cannot read the translation source"):
        i18n.read_ts(translations / "booth_en.ts")
    (translations / "booth_en.ts").unlink()
    with pytest.raises(i18n.TranslationError, match=r"booth_en\.ts is missing"):
        i18n.compiled("en", cache=tmp_path / "cache")
    assert i18n.current_language() == "zh_CN"


# ------------------------------------------------------------------------------------ switching at run time


@pytest.fixture
def ascii_settings(tmp_path: Path) -> Settings:
    """Three lanes; the lot, lane and reason names in ASCII, so any Chinese left on screen is a missed
    string."""
    data = lane_settings(tmp_path, lanes=3).model_dump(mode="json")
    data["park"]["name"] = "Test Lot"
    for lane, name in zip(data["lanes"], ("East exit", "West exit", "North exit"), strict=True):
        lane["name"] = name
    # the reasons offered are the lot's settings (data, kept as configured): ASCII here too
    data["exceptions"] = {**data.get("exceptions", {}), "free_release_reasons": ["Staff", "Emergency"],
                          "manual_lift_reasons": ["Gate fault", "Emergency"], "approval_required": ["Staff"]}
    return settings_from_mapping(data, "<i18n test>")


@pytest.fixture
def running(ascii_settings: Settings) -> Iterator[Engine]:
    engine = Engine(ascii_settings)
    engine.start()
    assert engine.sync_started.wait(10), "the Alipay/Tmall sync did not start"
    try:
        yield engine
    finally:
        engine.stop()


@pytest.fixture
def back_to_chinese(qapp: QApplication, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Built .qm files go to tmp_path, and the application is Chinese again after the test."""
    monkeypatch.setenv(i18n.CACHE_ENV, str(tmp_path / "qm"))
    yield
    if i18n.current_language() != "zh_CN":
        i18n.switch_language(qapp, "zh_CN")


def visible_texts(window: BoothWindow) -> list[tuple[QWidget, str]]:
    found: list[tuple[QWidget, str]] = [(window, window.windowTitle())]
    for widget in window.findChildren(QWidget):
        if not widget.isVisible():
            continue
        texts = [widget.toolTip(), widget.accessibleName()]
        if isinstance(widget, QLabel | QAbstractButton):
            texts.append(widget.text())
        if isinstance(widget, QLineEdit):
            texts.append(widget.placeholderText())
        found += [(widget, t) for t in texts if t]
    return found


def words_left(window: BoothWindow, engine_messages: list[str]) -> list[str]:
    """Chinese still on screen that is not data (plates, plate keys)."""
    left = []
    for widget, text in visible_texts(window):
        name = widget.objectName()
        if name == "languageToggle":  # the toggle names Chinese in Chinese
            continue
        if name == "key" and text in KEY_CHARACTERS:
            continue
        if CJK.search(PLATE.sub("", text)):
            left.append(f"{type(widget).__name__}#{name}: {text!r}")
    return left


def test_a_running_window_switches_to_english_and_back(
    ascii_settings: Settings, running: Engine, qtbot: Any, qapp: QApplication, back_to_chinese: None
) -> None:
    window = BoothWindow(ascii_settings, running, operator="tester")
    qtbot.addWidget(window)
    window.resize(1800, 1000)
    window.show()
    x1, x2, x3 = (window.lane_panel(lane) for lane in ("X1", "X2", "X3"))
    bring_car(running, "X1", "苏A12345")  # awaiting payment
    running.vehicle_at("X2", "苏B1Z345").result(10)  # no entry record
    bring_car(running, "X3", "苏C12345")
    qtbot.waitUntil(lambda: x1.view.state is LaneState.AWAITING_PAYMENT and x2.view.state is LaneState.NO_STAY
                    and x3.view.state is LaneState.AWAITING_PAYMENT, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.alert_bar.isVisible(), timeout=WAIT_MS)
    x1.trigger("cash")
    x2.trigger("correct_plate")
    x3.trigger("free_release")
    window.open_sync_panel()
    cash = x1.open_action()
    assert cash is not None
    cash.field.setText("5")  # short: the change line says how much is missing
    cash.pad.edited.emit()
    assert CJK.search(cash.change_label.text())
    before = words_left(window, [a.message for a in window.alerts])
    assert len(before) > 40  # in Chinese, most of the screen is words

    qtbot.mouseClick(window.language_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.language_button.text() == "中文", timeout=WAIT_MS)
    assert i18n.current_language() == "en"
    left = words_left(window, [a.message for a in window.alerts])
    assert not left, "Chinese left after switching to English:\n" + "\n".join(left)
    assert x1.state_words.text() == "Awaiting payment"
    assert x1.state_message.text().startswith("Cash payment ¥")  # its cash panel is open
    assert x2.state_words.text() == "No entry record"  # said once: the message beside it goes on from there
    assert x2.state_message.text().startswith("Check the plate")
    assert len(x3.view.lines) >= 2 and "min at ¥" in x3.breakdown.text()
    details = [alert_detail_words(a) for a in window.alerts]
    assert details and not [d for d in details if CJK.search(PLATE.sub("", d))], details
    assert x2.panels["correct_plate"].title.text() == "Correct plate"
    assert window.windowTitle() == "Booth — Test Lot"
    assert cash.change_label.text().startswith("Still short")
    assert x3.open_action() is x3.panels["free_release"]  # the open panels stayed open

    qtbot.mouseClick(window.language_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.language_button.text() == "English", timeout=WAIT_MS)
    assert i18n.current_language() == "zh_CN"
    assert x1.state_words.text() == "待付款"
    assert x1.state_message.text() == f"现金付款 ¥{(x1.view.due_fen or 0) / 100:.2f}"  # cash panel open
    assert x2.state_message.text() == x2.view.message.removeprefix("无入场记录：")
    assert all(label in x3.breakdown.text() for label, _fen in x3.view.breakdown)
    assert x2.panels["correct_plate"].title.text() == "更正车牌"
    assert window.sync_panel.title.text() == "后台同步"
    assert window.windowTitle() == "收费亭 — Test Lot"
    assert len(words_left(window, [a.message for a in window.alerts])) > 40
    english = {m.translation for m in i18n.read_ts(i18n.ts_file("en"))} - {"中文", "Voice"}
    still = [f"{w.objectName()}: {t!r}" for w, t in visible_texts(window) if t in english]
    assert not still, f"English left after switching back: {still}"
    window.close()


def test_the_lanes_feedback_is_said_again_in_the_new_language(
    ascii_settings: Settings, running: Engine, qtbot: Any, qapp: QApplication, back_to_chinese: None
) -> None:
    """The feedback line keeps its phrase and its arguments: a switch draws it again (it stayed Chinese)."""
    window = BoothWindow(ascii_settings, running, operator="tester")
    qtbot.addWidget(window)
    window.resize(1800, 1000)
    window.show()
    x1, x2 = window.lane_panel("X1"), window.lane_panel("X2")
    running.seed_stay("苏B12345", datetime.now(UTC) - timedelta(hours=2)).result(10)
    running.vehicle_at("X2", "苏B1Z345").result(10)  # misread: no entry record
    bring_car(running, "X1", "苏A12345")
    qtbot.waitUntil(lambda: x1.view.state is LaneState.AWAITING_PAYMENT
                    and x2.view.state is LaneState.NO_STAY, timeout=WAIT_MS)
    x2.trigger("correct_plate")
    fix = x2.open_action()
    assert isinstance(fix, PlatePanel)
    fix.keypad.set_text("苏B12345")
    fix.keypad.edited.emit()
    qtbot.waitUntil(fix.confirm_button.isEnabled, timeout=WAIT_MS)
    qtbot.mouseClick(fix.confirm_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: x2.feedback.text() == "车牌已更正为 苏B12345", timeout=WAIT_MS)
    x1.trigger("cash")
    running.vehicle_at("X1", "苏A54321").result(10)  # another car: the open cash panel is closed
    qtbot.waitUntil(lambda: x1.feedback.text() == "车辆已变化，「收现金」已关闭", timeout=WAIT_MS)

    qtbot.mouseClick(window.language_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.language_button.text() == "中文", timeout=WAIT_MS)
    assert x2.feedback.text() == "Plate corrected to 苏B12345"
    assert x1.feedback.text() == 'The vehicle changed: "Take cash" was closed'
    assert str(x2.feedback.property("tone")) == "ok"
    left = words_left(window, [a.message for a in window.alerts])
    assert not [w for w in left if "feedback" in w], left

    qtbot.mouseClick(window.language_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.language_button.text() == "English", timeout=WAIT_MS)
    assert x2.feedback.text() == "车牌已更正为 苏B12345"
    assert x1.feedback.text() == "车辆已变化，「收现金」已关闭"
    window.close()


def test_a_refused_command_is_said_again_in_the_new_language(
    ascii_settings: Settings, qtbot: Any, qapp: QApplication, back_to_chinese: None
) -> None:
    """A command's failure keeps its phrase: the feedback line, a panel's error line, the sync panel's result
    and the outcome itself say it again in the new language (a detail that is the engine's own English text,
    "engine is not running", stays as it is); it stayed in the language it failed in."""
    engine = Engine(ascii_settings)  # not started: every command is refused ("engine is not running")
    window = BoothWindow(ascii_settings, engine, operator="tester")
    qtbot.addWidget(window)
    try:
        window.resize(1800, 1000)
        window.show()
        x1, x2, x3 = (window.lane_panel(lane) for lane in ("X1", "X2", "X3"))
        refused = "系统无法执行：engine is not running"
        x1.trigger("retry_payment")  # a command without a panel: its refusal on the feedback line
        qtbot.waitUntil(lambda: x1.feedback.text() == refused, timeout=WAIT_MS)
        lift = x2.open_panel("manual_lift")  # a panel's command: its refusal under the field
        assert isinstance(lift, ReasonPanel)
        lift.field.setText("Gate fault")
        lift.confirm_button.click()
        qtbot.waitUntil(lambda: lift.error.text() == refused, timeout=WAIT_MS)
        x3.show_view(LaneView("X3", "North exit", "exit", LaneState.NO_STAY, "无入场记录", plate="苏B1Z345"))
        fix = x3.open_panel("correct_plate")  # a plate the panel refuses itself, with the rule it broke
        assert isinstance(fix, PlatePanel)
        fix.keypad.set_text("苏B1234")
        fix.keypad.edited.emit()
        fix.confirm_button.click()
        short = "车牌无效：太短，普通车牌为7位（省份、字母、5位序号）"
        assert fix.error.text() == short
        with qtbot.waitSignal(window.bridge.commandDone, timeout=WAIT_MS) as done:  # the engine's refusal
            window.bridge.submit("", "correct_plate", lambda: engine.correct_plate("X3", "苏B1234", "tester"))
        outcome = done.args[0]
        assert isinstance(outcome, CommandOutcome) and outcome.error == short
        sync = window.sync_panel  # a supervisor's retry of the sync's failures
        letter = DeadLetter(7, "alipay", "order_sync", "fatal isv.invalid-app-id", 1, datetime.now(UTC), "k")
        window.bridge.syncChanged.emit(SyncStatus(datetime.now(UTC), tuple(
            CloudStatus(name, True, 0, None, None, len(dead), dead, "closed", 0.0, "", "", 0)
            for name, dead in (("bolink", ()), ("alipay", (letter,)), ("tmall", ())))))
        window.open_sync_panel()
        box = sync.box("alipay")
        qtbot.mouseClick(box.retry_button, Qt.MouseButton.LeftButton)
        sync.approver_field.setText("boss")
        for digit in "1234":
            qtbot.mouseClick(sync.approver_pad.keys[digit], Qt.MouseButton.LeftButton)
        qtbot.mouseClick(sync.approver_pad.confirm_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: box.result.text() == refused + ": no staff yet", timeout=WAIT_MS)

        qtbot.mouseClick(window.language_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: window.language_button.text() == "中文", timeout=WAIT_MS)
        english = "The system cannot do this: engine is not running"
        assert x1.feedback.text() == english and str(x1.feedback.property("tone")) == "bad"
        assert lift.error.text() == english and x2.open_action() is lift
        assert box.result.text() == english + ": no staff yet" and box.result.property("tone") == "bad"
        assert fix.error.text() == ("Invalid plate: too short, an ordinary plate has 7 characters "
                                    "(province, letter, 5 serial characters)")
        assert outcome.error_words() == fix.error.text()  # said again in English
        assert outcome.error == short  # as it was said

        qtbot.mouseClick(window.language_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: window.language_button.text() == "English", timeout=WAIT_MS)
        assert x1.feedback.text() == refused and lift.error.text() == refused
        assert box.result.text() == refused + ": no staff yet"
        assert fix.error.text() == short and outcome.error_words() == short
    finally:
        window.close()
        engine.stop()
