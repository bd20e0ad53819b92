"""The window's language: Chinese (the source language of every string, so it needs no file) or English,
switchable while the booth runs.

English comes from ``resources/translations/booth_en.ts`` (kept in the repository, updated by
``tools/update_translations.py``). The compiled ``.qm`` is built from it with Qt's ``lrelease``:
``tools/update_translations.py`` builds ``booth_en.qm`` next to the ``.ts`` (what an install ships); when that
file is missing or older than the ``.ts`` — a source checkout, a ``.ts`` just edited — the booth builds it at
start into a cache directory (``$BOOTH_TRANSLATION_CACHE``, else Qt's cache location), with the
``pyside6-lrelease`` next to the Python executable or the ``lrelease`` inside the PySide6 package.

A switch at run time installs the other translator; Qt then sends ``LanguageChange`` to every widget.
Widgets built with ``tr()`` hold the words of the language they were built in, so :func:`retranslate_tree`
re-words every text that is a known source string or translation (labels, buttons, placeholders, tool
tips, window titles); texts made of words and data (``"应收 %1"``) are redrawn by their owners.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from PySide6.QtCore import QCoreApplication, QStandardPaths, QTranslator
from PySide6.QtWidgets import QAbstractButton, QLabel, QLineEdit, QWidget

from ui.kit.style import RESOURCES

log = logging.getLogger("ui.kit.i18n")

Language = Literal["zh_CN", "en"]
LANGUAGES: tuple[Language, ...] = ("zh_CN", "en")
#: the language the source strings are written in: no translation file, no translator
SOURCE_LANGUAGE: Language = "zh_CN"
TRANSLATIONS = RESOURCES / "translations"
CACHE_ENV = "BOOTH_TRANSLATION_CACHE"
_LRELEASE_TIMEOUT_S = 60


class TranslationError(RuntimeError):
    """A translation could not be loaded or built; the message names the file and the problem."""


@dataclass(frozen=True)
class Message:
    """One entry of a .ts file."""

    context: str
    source: str
    translation: str
    finished: bool  # not marked "unfinished", "obsolete" or "vanished"


def ts_file(language: str) -> Path:
    return TRANSLATIONS / f"booth_{language}.ts"


def read_ts(path: Path) -> list[Message]:
    """The messages of a Qt Linguist .ts file. Raises TranslationError naming the file when unreadable."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        raise TranslationError(f"cannot read the translation source {path}: {exc}") from exc
    messages = []
    for context in root.iter("context"):
        name = context.findtext("name") or ""
        for message in context.iter("message"):
            translation = message.find("translation")
            kind = translation.get("type", "") if translation is not None else "unfinished"
            text = (translation.text or "") if translation is not None else ""
            messages.append(Message(name, message.findtext("source") or "", text, kind == ""))
    return messages


# ------------------------------------------------------------------------------------------ building .qm


def find_lrelease() -> Path | None:
    """Qt's lrelease: the PySide6 wrapper next to this Python, or the binary inside the PySide6 package."""
    candidates = [Path(sys.executable).parent / "pyside6-lrelease"]
    try:
        import PySide6

        package = Path(PySide6.__file__).parent
        candidates += [package / "lrelease", package / "Qt" / "libexec" / "lrelease"]
    except (ImportError, TypeError):  # pragma: no cover - PySide6 is what runs this module
        pass
    for name in ("pyside6-lrelease", "lrelease"):
        found = shutil.which(name)
        if found:
            candidates.append(Path(found))
    return next((c for c in candidates if c.is_file() and os.access(c, os.X_OK)), None)


def cache_dir() -> Path:
    """Where .qm files built at start go (never the source tree, which may be read-only once installed)."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured)
    location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.CacheLocation)
    return (Path(location) if location else Path.home() / ".cache" / "booth") / "translations"


def build_qm(ts: Path, qm: Path) -> None:
    """Compile ``ts`` into ``qm`` with lrelease. Raises TranslationError saying why it could not."""
    lrelease = find_lrelease()
    if lrelease is None:
        raise TranslationError(f"cannot build {qm.name}: Qt's lrelease was not found (install PySide6)")
    qm.parent.mkdir(parents=True, exist_ok=True)
    try:
        done = subprocess.run(
            [str(lrelease), "-silent", str(ts), "-qm", str(qm)],
            capture_output=True, text=True, timeout=_LRELEASE_TIMEOUT_S, check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise TranslationError(f"cannot build {qm} from {ts}: {exc}") from exc
    if done.returncode != 0 or not qm.is_file():
        detail = (done.stderr or done.stdout).strip() or f"exit status {done.returncode}"
        raise TranslationError(f"lrelease could not build {qm} from {ts}: {detail}")


def _fresh(qm: Path, ts: Path) -> bool:
    return qm.is_file() and qm.stat().st_mtime >= ts.stat().st_mtime


def compiled(language: str, *, cache: Path | None = None) -> Path | None:
    """The .qm for ``language`` (None for the source language), building it when missing or stale."""
    if language == SOURCE_LANGUAGE:
        return None
    if language not in LANGUAGES:
        raise TranslationError(f"unknown language {language!r}: expected one of {', '.join(LANGUAGES)}")
    ts = ts_file(language)
    if not ts.is_file():
        raise TranslationError(f"no translation source for {language!r}: {ts} is missing")
    shipped = ts.with_suffix(".qm")
    if _fresh(shipped, ts):
        return shipped
    built = (cache or cache_dir()) / shipped.name
    if not _fresh(built, ts):
        log.info("building %s from %s", built, ts)
        build_qm(ts, built)
    return built


# ------------------------------------------------------------------------------------------ switching

_translator: QTranslator | None = None
_language: Language = SOURCE_LANGUAGE


def current_language() -> Language:
    return _language


def switch_language(app: QCoreApplication, language: str, *, cache: Path | None = None) -> None:
    """Show ``language`` from now on (GUI thread). Qt sends every widget a ``LanguageChange`` event.

    Raises TranslationError (naming the file and the problem) and keeps the current language when the
    translation cannot be loaded.
    """
    global _translator, _language
    if language not in LANGUAGES:
        raise TranslationError(f"unknown language {language!r}: expected one of {', '.join(LANGUAGES)}")
    qm = compiled(language, cache=cache)
    translator: QTranslator | None = None
    if qm is not None:
        translator = QTranslator(app)
        if not translator.load(str(qm)):
            translator.deleteLater()
            raise TranslationError(f"cannot load the translation {qm}: not a valid .qm file")
    if _translator is not None:
        app.removeTranslator(_translator)
        _translator.deleteLater()
    _translator = translator
    _language = language
    if translator is not None:
        app.installTranslator(translator)


# ------------------------------------------------------------------------------------------ re-wording


@cache
def _catalogue(language: str) -> tuple[dict[str, dict[str, str]], dict[str, tuple[str, str]]]:
    """For the .ts of ``language``: source -> {context: translation}, and translation -> (context, source)."""
    forward: dict[str, dict[str, str]] = {}
    backward: dict[str, tuple[str, str]] = {}
    path = ts_file(language)
    if not path.is_file():
        return forward, backward
    for m in read_ts(path):
        if m.translation and m.finished:
            forward.setdefault(m.source, {})[m.context] = m.translation
            backward.setdefault(m.translation, (m.context, m.source))
    return forward, backward


def _contexts(widget: QWidget) -> list[str]:
    """Class names of the widget and its parents, nearest first: where its words were most likely made."""
    names: list[str] = []
    node: QWidget | None = widget
    while node is not None:
        names += [cls.__name__ for cls in type(node).__mro__]
        node = node.parentWidget()
    return names


def reword(text: str, widget: QWidget) -> str | None:
    """``text`` in the current language if it is a whole known source string or translation, else None."""
    if not text:
        return None
    foreign = next((lang for lang in LANGUAGES if lang != SOURCE_LANGUAGE), "en")
    forward, backward = _catalogue(foreign)
    if text in forward:  # the words of the source language
        by_context = forward[text]
        context = next((c for c in _contexts(widget) if c in by_context), next(iter(by_context)))
        new = QCoreApplication.translate(context, text)
    elif text in backward:  # the words of a translation
        context, source = backward[text]
        new = QCoreApplication.translate(context, source)
    else:
        return None
    return new if new != text else None


def retranslate_tree(root: QWidget) -> int:
    """Re-word every whole-string text of ``root`` and its descendants in the current language; returns how
    many texts changed. Texts that mix words and data are left to their owners to redraw."""
    changed = 0
    for widget in [root, *root.findChildren(QWidget)]:
        pairs: list[tuple[str, Callable[[str], None]]] = [
            (widget.toolTip(), widget.setToolTip),
            (widget.accessibleName(), widget.setAccessibleName),
            (widget.windowTitle(), widget.setWindowTitle),
        ]
        if isinstance(widget, QLabel | QAbstractButton):
            pairs.append((widget.text(), widget.setText))
        if isinstance(widget, QLineEdit):
            pairs.append((widget.placeholderText(), widget.setPlaceholderText))
        for text, setter in pairs:
            new = reword(text, widget)
            if new is not None:
                setter(new)
                changed += 1
    return changed
