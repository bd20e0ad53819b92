"""Settings: one TOML file, validated at start, every error naming the key and the problem."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import BaseModel

from booth.cli.main import EXAMPLE_CONFIG, main
from booth.config import ConfigError, Settings, load_settings, settings_from_mapping

MINIMAL = """
[park]
name = "测试停车场"

[bolink]
base_url = "sandbox"
union_id = "200208"
park_id = "21835"
ukey = "8403A41ED5EF20BC"
local_id = "booth_test"

[[lanes]]
id = "X1"
name = "东出口"
direction = "exit"
channel_id = "X1"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "booth.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text))
    return info.value.problems


def test_minimal_file_gets_documented_defaults(tmp_path: Path) -> None:
    s = load_settings(write(tmp_path, MINIMAL))
    assert s.park.timezone == "Asia/Shanghai"
    assert s.lanes[0].gate.driver == "simulated"
    assert s.bolink.is_sandbox
    assert s.database.url.startswith("sqlite:///") and s.database.url.endswith("booth.sqlite")


def test_the_shipped_example_is_valid_and_documents_every_key() -> None:
    s = load_settings(EXAMPLE_CONFIG)
    assert isinstance(s, Settings)
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")

    def models_in(annotation: Any) -> list[type[BaseModel]]:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            return [annotation]
        return [m for arg in get_args(annotation) for m in models_in(arg)]

    def keys(model: type[BaseModel]) -> set[str]:
        out: set[str] = set()
        for name, field in model.model_fields.items():
            out.add(name)
            for inner in models_in(field.annotation):
                out |= keys(inner)
        return out

    pattern = r"^\s*#?\s*(\[+[\w.]*)?\b{}\b"  # a key, a table header, or an optional key commented out
    missing = sorted(k for k in keys(Settings) if not re.search(pattern.format(k), text, re.M))
    assert not missing, f"keys not documented in {EXAMPLE_CONFIG.name}: {missing}"


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (("[park]", "[park]\ntimezone = 'Mars/Olympus'"), "park.timezone: unknown time zone 'Mars/Olympus'"),
        (('name = "测试停车场"', "nmae = 'x'"), "park.name: required key is missing"),
        (('name = "测试停车场"', "name = '测试停车场'\nnmae = 'x'"), "park.nmae: unknown key"),
        (
            ('base_url = "sandbox"', 'base_url = "ftp://x"'),
            'bolink.base_url: must be an http(s) URL or "sandbox"',
        ),
        (('id = "X1"', 'id = "X-1"'), "lanes[0].id: only letters, digits and _"),
        (('direction = "exit"', 'direction = "out"'), "lanes[0].direction:"),
        (
            (
                'channel_id = "X1"',
                'channel_id = "X1"\ngate = { driver = "modbus_tcp", host = "127.0.0.1", port = "x" }',
            ),
            "lanes[0].gate.port: Input should be a valid integer",
        ),
        (('channel_id = "X1"', 'channel_id = "X1"\ngate = { driver = "teleport" }'), "lanes[0].gate"),
        (("[park]", "schema_version = 9\n[park]"), "schema_version: this Booth reads schema_version 1"),
    ],
)
def test_each_mistake_is_named(tmp_path: Path, edit: tuple[str, str], expected: str) -> None:
    found = problems(tmp_path, MINIMAL.replace(edit[0], edit[1], 1))
    assert any(expected in p for p in found), found


def test_duplicate_lanes_and_no_lanes_are_refused() -> None:
    data = tomllib.loads(MINIMAL)
    data["lanes"] = data["lanes"] * 2
    with pytest.raises(ConfigError, match="two lanes have id 'X1'"):
        settings_from_mapping(data)
    data["lanes"] = []
    with pytest.raises(ConfigError, match="at least one"):
        settings_from_mapping(data)


def test_unreadable_and_broken_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the file"):
        load_settings(tmp_path / "nope.toml")
    assert any("not valid TOML" in p for p in problems(tmp_path, "[park\nname="))
    bad = tmp_path / "latin1.toml"
    bad.write_bytes("[park]\nname = 'caf\xe9'".encode("latin-1"))
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_settings(bad)


def test_config_check_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path, MINIMAL)
    assert main(["config", "check", str(good)]) == 0
    assert "OK" in capsys.readouterr().out
    good.write_text(MINIMAL.replace('direction = "exit"', 'direction = "sideways"'), encoding="utf-8")
    assert main(["config", "check", str(good)]) == 1
    assert "lanes[0].direction" in capsys.readouterr().err


def test_config_example_command_prints_a_valid_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["config", "example"]) == 0
    out = capsys.readouterr().out
    assert load_settings(write(tmp_path, out)).park.name


@pytest.mark.parametrize(
    ("table", "line", "expected"),
    [
        ("", "schema_version = true", "schema_version: expected a number, got a true/false value"),
        ("[park]", "capacity = true", "park.capacity: expected a number, got a true/false value"),
        ("[[lanes]]", "pass_timeout_s = true", "lanes[0].pass_timeout_s: expected a number"),
        ("[[lanes]]", "pass_timeout_s = inf", "lanes[0].pass_timeout_s: Input should be a finite number"),
        ("[[lanes]]", "payment_timeout_s = 1e300", "lanes[0].payment_timeout_s: Input should be less than"),
        ("[bolink]", "query_start_s = 1e300", "bolink.query_start_s: Input should be less than"),
        ("[bolink]", "query_stop_s = inf", "bolink.query_stop_s: Input should be a finite number"),
        ("[bolink]", "query_every_s = nan", "bolink.query_every_s: Input should be a finite number"),
        ("[database]", "url = 'nosuchdb://x/y'", "database.url: unknown database kind 'nosuchdb'"),
        ("[database]", 'url = "sqlite:///a\\u0000b"', "database.url: a database URL cannot contain a NUL"),
        ("[simulator]", "stay_minutes_max = 3", "simulator.stay_minutes_max: Input should be greater than"),
        ("[display]", "idle_lock_s = 1e300", "display.idle_lock_s: Input should be less than"),
        # where it was before the idle lock worked out of kiosk mode: read from there, checked the same
        ("[kiosk]", "idle_lock_s = 1e300", "display.idle_lock_s: Input should be less than"),
    ],
)
def test_numbers_are_finite_bounded_and_never_booleans(
    tmp_path: Path, table: str, line: str, expected: str
) -> None:
    """Each of these passed `booth config check` and then crashed `booth run` (or was read as 1)."""
    if not table:
        text = f"{line}\n{MINIMAL}"
    elif f"{table}\n" in MINIMAL:
        text = MINIMAL.replace(f"{table}\n", f"{table}\n{line}\n", 1)
    else:
        text = f"{MINIMAL}\n{table}\n{line}\n"
    found = problems(tmp_path, text)
    assert any(p.startswith(expected) for p in found), found


def test_the_idle_lock_moved_to_display_and_an_old_file_still_sets_it(tmp_path: Path) -> None:
    assert load_settings(write(tmp_path, MINIMAL)).display.idle_lock_s == 300
    new = load_settings(write(tmp_path, f"{MINIMAL}\n[display]\nidle_lock_s = 60\n"))
    assert new.display.idle_lock_s == 60
    old = load_settings(write(tmp_path, f"{MINIMAL}\n[kiosk]\nenabled = true\nidle_lock_s = 90\n"))
    assert old.display.idle_lock_s == 90 and old.kiosk.enabled
    both = f"{MINIMAL}\n[kiosk]\nidle_lock_s = 90\n\n[display]\nidle_lock_s = 60\n"
    found = problems(tmp_path, both)
    assert any(p.startswith("kiosk.idle_lock_s: moved to [display] idle_lock_s") for p in found), found


def test_a_true_in_a_number_of_a_section_defined_elsewhere_is_refused_too(tmp_path: Path) -> None:
    text = MINIMAL + "\n[tariff]\ngrace_minutes = true\n"
    assert problems(tmp_path, text) == ["tariff.grace_minutes: expected a number, got a true/false value"]


def test_the_request_budget_stays_within_bolinks_limit_except_for_an_emulator(tmp_path: Path) -> None:
    real = MINIMAL.replace('base_url = "sandbox"', 'base_url = "https://beta.bolink.club"')
    over = real.replace('local_id = "booth_test"', 'local_id = "x"\nrequest_budget_per_10s = 101')
    found = problems(tmp_path, over)
    assert found == [
        "bolink.request_budget_per_10s: Bolink refuses more than 100 requests per 10 s, got 101 (only an "
        'emulator, "sandbox" or a loopback URL, may be given more)'
    ]
    assert load_settings(write(tmp_path, real)).bolink.request_budget_per_10s == 90
    for emulator in ('base_url = "sandbox"', 'base_url = "http://127.0.0.1:8080"'):
        text = MINIMAL.replace('base_url = "sandbox"', emulator).replace(
            'local_id = "booth_test"', 'local_id = "x"\nrequest_budget_per_10s = 100000'
        )
        assert load_settings(write(tmp_path, text)).bolink.request_budget_per_10s == 100_000


def test_one_problem_is_one_line_and_several_are_listed(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as one:
        load_settings(write(tmp_path, MINIMAL.replace('direction = "exit"', 'direction = "out"')))
    assert "\n" not in str(one.value)
    assert str(one.value).startswith(f"{tmp_path / 'booth.toml'}: invalid configuration: lanes[0].direction")
    with pytest.raises(ConfigError) as two:
        settings_from_mapping({})
    assert str(two.value).splitlines()[1:] == [f"  - {p}" for p in two.value.problems]


def test_devices_fifos_and_huge_files_are_refused_unread(tmp_path: Path) -> None:
    """/dev/zero never ends and a FIFO without a writer would block: neither may hang or fill memory."""
    found = problems_at(Path("/dev/zero"))
    assert found == ["cannot read the file: it is a device, FIFO or socket, not a regular file"]
    fifo = tmp_path / "fifo.toml"
    os.mkfifo(fifo)
    assert problems_at(fifo) == ["cannot read the file: it is a device, FIFO or socket, not a regular file"]
    assert problems_at(tmp_path) == ["cannot read the file: it is a directory, not a regular file"]
    huge = tmp_path / "huge.toml"
    with huge.open("wb") as file:
        file.truncate(4 * 2**30)  # sparse: 4 GiB of size, no disk used
    assert problems_at(huge) == ["the file is larger than 8 MiB: not a settings file"]


def test_deeply_nested_toml_is_refused_not_a_recursion_crash(tmp_path: Path) -> None:
    found = problems(tmp_path, MINIMAL + "deep = " + "[" * 5000 + "]" * 5000 + "\n")
    assert found == ["not valid TOML: arrays or tables nested too deeply"]


def problems_at(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    return info.value.problems
