"""Per-lane figures (issue #16): cars out, payment -> gate, gate faults, manual lifts and free releases per
lane, from a real engine's traffic on a real SQLite file — checked against what the test itself did — and
`booth lanes stats` printing them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from booth.cli.main import main
from booth.domain.lane import LaneState
from booth.office.lane_figures import LaneFigures, lane_figures
from booth.store import open_database
from tests.conftest import RunningEngine, wait_until
from tests.test_engine import bring_car, pay

MakeEngine = Callable[..., RunningEngine]
LANES = [
    {"id": "E1", "name": "入口", "direction": "entry", "channel_id": "E1", "pass_timeout_s": 1},
    {"id": "X1", "name": "东出口", "direction": "exit", "channel_id": "X1", "pass_timeout_s": 1},
    {
        "id": "X2",
        "name": "西出口",
        "direction": "exit",
        "channel_id": "X2",
        "pass_timeout_s": 1,
        "gate": {"driver": "simulated", "fail_next": 2},  # its first lift fails twice: a gate fault
    },
]


def test_the_figures_match_the_traffic(
    make_engine: MakeEngine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    r = make_engine(lanes=LANES)
    engine = r.engine
    start = engine.now() - timedelta(seconds=1)
    for n in range(3):  # three cars pay by QR at X1 and leave
        pay(r, bring_car(r, "X1", f"苏A0000{n}"))
        wait_until(lambda n=n: engine.exits_completed == n + 1, what=f"car {n} out")
    pay(r, bring_car(r, "X2", "苏B00001"))  # paid at X2, whose gate fails twice: lifted by hand
    wait_until(lambda: r.lane("X2").state is LaneState.GATE_FAULT, what="the gate fault")
    engine.manual_lift("X2", "道闸故障", "张三").result(5)
    wait_until(lambda: engine.exits_completed == 4, what="the lifted car out")
    bring_car(r, "X1", "苏A00009")  # a free release at X1
    engine.free_release("X1", "员工车辆", "张三").result(5)
    wait_until(lambda: engine.exits_completed == 5, what="the released car out")
    end = engine.now() + timedelta(seconds=1)

    database = open_database(f"sqlite:///{r.db_path}")
    try:
        figures = {f.lane_id: f for f in lane_figures(database, start, end)}
        before = lane_figures(database, start - timedelta(hours=2), start)
    finally:
        database.close()
    assert before == []  # nothing happened before the test
    x1, x2 = figures["X1"], figures["X2"]
    def counts(f: LaneFigures) -> tuple[int, ...]:
        return f.cars_out, f.paid_exits_timed, f.gate_faults, f.manual_lifts, f.free_releases

    assert counts(x1) == (4, 3, 0, 0, 1)
    assert counts(x2) == (1, 1, 2, 1, 0)
    # payment -> gate as the database recorded it: each paid car's booking to its barrier's opening
    timings = r.rows(
        "SELECT (julianday(g.at) - julianday(p.paid_at)) * 86400000 FROM exit_orders o "
        "JOIN payments p ON p.id = o.settled_by JOIN gate_events g ON g.stay_id = o.stay_id "
        "AND g.outcome = 'opened' WHERE o.lane_id = 'X1'"
    )
    assert x1.pay_to_gate_p50_ms is not None and x1.pay_to_gate_p99_ms is not None
    assert x1.pay_to_gate_p50_ms == pytest.approx(sorted(t for (t,) in timings)[1], abs=1.0)
    assert x1.pay_to_gate_p99_ms == pytest.approx(max(t for (t,) in timings), abs=1.0)
    assert x2.pay_to_gate_p50_ms is not None and x2.pay_to_gate_p50_ms > x1.pay_to_gate_p50_ms  # by hand
    assert x1.cars_per_hour == pytest.approx(4 / ((end - start).total_seconds() / 3600))

    engine.stop()
    config = tmp_path / "booth.toml"
    config.write_text(
        f'[park]\nname = "测试"\nprovince = "苏"\n[database]\nurl = "sqlite:///{r.db_path}"\n'
        '[bolink]\nbase_url = "sandbox"\nunion_id = "1"\npark_id = "1"\nukey = "K"\nlocal_id = "t"\n'
        '[[lanes]]\nid = "X1"\nname = "东出口"\ndirection = "exit"\nchannel_id = "X1"\n',
        encoding="utf-8",
    )
    config.chmod(0o600)
    capsys.readouterr()
    assert main(["lanes", "stats", "--config", str(config)]) == 0
    printed = capsys.readouterr().out
    assert "last hour:" in printed and "last week:" in printed
    x1_line = next(line for line in printed.splitlines() if line.strip().startswith("X1 东出口"))
    assert x1_line.split()[3] == "4"  # lane, name, cars/h, cars
    assert any(line.strip().startswith("X2 ") for line in printed.splitlines())  # a lane no longer configured



def test_a_window_that_ends_before_it_starts_is_refused(tmp_path: Path) -> None:
    t = datetime(2026, 12, 1, tzinfo=UTC)
    database = open_database(f"sqlite:///{tmp_path / 'b.sqlite'}")
    try:
        with pytest.raises(ValueError, match="must end after it starts"):
            lane_figures(database, t, t)
    finally:
        database.close()
