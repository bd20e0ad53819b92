"""Gate (barrier) drivers: the relay contact that pulses a barrier's OPEN input.

A barrier operator takes a dry-contact OPEN pulse (300-1000 ms); a relay board switches that contact. The
engine calls ``GateDriver.open`` once a payment (or an attendant) releases the lane, and retries a failed
open itself, recording both attempts, so a driver never retries on its own: it raises ``GateFault`` and stays
usable for the next call (a Modbus driver reconnects then).

Modbus relay boards are in ``booth.devices.modbus_gates`` (imported only when a lane uses one: pymodbus
is a few MB and ~40 ms of start for a booth without them).
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from types import TracebackType
from typing import Self

from booth.config import (
    CameraRelayGateSettings,
    GateSettings,
    HikvisionGateSettings,
    LcusRelayGateSettings,
    ModbusRtuGateSettings,
    ModbusTcpGateSettings,
    SimulatedGateSettings,
)

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

    async def aclose(self) -> None:
        self._closed = True


def make_gate(settings: GateSettings, lane_id: str = "") -> GateDriver:
    """Build the driver a lane's ``gate`` settings ask for (every driver but the simulated one lives in its
    own module, imported only when a lane uses it)."""
    if isinstance(settings, ModbusRtuGateSettings):
        from booth.devices.serial_gates import ModbusRtuGate

        return ModbusRtuGate(settings)
    if isinstance(settings, LcusRelayGateSettings):
        from booth.devices.serial_gates import LcusRelayGate

        return LcusRelayGate(settings)
    if isinstance(settings, CameraRelayGateSettings):
        from booth.devices.vzenith import CameraRelayGate

        return CameraRelayGate(settings, lane_id)
    if isinstance(settings, HikvisionGateSettings):
        from booth.devices.hikvision import HikvisionGate

        return HikvisionGate(settings)
    if isinstance(settings, SimulatedGateSettings):
        return SimulatedGate(settings)
    if isinstance(settings, ModbusTcpGateSettings):
        from booth.devices.modbus_gates import ModbusTcpGate

        return ModbusTcpGate(settings)
    raise TypeError(f"unknown gate settings type {type(settings).__name__}")
