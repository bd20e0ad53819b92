"""A lot booth's engine (issue #18): with [lot], the journal is made before the first write, the pusher
and the puller run in the background, the status is on the facade, and a stop pushes what is left."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from booth.engine import SyncChanged
from booth.lot.schema import MIRRORS
from booth.store import open_database
from booth.sync.status import describe_status
from tests.conftest import RunningEngine, wait_until
from tests.lot_rig import assert_mirrored, journal, lot_server

pytestmark = pytest.mark.postgresql

MakeEngine = Callable[..., RunningEngine]


def test_a_lot_booths_engine_pushes_pulls_and_stops_in_order(make_engine: MakeEngine, pg_url: str) -> None:
    lot = lot_server(pg_url)
    try:
        lot_settings: dict[str, Any] = {
            "server": pg_url,
            "booth_id": "exit-a",
            "push_interval_s": 5,
            "heartbeat_s": 0.2,
        }
        r = make_engine(lot=lot_settings)
        engine = r.engine
        wait_until(lambda: getattr(engine.lot_status(), "online", False), what="the lot online")
        engine.vehicle_at("E1", "苏E00001").result(5)
        [(order_id,)] = wait_until(lambda: r.rows("SELECT order_id FROM stays WHERE plate = '苏E00001'"))

        def on_server(sql: str, **params: Any) -> list[tuple[Any, ...]]:
            with lot.connect() as connection:
                return [tuple(row) for row in connection.execute(text(sql), params)]

        # pushed at once: the lanes' commits wake the pusher (its own period is 5 s here)
        wait_until(
            lambda: (
                on_server(
                    "SELECT state FROM lot_stays WHERE booth_id = 'exit-a' AND order_id = :o", o=order_id
                )
                == [("in_lot",)]
            ),
            timeout=2,
            what="the entry on the server within 2 s",
        )
        # the car leaves at another booth: its copy there is closed and pushed; the puller closes it here
        entry_at = engine.now()
        exit_at = entry_at + timedelta(minutes=30)
        other = {
            "booth_id": "exit-b",
            "id": 1,
            "order_id": order_id,
            "plate": "苏E00001",
            "plate_colour": "blue",
            "vehicle_class": "small",
            "entry_lane": "E1",
            "entry_at": entry_at,
            "exit_lane": "BX9",
            "exit_at": exit_at,
            "state": "exited",
            "created_at": entry_at,
            "origin_booth": "exit-a",
        }
        with lot.begin() as connection:
            connection.execute(MIRRORS["stays"].insert().values(**other))
        wait_until(
            lambda: (
                r.rows("SELECT state, exit_lane FROM stays WHERE order_id = ?", order_id)
                == [("exited", "BX9")]
            ),
            what="the stay closed here after its exit at the other booth",
        )
        status = engine.lot_status()
        assert status is not None and status.online and "lot: online" in status.describe()
        # the lot is in the sync's status (the window's indicator, booth sync status) and its events
        sync = engine.sync_status()
        assert sync.lot is not None and sync.lot.online
        assert describe_status(sync)[-1].startswith("lot server: online, ")
        assert any(isinstance(e, SyncChanged) and e.status.lot is not None for e in r.events)
        engine.stop()
        db = open_database(f"sqlite:///{r.db_path}")
        try:
            assert journal(db) == []  # the last push before the stop took what was left
            assert_mirrored(db, lot, "exit-a")
        finally:
            db.close()
        assert on_server("SELECT rule FROM lot_conflicts") == []  # one exit, seen at both booths
        [(pushed, backlog)] = on_server(
            "SELECT pushed_seq, backlog FROM lot_booths WHERE booth_id = 'exit-a'"
        )
        assert pushed > 0 and backlog == 0
    finally:
        lot.dispose()


def test_a_booth_without_a_lot_has_no_journal_and_no_lot_status(make_engine: MakeEngine) -> None:
    r = make_engine()
    assert r.engine.lot_status() is None
    assert r.engine.sync_status().lot is None
    assert r.rows("SELECT name FROM sqlite_master WHERE name LIKE 'lot_%'") == []


def test_a_booth_that_left_its_lot_starts_with_no_journal(make_engine: MakeEngine, tmp_path: Path) -> None:
    """[lot] removed from a booth's settings: its database's journal and triggers go at the next start, so no
    journal grows that no pusher empties (joining again journals every row afresh: test_lot_journal)."""
    from booth.lot.journal import ensure_journal
    from booth.store import Store

    db = open_database(f"sqlite:///{tmp_path / 'booth.sqlite'}")  # (the file make_engine's engine opens)
    ensure_journal(db.engine)
    Store(db).audit(actor="a", action="x", detail={}, at=datetime.now(UTC))
    assert len(journal(db)) == 1
    db.close()
    r = make_engine()
    r.engine.vehicle_at("E1", "苏E00002").result(5)
    wait_until(lambda: r.rows("SELECT id FROM stays WHERE plate = '苏E00002'"), what="the car's stay")
    assert r.rows("SELECT name FROM sqlite_master WHERE name LIKE 'lot_%'") == []


def test_a_stay_released_at_another_booth_closes_with_its_outpark_and_tmall_leave_sent_once(
    make_engine: MakeEngine, pg_url: str
) -> None:
    """The engine hands its exit rows to the puller: a stay closed by ``released_without_stay`` queues
    Bolink's ``outpark`` of a free exit at the release's lane and time, and the Tmall ``leave`` a lane's exit
    would; the Bolink relay (the engine's emulator) and the Tmall relay (the in-process TOP sandbox) send
    them, each once."""
    lot = lot_server(pg_url)
    try:
        lot_settings = {"server": pg_url, "booth_id": "entry", "push_interval_s": 0.2, "heartbeat_s": 0.2}
        tmall = {"gateway_url": "sandbox", "app_key": "12345678", "app_secret": "s3cret", "mall_id": 77}
        r = make_engine(lot=lot_settings, tmall=tmall)
        engine = r.engine
        wait_until(lambda: getattr(engine.lot_status(), "online", False), what="the lot online")
        engine.vehicle_at("E1", "苏E00002").result(5)
        [(stay_id, order_id)] = wait_until(
            lambda: r.rows("SELECT id, order_id FROM stays WHERE plate = '苏E00002'")
        )
        wait_until(
            lambda: r.rows("SELECT state FROM outbox WHERE kind = 'backflow_arrive'") == [("sent",)],
            what="the arrive sent",
        )
        # another booth let the car out as no_stay while the server was away: its release is on the server
        released_at = engine.now() + timedelta(minutes=20)
        release = {
            "booth_id": "exit-b",
            "id": 1,
            "at": released_at,
            "kind": "free_release",
            "lane_id": "BX1",
            "stay_id": None,
            "exit_order_id": None,
            "plate": "苏E00002",
            "due_fen": 0,
            "reason": "no_entry_record",
            "note": "",
            "operator": "att",
            "approved_by": None,
            "photo": None,
        }
        with lot.begin() as connection:
            connection.execute(MIRRORS["lane_exceptions"].insert().values(**release))
        wait_until(
            lambda: r.rows("SELECT state, exit_lane FROM stays WHERE id = ?", stay_id) == [("exited", "BX1")],
            what="the stay closed by the puller",
        )
        wait_until(
            lambda: r.rows("SELECT state FROM outbox WHERE kind = 'backflow_leave'") == [("sent",)],
            what="its Tmall leave sent",
        )
        wait_until(
            lambda: r.rows("SELECT state FROM outbox WHERE kind = 'outpark'") == [("sent",)],
            what="its Bolink outpark sent",
        )
        [outpark] = [d for name, d in engine.sandbox.calls if name == "outpark"]
        assert {k: outpark[k] for k in ("car_number", "order_id", "pay_type", "total", "out_channel_id")} == {
            "car_number": "苏E00002",
            "order_id": order_id,
            "pay_type": "free",
            "total": "0.00",
            "out_channel_id": "BX1",  # the release's lane (booth.engine.payments.released_elsewhere_outpark)
        }
        assert outpark["out_time"] == int(released_at.timestamp())
        assert outpark["in_channel_id"] == "E1"
        assert engine.sandbox.orders[order_id].state == "settled_free"  # Bolink no longer has it in the park
        [(stay_of, payload)] = r.rows(
            "SELECT stay_id, payload_json FROM outbox WHERE kind = 'backflow_leave'"
        )
        assert stay_of == stay_id
        assert {k: v for k, v in json.loads(payload).items() if k != "time"} == {
            "action": "leave",
            "car_no": "苏E00002",
            "order_id": order_id,
        }
        engine.stop()
        with lot.connect() as connection:
            rules = connection.execute(text("SELECT rule FROM lot_conflicts")).scalars().all()
        assert rules == ["released_without_stay"]
        assert len(r.rows("SELECT id FROM outbox WHERE kind = 'backflow_leave'")) == 1
        assert r.rows("SELECT stay_id FROM outbox WHERE kind = 'outpark'") == [(stay_id,)]
        assert len([name for name, _ in engine.sandbox.calls if name == "outpark"]) == 1
    finally:
        lot.dispose()
