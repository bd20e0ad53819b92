"""The gate driver a lane's ``gate`` settings ask for. Kept apart from the base class so that no driver module
and ``booth.devices.gates`` import each other: each driver's module is imported only when a lane uses it."""

from __future__ import annotations

from booth.config import (
    CameraRelayGateSettings,
    GateSettings,
    HikvisionGateSettings,
    LcusRelayGateSettings,
    ModbusRtuGateSettings,
    ModbusTcpGateSettings,
    SimulatedGateSettings,
)
from booth.devices.gates import GateDriver, SimulatedGate


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
