"""The ``booth`` console script.

It lives here, not in ``booth``, so that the dependency points one way: ``ui`` uses ``booth``; ``booth`` never
imports Qt. Qt is imported only when a window is actually opened, so ``booth run --headless`` and
``booth config check`` start without it.
"""

from __future__ import annotations

from collections.abc import Sequence

from booth.cli import main as booth_main
from booth.config import Settings


def open_window(settings: Settings, kiosk: bool) -> int:
    from ui.app import run_window

    return int(run_window(settings, kiosk=kiosk))


def main(argv: Sequence[str] | None = None) -> int:
    return booth_main(argv, open_window=open_window)


if __name__ == "__main__":
    raise SystemExit(main())
