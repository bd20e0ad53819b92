"""A simulated plate camera: brings vehicles to the lanes (demo, attendant training, end-to-end tests).

Exit lanes get cars that entered earlier (their stays are seeded with a random, back-dated entry time so the
tariff has something to price); entry lanes get new cars. A lane that is busy with a car is left alone until
it is free again; with a simulated gate, the car drives through a moment after the gate opens.
"""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import datetime, timedelta
from typing import Protocol

from booth.config import SimulatorSettings
from booth.domain.lane import LaneState, LaneView
from booth.domain.plates import PROVINCES, PlateError

log = logging.getLogger("booth.sandbox.camera")

_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_SERIAL = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"


def random_plate(rng: random.Random, province: str | None = None) -> str:
    """A valid random plate: mostly ordinary blue plates, some small new-energy ones."""
    prov = province if province and rng.random() < 0.7 else rng.choice(PROVINCES)
    letter = rng.choice(_LETTERS)
    if rng.random() < 0.15:
        return (
            prov + letter + rng.choice("DF") + rng.choice(_SERIAL) + "".join(rng.choices("0123456789", k=4))
        )
    return prov + letter + "".join(rng.choices(_SERIAL, k=5))


class LaneTraffic(Protocol):
    """What the simulated camera drives: a part of the engine's public API (it knows nothing else of it)."""

    def now(self) -> datetime: ...

    def snapshot(self) -> list[LaneView]: ...

    async def plates_in_lot(self) -> list[str]: ...

    async def seed_stay_async(
        self, plate_text: str, entry_at: datetime, lane_id: str | None = None
    ) -> int: ...

    async def vehicle_at_async(self, lane_id: str, plate_text: str) -> object: ...


class SimulatedCamera:
    """Brings a car to a free lane every ``settings.every_s`` or so, through the engine's public API only."""

    def __init__(
        self, engine: LaneTraffic, settings: SimulatorSettings, *, province: str | None = None
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._province = province
        self._rng = random.Random(settings.seed)
        self.vehicles_sent = 0

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self._rng.uniform(0.5, 1.5) * self._settings.every_s)
            free = [v.lane_id for v in self._engine.snapshot() if v.state is LaneState.IDLE]
            if not free:
                continue
            lane_id = self._rng.choice(free)
            try:
                await self.bring_vehicle(lane_id)
            except asyncio.CancelledError:
                raise
            except PlateError as exc:
                log.warning("simulated camera: %s", exc)
            except Exception:
                log.exception("simulated camera failed at lane %s", lane_id)

    async def bring_vehicle(self, lane_id: str) -> str:
        """Entry lanes get a new car; exit lanes a car now in the lot that is at no lane, or, when there
        is none, one that entered earlier than this session (a back-dated stay)."""
        engine = self._engine
        plate: str | None = None
        views = engine.snapshot()
        if any(v.lane_id == lane_id and v.direction == "exit" for v in views):
            at_lanes = {v.plate for v in views if v.plate}
            in_lot = [p for p in await engine.plates_in_lot() if p not in at_lanes and not p.startswith("无")]
            if in_lot and self._rng.random() < 0.8:
                plate = self._rng.choice(sorted(in_lot))
            else:
                plate = random_plate(self._rng, self._province)
                minutes = self._rng.randint(5, self._settings.stay_minutes_max)
                entry_at = engine.now() - timedelta(minutes=minutes, seconds=self._rng.randint(0, 59))
                await engine.seed_stay_async(plate, entry_at)
        else:
            plate = random_plate(self._rng, self._province)
        log.info("simulated camera: %s at lane %s", plate, lane_id)
        await engine.vehicle_at_async(lane_id, plate)
        self.vehicles_sent += 1
        return plate
