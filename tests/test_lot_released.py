"""A car let out as no_stay at one booth while the lot server was away, matched later to its open stay at
the entry booth (issue #18, lot rule ``released_without_stay``, booth/lot/released.py), on PostgreSQL with
two (or three) booth stores: the stay is closed once at its own booth by that booth's pull, with the
release's lane and time, never charged; one conflict row lists both sides and the fee for the supervisor.
Each booth's puller queues what the engine's does with the close (its ``exit_items``): Bolink's ``outpark``
of a free exit at the release's lane and time, once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text

from booth.domain.tariff import quote_fee
from booth.engine.payments import released_elsewhere_outpark
from booth.lot.pull import LotPuller
from booth.lot.push import LotPusher
from booth.lot.released import tariff_pricing
from booth.store import Database, Store
from booth.store.models import AuditEntry, OutboxRow
from booth.store.records import LaneExceptionItem
from tests.lot_rig import Clock, booth_database, lot_server, push_all

pytestmark = pytest.mark.postgresql


@pytest.fixture
def lot(pg_url: str) -> Iterator[Engine]:
    engine = lot_server(pg_url)
    yield engine
    engine.dispose()


@pytest.fixture
def settings(tmp_path: Path) -> Any:
    from tests.conftest import engine_settings

    return engine_settings(tmp_path)


def exit_items(sync: Any = None) -> Any:
    """What the engine hands its puller (booth.engine.loop): Bolink's outpark of the exit, and Tmall's leave
    when ``sync`` (a CloudSync) has Tmall's backflow on."""

    def items(stay: Any, at: datetime, lane_id: str) -> Any:
        tmall = [] if sync is None else sync.exit_items(stay, at=at)
        return [*released_elsewhere_outpark(stay, lane_id=lane_id, at=at), *tmall]

    return items


class Booth:
    def __init__(self, tmp_path: Path, lot: Engine, booth_id: str, clock: Clock, settings: Any) -> None:
        self.id = booth_id
        self.db: Database = booth_database(tmp_path, booth_id)
        self.store = Store(self.db, clock=clock)
        self.pusher = LotPusher(self.db, lot, booth_id, clock=clock)
        price = tariff_pricing(self.store, settings.tariff, settings.park.zone)
        self.puller = LotPuller(self.db, lot, booth_id, clock=clock, price=price, exit_items=exit_items())
        self.clock = clock

    def push(self) -> None:
        push_all(self.pusher)

    def enter(self, order_id: str, plate: str, lane: str = "E1") -> int:
        return self.store.create_stay(
            order_id=order_id,
            plate=plate,
            plate_colour="blue",
            vehicle_class="small",
            lane_id=lane,
            entry_at=self.clock.tick(600),
        ).id

    def release(self, plate: str, lane: str = "X1", kind: str = "free_release") -> tuple[int, datetime]:
        """The attendant lets a car the booth does not know out (no_stay): an exception with the plate."""
        at = self.clock.tick(3600)
        record = self.store.record_lane_exception(
            LaneExceptionItem(
                kind=kind, lane_id=lane, reason="no_entry_record", note="", operator="att", at=at, plate=plate
            )
        )
        return record.id, at

    def stay(self, stay_id: int) -> Any:
        found = self.store.stay_by_id(stay_id)
        assert found is not None
        return found

    def count(self, model: Any, **where: Any) -> int:
        with self.db.read_engine.connect() as c:
            query = select(func.count()).select_from(model)
            for name, value in where.items():
                query = query.where(getattr(model, name) == value)
            return int(c.execute(query).scalar() or 0)

    def outparks(self) -> list[tuple[int | None, str, dict[str, Any]]]:
        """The Bolink outparks in this booth's outbox: (stay id, state, payload)."""
        with self.db.read_engine.connect() as c:
            rows = c.execute(
                select(OutboxRow.stay_id, OutboxRow.state, OutboxRow.payload_json)
                .where(OutboxRow.cloud == "bolink", OutboxRow.kind == "outpark")
                .order_by(OutboxRow.id)
            ).all()
        return [(stay_id, state, json.loads(payload)) for stay_id, state, payload in rows]


def free_outpark(order_id: str, stay_id: int, lane: str, at: datetime) -> dict[str, Any]:
    """The payload of the outpark a free release at ``lane`` queues (booth.engine.payments)."""
    return {
        "order_id": order_id,
        "pay_type": "free",
        "total_fen": 0,
        "out_time": int(at.timestamp()),
        "out_channel_id": lane,
        "stay_id": stay_id,
    }


def conflicts(lot: Engine, rule: str = "released_without_stay") -> list[tuple[str, list[dict[str, Any]]]]:
    with lot.connect() as connection:
        rows = connection.execute(
            text("SELECT subject, detail_json FROM lot_conflicts WHERE rule = :r ORDER BY id"), {"r": rule}
        )
        return [(subject, json.loads(detail)) for subject, detail in rows]


def all_conflicts(lot: Engine) -> list[str]:
    with lot.connect() as connection:
        return [r for (r,) in connection.execute(text("SELECT rule FROM lot_conflicts ORDER BY id"))]


def test_a_stay_released_without_it_elsewhere_is_closed_once_with_the_release_and_listed(
    tmp_path: Path, lot: Engine, settings: Any
) -> None:
    clock = Clock()
    a, b = Booth(tmp_path, lot, "entry", clock, settings), Booth(tmp_path, lot, "exit", clock, settings)
    stay = a.enter("o_1", "苏A11111")
    other = a.enter("o_2", "苏A22222")
    entered = a.stay(stay).entry_at
    a.push()
    # the server was away at b's exit: the car went to the attendant as no_stay and was let out
    exception_id, released_at = b.release("苏A11111", "X1")
    b.push()
    outbox_before = a.count(OutboxRow)

    assert a.puller.close_stays_released_elsewhere() == 1
    closed = a.stay(stay)
    assert (closed.state, closed.exit_lane, closed.exit_at) == ("exited", "X1", released_at)
    assert a.stay(other).state == "in_lot"
    # never priced or charged after the fact: only Bolink is told, of a free exit at the release's lane
    assert a.count(OutboxRow) == outbox_before + 1
    assert a.outparks() == [(stay, "pending", free_outpark("o_1", stay, "X1", released_at))]
    assert a.count(AuditEntry, action="lot_released_without_stay") == 1
    expected_fee = quote_fee(
        settings.tariff,
        plate="苏A11111",
        colour="blue",
        entry=entered,
        exit=released_at,
        tz=settings.park.zone,
    ).due_fen
    assert expected_fee > 0
    [(subject, detail)] = conflicts(lot)
    assert subject == f"exit:{exception_id}"
    sides = {side["side"]: side for side in detail}
    assert sides["release"] | {"at": None} == {
        "side": "release",
        "booth_id": "exit",
        "id": exception_id,
        "kind": "free_release",
        "lane_id": "X1",
        "plate": "苏A11111",
        "at": None,
        "reason": "no_entry_record",
        "operator": "att",
    }
    assert datetime.fromisoformat(sides["release"]["at"]) == released_at
    stay_side = sides["stay"]
    assert (stay_side["booth_id"], stay_side["id"], stay_side["order_id"]) == ("entry", stay, "o_1")
    assert stay_side["fee_fen"] == expected_fee

    # exactly once, across pushes and pulls, at both booths
    a.push()
    for _ in range(2):
        assert a.puller.pull_once().released == 0
        assert b.puller.pull_once().released == 0
        a.push()
        b.push()
    assert len(conflicts(lot)) == 1
    assert all_conflicts(lot) == ["released_without_stay"]  # the close at the release's lane is no breach
    assert a.count(AuditEntry, action="lot_released_without_stay") == 1
    assert a.outparks() == [(stay, "pending", free_outpark("o_1", stay, "X1", released_at))]
    assert b.outparks() == []  # the release booth had no order: it tells Bolink nothing
    with lot.connect() as connection:
        mirrored = connection.execute(
            text("SELECT state, exit_lane FROM lot_stays WHERE booth_id = 'entry' AND order_id = 'o_1'")
        ).one()
    assert tuple(mirrored) == ("exited", "X1")  # pushed back


def test_a_stay_entered_after_the_release_is_not_touched(tmp_path: Path, lot: Engine, settings: Any) -> None:
    clock = Clock()
    a, b = Booth(tmp_path, lot, "entry", clock, settings), Booth(tmp_path, lot, "exit", clock, settings)
    b.release("苏A11111")
    b.push()
    later = a.enter("o_1", "苏A11111")  # the same plate comes in after that release
    a.push()
    assert a.puller.pull_once().released == 0
    assert a.stay(later).state == "in_lot"
    assert conflicts(lot) == []


def test_the_same_plate_released_twice(tmp_path: Path, lot: Engine, settings: Any) -> None:
    """Released twice with one stay before both: closed once, at the first release, and the second release
    names no stay. With a second stay entered between the releases, each release closes its own stay."""
    clock = Clock()
    a, b = Booth(tmp_path, lot, "entry", clock, settings), Booth(tmp_path, lot, "exit", clock, settings)
    first = a.enter("o_1", "苏A11111")
    a.push()
    _, at_1 = b.release("苏A11111", "X1")
    _, at_2 = b.release("苏A11111", "X2")
    b.push()
    assert a.puller.close_stays_released_elsewhere() == 1
    closed = a.stay(first)
    assert (closed.exit_lane, closed.exit_at) == ("X1", at_1)
    assert [side["id"] for _, d in conflicts(lot) for side in d if side["side"] == "stay"] == [first]
    a.push()
    assert a.puller.close_stays_released_elsewhere() == 0
    assert a.outparks() == [(first, "pending", free_outpark("o_1", first, "X1", at_1))]  # Bolink told once

    second = a.enter("o_2", "苏B22222")
    _, at_3 = b.release("苏B22222", "X1")
    third = a.enter("o_3", "苏B22222")  # (created here unaware: the entry did not see the first leave)
    _, at_4 = b.release("苏B22222", "X2")
    a.push()
    b.push()
    assert a.puller.close_stays_released_elsewhere() == 2
    assert (a.stay(second).exit_lane, a.stay(second).exit_at) == ("X1", at_3)
    assert (a.stay(third).exit_lane, a.stay(third).exit_at) == ("X2", at_4)
    assert len(conflicts(lot)) == 3
    a.push()
    assert a.puller.close_stays_released_elsewhere() == 0
    assert len(conflicts(lot)) == 3
    assert at_2 < at_3  # (the second release of 苏A11111 stayed unmatched)
    assert a.outparks() == [
        (first, "pending", free_outpark("o_1", first, "X1", at_1)),
        (second, "pending", free_outpark("o_2", second, "X1", at_3)),
        (third, "pending", free_outpark("o_3", third, "X2", at_4)),
    ]


def test_the_newest_stay_of_the_plate_in_the_lot_is_the_one_and_only_its_booth_closes_it(
    tmp_path: Path, lot: Engine, settings: Any
) -> None:
    clock = Clock()
    a, c = Booth(tmp_path, lot, "entry-a", clock, settings), Booth(tmp_path, lot, "entry-c", clock, settings)
    b = Booth(tmp_path, lot, "exit", clock, settings)
    older = a.enter("o_a", "苏A11111")
    newer = c.enter("o_c", "苏A11111")
    a.push()
    c.push()
    _, at = b.release("苏A11111")
    b.push()
    assert a.puller.close_stays_released_elsewhere() == 0  # not a's to close
    assert c.puller.close_stays_released_elsewhere() == 1
    assert a.puller.close_stays_released_elsewhere() == 0
    assert a.stay(older).state == "in_lot"
    assert (c.stay(newer).state, c.stay(newer).exit_at) == ("exited", at)
    assert len(conflicts(lot)) == 1
    assert a.outparks() == []  # a's stay is still in the lot: Bolink hears nothing of it
    assert c.outparks() == [(newer, "pending", free_outpark("o_c", newer, "X1", at))]


def test_a_pull_that_died_between_its_claim_and_the_close_is_finished_by_the_next(
    tmp_path: Path, lot: Engine, settings: Any
) -> None:
    clock = Clock()
    a, b = Booth(tmp_path, lot, "entry", clock, settings), Booth(tmp_path, lot, "exit", clock, settings)
    stay = a.enter("o_1", "苏A11111")
    a.push()
    _, at = b.release("苏A11111")
    b.push()

    def dies(fn: Any) -> Any:
        raise RuntimeError("killed before the local close")

    dying = LotPuller(a.db, lot, "entry", clock=clock, local_write=dies, exit_items=exit_items())
    with pytest.raises(RuntimeError):
        dying.close_stays_released_elsewhere()
    assert len(conflicts(lot)) == 1  # claimed on the server
    assert a.stay(stay).state == "in_lot"  # not closed here
    assert a.outparks() == []  # nothing queued either
    assert a.puller.close_stays_released_elsewhere() == 1
    assert (a.stay(stay).state, a.stay(stay).exit_at) == ("exited", at)
    assert len(conflicts(lot)) == 1
    assert a.outparks() == [(stay, "pending", free_outpark("o_1", stay, "X1", at))]
    assert a.puller.close_stays_released_elsewhere() == 0
    assert len(a.outparks()) == 1


def test_a_manual_lift_at_an_entry_lane_lets_a_car_in_and_matches_nothing(
    tmp_path: Path, lot: Engine, settings: Any
) -> None:
    clock = Clock()
    a, b = Booth(tmp_path, lot, "entry", clock, settings), Booth(tmp_path, lot, "other", clock, settings)
    stay = a.enter("o_1", "苏A11111")
    b.enter("o_9", "苏C99999", lane="E7")  # b's lane E7 is an entry lane: it has entered stays
    a.push()
    b.release("苏A11111", "E7", kind="manual_lift")
    b.push()
    assert a.puller.close_stays_released_elsewhere() == 0
    assert a.stay(stay).state == "in_lot"
    assert a.outparks() == []
    _, at = b.release("苏A11111", "X3", kind="manual_lift")  # a lift at an exit lane in no_stay counts
    b.push()
    assert a.puller.close_stays_released_elsewhere() == 1
    assert (a.stay(stay).exit_lane, a.stay(stay).exit_at) == ("X3", at)
    assert a.outparks() == [(stay, "pending", free_outpark("o_1", stay, "X3", at))]


def test_the_lot_report_lists_the_match_for_the_supervisor(
    tmp_path: Path, lot: Engine, settings: Any, pg_url: str
) -> None:
    from booth.cli.lot import report_lines
    from booth.lot.report import build_lot_report

    clock = Clock()
    a, b = Booth(tmp_path, lot, "entry", clock, settings), Booth(tmp_path, lot, "exit", clock, settings)
    a.enter("o_1", "苏A11111")
    a.push()
    b.release("苏A11111")
    b.push()
    a.puller.close_stays_released_elsewhere()
    a.push()
    [(_, detail)] = conflicts(lot)
    fee = next(side["fee_fen"] for side in detail if side["side"] == "stay")
    start = clock.now - timedelta(days=1)
    report = build_lot_report(pg_url, start, clock.now + timedelta(days=1), settings.park.zone)
    assert report.conflicts_by_rule == (("released_without_stay", 1),)
    [line] = report.conflicts
    assert line.booths == ("entry", "exit")
    text_lines = "\n".join(report_lines(report))
    assert "无入场记录放行，入场记录已关闭" in text_lines
    assert f"应收 {fee // 100}.{fee % 100:02d}，未收取" in text_lines
    assert "苏A11111" in line.note and "o_1" in line.note and "X1" in line.note


def test_the_close_queues_the_exits_tmall_leave_once_as_a_normal_exit_does(
    tmp_path: Path, lot: Engine
) -> None:
    """With Tmall's backflow on, the entry booth sent the car's ``arrive``; the close by this rule queues its
    ``leave`` (CloudSync.exit_items, as a lane's exit does) in the close's transaction, beside Bolink's
    outpark: once, also when a pull died between its claim and its close, and never again at later pulls."""
    from concurrent.futures import ThreadPoolExecutor

    from booth.sync.cloud_sync import CloudSync
    from booth.sync.rows import iso_utc
    from tests.conftest import engine_settings

    tmall = {"gateway_url": "sandbox", "app_key": "12345678", "app_secret": "s3cret", "mall_id": 77}
    settings = engine_settings(tmp_path, tmall=tmall)
    clock = Clock()
    a, b = Booth(tmp_path, lot, "entry", clock, settings), Booth(tmp_path, lot, "exit", clock, settings)
    executor = ThreadPoolExecutor(1)
    sync = CloudSync(settings, a.store, executor)  # never started: nothing is sent, rows are only queued
    items = exit_items(sync)
    price = tariff_pricing(a.store, settings.tariff, settings.park.zone)
    a.puller = LotPuller(a.db, lot, "entry", clock=clock, price=price, exit_items=items)
    stay = a.enter("o_1", "苏A11111")
    other = a.enter("o_2", "苏A22222")
    a.push()
    _, released_at = b.release("苏A11111", "X1")
    b.push()

    def leaves() -> list[tuple[int | None, str, dict[str, Any]]]:
        with a.db.read_engine.connect() as c:
            rows = c.execute(
                select(OutboxRow.stay_id, OutboxRow.state, OutboxRow.payload_json).where(
                    OutboxRow.cloud == "tmall", OutboxRow.kind == "backflow_leave"
                )
            ).all()
        return [(stay_id, state, json.loads(payload)) for stay_id, state, payload in rows]

    def dies(fn: Any) -> Any:
        raise RuntimeError("killed before the local close")

    dying = LotPuller(a.db, lot, "entry", clock=clock, local_write=dies, exit_items=items)
    with pytest.raises(RuntimeError):
        dying.close_stays_released_elsewhere()
    assert leaves() == [] and a.outparks() == []  # claimed on the server, not closed here: nothing queued

    assert a.puller.close_stays_released_elsewhere() == 1
    expected = {"action": "leave", "car_no": "苏A11111", "order_id": "o_1", "time": iso_utc(released_at)}
    outpark = (stay, "pending", free_outpark("o_1", stay, "X1", released_at))
    assert leaves() == [(stay, "pending", expected)]
    assert a.outparks() == [outpark]
    for _ in range(2):  # later pulls and pushes queue nothing more
        a.push()
        b.push()
        assert a.puller.pull_once().released == 0
    assert leaves() == [(stay, "pending", expected)]
    assert a.outparks() == [outpark]
    assert a.stay(other).state == "in_lot"
    with (
        lot.connect() as c
    ):  # on the server, the entry booth's row: it relays it itself (booth.sync.lot_relay)
        mirrored = c.execute(
            text("SELECT booth_id, stay_id FROM lot_outbox WHERE kind = 'backflow_leave'")
        ).all()
        outparks = c.execute(text("SELECT booth_id, stay_id FROM lot_outbox WHERE kind = 'outpark'")).all()
    assert mirrored == [("entry", stay)]
    assert outparks == [("entry", stay)]
    executor.shutdown()
