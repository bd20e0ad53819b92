"""Shared fixtures: a fresh settings file, a fresh SQLite database and a running engine per test."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from booth.config import Settings, settings_from_mapping
from booth.engine import Engine, EngineEvent
from booth.store import Database, open_database
from tests.pg import pg_database, pg_url  # noqa: F401  (fixtures for every test module)


def pytest_configure(config: pytest.Config) -> None:
    """Files the tests make are private to their owner, as the booth's own are (its unit has UMask=0077): a
    settings file others may read is refused at start (booth.config.private), and tests that want to see
    that refusal chmod a file open themselves."""
    os.umask(0o077)
    config.addinivalue_line(
        "markers",
        "postgresql: runs on the PostgreSQL server at 127.0.0.1:5432 (tests/pg.py; CI fails without it)",
    )


def engine_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Two exit lanes and one entry lane on the Bolink sandbox, simulated gates, no simulated camera."""
    data: dict[str, Any] = {
        "park": {"name": "测试停车场", "province": "苏"},
        "bolink": {
            "base_url": "sandbox",
            "union_id": "200208",
            "park_id": "21835",
            "ukey": "8403A41ED5EF20BC",
            "local_id": "booth_test",
            "query_start_s": 600,  # no background queries unless a test asks for them
        },
        "lanes": [
            {"id": "E1", "name": "入口", "direction": "entry", "channel_id": "E1", "pass_timeout_s": 1},
            {"id": "X1", "name": "东出口", "direction": "exit", "channel_id": "X1", "pass_timeout_s": 1},
            {"id": "X2", "name": "西出口", "direction": "exit", "channel_id": "X2", "pass_timeout_s": 1},
        ],
        "database": {"url": f"sqlite:///{tmp_path / 'booth.sqlite'}"},
    }
    for section, values in overrides.items():
        if isinstance(values, dict) and isinstance(data.get(section), dict):
            data[section] = {**data[section], **values}
        else:
            data[section] = values
    return settings_from_mapping(data, "<test>")


def wait_until(predicate: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
    """Poll until ``predicate()`` is truthy; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.01)


class RunningEngine:
    """An engine under test with the events it emitted and a read-only view of its database."""

    def __init__(self, engine: Engine, db_path: Path) -> None:
        self.engine = engine
        self.events: list[EngineEvent] = []
        self.db_path = db_path
        engine.subscribe(self.events.append)

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        con = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True)
        try:
            return con.execute(sql, params).fetchall()
        finally:
            con.close()

    def lane(self, lane_id: str) -> Any:
        return next(v for v in self.engine.snapshot() if v.lane_id == lane_id)


@pytest.fixture
def make_engine(tmp_path: Path) -> Iterator[Callable[..., RunningEngine]]:
    started: list[Engine] = []

    def make(**overrides: Any) -> RunningEngine:
        settings = engine_settings(tmp_path, **overrides)
        engine = Engine(settings, tick_s=0.05)
        running = RunningEngine(engine, tmp_path / "booth.sqlite")
        engine.start()
        started.append(engine)
        wait_until(lambda: engine.bolink_online, what="Bolink sandbox login")
        wait_until(engine.sync_started.is_set, what="the Alipay/Tmall sync to start")
        return running

    yield make
    for engine in started:
        engine.stop()


# --- a store on a real SQLite file, and a clock the test moves by hand (store, staff, shifts, migrations)

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand (``clock.now += timedelta(...)``), starting at T0."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "booth.sqlite"


@pytest.fixture
def db(request: pytest.FixtureRequest, db_path: Path) -> Iterator[Database]:
    """A real SQLite file; with BOOTH_TEST_DATABASE=postgresql, PostgreSQL's run database (tests/pg.py)
    instead, to try any test of the store's users there (test_store and test_migrations run on both)."""
    if os.environ.get("BOOTH_TEST_DATABASE") == "postgresql":
        database = open_database(request.getfixturevalue("pg_url"))
    else:
        database = open_database(f"sqlite:///{db_path}")
    yield database
    database.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()
