"""A simulated plate camera: brings vehicles to the lanes (demo, attendant training, end-to-end tests).

Exit lanes get cars that entered earlier (their stays are seeded with a random, back-dated entry time so the
tariff has something to price); entry lanes get new cars. A lane that is busy with a car is left alone until
it is free again; with a simulated gate, the car drives through a moment after the gate opens.
"""

from __future__ import annotations

import asyncio
import logging
import random
from datetime import timedelta
from typing import TYPE_CHECKING

from booth.config import SimulatorSettings
from booth.domain.lane import LaneState
from booth.domain.plates import PROVINCES, PlateError

if TYPE_CHECKING:
    from booth.engine import Engine

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


class SimulatedCamera:
    def __init__(self, engine: Engine, settings: SimulatorSettings) -> None:
        self._engine = engine
        self._settings = settings
        self._rng = random.Random(settings.seed)
        self.vehicles_sent = 0

    async def run(self) -> None:
        lanes = list(self._engine.lanes)
        while True:
            await asyncio.sleep(self._rng.uniform(0.5, 1.5) * self._settings.every_s)
            free = [lid for lid in lanes if self._engine.lanes[lid].state is LaneState.IDLE]
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
        if engine.lanes[lane_id].direction == "exit":
            at_lanes = {v.plate for v in engine.snapshot() if v.plate}
            in_lot = [p for p in await engine.plates_in_lot() if p not in at_lanes and not p.startswith("无")]
            if in_lot and self._rng.random() < 0.8:
                plate = self._rng.choice(sorted(in_lot))
            else:
                plate = random_plate(self._rng, engine.settings.park.province)
                minutes = self._rng.randint(5, self._settings.stay_minutes_max)
                entry_at = engine.now() - timedelta(minutes=minutes, seconds=self._rng.randint(0, 59))
                await engine.seed_stay_async(plate, entry_at)
        else:
            plate = random_plate(self._rng, engine.settings.park.province)
        log.info("simulated camera: %s at lane %s", plate, lane_id)
        await engine.vehicle_at_async(lane_id, plate)
        self.vehicles_sent += 1
        return plate
