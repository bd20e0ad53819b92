"""Per-lane figures a supervisor reads: cars out per hour, payment → gate, camera push → quote, the Bolink
round trip, gate faults, manual lifts and free releases, over a window of time.

Every figure is derived from rows the lanes write anyway (stays, exit orders, payments, gate events, lane
exceptions), so keeping them costs the lanes nothing: no counter is written on the way from a payment to the
gate. Payment → gate is the time from the booth receiving the result (the payment's booking time) to the gate
event that opened the barrier for that stay; a gate that opened on its second attempt counts from the first.

Camera push → quote and the Bolink round trip are not in those rows: the engine times them and keeps the
samples in ``lane_timings`` (booth.engine.timings: written in batches in the background, pruned after some
days), read here.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select

from booth.store.db import Database
from booth.store.models import ExitOrder, GateEvent, LaneException, LaneTiming, Payment, Stay


@dataclass(frozen=True)
class LaneFigures:
    """One lane over [since, until). Times in milliseconds; None when there was nothing to time."""

    lane_id: str
    since: datetime
    until: datetime
    cars_out: int
    paid_exits_timed: int
    pay_to_gate_p50_ms: float | None
    pay_to_gate_p99_ms: float | None
    gate_faults: int
    manual_lifts: int
    free_releases: int
    camera_reads_timed: int = 0
    camera_to_quote_p50_ms: float | None = None
    camera_to_quote_p99_ms: float | None = None
    bolink_calls_timed: int = 0
    bolink_p50_ms: float | None = None
    bolink_p99_ms: float | None = None

    @property
    def cars_per_hour(self) -> float:
        hours = (self.until - self.since).total_seconds() / 3600
        return self.cars_out / hours if hours > 0 else 0.0


def _percentile(values: list[float], q: float) -> float:
    """The nearest-rank percentile (q in (0, 1]) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q * len(ordered))))
    return ordered[rank - 1]


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _p99(values: list[float]) -> float | None:
    return _percentile(values, 0.99) if values else None


def lane_figures(database: Database, since: datetime, until: datetime) -> list[LaneFigures]:
    """Every lane seen in [since, until), in lane order (one read transaction)."""
    if until <= since:
        raise ValueError(f"the window must end after it starts: {since.isoformat()} .. {until.isoformat()}")
    with database.read_sessionmaker.begin() as session:
        cars = session.scalars(
            select(Stay.exit_lane).where(Stay.exit_at >= since, Stay.exit_at < until)
        ).all()
        paid = session.execute(
            select(ExitOrder.lane_id, ExitOrder.stay_id, Payment.paid_at)
            .join(Payment, Payment.id == ExitOrder.settled_by)
            .where(ExitOrder.state == "paid", Payment.paid_at >= since, Payment.paid_at < until)
        ).all()
        gates = session.execute(
            select(GateEvent.lane_id, GateEvent.stay_id, GateEvent.outcome, GateEvent.at).where(
                GateEvent.at >= since, GateEvent.at < until + timedelta(minutes=5)
            )
        ).all()
        exceptions = session.execute(
            select(LaneException.lane_id, LaneException.kind).where(
                LaneException.at >= since, LaneException.at < until
            )
        ).all()
        samples = session.execute(
            select(LaneTiming.lane_id, LaneTiming.kind, LaneTiming.ms).where(
                LaneTiming.at >= since, LaneTiming.at < until
            )
        ).all()
    out: dict[str, int] = defaultdict(int)
    for exit_lane in cars:
        if exit_lane is not None:
            out[exit_lane] += 1
    opened: dict[tuple[str, int], list[datetime]] = defaultdict(list)
    faults: dict[str, int] = defaultdict(int)
    for lane, stay_id, outcome, at in gates:
        if outcome == "opened" and stay_id is not None:
            opened[(lane, stay_id)].append(at)
        elif outcome == "failed" and at < until:
            faults[lane] += 1
    timings: dict[str, list[float]] = defaultdict(list)
    for lane, stay_id, paid_at in paid:
        after = [at for at in opened.get((lane, stay_id), ()) if at >= paid_at]
        if after:
            timings[lane].append((min(after) - paid_at).total_seconds() * 1000)
    lifts: dict[str, int] = defaultdict(int)
    releases: dict[str, int] = defaultdict(int)
    for lane, kind in exceptions:
        (lifts if kind == "manual_lift" else releases)[lane] += 1
    camera: dict[str, list[float]] = defaultdict(list)
    bolink: dict[str, list[float]] = defaultdict(list)
    for lane, kind, ms in samples:
        (camera if kind == "camera_to_quote" else bolink)[lane].append(ms)
    lanes = sorted(
        set(out) | set(timings) | set(faults) | set(lifts) | set(releases) | set(camera) | set(bolink)
    )
    return [
        LaneFigures(
            lane_id=lane,
            since=since,
            until=until,
            cars_out=out[lane],
            paid_exits_timed=len(timings[lane]),
            pay_to_gate_p50_ms=statistics.median(timings[lane]) if timings[lane] else None,
            pay_to_gate_p99_ms=_percentile(timings[lane], 0.99) if timings[lane] else None,
            gate_faults=faults[lane],
            manual_lifts=lifts[lane],
            free_releases=releases[lane],
            camera_reads_timed=len(camera[lane]),
            camera_to_quote_p50_ms=_median(camera[lane]),
            camera_to_quote_p99_ms=_p99(camera[lane]),
            bolink_calls_timed=len(bolink[lane]),
            bolink_p50_ms=_median(bolink[lane]),
            bolink_p99_ms=_p99(bolink[lane]),
        )
        for lane in lanes
    ]
