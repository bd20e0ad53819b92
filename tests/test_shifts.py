"""Shifts on a real SQLite file: open with a float, the expected cash from cash payments booked through the
store as the lane books them, the blind count by denomination, the variance and its co-signature, the
handover to the next shift, one open shift at a time, and bad counts refused with nothing changed.

The Staff here hashes PINs with scrypt n=2**10 (not 2**14) to keep the file fast."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import booth.office.shifts
from booth.config import ShiftSettings, StaffSettings
from booth.office.shifts import ShiftError, Shifts
from booth.office.staff import AuthError, Staff
from booth.store import Database, Store
from tests.conftest import T0, Clock

FULL_COUNT = {10_000: 5, 1_000: 1, 500: 1, 100: 2}  # 517.00 yuan


@pytest.fixture
def staff(db: Database, clock: Clock) -> Staff:
    staff = Staff(db, StaffSettings(lockout_after=3), clock=clock, scrypt_n=2**10)
    staff.add_person("boss", "王经理", "supervisor", "9999", by="system")
    staff.add_person("sue", "赵主管", "supervisor", "8888", by="boss")
    staff.add_person("ann", "李娜", "attendant", "1234", by="boss")
    staff.add_person("bob", "张伟", "attendant", "5678", by="boss")
    return staff


@pytest.fixture
def shifts(db: Database, staff: Staff, clock: Clock) -> Shifts:
    settings = ShiftSettings(default_float="500.00", cosign_variance="20.00")
    return Shifts(db, settings, staff, clock=clock)


@pytest.fixture
def store(db: Database, clock: Clock) -> Store:
    return Store(db, clock=clock)


def rows(db_path: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def shift_row(db_path: Path, shift_id: int) -> tuple[Any, ...]:
    return rows(db_path, "SELECT * FROM shifts WHERE id = ?", shift_id)[0]


def take_cash(store: Store, n: int, due_fen: int, at: datetime, *, operator: str = "ann") -> None:
    """A car exits and pays cash, booked the way the lane books it (booth.domain.lane._on_cash): the due
    (not the note tendered), channel "cash", trade number CASH_<lane>_<exit order>."""
    stay = store.create_stay(
        order_id=f"o_{n}",
        plate=f"苏A1000{n}",
        plate_colour="blue",
        vehicle_class="small",
        lane_id="E1",
        entry_at=at - timedelta(hours=1),
    )
    order = store.open_exit_order(
        stay_id=stay.id,
        lane_id="X1",
        opened_at=at,
        quote_json="{}",
        gross_fen=due_fen,
        paid_before_fen=0,
        discount_fen=0,
        due_fen=due_fen,
    )
    outcome = store.record_payment(
        order_ref=stay.order_id,
        exit_order_id=order.id,
        channel="cash",
        pay_channel=None,
        trade_no=f"CASH_X1_{order.id}",
        amount_fen=due_fen,
        paid_at=at,
        lane_id="X1",
        operator=operator,
        payer_id=None,
        raw=None,
    )
    assert outcome.status == "settled"


def bolink_payment(store: Store, n: int, amount_fen: int, at: datetime, *, pay_type: str) -> None:
    """Money Bolink reports (the driver paid by QR, or cash somewhere else): not in this drawer."""
    stay = store.create_stay(
        order_id=f"o_{n}",
        plate=f"苏B2000{n}",
        plate_colour="blue",
        vehicle_class="small",
        lane_id="E1",
        entry_at=at - timedelta(hours=1),
    )
    store.record_payment(
        order_ref=stay.order_id,
        exit_order_id=None,
        channel=pay_type,
        pay_channel=1,
        trade_no=f"T{n}",
        amount_fen=amount_fen,
        paid_at=at,
        lane_id="X1",
        operator="bolink",
        payer_id=None,
        raw=None,
    )


def audit_actions(db_path: Path) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (actor, action, json.loads(detail))
        for actor, action, detail in rows(
            db_path, "SELECT actor, action, detail_json FROM audit_log WHERE action LIKE 'shift%' ORDER BY id"
        )
    ]


# --- open ------------------------------------------------------------------------------------------------


def test_a_first_shift_opens_with_the_default_float(shifts: Shifts, db_path: Path) -> None:
    assert shifts.current() is None
    assert shifts.next_float_fen() == 50_000
    shift = shifts.open("ann")
    assert (shift.attendant, shift.attendant_name, shift.state) == ("ann", "李娜", "open")
    assert (shift.opened_at, shift.opening_float_fen) == (T0, 50_000)
    assert shift.closed_at is None and shift.counted is None and shift.expected_fen is None
    assert shifts.current() == shift == shifts.get(shift.id)
    assert audit_actions(db_path) == [
        ("ann", "shift_opened", {"shift_id": shift.id, "opening_float_fen": 50_000})
    ]


def test_only_one_shift_is_open_at_a_time(shifts: Shifts, clock: Clock, db_path: Path) -> None:
    first = shifts.open("ann", opening_float_fen=30_000)
    clock.now += timedelta(minutes=5)
    with pytest.raises(ShiftError) as refused:
        shifts.open("bob")
    assert refused.value.code == "shift_open"
    assert f"shift {first.id} of ann" in refused.value.message
    assert rows(db_path, "SELECT count(*) FROM shifts") == [(1,)]
    assert shifts.current() == first


def test_the_databases_one_open_shift_index_is_turned_into_shift_open(
    shifts: Shifts, monkeypatch: pytest.MonkeyPatch, db_path: Path
) -> None:
    """What a second booth opening at the same instant would meet (the check passed, the insert fails)."""
    shifts.open("ann")
    monkeypatch.setattr(booth.office.shifts, "_refuse_if_open", lambda session: None)
    with pytest.raises(ShiftError) as refused:
        shifts.open("bob")
    assert refused.value.code == "shift_open"
    assert "of ann" in refused.value.message
    assert rows(db_path, "SELECT count(*) FROM shifts") == [(1,)]


def test_only_an_active_person_opens_a_shift_with_a_sane_float(shifts: Shifts, staff: Staff) -> None:
    staff.disable("bob", by="boss")
    for attendant in ("bob", "nobody"):
        with pytest.raises(ShiftError) as refused:
            shifts.open(attendant)
        assert refused.value.code == "bad_attendant"
        assert repr(attendant) in refused.value.message
    for bad in (-1, 1.5, "500", True):
        with pytest.raises(ShiftError) as bad_float:
            shifts.open("ann", opening_float_fen=bad)  # type: ignore[arg-type]
        assert bad_float.value.code == "bad_float"
    assert shifts.current() is None


# --- expected cash and the close -------------------------------------------------------------------------


def test_expected_cash_is_the_float_and_the_cash_kept_in_the_shift(
    shifts: Shifts, store: Store, clock: Clock, db_path: Path
) -> None:
    take_cash(store, 1, 800, T0 - timedelta(minutes=1))  # before the shift: the last shift's
    shift = shifts.open("ann")
    take_cash(store, 2, 500, T0)  # the shift's window starts at opened_at, inclusive
    take_cash(store, 3, 1_200, T0 + timedelta(hours=2))  # e.g. 20 yuan tendered, 8 given back
    bolink_payment(store, 4, 700, T0 + timedelta(hours=3), pay_type="scancode")
    bolink_payment(store, 5, 900, T0 + timedelta(hours=3), pay_type="cash")
    clock.now = T0 + timedelta(hours=8)
    assert shifts.expected_cash_fen(shift.id) == 50_000 + 500 + 1_200

    closed = shifts.close(shift.id, FULL_COUNT, handover_float_fen=30_000, note="交班")
    assert closed.state == "closed" and closed.closed_at == clock.now
    assert closed.counted == {10_000: 5, 5_000: 0, 2_000: 0, 1_000: 1, 500: 1, 100: 2, 50: 0, 10: 0}
    assert (closed.counted_fen, closed.expected_fen, closed.variance_fen) == (51_700, 51_700, 0)
    assert (closed.cosigned_by, closed.handover_float_fen, closed.close_note) == (None, 30_000, "交班")
    assert shifts.get(shift.id) == closed
    assert shifts.current() is None
    assert shift_row(db_path, shift.id)[2] == "closed"
    actor, action, detail = audit_actions(db_path)[-1]
    assert (actor, action) == ("ann", "shift_closed")
    assert detail["counted_fen"] == 51_700 and detail["variance_fen"] == 0


def test_the_handover_is_the_next_shifts_float_and_cash_at_the_close_is_the_next_shifts(
    shifts: Shifts, store: Store, clock: Clock
) -> None:
    first = shifts.open("ann")
    clock.now = T0 + timedelta(hours=8)
    shifts.close(first.id, {10_000: 5}, handover_float_fen=20_000)
    assert shifts.next_float_fen() == 20_000
    second = shifts.open("bob")
    assert second.opening_float_fen == 20_000
    take_cash(store, 1, 600, clock.now, operator="bob")  # paid at the instant of the handover
    assert shifts.expected_cash_fen(second.id) == 20_600
    assert shifts.expected_cash_fen(first.id) == 50_000  # as recorded at its close
    assert shifts.get(first.id).expected_fen == 50_000


def test_a_variance_within_the_limit_needs_no_supervisor(shifts: Shifts, clock: Clock) -> None:
    shift = shifts.open("ann")
    clock.now += timedelta(hours=1)
    closed = shifts.close(shift.id, {10_000: 5, 100: 20}, handover_float_fen=0)  # 20.00 over
    assert closed.variance_fen == 2_000 and closed.cosigned_by is None


def test_a_variance_above_the_limit_needs_another_supervisors_pin(
    shifts: Shifts, staff: Staff, clock: Clock, db_path: Path
) -> None:
    shift = shifts.open("ann")
    clock.now += timedelta(hours=1)
    short = {10_000: 4, 5_000: 1, 2_000: 1, 500: 1, 100: 4, 50: 1, 10: 4}  # 20.10 less than the float
    assert sum(d * n for d, n in short.items()) == 50_000 - 2_010
    before = shift_row(db_path, shift.id)

    with pytest.raises(ShiftError) as required:
        shifts.close(shift.id, short, handover_float_fen=0)
    assert required.value.code == "cosign_required"
    # the limit is named, the variance (amount or sign) is not: the count stays blind
    assert "20.00" in required.value.message and "20.10" not in required.value.message

    with pytest.raises(ShiftError) as own:
        shifts.close(shift.id, short, handover_float_fen=0, cosigner=("ann", "1234"))
    assert own.value.code == "bad_cosigner"
    assert "ann cannot co-sign their own shift" in own.value.message
    for cosigner, why in (
        (("bob", "5678"), "not_supervisor"),
        (("sue", "0000"), "wrong_pin"),
        (("zed", "0000"), "unknown"),
    ):
        with pytest.raises(ShiftError) as refused:
            shifts.close(shift.id, short, handover_float_fen=0, cosigner=cosigner)
        assert refused.value.code == "bad_cosigner"
        assert f"co-signer {cosigner[0]!r} refused" in refused.value.message
        cause = refused.value.__cause__
        assert isinstance(cause, AuthError) and cause.code == why
    assert shift_row(db_path, shift.id) == before
    assert shifts.current() is not None and shifts.current() == shifts.get(shift.id)
    # the shift is unchanged, but the count that needed a co-signer is on record (repeated guesses show)
    assert [action for _, action, _ in audit_actions(db_path)] == ["shift_opened", "shift_close_refused"]
    actor, _, detail = audit_actions(db_path)[-1]
    assert actor == "ann"
    assert detail == {"shift_id": shift.id, "counted_fen": 47_990, "reason": "cosign_required"}

    closed = shifts.close(shift.id, short, handover_float_fen=0, cosigner=("sue", "8888"))
    assert (closed.variance_fen, closed.cosigned_by) == (-2_010, "sue")
    assert audit_actions(db_path)[-1][2]["cosigned_by"] == "sue"


def test_a_supervisor_cannot_co_sign_their_own_shift(shifts: Shifts, clock: Clock) -> None:
    shift = shifts.open("boss")
    clock.now += timedelta(hours=1)
    with pytest.raises(ShiftError) as own:
        shifts.close(shift.id, {}, handover_float_fen=0, cosigner=("boss", "9999"))
    assert own.value.code == "bad_cosigner"
    assert "own shift" in own.value.message
    closed = shifts.close(shift.id, {}, handover_float_fen=0, cosigner=("sue", "8888"))
    assert (closed.counted_fen, closed.variance_fen, closed.cosigned_by) == (0, -50_000, "sue")


@pytest.mark.parametrize(
    ("counted", "named"),
    [
        ({10_000: -1}, "100.00 yuan is negative"),
        ({300: 1}, "300 is not a denomination"),
        ({"10000": 1}, "'10000' is not a denomination"),
        ({True: 1}, "True is not a denomination"),
        ({10_000: 1.0}, "100.00 yuan must be a whole number of pieces, got 1.0"),
        ({500: "3"}, "5.00 yuan must be a whole number of pieces, got '3'"),
        ({100: None}, "1.00 yuan must be a whole number of pieces, got None"),
        ({50: 100_001}, "0.50 yuan is 100001 pieces, more than 100000"),
        ([(10_000, 1)], "maps denomination"),
    ],
)
def test_an_impossible_count_is_refused_naming_the_entry_and_nothing_changes(
    shifts: Shifts, clock: Clock, db_path: Path, counted: Any, named: str
) -> None:
    shift = shifts.open("ann")
    clock.now += timedelta(hours=1)
    before = shift_row(db_path, shift.id)
    with pytest.raises(ShiftError) as refused:
        shifts.close(shift.id, counted, handover_float_fen=0)
    assert refused.value.code == "bad_count"
    assert named in refused.value.message
    assert shift_row(db_path, shift.id) == before
    assert [action for _, action, _ in audit_actions(db_path)] == ["shift_opened"]


@pytest.mark.parametrize("handover", [-1, 50_001, 100.0, None])
def test_the_handover_is_at_most_what_was_counted(shifts: Shifts, clock: Clock, handover: Any) -> None:
    shift = shifts.open("ann")
    clock.now += timedelta(hours=1)
    with pytest.raises(ShiftError) as refused:
        shifts.close(shift.id, {10_000: 5, 10: 0}, handover_float_fen=handover)
    assert refused.value.code == "bad_handover"
    assert "500.00" in refused.value.message
    assert shifts.get(shift.id).state == "open"


def test_a_closed_or_unknown_shift_cannot_be_closed(shifts: Shifts, clock: Clock) -> None:
    shift = shifts.open("ann")
    clock.now += timedelta(hours=1)
    shifts.close(shift.id, {10_000: 5}, handover_float_fen=50_000)
    with pytest.raises(ShiftError) as again:
        shifts.close(shift.id, {10_000: 5}, handover_float_fen=50_000)
    assert again.value.code == "not_open"
    for missing in (999, 0):
        with pytest.raises(ShiftError) as unknown:
            shifts.close(missing, {}, handover_float_fen=0)
        assert unknown.value.code == "not_found"
        with pytest.raises(ShiftError, match=r"no shift with id 999|positive integer"):
            shifts.get(missing)


def test_list_by_period_and_attendant(shifts: Shifts, clock: Clock) -> None:
    ids = []
    for hour, who in ((0, "ann"), (8, "bob"), (16, "ann")):
        clock.now = T0 + timedelta(hours=hour)
        if ids:
            shifts.close(ids[-1], {}, handover_float_fen=0, cosigner=("boss", "9999"))
        ids.append(shifts.open(who, opening_float_fen=0).id)
    assert [s.id for s in shifts.list()] == ids
    assert [s.id for s in shifts.list(attendant="ann")] == [ids[0], ids[2]]
    assert [s.id for s in shifts.list(since=T0 + timedelta(hours=9))] == ids[1:]  # bob's overlaps
    assert [s.id for s in shifts.list(since=T0 + timedelta(hours=8))] == ids[1:]  # ann's ended at 8
    assert [s.id for s in shifts.list(until=T0 + timedelta(hours=8))] == ids[:1]
    assert shifts.list(attendant="nobody") == []
