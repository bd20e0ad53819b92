"""People, PINs and roles on a real SQLite file: scrypt hashes, wrong-PIN counting and lock-out with a clock
the test moves, disabled people, supervisors-only changes, the last supervisor, and the audit trail.

The Staff under test hashes new PINs with scrypt n=2**10 (not 2**14) to keep the file fast; the hashing
tests use the production cost."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from booth.config import StaffSettings
from booth.office.staff import SCRYPT_N, AuthError, Staff, StaffError, hash_pin, pin_matches
from booth.store import Database
from tests.conftest import T0, Clock

CHEAP_N = 2**10


@pytest.fixture
def staff(db: Database, clock: Clock) -> Staff:
    settings = StaffSettings(pin_min_length=4, lockout_after=3, lockout_minutes=15)
    return Staff(db, settings, clock=clock, scrypt_n=CHEAP_N)


@pytest.fixture
def crew(staff: Staff) -> Staff:
    """A supervisor (boss, 9999) added at bootstrap, and an attendant (ann, 1234) added by boss."""
    staff.add_person("boss", "王经理", "supervisor", "9999", by="system")
    staff.add_person("ann", "李娜", "attendant", "1234", by="boss")
    return staff


def rows(db_path: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def audit(db_path: Path) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (actor, action, json.loads(detail))
        for actor, action, detail in rows(
            db_path, "SELECT actor, action, detail_json FROM audit_log ORDER BY id"
        )
    ]


# --- hashing ---------------------------------------------------------------------------------------------


def test_a_pin_hash_round_trips_and_describes_itself() -> None:
    stored = hash_pin("246810")
    scheme, params, salt, key = stored.split("$")
    assert (scheme, params) == ("scrypt", f"n={SCRYPT_N},r=8,p=1")
    assert len(salt) == 24 and len(key) == 44  # base64 of 16 and 32 bytes
    assert "246810" not in stored
    assert pin_matches("246810", stored)
    assert not pin_matches("246811", stored)
    assert not pin_matches("24681", stored)


def test_the_same_pin_gets_a_fresh_salt_each_time() -> None:
    first, second = hash_pin("1234"), hash_pin("1234")
    assert first != second
    assert first.split("$")[2] != second.split("$")[2]
    assert pin_matches("1234", first) and pin_matches("1234", second)


def test_a_hash_made_with_other_parameters_still_matches() -> None:
    cheap = hash_pin("1234", n=CHEAP_N)
    assert cheap.split("$")[1] == f"n={CHEAP_N},r=8,p=1"
    assert pin_matches("1234", cheap)


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "plain1234",
        "bcrypt$n=1024,r=8,p=1$AAAA$AAAA",
        "scrypt$n=1000,r=8,p=1$AAAA$AAAA",
        "scrypt$n=1024$AA$AA",
    ],
)
def test_a_damaged_stored_hash_matches_nothing(stored: str) -> None:
    assert not pin_matches("1234", stored)


# --- sign-in and lock-out --------------------------------------------------------------------------------


def test_the_right_pin_signs_in(crew: Staff) -> None:
    person = crew.authenticate("ann", "1234")
    assert (person.username, person.display_name, person.role, person.active) == (
        "ann",
        "李娜",
        "attendant",
        True,
    )
    assert person.locked_until is None


def test_pins_are_stored_only_as_hashes(crew: Staff, db_path: Path) -> None:
    stored = rows(db_path, "SELECT pin_hash FROM people WHERE username = 'ann'")[0][0]
    assert stored.startswith("scrypt$") and "1234" not in stored
    everything = json.dumps(rows(db_path, "SELECT * FROM audit_log"), ensure_ascii=False)
    assert "1234" not in everything and "scrypt" not in everything


def test_wrong_pins_count_down_then_lock_out_until_the_time_passes(
    crew: Staff, clock: Clock, db_path: Path
) -> None:
    with pytest.raises(AuthError) as first:
        crew.authenticate("ann", "0000")
    assert (first.value.code, first.value.remaining) == ("wrong_pin", 2)
    assert "2 more" in first.value.message
    with pytest.raises(AuthError) as second:
        crew.authenticate("ann", "0000")
    assert (second.value.code, second.value.remaining) == ("wrong_pin", 1)
    with pytest.raises(AuthError) as third:
        crew.authenticate("ann", "0000")
    until = T0 + timedelta(minutes=15)
    assert (third.value.code, third.value.locked_until) == ("locked", until)
    assert "2026-03-01 08:15 UTC" in third.value.message
    # locked: even the right PIN is refused, and it is not checked
    with pytest.raises(AuthError) as locked:
        crew.authenticate("ann", "1234")
    assert (locked.value.code, locked.value.locked_until) == ("locked", until)
    person = crew.person("ann")
    assert person is not None and person.locked_until == until
    clock.now = until - timedelta(seconds=1)
    with pytest.raises(AuthError, match="locked"):
        crew.authenticate("ann", "1234")
    clock.now = until
    assert crew.authenticate("ann", "1234").username == "ann"
    assert crew.person("ann") == crew.authenticate("ann", "1234")
    actions = [(actor, action, detail.get("reason")) for actor, action, detail in audit(db_path)[2:]]
    assert actions == [
        ("ann", "sign_in_failed", "wrong_pin"),
        ("ann", "sign_in_failed", "wrong_pin"),
        ("ann", "locked_out", None),
        ("ann", "sign_in_failed", "locked"),
        ("ann", "sign_in_failed", "locked"),
    ]


def test_a_right_pin_resets_the_count_of_wrong_ones(crew: Staff) -> None:
    for _ in range(2):
        with pytest.raises(AuthError, match="wrong PIN"):
            crew.authenticate("ann", "1111")
    crew.authenticate("ann", "1234")
    with pytest.raises(AuthError) as again:
        crew.authenticate("ann", "1111")
    assert (again.value.code, again.value.remaining) == ("wrong_pin", 2)


def test_a_supervisor_unlocks_a_locked_person(crew: Staff, db_path: Path) -> None:
    for _ in range(3):
        with pytest.raises(AuthError):
            crew.authenticate("ann", "1111")
    with pytest.raises(StaffError) as refused:
        crew.unlock("ann", by="ann")
    assert refused.value.code == "not_allowed"
    crew.unlock("ann", by="boss")
    assert crew.authenticate("ann", "1234").locked_until is None
    assert audit(db_path)[-1] == ("boss", "person_unlocked", {"username": "ann", "was_locked": True})


def test_an_unknown_username_is_refused_and_recorded(crew: Staff, db_path: Path) -> None:
    with pytest.raises(AuthError) as unknown:
        crew.authenticate("nobody", "1234")
    assert unknown.value.code == "unknown"
    assert "'nobody'" in unknown.value.message
    assert audit(db_path)[-1] == ("nobody", "sign_in_failed", {"reason": "unknown"})


@pytest.mark.parametrize("pin", ["12a4", "", "1234567890123", "١٢٣٤", " 1234"])
def test_a_malformed_pin_is_refused_without_counting(crew: Staff, pin: str) -> None:
    with pytest.raises(AuthError) as bad:
        crew.authenticate("ann", pin)
    assert bad.value.code == "bad_pin"
    with pytest.raises(AuthError) as wrong:
        crew.authenticate("ann", "0000")
    assert wrong.value.remaining == 2  # the malformed one did not count


def test_a_disabled_person_cannot_sign_in(crew: Staff, db_path: Path) -> None:
    crew.disable("ann", by="boss")
    with pytest.raises(AuthError) as disabled:
        crew.authenticate("ann", "1234")
    assert disabled.value.code == "disabled"
    person = crew.person("ann")
    assert person is not None and not person.active
    assert rows(db_path, "SELECT disabled_by FROM people WHERE username = 'ann'") == [("boss",)]
    crew.enable("ann", by="boss")
    assert crew.authenticate("ann", "1234").active


def test_an_attendant_is_not_a_supervisor_and_that_is_not_a_wrong_pin(crew: Staff, db_path: Path) -> None:
    with pytest.raises(AuthError) as refused:
        crew.authenticate("ann", "1234", role="supervisor")
    assert refused.value.code == "not_supervisor"
    assert rows(db_path, "SELECT failed_pins FROM people WHERE username = 'ann'") == [(0,)]
    assert audit(db_path)[-1] == ("ann", "sign_in_failed", {"reason": "not_supervisor"})
    assert crew.authenticate("boss", "9999", role="supervisor").role == "supervisor"
    assert crew.authenticate("boss", "9999", role="attendant").role == "supervisor"


# --- supervisors' changes --------------------------------------------------------------------------------


def test_the_first_supervisor_is_added_without_one_then_only_supervisors_add(staff: Staff) -> None:
    assert not staff.has_supervisor()
    with pytest.raises(StaffError) as first_attendant:
        staff.add_person("ann", "李娜", "attendant", "1234", by="system")
    assert first_attendant.value.code == "not_allowed"
    staff.add_person("boss", "王经理", "supervisor", "9999", by="system")
    assert staff.has_supervisor()
    with pytest.raises(StaffError) as by_system:
        staff.add_person("ann", "李娜", "attendant", "1234", by="system")
    assert by_system.value.code == "not_allowed"
    staff.add_person("ann", "李娜", "attendant", "1234", by="boss")
    with pytest.raises(StaffError) as by_attendant:
        staff.add_person("bob", "张伟", "attendant", "5678", by="ann")
    assert by_attendant.value.code == "not_allowed"
    assert "'ann' is not an active supervisor" in by_attendant.value.message
    assert [p.username for p in staff.people()] == ["ann", "boss"]


def test_a_disabled_supervisor_can_change_nothing(crew: Staff) -> None:
    crew.add_person("sue", "赵主管", "supervisor", "8888", by="boss")
    crew.disable("sue", by="boss")
    for change in (
        lambda: crew.add_person("bob", "张伟", "attendant", "5678", by="sue"),
        lambda: crew.disable("ann", by="sue"),
        lambda: crew.unlock("ann", by="sue"),
        lambda: crew.set_pin("ann", "4321", by="sue"),
    ):
        with pytest.raises(StaffError) as refused:
            change()
        assert refused.value.code == "not_allowed"
    assert crew.authenticate("ann", "1234").active


@pytest.mark.parametrize(
    ("username", "name", "role", "pin", "code"),
    [
        ("a b", "名字", "attendant", "1234", "bad_username"),
        ("", "名字", "attendant", "1234", "bad_username"),
        ("x" * 65, "名字", "attendant", "1234", "bad_username"),
        ("bob", "  ", "attendant", "1234", "bad_name"),
        ("bob", "名字", "manager", "1234", "bad_role"),
        ("bob", "名字", "attendant", "123", "bad_pin"),
        ("bob", "名字", "attendant", "12345abc", "bad_pin"),
        ("bob", "名字", "attendant", "1234567890123", "bad_pin"),
        ("ann", "名字", "attendant", "1234", "taken"),
    ],
)
def test_bad_people_are_refused_and_nothing_is_added(
    crew: Staff, db_path: Path, username: str, name: str, role: Any, pin: str, code: str
) -> None:
    before = rows(db_path, "SELECT count(*) FROM people")
    with pytest.raises(StaffError) as refused:
        crew.add_person(username, name, role, pin, by="boss")
    assert refused.value.code == code
    assert rows(db_path, "SELECT count(*) FROM people") == before


def test_the_last_active_supervisor_cannot_be_disabled(crew: Staff) -> None:
    with pytest.raises(StaffError) as last:
        crew.disable("boss", by="boss")
    assert last.value.code == "last_supervisor"
    crew.add_person("sue", "赵主管", "supervisor", "8888", by="boss")
    crew.disable("boss", by="boss")
    with pytest.raises(StaffError) as still_last:
        crew.disable("sue", by="sue")
    assert still_last.value.code == "last_supervisor"
    assert crew.has_supervisor()


def test_set_pin_by_a_supervisor_or_the_person_themselves(crew: Staff, db_path: Path) -> None:
    crew.set_pin("ann", "4321", by="ann")
    assert crew.authenticate("ann", "4321").username == "ann"
    with pytest.raises(AuthError, match="wrong PIN"):
        crew.authenticate("ann", "1234")
    crew.set_pin("ann", "5555", by="boss")
    assert crew.authenticate("ann", "5555").username == "ann"
    with pytest.raises(AuthError) as short:
        crew.set_pin("ann", "12", by="boss")
    assert short.value.code == "bad_pin"
    crew.add_person("bob", "张伟", "attendant", "5678", by="boss")
    with pytest.raises(StaffError) as other:
        crew.set_pin("ann", "7777", by="bob")
    assert other.value.code == "not_allowed"
    with pytest.raises(StaffError) as missing:
        crew.set_pin("nobody", "7777", by="boss")
    assert missing.value.code == "not_found"
    assert [(a, act) for a, act, _ in audit(db_path) if act == "pin_changed"] == [
        ("ann", "pin_changed"),
        ("boss", "pin_changed"),
    ]


def test_every_change_is_audited_with_who_did_it(crew: Staff, db_path: Path) -> None:
    crew.disable("ann", by="boss")
    crew.disable("ann", by="boss")  # already disabled: nothing to record
    crew.enable("ann", by="boss")
    assert audit(db_path) == [
        ("system", "person_added", {"username": "boss", "display_name": "王经理", "role": "supervisor"}),
        ("boss", "person_added", {"username": "ann", "display_name": "李娜", "role": "attendant"}),
        ("boss", "person_disabled", {"username": "ann"}),
        ("boss", "person_enabled", {"username": "ann"}),
    ]
    assert rows(db_path, "SELECT username, created_by FROM people ORDER BY id") == [
        ("boss", "system"),
        ("ann", "boss"),
    ]


def test_a_lock_out_shows_in_the_list_of_people(crew: Staff, clock: Clock) -> None:
    for _ in range(3):
        with pytest.raises(AuthError):
            crew.authenticate("ann", "1111")
    listed = {p.username: p for p in crew.people()}
    assert listed["ann"].locked_until == T0 + timedelta(minutes=15)
    assert listed["boss"].locked_until is None
    clock.now = T0 + timedelta(hours=1)
    assert {p.username: p.locked_until for p in crew.people()} == {"ann": None, "boss": None}
