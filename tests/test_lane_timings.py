"""Lane timings (issue #16): camera push → quote shown and the Bolink round trip, taken by a real engine (real
camera listener over loopback, Bolink sandbox), written in batches in the background, pruned after some days,
and read back as the lane figures."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from booth.domain.lane import LaneState
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
