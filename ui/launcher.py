"""The ``booth`` console script.

It lives here, not in ``booth``, so that the dependency points one way: ``ui`` uses ``booth``; ``booth`` never
imports Qt. Qt is imported only when a window is actually opened, so ``booth run --headless`` and
``booth config check`` start without it.
"""

from __future__ import annotations

import os
import sys
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


#: Qt platforms that draw without a display server (tests, VNC, a bare framebuffer).
_NO_SERVER_NEEDED = ("offscreen", "minimal", "vnc", "linuxfb", "eglfs", "vkkhrdisplay")


def display_problem() -> str | None:
    """Why no window can open here, in one line, or None. Asked before Qt loads: without a display Qt aborts
    the process (exit 134) with advice about reinstalling libxcb-cursor0."""
    if not sys.platform.startswith("linux"):
        return None
    platform = os.environ.get("QT_QPA_PLATFORM", "").split(":")[0].strip().lower()
    if platform in _NO_SERVER_NEEDED:
        return None
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return None
    return (
        "no display to open the window on ($DISPLAY and $WAYLAND_DISPLAY are unset): run it in a desktop "
        "session or the kiosk, or run the lanes without a window: booth run --headless"
    )


def render_report_pdf(report: Report, path: Path) -> None:
    """`booth report ... --pdf`: Qt's PDF writer, on an offscreen application when no window runs."""
    from ui.office.report_document import render_pdf_headless

    render_pdf_headless(report, path)


#: glibc's mallopt parameter, and the size from which every allocation gets pages of its own
_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 128 * 1024


def steady_malloc() -> bool:
    """Keep glibc's malloc threshold for pages of their own at 128 KB (its start value) instead of letting it
    grow. By default it rises to the size of the largest block freed: after the first camera photo or
    request body is let go, every later one (a decoded photo, a 270 kB push) is carved from the heap, which
    then only grows with the holes they leave. Fixed, such a block is unmapped when freed: the soak's peak
    RSS 236 -> 230 MB (bench_gui.py --soak). Called before any thread starts; an explicit
    MALLOC_MMAP_THRESHOLD_ in the environment wins, and elsewhere than glibc nothing changes."""
    if not sys.platform.startswith("linux") or "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return False
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES))


def main(argv: Sequence[str] | None = None) -> int:
    steady_malloc()
    return booth_main(
        argv, open_window=open_window, render_pdf=render_report_pdf, display_problem=display_problem
    )


if __name__ == "__main__":
    raise SystemExit(main())
