"""Lane timings (issue #16): camera push → quote shown and the Bolink round trip, taken by a real engine (real
camera listener over loopback, Bolink sandbox), written in batches in the background, pruned after some days,
and read back as the lane figures."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from booth.cli.main import main
from booth.domain.lane import LaneState, LaneView
from booth.engine.runtime import Runtime
from booth.engine.timings import LaneTimings
from booth.office.lane_figures import lane_figures
from booth.store import StoreError, open_database
from booth.store.timings import TimingSample, TimingStore
from booth.store.worker import DatabaseWorker
from tests.conftest import RunningEngine, wait_until
from tests.test_cameras import X1_CAMERA, answer_of, camera_engine, post, vzenith_push  # noqa: F401

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def test_a_camera_push_and_the_lanes_bolink_calls_are_timed(
    camera_engine: Callable[..., RunningEngine],  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    r = camera_engine()
    engine = r.engine
    start = engine.now() - timedelta(seconds=1)
    engine.seed_stay("苏A12345", engine.now() - timedelta(hours=2)).result(5)
    sent = time.monotonic()
    answer_of(post(r, X1_CAMERA, json=vzenith_push("苏A12345", plateid=1)))
    wait_until(lambda: r.lane("X1").due_fen is not None, what="the quote at X1")
    quoted_within_ms = (time.monotonic() - sent) * 1000
    wait_until(lambda: r.lane("X1").state is LaneState.AWAITING_PAYMENT and r.lane("X1").code_url, what="QR")
    # the same kind of car at X2 brought by hand (no camera): Bolink timed, camera → quote not
    engine.seed_stay("苏B22222", engine.now() - timedelta(hours=1)).result(5)
    engine.vehicle_at("X2", "苏B22222").result(5)
    wait_until(lambda: r.lane("X2").code_url, what="the QR at X2")
    engine.stop()  # the samples not yet written go at the stop

    rows = r.rows("SELECT lane_id, kind, ms FROM lane_timings ORDER BY id")
    camera = [(lane, ms) for lane, kind, ms in rows if kind == "camera_to_quote"]
    bolink = [(lane, ms) for lane, kind, ms in rows if kind == "bolink_round_trip"]
    assert [lane for lane, _ in camera] == ["X1"]
    assert 0 < camera[0][1] < quoted_within_ms  # inside what the test saw from the push to the quote
    # outpark and the QR for each lane (its channel's QR is asked once): each a trip to the sandbox
    assert sorted(lane for lane, _ in bolink) == ["X1", "X1", "X2", "X2"]
    assert all(0 < ms < 5000 for _, ms in bolink)

    database = open_database(f"sqlite:///{r.db_path}")
    try:
        figures = {f.lane_id: f for f in lane_figures(database, start, engine.now() + timedelta(seconds=1))}
    finally:
        database.close()
    x1, x2 = figures["X1"], figures["X2"]
    assert (x1.camera_reads_timed, x1.camera_to_quote_p50_ms) == (1, pytest.approx(camera[0][1]))
    assert x1.camera_to_quote_p99_ms == pytest.approx(camera[0][1])
    assert (x2.camera_reads_timed, x2.camera_to_quote_p50_ms) == (0, None)
    x1_trips = sorted(ms for lane, ms in bolink if lane == "X1")
    assert x1.bolink_calls_timed == 2 and x1.bolink_p99_ms == pytest.approx(x1_trips[1])
    assert x1.bolink_p50_ms == pytest.approx(sum(x1_trips) / 2)
    assert x2.bolink_calls_timed == 2

    config = tmp_path / "booth.toml"  # `booth lanes stats` prints them
    config.write_text(
        f'[park]\nname = "测试"\nprovince = "苏"\n[database]\nurl = "sqlite:///{r.db_path}"\n'
        '[bolink]\nbase_url = "sandbox"\nunion_id = "1"\npark_id = "1"\nukey = "K"\nlocal_id = "t"\n'
        '[[lanes]]\nid = "X1"\nname = "东出口"\ndirection = "exit"\nchannel_id = "X1"\n',
        encoding="utf-8",
    )
    config.chmod(0o600)
    capsys.readouterr()
    assert main(["lanes", "stats", "--config", str(config)]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert any("cam→quote p50" in line and "Bolink p50" in line for line in printed)
    x1_line = next(line for line in printed if line.strip().startswith("X1 东出口")).split()
    camera_ms = f"{camera[0][1]:.0f}"
    assert x1_line[-8:-4] == [camera_ms, "ms", camera_ms, "ms"]  # camera → quote p50 and p99 (one read)
    assert x1_line[-4:] == [f"{x1.bolink_p50_ms:.0f}", "ms", f"{x1.bolink_p99_ms:.0f}", "ms"]


def test_samples_wait_in_memory_and_go_in_one_batch_and_old_ones_are_pruned(tmp_path: Path) -> None:
    database = open_database(f"sqlite:///{tmp_path / 'b.sqlite'}")
    worker = DatabaseWorker()
    now = [T0]
    rt = Runtime(lambda: now[0], worker)
    timings = LaneTimings(rt, keep_days=7)
    timings.open(database)
    jobs: list[int] = []
    submit = worker.submit_at

    def counted(priority, fn):  # type: ignore[no-untyped-def]
        jobs.append(int(priority))
        return submit(priority, fn)

    worker.submit_at = counted  # type: ignore[method-assign]
    try:
        for n in range(500):
            timings.note("X1", "camera_to_quote", float(n))
        timings.note("X2", "bolink_round_trip", 12.5)
        assert jobs == []  # taking a sample touches no database
        assert asyncio.run(timings.flush()) == 501
        assert jobs == [2]  # one BACKGROUND job for the whole batch
        now[0] = T0 + timedelta(days=8)
        timings.note("X1", "camera_to_quote", 7.0)
        assert asyncio.run(timings.flush()) == 1
        assert asyncio.run(timings.prune()) == 501  # the samples older than 7 days go
        figures = lane_figures(database, T0, now[0] + timedelta(seconds=1))
        kept = [(f.lane_id, f.camera_reads_timed, f.camera_to_quote_p50_ms) for f in figures]
        assert kept == [("X1", 1, 7.0)]
    finally:
        worker.shutdown()
        database.close()


def test_the_timings_table_refuses_what_is_not_a_timing(tmp_path: Path) -> None:
    database = open_database(f"sqlite:///{tmp_path / 'b.sqlite'}")
    store = TimingStore(database)
    try:
        with pytest.raises(StoreError, match="timing kind 'gate'"):
            store.record_timings([TimingSample("X1", "gate", T0, 1.0)])
        with pytest.raises(StoreError, match="not a duration"):
            store.record_timings([TimingSample("X1", "camera_to_quote", T0, float("nan"))])
        with pytest.raises(StoreError, match="lane_id"):
            store.record_timings([TimingSample("", "camera_to_quote", T0, 1.0)])
        assert store.record_timings([]) == 0
        assert lane_figures(database, T0 - timedelta(days=1), T0 + timedelta(days=1)) == []
    finally:
        database.close()


def test_only_a_read_that_brought_a_new_quote_is_timed() -> None:
    """A camera pushes the car at the lane again while its QR is on the way: the view that then changes
    (the QR in it) carries the amount, but this read quoted nothing and takes no sample."""
    clock = [100.0]
    worker = DatabaseWorker()
    timings = LaneTimings(Runtime(lambda: T0, worker), monotonic=lambda: clock[0])
    try:
        quoted = LaneView(
            "X1", "东出口", "exit", LaneState.AWAITING_PAYMENT, "", plate="苏A12345", due_fen=500
        )
        with timings.camera_read("X1"):  # a repeat read: no QUOTING
            clock[0] += 0.02
            timings.view_published(replace(quoted, code_url="https://qr"))
        assert timings.pending == ()
        with timings.camera_read("X1"):  # a new car: QUOTING, then its amount
            timings.view_published(LaneView("X1", "东出口", "exit", LaneState.QUOTING, "", plate="苏B1"))
            clock[0] += 0.035
            timings.view_published(replace(quoted, plate="苏B1", due_fen=700))
            clock[0] += 0.5
            timings.view_published(replace(quoted, plate="苏B1", due_fen=700, code_url="https://qr"))
        timings.view_published(LaneView("X1", "东出口", "exit", LaneState.QUOTING, "", plate="苏C2"))
        timings.view_published(replace(quoted, plate="苏C2"))  # not from a camera (typed by the attendant)
        assert [(s.lane_id, s.kind, round(s.ms, 3)) for s in timings.pending] == [
            ("X1", "camera_to_quote", 35.0)
        ]
    finally:
        worker.shutdown()
