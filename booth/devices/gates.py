"""Gate (barrier) drivers: the relay contact that pulses a barrier's OPEN input.

A barrier operator takes a dry-contact OPEN pulse (300-1000 ms); a relay board switches that contact. The
engine calls ``GateDriver.open`` once a payment (or an attendant) releases the lane, and retries a failed
open itself, recording both attempts, so a driver never retries on its own: it raises ``GateFault`` and stays
usable for the next call (a Modbus driver reconnects then).

A booth killed between a host-timed pulse's ON and OFF leaves the relay ON and the barrier up, so at start
the engine drives every gate to its rest state (``rest_gates``) before any lane acts on a car, and keeps
trying a gate that did not answer (``rest_until_done``) until its board does.

Each driver but the simulated one lives in a module of its own; ``booth.devices.gate_factory.make_gate``
builds the one a lane's settings ask for, importing its module only then (pymodbus is a few MB and ~40 ms of
start for a booth without a Modbus board).
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from booth.config import SimulatedGateSettings

log = logging.getLogger(__name__)


class GateFault(Exception):
    """A gate command failed or could not be confirmed; the message names the gate and what failed.

    ``problem`` is what failed without the gate's name, for places that already show which gate it is.
    """

    def __init__(self, message: str, problem: str | None = None) -> None:
        super().__init__(message)
        self.problem = problem or message


class GateDriver(ABC):
    """One lane's barrier. Every method is called from the engine's asyncio loop."""

    name: str

    @abstractmethod
    async def open(self) -> None:
        """Pulse the OPEN contact; return once the command was accepted (and confirmed where possible).

        Raises ``GateFault`` otherwise. Does not retry: the engine decides and records each attempt.
        """

    @abstractmethod
    async def vehicle_passed(self) -> bool | None:
        """Read the "vehicle passed" input (loop detector); ``None`` if no input is wired.

        Raises ``GateFault`` if the input is configured but cannot be read.
        """

    async def rest(self) -> bool:
        """Drive the gate to its rest state (relay OFF); True if a command was written.

        Called once at start, before any lane acts on a car, because a crash mid-pulse can leave a relay ON.
        Raises ``GateFault`` if the gate cannot be reached or does not confirm; like ``open`` it never retries
        on its own, and the driver stays usable (it reconnects on the next call). Gates that hold nothing ON
        between commands keep this default: nothing to write.
        """
        return False

    async def probe(self) -> str | None:
        """Ask the gate whether it answers, moving nothing (``booth doctor``): a short line saying what was
        read, or None when this driver has nothing it can read without acting on the barrier ("not
        checkable"). Raises ``GateFault`` when the gate does not answer. Never writes a relay.
        """
        return None

    @abstractmethod
    async def aclose(self) -> None:
        """Release the connection; later calls raise ``GateFault``."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()


class SimulatedGate(GateDriver):
    """A gate without hardware for demo, training and tests.

    ``open_count`` counts successful opens, ``failed_count`` the opens failed on purpose: the first
    ``fail_next`` opens fail, so trainees see what a gate fault looks like.
    """

    def __init__(self, settings: SimulatedGateSettings | None = None) -> None:
        settings = settings or SimulatedGateSettings()
        self.name = "simulated gate"
        self._open_s = settings.open_ms / 1000
        self._fail_next = settings.fail_next
        self._passed = False
        self._closed = False
        self.open_count = 0
        self.failed_count = 0

    def _fault(self, problem: str) -> GateFault:
        return GateFault(f"{self.name}: {problem}", problem)

    async def open(self) -> None:
        if self._closed:
            raise self._fault("driver is closed")
        await asyncio.sleep(self._open_s)
        if self._fail_next > 0:
            self._fail_next -= 1
            self.failed_count += 1
            raise self._fault(f"open not confirmed (training fault, {self._fail_next} more to come)")
        self.open_count += 1

    def set_passed(self, passed: bool) -> None:
        """Set what the simulated loop detector reports (tests, demo camera)."""
        self._passed = passed

    async def vehicle_passed(self) -> bool | None:
        if self._closed:
            raise self._fault("driver is closed")
        return self._passed

    async def rest(self) -> bool:
        """Nothing to do: there is no relay that a crash could leave ON."""
        if self._closed:
            raise self._fault("driver is closed")
        return False

    async def probe(self) -> str | None:
        if self._closed:
            raise self._fault("driver is closed")
        return "no hardware to read (training)"

    async def aclose(self) -> None:
        self._closed = True


#: how long the start waits for all gates to reach rest: a board that has not answered by then is a gate
#: fault alert (and is tried again in the background), not a booth that does not start
REST_DEADLINE_S = 5.0


@dataclass(frozen=True)
class GateRest:
    """What driving one gate to rest did: ``wrote`` a command (the relay is OFF), or failed with ``error``."""

    gate: str
    wrote: bool
    error: str | None = None


async def _rest_one(gate: GateDriver, deadline_s: float) -> GateRest:
    try:
        wrote = await asyncio.wait_for(gate.rest(), deadline_s)
    except TimeoutError:
        return GateRest(gate.name, False, f"{gate.name}: no rest within {deadline_s:g} s")
    except GateFault as exc:
        return GateRest(gate.name, False, str(exc))
    except Exception as exc:  # a driver bug is a gate fault too, never a booth that does not start
        log.exception("%s: rest failed", gate.name)
        return GateRest(gate.name, False, f"{gate.name}: {type(exc).__name__}: {exc}")
    return GateRest(gate.name, wrote)


async def rest_gates(
    gates: Mapping[str, GateDriver], deadline_s: float = REST_DEADLINE_S
) -> dict[str, GateRest]:
    """Drive every lane's gate to rest, all at once, none waiting longer than ``deadline_s``.

    Never raises: a gate that failed is returned with its error, for the engine to alert and retry.
    """
    lane_ids = list(gates)
    results = await asyncio.gather(*(_rest_one(gates[lane_id], deadline_s) for lane_id in lane_ids))
    for lane_id, result in zip(lane_ids, results, strict=True):
        if result.error is not None:
            log.warning("%s: gate not driven to rest at start: %s", lane_id, result.error)
        elif result.wrote:
            log.info("%s: %s driven to rest (relay OFF) at start", lane_id, result.gate)
        else:
            log.debug("%s: %s has no relay to rest", lane_id, result.gate)
    return dict(zip(lane_ids, results, strict=True))


async def rest_until_done(
    gate: GateDriver,
    *,
    first_delay_s: float = 0.5,
    max_delay_s: float = 30.0,
    deadline_s: float = REST_DEADLINE_S,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
) -> int:
    """Try ``rest`` again, backing off, until the gate answers; return how many tries it took.

    For a board that was unreachable at start: once it answers, a relay left ON is let go even if no car
    comes. Each failure is logged at debug level (the start already alerted); cancelled at shutdown.
    """
    delay = first_delay_s
    tries = 0
    while True:
        await sleep(delay)
        tries += 1
        result = await _rest_one(gate, deadline_s)
        if result.error is None:
            return tries
        log.debug("%s: rest try %d failed: %s", gate.name, tries, result.error)
        delay = min(max_delay_s, delay * 2)
