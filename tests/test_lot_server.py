"""The lot server's side of a booth (issue #18): its engine's bounded waits, the heartbeat in lot_booths,
what booth lot status reads, and a server that does not answer."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy import Engine, create_engine, text

from booth.config import LotSettings
from booth.lot.server import (
    KEEPALIVES,
    LOT_HEAD,
    LotServerError,
    LotServerUnreachable,
    init_lot,
    lot_engine,
    lot_status,
    touch_booth,
)
from tests.lot_rig import heard_from


@pytest.fixture
def lot_url(pg_url: str) -> str:
    init_lot(pg_url)
    return pg_url


@pytest.fixture
def server(lot_url: str) -> Iterator[Engine]:
    engine = create_engine(lot_url)
    yield engine
    engine.dispose()


def contact(engine: Engine, booth_id: str, **given: object) -> int:
    values: dict[str, object] = {
        "name": "",
        "lanes": (),
        "version": "1.0",
        "backlog": 0,
        "open_shift": None,
    }
    values.update(given)
    with engine.begin() as connection:
        return touch_booth(connection, booth_id, **values)  # type: ignore[arg-type]


@pytest.mark.postgresql
def test_the_booths_engine_bounds_every_wait_and_names_the_booth(lot_url: str) -> None:
    lot = LotSettings(server=lot_url.replace("+psycopg", ""), booth_id="exit-east", connect_timeout_s=3)
    engine = lot_engine(lot, statement_timeout_ms=1234)
    try:
        assert engine.dialect.driver == "psycopg"  # postgresql:// is psycopg 3, not SQLAlchemy's psycopg2
        with engine.connect() as connection:
            shown = {
                name: connection.execute(text(f"SHOW {name}")).scalar()
                for name in (
                    "statement_timeout",
                    "lock_timeout",
                    "idle_in_transaction_session_timeout",
                    "application_name",
                    "tcp_keepalives_idle",
                    "tcp_keepalives_interval",
                    "tcp_keepalives_count",
                )
            }
            assert shown == {
                "statement_timeout": "1234ms",
                "lock_timeout": "5s",
                "idle_in_transaction_session_timeout": "30s",
                "application_name": "booth:exit-east",
                "tcp_keepalives_idle": str(KEEPALIVES[0]),
                "tcp_keepalives_interval": str(KEEPALIVES[1]),
                "tcp_keepalives_count": str(KEEPALIVES[2]),
            }
            info = connection.connection.dbapi_connection.info  # type: ignore[union-attr]
            params = info.get_parameters()
            assert params["connect_timeout"] == "3"
            assert params["keepalives"] == "1" and params["tcp_user_timeout"] == "10000"
            # the statement timeout is real: a longer statement is ended by the server
            with pytest.raises(Exception, match="statement timeout"):
                connection.execute(text("SELECT pg_sleep(3)"))
    finally:
        engine.dispose()


def test_lot_engine_wants_a_lot() -> None:
    import tomllib

    from booth.config import settings_from_mapping
    from tests.test_config import MINIMAL

    with pytest.raises(LotServerError, match=r"no \[lot\] section"):
        lot_engine(settings_from_mapping(tomllib.loads(MINIMAL)))


def server_now(engine: Engine) -> datetime:
    with engine.connect() as connection:
        return connection.execute(text("SELECT now()")).scalar_one()


@pytest.mark.postgresql
def test_first_contact_inserts_the_booth_and_later_ones_update_it(server: Engine) -> None:
    before = server_now(server)
    assert (
        contact(server, "exit-1", name="东出口", lanes=["X1", "X2"], backlog=7, open_shift=(3, "wang")) == 0
    )
    with server.begin() as connection:
        connection.execute(text("UPDATE lot_booths SET pushed_seq = 41 WHERE booth_id = 'exit-1'"))
        first = connection.execute(text("SELECT first_contact_at FROM lot_booths")).scalar_one()
    assert before <= first <= server_now(server)  # the server's clock (the booth gives none)
    assert contact(server, "exit-1", name="东出口 B", lanes=["X1"], version="1.1") == 41
    with server.connect() as connection:
        row = connection.execute(text("SELECT * FROM lot_booths")).mappings().one()
    later = row["last_contact_at"]
    assert first < later <= server_now(server)
    assert dict(row) == {
        "booth_id": "exit-1",
        "name": "东出口 B",
        "lanes": "X1",
        "version": "1.1",
        "first_contact_at": first,
        "last_contact_at": later,
        "pushed_seq": 41,  # only the push moves it
        "backlog": 0,
        "open_shift_id": None,
        "open_shift_person": None,
    }


@pytest.mark.postgresql
def test_the_contact_is_the_servers_now_of_the_callers_transaction(server: Engine) -> None:
    """Both contact times are the transaction's now() (its start, by the server's clock): what the takeover
    and lot status compare them with."""
    for _ in range(2):  # the insert, then the update
        with server.begin() as connection:
            touch_booth(connection, "exit-1", name="", lanes=(), version="", backlog=0, open_shift=None)
            now, last = connection.execute(
                text("SELECT now(), last_contact_at FROM lot_booths WHERE booth_id = 'exit-1'")
            ).one()
        assert last == now
    with server.connect() as connection:
        first, last = connection.execute(
            text("SELECT first_contact_at, last_contact_at FROM lot_booths")
        ).one()
    assert first < last == now


@pytest.mark.postgresql
def test_touch_booth_runs_in_the_callers_transaction(server: Engine) -> None:
    with pytest.raises(RuntimeError), server.begin() as connection:
        touch_booth(connection, "exit-1", name="", lanes=(), version="", backlog=0, open_shift=None)
        raise RuntimeError("the push failed after the heartbeat")
    with server.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM lot_booths")).scalar() == 0


@pytest.mark.postgresql
def test_status_lists_each_booth_flags_the_silent_and_lanes_at_two_booths(
    server: Engine, lot_url: str
) -> None:
    contact(server, "entry", lanes=["E1"])
    contact(server, "exit-1", lanes=["X1", "X2"], backlog=120)
    contact(server, "exit-2", lanes=["X2"], open_shift=(9, "li"))
    with server.begin() as connection:  # silent on the server for that long
        heard_from(connection, "entry", 3)
        heard_from(connection, "exit-1", 600)
        heard_from(connection, "exit-2", 59)
    status = lot_status(lot_url)
    assert [b.booth_id for b in status.booths] == ["entry", "exit-1", "exit-2"]
    assert [b.booth_id for b in status.silent()] == ["exit-1"]
    assert status.lane_clashes() == {"X2": ["exit-1", "exit-2"]}
    exit_2 = status.booths[2]
    assert (exit_2.lanes, exit_2.open_shift_id, exit_2.open_shift_person) == (("X2",), 9, "li")
    assert 59 <= status.age_s(exit_2) < 70
    assert status.revision == LOT_HEAD and "***" not in status.server


@pytest.mark.postgresql
def test_status_of_a_server_without_the_lot_schema_says_run_init(pg_url: str) -> None:
    with pytest.raises(LotServerError, match="has no lot schema: run booth lot init") as info:
        lot_status(pg_url)
    assert not isinstance(info.value, LotServerUnreachable)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_closed_port_is_unreachable_at_once_and_named() -> None:
    url = f"postgresql://booth:pw@127.0.0.1:{free_port()}/booth_lot"
    started = time.monotonic()
    with pytest.raises(LotServerUnreachable) as info:
        lot_status(url)
    assert time.monotonic() - started < 2
    message = str(info.value)
    assert message.startswith(
        f"lot server postgresql://booth:***@127.0.0.1:{url.split(':')[3]} does not answer"
    )
    assert "pw" not in message.replace("postgresql", "") and "\n" not in message


def test_a_server_that_accepts_but_never_answers_is_given_up_after_connect_timeout() -> None:
    """The TCP handshake completes (the kernel's backlog) but no PostgreSQL ever speaks."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(LotServerUnreachable, match="does not answer"):
            init_lot(f"postgresql://booth@127.0.0.1:{port}/booth_lot", connect_timeout_s=2)
        waited = time.monotonic() - started
    assert 1.5 <= waited < 6, waited
