"""The lanes' gates: opening one for a lane (twice at most, each attempt recorded), watching its passage
input, and driving every relay to rest at start and at stop (a booth killed mid-pulse left one ON)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from functools import partial

from booth.devices.gates import GateDriver, GateFault, GateRest, rest_gates, rest_until_done
from booth.domain import lane as L
from booth.domain.phrases import say
from booth.engine.events import GateCommanded
from booth.engine.runtime import Runtime
from booth.store.worker import Priority

log = logging.getLogger("booth.engine")


class GateControl:
    """Owns the lanes' gate drivers (``gates``, by lane id)."""

    def __init__(self, rt: Runtime, gates: Mapping[str, GateDriver]) -> None:
        self._rt = rt
        self.gates = dict(gates)
        self._rests: dict[str, GateRest] = {}

    async def rest_all(self) -> None:
        """At start, before any lane acts on a car: every gate to rest (what each did is recorded later)."""
        self._rests = await rest_gates(self.gates)

    async def record_rests(self) -> None:
        """Record each relay driven to rest at start (audit "gate_rest", what a supervisor reads after a
        crash). A gate that did not answer is a gate fault alert on its lane, not a booth that does not
        start; it is tried again in the background until its board answers."""
        for lane_id, rest in self._rests.items():
            at = self._rt.now()
            if rest.error is not None:
                failed: dict[str, str | int] = {"gate": rest.gate, "outcome": "failed", "error": rest.error}
                await self._record_rest(lane_id, failed)
                said = say("alert.gate_fault", lane_id=lane_id, error=f"not at rest at start: {rest.error}")
                try:
                    await self._rt.said(lane_id, "gate_fault", said, at)
                except Exception:
                    log.exception("%s: the gate's rest fault could not be audited", lane_id)
                self._rt.spawn(self._rest_later(lane_id), f"gate-rest-{lane_id}")
            elif rest.wrote:
                await self._record_rest(lane_id, {"gate": rest.gate, "outcome": "rested"})

    async def _rest_later(self, lane_id: str) -> None:
        gate = self.gates[lane_id]
        tries = await rest_until_done(gate)
        log.info("%s: %s driven to rest (relay OFF) after %d more tries", lane_id, gate.name, tries)
        await self._record_rest(lane_id, {"gate": gate.name, "outcome": "rested", "retries": tries})

    async def _record_rest(self, lane_id: str, detail: dict[str, str | int]) -> None:
        at = self._rt.now()
        await self._rt.audit(f"lane:{lane_id}", "gate_rest", dict(detail), at, f"{lane_id}: the gate's rest")

    async def open(self, lane_id: str, cmd: L.OpenGate) -> L.GateOpened | L.GateFailed:
        """Open the lane's gate: a second attempt after a fault; each attempt is recorded."""
        gate = self.gates[lane_id]
        store = self._rt.store
        error = ""
        for attempt in (1, 2):
            self._rt.emit(GateCommanded(lane_id, cmd.reason, attempt, self._rt.now()))
            try:
                await gate.open()
            except GateFault as exc:
                error = str(exc)
                log.warning("%s: gate open attempt %d failed: %s", lane_id, attempt, error)
                outcome = "failed"
            except Exception as exc:  # a driver bug is a gate fault too, never a crash of the lane
                error = f"{type(exc).__name__}: {exc}"
                log.exception("%s: gate driver error", lane_id)
                outcome = "failed"
            else:
                outcome = "opened"
            at = self._rt.now()
            try:
                await self._rt.db(
                    partial(
                        store.record_gate_event,
                        lane_id=lane_id,
                        stay_id=cmd.stay_id,
                        reason=cmd.reason,
                        operator=cmd.operator,
                        note=cmd.note,
                        outcome=outcome,
                        attempt=attempt,
                        detail=error if outcome == "failed" else "",
                        at=at,
                    ),
                    Priority.BACKGROUND,
                )
            except Exception:
                log.exception("%s: could not record the gate event", lane_id)
            if outcome == "opened":
                log.info("%s: gate opened (%s%s)", lane_id, cmd.reason, f": {cmd.note}" if cmd.note else "")
                return L.GateOpened(at)
        return L.GateFailed(error, self._rt.now())

    async def watch_passage(self, lane_id: str, still_open: Callable[[], bool]) -> L.VehiclePassed | None:
        """Where the gate has a 'vehicle passed' input, poll it while the gate is open: the car is through
        when the loop was occupied and is free again (None: no input, or the gate closed meanwhile)."""
        gate = self.gates[lane_id]
        seen_present = False
        while still_open():
            try:
                passed = await gate.vehicle_passed()
            except Exception as exc:
                log.warning("%s: reading the passage input failed: %s", lane_id, exc)
                return None
            if passed is None:
                return None
            if passed:
                seen_present = True
            elif seen_present:
                return L.VehiclePassed(self._rt.now())
            await asyncio.sleep(0.1)
        return None

    async def close(self) -> None:
        """At stop: every relay left at rest (OFF), then the drivers closed."""
        await rest_gates(self.gates)
        for gate in self.gates.values():
            try:
                await gate.aclose()
            except Exception:
                log.exception("closing gate %s", gate.name)
