"""``booth doctor``: is this booth healthy? One table of OK / WARN / FAIL, each with the remedy.

Exit status for scripts: 0 every check OK, 1 some WARN and no FAIL, 2 some FAIL. Checks that need the
settings are skipped (FAIL "settings") when the settings cannot be read. Nothing here changes anything: the
database is opened read-only (never created or upgraded), gates are not pulsed (each driver's ``probe``: a
read of the board, or its serial port opened with nothing written), the clouds are asked with short timeouts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

from booth.config import ConfigError, Settings, default_config_path, exposure_problems, load_settings

Status = Literal["OK", "WARN", "FAIL"]
#: Seconds a cloud or a gate has to answer.
TIMEOUT_S = 5.0
#: Below this much free space where the database lives: FAIL, and below WARN_FREE_BYTES: WARN (a month of
#: 1,000,000 exits is about 615 MB of SQLite).
FAIL_FREE_BYTES = 500 * 1024 * 1024
WARN_FREE_BYTES = 2 * 1024 * 1024 * 1024
#: A camera silent longer than this is a WARN.
CAMERA_SILENT = timedelta(hours=1)


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str
    remedy: str = ""


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    doctor = subparsers.add_parser(
        "doctor", help="check this booth: settings, database, clock, clouds, devices"
    )
    doctor.add_argument("--config", metavar="FILE", dest="sub_config", help="settings file")
    doctor.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    config = args.sub_config or getattr(args, "config", None)
    checks = run_checks(Path(config) if config else default_config_path())
    print(render(checks))
    return exit_status(checks)


def exit_status(checks: list[Check]) -> int:
    if any(c.status == "FAIL" for c in checks):
        return 2
    return 1 if any(c.status == "WARN" for c in checks) else 0


def render(checks: list[Check]) -> str:
    width = max(len(c.name) for c in checks)
    lines = [f"{'':4}  {'check':<{width}}  result"]
    for c in checks:
        remedy = f" — {c.remedy}" if c.remedy and c.status != "OK" else ""
        lines.append(f"{c.status:<4}  {c.name:<{width}}  {c.detail}{remedy}")
    return "\n".join(lines)


def run_checks(config_path: Path) -> list[Check]:
    settings_check, settings = check_settings(config_path)
    checks = [settings_check]
    if settings is not None:
        checks += check_database(settings)
        checks.append(check_clock())
        checks.append(check_bolink(settings))
        checks.append(check_alipay_lot(settings))
        checks.append(check_top(settings))
        checks += check_cameras(settings)
        checks += check_gates(settings)
    checks.append(check_fonts())
    checks.append(check_display())
    return checks


def check_settings(path: Path) -> tuple[Check, Settings | None]:
    if not path.exists():
        return Check("settings", "FAIL", f"no settings file at {path}", "pass --config FILE"), None
    try:
        settings = load_settings(path)
    except ConfigError as exc:
        first = str(exc).splitlines()
        detail = (
            first[0] if len(exc.problems) == 1 else f"{path}: {len(exc.problems)} problems: {exc.problems[0]}"
        )
        return Check("settings", "FAIL", detail, f"booth config check {path} names each"), None
    exposed = exposure_problems(settings, path)
    if exposed:
        return Check("settings", "FAIL", exposed[0].split(":")[0], exposed[0].split(": ", 1)[1]), settings
    return Check("settings", "OK", f"{path}: valid and private, {len(settings.lanes)} lane(s)"), settings


def check_database(settings: Settings) -> list[Check]:
    from booth.store.db import SCHEMA_HEAD, sqlite_file
    from booth.store.sqlite_copy import integrity_problems

    path = sqlite_file(settings.database.url)
    if path is None:
        return [
            Check("database", "WARN", "not an SQLite file: not checked here", "check it with its own tools")
        ]
    checks: list[Check] = []
    if not path.exists():
        checks.append(Check("database", "WARN", f"no database yet at {path}", "the first start creates it"))
    else:
        try:
            problems = integrity_problems(path)
            revision = _read_one(path, "SELECT version_num FROM alembic_version")
        except sqlite3.Error as exc:
            checks.append(Check("database", "FAIL", f"{path}: {exc}", "restore a backup: booth restore FILE"))
        else:
            if problems:
                checks.append(
                    Check(
                        "database", "FAIL", f"{path}: {problems[0]}", "restore a backup: booth restore FILE"
                    )
                )
            elif revision != SCHEMA_HEAD:
                checks.append(
                    Check(
                        "database",
                        "WARN",
                        f"{path}: integrity ok, schema {revision} (this Booth: {SCHEMA_HEAD})",
                        "the next start upgrades it (a copy is kept first)",
                    )
                )
            else:
                checks.append(Check("database", "OK", f"{path}: integrity ok, schema {revision}"))
    folder = path.parent if path.parent.exists() else Path(path.anchor or "/")
    free = shutil.disk_usage(folder).free
    shown = f"{free / 1024**3:.1f} GB free at {folder}"
    remedy = "free space, or move old backups and photos elsewhere"
    if free < FAIL_FREE_BYTES:
        checks.append(Check("disk", "FAIL", shown, remedy))
    elif free < WARN_FREE_BYTES:
        checks.append(Check("disk", "WARN", shown, remedy))
    else:
        checks.append(Check("disk", "OK", shown))
    return checks


def _read_one(path: Path, sql: str) -> object:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = connection.execute(sql).fetchone()
    finally:
        connection.close()
    return row[0] if row else None


def _command(*argv: str) -> str | None:
    """The command's standard output, or None when it is not installed or fails."""
    if shutil.which(argv[0]) is None:
        return None
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 else None


def check_clock() -> Check:
    """Alipay and TOP refuse requests whose timestamps are off: the clock must be kept by NTP."""
    remedy = "enable time sync: timedatectl set-ntp true (systemd-timesyncd or chrony)"
    answer = _command("timedatectl", "show", "-p", "NTPSynchronized", "--value")
    if answer is not None and answer.strip() in ("yes", "no"):
        if answer.strip() == "yes":
            return Check("clock", "OK", "synchronised (timedatectl)")
        return Check("clock", "FAIL", "not synchronised (timedatectl)", remedy)
    tracking = _command("chronyc", "tracking")
    if tracking is not None:
        leap = next((line for line in tracking.splitlines() if line.startswith("Leap status")), "")
        if leap.endswith("Normal"):
            return Check("clock", "OK", "synchronised (chrony)")
        return Check("clock", "FAIL", f"chrony: {leap or 'no leap status'}", remedy)
    return Check("clock", "WARN", "unknown: neither timedatectl nor chronyc answered", remedy)


def check_bolink(settings: Settings) -> Check:
    if settings.bolink.is_sandbox:
        return Check("bolink", "OK", "sandbox (the built-in emulator)")

    async def login() -> None:
        import httpx

        from booth.clouds.bolink import BolinkClient

        async with httpx.AsyncClient(timeout=TIMEOUT_S) as http:
            client = BolinkClient(settings.bolink, http=http)
            try:
                await asyncio.wait_for(client.login(), TIMEOUT_S * 2)
            finally:
                await client.aclose()

    try:
        asyncio.run(login())
    except Exception as exc:
        return Check(
            "bolink",
            "FAIL",
            f"login at {settings.bolink.base_url} failed: {_one_line(exc)}",
            "check the network, bolink.base_url, union_id, park_id and ukey",
        )
    return Check("bolink", "OK", f"logged in at {settings.bolink.base_url}")


def check_alipay_lot(settings: Settings) -> Check:
    alipay = settings.alipay
    if alipay is None:
        return Check("alipay lot", "OK", "no [alipay]: not used")
    if alipay.is_sandbox:
        return Check("alipay lot", "OK", "sandbox: the booth registers the lot with its emulator")
    if alipay.parking_id:
        return Check("alipay lot", "OK", f"parking_id {alipay.parking_id} (from the settings)")
    from booth.store import Store, open_database
    from booth.store.db import SCHEMA_HEAD, sqlite_file
    from booth.sync.alipay_relay import find_lot_registration

    path = sqlite_file(settings.database.url)
    unknown = "booth alipay register-lot (once the booth has started)"
    if path is None or not path.exists():
        return Check("alipay lot", "WARN", "unknown: no database to look in", unknown)
    try:  # opened only at this Booth's schema: open_database would upgrade an older one
        if _read_one(path, "SELECT version_num FROM alembic_version") != SCHEMA_HEAD:
            return Check("alipay lot", "WARN", "unknown: the database is at another schema", unknown)
        with open_database(settings.database.url) as database:
            found = find_lot_registration(Store(database), alipay)
    except Exception as exc:
        return Check("alipay lot", "WARN", f"unknown: {_one_line(exc)}", unknown)
    if found is None:
        return Check(
            "alipay lot",
            "FAIL",
            f"{alipay.out_parking_id} is not registered with Alipay",
            "booth alipay register-lot",
        )
    return Check("alipay lot", "OK", f"{alipay.out_parking_id} registered as parking_id {found.parking_id}")


def check_top(settings: Settings) -> Check:
    tmall = settings.tmall
    if tmall is None:
        return Check("tmall (TOP)", "OK", "no [tmall]: not used")
    if tmall.is_sandbox:
        return Check("tmall (TOP)", "OK", "sandbox (the built-in emulator)")
    import httpx

    try:
        answer = httpx.get(tmall.gateway_url, timeout=TIMEOUT_S)
    except httpx.HTTPError as exc:
        return Check(
            "tmall (TOP)",
            "FAIL",
            f"{tmall.gateway_url} unreachable: {_one_line(exc)}",
            "check the network and tmall.gateway_url",
        )
    return Check("tmall (TOP)", "OK", f"{tmall.gateway_url} answers (HTTP {answer.status_code})")


def check_cameras(settings: Settings, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> list[Check]:
    """Each lane camera's last push, as the audit recorded it (its heartbeats and inputs)."""
    from booth.store.db import sqlite_file

    lanes = [lane for lane in settings.lanes if lane.camera is not None]
    if not lanes:
        return []
    path = sqlite_file(settings.database.url)
    checks: list[Check] = []
    for lane in lanes:
        name = f"camera {lane.id}"
        last: object = None
        if path is not None and path.exists():
            try:
                last = _read_one(
                    path, f"SELECT max(at) FROM audit_log WHERE actor = 'camera:{_quoted(lane.id)}'"
                )
            except sqlite3.Error:
                last = None
        if last is None:
            checks.append(
                Check(
                    name,
                    "WARN",
                    "last push unknown (none recorded)",
                    "check the camera's push URL and network",
                )
            )
            continue
        at = datetime.fromisoformat(str(last))
        at = at if at.tzinfo else at.replace(tzinfo=UTC)
        age = now() - at
        if age > CAMERA_SILENT:
            checks.append(
                Check(
                    name,
                    "WARN",
                    f"last push {at:%Y-%m-%d %H:%M} UTC, {age} ago",
                    "check the camera and its push",
                )
            )
        else:
            checks.append(Check(name, "OK", f"last push {int(age.total_seconds())} s ago"))
    return checks


def _quoted(text: str) -> str:
    return text.replace("'", "''")


def check_gates(settings: Settings) -> list[Check]:
    """Each gate driver answering, never opened: its ``probe`` reads what can be read without acting (a
    Modbus board's coil, a Hikvision camera's barrier status; a serial port is opened, nothing written); a
    gate driven through its camera's answers has nothing to read (its camera's check covers it)."""
    return [_check_gate(lane.id, lane.gate) for lane in settings.lanes]


def _check_gate(lane_id: str, gate: Any) -> Check:
    from booth.devices.gate_factory import make_gate
    from booth.devices.gates import GateFault

    name = f"gate {lane_id}"
    device = getattr(gate, "device", None)
    if device is not None:
        if not os.path.exists(device):
            return Check(
                name, "FAIL", f"{gate.driver}: no {device}", "plug the adapter in; check the device name"
            )
        if not os.access(device, os.R_OK | os.W_OK):
            return Check(
                name, "FAIL", f"{gate.driver}: {device} not usable by this user", "add it to dialout"
            )
    host = getattr(gate, "host", None)
    where = f"{gate.driver} at {host}:{getattr(gate, 'port', '')}" if host is not None else gate.driver

    async def probe() -> str | None:
        driver = make_gate(gate, lane_id)
        try:
            async with asyncio.timeout(TIMEOUT_S):
                return await driver.probe()
        finally:
            await driver.aclose()

    try:
        read = asyncio.run(probe())
    except (GateFault, TimeoutError, OSError) as exc:
        problem = getattr(exc, "problem", None) or str(exc) or f"no answer within {TIMEOUT_S:g} s"
        return Check(
            name, "FAIL", f"{where} does not answer: {problem}", "check its power, cable and address"
        )
    if read is None:
        return Check(
            name, "OK", f"{where}: not checkable by a read (it answers through lane {lane_id}'s camera)"
        )
    return Check(name, "OK", f"{where} answers: {read}")


def check_fonts() -> Check:
    remedy = "install a CJK font: apt install fonts-noto-cjk"
    listed = _command("fc-list", ":lang=zh", "family")
    if listed is None:
        return Check("fonts", "WARN", "unknown: fc-list is not installed", remedy)
    families = sorted({line.split(",")[0].strip() for line in listed.splitlines() if line.strip()})
    if not families:
        return Check("fonts", "FAIL", "no font with Chinese glyphs", remedy)
    return Check("fonts", "OK", f"Chinese glyphs: {', '.join(families[:2])}")


def check_display() -> Check:
    for variable in ("WAYLAND_DISPLAY", "DISPLAY"):
        if os.environ.get(variable):
            return Check("display", "OK", f"${variable}={os.environ[variable]}")
    return Check(
        "display",
        "WARN",
        "none in this session ($DISPLAY and $WAYLAND_DISPLAY unset)",
        "the kiosk unit (booth.service) brings its own; booth run --headless needs none",
    )


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


if __name__ == "__main__":  # pragma: no cover
    sys.exit(_run(argparse.Namespace(sub_config=None)))
