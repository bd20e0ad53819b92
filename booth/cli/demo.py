"""The demo: settings for an embedded sandbox, its cloud emulators in a process of their own, demo people, and
loading the settings a command runs with (a file, or the demo's)."""

from __future__ import annotations

import atexit
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from booth.config import (
    ConfigError,
    Settings,
    default_config_path,
    demo_dir,
    load_settings,
    refuse_exposed_secrets,
    settings_from_mapping,
)


@dataclass(frozen=True)
class DemoClouds:
    """Where the demo's cloud emulators listen when they run in a process of their own
    (:func:`start_demo_clouds`), and the throwaway keys the booth shares with the Alipay emulator."""

    bolink_url: str
    alipay_url: str
    tmall_url: str
    app_private_key_file: Path
    alipay_public_key_file: Path


_DEMO_BOLINK = {"union_id": "200208", "park_id": "21835", "ukey": "DEMO0000DEMO0000"}
_DEMO_ALIPAY_APP_ID = "2021000000000000"
_DEMO_TMALL = {"app_key": "12345678", "app_secret": "demo"}


def demo_settings(
    data_dir: Path, *, autopay_s: float | None = 6.0, every_s: float = 6.0, clouds: DemoClouds | None = None
) -> Settings:
    """Two exit lanes on the built-in sandbox: simulated camera, simulated gates, the Bolink emulator, the
    Alipay gateway and TOP router emulators (Alipay payments are synced, the mall gets its backflow). The
    emulators run in the engine, or at ``clouds`` (``booth --demo``: a process of their own)."""
    alipay: dict[str, object] = {
        "gateway_url": "sandbox",
        "app_id": _DEMO_ALIPAY_APP_ID,
        "out_parking_id": "BOOTH-DEMO-1",
        "parking_name": "演示停车场",
    }
    if clouds is not None:
        alipay |= {
            "sandbox_url": clouds.alipay_url,
            "app_private_key_file": str(clouds.app_private_key_file),
            "alipay_public_key_file": str(clouds.alipay_public_key_file),
        }
    return settings_from_mapping(
        {
            "park": {"name": "演示停车场", "province": "苏", "capacity": 300},
            "bolink": {
                **_DEMO_BOLINK,
                "base_url": clouds.bolink_url if clouds else "sandbox",
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
            "alipay": alipay,
            "tmall": {
                **_DEMO_TMALL,
                "gateway_url": clouds.tmall_url if clouds else "sandbox",
                "mall_id": 123,
            },
        },
        "<demo>",
    )


#: The demo's people (README): an attendant whose shift is open at start, and a supervisor.
DEMO_PEOPLE = (("1001", "王芳", "attendant", "1234"), ("9001", "李主管", "supervisor", "9999"))
_DEMO_SCRYPT_N = 2**10  # a throwaway demo database: cheap hashes keep the demo's start quick


def seed_demo_people(settings: Settings) -> None:
    """Give a new demo database its people and open the attendant's shift, so the demo starts on the lanes
    (the sign-in screen comes up on sign-out). Does nothing to a database that already has people."""
    from booth.office.shifts import Shifts
    from booth.office.staff import Staff
    from booth.store import open_database

    db = open_database(settings.database.url)
    try:
        staff = Staff(db, settings.staff, scrypt_n=_DEMO_SCRYPT_N)
        if staff.people():
            return
        supervisor = next(p for p in DEMO_PEOPLE if p[2] == "supervisor")
        # the first person added must be a supervisor
        staff.add_person(supervisor[0], supervisor[1], "supervisor", supervisor[3], by="system")
        for username, name, role, pin in DEMO_PEOPLE:
            if role == "attendant":
                staff.add_person(username, name, "attendant", pin, by=supervisor[0])
        shifts = Shifts(db, settings.shifts, staff)
        if shifts.current() is None:
            shifts.open(DEMO_PEOPLE[0][0])
    finally:
        db.close()


def _free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_demo_clouds(data_dir: Path, *, autopay_s: float | None = 6.0) -> DemoClouds:
    """Start the demo's Bolink, Alipay and TOP emulators in a child process, as the real clouds are elsewhere:
    the booth's own process then holds only the booth (memory, and its start runs beside the emulators' on
    another core). Nothing waits for the child here: the engine's clients reconnect, and the sandbox lot's
    registration is retried, until it listens. Throwaway Alipay keys are made for this run and kept in
    ``data_dir``. The child stops when this process ends (its standard input closes) and is reaped at exit."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    from booth.config import private_key_pem, public_key_pem

    keys = data_dir / "keys"
    keys.mkdir(mode=0o700, exist_ok=True)
    app, alipay = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in range(2))
    files = {
        "app_private.pem": private_key_pem(app),  # the booth signs with it
        "app_public.pem": public_key_pem(app),  # the emulator checks the booth's signatures with it
        "alipay_private.pem": private_key_pem(alipay),  # the emulator signs its answers with it
        "alipay_public.pem": public_key_pem(alipay),  # the booth checks the answers with it
    }
    _demo_keys.append(keys)
    for name, text in files.items():
        (keys / name).write_text(text, encoding="ascii")
        (keys / name).chmod(0o600)
    ports = [_free_loopback_port() for _ in range(3)]
    command = [
        sys.executable,
        "-m",
        "booth.sandbox.serve",
        f"--bolink-union-id={_DEMO_BOLINK['union_id']}",
        f"--bolink-park-id={_DEMO_BOLINK['park_id']}",
        f"--bolink-ukey={_DEMO_BOLINK['ukey']}",
        f"--bolink-port={ports[0]}",
        f"--alipay-app-public-key={keys / 'app_public.pem'}",
        f"--alipay-private-key={keys / 'alipay_private.pem'}",
        f"--alipay-app-id={_DEMO_ALIPAY_APP_ID}",
        f"--alipay-port={ports[1]}",
        f"--top-app-key={_DEMO_TMALL['app_key']}",
        f"--top-secret={_DEMO_TMALL['app_secret']}",
        f"--top-port={ports[2]}",
    ]
    if autopay_s is not None:
        command.append(f"--bolink-autopay-s={autopay_s}")
    _demo_children.append(subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL))
    return DemoClouds(
        bolink_url=f"http://127.0.0.1:{ports[0]}",
        alipay_url=f"http://127.0.0.1:{ports[1]}/gateway.do",
        tmall_url=f"http://127.0.0.1:{ports[2]}/router/rest",
        app_private_key_file=keys / "app_private.pem",
        alipay_public_key_file=keys / "alipay_public.pem",
    )


_demo_children: list[subprocess.Popen[bytes]] = []
_demo_keys: list[Path] = []  # throwaway key folders, removed when the demo's clouds stop


@atexit.register
def stop_demo_clouds() -> None:
    """Stop the demo's emulator processes and remove their throwaway keys: when the command ends (and, as a
    backstop, at exit)."""
    while _demo_children:
        child = _demo_children.pop()
        if child.stdin is not None:
            child.stdin.close()  # the emulator's signal to stop
        try:
            child.wait(5)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
    while _demo_keys:
        shutil.rmtree(_demo_keys.pop(), ignore_errors=True)


#: The demo's Bolink emulator pays this many seconds after the QR shows, unless --autopay-s says otherwise.
DEMO_AUTOPAY_S = 6.0


def load_for_command(
    config: str | None, demo: bool, *, start: bool = False, autopay_s: float | None = DEMO_AUTOPAY_S
) -> Settings:
    """The settings a command runs with: the file named, the default file, or the demo's. With ``demo``, a
    window or ``run`` (``start``) starts a new demo in the demo folder; the other commands read the running or
    the last demo there."""
    if demo:
        return start_demo(autopay_s) if start else last_demo()
    path = Path(config) if config else default_config_path()
    if not path.exists() and not config:
        raise ConfigError(str(path), ["no settings file here; pass --config FILE or run with --demo"])
    settings = load_settings(path)
    refuse_exposed_secrets(settings, path)  # SecretsExposed (a ConfigError): the file and the chmod to fix it
    return settings


def start_demo(autopay_s: float | None = DEMO_AUTOPAY_S) -> Settings:
    """Empty the demo folder (refused while another demo runs on it), start the cloud emulators with
    throwaway keys there, and seed the demo's people. The folder is named on stderr."""
    folder = demo_dir()
    _claim_demo_folder(folder)
    print(
        f"demo: data in {folder} (its throwaway keys are removed at exit; the database stays until the next "
        "demo, for booth --demo report / sync status)",
        file=sys.stderr,
    )
    clouds = start_demo_clouds(folder, autopay_s=autopay_s)
    settings = demo_settings(folder, autopay_s=autopay_s, clouds=clouds)
    seed_demo_people(settings)
    return settings


def last_demo() -> Settings:
    """The running or last demo's settings (its database), for commands that read it; no emulator starts."""
    folder = demo_dir()
    if not (folder / _DEMO_DB).exists():
        problem = f"no demo has run yet (nothing in {folder}): start one with booth --demo"
        raise ConfigError("--demo", [problem])
    return demo_settings(folder)


_DEMO_DB = "demo.sqlite"


def _claim_demo_folder(folder: Path) -> None:
    from booth.store import StoreError
    from booth.store.backup import exclusive_database

    database = folder / _DEMO_DB
    if database.exists():
        try:
            with exclusive_database(database):
                pass
        except StoreError:
            raise ConfigError(
                "--demo",
                [f"a demo is running on {folder}: close it first, or set BOOTH_DEMO_DIR to another folder"],
            ) from None
    try:
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True, mode=0o700)
        folder.chmod(0o700)
    except OSError as exc:
        problem = (
            f"cannot make the demo folder {folder}: {exc.strerror or exc}; set BOOTH_DEMO_DIR to another"
        )
        raise ConfigError("--demo", [problem]) from None
