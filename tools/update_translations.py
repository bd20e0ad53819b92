"""Update the English translation source from the code, and optionally compile it.

    .venv/bin/python tools/update_translations.py            # lupdate: add new strings, keep translations
    .venv/bin/python tools/update_translations.py --release  # also build resources/translations/*.qm
    .venv/bin/python tools/update_translations.py --check    # exit 1 listing strings still untranslated

Every Python file under ui/ is scanned (new screens are picked up without editing this script). Strings that
are gone from the code are dropped from the .ts (-no-obsolete). Chinese is the source language and has no
file. The booth builds a missing or stale .qm itself at start (ui/kit/i18n.py); --release is for installs.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ui.kit.i18n import LANGUAGES, SOURCE_LANGUAGE, build_qm, read_ts, ts_file  # noqa: E402


def lupdate() -> Path:
    tool = Path(sys.executable).parent / "pyside6-lupdate"
    if not tool.is_file():
        raise SystemExit(f"pyside6-lupdate not found next to {sys.executable}: install PySide6 in this venv")
    return tool


def sources() -> list[Path]:
    return sorted(p for p in (ROOT / "ui").rglob("*.py") if "__pycache__" not in p.parts)


def update(language: str) -> None:
    ts = ts_file(language)
    ts.parent.mkdir(parents=True, exist_ok=True)
    files = [str(p.relative_to(ROOT)) for p in sources()]
    subprocess.run(
        [str(lupdate()), "-no-obsolete", "-locations", "none", "-source-language", "zh_CN",
         "-target-language", language, *files, "-ts", str(ts.relative_to(ROOT))],
        cwd=ROOT, check=True,
    )


def untranslated(language: str) -> list[str]:
    messages = read_ts(ts_file(language))
    return [f"{m.context}: {m.source}" for m in messages if not (m.finished and m.translation)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--release", action="store_true", help="also compile the .qm next to each .ts")
    parser.add_argument("--check", action="store_true", help="only check: list untranslated strings")
    args = parser.parse_args(argv)
    missing: list[str] = []
    for language in LANGUAGES:
        if language == SOURCE_LANGUAGE:
            continue
        if not args.check:
            update(language)
        missing += [f"{language} {line}" for line in untranslated(language)]
        if args.release:
            ts = ts_file(language)
            build_qm(ts, ts.with_suffix(".qm"))
    for line in missing:
        print(f"untranslated: {line}")
    return 1 if missing and args.check else 0


if __name__ == "__main__":
    raise SystemExit(main())
