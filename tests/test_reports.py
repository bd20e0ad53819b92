"""Reports: a shift driven through a real engine (Bolink sandbox over loopback, real SQLite file), closed with
a variance, then checked against the stored rows summed independently here; the CSV round trip; bad input."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from booth.config import DEFAULT_DENOMINATIONS, Settings
from booth.domain.lane import LaneState
from booth.domain.money import format_yuan
from booth.office.reports import (
    Report,
    ReportError,
    build_period_report,
    build_shift_report,
    read_csv_totals,
    write_csv,
)
from booth.store import Database, Store, open_database
from booth.store.models import LaneException, Person, Shift, Stay
from tests.conftest import RunningEngine, engine_settings, wait_until
from tests.test_engine import bring_car, pay

MakeEngine = Callable[..., RunningEngine]
FLOAT_FEN = 50_000


def _sqlite_text(at: datetime) -> str:
    """How the store keeps a timestamp in SQLite (naive UTC text), for the independent sums below."""
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _add_person(db: Database, username: str, name: str) -> int:
    with db.sessionmaker.begin() as session:
        person = Person(
            username=username,
            display_name=name,
            role="attendant",
            pin_hash="not-used-here",
            failed_pins=0,
            created_at=datetime.now(UTC),
            created_by="test",
        )
        session.add(person)
        session.flush()
        return person.id


def _open_shift(db: Database, person_id: int, at: datetime) -> int:
    with db.sessionmaker.begin() as session:
        shift = Shift(attendant_id=person_id, state="open", opened_at=at, opening_float_fen=FLOAT_FEN)
        session.add(shift)
        session.flush()
        return shift.id


def _close_shift(db: Database, shift_id: int, at: datetime, cash_fen: int) -> tuple[dict[int, int], int]:
    """Close with a count 1.50 yuan (and any odd fen) short; returns the count and the variance."""
    expected = FLOAT_FEN + cash_fen
    remaining = (expected - 150) // 10 * 10
    counted: dict[int, int] = {}
    for denomination in DEFAULT_DENOMINATIONS:
        pieces, remaining = divmod(remaining, denomination)
        if pieces:
            counted[denomination] = pieces
    counted_fen = sum(d * n for d, n in counted.items())
    variance = counted_fen - expected
    with db.sessionmaker.begin() as session:
        shift = session.get(Shift, shift_id)
        assert shift is not None
        shift.state = "closed"
        shift.closed_at = at
        shift.counted_json = json.dumps({str(d): n for d, n in counted.items()})
        shift.counted_fen = counted_fen
        shift.expected_fen = expected
        shift.variance_fen = variance
        shift.cosigned_by = "supervisor1"
        shift.handover_float_fen = FLOAT_FEN
        shift.close_note = "少 1.50 元"
    return counted, variance


def _exit(r: RunningEngine, lane_id: str, done: int) -> None:
    """Let the car through and wait for the lane to be free again."""
    wait_until(lambda: r.lane(lane_id).state is LaneState.GATE_OPEN, what=f"the gate at {lane_id}")
    r.engine.vehicle_passed(lane_id).result(5)
    wait_until(lambda: r.engine.exits_completed == done, what=f"exit #{done}")
    wait_until(lambda: r.lane(lane_id).state is LaneState.IDLE, what=f"{lane_id} to be free")


def _push_result(
    r: RunningEngine, order_id: str, lane_id: str, pay_type: str, pay_channel: int, n: int
) -> None:
    due = r.lane(lane_id).due_fen
    r.engine.sandbox.push(
        {
            "service_name": "outpark",
            "state": 1,
            "order_id": order_id,
            "trade_no": f"T-report-{n}",
            "pay_type": pay_type,
            "pay_channel": pay_channel,
            "out_channel_id": lane_id,
            "errmsg": "",
            "pay_time": int(datetime.now(UTC).timestamp()),
            "total": format_yuan(due),
            "car_number": r.lane(lane_id).plate,
        }
    )


def _dump_hash(path: Path) -> str:
    """Every row of the database but the lane timings, which the running engine writes every few seconds on
    its own (booth/engine/timings.py), whatever a report does."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = (line for line in con.iterdump() if '"lane_timings"' not in line)
        return hashlib.sha256("\n".join(rows).encode()).hexdigest()
    finally:
        con.close()


class DrivenShift:
    def __init__(self, r: RunningEngine, db: Database, settings: Settings, shift_id: int) -> None:
        self.r, self.db, self.settings, self.shift_id = r, db, settings, shift_id
        self.opened_at = datetime.min.replace(tzinfo=UTC)
        self.closed_at = self.opened_at
        self.counted: dict[int, int] = {}
        self.variance = 0
        self.late_trade = ""

    def window_sql(self) -> tuple[str, str]:
        return _sqlite_text(self.opened_at), _sqlite_text(self.closed_at)


@pytest.fixture
def driven(make_engine: MakeEngine, tmp_path: Path) -> Iterator[DrivenShift]:
    """One shift with exits of every kind through the engine, closed with a variance."""
    r = make_engine()
    settings = engine_settings(tmp_path)
    db = open_database(settings.database.url)
    try:
        store = Store(db)
        person = _add_person(db, "zhang", "张三")
        before = datetime.now(UTC) - timedelta(hours=3)
        # money outside the shift's window: must not be in the shift's report
        store.record_payment(
            order_ref="NOBODY_EARLIER", exit_order_id=None, channel="scancode", pay_channel=1,
            trade_no="T-before", amount_fen=777, paid_at=before, lane_id=None, operator="bolink",
            payer_id=None, raw=None,
        )  # fmt: skip
        opened_at = datetime.now(UTC)
        shift_id = _open_shift(db, person, opened_at)
        done = 0

        order = bring_car(r, "X1", "苏A10001")  # Alipay through the lane's QR
        pay(r, order)
        done += 1
        _exit(r, "X1", done)
        order = bring_car(r, "X1", "苏A10002")  # WeChat through the lane's QR
        r.engine.call(r.engine.sandbox.driver_pays(order_id=order, pay_channel=0)).result(5)
        done += 1
        _exit(r, "X1", done)
        order = bring_car(r, "X2", "苏A10003")  # Bolink wallet (balance)
        _push_result(r, order, "X2", "wallet", 2, 1)
        done += 1
        _exit(r, "X2", done)
        order = bring_car(r, "X2", "苏A10004")  # booth scans the driver's UnionPay code
        _push_result(r, order, "X2", "sweepcode", 3, 2)
        done += 1
        _exit(r, "X2", done)
        late_order = bring_car(r, "X1", "苏A10005")  # cash, and later the driver's QR payment arrives too
        r.engine.cash("X1", r.lane("X1").due_fen, "zhang").result(5)
        done += 1
        _exit(r, "X1", done)
        late = pay(r, late_order)
        wait_until(
            lambda: (
                r.rows("SELECT flag FROM payments WHERE trade_no = ?", late["trade_no"])
                == [("late_after_settlement",)]
            ),
            what="the late payment to be flagged",
        )
        bring_car(r, "X2", "苏A10006")  # free release
        r.engine.free_release("X2", "员工车辆", "zhang").result(5)
        done += 1
        _exit(r, "X2", done)
        order = bring_car(r, "X1", "苏A10007")  # the payment fails, then cash
        pay(r, order, state=0)
        wait_until(lambda: r.lane("X1").state is LaneState.PAYMENT_FAILED, what="the failed payment")
        r.engine.cash("X1", r.lane("X1").due_fen + 1000, "zhang").result(5)
        done += 1
        _exit(r, "X1", done)
        bring_car(r, "X2", "苏A10008")  # manual lift while money is due
        r.engine.manual_lift("X2", "道闸故障", "zhang").result(5)
        done += 1
        _exit(r, "X2", done)
        r.engine.seed_stay("苏A10009", r.engine.now() - timedelta(days=1)).result(5)  # its exit was missed
        r.engine.vehicle_at("E1", "苏A10009").result(5)
        wait_until(
            lambda: (
                r.rows("SELECT state FROM stays WHERE plate = '苏A10009' ORDER BY id")
                == [("cancelled",), ("in_lot",)]
            ),
            what="the missed exit to be voided",
        )
        order = bring_car(r, "X1", "苏A10010")  # pays as the car backs away: paid, still in the lot
        r.engine.vehicle_left("X1").result(5)
        wait_until(lambda: r.lane("X1").state is LaneState.IDLE, what="the car to back away")
        pay(r, order)
        wait_until(
            lambda: r.rows("SELECT COUNT(*) FROM payments p JOIN stays s ON s.id = p.stay_id "
                           "WHERE s.plate = '苏A10010' AND p.flag IS NULL") == [(1,)],
            what="the payment of the car that backed away",
        )  # fmt: skip

        # Cases the engine does not make by itself (or not yet): written as the other parts write them.
        now = datetime.now(UTC)
        with db.sessionmaker.begin() as session:
            stay = Stay(
                order_id="DIRECT_LIFT_1", plate="苏U00001", plate_colour="blue", vehicle_class="small",
                entry_lane="E1", entry_at=now - timedelta(hours=2), exit_lane="X2", exit_at=now,
                state="exited", created_at=now,
            )  # fmt: skip
            session.add(stay)
            session.flush()
            session.add(
                LaneException(
                    at=now, kind="manual_lift", lane_id="X2", stay_id=stay.id, exit_order_id=None,
                    plate="苏U00001", due_fen=800, reason="系统故障", note="直接写入", operator="zhang",
                    approved_by="supervisor1", photo=None,
                )
            )  # fmt: skip
        store.audit(
            actor="zhang",
            action="payment_failed",
            detail={"lane_id": "X1", "order_ref": "X1_DIRECT", "amount_fen": 1500, "pay_type": "scancode",
                    "errmsg": "余额不足", "plate": "苏A10007"},
            at=now,
        )  # fmt: skip
        closed_at = datetime.now(UTC)
        [(cash_fen,)] = r.rows(
            "SELECT COALESCE(SUM(amount_fen), 0) FROM payments WHERE channel = 'cash' AND paid_at >= ? "
            "AND paid_at < ?",
            _sqlite_text(opened_at),
            _sqlite_text(closed_at),
        )
        d = DrivenShift(r, db, settings, shift_id)
        d.opened_at, d.closed_at = opened_at, closed_at
        d.counted, d.variance = _close_shift(db, shift_id, closed_at, cash_fen)
        d.late_trade = late["trade_no"]
        yield d
    finally:
        db.close()


def _stored_totals(d: DrivenShift, column: str) -> dict[Any, int]:
    start, end = d.window_sql()
    rows = d.r.rows(
        f"SELECT {column}, SUM(amount_fen) FROM payments WHERE paid_at >= ? AND paid_at < ? "
        f"GROUP BY {column}",
        start,
        end,
    )
    return {key: int(fen) for key, fen in rows}


def _report_totals(report: Report) -> dict[str, int]:
    return {c.key: c.amount_fen for c in report.by_channel}


def test_shift_report_totals_equal_the_stored_payments_to_the_fen(
    driven: DrivenShift, tmp_path: Path
) -> None:
    d = driven
    report = build_shift_report(d.db, d.settings, d.shift_id)
    by_channel = _stored_totals(d, "channel")
    assert set(by_channel) >= {"cash", "scancode", "wallet", "sweepcode"}
    assert _report_totals(report) == by_channel
    assert report.total_fen == sum(by_channel.values())
    pay_names = {None: "none", 0: "wechat", 1: "alipay", 2: "balance", 3: "unionpay"}
    by_pay = {pay_names[k]: v for k, v in _stored_totals(d, "pay_channel").items()}
    assert {c.key: c.amount_fen for c in report.by_pay_channel} == by_pay
    assert {"wechat", "alipay", "unionpay", "balance", "none"} <= set(by_pay)
    start, end = d.window_sql()
    [(flagged,)] = d.r.rows(
        "SELECT SUM(amount_fen) FROM payments WHERE flag IS NOT NULL AND paid_at >= ? AND paid_at < ?",
        start,
        end,
    )
    assert report.flagged_fen == flagged and report.counted_fen == report.total_fen - flagged
    assert "unknown_order" not in {f.key for f in report.by_flag}  # the payment before the shift is not in it
    # the hourly chart adds up to the same money and exits
    assert sum(h.revenue_fen for h in report.hourly) == report.total_fen
    [(exits,)] = d.r.rows(
        "SELECT COUNT(*) FROM stays WHERE state = 'exited' AND exit_at >= ? AND exit_at < ?", start, end
    )
    assert report.vehicles_out == exits == sum(h.exits for h in report.hourly)
    assert report.missed_exits == 1
    assert report.hourly_kind == "hour" and report.hourly[0].start is not None
    assert report.hourly[0].start.utcoffset() == timedelta(hours=8)  # Asia/Shanghai, the lot's zone

    assert report.lot_name == "测试停车场"
    assert report.shift is not None and report.shift.attendant == "zhang" and report.attendant_name == "张三"
    cash = report.cash
    assert cash is not None
    assert cash.cash_taken_fen == by_channel["cash"]
    assert cash.opening_float_fen == FLOAT_FEN and cash.expected_fen == FLOAT_FEN + by_channel["cash"]
    assert dict(cash.counted) == d.counted and cash.counted_fen == sum(k * v for k, v in d.counted.items())
    assert cash.variance_fen == d.variance < 0 and cash.cosigned_by == "supervisor1"

    # the lists: late, paid-not-exited, exited-unpaid, exceptions, failed payments
    assert [(p.trade_no, p.plate) for p in report.late_payments.items] == [(d.late_trade, "苏A10005")]
    assert [p.plate for p in report.paid_not_exited.items] == ["苏A10010"]
    unpaid = {(u.kind, u.plate) for u in report.exited_unpaid.items}
    assert {("missed_exit", "苏A10009"), ("manual_lift", "苏U00001")} <= unpaid
    assert report.exited_unpaid.total == len(report.exited_unpaid.items)
    [(exceptions,)] = d.r.rows("SELECT COUNT(*) FROM lane_exceptions WHERE at >= ? AND at < ?", start, end)
    assert report.exceptions.total == exceptions == len(report.exceptions.items)
    assert any(e.reason == "系统故障" and e.approved_by == "supervisor1" for e in report.exceptions.items)
    [(failed,)] = d.r.rows(
        "SELECT COUNT(*) FROM audit_log WHERE action = 'payment_failed' AND at >= ? AND at < ?", start, end
    )
    assert report.failed_payments.total == failed >= 1
    assert any(f.errmsg == "余额不足" and f.amount_fen == 1500 for f in report.failed_payments.items)
    assert report.vehicles_in == 1  # the missed-exit car's new entry; the others entered before the shift

    path = tmp_path / "shift.csv"
    write_csv(report, path)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # Excel's cue for UTF-8
    assert read_csv_totals(path) == {**by_channel, "total": sum(by_channel.values())}
    assert "测试停车场" in path.read_text(encoding="utf-8-sig")


def test_period_and_attendant_reports_cover_the_same_money(driven: DrivenShift) -> None:
    d = driven
    shift = build_shift_report(d.db, d.settings, d.shift_id)
    start, end = d.opened_at - timedelta(hours=4), d.closed_at + timedelta(hours=1)
    period = build_period_report(d.db, d.settings, start, end)
    assert period.total_fen == shift.total_fen + 777  # and the payment before the shift
    assert period.cash is None
    mine = build_period_report(d.db, d.settings, start, end, attendant="zhang")
    assert _report_totals(mine) == _report_totals(shift) and mine.attendant_name == "张三"
    with pytest.raises(ReportError, match="no attendant 'wang'"):
        build_period_report(d.db, d.settings, start, end, attendant="wang")


def test_bad_requests_are_refused_by_name_and_change_nothing(driven: DrivenShift) -> None:
    d = driven
    db_file = d.r.db_path
    open_id = _open_shift(d.db, _add_person(d.db, "li", "李四"), datetime.now(UTC))
    # the engine stops first: its own background writes (a failed payment's audit row, a gate event, an
    # outbox row marked sent) could land between the two dumps on a slow machine (a CI rehearsal saw one)
    d.r.engine.stop()
    before = _dump_hash(db_file)
    with pytest.raises(ReportError, match=f"shift {open_id} .* still open"):
        build_shift_report(d.db, d.settings, open_id)
    with pytest.raises(ReportError, match="no shift 9999"):
        build_shift_report(d.db, d.settings, 9999)
    with pytest.raises(ReportError, match="positive whole number"):
        build_shift_report(d.db, d.settings, 0)
    long_ago = datetime(2020, 1, 1, tzinfo=UTC)
    with pytest.raises(ReportError, match="no data between 2020-01-01 08:00 and 2020-01-02 08:00"):
        build_period_report(d.db, d.settings, long_ago, long_ago + timedelta(days=1))
    with pytest.raises(ReportError, match="at or before it starts"):
        build_period_report(d.db, d.settings, d.closed_at, d.opened_at)
    with pytest.raises(ReportError, match="aware datetime"):
        build_period_report(d.db, d.settings, datetime(2026, 1, 1), datetime(2026, 1, 2))
    assert _dump_hash(db_file) == before


# --- without an engine: hour buckets in the lot's zone, a zone with a half-hour offset -------------------


@pytest.fixture
def plain_db(tmp_path: Path) -> Iterator[tuple[Database, Path]]:
    path = tmp_path / "plain.sqlite"
    db = open_database(f"sqlite:///{path}")
    try:
        yield db, path
    finally:
        db.close()


def _cash(store: Store, at: datetime, fen: int, n: int) -> None:
    store.record_payment(
        order_ref=f"NONE_{n}", exit_order_id=None, channel="cash", pay_channel=None, trade_no=None,
        amount_fen=fen, paid_at=at, lane_id="X1", operator="zhang", payer_id=None, raw=None,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("zone", "first_label"),
    [("Asia/Shanghai", "11-01 08:00"), ("Asia/Kolkata", "11-01 05:00")],  # UTC+8, UTC+5:30
)
def test_hour_buckets_are_in_the_lot_time_zone(
    plain_db: tuple[Database, Path], tmp_path: Path, zone: str, first_label: str
) -> None:
    db, _ = plain_db
    settings = engine_settings(tmp_path, park={"name": "时区停车场", "timezone": zone})
    store = Store(db)
    t0 = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)
    _cash(store, t0 + timedelta(minutes=10), 500, 1)
    _cash(store, t0 + timedelta(minutes=40), 700, 2)  # Kolkata: 06:10, the next local hour
    _cash(store, t0 + timedelta(minutes=130), 1200, 3)
    report = build_period_report(db, settings, t0, t0 + timedelta(hours=3))
    labels = [(h.label, h.revenue_fen) for h in report.hourly if h.revenue_fen]
    if zone == "Asia/Shanghai":
        assert labels == [("11-01 08:00", 1200), ("11-01 10:00", 1200)]
    else:
        assert labels == [("11-01 05:00", 500), ("11-01 06:00", 700), ("11-01 07:00", 1200)]
    assert report.hourly[0].label == first_label
    assert report.total_fen == 2400 and report.by_channel[0].key == "cash"
    # a month gets 24 hour-of-day buckets
    month = build_period_report(db, settings, t0 - timedelta(days=15), t0 + timedelta(days=15))
    assert month.hourly_kind == "hour_of_day" and len(month.hourly) == 24
    assert sum(h.revenue_fen for h in month.hourly) == 2400


def test_lists_are_capped_and_say_how_many_more(plain_db: tuple[Database, Path], tmp_path: Path) -> None:
    db, _ = plain_db
    settings = engine_settings(tmp_path)
    store = Store(db)
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    for n in range(5):
        store.record_payment(
            order_ref=f"GHOST_{n}", exit_order_id=None, channel="scancode", pay_channel=1, trade_no=f"G{n}",
            amount_fen=100 + n, paid_at=t0 + timedelta(minutes=n), lane_id=None, operator="bolink",
            payer_id=None, raw=None,
        )  # fmt: skip
    report = build_period_report(db, settings, t0, t0 + timedelta(hours=1), list_limit=2)
    assert [p.trade_no for p in report.other_flagged.items] == ["G0", "G1"]
    assert report.other_flagged.total == 5 and report.other_flagged.more == 3
    assert report.by_flag[0].key == "unknown_order" and report.by_flag[0].amount_fen == 510
    path = tmp_path / "capped.csv"
    write_csv(report, path)
    assert "另有 3 条未列出" in path.read_text(encoding="utf-8-sig")
    assert read_csv_totals(path) == {"scancode": 510, "total": 510}


def test_read_csv_totals_refuses_a_file_that_is_not_a_report(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(ReportError, match="no channel totals"):
        read_csv_totals(path)
    path.write_text("channel,key,label,count,amount_yuan\nchannel,cash,现金,1,12.345\n", encoding="utf-8")
    with pytest.raises(ReportError, match="line 2"):
        read_csv_totals(path)
    with pytest.raises(ReportError, match="cannot read"):
        read_csv_totals(tmp_path / "missing.csv")


# --- booth report (the subcommands registered on a parser like booth.cli's) ---------------------------


def _cli(argv: list[str], settings: Settings, render_pdf: Any = None) -> int:
    import argparse

    from booth.cli.reports import register, run

    parser = argparse.ArgumentParser(prog="booth")
    register(parser.add_subparsers(dest="command"))
    return run(parser.parse_args(argv), settings, render_pdf)


def test_cli_prints_writes_csv_and_refuses_bad_input(
    driven: DrivenShift, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = driven
    assert _cli(["report", "shift", "--id", str(d.shift_id)], d.settings) == 0
    out = capsys.readouterr().out
    report = build_shift_report(d.db, d.settings, d.shift_id)
    assert "测试停车场" in out and format_yuan(report.total_fen) in out and "差额" in out
    csv_path = tmp_path / "cli.csv"
    assert _cli(["report", "shift", "--id", str(d.shift_id), "--csv", str(csv_path)], d.settings) == 0
    assert read_csv_totals(csv_path)["total"] == report.total_fen
    rendered: list[tuple[Report, Path]] = []
    pdf_path = tmp_path / "cli.pdf"
    argv = ["report", "shift", "--id", str(d.shift_id), "--pdf", str(pdf_path)]
    assert _cli(argv, d.settings, lambda r, p: rendered.append((r, p))) == 0
    assert rendered and rendered[0][1] == pdf_path and rendered[0][0].total_fen == report.total_fen
    capsys.readouterr()
    assert _cli(argv, d.settings) == 2
    assert "--pdf needs the Qt part of Booth" in capsys.readouterr().err
    local_day = d.opened_at.astimezone(d.settings.park.zone).date()
    next_day = (local_day + timedelta(days=1)).isoformat()
    period = ["report", "period", "--from", local_day.isoformat(), "--to", next_day]
    assert _cli([*period, "--attendant", "zhang"], d.settings) == 0
    assert format_yuan(report.total_fen) in capsys.readouterr().out
    assert _cli(["report", "period", "--from", "2020-01-01", "--to", "2020-01-02"], d.settings) == 1
    assert "no data between 2020-01-01 00:00 and 2020-01-03 00:00" in capsys.readouterr().err
    assert _cli(["report", "period", "--from", "2026-13-01", "--to", "2026-11-02"], d.settings) == 1
    assert "--from: not a date" in capsys.readouterr().err
    assert _cli(["report", "shift", "--id", "4242"], d.settings) == 1
    assert "no shift 4242" in capsys.readouterr().err


def test_typed_text_that_a_spreadsheet_would_run_is_written_inert() -> None:
    from booth.office.reports.csv_file import _inert

    assert [_inert(cell) for cell in ("=HYPERLINK(\"x\")", "@cmd", "+1", "-abc")] == [
        "'=HYPERLINK(\"x\")", "'@cmd", "'+1", "'-abc"
    ]
    assert [_inert(cell) for cell in ("-12.50", "12.50", "员工车辆", 3)] == ["-12.50", "12.50", "员工车辆", 3]


def test_arrears_are_reported_noticed_collected_waived_and_open(
    plain_db: tuple[Database, Path], tmp_path: Path
) -> None:
    """Issue 13, item 4: what missed exits owed is on the period report (and the shift report, which is the
    same builder over the shift's window), with the missed exit's line saying how much it owed."""
    db, _ = plain_db
    settings = engine_settings(tmp_path)
    store = Store(db)
    t0 = datetime(2026, 11, 1, tzinfo=UTC)

    def missed(plate: str, owed: int, n: int) -> int:
        old = store.create_stay(
            order_id=f"OLD_{n}", plate=plate, plate_colour="blue", vehicle_class="small", lane_id="E1",
            entry_at=t0,
        )  # fmt: skip
        store.close_missed_stay(old.id, at=t0 + timedelta(hours=1), lane_id="E1", owed_fen=owed)
        new = store.create_stay(
            order_id=f"NEW_{n}", plate=plate, plate_colour="blue", vehicle_class="small", lane_id="E1",
            entry_at=t0 + timedelta(hours=1),
        )  # fmt: skip
        [owing] = store.open_arrears(plate)
        order = store.open_exit_order(
            stay_id=new.id, lane_id="X1", opened_at=t0 + timedelta(hours=2), quote_json="{}", gross_fen=0,
            paid_before_fen=0, discount_fen=0, due_fen=owed, arrears_ids=[owing.id],
        )  # fmt: skip
        return order.id

    paid_order = missed("苏A00001", 1500, 1)
    store.record_payment(
        order_ref="NEW_1", exit_order_id=paid_order, channel="cash", pay_channel=None, trade_no=None,
        amount_fen=1500, paid_at=t0 + timedelta(hours=2), lane_id="X1", operator="zhang", payer_id=None,
        raw=None,
    )  # fmt: skip
    released = missed("苏A00002", 700, 2)
    store.release_exit_order(released, at=t0 + timedelta(hours=2), reason="员工车辆", operator="zhang")
    missed("苏A00003", 300, 3)  # asked for, not paid yet
    store.close_missed_stay(
        store.create_stay(order_id="FREE", plate="苏A00004", plate_colour="blue", vehicle_class="small",
                          lane_id="E1", entry_at=t0).id,
        at=t0 + timedelta(minutes=5), lane_id="E1", owed_fen=0,
    )  # fmt: skip  (a missed exit that owed nothing keeps no arrears)
    report = build_period_report(db, settings, t0, t0 + timedelta(hours=3))
    assert {c.key: (c.count, c.amount_fen) for c in report.arrears} == {
        "noticed": (3, 2500),
        "collected": (1, 1500),
        "waived": (1, 700),
        "open": (1, 300),
    }
    assert sorted(u.due_fen or 0 for u in report.exited_unpaid.items if u.kind == "missed_exit") == [
        0, 300, 700, 1500
    ]  # fmt: skip
    path = tmp_path / "arrears.csv"
    write_csv(report, path)
    assert "arrears:open" in path.read_text(encoding="utf-8-sig")
