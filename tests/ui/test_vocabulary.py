"""One vocabulary: the window, the reports (on screen, PDF, CSV) and the command line name each thing one way
per language.

For each concept the words it has been (or could be) given are listed, per language; the test collects every
text a person reads (the window's words and their English from the translation file, booth's phrases, the
report of a busy shift in both languages, its CSV and the command line's text of it) and asserts each concept
is named by exactly one of its words in each language, and that the window, the reports and the command line
each use it.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from report_data import short_shift_report

from PySide6.QtWidgets import QApplication

from booth.cli.reports import summary_lines
from booth.domain.phrases import CHINESE
from booth.office.reports import Report, write_csv
from ui.kit import i18n
from ui.office.report_document import report_html

TS = Path(__file__).resolve().parents[2] / "resources" / "translations" / "booth_en.ts"

#: concept -> (Chinese words, English words): every way it has been or could be said; one may be used
CONCEPTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "manual lift": (
        ("人工抬杆", "手动抬杆", "手工抬杆", "人工开闸", "手动开闸"),
        ("manual lift", "lift it by hand", "lift by hand", "lifted by hand", "lift manually", "hand lift"),
    ),
    "free release": (
        ("免费放行", "免费出场", "免费离场"),
        ("free release", "release free", "released free", "free exit", "free pass"),
    ),
    "variance": (("差额", "差异", "差值"), ("variance", "difference", "discrepancy")),
    "sync backlog": (("同步积压", "同步队列", "待同步"), ("sync backlog", "sync queue", "unsynced")),
    "co-signer": (("主管签字", "复核人", "会签"), ("co-signed by", "countersigned", "second signature")),
    "float for the next shift": (
        ("留给下一班的备用金", "移交备用金", "交接备用金"),
        ("float left for the next shift", "float handed over", "handover float", "float for the next shift"),
    ),
    "expected cash": (
        ("应有现金", "应有金额", "应收现金", "预期现金"),
        ("expected cash", "cash expected", "expected amount"),
    ),
    "counted cash": (("清点现金", "清点金额", "实点现金"), ("counted cash", "cash counted", "actual cash")),
    "cash over": (("长款", "溢款", "多款"), ("over", "surplus", "overage")),
    "cash short": (("短款", "缺款", "少款"), ("short", "shortage", "deficit")),
    "exited unpaid": (
        ("未付款出场", "未付出场", "未付费出场"),
        ("exited unpaid", "left unpaid", "unpaid exit"),
    ),
    "paid, not exited": (
        ("已付款未出场", "已付未出场"),
        ("paid, not exited", "paid but not out", "paid, still in"),
    ),
}
#: concepts a report says only when its figures have them (a shift is over or short, not both): the window
#: must say them, the reports and the command line only where the busy shift has them (it is short)
FROM_THE_FIGURES = {"cash over"}
#: English words that are also ordinary words elsewhere ("over the limit", "too short"): only as a whole text
WHOLE_TEXT_ONLY = {"over", "short"}


def _found(words: tuple[str, ...], text: str, *, english: bool) -> set[str]:
    """The words of ``words`` in ``text``, the longest first: each match is blanked out before a shorter
    word looks, so a word inside a longer one is counted as the longer one only."""
    found = set()
    # Chinese has no spaces between words: a label broken over lines ("人工\n抬杆") is one word
    rest = text.lower() if english else re.sub(r"\s+", "", text)
    for word in sorted(words, key=len, reverse=True):
        if english and word in WHOLE_TEXT_ONLY:
            if rest.strip() == word:
                found.add(word)
            continue
        pattern = re.compile(r"(?<![a-z])" + re.escape(word) + r"(?![a-z])" if english else re.escape(word))
        if pattern.search(rest):
            found.add(word)
            rest = pattern.sub(" | ", rest)
    return found


def _window_texts() -> Iterator[tuple[str, str]]:
    """(Chinese, English) of every text the window shows (the translation file) and of booth's phrases
    (the window's fallback and the command line's words)."""
    for context in ET.parse(TS).getroot().iter("context"):
        for message in context.iter("message"):
            source = message.findtext("source") or ""
            yield source, message.findtext("translation") or ""
    for text in CHINESE.values():
        yield text, ""


def _report_texts(report: Report, qapp: QApplication, tmp_path: Path) -> tuple[str, str, str, str]:
    """The report on screen (and in the PDF: one document) in Chinese and English, its CSV and the command
    line's text of it."""
    chinese = re.sub(r"<[^>]+>", "\n", report_html(report))
    i18n.switch_language(qapp, "en")
    try:
        english = re.sub(r"<[^>]+>", "\n", report_html(report))
    finally:
        i18n.switch_language(qapp, "zh_CN")
    csv = tmp_path / "report.csv"
    write_csv(report, csv)
    return chinese, english, csv.read_text(encoding="utf-8-sig"), "\n".join(summary_lines(report))


@pytest.fixture
def texts(
    qapp: QApplication, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, list[tuple[str, str]]]:
    monkeypatch.setenv(i18n.CACHE_ENV, str(tmp_path / "qm"))
    report = short_shift_report(tmp_path, busy=True)
    chinese, english, csv, cli = _report_texts(report, qapp, tmp_path)
    # the report's lines are split at tags and cells, so a whole-text word ("short") is seen as a text
    split = re.compile(r"[\n,，；;：:（）()]+")
    return {
        "window": list(_window_texts()),
        "report": [(t, "") for t in split.split(chinese)] + [("", t) for t in split.split(english)],
        "csv": [(t, "") for t in split.split(csv)],
        "cli": [(t, "") for t in split.split(cli)],
    }


def test_each_concept_has_one_word_per_language_across_window_reports_and_cli(
    texts: dict[str, list[tuple[str, str]]],
) -> None:
    problems = []
    for concept, (chinese_words, english_words) in CONCEPTS.items():
        used: dict[str, dict[str, set[str]]] = {"zh": {}, "en": {}}
        for where, pairs in texts.items():
            for chinese, english in pairs:
                for word in _found(chinese_words, chinese, english=False):
                    used["zh"].setdefault(word, set()).add(where)
                for word in _found(english_words, english, english=True):
                    used["en"].setdefault(word, set()).add(where)
        for language, words in used.items():
            if len(words) != 1:
                problems.append(f"{concept} ({language}): {words or 'never said'}")
        zh_places = set().union(*used["zh"].values()) if used["zh"] else set()
        for where in ("window",) if concept in FROM_THE_FIGURES else ("window", "report", "cli"):
            if where not in zh_places:
                problems.append(f"{concept}: the {where} does not say it ({used['zh']})")
    assert not problems, "\n".join(problems)


def test_the_finder_tells_words_apart() -> None:
    """A word inside a longer one is the longer one only; "short" alone is a verdict, "too short" is not."""
    assert _found(("同步积压", "积压"), "同步积压 2 条", english=False) == {"同步积压"}
    assert _found(("同步积压", "积压"), "积压", english=False) == {"积压"}
    assert _found(CONCEPTS["manual lift"][0], "手动\n抬杆", english=False) == {"手动抬杆"}
    assert _found(CONCEPTS["cash short"][1], "Short", english=True) == {"short"}
    assert _found(CONCEPTS["cash short"][1], "the plate is too short", english=True) == set()
    assert _found(CONCEPTS["manual lift"][1], "Manual lift done: %1", english=True) == {"manual lift"}
    said = "or release free / lift by hand"
    assert _found(CONCEPTS["free release"][1], said, english=True) == {"release free"}
    assert _found(CONCEPTS["manual lift"][1], said, english=True) == {"lift by hand"}
