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
from collections.abc import Awaitable, Callable

import serial  # type: ignore[import-untyped]
from pymodbus.client import AsyncModbusSerialClient
from pymodbus.exceptions import ModbusException
from pymodbus.pdu import ModbusPDU

from booth.config import LcusRelayGateSettings, ModbusRtuGateSettings
from booth.devices.gates import (
    WAVESHARE_FLASH_ON_BASE,
    GateDriver,
    GateFault,
    _exception_name,
    _FlashOnPdu,
)

log = logging.getLogger(__name__)

_WAVESHARE_UNIT_MS = 100
_PYMODBUS_TIMEOUT_MARGIN_S = 1.0  # pymodbus's own timer is a backstop behind our wait_for


class ModbusRtuGate(GateDriver):
    """A Modbus RTU relay board on a serial port, via pymodbus's serial client (pyserial underneath)."""

    def __init__(self, settings: ModbusRtuGateSettings) -> None:
        self._settings = settings
        self.name = f"modbus_rtu {settings.device} unit {settings.unit} coil {settings.coil}"
        self._client: AsyncModbusSerialClient | None = None
        self._lock = asyncio.Lock()
        self._closed = False

    def _fault(self, problem: str) -> GateFault:
        return GateFault(f"modbus {self._settings.device} unit {self._settings.unit}: {problem}", problem)

    async def _connected(self) -> AsyncModbusSerialClient:
        if self._closed:
            raise self._fault("driver is closed")
        if self._client is not None and self._client.connected:
            return self._client
        self._drop()
        s = self._settings
        client = AsyncModbusSerialClient(
            s.device,
            baudrate=s.baudrate,
            bytesize=8,
            parity=s.parity,
            stopbits=1,
            name=self.name,
            timeout=s.timeout_s + _PYMODBUS_TIMEOUT_MARGIN_S,
            retries=0,  # the engine owns retries
            reconnect_delay=0,
        )
        if s.board_pulse == "waveshare":
            client.register(_FlashOnPdu)
        try:
            connected = await asyncio.wait_for(client.connect(), s.timeout_s)
        except TimeoutError:
            client.close()
            raise self._fault(f"cannot open the port within {s.timeout_s:g} s") from None
        except asyncio.CancelledError:
            client.close()
            raise
        if not connected:
            client.close()
            raise self._fault("cannot open the serial port (missing, busy or no permission)")
        self._client = client
        return client

    def _drop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    async def _request(
        self, what: str, call: Callable[[AsyncModbusSerialClient], Awaitable[ModbusPDU]]
    ) -> ModbusPDU:
        client = await self._connected()
        try:
            response = await asyncio.wait_for(call(client), self._settings.timeout_s)
        except TimeoutError:
            self._drop()
            raise self._fault(f"{what}: no answer within {self._settings.timeout_s:g} s") from None
        except (ModbusException, OSError) as exc:
            self._drop()
            raise self._fault(f"{what}: {exc}") from exc
        if response.isError():
            code = response.exception_code
            raise self._fault(f"{what} refused: Modbus exception {code} {_exception_name(code)}")
        return response

    async def _write_coil(self, on: bool) -> None:
        coil, unit = self._settings.coil, self._settings.unit
        what = f"write coil {coil} {'ON' if on else 'OFF'} (FC05)"
        response = await self._request(what, lambda c: c.write_coil(coil, on, device_id=unit))
        if response.address != coil or list(response.bits[:1]) != [on]:
            raise self._fault(f"{what}: board echoed address {response.address} value {response.bits[:1]}")

    async def _read_bit(
        self, what: str, call: Callable[[AsyncModbusSerialClient], Awaitable[ModbusPDU]]
    ) -> bool:
        response = await self._request(what, call)
        if not response.bits:
            raise self._fault(f"{what}: the answer carries no bits")
        return bool(response.bits[0])

    async def open(self) -> None:
        async with self._lock:
            if self._settings.board_pulse == "waveshare":
                await self._flash_on()
            else:
                await self._host_timed_pulse()

    async def _host_timed_pulse(self) -> None:
        s = self._settings
        try:
            await self._write_coil(True)
            await asyncio.sleep(s.pulse_ms / 1000)
        except asyncio.CancelledError:
            try:
                await self._switch_off()
            except GateFault:
                log.exception("%s: OFF after cancellation failed", self.name)
            raise
        await self._switch_off()
        unit = s.unit
        if await self._read_bit(
            f"read back coil {s.coil} (FC01)", lambda c: c.read_coils(s.coil, device_id=unit)
        ):
            raise self._fault(
                f"coil {s.coil} still reads ON after OFF: relay may be stuck, barrier held open"
            )

    async def _switch_off(self) -> None:
        try:
            await self._write_coil(False)
        except GateFault as first:
            log.warning("%s; trying OFF once more", first)
            try:
                await self._write_coil(False)
            except GateFault as second:
                raise self._fault(
                    f"coil {self._settings.coil} OFF failed twice, the relay may be stuck ON and hold the"
                    f" barrier open ({first.problem}; then {second.problem})"
                ) from second

    async def _flash_on(self) -> None:
        s = self._settings
        address = WAVESHARE_FLASH_ON_BASE + s.coil
        units = max(1, (s.pulse_ms + _WAVESHARE_UNIT_MS // 2) // _WAVESHARE_UNIT_MS)
        what = f"Waveshare flash-on relay {s.coil} for {units * _WAVESHARE_UNIT_MS} ms (FC05 0x{address:04X})"
        request = _FlashOnPdu(address=address, value=units, dev_id=s.unit)
        response = await self._request(what, lambda c: c.execute(False, request))
        echoed = (response.address, getattr(response, "value", None))
        if echoed != (address, units):
            raise self._fault(f"{what}: board echoed {echoed!r}; check board_pulse")

    async def vehicle_passed(self) -> bool | None:
        address, unit = self._settings.passed_input, self._settings.unit
        if address is None:
            return None
        return await self._read_bit(
            f"read input {address} (FC02)", lambda c: c.read_discrete_inputs(address, device_id=unit)
        )

    async def aclose(self) -> None:
        self._closed = True
        async with self._lock:
            self._drop()


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

    async def vehicle_passed(self) -> bool | None:
        if self._closed:
            raise self._fault("driver is closed")
        return None

    async def aclose(self) -> None:
        self._closed = True
        async with self._lock:
            await asyncio.to_thread(self._close_port)
