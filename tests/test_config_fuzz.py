"""Fuzz of the settings loader: whatever value a TOML file gives any number or text of the schema, either
the loader refuses it with a ConfigError naming that key, or the settings start, i.e. the objects the
engine builds from them at start (lane timings, retry back-off, photo retention, the simulator, the
lock-out, the idle lock's timer, the tariff) can be built and used.

Before issue #13, ``pass_timeout_s = inf`` or ``query_start_s = 1e300`` passed ``booth config check`` and
crashed ``booth run`` (``timedelta(seconds=inf)``), and ``true`` was read as the number 1.

Bounded for CI (seeded, ``derandomize``): BOOTH_FUZZ_EXAMPLES=5000 runs a longer search on demand.
"""

from __future__ import annotations

import json
import math
import os
import random
import typing
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, SecretStr

from booth.config import ConfigError, Settings, load_settings, settings_from_mapping
from booth.domain import lane as L
from booth.domain.tariff import quote_fee
from booth.sync.cloud_sync import relay_backoff

EXAMPLES = int(os.environ.get("BOOTH_FUZZ_EXAMPLES", "300"))
QT_TIMER_MAX_MS = 2**31 - 1  # QTimer.setInterval takes a C int of milliseconds

#: A document with every section and every gate driver, so every number and text of the schema is there.
BASE: dict[str, Any] = {
    "park": {"name": "测试停车场", "province": "苏", "capacity": 100},
    "bolink": {
        "base_url": "sandbox",
        "union_id": "200208",
        "park_id": "21835",
        "ukey": "8403A41ED5EF20BC",
        "local_id": "booth_fuzz",
        "sandbox_autopay_s": 5.0,
    },
    "lanes": [
        {"id": "E1", "name": "入口", "direction": "entry", "channel_id": "E1",
         "gate": {"driver": "simulated"}},
        {
            "id": "X1",
            "name": "出口",
            "direction": "exit",
            "channel_id": "X1",
            "camera": {"vendor": "vzenith", "ip": ["127.0.0.2"]},
            "gate": {"driver": "camera_relay", "command": "ivs_ioctrl"},
        },
        {
            "id": "X2",
            "name": "出口2",
            "direction": "exit",
            "channel_id": "X2",
            "gate": {"driver": "modbus_tcp", "host": "127.0.0.1", "passed_input": 1},
        },
        {
            "id": "X3",
            "name": "出口3",
            "direction": "exit",
            "channel_id": "X3",
            "gate": {"driver": "modbus_rtu", "device": "/dev/ttyUSB0", "passed_input": 2},
        },
        {"id": "X4", "name": "出口4", "direction": "exit", "channel_id": "X4",
         "gate": {"driver": "lcus", "device": "/dev/ttyUSB1"}},
        {"id": "X5", "name": "出口5", "direction": "exit", "channel_id": "X5",
         "gate": {"driver": "hikvision", "host": "127.0.0.1", "username": "admin", "password": "x"}},
    ],
    "tariff": {
        "classes": {
            "small": {"first_period_price": "5.00", "period_price": "2.00", "daily_cap": "40.00",
                      "night": {"start": "20:00", "end": "08:00", "period_price": "1.00", "cap": "10.00"}},
            "large": {"first_period_price": "10.00", "period_price": "4.00"},
        },
        "monthly": [{"plate": "苏A12345", "valid_from": "2026-01-01", "valid_to": "2026-12-31"}],
    },
    "simulator": {"enabled": True, "seed": 7},
    "tmall": {"gateway_url": "sandbox", "app_key": "12345678", "app_secret": "s", "mall_id": 1},
}  # fmt: skip

#: Text that names a file or a database: a fuzzed value would make the test touch the disk (the loader's
#: checks of these are tested one by one in test_config.py and test_cli_invocations.py).
PATH_KEYS = {"url", "photo_dir", "app_private_key_file", "alipay_public_key_file"}


def _kinds(annotation: object) -> set[type]:
    """The types a field's annotation names (through Optional, unions, Annotated and containers)."""
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return {annotation}
    found: set[type] = set()
    for arg in typing.get_args(annotation):
        found |= _kinds(arg)
    return found


def leaf_keys(model: BaseModel, prefix: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """Paths to every number and text field of the validated settings (absent optional ones included)."""
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        path = (*prefix, name)
        if isinstance(value, BaseModel):
            yield from leaf_keys(value, path)
        elif isinstance(value, tuple) and value and isinstance(value[0], BaseModel):
            for index, item in enumerate(value):
                yield from leaf_keys(item, (*path, index))
        elif isinstance(value, dict) and value and isinstance(next(iter(value.values())), BaseModel):
            for key, item in value.items():
                yield from leaf_keys(item, (*path, key))
        elif name not in PATH_KEYS:
            kinds = _kinds(field.annotation)
            if kinds & {int, float, str, Decimal, SecretStr} and bool not in kinds:
                yield path


def key_text(path: tuple[str | int, ...]) -> str:
    """The key as ConfigError names it: ``lanes[1].gate.timeout_s``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def with_value(path: tuple[str | int, ...], value: object) -> dict[str, Any]:
    data: Any = json.loads(json.dumps(BASE))
    node = data
    for part in path[:-1]:
        if isinstance(part, str) and part not in node:
            node[part] = {}
        node = node[part]
    node[path[-1]] = value
    return dict(data)


def toml_value(value: object) -> str:
    """A TOML literal (inline tables and arrays for nesting)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(type(value))


def toml_document(data: dict[str, Any]) -> str:
    return "".join(f"{json.dumps(key)} = {toml_value(value)}\n" for key, value in data.items())


def names(problem: str, leaf: tuple[str | int, ...]) -> bool:
    """The problem names the key, or a section's check above it names the key's field in its text."""
    key, _, text = problem.partition(": ")
    return key.startswith(key_text(leaf)) or (key_text(leaf).startswith(key) and str(leaf[-1]) in text)


def start_pieces(s: Settings) -> None:
    """Build and use what the engine builds from the settings at start and in its first minutes."""
    now = datetime.now(UTC)
    for lane in s.lanes:  # as Engine._start_lanes_and_bolink does
        timings = L.LaneTimings(
            payment_timeout=timedelta(seconds=lane.payment_timeout_s),
            pass_timeout=timedelta(seconds=lane.pass_timeout_s),
            query_start=timedelta(seconds=s.bolink.query_start_s),
            query_every=timedelta(seconds=s.bolink.query_every_s),
            query_stop=timedelta(seconds=s.bolink.query_stop_s),
        )
        for span in (timings.payment_timeout, timings.pass_timeout, timings.query_start, timings.query_stop):
            assert now + span >= now  # the lane adds them to the event's time
    rng = random.Random(0)
    backoff = relay_backoff(s.sync)
    assert now + backoff.delay(40, rng) >= now
    assert now + timedelta(seconds=s.sync.breaker_cooldown_s) >= now
    photos_cutoff = now - timedelta(days=s.cameras.photo_keep_days)  # PhotoStore's pruning
    assert int(photos_cutoff.timestamp() * 1e9) <= int(now.timestamp() * 1e9)
    simulated = random.Random(s.simulator.seed)  # the simulated camera
    minutes = simulated.randint(5, s.simulator.stay_minutes_max)
    assert now - timedelta(minutes=minutes) < now
    assert now + timedelta(minutes=s.staff.lockout_minutes) >= now  # a lock-out's end
    assert round(s.display.idle_lock_s * 1000) <= QT_TIMER_MAX_MS  # ui.people.lock_screen.IdleLock's QTimer
    for colour in ("blue", "yellow"):
        entry = now - timedelta(hours=30)
        quote_fee(s.tariff, plate="苏B12345", colour=colour, entry=entry, exit=now, tz=s.park.zone)


def test_the_base_document_loads_and_starts(tmp_path: Path) -> None:
    path = tmp_path / "booth.toml"
    path.write_text(toml_document(BASE), encoding="utf-8")
    start_pieces(load_settings(path))


LEAVES = sorted(leaf_keys(settings_from_mapping(BASE)), key=key_text)


def test_the_fuzz_reaches_every_number_and_text_of_the_schema() -> None:
    keys = {key_text(p) for p in LEAVES}
    for expected in (
        "lanes[0].pass_timeout_s",
        "bolink.query_start_s",
        "bolink.request_budget_per_10s",
        "lanes[1].gate.timeout_s",
        "lanes[2].gate.coil",
        "tariff.classes.small.night.period_minutes",
        "tariff.free_minutes",
        "tmall.mall_id",
        "display.idle_lock_s",
        "simulator.stay_minutes_max",
        "park.name",
        "schema_version",
    ):
        assert expected in keys
    assert len(keys) > 100


#: Values that broke the start before: the strategies below add random ones around them.
NASTY: list[object] = [
    0, -1, 1, True, False, 2**63 - 1, -(2**63), 1e300, -1e300, math.inf, -math.inf, math.nan, 1e-300, 0.5,
    86_401, 2**31, "", " ", "1e300", "inf", "9" * 30, "\u0000", "x" * 5000, "京A·12345", "\t\n",
]  # fmt: skip

VALUES = st.one_of(
    st.sampled_from(NASTY),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=40),
)


@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(leaf=st.sampled_from(LEAVES), value=VALUES)
def test_any_value_is_refused_by_its_key_or_starts(
    tmp_path: Path, leaf: tuple[str | int, ...], value: object
) -> None:
    path = tmp_path / "booth.toml"
    path.write_text(toml_document(with_value(leaf, value)), encoding="utf-8")
    try:
        loaded = load_settings(path)
    except ConfigError as exc:
        assert exc.problems and all(names(problem, leaf) for problem in exc.problems), exc.problems
        assert len(exc.problems) > 1 or "\n" not in str(exc), "one problem reads as one line"
        return
    start_pieces(loaded)


@settings(max_examples=max(50, EXAMPLES // 3), derandomize=True, deadline=None, database=None)
@given(
    leaves=st.lists(st.sampled_from(LEAVES), min_size=2, max_size=6, unique=True),
    values=st.lists(VALUES, min_size=6, max_size=6),
)
def test_several_values_at_once_never_crash_the_loader(
    leaves: list[tuple[str | int, ...]], values: list[object]
) -> None:
    data = with_value(leaves[0], values[0])
    for leaf, value in zip(leaves[1:], values[1:], strict=False):
        node: Any = data
        for part in leaf[:-1]:
            node = node.setdefault(part, {}) if isinstance(part, str) else node[part]
        node[leaf[-1]] = value
    try:
        loaded = settings_from_mapping(data)
    except ConfigError as exc:
        assert exc.problems
        return
    start_pieces(loaded)


@pytest.mark.parametrize(
    ("leaf", "value"),
    [
        (("lanes", 0, "pass_timeout_s"), math.inf),
        (("lanes", 1, "payment_timeout_s"), 1e300),
        (("bolink", "query_start_s"), 1e300),
        (("bolink", "query_stop_s"), 1e300),
        (("bolink", "query_every_s"), math.inf),
        (("simulator", "stay_minutes_max"), 2),  # randint(5, 2)
        (("cameras", "photo_keep_days"), 10**12),
        (("display", "idle_lock_s"), 1e300),
        (("schema_version",), True),
        (("park", "capacity"), True),
    ],
)
def test_values_that_crashed_the_start_are_refused_by_name(
    tmp_path: Path, leaf: tuple[str | int, ...], value: object
) -> None:
    path = tmp_path / "booth.toml"
    path.write_text(toml_document(with_value(leaf, value)), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(path)
    assert info.value.problems[0].startswith(key_text(leaf) + ":"), info.value.problems
