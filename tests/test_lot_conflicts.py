"""``booth lot conflicts`` and ``booth lot settle`` (issue #18): the supervisor lists the lot's conflicts and
settles one, once, with their PIN checked against this booth's store; run as a person runs them (main()),
against the run's PostgreSQL database and a real SQLite booth store."""

from __future__ import annotations

import io
import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, insert, select, text

from booth.cli.main import main
from booth.config import StaffSettings
from booth.lot.conflicts import (
    ConflictAlreadySettled,
    get_conflict,
    list_conflicts,
    settle_conflict,
)
from booth.lot.report import build_lot_report
from booth.lot.schema import lot_conflicts
from booth.lot.server import LotServerError
from booth.office.staff import Staff
from booth.store import open_database
from booth.store.models import AuditEntry
from tests.lot_rig import lot_server
from tests.test_lot_cli import settings_file

pytestmark = pytest.mark.postgresql

ZONE = ZoneInfo("Asia/Shanghai")
PIN = "2468"


@pytest.fixture
def lot(pg_url: str) -> Any:
    engine = lot_server(pg_url)
    yield engine
    engine.dispose()


@pytest.fixture
def config(tmp_path: Path, pg_url: str) -> Path:
    """This booth's settings (its store: tmp_path/booth.sqlite) with a supervisor and an attendant in it."""
    path = settings_file(tmp_path, pg_url.replace("+psycopg", ""))
    db = open_database(f"sqlite:///{tmp_path / 'booth.sqlite'}")
    try:
        staff = Staff(db, StaffSettings(), scrypt_n=2**10)
        staff.add_person("boss", "Boss", "supervisor", PIN, by="setup")
        staff.add_person("att", "Attendant", "attendant", "1357", by="boss")
    finally:
        db.close()
    return path


def _conflicts(lot: Engine) -> tuple[int, int]:
    """A released_without_stay (a fee of 5.00 let go) and a trade_no_twice (12.34 counted twice)."""
    release_at = datetime(2026, 11, 3, 1, 20, tzinfo=UTC)
    released = [
        {
            "side": "release",
            "booth_id": "exit-a",
            "id": 7,
            "kind": "free_release",
            "lane_id": "X1",
            "plate": "苏A11111",
            "at": release_at.isoformat(),
        },
        {
            "side": "stay",
            "booth_id": "entry",
            "id": 3,
            "order_id": "o_1",
            "plate": "苏A11111",
            "entry_lane": "E1",
            "entry_at": (release_at - timedelta(hours=1, minutes=10)).isoformat(),
            "fee_fen": 500,
        },
    ]
    twice = [
        {
            "booth_id": "exit-a",
            "id": 4,
            "amount_fen": 1234,
            "paid_at": release_at.isoformat(),
            "lane_id": "X1",
        },
        {
            "booth_id": "exit-b",
            "id": 9,
            "amount_fen": 1234,
            "paid_at": release_at.isoformat(),
            "lane_id": "X2",
        },
    ]
    ids = []
    with lot.begin() as c:
        for rule, subject, detail in (
            ("released_without_stay", "exit-a:7", released),
            ("trade_no_twice", "T42", twice),
        ):
            ids.append(
                c.execute(
                    insert(lot_conflicts)
                    .values(
                        rule=rule,
                        subject=subject,
                        detail_json=json.dumps(detail, ensure_ascii=False),
                        found_at=release_at + timedelta(minutes=1),
                    )
                    .returning(lot_conflicts.c.id)
                ).scalar_one()
            )
    return ids[0], ids[1]


def _row(lot: Engine, conflict_id: int) -> dict[str, Any]:
    with lot.connect() as c:
        return dict(
            c.execute(select(lot_conflicts).where(lot_conflicts.c.id == conflict_id)).mappings().one()
        )


def _audit(tmp_path: Path, action: str) -> list[dict[str, Any]]:
    db = open_database(f"sqlite:///{tmp_path / 'booth.sqlite'}")
    try:
        with db.read_sessionmaker() as session:
            rows = session.scalars(select(AuditEntry).where(AuditEntry.action == action)).all()
            return [{"actor": r.actor, **json.loads(r.detail_json)} for r in rows]
    finally:
        db.close()


def _settle(
    config: Path, conflict_id: int | str, *, by: str = "boss", pin: str = PIN, note: str = "已联系车主补缴"
) -> int:
    argv = ["lot", "settle", str(conflict_id), "--note", note, "--by", by, "--pin-stdin"]
    return main([*argv, "--config", str(config)])


def test_a_supervisor_settles_a_conflict_once_and_the_report_shows_it(
    lot: Engine,
    pg_url: str,
    config: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    released, twice = _conflicts(lot)
    assert main(["lot", "conflicts", "--config", str(config)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith(": 2 open conflict(s) (times in Asia/Shanghai, money in yuan)")
    first = next(line for line in out if line.strip().startswith(f"#{released} "))
    assert "released_without_stay" in first and "exit-a:7" in first and "entry,exit-a" in first
    assert " 5.00 " in first and first.endswith("open")
    assert any("苏A11111 2026-11-03 08:10 入场（entry o_1）" in line and "应收 5.00" in line for line in out)
    second = next(line for line in out if line.strip().startswith(f"#{twice} "))
    assert "trade_no_twice" in second and "exit-a,exit-b" in second and " 12.34 " in second

    with lot.connect() as c:
        before = c.execute(text("SELECT now()")).scalar_one()
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{PIN}\n"))
    assert _settle(config, released) == 0
    said = capsys.readouterr()
    assert said.err == ""
    assert said.out.startswith(f"conflict #{released} (released_without_stay exit-a:7) settled at ")
    assert said.out.rstrip().endswith("by boss: 已联系车主补缴")
    with lot.connect() as c:
        after = c.execute(text("SELECT now()")).scalar_one()

    row = _row(lot, released)
    assert (row["settled_by"], row["settled_note"]) == ("boss", "已联系车主补缴")
    assert before <= row["settled_at"] <= after  # the server's clock
    assert _row(lot, twice)["settled_at"] is None
    # the audit trace at this booth (the journal takes it to the server's lot_audit_log)
    assert _audit(tmp_path, "lot_conflict_settled") == [
        {
            "actor": "boss",
            "conflict_id": released,
            "rule": "released_without_stay",
            "subject": "exit-a:7",
            "note": "已联系车主补缴",
            "settled_at": row["settled_at"].astimezone(UTC).isoformat(),
            "booth_id": "exit-east",
        }
    ]

    assert main(["lot", "conflicts", "--config", str(config)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith(": 1 open conflict(s) (times in Asia/Shanghai, money in yuan)")
    assert not any(line.strip().startswith(f"#{released} ") for line in out)
    assert main(["lot", "conflicts", "--all", "--config", str(config)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith(": 2 conflict(s), 1 settled (times in Asia/Shanghai, money in yuan)")
    line = next(line for line in out if line.strip().startswith(f"#{released} "))
    assert line.endswith(f"settled {row['settled_at'].astimezone(ZONE):%Y-%m-%d %H:%M} by boss")
    assert "      处理说明：已联系车主补缴" in out

    # the lot report: no longer open; listed as settled in a period that holds the settle, not in one before
    now = row["settled_at"]
    report = build_lot_report(pg_url, now - timedelta(days=1), now + timedelta(days=1), ZONE)
    assert report.open_conflicts == 1 and [k.id for k in report.conflicts] == [twice]
    assert report.conflicts[0].fee_fen == 1234
    assert [(d.id, d.settled_by, d.settled_note) for d in report.settled] == [
        (released, "boss", "已联系车主补缴")
    ]
    earlier = build_lot_report(pg_url, now - timedelta(days=2), now - timedelta(days=1), ZONE)
    assert earlier.settled == ()
    day = now.astimezone(ZONE).date()
    period = ["--from", str(day - timedelta(days=1)), "--to", str(day + timedelta(days=1))]
    assert main(["lot", "report", *period, "--config", str(config)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert any(line.startswith("未决冲突 1 条（同一交易号在两个岗亭入账 1）") for line in out)
    assert any(line.endswith("同一交易号在两个岗亭入账 T42（exit-a，exit-b） 涉及金额 12.34") for line in out)
    assert "本时段已处理冲突 1 条：" in out
    assert any(
        line.startswith(f"  #{released} 无入场记录放行，入场记录已关闭 exit-a:7（entry，exit-a）")
        and line.endswith("由 boss 处理：已联系车主补缴")
        for line in out
    )


def test_settling_a_settled_conflict_is_refused_and_changes_nothing(
    lot: Engine,
    config: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    released, _ = _conflicts(lot)
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{PIN}\n"))
    assert _settle(config, released) == 0
    capsys.readouterr()
    first = _row(lot, released)

    monkeypatch.setattr("sys.stdin", io.StringIO(""))  # no PIN is asked for a conflict settled already
    assert _settle(config, released, note="again") == 1
    err = capsys.readouterr().err
    assert err.startswith(f"booth lot settle: conflict #{released} was settled already, at ")
    assert "by boss (已联系车主补缴): nothing changed" in err and err.count("\n") == 1
    assert _row(lot, released) == first
    assert len(_audit(tmp_path, "lot_conflict_settled")) == 1


def test_two_settles_at_once_settle_it_once(lot: Engine, pg_url: str) -> None:
    released, _ = _conflicts(lot)
    barrier = threading.Barrier(4)
    outcomes: list[str] = []

    def settle(by: str) -> None:
        barrier.wait()
        try:
            done = settle_conflict(pg_url, released, by=by, note=f"by {by}", zone=ZONE)
            outcomes.append(f"settled {done.settled_by}")
        except ConflictAlreadySettled as exc:
            outcomes.append(f"refused, {exc.conflict.settled_by}'s")

    threads = [threading.Thread(target=settle, args=(f"boss{n}",)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    winner = _row(lot, released)["settled_by"]
    assert sorted(outcomes) == sorted([f"settled {winner}"] + [f"refused, {winner}'s"] * 3)
    assert _row(lot, released)["settled_note"] == f"by {winner}"


def test_a_wrong_pin_an_attendant_an_unknown_id_and_an_empty_note_are_refused(
    lot: Engine,
    pg_url: str,
    config: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    released, _ = _conflicts(lot)

    monkeypatch.setattr("sys.stdin", io.StringIO("1111\n"))
    assert _settle(config, released) == 1
    err = capsys.readouterr().err
    assert err.startswith("booth lot settle: refused: wrong PIN for boss: 4 more wrong PIN(s)")
    # counted towards boss's lock-out at this booth, as at any sign-in
    assert [a["reason"] for a in _audit(tmp_path, "sign_in_failed")] == ["wrong_pin"]

    monkeypatch.setattr("sys.stdin", io.StringIO("1357\n"))
    assert _settle(config, released, by="att") == 1
    assert capsys.readouterr().err.startswith("booth lot settle: refused: att is not a supervisor")

    assert _settle(config, 999_999) == 1
    err = capsys.readouterr().err
    assert err.startswith("booth lot settle: lot server ") and err.endswith("has no conflict #999999\n")

    assert _settle(config, released, note="   ") == 1
    assert "--note: say what was decided" in capsys.readouterr().err

    assert _settle(config, "x1") == 2
    assert "argument ID: a conflict number as `booth lot conflicts` lists it" in capsys.readouterr().err

    assert _row(lot, released)["settled_at"] is None  # nothing was settled
    assert _audit(tmp_path, "lot_conflict_settled") == []
    assert get_conflict(pg_url, released, ZONE).settled is False


def test_a_server_that_does_not_answer_is_one_line_and_exit_code_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    config = settings_file(tmp_path, "postgresql://booth:secret@127.0.0.1:9/booth_lot")
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{PIN}\n"))
    assert _settle(config, 1) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "booth lot settle: lot server postgresql://booth:***@127.0.0.1:9/booth_lot does not"
    )
    assert "secret" not in err and err.count("\n") == 1
    assert main(["lot", "conflicts", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("booth lot conflicts: lot server postgresql://booth:***@127.0.0.1:9/booth_lot")
    assert "secret" not in err and err.count("\n") == 1
    assert main(["lot", "status", "--config", str(config)]) == 2  # the same code as booth lot status


def test_a_server_without_the_settle_column_says_run_booth_lot_init(lot: Engine, pg_url: str) -> None:
    with lot.begin() as c:
        c.execute(text("ALTER TABLE lot_conflicts DROP COLUMN settled_note"))
    with pytest.raises(LotServerError, match=r"older than this Booth.s .* run booth lot init"):
        list_conflicts(pg_url, ZONE)
