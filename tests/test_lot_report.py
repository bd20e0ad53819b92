"""The supervisor's lot report (issue #18): per booth and in total from the server's mirrors, to the fen.

The oracle is a plain Python sum over the rows the test inserted (never the report's code): random rows of
three booths around the period's edges, cars that left at another booth's lane (the entry booth's copy
closed by the pull), flagged payments, lifts and free releases, open and settled conflicts."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, insert, text

from booth.cli.main import main
from booth.lot.report import build_lot_report
from booth.lot.schema import MIRRORS, lot_conflicts
from booth.lot.server import LotServerError, LotServerUnreachable, touch_booth
from booth.office.reports import build_period_report
from tests.lot_rig import Clock, booth_database, booth_day, heard_from, lot_server, push_all
from tests.test_lot_cli import settings_file

pytestmark = pytest.mark.postgresql

ZONE = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 11, 1, tzinfo=ZONE).astimezone(UTC)
END = datetime(2026, 12, 1, tzinfo=ZONE).astimezone(UTC)
BOOTHS = {"entry": ["E1", "E2"], "exit-east": ["X1", "X2"], "exit-west": ["X3"]}
CHANNELS = ["cash", "wallet", "scancode", "sweepcode", "prepay", "monthuser"]
PAY_CHANNELS = [None, 0, 1, 2, 3, 7]
FLAGS = [None, None, None, "late_after_settlement", "unknown_order"]


@pytest.fixture
def lot(pg_url: str) -> Any:
    engine = lot_server(pg_url)
    yield engine
    engine.dispose()


def _when(rng: random.Random) -> datetime:
    """Mostly inside the period, some just outside it, and some exactly on its edges."""
    pick = rng.random()
    if pick < 0.03:
        return START
    if pick < 0.06:
        return END  # excluded: the period is [start, end)
    if pick < 0.09:
        return START - timedelta(microseconds=1)
    if pick < 0.15:
        return END + timedelta(seconds=rng.randint(0, 86400))
    return START + timedelta(seconds=rng.randint(0, int((END - START).total_seconds()) - 1))


def _populate(lot: Engine, seed: int = 18) -> dict[str, list[dict[str, Any]]]:
    rng = random.Random(seed)
    rows: dict[str, list[dict[str, Any]]] = defaultdict(list)
    ids: dict[tuple[str, str], int] = defaultdict(int)

    def add(table: str, booth: str, **values: Any) -> dict[str, Any]:
        ids[(table, booth)] += 1
        row = {"booth_id": booth, "id": ids[(table, booth)], **values}
        rows[table].append(row)
        return row

    def stay(
        booth: str,
        order_id: str,
        *,
        state: str,
        entry_at: datetime,
        exit_lane: str | None,
        exit_at: datetime | None,
        origin: str | None = None,
    ) -> None:
        add(
            "stays",
            booth,
            order_id=order_id,
            plate=f"苏A{rng.randint(0, 99999):05d}",
            plate_colour="blue",
            vehicle_class="small",
            entry_lane="E1",
            entry_at=entry_at,
            exit_lane=exit_lane,
            exit_at=exit_at,
            state=state,
            created_at=entry_at,
            origin_booth=origin,
        )

    for n in range(600):
        booth = rng.choice(list(BOOTHS))
        entry_at = _when(rng) - timedelta(hours=rng.randint(0, 30))
        kind = rng.random()
        if kind < 0.5:  # entered and left at the same booth (now and then at a lane no booth names any more)
            at = _when(rng)
            stay(
                booth,
                f"o{n}",
                state="exited",
                entry_at=entry_at,
                exit_lane=rng.choice(BOOTHS[booth]) if rng.random() < 0.9 else "OLD9",
                exit_at=at,
            )
        elif kind < 0.7:  # entered at `booth`, left at another: the leaver's import and the pull's copy
            other = rng.choice([b for b in BOOTHS if b != booth])
            lane, at = rng.choice(BOOTHS[other]), _when(rng)
            stay(booth, f"o{n}", state="exited", entry_at=entry_at, exit_lane=lane, exit_at=at)
            stay(other, f"o{n}", state="exited", entry_at=entry_at, exit_lane=lane, exit_at=at, origin=booth)
        elif kind < 0.8:
            stay(booth, f"o{n}", state="cancelled", entry_at=entry_at, exit_lane="E1", exit_at=_when(rng))
        else:
            stay(booth, f"o{n}", state="in_lot", entry_at=_when(rng), exit_lane=None, exit_at=None)
    for n in range(1500):
        booth = rng.choice(list(BOOTHS))
        at = _when(rng)
        add(
            "payments",
            booth,
            stay_id=None,
            order_ref=f"o{n}",
            exit_order_id=None,
            channel=rng.choice(CHANNELS),
            pay_channel=rng.choice(PAY_CHANNELS),
            trade_no=f"T{n}",
            amount_fen=rng.choice([1, 99, 500, 1234567]),
            paid_at=at,
            lane_id="X1",
            operator="wang",
            payer_id=None,
            flag=rng.choice(FLAGS),
            raw_json="{}",
            created_at=at,
        )
    for _ in range(200):
        booth = rng.choice(list(BOOTHS))
        add(
            "lane_exceptions",
            booth,
            at=_when(rng),
            kind=rng.choice(["manual_lift", "free_release"]),
            lane_id="X1",
            stay_id=None,
            exit_order_id=None,
            plate=None,
            due_fen=rng.randint(0, 5000),
            reason="broken_gate",
            note="",
            operator="wang",
            approved_by=None,
            photo=None,
        )

    with lot.begin() as c:
        for table in ("stays", "payments", "lane_exceptions"):
            c.execute(insert(MIRRORS[table]), rows[table])
        now = c.execute(text("SELECT now()")).scalar_one()
        for booth, lanes in BOOTHS.items():
            touch_booth(
                c,
                booth,
                name=booth,
                lanes=lanes,
                version="1",
                backlog=3 if booth == "exit-west" else 0,
                open_shift=None,
            )
            heard_from(c, booth, 600 if booth == "exit-west" else 1)
        detail = [{"booth_id": "entry", "id": 1}, {"booth_id": "exit-east", "id": 4}]
        # one statement each: an executemany takes its columns from the first row
        c.execute(
            insert(lot_conflicts).values(
                rule="trade_no_twice", subject="T1", detail_json=json.dumps(detail), found_at=now
            )
        )
        c.execute(
            insert(lot_conflicts).values(
                rule="stay_closed_twice",
                subject="o1",
                detail_json=json.dumps(detail),
                found_at=now,
                settled_at=now,
                settled_by="boss",
            )
        )
    return rows


def _inside(at: datetime | None) -> bool:
    return at is not None and START <= at < END


def test_the_report_per_booth_and_in_total_equals_the_rows_to_the_fen(lot: Engine, pg_url: str) -> None:
    rows = _populate(lot)
    report = build_lot_report(pg_url, START, END, ZONE)

    expected: dict[str, dict[str, Any]] = {
        b: {
            "exits": 0,
            "missed": 0,
            "entries": 0,
            "count": 0,
            "fen": 0,
            "flagged": 0,
            "lifts": [0, 0],
            "frees": [0, 0],
            "channel": defaultdict(int),
            "pay": defaultdict(int),
        }
        for b in BOOTHS
    }
    for r in rows["stays"]:
        e = expected[r["booth_id"]]
        own = r["exit_lane"] in BOOTHS[r["booth_id"]] or r["exit_lane"] == "OLD9"
        if r["state"] == "exited" and _inside(r["exit_at"]) and own:
            e["exits"] += 1
        if r["state"] == "cancelled" and _inside(r["exit_at"]):
            e["missed"] += 1
        if r["origin_booth"] is None and _inside(r["entry_at"]):
            e["entries"] += 1
    for r in rows["payments"]:
        if _inside(r["paid_at"]):
            e = expected[r["booth_id"]]
            e["count"] += 1
            e["fen"] += r["amount_fen"]
            e["flagged"] += r["amount_fen"] if r["flag"] else 0
            e["channel"][r["channel"]] += r["amount_fen"]
            e["pay"][r["pay_channel"]] += r["amount_fen"]
    for r in rows["lane_exceptions"]:
        if _inside(r["at"]):
            pair = expected[r["booth_id"]]["lifts" if r["kind"] == "manual_lift" else "frees"]
            pair[0] += 1
            pair[1] += r["due_fen"]

    got = {f.booth_id: f for f in report.booths}
    assert set(got) == set(BOOTHS)
    for booth, e in expected.items():
        f = got[booth]
        assert (f.entries, f.exits, f.missed_exits) == (e["entries"], e["exits"], e["missed"]), booth
        assert (f.payment_count, f.total_fen, f.flagged_fen) == (e["count"], e["fen"], e["flagged"]), booth
        assert f.counted_fen == e["fen"] - e["flagged"]
        assert {t.key: t.amount_fen for t in f.by_channel} == dict(e["channel"]), booth
        assert {t.key: t.amount_fen for t in f.by_pay_channel} == dict(e["pay"]), booth
        assert [f.manual_lifts, f.manual_lift_fen] == e["lifts"]
        assert [f.free_releases, f.free_release_fen] == e["frees"]
    t = report.total
    assert t.total_fen == sum(e["fen"] for e in expected.values())
    assert t.payment_count == sum(e["count"] for e in expected.values())
    assert t.exits == sum(e["exits"] for e in expected.values())
    # a car that left at another booth is one exit lot-wide: the lot's exits are the distinct order ids
    left = {r["order_id"] for r in rows["stays"] if r["state"] == "exited" and _inside(r["exit_at"])}
    assert t.exits == len(left)
    assert {t.key: t.amount_fen for t in t.by_pay_channel} == {
        k: sum(e["pay"][k] for e in expected.values() if k in e["pay"])
        for k in {k for e in expected.values() for k in e["pay"]}
    }
    assert t.total_fen > 10_000_000  # the period holds real money (not an empty window equal to an empty sum)

    assert report.open_conflicts == 1  # the settled one is not listed
    assert [(k.rule, k.subject, k.booths) for k in report.conflicts] == [
        ("trade_no_twice", "T1", ("entry", "exit-east"))
    ]
    assert (got["entry"].open_conflicts, got["exit-west"].open_conflicts, t.open_conflicts) == (1, 0, 1)
    assert [s.booth_id for s in report.incomplete()] == ["exit-west"]  # silent for 10 min, 3 behind
    west = next(s for s in report.states if s.booth_id == "exit-west")
    assert west.silent and west.behind and west.backlog == 3


def test_a_booths_own_period_report_and_the_lot_report_agree_once_pushed(
    tmp_path: Path, lot: Engine, pg_url: str
) -> None:
    """Two booths' days written through the store and pushed by the pusher: the lot report's line of each
    booth has the payments, exits, lifts and releases of the booth's own period report."""
    import tomllib

    from booth.config import settings_from_mapping
    from booth.lot.push import LotPusher
    from tests.test_config import MINIMAL

    settings = settings_from_mapping(tomllib.loads(MINIMAL))
    clock = Clock(datetime(2026, 11, 3, 8, 0, tzinfo=UTC))
    own = {}
    for tag in ("aa", "bb"):
        db = booth_database(tmp_path, tag)
        booth_day(db, tag, clock, cars=4)
        push_all(LotPusher(db, lot, f"booth-{tag}", name=tag, lanes=[f"{tag}-E1", f"{tag}-X1"], clock=clock))
        own[f"booth-{tag}"] = build_period_report(db, settings, START, END)
        db.close()
    report = build_lot_report(pg_url, START, END, settings.park.zone)
    got = {f.booth_id: f for f in report.booths}
    assert set(got) == set(own)
    for booth, mine in own.items():
        f = got[booth]
        assert (f.payment_count, f.total_fen, f.counted_fen) == (
            mine.payment_count,
            mine.total_fen,
            mine.counted_fen,
        )
        assert {t.key: (t.count, t.amount_fen) for t in f.by_channel} == {
            c.key: (c.count, c.amount_fen) for c in mine.by_channel
        }
        assert (f.exits, f.missed_exits, f.entries) == (
            mine.vehicles_out,
            mine.missed_exits,
            mine.vehicles_in,
        )
        lines = {c.key: (c.count, c.amount_fen) for c in mine.exception_totals}
        assert (f.free_releases, f.free_release_fen) == lines.get("free_release", (0, 0))
        assert (f.manual_lifts, f.manual_lift_fen) == lines.get("manual_lift", (0, 0))
    assert report.total.total_fen == sum(r.total_fen for r in own.values()) > 0
    assert report.total.exits == sum(r.vehicles_out for r in own.values()) > 0


def test_booth_lot_report_prints_every_booth_and_the_total(
    lot: Engine, pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from booth.domain.money import format_yuan

    _populate(lot)
    total = build_lot_report(pg_url, START, END, ZONE).total
    config = settings_file(tmp_path, pg_url.replace("+psycopg", ""))
    assert main(["lot", "report", "--from", "2026-11-01", "--to", "2026-11-30", "--config", str(config)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].startswith("时段：2026-11-01 00:00 – 2026-12-01 00:00（Asia/Shanghai）")
    total_line = next(line for line in out if line.strip().startswith("合计"))
    assert format_yuan(total.total_fen) in total_line and f" {total.exits} " in total_line
    for booth in BOOTHS:
        assert any(line.strip().startswith(booth) for line in out[:8]), booth
    assert "  收款（按支付渠道）：" not in out and "收款（按支付渠道）：" in out
    assert any("微信" in line and "支付宝" in line for line in out)
    assert any(line.startswith("未决冲突 1 条") for line in out)
    assert any(line.strip().startswith("exit-west：失联") and "3 条日志尚未上传" in line for line in out)


def test_a_bad_period_and_a_server_that_does_not_answer_are_one_line_each(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(LotServerError, match="at or before it starts"):
        build_lot_report("postgresql://booth@127.0.0.1:9/x", END, START, ZONE)
    with pytest.raises(LotServerUnreachable, match="does not answer"):
        build_lot_report("postgresql://booth:secret@127.0.0.1:9/x", START, END, ZONE)
    config = settings_file(tmp_path, "postgresql://booth:secret@127.0.0.1:9/x")
    assert main(["lot", "report", "--from", "2026-11-01", "--to", "2026-11-30", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("booth lot report: lot server") and "secret" not in err and err.count("\n") == 1


def test_booth_lot_init_makes_the_reports_covering_indexes_as_the_schema_declares_them(lot: Engine) -> None:
    """The migration's indexes INCLUDE what booth.lot.schema says (the drift test does not compare it)."""
    declared = {
        str(index.name): (
            [c.name for c in index.columns],
            index.dialect_options["postgresql"]["include"],
        )
        for table in (MIRRORS["stays"], MIRRORS["payments"])
        for index in table.indexes
        if str(index.name).endswith("_report")
    }
    assert len(declared) == 3
    with lot.connect() as c:
        made: dict[str, str] = dict(
            c.execute(
                text("SELECT indexname, indexdef FROM pg_indexes WHERE indexname LIKE '%\\_report'")
            ).all()
        )
    assert set(made) == set(declared)
    for name, (columns, include) in declared.items():
        assert made[name].endswith(f"({', '.join(columns)}) INCLUDE ({', '.join(include)})"), made[name]


def _csv_sections(path: Path) -> dict[str, list[dict[str, str]]]:
    """The lot CSV's sections: name -> rows as {header: cell} (each section has its own header row)."""
    import csv

    sections: dict[str, list[dict[str, str]]] = {}
    header: list[str] = []
    with path.open(encoding="utf-8-sig", newline="") as source:
        for row in csv.reader(source):
            if not row:
                header = []
                continue
            if not header:
                header = row
                sections[row[0]] = []
                continue
            sections[row[0]].append(dict(zip(header[1:], row[1:], strict=True)))
    return sections


def test_booth_lot_report_csv_has_the_reports_figures_to_the_fen(
    lot: Engine, pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from booth.domain.money import parse_yuan
    from booth.office.reports.records import pay_channel_key

    _populate(lot)
    report = build_lot_report(pg_url, START, END, ZONE)
    config = settings_file(tmp_path, pg_url.replace("+psycopg", ""))
    path = tmp_path / "十一月.csv"
    argv = ["lot", "report", "--from", "2026-11-01", "--to", "2026-11-30", "--csv", str(path)]
    assert main([*argv, "--config", str(config)]) == 0
    assert capsys.readouterr().out == f"CSV written: {path}\n"  # the file instead of the text
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM, for Excel
    got = _csv_sections(path)

    about = {r["item"]: r["value"] for r in got["report"]}
    assert (about["start"], about["end"], about["zone"]) == (
        "2026-11-01 00:00",
        "2026-12-01 00:00",
        str(ZONE),
    )
    assert about["amount_unit"].startswith("yuan")
    figures = {f.booth_id: f for f in [*report.booths, report.total]}
    assert [r["booth"] for r in got["booth"]] == [*(f.booth_id for f in report.booths), "*"]
    for r in got["booth"]:
        f = figures[r["booth"]]
        assert (
            int(r["entries"]),
            int(r["exits"]),
            int(r["missed_exits"]),
            int(r["payment_count"]),
            parse_yuan(r["total_yuan"]),
            parse_yuan(r["counted_yuan"]),
            parse_yuan(r["flagged_yuan"]),
            int(r["manual_lifts"]),
            parse_yuan(r["manual_lift_yuan"]),
            int(r["free_releases"]),
            parse_yuan(r["free_release_yuan"]),
            int(r["open_conflicts"]),
        ) == (
            f.entries,
            f.exits,
            f.missed_exits,
            f.payment_count,
            f.total_fen,
            f.counted_fen,
            f.flagged_fen,
            f.manual_lifts,
            f.manual_lift_fen,
            f.free_releases,
            f.free_release_fen,
            f.open_conflicts,
        ), r["booth"]
    for section, attr, key_of in (
        ("pay_type", "by_channel", str),
        ("pay_channel", "by_pay_channel", pay_channel_key),
        ("flag", "by_flag", str),
    ):
        in_csv = {
            (r["booth"], r["key"]): (int(r["count"]), parse_yuan(r["amount_yuan"])) for r in got[section]
        }
        assert len(in_csv) == len(got[section])
        expected = {
            (b, key_of(t.key)): (t.count, t.amount_fen) for b, f in figures.items() for t in getattr(f, attr)
        }
        assert in_csv == expected, section
    # the text report's total line has the CSV's total
    assert main(["lot", "report", "--from", "2026-11-01", "--to", "2026-11-30", "--config", str(config)]) == 0
    total_line = next(
        line for line in capsys.readouterr().out.splitlines() if line.strip().startswith("合计")
    )
    total_row = next(r for r in got["booth"] if r["booth"] == "*")
    assert total_line.split()[1:7] == [
        total_row[k]
        for k in ("entries", "exits", "missed_exits", "payment_count", "total_yuan", "counted_yuan")
    ]
    assert parse_yuan(total_row["total_yuan"]) > 10_000_000

    assert [(int(r["id"]), r["rule"], r["subject"], r["booths"]) for r in got["open_conflict"]] == [
        (k.id, k.rule, k.subject, ",".join(k.booths)) for k in report.conflicts
    ]
    assert got["conflict_rule"] == [
        {"rule": "trade_no_twice", "label": "同一交易号在两个岗亭入账", "count": "1"}
    ]
    assert got["settled_conflict"] == []  # settled now, not in November
    assert [r["booth"] for r in got["incomplete"]] == ["exit-west"]


def test_booth_lot_report_csv_to_a_place_it_cannot_write_is_one_line(
    lot: Engine, pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = settings_file(tmp_path, pg_url.replace("+psycopg", ""))
    argv = [
        "lot",
        "report",
        "--from",
        "2026-11-01",
        "--to",
        "2026-11-30",
        "--csv",
        str(tmp_path / "no" / "x.csv"),
    ]
    assert main([*argv, "--config", str(config)]) == 1
    err = capsys.readouterr().err
    assert (
        err.startswith(f"booth lot report: cannot write {tmp_path / 'no' / 'x.csv'}: ")
        and err.count("\n") == 1
    )
