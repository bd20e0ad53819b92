"""The ``booth`` command.

booth [--config FILE] [--demo] [--kiosk]        open the booth window (the console script lives in
                                                ui.launcher, so booth itself never imports Qt)
booth run --headless [--config FILE | --demo]   run the lanes without a window, logging each step
booth config check FILE                         validate a settings file and say what is wrong
booth config example                            print a documented example settings file
booth sync status [--config FILE]               backlog per cloud, oldest item's age, dead letters and why
booth sync requeue [--cloud C] [--config FILE]  give dead letters a fresh start (after fixing the cause)
booth alipay register-lot [--config FILE]       parkinglotinfo.create, once; keeps Alipay's parking_id
                                                (already registered: says so, sends nothing, exit 0)
booth alipay query-lot [--config FILE]          what Alipay has for this lot
booth alipay update-lot [--config FILE]         send [alipay.lot] as it is now (parkinglotinfo.update)
booth staff add|list|disable|enable|unlock      attendants and supervisors (booth/cli/staff.py)
booth shift list [--from DATE --to DATE]        shifts and their cash counts
booth report shift --id N [--pdf F] [--csv F]   a closed shift's report (text without --pdf/--csv)
booth report period --from D --to D [--attendant U] [--pdf F] [--csv F]   any period, or one attendant's
booth backup [FILE] [--photos]                  a checked copy of the database while the lanes work
booth restore FILE                              put a backup back (Booth stopped; the current file kept aside)
booth archive [--dry-run]                       move months before [retention] months_online to yearly files
booth doctor [--config FILE]                    OK / WARN / FAIL per check with the remedy; exit 0 / 1 / 2
booth lanes stats [--config FILE]               per lane: cars/h, payment -> gate p50/p99, faults, lifts
booth lot init [--config FILE]                  create or upgrade the lot server's schema ([lot] server)
booth lot status [--config FILE]                every booth of the lot: last contact, version, backlog, shift
booth lot report --from D --to D [--config FILE]   the lot report: every booth and the total, from the server
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn, TypeVar

from booth.cli import archive as archive_cli
from booth.cli import backup as backup_cli
from booth.cli import doctor as doctor_cli
from booth.cli import lanes as lanes_cli
from booth.cli import lot as lot_cli
from booth.cli import reports as report_cli
from booth.cli import staff as staff_cli
from booth.cli.demo import DEMO_AUTOPAY_S, load_for_command, stop_demo_clouds
from booth.config import (
    ConfigError,
    Settings,
    config_warnings,
    default_config_path,
    exposure_problems,
    load_settings,
)

if TYPE_CHECKING:
    from booth.config import AlipaySettings
    from booth.store import Store

log = logging.getLogger("booth")
T = TypeVar("T")

EXAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "booth.example.toml"


def _setup_logging(settings: Settings) -> None:
    from booth.cli.logs import setup_logging

    setup_logging(settings)


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

    from booth.engine import EngineError
    from booth.store import StoreError, open_database

    try:  # refused before anything starts: a database that is not Booth's, damaged, or cannot be reached
        open_database(settings.database.url).close()
    except StoreError as exc:
        print(f"booth run: {exc}", file=sys.stderr)
        return 1
    engine = Engine(settings)
    engine.subscribe(log_event)
    done = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("signal %d: stopping", signum)
        done.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        try:
            engine.start()
        except EngineError as exc:
            print(f"booth run: {_first_line(exc)}", file=sys.stderr)
            return 1
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
    finally:
        for sig, handler in previous.items():  # main() may run inside another program (tests)
            signal.signal(sig, handler)
    return 0


@contextmanager
def _store_of(settings: Settings) -> Iterator[Store]:
    """The booth's database, for a command (a running booth may use it at the same time: SQLite WAL)."""
    from booth.store import Store, open_database

    database = open_database(settings.database.url)
    try:
        yield Store(database)
    finally:
        database.close()


def _sync_command(settings: Settings, command: str, cloud: str | None) -> int:
    from booth.sync.rows import CLOUDS

    if cloud is not None and cloud not in CLOUDS:
        print(f"--cloud: one of {', '.join(CLOUDS)}, got {cloud!r}", file=sys.stderr)
        return 2
    from booth.store import StoreError

    try:
        return _sync_on_store(settings, command, cloud)
    except StoreError as exc:
        print(f"booth sync {command}: {exc}", file=sys.stderr)
        return 1


def _sync_on_store(settings: Settings, command: str, cloud: str | None) -> int:
    from booth.sync.status import compose_status, describe_status, read_outbox_status

    with _store_of(settings) as store:
        now = datetime.now(UTC)
        if command == "requeue":
            count = store.requeue_dead(cloud, at=now)
            store.audit(
                actor=f"cli:{getpass.getuser()}",
                action="sync_requeue",
                detail={"cloud": cloud or "*", "rows": count},
                at=now,
            )
            print(f"requeued {count} dead row(s) of {cloud or 'every cloud'}; a running booth sends them now")
            return 0
        backlog, dead = read_outbox_status(store, dead_limit=1000)
        enabled = {"bolink": True, "alipay": settings.alipay is not None, "tmall": settings.tmall is not None}
        status = compose_status(now, backlog, dead, {}, enabled)
        for line in describe_status(status):
            print(line)
        return 0


def _alipay_command(settings: Settings, command: str) -> int:
    """register-lot / query-lot / update-lot against the configured gateway (never the sandbox: the
    engine registers the lot with its emulator by itself)."""
    alipay = settings.alipay
    if alipay is None:
        print("no [alipay] section in the settings: nothing to register", file=sys.stderr)
        return 1
    if alipay.is_sandbox:
        print(
            'alipay.gateway_url is "sandbox": the booth registers the lot with its emulator when it starts; '
            "set the real gateway URL and keys to register with Alipay",
            file=sys.stderr,
        )
        return 1
    from booth.clouds.alipay import AlipayDataError
    from booth.config import AlipayKeyError
    from booth.store import StoreError

    try:
        with _store_of(settings) as store:
            return asyncio.run(_alipay_lot(alipay, store, command))
    except (StoreError, AlipayKeyError, AlipayDataError) as exc:
        print(f"booth alipay {command}: {_first_line(exc)}", file=sys.stderr)
        return 1


async def _alipay_lot(alipay: AlipaySettings, store: Store, command: str) -> int:
    from booth.clouds.alipay import AlipayClient
    from booth.sync.alipay_relay import (
        LotRegistrationError,
        find_lot_registration,
        register_lot,
        registration_origin,
    )

    async def here(fn: Callable[[], T]) -> T:
        return fn()  # the command has the database to itself: no database thread needed

    async with AlipayClient(alipay) as client:
        if command == "register-lot":
            try:
                done = await register_lot(client, store, alipay, here, actor=f"cli:{getpass.getuser()}")
            except LotRegistrationError as exc:
                print(f"not registered: {exc}", file=sys.stderr)
                return 1
            if not done.newly_registered:  # idempotent: an install script may run this every time
                print(
                    f"already registered as {done.parking_id} (out_parking_id {done.out_parking_id}, "
                    f"{registration_origin(done)}): nothing sent; "
                    "`booth alipay update-lot` changes its details"
                )
                return 0
            print(f"registered: out_parking_id {done.out_parking_id} -> parking_id {done.parking_id}")
            return 0
        found = find_lot_registration(store, alipay)
        if command == "update-lot":
            if found is None:
                print("the lot is not registered yet: run `booth alipay register-lot`", file=sys.stderr)
                return 1
            result = await client.update_parking_lot(found.parking_id)
        else:
            result = await client.query_parking_lot(parking_id=found.parking_id if found else "")
        if not result.done:
            print(f"{command}: {result.describe()}", file=sys.stderr)
            return 1
        fields = {k: v for k, v in result.node.items() if k not in ("code", "msg")}
        print(f"{command}: OK" + "".join(f"\n  {k}: {v}" for k, v in fields.items()))
        return 0


WindowOpener = Callable[[Settings, bool], int]

#: main()'s exit code for a failure it did not foresee (BSD's EX_SOFTWARE): still one line, no traceback
INTERNAL_ERROR = 70


class _Parser(argparse.ArgumentParser):
    """argparse whose mistakes are one line on stderr: the usage block is what --help is for."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _seconds(text: str) -> float:
    """--duration: a finite positive number of seconds."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0 or value > 10**9:
        raise argparse.ArgumentTypeError(f"a positive number of seconds, got {text!r}")
    return value


_AUTOPAY_HELP = (
    "demo: the emulated driver pays this many seconds after the QR shows (default 6); "
    "'off': nobody pays by phone (train cash and corrections)"
)


def _autopay(text: str) -> float:
    """--autopay-s: seconds from 0 to 3600, or 'off' (-1: no autopay)."""
    if text.strip().lower() == "off":
        return -1.0
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or not 0 <= value <= 3600:
        raise argparse.ArgumentTypeError(f"seconds from 0 to 3600, or off; got {text!r}")
    return value


def _count(text: str) -> int:
    """--stop-after-exits: a whole number from 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 10**9:
        raise argparse.ArgumentTypeError(f"a whole number from 1 to 1000000000, got {text!r}")
    return value


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def main(
    argv: Sequence[str] | None = None,
    open_window: WindowOpener | None = None,
    render_pdf: report_cli.PdfRenderer | None = None,
    display_problem: Callable[[], str | None] | None = None,
) -> int:
    """Run the command. ``open_window``, ``render_pdf`` and ``display_problem`` (why no window can open, or
    None; asked before anything starts) come from ``ui.launcher`` (the ``booth`` console
    script): this package never imports the GUI, so ``python -m booth`` can only run headless and write
    reports as text or CSV. A refusal is one line on stderr and a non-zero exit code, never a traceback
    (``BOOTH_DEBUG=1`` lets an unforeseen error's traceback through, for a bug report)."""
    try:
        return _main(argv, open_window, render_pdf, display_problem)
    except KeyboardInterrupt:
        print("booth: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get("BOOTH_DEBUG"):
            raise
        print(f"booth: internal error: {type(exc).__name__}: {_first_line(exc)}", file=sys.stderr)
        return INTERNAL_ERROR


def _main(
    argv: Sequence[str] | None,
    open_window: WindowOpener | None,
    render_pdf: report_cli.PdfRenderer | None,
    display_problem: Callable[[], str | None] | None = None,
) -> int:
    parser = _Parser(prog="booth", description="Cashier booth for parking-lot exit lanes")
    parser.add_argument("--config", metavar="FILE", help=f"settings file (default {default_config_path()})")
    parser.add_argument("--demo", action="store_true", help="run on the built-in sandbox (no real devices)")
    parser.add_argument("--kiosk", action="store_true", help="full-screen kiosk mode")
    parser.add_argument("--autopay-s", type=_autopay, metavar="SECONDS", help=_AUTOPAY_HELP)
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="run the lanes")
    run.add_argument("--headless", action="store_true", required=True, help="no window; log each step")
    run.add_argument("--config", metavar="FILE", dest="run_config")
    run.add_argument("--demo", action="store_true", dest="run_demo")
    run.add_argument(
        "--autopay-s", type=_autopay, metavar="SECONDS", dest="run_autopay_s", help=_AUTOPAY_HELP
    )
    run.add_argument("--stop-after-exits", type=_count, metavar="N", help="stop after N completed exits")
    run.add_argument("--duration", type=_seconds, metavar="SECONDS", help="stop after this long")
    cfg = sub.add_parser("config", help="settings files")
    cfg_sub = cfg.add_subparsers(dest="config_command", required=True)
    check = cfg_sub.add_parser("check", help="validate a settings file")
    check.add_argument("file")
    cfg_sub.add_parser("example", help="print a documented example settings file")
    sync = sub.add_parser("sync", help="the background sync to Alipay and Tmall (and Bolink's outbox)")
    sync_sub = sync.add_subparsers(dest="sync_command", required=True)
    status = sync_sub.add_parser("status", help="backlog per cloud, oldest item's age, dead letters")
    status.add_argument("--config", metavar="FILE", dest="sub_config")
    requeue = sync_sub.add_parser("requeue", help="give dead letters a fresh start")
    requeue.add_argument("--cloud", choices=("bolink", "alipay", "tmall"), help="only this cloud's")
    requeue.add_argument("--config", metavar="FILE", dest="sub_config")
    alipay = sub.add_parser("alipay", help="this lot at Alipay's parking platform")
    alipay_sub = alipay.add_subparsers(dest="alipay_command", required=True)
    for name, text in (
        ("register-lot", "register the lot once (parkinglotinfo.create) and keep its parking_id; idempotent"),
        ("query-lot", "what Alipay has for this lot (parkinglotinfo.query)"),
        ("update-lot", "send [alipay.lot] as it is now (parkinglotinfo.update)"),
    ):
        alipay_sub.add_parser(name, help=text).add_argument("--config", metavar="FILE", dest="sub_config")
    staff_cli.register(sub)
    report_cli.register(sub)
    backup_cli.register(sub)
    archive_cli.register(sub)
    doctor_cli.register(sub)
    lanes_cli.register(sub)
    lot_cli.register(sub)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help (0) or a mistake (2, its line already printed)
        return exc.code if isinstance(exc.code, int) else 2
    handler = getattr(args, "handler", None)
    if handler is not None:  # commands registered by their own modules (staff, shift) run themselves
        return int(handler(args))

    if args.command == "config":
        if args.config_command == "example":
            sys.stdout.write(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
            return 0
        try:
            settings = load_settings(Path(args.file))
        except ConfigError as exc:
            print(exc, file=sys.stderr)
            return 1
        exposed = exposure_problems(settings, Path(args.file))
        if exposed:  # valid, but the booth would refuse to start on it
            for problem in exposed:
                print(f"{args.file}: {problem}", file=sys.stderr)
            return 1
        print(f"{args.file}: OK — {settings.park.name}, {len(settings.lanes)} lane(s)")
        for warning in config_warnings(settings):
            print(f"warning: {warning}")
        return 0

    demo = bool(args.demo or getattr(args, "run_demo", False))
    autopay_s = args.autopay_s if args.autopay_s is not None else getattr(args, "run_autopay_s", None)
    if autopay_s is not None and not demo:
        print("booth: --autopay-s is for the demo (with --demo)", file=sys.stderr)
        return 2
    if args.command is None and open_window is not None and display_problem is not None:
        no_display = display_problem()  # before the demo or the settings: nothing starts for no window
        if no_display:
            print(f"booth: {no_display}", file=sys.stderr)
            return 1
    try:
        if args.command in ("sync", "alipay", "report"):  # they read the running or last demo's database
            settings = load_for_command(args.sub_config or args.config, demo)
        else:
            config = args.run_config or args.config if args.command == "run" else args.config
            paid_after = DEMO_AUTOPAY_S if autopay_s is None else (None if autopay_s < 0 else autopay_s)
            settings = load_for_command(config, demo, start=True, autopay_s=paid_after)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 1
    _setup_logging(settings)
    if args.command == "report":
        return report_cli.run(args, settings, render_pdf)
    if args.command == "sync":
        return _sync_command(settings, args.sync_command, getattr(args, "cloud", None))
    if args.command == "alipay":
        return _alipay_command(settings, args.alipay_command)
    try:
        if args.command == "run":
            return _run_headless(settings, args.stop_after_exits, args.duration)
        if open_window is None:
            print(
                "booth: no window in this entry point: use the `booth` command, or `booth run --headless`",
                file=sys.stderr,
            )
            return 2
        return open_window(settings, args.kiosk)
    finally:
        stop_demo_clouds()
