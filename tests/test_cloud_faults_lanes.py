"""Cloud faults at the exit lanes (issue #14): Bolink answers ``request_over_times``, drops the connection or
says nothing until the booth's timeout, on ``outpark``, ``code_url``, ``login`` or the long poll, while cars
wait at both exit lanes. Once Bolink answers again, every car must leave by QR with nobody touching the
booth: no attendant, no cash, no second camera read. The lane retries by itself within its wait.

The booth is a real Engine with its database file; Bolink is the emulator on a loop thread of the test,
reached over 127.0.0.1 (its long poll held 1 s, so the poll's faults come round quickly); the gates are
simulated (what is under test is the cloud, not the relay). Each car is let out when its lane opens its gate
for a booked QR payment. A car still waiting after CAR_DEADLINE_S is a lane that did not heal.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from booth.config import settings_from_mapping
from booth.domain.lane import LaneState
from booth.engine import Engine
from booth.sandbox.bolink_cloud import DOWNLOAD_FAULT_TARGET, FaultKind
from tests.conftest import wait_until
from tests.lanes_rig import PARK_ID, UKEY, UNION_ID, World

LANES = ("X1", "X2")
CARS_PER_LANE = 2
FAULTS = 2  # more than one: a single retry is not enough
CAR_DEADLINE_S = 30.0  # liveness bound, not a speed target: the lane must heal at all
REQUEST_TIMEOUT_S = 1.0  # the booth's upload.do timeout: a "hang" is a timeout after this
POLL_HOLD_S = 1.0


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    rig = World(tmp_path, poll_hold_s=POLL_HOLD_S, alipay=False)
    yield rig
    rig.close()


@pytest.fixture
def booth(tmp_path: Path, world: World) -> Iterator[Engine]:
    settings = settings_from_mapping(
        {
            "park": {"name": "故障测试停车场", "province": "苏"},
            "bolink": {
                "base_url": world.bolink.base_url,
                "union_id": UNION_ID,
                "park_id": PARK_ID,
                "ukey": UKEY,
                "local_id": "booth_faults",
                "request_timeout_s": REQUEST_TIMEOUT_S,
                "poll_timeout_s": POLL_HOLD_S + 2,
            },
            "tariff": {"classes": {"small": {"daily_cap": "10.00"}, "large": {"daily_cap": "20.00"}}},
            "lanes": [
                {
                    "id": lane,
                    "name": f"出口{lane}",
                    "direction": "exit",
                    "channel_id": lane,
                    "pass_timeout_s": 1,
                    "gate": {"driver": "simulated", "open_ms": 0},
                }
                for lane in LANES
            ],
            "database": {"url": f"sqlite:///{tmp_path / 'faults.sqlite'}"},
        },
        "<cloud faults>",
    )
    engine = Engine(settings, tick_s=0.05)
    engine.start()
    try:
        wait_until(lambda: engine.bolink_online, what="the booth to log in to Bolink")
        yield engine
    finally:
        engine.stop()


def rows(db: Path, sql: str, *params: object) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


async def car_leaves_by_qr(world: World, booth: Engine, lane: str, plate: str) -> str:
    """One car at a lane: read once, pay once the booth shows the QR and Bolink has the car's order at the
    lane (a driver told "Bolink unavailable, pay cash" does not scan), wait for the lift.
    Returns "" when it left by QR, else what went wrong (the lane's last words)."""
    await asyncio.wrap_future(booth.vehicle_at(lane, plate, "blue"))
    loop = asyncio.get_running_loop()
    deadline = loop.time() + CAR_DEADLINE_S
    paid = False
    while loop.time() < deadline:
        view = next(v for v in booth.snapshot() if v.lane_id == lane)
        if paid and view.plate == plate and view.state is LaneState.GATE_OPEN:
            await asyncio.wrap_future(booth.vehicle_passed(lane))  # the loop detector: through
            return ""
        order = world.awaiting_at(lane)
        shown = view.plate == plate and view.code_url is not None  # the booth shows the QR to this car
        if not paid and shown and order is not None and order.car_number == plate:
            await world.bolink.driver_pays(channel_id=lane)
            paid = True
        await asyncio.sleep(0.02)
    view = next(v for v in booth.snapshot() if v.lane_id == lane)
    said = "paid, no lift" if paid else "never saw a QR it could pay"
    return f"{plate} at {lane}: {said} within {CAR_DEADLINE_S:g} s (lane {view.state}: {view.message})"


async def traffic(world: World, booth: Engine, plates: dict[str, list[str]]) -> list[str]:
    async def lane_traffic(lane: str) -> list[str]:
        return [await car_leaves_by_qr(world, booth, lane, plate) for plate in plates[lane]]

    results = await asyncio.gather(*(lane_traffic(lane) for lane in LANES))
    return [problem for lane_problems in results for problem in lane_problems if problem]


@pytest.mark.timeout(120)
@pytest.mark.parametrize("how", ["request_over_times", "drop", "hang"])
@pytest.mark.parametrize("service", ["outpark", "code_url", "login", DOWNLOAD_FAULT_TARGET])
def test_every_car_leaves_by_qr_once_bolink_answers_again(
    tmp_path: Path, world: World, booth: Engine, service: str, how: FaultKind
) -> None:
    entry = datetime.now(UTC) - timedelta(hours=20)
    plates = {lane: [f"苏F{lane[1]}{n:04d}" for n in range(CARS_PER_LANE)] for lane in LANES}
    for lane_plates in plates.values():
        for plate in lane_plates:
            booth.seed_stay(plate, entry).result(10)

    async def faults_then_traffic() -> list[str]:
        world.bolink.fail_next(FAULTS, how, service=service)
        if service == "login":
            world.bolink.expire_tokens()  # the booth must log in again, and its logins fail first
        return await traffic(world, booth, plates)

    problems = world.call(faults_then_traffic(), timeout=CARS_PER_LANE * CAR_DEADLINE_S + 30)
    injected = world.call(_injected(world))
    assert injected.count((how, service)) == FAULTS, f"the faults did not all hit {service}: {injected}"
    assert not problems, "\n".join(problems)

    db = tmp_path / "faults.sqlite"
    lifts = rows(db, "SELECT reason, operator FROM gate_events WHERE outcome = 'opened' ORDER BY id")
    assert lifts == [("paid", "system")] * (
        len(LANES) * CARS_PER_LANE
    )  # every lift for QR money, no one else's
    assert rows(db, "SELECT COUNT(*) FROM lane_exceptions") == [(0,)]
    assert rows(db, "SELECT COUNT(*) FROM payments WHERE channel = 'cash'") == [(0,)]
    # the stay is closed as the gate opens, just after the lane says so: give the write its moment
    closed = [("exited", len(LANES) * CARS_PER_LANE)]
    wait_until(
        lambda: rows(db, "SELECT state, COUNT(*) FROM stays GROUP BY state") == closed, what="stays closed"
    )


async def _injected(world: World) -> list[tuple[str, str]]:
    return list(world.bolink.faults_injected)
