"""Every bad invocation of ``booth`` is one clear line on stderr and a non-zero exit code, never a traceback.

A table of 100+ mistakes (arguments, settings files, databases, dates, ids, PINs), run in-process through
``booth.cli.main``. Before issue #13, 22 of them printed a traceback: dates out of range, ids too large for
SQLite, a malformed or foreign database in ``sync status`` and ``run``, a ``postgresql://`` URL whose driver
is missing; and another program's SQLite file silently got Booth's tables.
"""

from __future__ import annotations

import io
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from booth.cli import staff as staff_cli
from booth.cli.main import INTERNAL_ERROR, main
from booth.config import load_settings
from booth.office.shifts import Shifts
from booth.office.staff import Staff
from booth.store import open_database

SETTINGS = """
[park]
name = "测试停车场"

[bolink]
base_url = "sandbox"
union_id = "200208"
park_id = "21835"
ukey = "8403A41ED5EF20BC"
local_id = "booth_cli"
query_start_s = 600

[[lanes]]
id = "X1"
name = "东出口"
direction = "exit"
channel_id = "X1"

[database]
url = "{url}"
{extra}"""

#: The bad settings files: each has exactly one problem.
BAD_CONFIGS = {
    "missing": None,
    "folder": None,
    "dev_zero": None,
    "fifo": None,
    "not_toml": "[park\nname =",
    "not_utf8": None,
    "inf_timeout": SETTINGS.replace('channel_id = "X1"', 'channel_id = "X1"\npass_timeout_s = inf'),
    "true_number": SETTINGS.replace("query_start_s = 600", "query_start_s = true"),
    "deep": SETTINGS + "\nx = " + "[" * 3000 + "]" * 3000 + "\n",
    "budget": SETTINGS.replace('"sandbox"', '"https://bolink.example"').replace(
        "query_start_s = 600", "request_budget_per_10s = 500"
    ),
    "nul_url": None,
}

#: The bad databases: each is refused when a command opens it.
BAD_DATABASES = (
    "garbage",
    "foreign",
    "other_app_id",
    "postgresql",
    "mysql",
    "folder",
    "unreachable",
    "dropped_table",
    "dropped_column",
    "no_version",
    "newer_revision",
)

DB_COMMANDS: tuple[tuple[str, ...], ...] = (
    ("sync", "status"),
    ("sync", "requeue"),
    ("staff", "list"),
    ("shift", "list"),
    ("report", "shift", "--id", "1"),
    ("report", "period", "--from", "2026-01-01", "--to", "2026-01-02"),
    ("run", "--headless", "--duration", "1"),
)
CONFIG_COMMANDS: tuple[tuple[str, ...], ...] = (
    ("config", "check", "{config}"),
    ("sync", "status", "--config", "{config}"),
    ("staff", "list", "--config", "{config}"),
    ("run", "--headless", "--config", "{config}"),
    ("--config", "{config}"),
)


@dataclass(frozen=True)
class Case:
    argv: tuple[str, ...]
    stdin: str | bytes = ""


def add_by_boss(username: str) -> tuple[str, ...]:
    return ("staff", "add", username, "--name", "n", "--role", "attendant", "--by", "boss")


def _argument_mistakes() -> list[Case]:
    g = "{good}"
    period = ("report", "period", "--config", g)
    shift_list = ("shift", "list", "--config", g)
    lot_csv = ("lot", "report", "--from", "2026-11-01", "--to", "2026-11-30", "--csv", "{tmp}/l.csv")
    argvs: list[tuple[str, ...]] = [
        ("nosuch",),
        ("--nope",),
        ("run",),
        ("run", "--headless", "--duration", "x"),
        ("run", "--headless", "--duration", "-1"),
        ("run", "--headless", "--duration", "0"),
        ("run", "--headless", "--duration", "nan"),
        ("run", "--headless", "--duration", "inf"),
        ("run", "--headless", "--duration", "1e400"),
        ("run", "--headless", "--stop-after-exits", "0"),
        ("run", "--headless", "--stop-after-exits", "-5"),
        ("run", "--headless", "--stop-after-exits", "1.5"),
        ("run", "--headless", "--stop-after-exits", "9" * 30),
        ("config",),
        ("config", "check"),
        ("config", "nosuch"),
        ("config", "check", "a", "b"),
        ("sync",),
        ("sync", "nosuch"),
        ("sync", "requeue", "--cloud", "nowhere"),
        ("alipay",),
        ("alipay", "nosuch"),
        ("staff",),
        ("staff", "add"),
        ("staff", "add", "x"),
        ("staff", "add", "x", "--name", "n", "--role", "king"),
        ("staff", "disable", "x"),
        ("staff", "add", "\udc80", "--name", "n", "--role", "supervisor"),
        ("staff", "add", "x", "--name", "\udcff", "--role", "attendant"),
        ("staff", "enable", "ann", "--by", "b\udc80ss"),
        ("shift",),
        ("shift", "nosuch"),
        ("shift", "list", "--attendant", "\udc80"),
        ("report",),
        ("report", "shift"),
        ("report", "shift", "--id", "x"),
        ("report", "shift", "--id", "0"),
        ("report", "shift", "--id", "-1"),
        ("report", "shift", "--id", str(2**63)),
        ("report", "shift", "--id", "9" * 40),
        ("report", "shift", "--id", "1e3"),
        ("report", "period"),
        ("report", "period", "--from", "2026-01-01"),
        ("report", "period", "--from", "2026-01-01", "--to", "2026-01-02", "--attendant", "\udc80"),
        # dates and ids the database or datetime cannot hold
        (*shift_list, "--from", "0001-01-01"),
        (*shift_list, "--to", "9999-12-31"),
        (*shift_list, "--from", "9999-12-31"),
        (*shift_list, "--from", "2026-13-01"),
        (*shift_list, "--from", "2026-02-01", "--to", "2026-01-01"),
        (*period, "--from", "0001-01-01", "--to", "2026-01-01"),
        (*period, "--from", "2026-01-01", "--to", "9999-12-31"),
        (*period, "--from", "9999-12-31T23:59", "--to", "9999-12-31"),
        (*period, "--from", "yesterday", "--to", "2026-01-01"),
        (*period, "--from", "2026-01-01T00:00+25:00", "--to", "2026-01-02"),
        (*period, "--from", "2026-01-02", "--to", "2026-01-01"),
        (*period, "--from", "2026-01-01", "--to", "2026-01-02", "--attendant", "nobody"),
        (*period, "--from", "2026-01-01", "--to", "2026-01-02", "--pdf", "{tmp}/r.pdf"),
        ("report", "shift", "--id", "999", "--config", g),
        ("report", "shift", "--id", str(2**63 - 1), "--config", g),
        ("report", "shift", "--id", "1", "--csv", "/nonexistent-folder/r.csv", "--config", g),
        ("report", "shift", "--id", "1", "--csv", "{tmp}", "--config", g),
        ("report", "shift", "--id", "2", "--config", g),  # still open
        ("alipay", "register-lot", "--config", g),
        ("alipay", "query-lot", "--config", "{alipay_sandbox}"),
        ("staff", "add", "ann", "--name", "李娜", "--role", "attendant", "--pin-stdin", "--config", g),
        # the lot's conflicts and report (#18): no [lot], a lot server that does not answer, bad arguments
        ("lot", "conflicts", "--config", g),
        ("lot", "settle", "1", "--note", "n", "--by", "boss", "--config", g),
        (*lot_csv, "--config", g),
        ("lot", "settle"),
        ("lot", "settle", "1", "--by", "boss"),
        ("lot", "settle", "0", "--note", "n", "--by", "boss"),
        ("lot", "settle", str(2**63), "--note", "n", "--by", "boss"),
        ("lot", "settle", "1", "--note", "\udc80", "--by", "boss"),
        ("lot", "conflicts", "--config", "{lot_down}"),
        ("lot", "settle", "1", "--note", "n", "--by", "boss", "--pin-stdin", "--config", "{lot_down}"),
        ("lot", "settle", "1", "--note", " ", "--by", "boss", "--pin-stdin", "--config", "{lot_down}"),
        (*lot_csv, "--config", "{lot_down}"),
    ]
    cases = [Case(argv) for argv in argvs]
    pin_stdin = ("--pin-stdin", "--config", g)
    cases += [
        Case(("staff", "disable", "ann", "--by", "boss", *pin_stdin)),  # stdin ends before the PIN
        Case(("staff", "disable", "ann", "--by", "boss", *pin_stdin), "0000\n"),  # wrong PIN
        Case(("staff", "disable", "ann", "--by", "boss", *pin_stdin), b"\xff\xfe\n"),  # not UTF-8
        Case(("staff", "disable", "nobody", "--by", "boss", *pin_stdin), "1234\n"),
        Case(("staff", "disable", "ann", "--by", "ann", *pin_stdin), "1111\n"),  # not a supervisor
        Case(("staff", "unlock", "ann", "--by", "nobody", *pin_stdin), "1234\n"),
        Case((*add_by_boss("boss"), *pin_stdin), "4321\n1234\n"),  # taken
        Case((*add_by_boss("bo ss"), *pin_stdin), "4321\n1234\n"),  # not a username
        Case((*add_by_boss("x" * 500), *pin_stdin), "4321\n1234\n"),
        Case((*add_by_boss("zed"), *pin_stdin), "12\n1234\n"),  # a PIN too short
    ]
    return cases


CASES: list[Case] = [
    *_argument_mistakes(),
    *(Case(tuple(a.replace("{config}", f"{{config:{name}}}") for a in cmd)) for name in BAD_CONFIGS
      for cmd in CONFIG_COMMANDS),
    *(Case((*cmd, "--config", f"{{db:{name}}}")) for name in BAD_DATABASES for cmd in DB_COMMANDS),
]  # fmt: skip


@pytest.fixture(scope="module")
def places(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """The files the table's placeholders name: a good settings file whose database has a supervisor
    (boss, PIN 1234), an attendant (ann, 1111), a closed shift 1 and an open shift 2; the bad settings
    files; one settings file per bad database."""
    tmp = tmp_path_factory.mktemp("cli")
    found: dict[str, str] = {"tmp": str(tmp)}

    def settings_file(name: str, url: str, extra: str = "") -> str:
        path = tmp / f"{name}.toml"
        path.write_text(SETTINGS.format(url=url, extra=extra), encoding="utf-8")
        return str(path)

    found["good"] = settings_file("good", f"sqlite:///{tmp / 'good.sqlite'}")
    settings = load_settings(Path(found["good"]))
    with open_database(settings.database.url) as db:
        staff = Staff(db, settings.staff, scrypt_n=2**10)
        staff.add_person("boss", "王经理", "supervisor", "1234", by="system")
        staff.add_person("ann", "李娜", "attendant", "1111", by="boss")
        shifts = Shifts(db, settings.shifts, staff)
        first = shifts.open("ann")
        shifts.close(first.id, {10_000: 5}, handover_float_fen=50_000)
        shifts.open("ann")
    found["lot_down"] = settings_file(
        "lot_down",
        f"sqlite:///{tmp / 'lot.sqlite'}",
        '[lot]\nserver = "postgresql://booth:secret@127.0.0.1:9/booth_lot"\nbooth_id = "exit-east"\n',
    )
    found["alipay_sandbox"] = settings_file(
        "alipay", f"sqlite:///{tmp / 'good.sqlite'}",
        '[alipay]\ngateway_url = "sandbox"\napp_id = "2021000000000000"\nout_parking_id = "P1"\n'
        'parking_name = "x"\n',
    )  # fmt: skip

    for name, text in BAD_CONFIGS.items():
        path = tmp / f"config-{name}.toml"
        if text is not None:
            path.write_text(text.format(url=f"sqlite:///{tmp / 'never.sqlite'}", extra=""), encoding="utf-8")
        found[f"config:{name}"] = str(path)
    found["config:folder"] = str(tmp)
    found["config:dev_zero"] = "/dev/zero"
    os.mkfifo(found["config:fifo"])
    Path(found["config:not_utf8"]).write_bytes("[park]\nname = 'caf\xe9'\n".encode("latin-1"))
    Path(found["config:nul_url"]).write_text(
        SETTINGS.format(url="sqlite:///a\\u0000b", extra=""), encoding="utf-8"
    )

    def sqlite_file(name: str, *statements: str) -> str:
        path = tmp / f"{name}.sqlite"
        raw = sqlite3.connect(path)
        try:
            for statement in statements:
                raw.execute(statement)
            raw.commit()
        finally:
            raw.close()
        return f"sqlite:///{path}"

    def damaged(name: str, statement: str) -> str:
        url = f"sqlite:///{tmp / f'{name}.sqlite'}"
        open_database(url).close()
        return sqlite_file(name, statement)

    (tmp / "garbage.sqlite").write_bytes(b"not a database " * 200)
    urls = {
        "garbage": f"sqlite:///{tmp / 'garbage.sqlite'}",
        "foreign": sqlite_file("foreign", "CREATE TABLE notes (id INTEGER PRIMARY KEY)"),
        "other_app_id": sqlite_file("other", "PRAGMA application_id = 1234"),
        "postgresql": "postgresql://booth:secret@127.0.0.1:1/booth",
        "mysql": "mysql://booth@127.0.0.1:1/booth",
        "folder": f"sqlite:///{tmp}",
        "unreachable": "sqlite:////proc/booth-cannot-make-this/booth.sqlite",
        "dropped_table": damaged("dropped_table", "DROP TABLE outbox"),
        "dropped_column": damaged("dropped_column", "ALTER TABLE stays DROP COLUMN exit_lane"),
        "no_version": damaged("no_version", "DROP TABLE alembic_version"),
        "newer_revision": damaged("newer", "UPDATE alembic_version SET version_num = '9999'"),
    }
    for name, url in urls.items():
        found[f"db:{name}"] = settings_file(f"db-{name}", url)
    yield found


def fill(argv: tuple[str, ...], places: dict[str, str]) -> list[str]:
    out = []
    for arg in argv:
        for key, value in places.items():
            arg = arg.replace(f"{{{key}}}", value)
        out.append(arg)
    return out


def test_the_table_is_large() -> None:
    assert len(CASES) >= 100


@pytest.mark.parametrize("case", CASES, ids=[f"{i}-{' '.join(c.argv)[:60]}" for i, c in enumerate(CASES)])
def test_a_bad_invocation_is_one_line_and_a_nonzero_exit(
    case: Case,
    places: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stdin = case.stdin if isinstance(case.stdin, bytes) else case.stdin.encode()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"))
    monkeypatch.setattr(staff_cli.getpass, "getuser", lambda: "tester")
    monkeypatch.setattr(staff_cli.getpass, "getpass", _no_terminal)
    monkeypatch.delenv("BOOTH_DEBUG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", places["tmp"])  # no default settings file is found
    code = main(fill(case.argv, places))
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code != 0, err
    assert "Traceback" not in err
    assert len(lines) == 1, err
    assert not lines[0].startswith("booth: internal error"), lines[0]
    assert "secret" not in err  # database passwords are hidden


def test_an_unforeseen_error_is_still_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], places: dict[str, str]
) -> None:
    def broken(*_: object) -> int:
        raise RuntimeError("a bug\nwith two lines")

    monkeypatch.delenv("BOOTH_DEBUG", raising=False)
    monkeypatch.setattr("booth.cli.main._sync_command", broken)
    assert main(["sync", "status", "--config", places["good"]]) == INTERNAL_ERROR
    assert capsys.readouterr().err == "booth: internal error: RuntimeError: a bug\n"


def test_a_good_invocation_still_works(places: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["shift", "list", "--config", places["good"]]) == 0
    assert "ann" in capsys.readouterr().out
    assert main(["report", "shift", "--id", "1", "--config", places["good"]]) == 0


def test_several_settings_problems_are_listed_one_a_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.toml"
    empty.write_text("", encoding="utf-8")
    assert main(["config", "check", str(empty)]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        f"{empty}: invalid configuration",
        "  - park: required key is missing",
        "  - bolink: required key is missing",
        "  - lanes: required key is missing",
    ]


def _no_terminal(prompt: str = "") -> str:
    raise AssertionError(f"the table must not prompt for a PIN: {prompt}")
