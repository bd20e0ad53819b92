"""Bolink settings that matter for safety: the ukey is masked, a plain-http base URL is warned about."""

from __future__ import annotations

from pathlib import Path

import pytest

from booth.cli.main import main
from booth.config import ConfigError, config_warnings, settings_from_mapping
from tests.test_config import MINIMAL, write

UKEY = "8403A41ED5EF20BC"


def _settings(**bolink: str) -> dict[str, object]:
    return {
        "park": {"name": "测试停车场"},
        "bolink": {
            "base_url": "sandbox",
            "union_id": "200208",
            "park_id": "21835",
            "ukey": UKEY,
            "local_id": "booth_test",
            **bolink,
        },
        "lanes": [{"id": "X1", "name": "东出口", "direction": "exit", "channel_id": "X1"}],
    }


def test_the_ukey_is_masked_wherever_settings_are_shown_or_dumped() -> None:
    settings = settings_from_mapping(_settings())
    assert settings.bolink.ukey.get_secret_value() == UKEY
    for shown in (repr(settings), str(settings.bolink), settings.model_dump_json()):
        assert UKEY not in shown


def test_an_empty_ukey_is_refused_by_name() -> None:
    with pytest.raises(ConfigError, match=r"bolink\.ukey"):
        settings_from_mapping(_settings(ukey=""))


def test_downstream_sign_defaults_to_warn_and_knows_only_two_words() -> None:
    assert settings_from_mapping(_settings()).bolink.downstream_sign == "warn"
    assert settings_from_mapping(_settings(downstream_sign="refuse")).bolink.downstream_sign == "refuse"
    with pytest.raises(ConfigError, match=r"bolink\.downstream_sign"):
        settings_from_mapping(_settings(downstream_sign="ignore"))


@pytest.mark.parametrize(
    ("base_url", "warned"),
    [
        ("http://p.bolink.club", True),
        ("http://ptest.bolink.club/", True),
        ("https://p.bolink.club", False),
        ("sandbox", False),
    ],
)
def test_a_plain_http_base_url_is_warned_about(base_url: str, warned: bool) -> None:
    warnings = config_warnings(settings_from_mapping(_settings(base_url=base_url)))
    assert bool(warnings) is warned
    if warned:
        assert warnings[0].startswith("bolink.base_url:") and "plain http" in warnings[0]


def test_config_check_prints_the_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, MINIMAL.replace('base_url = "sandbox"', 'base_url = "http://p.bolink.club"'))
    assert main(["config", "check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "OK" in out and "warning: bolink.base_url:" in out and UKEY not in out


@pytest.mark.parametrize(
    ("local_id", "missing"),
    [
        ("booth_test", "X1, X2"),
        ("booth_test_channels_X1", "X2"),
        ("booth_test_channels_X1_X2", None),
        ("booth_test_channels_X2_X1_E1", None),
    ],
)
def test_a_lot_booth_whose_local_id_does_not_name_its_exit_channels_is_warned(
    local_id: str, missing: str | None
) -> None:
    """In a lot, Bolink sends a lane's payment results to the charging system whose local_id names the lane's
    channel (docs: `<id>_channels_A1_A2`); one that does not may get another booth's, or lose its own."""
    mapping = _settings(local_id=local_id)
    mapping["lanes"] = [
        {"id": "X1", "name": "东出口", "direction": "exit", "channel_id": "X1"},
        {"id": "X2", "name": "西出口", "direction": "exit", "channel_id": "X2"},
        {"id": "E1", "name": "入口", "direction": "entry", "channel_id": "E1"},
    ]
    mapping["lot"] = {"server": "postgresql://booth@127.0.0.1:5432/lot", "booth_id": "exit-a"}
    warnings = local_id_warnings(mapping)
    if missing is None:
        assert warnings == []
    else:
        assert len(warnings) == 1 and f"does not name {missing}:" in warnings[0]
        assert '"booth_test_channels_X1_X2"' in warnings[0]  # the local_id to write
    # a booth on its own is never warned: its session gets every result of the park
    del mapping["lot"]
    assert local_id_warnings(mapping) == []


def local_id_warnings(mapping: dict[str, object]) -> list[str]:
    return [w for w in config_warnings(settings_from_mapping(mapping)) if w.startswith("bolink.local_id:")]
