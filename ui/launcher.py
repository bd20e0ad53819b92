"""The ``booth`` console script.

It lives here, not in ``booth``, so that the dependency points one way: ``ui`` uses ``booth``; ``booth`` never
imports Qt. Qt is imported only when a window is actually opened, so ``booth run --headless`` and
``booth config check`` start without it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from booth.cli.main import main as booth_main
from booth.config import Settings

if TYPE_CHECKING:
    from booth.office.reports import Report


def open_window(settings: Settings, kiosk: bool) -> int:
    from ui.shell.app import run_window

    return int(run_window(settings, kiosk=kiosk))


def render_report_pdf(report: Report, path: Path) -> None:
    """`booth report ... --pdf`: Qt's PDF writer, on an offscreen application when no window runs."""
    from ui.office.report_document import render_pdf_headless

    render_pdf_headless(report, path)


def main(argv: Sequence[str] | None = None) -> int:
    return booth_main(argv, open_window=open_window, render_pdf=render_report_pdf)


if __name__ == "__main__":
    raise SystemExit(main())
