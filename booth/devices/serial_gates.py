"""Gate relays on a serial port: Modbus RTU relay boards (RS485) and LCUS-type USB relays.

Facts (devices spec, "Gate relays"): Modbus RTU boards run at 9600 8N1, coils are written with FC05
(``FF00`` on, ``0000`` off) and inputs read with FC02; Waveshare boards time a pulse themselves ("flash on",
FC05 to ``0x0200 + relay`` with the on-time in 100 ms units, as in ``gates.py``). The LCUS-1 (CH340, 9600
baud) takes ``A0 <channel> <0|1> <sum>`` (on ``A0 01 01 A2``, off ``A0 01 00 A1``), answers nothing and has
no pulse mode, so Booth times the pulse and can only detect a port that cannot be written.

Like every driver, these never retry an open on their own (the engine does, recording each attempt) and
raise ``GateFault`` naming the port and what failed; a port that failed is reopened on the next call.
"""

from __future__ import annotations

import asyncio
import logging

import serial  # type: ignore[import-untyped]
from pymodbus.client import AsyncModbusSerialClient, ModbusBaseClient

from booth.config import LcusRelayGateSettings, ModbusRtuGateSettings
from booth.devices.gates import GateDriver, GateFault
from booth.devices.modbus_gates import _PYMODBUS_TIMEOUT_MARGIN_S, ModbusRelayGate

log = logging.getLogger(__name__)


class ModbusRtuGate(ModbusRelayGate):
    """A Modbus RTU relay board on a serial port, via pymodbus's serial client (pyserial underneath)."""

    _unreachable = "cannot open the serial port (missing, busy or no permission)"

    def __init__(self, settings: ModbusRtuGateSettings) -> None:
        super().__init__(
            settings,
            settings.device,
            f"modbus_rtu {settings.device} unit {settings.unit} coil {settings.coil}",
        )
        self._rtu = settings

    def _new_client(self, lost: asyncio.Event) -> ModbusBaseClient:
        s = self._rtu
        return AsyncModbusSerialClient(
            s.device,
            baudrate=s.baudrate,
            bytesize=8,
            parity=s.parity,
            stopbits=1,
            name=self.name,
            timeout=s.timeout_s + _PYMODBUS_TIMEOUT_MARGIN_S,
            retries=0,
            reconnect_delay=0,
            trace_connect=lambda up: None if up else lost.set(),
        )


def lcus_frame(channel: int, on: bool) -> bytes:
    """``A0 <channel> <0|1> <sum>``, the sum being the low byte of the three bytes before it."""
    if not 1 <= channel <= 0xFF:
        raise ValueError(f"LCUS channel must be 1-255, got {channel}")
    body = bytes([0xA0, channel, 1 if on else 0])
    return body + bytes([sum(body) & 0xFF])


class LcusRelayGate(GateDriver):
    """An LCUS-type USB relay: ON, wait ``pulse_ms``, OFF. The relay answers nothing, so only a port that
    cannot be opened or written is detected (wire a loop input elsewhere to confirm the arm moved)."""

    def __init__(self, settings: LcusRelayGateSettings) -> None:
        self._settings = settings
        self.name = f"lcus {settings.device} channel {settings.channel}"
        self._port: serial.Serial | None = None
        self._lock = asyncio.Lock()
        self._closed = False

    def _fault(self, problem: str) -> GateFault:
        return GateFault(f"{self.name}: {problem}", problem)

    def _write_blocking(self, frame: bytes) -> None:
        """Worker thread: open the port if needed, write the frame, wait until it left."""
        s = self._settings
        if self._port is None:
            self._port = serial.Serial(s.device, s.baudrate, timeout=s.timeout_s, write_timeout=s.timeout_s)
        written = self._port.write(frame)
        self._port.flush()
        if written != len(frame):
            raise OSError(f"wrote {written} of {len(frame)} bytes")

    def _close_port(self) -> None:
        port, self._port = self._port, None
        if port is not None:
            try:
                port.close()
            except (OSError, serial.SerialException):
                log.debug("%s: closing the port failed", self.name, exc_info=True)

    async def _send(self, on: bool) -> None:
        if self._closed:
            raise self._fault("driver is closed")
        frame = lcus_frame(self._settings.channel, on)
        what = f"relay {'ON' if on else 'OFF'} ({frame.hex(' ').upper()})"
        try:
            await asyncio.wait_for(asyncio.to_thread(self._write_blocking, frame), self._settings.timeout_s)
        except TimeoutError:
            self._close_port()
            raise self._fault(
                f"{what}: the write did not finish within {self._settings.timeout_s:g} s"
            ) from None
        except (serial.SerialException, OSError) as exc:
            self._close_port()
            raise self._fault(f"{what}: {exc}") from exc

    async def open(self) -> None:
        async with self._lock:
            try:
                await self._send(True)
                await asyncio.sleep(self._settings.pulse_ms / 1000)
            except asyncio.CancelledError:
                try:
                    await self._send(False)
                except GateFault:
                    log.exception("%s: OFF after cancellation failed", self.name)
                raise
            try:
                await self._send(False)
            except GateFault as first:
                log.warning("%s; trying OFF once more", first)
                try:
                    await self._send(False)
                except GateFault as second:
                    raise self._fault(
                        f"OFF failed twice, the relay may hold the barrier open ({second.problem})"
                    ) from second

    async def rest(self) -> bool:
        """Send the OFF frame: Booth times the LCUS pulse, so a booth killed mid-pulse left the relay ON.

        The relay answers nothing, so "written" is all that can be known. Under the open lock, so it never
        lands inside a pulse.
        """
        async with self._lock:
            await self._send(False)
        return True

    async def vehicle_passed(self) -> bool | None:
        if self._closed:
            raise self._fault("driver is closed")
        return None

    async def probe(self) -> str | None:
        """Open the port and close it, writing nothing: the relay answers nothing, so "the port opens" is
        all a read can know (whether the relay is plugged behind it is not)."""
        if self._closed:
            raise self._fault("driver is closed")
        s = self._settings

        def open_and_close() -> None:
            serial.Serial(s.device, s.baudrate, timeout=s.timeout_s, write_timeout=s.timeout_s).close()

        try:
            await asyncio.wait_for(asyncio.to_thread(open_and_close), s.timeout_s)
        except TimeoutError:
            raise self._fault(f"opening {s.device} took longer than {s.timeout_s:g} s") from None
        except (serial.SerialException, OSError) as exc:
            raise self._fault(f"cannot open {s.device}: {exc}") from exc
        return f"{s.device} opens (nothing written; the relay answers nothing)"

    async def aclose(self) -> None:
        self._closed = True
        async with self._lock:
            await asyncio.to_thread(self._close_port)
