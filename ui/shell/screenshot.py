"""Screenshots of the booth on a real display, for the docs and for the test that runs them under Xvfb.

    python -m ui.shell.screenshot OUT.png [--report REPORT.json]          the lane screen, in Chinese
    python -m ui.shell.screenshot --all docs/ [--xvfb] [--size 1920x1080] every screen, in Chinese and English
    python -m ui.shell.screenshot --all DIR --languages en --kinds lanes,lock
    python -m ui.shell.screenshot --xvfb --all DIR --kinds staffadd,lanefigures   the supervisor's screens

A real engine runs on the Bolink sandbox in a temporary directory, with an attendant and a supervisor and
an open shift; the window opens on sign-in, as after a restart, and the attendant's PIN resumes that shift.
Then it is driven the way an attendant would be, one screen after the other, by taps: on an X display with
``xdotool`` installed every tap is a real pointer click sent through the X server (``--taps xdotool``, the
default there), else the button's own click (``--taps qt``). The cars, the drivers and Bolink are the
engine's public API and the sandbox.

* ``signin``: the sign-in overlay after the restart, the open shift's attendant chosen among the name
  buttons, the PIN pad;
* ``lanes``: lane X1 has a car waiting to pay with its QR and tariff breakdown, lane X2 a car that paid
  cash with its gate open;
* ``reason``: free release on lane X1, the reason tapped (one that needs a supervisor) highlighted;
* ``approval``: that reason's approval: the supervisor's name tapped among the active supervisors, two
  digits of the PIN typed (the release is not sent);
* ``offline`` (only when asked for with ``--kinds``): Bolink's cloud gone, lane X1 cash only, X2 still paid;
* ``keypad``: a car at X2 whose plate the camera misread (2 read as Z), the plate keypad open with the
  misread in the field to edit and the lot's cars it may be offered above the keys;
* ``lock``: "lock now" (锁屏) tapped on the top bar: the booth locked, each lane's plate, amount and QR in
  view, the attendant's actions locked, the lock bar's own language button;
* ``locklanguage`` (only when asked for with ``--kinds``): locked, the lock bar's language button tapped:
  the lock's and the driver's words in the other language (switched back once grabbed);
* ``unlock``: "unlock" tapped on the lock bar: the PIN pad's card, two digits typed;
* ``staffadd`` (only when asked for with ``--kinds``): unlocked, the supervisor's name and PIN, "add
  attendant", the new staff number tapped on the pad (the name left empty, the hint on a Chinese name);
* ``lanefigures`` (only when asked for with ``--kinds``): the supervisor's lane figures sheet (通道数据),
  a row per lane over the last hour;
* ``shift``: the blind cash count of the shift close, the drawer counted;
* ``closed``: the count submitted: the closed shift's figures, the variance in the colour of its sign;
* ``report``: the report of that shift once closed;
* ``open``: signed out and in again, the next shift's float counted note by note (five ¥100 notes).

Each shot is the whole screen grabbed from the display server (not rendered by Qt on its own), so what is
saved is what an attendant would see. ``--all`` writes ``screenshot-KIND.LANGUAGE.png`` for every kind and
language, and ``screenshot-lanes.png`` (the Chinese lane screen the README opens with). With ``--xvfb`` it
starts a private Xvfb of ``--size`` and runs itself there. The report (``--report``) says per shot which
font drew the Chinese text and whether it has real glyphs for it (glyph 0 is the empty "tofu" box), where
the plate and the QR are, and every visible text with Chinese in it (an English shot should have only
plates and the lot's own names left).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ui.kit.i18n import LANGUAGES, SOURCE_LANGUAGE, switch_language
from ui.kit.style import apply_style
from ui.shell.app import ensure_application
from ui.shell.screen_scenes import KINDS, SCENES, TAPS, BoothScenes, Shot, chinese_texts, global_rect
from ui.shell.x_display import DEFAULT_SIZE, parse_size, private_xvfb


def shot_name(kind: str, language: str) -> str:
    return f"screenshot-{kind}.{language}.png"


def shoot(
    save_as: Callable[[str, str], Path],
    *,
    languages: Iterable[str] = (SOURCE_LANGUAGE,),
    kinds: Iterable[str] = KINDS,
    taps: str | None = None,
) -> dict[str, Any]:
    """For each language, a fresh booth driven through ``kinds`` by ``taps`` (None: xdotool when it is
    installed and the display is X, else qt); each screen is grabbed to the file ``save_as(kind, language)``
    names. Returns the report: per file, the facts of its shot."""
    app = ensure_application()
    apply_style(app)
    kinds = list(kinds)
    if taps is None:
        taps = "xdotool" if shutil.which("xdotool") and app.platformName() == "xcb" else "qt"
    report: dict[str, Any] = {}
    for language in languages:
        switch_language(app, language)  # before the window is built: built in that language
        with tempfile.TemporaryDirectory(prefix="booth-screenshot-") as tmp, \
                BoothScenes(app, Path(tmp), taps=taps) as scenes:

            def save(shot: Shot, language: str = language, scenes: BoothScenes = scenes) -> None:
                out = save_as(shot.kind, language)
                scenes.rest_pointer()
                screen = scenes.screen()
                image = screen.grabWindow(0)
                if image.isNull() or not image.save(str(out)):
                    raise SystemExit(f"screenshot: could not grab the screen or write {out}")
                window = scenes._window()
                report[out.name] = {
                    "kind": shot.kind,
                    "language": language,
                    "platform": app.platformName(),
                    "screen": [screen.geometry().width(), screen.geometry().height()],
                    "window_rect": global_rect(window),
                    # larger than the screen: the full-screen window cuts off what does not fit
                    "min_size": [window.minimumSizeHint().width(), window.minimumSizeHint().height()],
                    "chinese_texts": chinese_texts(window),
                    "taps": {"input": scenes.taps, "count": scenes.tapped},
                    **shot.facts,
                }

            scenes.run(save, kinds)
    switch_language(app, SOURCE_LANGUAGE)
    return report


def take(out: Path, report_path: Path | None, *, taps: str | None = None) -> None:
    """The lane screen in Chinese to ``out`` (the README's first picture)."""
    report = shoot(lambda _kind, _language: out, kinds=["lanes"], taps=taps)
    if report_path is not None:
        report_path.write_text(json.dumps(report[out.name], ensure_ascii=False, indent=2), encoding="utf-8")


def take_all(
    out_dir: Path,
    report_path: Path | None,
    *,
    languages: Iterable[str] = LANGUAGES,
    kinds: Iterable[str] = KINDS,
    taps: str | None = None,
) -> dict[str, Any]:
    """Every kind in every language into ``out_dir``, plus ``screenshot-lanes.png`` (the Chinese lanes)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    report = shoot(
        lambda kind, language: out_dir / shot_name(kind, language), languages=languages, kinds=kinds,
        taps=taps,
    )
    source_lanes = out_dir / shot_name("lanes", SOURCE_LANGUAGE)
    if source_lanes.name in report:
        shutil.copyfile(source_lanes, out_dir / "screenshot-lanes.png")
    if report_path is not None:
        report_path.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    return report


def _names(text: str, allowed: tuple[str, ...], what: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in allowed]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"{what} must be some of {', '.join(allowed)}, got {text!r}")
    return names


def _rerun_under_xvfb(argv: list[str], size: tuple[int, int]) -> int:
    """This same command in a child process on a private Xvfb (a process hosts one Qt platform)."""
    child = [a for a in argv if a != "--xvfb"]
    with private_xvfb(size) as display:
        env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
        done = subprocess.run([sys.executable, "-m", "ui.shell.screenshot", *child], env=env, check=False)
        return done.returncode


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="python -m ui.shell.screenshot", description=__doc__.splitlines()[0]
    )
    parser.add_argument("out", type=Path, help="PNG to write (the lane screen); with --all, a directory")
    parser.add_argument("--all", action="store_true", help="every screen in every language into OUT")
    parser.add_argument("--languages", type=lambda t: _names(t, LANGUAGES, "--languages"),
                        default=list(LANGUAGES),
                        help=f"with --all: comma-separated, of {','.join(LANGUAGES)}")
    parser.add_argument("--kinds", type=lambda t: _names(t, SCENES, "--kinds"), default=list(KINDS),
                        help=f"with --all: comma-separated, of {','.join(SCENES)} "
                             "(default: all but offline, locklanguage, staffadd and lanefigures)")
    parser.add_argument("--report", type=Path, help="also write a JSON report (fonts, widget positions)")
    parser.add_argument("--xvfb", action="store_true", help="start a private Xvfb and take the shots there")
    parser.add_argument("--size", type=parse_size, default=DEFAULT_SIZE,
                        help="with --xvfb: the screen, WIDTHxHEIGHT (default 1920x1080)")
    parser.add_argument("--taps", choices=TAPS, default=None,
                        help="how the attendant taps: xdotool (real pointer clicks through the X server; the "
                             "default when xdotool is installed) or qt (the buttons' own click)")
    args = parser.parse_args(argv)
    if args.xvfb:
        return _rerun_under_xvfb(argv, args.size)
    if os.environ.get("QT_QPA_PLATFORM", "xcb") == "xcb" and not os.environ.get("DISPLAY"):
        parser.error("no X display ($DISPLAY is unset): run it under Xvfb, or add --xvfb to start one")
    if args.taps == "xdotool" and shutil.which("xdotool") is None:
        parser.error("--taps xdotool: xdotool is not installed (apt-get install xdotool)")
    if args.all:
        take_all(args.out, args.report, languages=args.languages, kinds=args.kinds, taps=args.taps)
    else:
        take(args.out, args.report, taps=args.taps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
