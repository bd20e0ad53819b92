"""The pull and the lot checks (issue #18) on PostgreSQL: a stay that left at another booth is closed here,
people are lot-wide (a disable, an enable, a new PIN or a new name: the latest wins), the recent entries of
other booths are kept for the exit's lookup, and the checks list a trade number booked twice and a stay
closed twice."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from booth.config.office import StaffSettings
from booth.lot.pull import LotPuller, RecentEntries
from booth.lot.push import LotPusher
from booth.office.staff import AuthError, Staff
from booth.store import Database, Store
from tests.lot_rig import Clock, booth_database, journal, lot_server, push_all

pytestmark = pytest.mark.postgresql


@pytest.fixture
def lot(pg_url: str) -> Iterator[Engine]:
    engine = lot_server(pg_url)
    yield engine
    engine.dispose()


class Booth:
    def __init__(self, tmp_path: Path, lot: Engine, booth_id: str, clock: Clock) -> None:
        self.id = booth_id
        self.db: Database = booth_database(tmp_path, booth_id)
        self.store = Store(self.db, clock=clock)
        self.staff = Staff(self.db, StaffSettings(), clock=clock, scrypt_n=2**10)
        self.pusher = LotPusher(self.db, lot, booth_id, clock=clock)
        self.puller = LotPuller(self.db, lot, booth_id, clock=clock)
        self.clock = clock

    def push(self) -> None:
        push_all(self.pusher)

    def enter(self, order_id: str, plate: str, lane: str) -> int:
        return self.store.create_stay(
            order_id=order_id,
            plate=plate,
            plate_colour="blue",
            vehicle_class="small",
            lane_id=lane,
            entry_at=self.clock.tick(60),
        ).id

    def pay(self, stay_id: int, trade_no: str | None, lane: str) -> None:
        stay = self.store.stay_by_id(stay_id)
        assert stay is not None
        order = self.store.open_exit_order(
            stay_id=stay_id,
            lane_id=lane,
            opened_at=self.clock.tick(5),
            quote_json="{}",
            gross_fen=500,
            paid_before_fen=0,
            discount_fen=0,
            due_fen=500,
        )
        self.store.record_payment(
            order_ref=stay.order_id,
            exit_order_id=order.id,
            channel="wechat",
            pay_channel=None,
            trade_no=trade_no,
            amount_fen=500,
            paid_at=self.clock.tick(5),
            lane_id=lane,
            operator="att",
            payer_id=None,
            raw={},
        )


def conflicts(lot: Engine) -> list[tuple[str, str, list[dict[str, object]]]]:
    with lot.connect() as connection:
        rows = connection.execute(text("SELECT rule, subject, detail_json FROM lot_conflicts ORDER BY id"))
        return [(rule, subject, json.loads(detail)) for rule, subject, detail in rows]


def test_a_stay_that_left_at_another_booth_is_closed_here_and_pushed_back(
    tmp_path: Path, lot: Engine
) -> None:
    clock = Clock()
    a, b = Booth(tmp_path, lot, "entry", clock), Booth(tmp_path, lot, "exit", clock)
    stay_a = a.enter("o_1", "苏A11111", "E1")
    other = a.enter("o_2", "苏A22222", "E1")
    a.push()
    # the car leaves at b (its imported copy, same order id), paid and closed there
    stay_b = b.enter("o_1", "苏A11111", "E1")
    b.pay(stay_b, "T-1", "X7")
    b.store.close_stay(stay_b, lane_id="X7", exit_at=clock.tick(10))
    b.push()
    assert a.puller.close_stays_closed_elsewhere() == 1
    closed = a.store.stay_by_id(stay_a)
    assert closed is not None and closed.state == "exited"
    assert (closed.exit_lane, closed.exit_at) == ("X7", clock.now)
    still = a.store.stay_by_id(other)
    assert still is not None and still.state == "in_lot"
    assert any(tbl == "stays" and row == stay_a for _, tbl, row in journal(a.db))  # journaled: pushed back
    a.push()
    with lot.connect() as connection:
        states = connection.execute(
            text("SELECT booth_id, state, exit_lane FROM lot_stays WHERE order_id = 'o_1' ORDER BY booth_id")
        ).all()
    assert [tuple(r) for r in states] == [("entry", "exited", "X7"), ("exit", "exited", "X7")]
    assert conflicts(lot) == []  # the same exit at both booths is one close, not two
    assert a.puller.close_stays_closed_elsewhere() == 0  # nothing left to do


def test_a_stay_closed_at_two_booths_with_different_exits_is_a_conflict(tmp_path: Path, lot: Engine) -> None:
    clock = Clock()
    a, b = Booth(tmp_path, lot, "a", clock), Booth(tmp_path, lot, "b", clock)
    stay_a = a.enter("o_1", "苏A11111", "E1")
    stay_b = b.enter("o_1", "苏A11111", "E1")
    a.store.close_stay(stay_a, lane_id="XA", exit_at=clock.tick(10))
    b.store.close_stay(stay_b, lane_id="XB", exit_at=clock.tick(10))
    a.push()
    assert conflicts(lot) == []
    b.push()
    found = conflicts(lot)
    assert [(rule, subject) for rule, subject, _ in found] == [("stay_closed_twice", "o_1")]
    assert {(d["booth_id"], d["exit_lane"]) for d in found[0][2]} == {("a", "XA"), ("b", "XB")}
    # pushed again (another change of the same stay): still one conflict
    b.store.audit(actor="x", action="y", detail={}, at=clock.now)
    with b.db.engine.begin() as connection:
        connection.exec_driver_sql(f"UPDATE stays SET plate = '苏A11112' WHERE id = {stay_b}")
    b.push()
    assert len(conflicts(lot)) == 1


def test_a_trade_number_booked_at_two_booths_is_a_conflict_and_pushes_are_never_refused(
    tmp_path: Path, lot: Engine
) -> None:
    clock = Clock()
    a, b = Booth(tmp_path, lot, "a", clock), Booth(tmp_path, lot, "b", clock)
    a.pay(a.enter("o_a", "苏A11111", "E1"), "T-same", "XA")
    a.pay(a.enter("o_c", "苏A33333", "E1"), None, "XA")  # cash: no trade number, never a conflict
    b.pay(b.enter("o_b", "苏A22222", "E1"), "T-same", "XB")
    b.pay(b.enter("o_d", "苏A44444", "E1"), None, "XB")
    b.pay(b.enter("o_e", "苏A55555", "E1"), "T-other", "XB")
    a.push()
    b.push()
    found = conflicts(lot)
    assert [(rule, subject) for rule, subject, _ in found] == [("trade_no_twice", "T-same")]
    assert sorted(str(d["booth_id"]) for d in found[0][2]) == ["a", "b"]
    with lot.connect() as connection:  # both payments are on the server all the same
        assert (
            connection.execute(text("SELECT count(*) FROM lot_payments WHERE trade_no = 'T-same'")).scalar()
            == 2
        )


def test_people_are_lot_wide_and_the_latest_disable_or_enable_wins(tmp_path: Path, lot: Engine) -> None:
    clock = Clock()
    a, b = Booth(tmp_path, lot, "a", clock), Booth(tmp_path, lot, "b", clock)
    a.staff.add_person("boss", "Boss", "supervisor", "2468", by="setup")
    a.staff.add_person("ann", "Ann", "attendant", "1357", by="boss")
    b.staff.add_person("bob", "Bob", "supervisor", "9753", by="setup")
    a.push()
    b.push()
    assert b.puller.take_people() == (2, 0)
    assert a.puller.take_people() == (1, 0)
    assert b.staff.authenticate("ann", "1357").username == "ann"  # her PIN, set at a, works at b
    assert a.staff.authenticate("bob", "9753", role="supervisor").username == "bob"
    a.push()
    b.push()
    assert b.puller.take_people() == (0, 0) and a.puller.take_people() == (0, 0)  # nothing comes back
    # ann is disabled at a: at b too
    clock.tick(60)
    a.staff.disable("ann", by="boss")
    a.push()
    assert b.puller.take_people() == (0, 1)
    with pytest.raises(AuthError) as refused:
        b.staff.authenticate("ann", "1357")
    assert refused.value.code == "disabled"
    b.push()
    assert a.puller.take_people() == (0, 0)  # b's copy of the disable is not an event of its own
    # later, bob enables her at b: at a too, and neither undoes the other afterwards
    clock.tick(60)
    b.staff.enable("ann", by="bob")
    b.push()
    assert a.puller.take_people() == (0, 1)
    assert a.staff.authenticate("ann", "1357").username == "ann"
    a.push()
    assert b.puller.take_people() == (0, 0) and a.puller.take_people() == (0, 0)
    # a new PIN for ann at b: at a too (a supervisor's change, and then her own at a: the latest wins)
    clock.tick(60)
    b.staff.set_pin("ann", "8642", by="bob")
    b.push()
    assert a.puller.take_people() == (0, 1)
    assert a.staff.authenticate("ann", "8642").username == "ann"
    with pytest.raises(AuthError):
        a.staff.authenticate("ann", "1357")
    a.push()
    assert b.puller.take_people() == (0, 0)  # a's copy is not an event: nothing comes back
    clock.tick(60)
    a.staff.set_pin("ann", "9999", by="ann")
    a.push()
    assert b.puller.take_people() == (0, 1) and a.puller.take_people() == (0, 0)
    assert b.staff.authenticate("ann", "9999").username == "ann"
    with a.db.read_engine.connect() as connection:
        actions = [
            r for (r,) in connection.exec_driver_sql("SELECT action FROM audit_log WHERE actor = 'lot'")
        ]
    assert sorted(actions) == ["lot_person_added", "lot_person_enabled", "lot_pin_changed"]


def lot_audit(booth: Booth) -> list[tuple[str, dict[str, object]]]:
    """The audit entries the pull wrote at this booth (actor "lot"), in order."""
    with booth.db.read_engine.connect() as connection:
        rows = connection.exec_driver_sql(
            "SELECT action, detail_json FROM audit_log WHERE actor = 'lot' ORDER BY id"
        )
        return [(action, json.loads(detail)) for action, detail in rows]


def names(*booths: Booth) -> list[str]:
    found = [booth.staff.person("ann") for booth in booths]
    return [person.display_name if person is not None else "" for person in found]


def test_a_rename_reaches_every_booth_and_the_latest_wins(tmp_path: Path, lot: Engine) -> None:
    clock = Clock()
    a, b = Booth(tmp_path, lot, "a", clock), Booth(tmp_path, lot, "b", clock)
    a.staff.add_person("boss", "Boss", "supervisor", "2468", by="setup")
    a.staff.add_person("ann", "ann", "attendant", "1357", by="boss")  # added by staff number alone
    a.push()
    assert b.puller.take_people() == (2, 0)
    # renamed at a: b shows the new name after a pull, audited there as a copy
    clock.tick(60)
    a.staff.rename("ann", "李娜", by="boss")
    a.push()
    assert b.puller.pull_once().people_changed == 1
    assert names(a, b) == ["李娜", "李娜"]
    assert lot_audit(b)[-1] == ("lot_person_renamed", {"username": "ann", "booth": "a"})
    b.push()
    # a second pull changes nothing, and b's copy is not an event of its own: nothing comes back to a
    assert b.puller.take_people() == (0, 0) and a.puller.take_people() == (0, 0)
    assert [action for action, _ in lot_audit(b)].count("lot_person_renamed") == 1
    assert lot_audit(a) == []
    # a later rename at b wins over the older one at a, at a too, and neither undoes the other afterwards
    clock.tick(60)
    b.staff.rename("ann", "李娜娜", by="boss")
    b.push()
    assert a.puller.take_people() == (0, 1)
    assert b.puller.take_people() == (0, 0)  # a's rename is older than b's: b keeps its own
    assert names(a, b) == ["李娜娜", "李娜娜"]
    a.push()
    assert b.puller.take_people() == (0, 0) and a.puller.take_people() == (0, 0)
    assert lot_audit(a) == [("lot_person_renamed", {"username": "ann", "booth": "b"})]
    # a rename to the name the other booth already has: the latest, but no change and no audit there
    clock.tick(60)
    b.staff.rename("ann", "Ann", by="boss")
    clock.tick(60)
    a.staff.rename("ann", "Ann", by="boss")
    a.push()
    b.push()
    assert a.puller.take_people() == (0, 0) and b.puller.take_people() == (0, 0)
    assert names(a, b) == ["Ann", "Ann"]
    # two renames at the same instant: both booths keep the same one (the greater booth id's), no swap
    clock.tick(60)
    a.staff.rename("ann", "Ann A", by="boss")
    b.staff.rename("ann", "Ann B", by="boss")
    a.push()
    b.push()
    assert a.puller.take_people() == (0, 1) and b.puller.take_people() == (0, 0)
    assert names(a, b) == ["Ann B", "Ann B"]
    a.push()
    assert b.puller.take_people() == (0, 0) and a.puller.take_people() == (0, 0)
    assert [action for action, _ in lot_audit(a)] == ["lot_person_renamed"] * 2
    assert [action for action, _ in lot_audit(b)] == ["lot_person_added"] * 2 + ["lot_person_renamed"]


def test_recent_entries_are_the_other_booths_open_stays_closed_nowhere(tmp_path: Path, lot: Engine) -> None:
    clock = Clock()
    a, b = Booth(tmp_path, lot, "a", clock), Booth(tmp_path, lot, "b", clock)
    a.enter("o_old", "苏A11111", "E1")
    clock.tick(8 * 24 * 3600)  # over a week ago
    a.enter("o_1", "苏A11111", "E1")
    newest = a.enter("o_2", "苏A11111", "E2")
    gone = a.enter("o_3", "苏A33333", "E1")
    b.enter("o_b", "苏A44444", "E1")  # b's own stay: not offered to b
    a.push()
    b.push()
    recent = RecentEntries(lot, "b", clock=clock)
    assert recent.find("苏A11111") is None  # nothing before the first refresh
    assert recent.refresh() == 3
    entry = recent.find("苏A11111")
    assert entry is not None and (entry.order_id, entry.entry_lane, entry.booth_id) == ("o_2", "E2", "a")
    assert entry.entry_at == a.store.stay_by_id(newest).entry_at  # type: ignore[union-attr]
    assert recent.find("苏A44444") is None
    recent.forget("o_2")
    assert recent.find("苏A11111").order_id == "o_1"  # type: ignore[union-attr]
    # a third booth's imported copy of a's stay is the same stay, and names a as its origin; a copy of b's
    # own stay elsewhere is not offered to b
    c = Booth(tmp_path, lot, "0c", clock)  # (its id sorts before a's: the copy must still come second)
    with c.db.engine.begin() as connection:
        for order_id, plate, origin in (("o_1", "苏A11111", "a"), ("o_b", "苏A44444", "b")):
            original = (a if origin == "a" else b).store.stay_by_order_id(order_id)
            assert original is not None  # (an import keeps the entry time)
            connection.execute(
                text(
                    "INSERT INTO stays (order_id, plate, plate_colour, vehicle_class, entry_lane, entry_at,"
                    " state, created_at, origin_booth) VALUES (:o, :p, 'blue', 'small', 'E1', :at, 'in_lot',"
                    " :at, :origin)"
                ),
                {"o": order_id, "p": plate, "at": original.entry_at.replace(tzinfo=None), "origin": origin},
            )
    c.push()
    recent.refresh()
    entry = recent.find("苏A11111")
    assert entry is not None and (entry.order_id, entry.booth_id, entry.origin_booth) == ("o_1", "a", "a")
    assert recent.find("苏A44444") is None
    # a stay closed at some booth (here, a copy closed at b) is offered nowhere
    copy = b.enter("o_3", "苏A33333", "E1")
    b.store.close_stay(copy, lane_id="XB", exit_at=clock.tick(5))
    b.push()
    assert recent.find("苏A33333") is not None
    recent.refresh()
    assert recent.find("苏A33333") is None
    assert gone


def test_the_puller_thread_keeps_going_through_a_server_that_is_away(tmp_path: Path) -> None:
    clock = Clock()
    db = booth_database(tmp_path, "a")
    nowhere = lot_server("postgresql://postgres@127.0.0.1:1/none", create=False)
    puller = LotPuller(db, nowhere, "a", interval_s=0.02, clock=clock)
    Store(db, clock=clock).create_stay(
        order_id="o_1",
        plate="苏A11111",
        plate_colour="blue",
        vehicle_class="small",
        lane_id="E1",
        entry_at=clock.now,
    )
    puller.start()
    try:
        from tests.conftest import wait_until

        wait_until(lambda: puller.last_error, what="the puller to fail")
    finally:
        puller.stop()
    assert "OperationalError" in puller.last_error
