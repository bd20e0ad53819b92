"""Settings: one TOML file, validated at start, every error naming the key and the problem."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, get_args

import pytest
from pydantic import BaseModel

from booth.cli import EXAMPLE_CONFIG, main
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
