"""``[lot]``: the lot server and this booth's id, each mistake named by its key (issue #18)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from booth.cli.main import EXAMPLE_CONFIG
from booth.config import BOOTH_ID_MAX, ConfigError, LotSettings, load_settings
from booth.lot import schema
from tests.test_config import MINIMAL

LOT = """
[lot]
server = "postgresql://booth@127.0.0.1:5432/booth_lot"
booth_id = "exit-east_2"
"""


def settings_text(tmp_path: Path, lot: str = LOT, database: str | None = None) -> str:
    url = database if database is not None else f"sqlite:///{tmp_path / 'booth.sqlite'}"
    return f'{MINIMAL}\n[database]\nurl = "{url}"\n{lot}'


def load(tmp_path: Path, text: str) -> LotSettings | None:
    path = tmp_path / "booth.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path).lot


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text)
    return info.value.problems


def test_without_lot_there_is_no_lot_and_any_database_will_do(tmp_path: Path) -> None:
    assert load(tmp_path, settings_text(tmp_path, lot="", database="postgresql://u@127.0.0.1/booth")) is None


def test_a_lot_gets_its_documented_defaults(tmp_path: Path) -> None:
    lot = load(tmp_path, settings_text(tmp_path))
    assert lot == LotSettings(
        server="postgresql://booth@127.0.0.1:5432/booth_lot",
        booth_id="exit-east_2",
        connect_timeout_s=2,
        query_timeout_ms=500,
        push_interval_s=0.2,
        heartbeat_s=5,
        takeover_after_s=600,
    )


def test_psycopg_spelt_out_and_a_password_are_accepted(tmp_path: Path) -> None:
    text = settings_text(tmp_path).replace("postgresql://booth@", "postgresql+psycopg://booth:s3cret@")
    lot = load(tmp_path, text)
    assert lot is not None and lot.server.startswith("postgresql+psycopg://booth:s3cret@")


def test_the_booth_id_matches_the_servers_key() -> None:
    assert BOOTH_ID_MAX == schema.BOOTH_ID_MAX
    assert LotSettings(server="postgresql://h/d", booth_id="b" * BOOTH_ID_MAX).booth_id == "b" * 32


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (('booth_id = "exit-east_2"', ""), "lot.booth_id: required key is missing"),
        (("server = ", "# server = "), "lot.server: required key is missing"),
        (
            ('booth_id = "exit-east_2"', 'booth_id = ""'),
            "lot.booth_id: 1 to 32 characters, only letters, digits, _ and - (it keys this booth's rows on "
            "the server), got ''",
        ),
        (('"exit-east_2"', '"exit east"'), "lot.booth_id: 1 to 32 characters, only letters, digits"),
        (('"exit-east_2"', '"出口"'), "lot.booth_id: 1 to 32 characters"),
        (('"exit-east_2"', '"' + "b" * 33 + '"'), "lot.booth_id: 1 to 32 characters"),
        (("booth_id =", 'booth_idd = "x"\nbooth_id ='), "lot.booth_idd: unknown key (misspelt?)"),
        (
            ("postgresql://booth@127.0.0.1:5432/booth_lot", "sqlite:///lot.sqlite"),
            'lot.server: the lot server is PostgreSQL, expected e.g. "postgresql://user@host:5432/dbname": '
            "'sqlite:///lot.sqlite'",
        ),
        (("postgresql://booth@127.0.0.1:5432/booth_lot", "lot-server"), "lot.server: not a database URL"),
        (
            ("postgresql://booth@", "postgresql+psycopg2://booth:pw@"),
            "lot.server: Booth drives PostgreSQL with psycopg (v3): write postgresql://…, not "
            "'postgresql+psycopg2://booth:***@127.0.0.1:5432/booth_lot'",
        ),
        (("5432/booth_lot", "5432"), "lot.server: name the lot's database"),
        (("booth_id =", "connect_timeout_s = 1\nbooth_id ="), "lot.connect_timeout_s: Input should be"),
        (("booth_id =", "query_timeout_ms = 0\nbooth_id ="), "lot.query_timeout_ms: Input should be greater"),
        (("booth_id =", "push_interval_s = 0\nbooth_id ="), "lot.push_interval_s: Input should be greater"),
        (("booth_id =", "heartbeat_s = inf\nbooth_id ="), "lot.heartbeat_s: Input should be a finite number"),
        (("booth_id =", "heartbeat_s = true\nbooth_id ="), "lot.heartbeat_s: expected a number, got a true"),
        (
            ("booth_id =", "takeover_after_s = -1\nbooth_id ="),
            "lot.takeover_after_s: Input should be greater",
        ),
        (
            ("booth_id =", "takeover_after_s = 10\nbooth_id ="),
            "lot: takeover_after_s: 0 (never) or at least 4 x heartbeat_s (20 s)",
        ),
    ],
)
def test_each_mistake_in_lot_is_named(tmp_path: Path, edit: tuple[str, str], expected: str) -> None:
    text = settings_text(tmp_path)
    assert edit[0] in text
    found = problems(tmp_path, text.replace(edit[0], edit[1], 1))
    assert any(p.startswith(expected) for p in found), found


def test_a_password_in_a_refused_server_url_is_not_shown(tmp_path: Path) -> None:
    text = settings_text(tmp_path).replace(
        "postgresql://booth@127.0.0.1:5432/booth_lot", "mysql://u:hunter2@h/d"
    )
    (found,) = problems(tmp_path, text)
    assert "hunter2" not in found and "mysql://u:***@h/d" in found


def test_with_lot_the_booths_own_database_must_be_sqlite(tmp_path: Path) -> None:
    text = settings_text(tmp_path, database="postgresql://booth@127.0.0.1:5432/booth")
    assert problems(tmp_path, text) == [
        "database.url: with [lot], this booth's own database is its local journal and must be SQLite "
        '(e.g. "sqlite:////var/lib/booth/booth.sqlite"), not postgresql; '
        "the lot's PostgreSQL is [lot] server"
    ]


def test_a_check_across_sections_is_named_by_its_key(tmp_path: Path) -> None:
    """Checks of the whole file name the key they are about, not "(top level)"."""
    text = MINIMAL + MINIMAL[MINIMAL.index("[[lanes]]") :]
    assert problems(tmp_path, text) == ["lanes: two lanes have id 'X1'"]


def test_the_examples_lot_section_is_valid_once_uncommented(tmp_path: Path) -> None:
    example = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    assert load_settings(EXAMPLE_CONFIG).lot is None  # shipped commented out
    block = re.search(r"^# \[lot\].*?\n\n", example, re.S | re.M)
    assert block is not None
    lines = [re.sub(r"^# ?", "", line) for line in block.group(0).splitlines()]
    uncommented = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    lot = load(tmp_path, settings_text(tmp_path, lot=uncommented))
    assert lot is not None
    assert (lot.booth_id, lot.connect_timeout_s, lot.query_timeout_ms) == ("exit-east", 2, 500)
    assert (lot.push_interval_s, lot.heartbeat_s) == (0.2, 5)
