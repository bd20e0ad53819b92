"""The ``booth`` command.

booth [--config FILE] [--demo] [--kiosk]        open the booth window (the console script lives in
                                                ui.launcher, so booth itself never imports Qt)
booth run --headless [--config FILE | --demo]   run the lanes without a window, logging each step
booth config check FILE                         validate a settings file and say what is wrong
booth config example                            print a documented example settings file
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from booth.config import ConfigError, Settings, default_config_path, load_settings, settings_from_mapping

log = logging.getLogger("booth")

EXAMPLE_CONFIG = Path(__file__).resolve().parent / "booth.example.toml"


def demo_settings(data_dir: Path, *, autopay_s: float | None = 6.0, every_s: float = 6.0) -> Settings:
    """Two exit lanes on the built-in sandbox: simulated camera, simulated gates, the Bolink emulator."""
    return settings_from_mapping(
        {
            "park": {"name": "演示停车场", "province": "苏", "capacity": 300},
            "bolink": {
                "base_url": "sandbox",
                "union_id": "200208",
                "park_id": "21835",
                "ukey": "DEMO0000DEMO0000",
                "local_id": "booth_demo_channels_X1_X2",
                "sandbox_autopay_s": autopay_s,
                "query_start_s": 4.0,
            },
            "lanes": [
                {"id": "X1", "name": "东出口", "direction": "exit", "channel_id": "X1", "pass_timeout_s": 3},
                {"id": "X2", "name": "西出口", "direction": "exit", "channel_id": "X2", "pass_timeout_s": 3},
            ],
            "database": {"url": f"sqlite:///{data_dir / 'demo.sqlite'}"},
            "simulator": {"enabled": True, "every_s": every_s},
        },
        "<demo>",
    )


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per long poll drowns the lane log


def _load(config: str | None, demo: bool) -> Settings:
    if demo:
        return demo_settings(Path(tempfile.mkdtemp(prefix="booth-demo-")))
    path = Path(config) if config else default_config_path()
    if not path.exists() and not config:
        raise ConfigError(str(path), ["no settings file here; pass --config FILE or run with --demo"])
    return load_settings(path)


def _run_headless(settings: Settings, stop_after_exits: int | None, duration_s: float | None) -> int:
    from booth.domain.money import format_yuan
    from booth.engine import AlertRaised, BolinkChanged, Engine, EngineEvent, LaneChanged

    def log_event(event: EngineEvent) -> None:
        if isinstance(event, LaneChanged):
            v = event.view
            amount = f" {format_yuan(v.due_fen)} 元" if v.due_fen is not None else ""
            log.info(
                "lane %s: %s%s%s — %s",
                v.lane_id,
                v.state,
                f" {v.plate}" if v.plate else "",
                amount,
                v.message,
            )
        elif isinstance(event, BolinkChanged):
            log.info("Bolink %s %s", "online" if event.online else "OFFLINE", event.reason)
        elif isinstance(event, AlertRaised):
            log.warning("ALERT %s %s: %s", event.lane_id or "", event.kind, event.message)

    engine = Engine(settings)
    engine.subscribe(log_event)
    done = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("signal %d: stopping", signum)
        done.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    engine.start()
    log.info("running headless: %s, %d lane(s)", settings.park.name, len(settings.lanes))
    waited = 0.0
    try:
        while not done.wait(0.2):
            waited += 0.2
            if stop_after_exits is not None and engine.exits_completed >= stop_after_exits:
                log.info("%d exit(s) completed: stopping", engine.exits_completed)
                break
            if duration_s is not None and waited >= duration_s:
                break
    finally:
        engine.stop()
    return 0


WindowOpener = Callable[[Settings, bool], int]


def main(argv: Sequence[str] | None = None, open_window: WindowOpener | None = None) -> int:
    """Run the command. ``open_window`` comes from ``ui.launcher`` (the ``booth`` console script): this
    package never imports the GUI, so ``python -m booth`` can only run headless."""
    parser = argparse.ArgumentParser(prog="booth", description="Cashier booth for parking-lot exit lanes")
    parser.add_argument("--config", metavar="FILE", help=f"settings file (default {default_config_path()})")
    parser.add_argument("--demo", action="store_true", help="run on the built-in sandbox (no real devices)")
    parser.add_argument("--kiosk", action="store_true", help="full-screen kiosk mode")
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="run the lanes")
    run.add_argument("--headless", action="store_true", required=True, help="no window; log each step")
    run.add_argument("--config", metavar="FILE", dest="run_config")
    run.add_argument("--demo", action="store_true", dest="run_demo")
    run.add_argument("--stop-after-exits", type=int, metavar="N", help="stop after N completed exits")
    run.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this long")
    cfg = sub.add_parser("config", help="settings files")
    cfg_sub = cfg.add_subparsers(dest="config_command", required=True)
    check = cfg_sub.add_parser("check", help="validate a settings file")
    check.add_argument("file")
    cfg_sub.add_parser("example", help="print a documented example settings file")
    args = parser.parse_args(argv)

    if args.command == "config":
        if args.config_command == "example":
            sys.stdout.write(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
            return 0
        try:
            settings = load_settings(Path(args.file))
        except ConfigError as exc:
            print(exc, file=sys.stderr)
            return 1
        print(f"{args.file}: OK — {settings.park.name}, {len(settings.lanes)} lane(s)")
        return 0

    try:
        if args.command == "run":
            settings = _load(args.run_config or args.config, args.run_demo or args.demo)
        else:
            settings = _load(args.config, args.demo)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    _setup_logging(settings.logging.level)
    if args.command == "run":
        return _run_headless(settings, args.stop_after_exits, args.duration)
    if open_window is None:
        log.error("no window in this entry point: use the `booth` command, or `booth run --headless`")
        return 2
    return open_window(settings, args.kiosk)
