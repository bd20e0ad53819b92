"""[retention] (issue #16): old months move to yearly archive files, and the reports read them as before."""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from booth.config import RetentionSettings, Settings
from booth.lot.journal import ensure_journal
from booth.office.reports import Report, ReportError, build_period_report, build_shift_report
from booth.store import Database, Store, StoreError, open_database
from booth.store.archive import (
    MOVED,
    archive_before,
    archive_old_months,
    archive_path,
    archive_reader,
    attach_limit,
    retention_cutoff,
)
from booth.store.models import AuditEntry, Person, Shift
from booth.store.records import LaneExceptionItem, OutboxItem
from tests.conftest import engine_settings, wait_until

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 11, 15, 12, 0, tzinfo=ZONE)
CUTOFF = datetime(2026, 10, 1, tzinfo=ZONE)  # two months online in November: October and November kept
MONTHS = (8, 9, 10, 11)


@dataclasses.dataclass
class Seeded:
    db: Database
    path: Path
    folder: Path
    settings: Settings
    shifts: list[int]
    in_lot: int  # an August stay still in the lot
    pending: int  # an August stay whose outbox row is still pending
    held: int  # a September missed exit whose arrears an October exit collected


class Clock:
    def __init__(self) -> None:
        self.at = datetime(2026, 8, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at


def _car(store: Store, clock: Clock, n: int, entry: datetime, minutes: int) -> int:
    """One car in and out: its outbox rows, an exit order paid (or released with a free release every
    fourth car), the gate event, a failed payment's audit every fifth car."""
    clock.at = entry
    oid = f"X1_{n}"
    stay = store.create_stay(
        order_id=oid, plate=f"苏A{n:05d}", plate_colour="blue", vehicle_class="small", lane_id="E1",
        entry_at=entry, outbox=[OutboxItem("bolink", "inpark", {"n": n}, f"in:{oid}")],
    )  # fmt: skip
    out = entry + timedelta(minutes=minutes)
    clock.at = out
    due = 500 + 100 * (n % 7)
    order = store.open_exit_order(
        stay_id=stay.id, lane_id="X1", opened_at=out - timedelta(seconds=30), quote_json="{}",
        gross_fen=due, paid_before_fen=0, discount_fen=0, due_fen=due,
    )  # fmt: skip
    if n % 4 == 0:
        store.release_exit_order(
            order.id, at=out - timedelta(seconds=10), reason="员工车辆", operator="zhang",
            exception=LaneExceptionItem(
                kind="free_release", lane_id="X1", reason="员工车辆", note="", operator="zhang",
                at=out - timedelta(seconds=10), stay_id=stay.id, exit_order_id=order.id, plate=stay.plate,
                due_fen=due,
            ),
        )  # fmt: skip
    else:
        store.record_payment(
            order_ref=oid, exit_order_id=order.id, channel="cash" if n % 2 else "scancode",
            pay_channel=None if n % 2 else 1, trade_no=None if n % 2 else f"T{n}", amount_fen=due,
            paid_at=out - timedelta(seconds=10), lane_id="X1", operator="zhang", payer_id=None, raw=None,
        )  # fmt: skip
    store.close_stay(
        stay.id, lane_id="X1", exit_at=out, outbox=[OutboxItem("bolink", "outpark", {"n": n}, f"out:{oid}")]
    )
    store.record_gate_event(
        lane_id="X1", stay_id=stay.id, reason="paid", operator="zhang", note="", outcome="opened", attempt=1,
        detail="", at=out,
    )  # fmt: skip
    if n % 5 == 0:
        store.audit(
            actor="zhang", action="payment_failed", detail={"amount_fen": due, "lane_id": "X1"}, at=out
        )
    return stay.id


def _send_all(store: Store, db: Database, keep_pending: set[int]) -> None:
    with db.read_sessionmaker.begin() as session:
        rows = session.execute(
            text("SELECT id, stay_id, created_at FROM outbox WHERE state = 'pending'")
        ).all()
    for outbox_id, stay_id, created_at in rows:
        if stay_id not in keep_pending:
            at = datetime.fromisoformat(created_at).replace(tzinfo=UTC) + timedelta(seconds=5)
            store.mark_outbox_sent(outbox_id, at=at)


def seed(tmp_path: Path, *, journal: bool = False) -> Seeded:
    path = tmp_path / "booth.sqlite"
    db = open_database(f"sqlite:///{path}")
    if journal:
        ensure_journal(db.engine)
    clock = Clock()
    store = Store(db, clock=clock)
    with db.sessionmaker.begin() as session:
        person = Person(
            username="zhang", display_name="张三", role="attendant", pin_hash="secret-hash", failed_pins=0,
            created_at=datetime(2026, 7, 1, tzinfo=UTC), created_by="test",
        )  # fmt: skip
        session.add(person)
        session.flush()
        person_id = person.id
    n, shifts = 0, []
    in_lot = pending = held = 0
    for month in MONTHS:
        for day in (3, 10, 17):
            opened = datetime(2026, month, day, 8, tzinfo=ZONE)
            with db.sessionmaker.begin() as session:
                shift = Shift(attendant_id=person_id, state="open", open_slot=1, opened_at=opened,
                              opening_float_fen=50_000)  # fmt: skip
                session.add(shift)
                session.flush()
                shift_id = shift.id
            for k in range(4):
                n += 1
                _car(store, clock, n, opened + timedelta(hours=1 + k), 20 + 7 * k)
            if (month, day) == (8, 3):
                clock.at = opened + timedelta(hours=1)
                in_lot = store.create_stay(
                    order_id="STILL_IN", plate="苏B00001", plate_colour="blue", vehicle_class="small",
                    lane_id="E1", entry_at=opened + timedelta(hours=1),
                ).id  # fmt: skip
                n += 1
                pending = _car(store, clock, n, opened + timedelta(hours=2), 45)
            if (month, day) == (9, 17):
                clock.at = opened + timedelta(hours=2)
                missed = store.create_stay(
                    order_id="MISSED", plate="苏C00001", plate_colour="blue", vehicle_class="small",
                    lane_id="E1", entry_at=opened + timedelta(hours=2),
                )  # fmt: skip
                store.close_missed_stay(missed.id, at=opened + timedelta(hours=3), lane_id="E1", owed_fen=900)
                held = missed.id
            if (month, day) == (10, 3):  # the plate comes back in October and pays what it owed
                clock.at = opened + timedelta(hours=5)
                again = store.create_stay(
                    order_id="BACK", plate="苏C00001", plate_colour="blue", vehicle_class="small",
                    lane_id="E1", entry_at=opened + timedelta(hours=5),
                )  # fmt: skip
                [owing] = store.open_arrears("苏C00001")
                order = store.open_exit_order(
                    stay_id=again.id, lane_id="X1", opened_at=opened + timedelta(hours=6), quote_json="{}",
                    gross_fen=300, paid_before_fen=0, discount_fen=0, due_fen=1200, arrears_ids=[owing.id],
                )  # fmt: skip
                store.record_payment(
                    order_ref="BACK", exit_order_id=order.id, channel="cash", pay_channel=None, trade_no=None,
                    amount_fen=1200, paid_at=opened + timedelta(hours=6), lane_id="X1", operator="zhang",
                    payer_id=None, raw=None,
                )  # fmt: skip
                store.close_stay(again.id, lane_id="X1", exit_at=opened + timedelta(hours=6, minutes=1))
            if (month, day) != (11, 17):  # the last one stays open
                with db.sessionmaker.begin() as session:
                    row = session.get(Shift, shift_id)
                    assert row is not None
                    row.state, row.open_slot, row.closed_at = "closed", None, opened + timedelta(hours=8)
                    row.counted_json, row.counted_fen, row.expected_fen, row.variance_fen = "{}", 0, 0, 0
                shifts.append(shift_id)
    _send_all(store, db, keep_pending={pending})
    folder = tmp_path / "archive"
    settings = engine_settings(tmp_path).model_copy(
        update={"retention": RetentionSettings(months_online=2, archive_folder=str(folder))}
    )
    return Seeded(db, path, folder, settings, shifts, in_lot, pending, held)


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[Seeded]:
    s = seed(tmp_path)
    try:
        yield s
    finally:
        s.db.close()


def rows(path: Path) -> dict[str, set[tuple[Any, ...]]]:
    con = sqlite3.connect(path)
    try:
        return {t: set(con.execute(f"SELECT * FROM {t}")) for t in (*MOVED, "people")}
    finally:
        con.close()


def fk_problems(path: Path) -> list[Any]:
    con = sqlite3.connect(path)
    try:
        return list(con.execute("PRAGMA foreign_key_check"))
    finally:
        con.close()


def reports(s: Seeded) -> dict[str, Report]:
    """Every closed shift's report and periods inside, across and after the archived months."""
    built = {f"shift {i}": build_shift_report(s.db, s.settings, i) for i in s.shifts}
    for name, (a, b) in {
        "august": ((2026, 8, 1), (2026, 9, 1)),
        "september": ((2026, 9, 1), (2026, 10, 1)),
        "across": ((2026, 9, 15), (2026, 10, 15)),
        "all": ((2026, 7, 1), (2026, 12, 1)),
    }.items():
        built[name] = build_period_report(
            s.db, s.settings, datetime(*a, tzinfo=ZONE), datetime(*b, tzinfo=ZONE), now=NOW
        )
    for limit in (0, 1, 3):  # lists cut short: each file's rows merged and cut again, totals in full
        built[f"all, {limit} lines"] = build_period_report(
            s.db, s.settings, datetime(2026, 7, 1, tzinfo=ZONE), datetime(2026, 12, 1, tzinfo=ZONE), now=NOW,
            list_limit=limit,
        )  # fmt: skip
    when = datetime(2000, 1, 1, tzinfo=UTC)
    return {k: dataclasses.replace(r, generated_at=when) for k, r in built.items()}


def test_the_cutoff_keeps_the_newest_whole_months() -> None:
    assert retention_cutoff(NOW, 2, ZONE) == CUTOFF
    assert retention_cutoff(datetime(2026, 1, 31, 17, tzinfo=UTC), 2, ZONE) == datetime(
        2026, 1, 1, tzinfo=ZONE
    )
    assert retention_cutoff(datetime(2026, 3, 5, tzinfo=ZONE), 13, ZONE) == datetime(2025, 3, 1, tzinfo=ZONE)
    with pytest.raises(StoreError):
        retention_cutoff(NOW, 1, ZONE)


def test_old_months_move_and_the_reports_read_them_unchanged(seeded: Seeded) -> None:
    s = seeded
    before_rows = rows(s.path)
    before = reports(s)
    assert before["august"].payment_count > 0 and before["september"].total_fen > 0

    dry = archive_old_months(s.path, 2, s.folder, ZONE, now=NOW, dry_run=True)
    assert rows(s.path) == before_rows and not s.folder.exists()
    result = archive_old_months(s.path, 2, s.folder, ZONE, now=NOW)
    assert [m.month for m in result.months] == ["2026-08", "2026-09"] == [m.month for m in dry.months]
    assert [m.rows for m in result.months] == [m.rows for m in dry.months]
    archive = archive_path(s.folder, 2026)
    main, arch = rows(s.path), rows(archive)

    # every row is in exactly one of the files, unchanged (people are copied, without their PIN hash)
    for table in MOVED:
        assert not {r[0] for r in main[table]} & {r[0] for r in arch[table]}, table
        assert main[table] | arch[table] == before_rows[table], table
    assert main["people"] == before_rows["people"]
    assert [(p[0], p[1], p[4]) for p in arch["people"]] == [(1, "zhang", "")]
    assert fk_problems(s.path) == [] and fk_problems(archive) == []

    # what moved: closed August and September stays with their rows; nothing from October on
    moved_stays = {r[0] for r in arch["stays"]}
    assert result.months[0].rows["stays"] == 12 and result.months[1].rows["stays"] == 12
    assert {s.in_lot, s.pending, s.held} <= {r[0] for r in main["stays"]}
    assert all(r[8] < "2026-09-30 16:00" for r in arch["stays"])  # exit_at before 1 October (UTC+8)
    assert {r[1] for r in arch["exit_orders"]} <= moved_stays
    assert {r[1] for r in arch["payments"]} <= moved_stays
    assert {r[6] for r in arch["outbox"]} == {"sent"}
    assert {r[2] for r in arch["shifts"]} == {"closed"} and len(arch["shifts"]) == 6
    assert not arch["arrears"]  # the September arrears were collected by an October order: kept
    assert len([r for r in main["stays"] if r[8] is not None and r[8] < "2026-09-30 16:00"]) == 2

    after = reports(s)
    assert after == before

    def attached(since: datetime) -> set[str]:
        with archive_reader(s.db, s.folder, ZONE, since=since) as session:
            return {row[1] for row in session.execute(text("PRAGMA database_list"))}

    assert "a2026" not in attached(CUTOFF)  # the months online alone: no archive, no views
    assert "a2026" not in attached(datetime(2026, 9, 18, tzinfo=ZONE))  # after its latest row (17 September)
    assert "a2026" in attached(datetime(2026, 9, 17, tzinfo=ZONE))

    again = archive_old_months(s.path, 2, s.folder, ZONE, now=NOW)  # nothing left to move
    assert again.total == 0 and rows(s.path) == main and rows(archive) == arch


def test_a_crash_between_copy_and_delete_loses_nothing_and_doubles_nothing(seeded: Seeded) -> None:
    s = seeded
    before_rows, before = rows(s.path), reports(s)

    def crash(month: str) -> None:
        if month == "2026-09":
            raise RuntimeError("power cut")

    with pytest.raises(RuntimeError, match="power cut"):
        archive_before(s.path, CUTOFF, s.folder, ZONE, after_copy=crash)
    archive = archive_path(s.folder, 2026)
    # August went; September is in both files: the reports count it once
    assert rows(s.path)["stays"] != before_rows["stays"]
    assert reports(s) == before

    archive_before(s.path, CUTOFF, s.folder, ZONE)
    main, arch = rows(s.path), rows(archive)
    for table in MOVED:
        assert not {r[0] for r in main[table]} & {r[0] for r in arch[table]}, table
        assert main[table] | arch[table] == before_rows[table], table
    assert fk_problems(s.path) == [] and fk_problems(archive) == []
    assert reports(s) == before


def test_an_archive_row_that_differs_refuses_the_month(seeded: Seeded) -> None:
    """A crash's copy of a row is the row itself; a row of another history under the same id is refused."""
    s = seeded
    archive_before(s.path, datetime(2026, 9, 1, tzinfo=ZONE), s.folder, ZONE)  # August
    before = rows(s.path)
    main = sqlite3.connect(s.path)
    september = main.execute(
        "SELECT id FROM stays WHERE state = 'exited' AND exit_at >= '2026-09-01' ORDER BY id LIMIT 1"
    ).fetchone()[0]
    main.close()
    con = sqlite3.connect(archive_path(s.folder, 2026))
    con.execute(
        "INSERT INTO stays (id, order_id, plate, plate_colour, vehicle_class, entry_lane, entry_at, state, "
        "created_at) VALUES (?, 'OTHER', '苏Z99999', 'blue', 'small', 'E1', '2026-09-01 00:00:00.000000', "
        "'in_lot', '2026-09-01 00:00:00.000000')",
        (september,),
    )
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="already holds other rows"):
        archive_before(s.path, CUTOFF, s.folder, ZONE)
    assert rows(s.path) == before


def test_rows_the_lot_journal_has_not_pushed_stay_and_the_journal_is_untouched(tmp_path: Path) -> None:
    s = seed(tmp_path, journal=True)
    try:
        con = sqlite3.connect(s.path)
        keep = con.execute("SELECT id FROM stays WHERE order_id = 'X1_2'").fetchone()[0]
        con.execute("DELETE FROM lot_journal WHERE NOT (tbl = 'stays' AND row_id = ?)", (keep,))
        con.commit()
        journal = list(con.execute("SELECT * FROM lot_journal"))
        con.close()
        before = reports(s)
        result = archive_old_months(s.path, 2, s.folder, ZONE, now=NOW)
        assert result.total > 0
        con = sqlite3.connect(s.path)
        assert list(con.execute("SELECT * FROM lot_journal")) == journal
        assert con.execute("SELECT count(*) FROM stays WHERE id = ?", (keep,)).fetchone()[0] == 1
        assert con.execute("SELECT count(*) FROM payments WHERE stay_id = ?", (keep,)).fetchone()[0] == 1
        con.close()
        assert fk_problems(s.path) == [] and fk_problems(archive_path(s.folder, 2026)) == []
        assert reports(s) == before
    finally:
        s.db.close()


def test_retention_settings_refuse_one_month_and_resolve_the_folder(tmp_path: Path) -> None:
    from booth.config import ConfigError, load_settings

    with pytest.raises(ValueError, match="at least 2"):
        RetentionSettings(months_online=1)
    assert RetentionSettings().months_online == 0
    assert RetentionSettings().folder_for(f"sqlite:///{tmp_path / 'db' / 'booth.sqlite'}") == (
        tmp_path / "db" / "archive"
    )
    assert RetentionSettings().folder_for("postgresql://u@localhost/booth") is None
    config = _config_file(tmp_path, "[retention]\nmonths_online = 1\n")
    with pytest.raises(ConfigError):
        load_settings(config)
    config = _config_file(tmp_path, '[retention]\nmonths_online = 3\narchive_folder = "old"\n')
    assert load_settings(config).retention.folder_for("sqlite:///x.sqlite") == tmp_path / "old"


def _config_file(folder: Path, extra: str) -> Path:
    path = folder / "booth.toml"
    path.write_text(
        '[park]\nname = "测试"\nprovince = "苏"\n\n'
        '[bolink]\nbase_url = "sandbox"\nunion_id = "1"\npark_id = "1"\nukey = "k"\nlocal_id = "b"\n\n'
        '[[lanes]]\nid = "X1"\nname = "出口"\ndirection = "exit"\nchannel_id = "X1"\n\n'
        '[database]\nurl = "sqlite:///booth.sqlite"\n\n' + extra,
        encoding="utf-8",
    )
    path.chmod(0o600)
    return path


def test_booth_archive_dry_run_then_moves(seeded: Seeded, capsys: pytest.CaptureFixture[str]) -> None:
    from booth.cli.main import main

    s = seeded
    config = _config_file(s.path.parent, '[retention]\nmonths_online = 2\narchive_folder = "arch"\n')
    before = rows(s.path)
    assert main(["archive", "--dry-run", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "2026-08: would move" in out and "would move" in out.splitlines()[-1]
    assert rows(s.path) == before and not (s.path.parent / "arch").exists()
    assert main(["archive", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "2026-08: moved" in out
    assert archive_path(s.path.parent / "arch", 2026).exists() and rows(s.path) != before


def test_the_daily_schedule_archives_on_its_own_thread(seeded: Seeded) -> None:
    from booth.store.archive import ArchiveSchedule

    s = seeded
    failures: list[str] = []
    schedule = ArchiveSchedule(
        f"sqlite:///{s.path}", 2, s.folder, ZONE, first_after_s=0.01, on_failure=failures.append
    )
    schedule.start()
    try:
        wait_until(lambda: _moved(s), what="the scheduled archive's copy and delete")
    finally:
        schedule.stop()
    assert failures == []


def _moved(s: Seeded) -> bool:
    """Whether closed shifts are in the archive and no stay is in both files (the delete is done)."""
    archive = archive_path(s.folder, 2026)
    try:
        arch = rows(archive) if archive.exists() else None
    except sqlite3.OperationalError:  # (the file is being made)
        return False
    return bool(arch and arch["shifts"] and not rows(s.path)["stays"] & arch["stays"])


def test_the_delete_goes_in_parts_each_releasing_the_write_lock(seeded: Seeded) -> None:
    """A month's delete is many short transactions: between two parts a lane writes at once (no busy
    wait), the database never references a deleted row, and the reports count every row once. A row
    written between parts that references a row still to move stops the month there: the rest stays in
    both files until the next run."""
    s = seeded
    before_rows, before = rows(s.path), reports(s)
    august_stays = sorted(
        r[0]
        for r in before_rows["stays"]
        if r[8] is not None and "2026-07-31 16:00" <= r[8] < "2026-08-31 16:00"
    )
    parts: list[tuple[str, int]] = []

    def lane_write(month: str, n: int) -> None:
        parts.append((month, n))
        assert fk_problems(s.path) == []
        lane = sqlite3.connect(s.path, timeout=0, isolation_level=None)  # no busy wait at all
        try:
            lane.execute("BEGIN IMMEDIATE")
            if (month, n) == ("2026-08", 1):  # a gate event for the last August stay, not yet deleted
                lane.execute(
                    "INSERT INTO gate_events (lane_id, stay_id, reason, operator, note, outcome, attempt, "
                    "detail, at) VALUES ('X1', ?, 'test', 'zhang', '', 'opened', 1, '', "
                    "'2026-11-15 04:00:00.000000')",
                    (august_stays[-1],),
                )
            else:
                lane.execute(
                    "INSERT INTO audit_log (at, actor, action, detail_json) "
                    "VALUES ('2026-11-15 04:00:00.000000', 'lane', 'test', '{}')"
                )
            lane.execute("COMMIT")
        finally:
            lane.close()

    with pytest.raises(StoreError, match="written meanwhile references a row of stays"):
        archive_before(s.path, CUTOFF, s.folder, ZONE, part_rows=10, pause_s=0, after_part=lane_write)
    assert parts[:2] == [("2026-08", 0), ("2026-08", 1)]
    archive = archive_path(s.folder, 2026)
    main, arch = rows(s.path), rows(archive)
    assert fk_problems(s.path) == [] and fk_problems(archive) == []
    assert set(august_stays[:2]) <= {r[0] for r in arch["stays"]} - {r[0] for r in main["stays"]}
    assert august_stays[-1] in {r[0] for r in main["stays"]} & {r[0] for r in arch["stays"]}
    assert reports(s) == before  # (no report counts gate events, nor these audit rows)

    parts.clear()
    archive_before(s.path, CUTOFF, s.folder, ZONE, part_rows=10, pause_s=0, after_part=lane_write)
    assert len([p for p in parts if p[0] == "2026-09"]) > 2  # September in several parts
    main, arch = rows(s.path), rows(archive)
    assert fk_problems(s.path) == [] and fk_problems(archive) == []
    assert august_stays[-1] in {r[0] for r in main["stays"]}  # kept: a kept row references it
    for table in MOVED:
        assert main[table] | arch[table] >= before_rows[table], table
    assert {r[0] for r in main["stays"]} & {r[0] for r in arch["stays"]} == {august_stays[-1]}
    assert reports(s) == before


def test_a_failed_scheduled_archive_is_a_supervisor_alert(
    make_engine: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As a failed scheduled backup: the engine raises archive_failed (no lane) with the cause."""
    import booth.engine.loop as engine_loop
    from booth.engine import AlertRaised

    db = open_database(f"sqlite:///{tmp_path / 'booth.sqlite'}")
    with db.sessionmaker.begin() as session:  # two old audit rows (a table's greatest id never moves)
        for day in (5, 6):
            session.add(AuditEntry(at=datetime(2020, 1, day, tzinfo=UTC), actor="test", action="old",
                                   detail_json="{}"))  # fmt: skip
    db.close()
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the archive folder's parent should be", encoding="utf-8")
    monkeypatch.setattr(engine_loop, "ARCHIVE_FIRST_AFTER_S", 0.05)
    r = make_engine(retention={"months_online": 2, "archive_folder": str(blocker / "archive")})

    def raised() -> list[AlertRaised]:
        return [e for e in r.events if isinstance(e, AlertRaised) and e.kind == "archive_failed"]

    [alert] = wait_until(raised, timeout=10, what="the archive_failed alert")
    assert alert.lane_id is None
    assert "not-a-folder" in alert.message and "Error" in alert.message
    assert r.rows("SELECT count(*) FROM audit_log WHERE action = 'old'") == [(2,)]  # nothing moved


def test_a_report_attaches_only_the_archive_years_of_its_period(tmp_path: Path) -> None:
    """Eleven yearly files, one more than SQLite attaches: a report of a year reads its own file alone (and
    reports as before); a report over all of them is refused naming SQLite's limit."""
    path = tmp_path / "booth.sqlite"
    db = open_database(f"sqlite:///{path}")
    try:
        clock = Clock()
        store = Store(db, clock=clock)
        years = range(2014, 2025)
        for n, year in enumerate(years, start=1):
            _car(store, clock, n, datetime(year, 6, 10, 9, tzinfo=ZONE), 30)
        for n in (99, 100):  # a payment, a free release and a failed payment: each table's greatest id stays
            _car(store, clock, n, datetime(2026, 11, 10, n - 90, tzinfo=ZONE), 30)
        _send_all(store, db, keep_pending=set())
        folder = tmp_path / "archive"
        settings = engine_settings(tmp_path).model_copy(
            update={"retention": RetentionSettings(months_online=2, archive_folder=str(folder))}
        )
        june = (datetime(2019, 6, 1, tzinfo=ZONE), datetime(2019, 7, 1, tzinfo=ZONE))
        before = build_period_report(db, settings, *june, now=NOW)
        archive_old_months(path, 2, folder, ZONE, now=NOW)
        assert sorted(p.name for p in folder.iterdir()) == [f"booth-archive-{y}.sqlite" for y in years]
        assert attach_limit() == 10

        with archive_reader(db, folder, ZONE, since=june[0], until=june[1]) as session:
            attached = {row[1] for row in session.execute(text("PRAGMA database_list"))}
        assert attached == {"main", "temp", "a2019"}
        after = build_period_report(db, settings, *june, now=NOW)
        when = datetime(2000, 1, 1, tzinfo=UTC)
        assert dataclasses.replace(after, generated_at=when) == dataclasses.replace(before, generated_at=when)
        assert after.payment_count == 1

        with pytest.raises(ReportError, match=r"11 archive files .* at most 10 attached"):
            build_period_report(db, settings, datetime(2014, 1, 1, tzinfo=ZONE), NOW, now=NOW)
        ten_years = build_period_report(db, settings, datetime(2015, 1, 1, tzinfo=ZONE), NOW, now=NOW)
        assert ten_years.payment_count + ten_years.exceptions.total >= 10
    finally:
        db.close()


def test_a_stop_ends_the_run_between_two_parts_and_the_next_run_finishes(seeded: Seeded) -> None:
    """The engine's stop does not wait for a month's delete: the run ends after the part under way."""
    s = seeded
    before_rows, before = rows(s.path), reports(s)
    stop = threading.Event()
    done: list[tuple[str, int]] = []

    def after_part(month: str, n: int) -> None:
        done.append((month, n))
        if n == 1:
            stop.set()

    result = archive_before(
        s.path, CUTOFF, s.folder, ZONE, part_rows=10, pause_s=0, after_part=after_part, stop=stop
    )
    assert done == [("2026-08", 0), ("2026-08", 1)] and result.months == []
    archive = archive_path(s.folder, 2026)
    main, arch = rows(s.path), rows(archive)
    assert fk_problems(s.path) == [] and {r[0] for r in main["stays"]} & {r[0] for r in arch["stays"]}
    assert reports(s) == before

    result = archive_before(s.path, CUTOFF, s.folder, ZONE, part_rows=10, pause_s=0)
    assert [m.month for m in result.months] == ["2026-08", "2026-09"]
    main, arch = rows(s.path), rows(archive)
    for table in MOVED:
        assert not {r[0] for r in main[table]} & {r[0] for r in arch[table]}, table
        assert main[table] | arch[table] == before_rows[table], table
    assert fk_problems(s.path) == [] and fk_problems(archive) == []
    assert reports(s) == before
