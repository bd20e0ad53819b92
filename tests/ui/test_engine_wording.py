"""What booth says (lane messages, tariff lines, alert details, refusals) reaches the screen in the screen's
language: every code booth can emit has words here, the Chinese words are booth's own, and in English none
of it is left in Chinese (plates and the lot's own settings are data and stay as written)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from PySide6.QtWidgets import QApplication

import ui.kit.i18n as i18n
from booth.domain import phrases
from booth.domain.lane import LaneRuleError
from booth.domain.phrases import CHINESE, Phrase, placeholders, say
from booth.domain.tariff import TariffSettings, quote_fee
from booth.engine import AlertRaised, ApprovalError
from booth.office.staff import AuthError
from tests.conftest import RunningEngine, wait_until
from tests.test_exceptions import SUPERVISOR, add_people, car_waiting
from ui.kit.refusals import refusal_words
from ui.kit.wording import alert_detail_words, known_phrase_codes, phrase_words
from ui.link.bridge import describe_failure

CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")
ZONE = ZoneInfo("Asia/Shanghai")


def sample(code: str) -> Phrase:
    """The phrase with a value for each parameter its template names (money as fen)."""
    values = {name: 1234 if name.endswith("_fen") else f"<{name}>" for name in placeholders(CHINESE[code])}
    return Phrase(code, tuple(values.items()))


def test_every_code_booth_can_emit_has_words_and_reads_in_chinese_exactly_as_booth_writes_it(
    qapp: QApplication,
) -> None:
    assert i18n.current_language() == "zh_CN"
    missing = sorted(set(CHINESE) - known_phrase_codes())
    assert not missing, f"ui/kit/wording.py has no words for {missing}"
    assert not known_phrase_codes() - set(CHINESE)  # nothing mapped that booth cannot say
    for code in CHINESE:
        phrase = sample(code)
        assert phrase_words(phrase) == phrase.text, code
    assert "12.34" in phrase_words(sample("lane.pay"))  # money in yuan, as booth formats it


def test_every_english_phrase_keeps_its_parameters() -> None:
    messages = i18n.read_ts(i18n.ts_file("en"))
    english = {m.source: m.translation for m in messages if m.context == "BoothWording"}
    for code, template in CHINESE.items():
        assert template in english, f"{code}: not in booth_en.ts (run tools/update_translations.py)"
        assert placeholders(english[template]) == placeholders(template), (code, english[template])


def test_an_unknown_code_shows_booths_own_text(monkeypatch: pytest.MonkeyPatch, qapp: QApplication) -> None:
    """A booth newer than the window: its Chinese text rather than nothing."""
    monkeypatch.setitem(phrases.CHINESE, "lane.newer_than_the_window", "新消息 {plate}")
    phrase = say("lane.newer_than_the_window", plate="苏A12345")
    assert phrase_words(phrase) == "新消息 苏A12345"
    assert phrase_words(None, "原文") == "原文"


@pytest.fixture
def english(qapp: QApplication, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(i18n.CACHE_ENV, str(tmp_path / "qm"))
    i18n.switch_language(qapp, "en")
    try:
        yield
    finally:
        i18n.switch_language(qapp, "zh_CN")


def rich_quote_lines() -> list[Phrase]:
    """A stay with day and night bands, a daily cap, a pass that lapsed, a discount and a prepayment."""
    night = {"start": "20:00", "end": "08:00", "period_price": "1.00", "cap": "3.00"}
    small = {"first_period_price": "5.00", "period_price": "2.00", "daily_cap": "30.00", "night": night}
    tariff = TariffSettings.model_validate({
        "free_minutes": 15,
        "charge_free_minutes_when_exceeded": False,
        "cap_window": "calendar_day",
        "classes": {"small": small, "large": small},
        "monthly": [{"plate": "苏A12345", "valid_from": "2024-04-01", "valid_to": "2024-04-30"}],
    })
    quote = quote_fee(tariff, plate="苏A12345", colour="blue", entry=datetime(2024, 5, 1, 9, tzinfo=ZONE),
                      exit=datetime(2024, 5, 3, 10, tzinfo=ZONE), tz=ZONE, paid_fen=1000, discount_fen=500)
    assert len(quote.lines) >= 6
    said = [line.phrase for line in quote.lines]
    assert all(p is not None for p in said)
    return [p for p in said if p is not None]


def test_tariff_lines_in_english_and_back_in_chinese(qapp: QApplication, english: None) -> None:
    lines = rich_quote_lines()
    codes = {p.code for p in lines}
    assert {"tariff.pass_lapsed", "tariff.free_minutes_first", "tariff.discount", "tariff.prepaid"} <= codes
    words = [phrase_words(p) for p in lines]
    left = [w for w in words if CJK.search(w.replace("苏A12345", ""))]
    assert not left, left
    assert any(w.startswith("Discount ¥5.00") for w in words), words
    i18n.switch_language(qapp, "zh_CN")
    assert [phrase_words(p) for p in lines] == [p.text for p in lines]


def test_lane_messages_alerts_and_refusals_in_english(
    make_engine: Callable[..., RunningEngine], qapp: QApplication, english: None
) -> None:
    r = make_engine()
    add_people(r)
    alerts: list[AlertRaised] = []
    r.engine.subscribe(lambda e: alerts.append(e) if isinstance(e, AlertRaised) else None)

    waiting = car_waiting(r, "X1", "苏C33333")
    assert waiting.said is not None and waiting.said.code == "lane.scan_to_pay"
    assert phrase_words(waiting.said) == f"Scan to pay ¥{waiting.due_fen / 100:.2f}"
    assert len(waiting.lines) >= 2 and waiting.lines[0].phrase is not None
    for line in waiting.lines:
        assert not CJK.search(phrase_words(line.phrase)), line

    r.engine.vehicle_at("X2", "苏B1Z345").result(10)
    no_stay = wait_until(lambda: (v := r.lane("X2")).said and v.said.code == "lane.no_stay" and v,
                         what="no stay at X2")
    assert phrase_words(no_stay.said).startswith("No entry record")
    alert = wait_until(lambda: next((a for a in alerts if a.kind == "no_stay"), None), what="no_stay alert")
    assert alert.detail is not None and "无入场记录" in alert.message  # logs and audit stay Chinese
    assert alert_detail_words(alert) == "苏B1Z345 leaving at X2 has no entry record"

    with pytest.raises(ApprovalError) as missing:
        r.engine.free_release("X1", "经理批准", "张三").result(10)
    shown = describe_failure(missing.value)
    assert "supervisor's PIN" in shown and not CJK.search(shown.replace("经理批准", ""))  # the reason is data
    with pytest.raises(ApprovalError) as wrong:
        r.engine.free_release("X1", "经理批准", "张三", approver=(SUPERVISOR[0], "0000")).result(10)
    assert wrong.value.code == "wrong_pin" and isinstance(wrong.value.auth, AuthError)
    assert refusal_words(wrong.value.auth) == "Wrong PIN (4 tries left)"
    assert not CJK.search(describe_failure(wrong.value)), describe_failure(wrong.value)
    assert refusal_words(wrong.value.auth).startswith("Wrong PIN")

    with pytest.raises(LaneRuleError) as short:
        r.engine.cash("X1", 1, "张三").result(10)
    assert short.value.phrase is not None and short.value.phrase.code == "rule.cash_short"
    assert describe_failure(short.value) == f"Not enough cash: ¥{waiting.due_fen / 100:.2f} due, ¥0.01 given"

    i18n.switch_language(qapp, "zh_CN")
    assert phrase_words(no_stay.said) == no_stay.message
    assert alert_detail_words(alert) == alert.message
    assert describe_failure(short.value) == str(short.value)
