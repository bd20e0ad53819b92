"""Modbus relay boards: the relay contact that pulses a barrier's OPEN input, over Modbus TCP (here) or RTU
(``booth.devices.serial_gates``). Imported only when a lane uses one. Facts from the "Gate relays" section of
the devices spec:

- ``board_pulse="none"``: the host times the pulse: FC05 coil ON (``FF00``), hold ``pulse_ms``, FC05 OFF
  (``0000``), then FC01 reads the coil back to confirm the contact let go.
- ``board_pulse="waveshare"``: the board times the pulse, so a host crash mid-pulse cannot hold the barrier
  open. Waveshare's "flash on" command is FC05 to address ``0x0200 + relay`` whose 16-bit value field carries
  the on-time in 100 ms units: ``01 05 02 00 00 07 8D B0`` is relay 0 on for 700 ms (Waveshare wiki "Modbus
  RTU Relay" / "Modbus POE ETH Relay", development protocol V2/V3; flash off is the same at ``0x0400 +
  relay``). So the value field is ``0x00NN`` (big-endian, like every Modbus field), not ``0x0N00``. The
  board echoes the request, as FC05 always does. pymodbus's ``write_coil`` can only send ``FF00``/``0000``,
  so the flash command is a small custom PDU (``_FlashOnPdu``), registered with the client's decoder so that
  the echo is decoded with its raw value and checked.
- At start, in either mode, ``rest`` writes the coil OFF and reads it back: a booth killed between a
  host-timed pulse's ON and OFF left it ON.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections.abc import Awaitable, Callable
from typing import Any

from pymodbus.client import AsyncModbusTcpClient, ModbusBaseClient
from pymodbus.constants import ExcCodes
from pymodbus.exceptions import ModbusException
from pymodbus.pdu import ModbusPDU

from booth.config import ModbusRtuGateSettings, ModbusTcpGateSettings
from booth.devices.gates import GateDriver, GateFault

log = logging.getLogger(__name__)

WAVESHARE_FLASH_ON_BASE = 0x0200
_WAVESHARE_FLASH_OFF_BASE = 0x0400  # the flash-on block ends where flash-off begins
_WAVESHARE_UNIT_MS = 100
_COIL_ON, _COIL_OFF = 0xFF00, 0x0000  # FC05's value field
# pymodbus's own per-request timer runs this much longer than our asyncio.wait_for, so ours fires first and
# gives one clear message; pymodbus's timer stays as a backstop.
_PYMODBUS_TIMEOUT_MARGIN_S = 1.0


class _FlashOnPdu(ModbusPDU):
    """FC05 with a raw 16-bit value field: Waveshare's "flash on" (value = on-time in 100 ms units).

    Registered with one client's decoder, it also decodes that client's FC05 answers, keeping the raw echoed
    value so ``open`` can check the board understood the command.
    """

    function_code = 5
    rtu_frame_size = 8

    def __init__(self, address: int = 0, value: int = 0, dev_id: int = 0, transaction_id: int = 0) -> None:
        super().__init__(dev_id=dev_id, transaction_id=transaction_id, address=address)
        self.value = value

    def encode(self) -> bytes:
        self.verifyAddress()
        return struct.pack(">HH", self.address, self.value)

    def decode(self, data: bytes) -> None:
        self.address, self.value = struct.unpack(">HH", data[:4])


async def _unless_lost(request: Awaitable[ModbusPDU], lost: asyncio.Event) -> ModbusPDU:
    """Await a pymodbus request, but fail at once if the connection drops meanwhile.

    pymodbus leaves a request whose connection dropped waiting for its timer; a board that rebooted or closed
    the connection should cost milliseconds, not ``timeout_s``, so the engine's retry on a fresh connection
    comes quickly.

    The request runs in the caller's task, not a task of its own, so its frame is written before the caller
    first waits (#14: a task of its own, or ``asyncio.wait_for``'s, put the frame behind whatever else the
    engine had ready, e.g. the ~0.6 ms of acknowledging the payment result to Bolink). A drop cancels it.
    """
    if lost.is_set():
        close = getattr(request, "close", None)
        if close is not None:
            close()  # (a coroutine never awaited)
        raise ConnectionResetError("the board closed the connection")
    task = asyncio.current_task()
    assert task is not None  # (called from a coroutine)
    state = {"waiting": True, "dropped": False}

    def dropped(watcher: asyncio.Future[Any]) -> None:
        if state["waiting"] and not watcher.cancelled():  # (a late callback after the request ended: nothing)
            state["dropped"] = True
            task.cancel()

    watcher = asyncio.ensure_future(lost.wait())
    watcher.add_done_callback(dropped)
    cancels = task.cancelling()
    try:
        response = await request
    except asyncio.CancelledError:
        if (
            state["dropped"] and task.uncancel() == cancels
        ):  # cancelled by the drop alone: a failure, not a stop
            raise ConnectionResetError("the board closed the connection") from None
        raise
    finally:
        state["waiting"] = False
        watcher.cancel()
    # pymodbus waits for the answer with asyncio.wait_for, which on Python 3.11 returns the answer and drops a
    # cancellation that lands as the answer comes in (fixed in 3.12). A stop or a deadline must not be lost:
    if state["dropped"]:
        task.uncancel()  # (the drop's own, after the answer came: the answer counts)
    if task.cancelling() > cancels:
        raise asyncio.CancelledError
    return response


def _exception_name(code: int) -> str:
    try:
        return ExcCodes(code).name
    except ValueError:
        return "unknown exception code"


class ModbusRelayGate(GateDriver):
    """A Modbus relay board, over TCP or a serial line (subclasses make the pymodbus client).

    Connects on first use and after any transport failure (a timeout or a dropped connection closes the
    client, the next call opens a new one). Every request is bounded by ``timeout_s``, so a dead or
    unreachable board makes ``open`` raise ``GateFault`` after about ``timeout_s`` instead of hanging.
    """

    _unreachable = "cannot connect"  # what a failed connect means for this transport

    def __init__(
        self, settings: ModbusTcpGateSettings | ModbusRtuGateSettings, where: str, name: str
    ) -> None:
        if settings.board_pulse == "waveshare" and (
            WAVESHARE_FLASH_ON_BASE + settings.coil >= _WAVESHARE_FLASH_OFF_BASE
        ):
            raise ValueError(
                f"gate coil {settings.coil}: with board_pulse 'waveshare' the coil must be 0..511 (the"
                f" flash-on address 0x0200+coil must stay below the flash-off block at 0x0400)"
            )
        self._settings = settings
        self._where = where
        self.name = name
        self._timeout_s = settings.timeout_s
        self._client: ModbusBaseClient | None = None
        self._lost = asyncio.Event()  # set by pymodbus when the current connection drops
        self._connect_lock = asyncio.Lock()
        self._open_lock = asyncio.Lock()
        self._closed = False

    def _fault(self, problem: str) -> GateFault:
        return GateFault(f"modbus {self._where} unit {self._settings.unit}: {problem}", problem)

    def _new_client(self, lost: asyncio.Event) -> ModbusBaseClient:
        """A client with pymodbus's own timeout a little longer than ours, no retries (the engine owns
        retries: a lost ON must not be resent behind its back) and no background reconnects."""
        raise NotImplementedError

    # -- connection -------------------------------------------------------------------------------------

    async def _connected(self) -> tuple[ModbusBaseClient, asyncio.Event]:
        if self._closed:
            raise self._fault("driver is closed")
        async with self._connect_lock:
            if self._client is not None and self._client.connected and not self._lost.is_set():
                return self._client, self._lost
            self._drop_connection()
            lost = asyncio.Event()
            client = self._new_client(lost)
            if self._settings.board_pulse == "waveshare":
                client.register(_FlashOnPdu)
            try:
                connected = await asyncio.wait_for(client.connect(), self._timeout_s)
            except TimeoutError:
                client.close()
                raise self._fault(f"{self._unreachable}: no answer within {self._timeout_s:g} s") from None
            except asyncio.CancelledError:
                client.close()
                raise
            if not connected:
                client.close()
                raise self._fault(self._unreachable)
            log.info("%s: connected", self.name)
            self._client, self._lost = client, lost
            return client, lost

    def _drop_connection(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    async def _request(
        self, what: str, call: Callable[[ModbusBaseClient], Awaitable[ModbusPDU]]
    ) -> ModbusPDU:
        """Run one pymodbus request with our deadline; map every failure to ``GateFault``."""
        client, lost = await self._connected()
        try:
            # call() is inside the try: pymodbus raises "not connected" synchronously, before any await.
            async with asyncio.timeout(
                self._timeout_s
            ):  # (not wait_for: no task of its own, see _unless_lost)
                response = await _unless_lost(call(client), lost)
        except TimeoutError:
            self._drop_connection()
            raise self._fault(f"{what}: no answer within {self._timeout_s:g} s") from None
        except (ModbusException, OSError) as exc:
            self._drop_connection()
            raise self._fault(f"{what}: {exc}") from exc
        if response.isError():
            code = response.exception_code
            raise self._fault(f"{what} refused: Modbus exception {code} {_exception_name(code)}")
        return response

    async def _write_coil(self, on: bool) -> None:
        coil, unit = self._settings.coil, self._settings.unit
        what = f"write coil {coil} {'ON' if on else 'OFF'} (FC05)"
        response = await self._request(what, lambda client: client.write_coil(coil, on, device_id=unit))
        if isinstance(response, _FlashOnPdu):  # board_pulse "waveshare": this client decodes FC05 echoes raw
            if (response.address, response.value) != (coil, _COIL_ON if on else _COIL_OFF):
                raise self._fault(
                    f"{what}: board echoed address {response.address} value 0x{response.value:04X}"
                )
            return
        if response.address != coil or list(response.bits[:1]) != [on]:
            raise self._fault(f"{what}: board echoed address {response.address} value {response.bits[:1]}")

    async def _read_coil(self, address: int) -> bool:
        unit = self._settings.unit
        what = f"read back coil {address} (FC01)"
        response = await self._request(what, lambda client: client.read_coils(address, device_id=unit))
        return self._first_bit(what, response)

    async def _read_input(self, address: int) -> bool:
        unit = self._settings.unit
        what = f"read input {address} (FC02)"
        response = await self._request(
            what, lambda client: client.read_discrete_inputs(address, device_id=unit)
        )
        return self._first_bit(what, response)

    def _first_bit(self, what: str, response: ModbusPDU) -> bool:
        if not response.bits:
            raise self._fault(f"{what}: the answer carries no bits")
        return bool(response.bits[0])

    # -- the gate ---------------------------------------------------------------------------------------

    async def open(self) -> None:
        async with self._open_lock:
            if self._settings.board_pulse == "waveshare":
                await self._flash_on()
            else:
                await self._host_timed_pulse()

    async def _host_timed_pulse(self) -> None:
        try:
            await self._write_coil(True)
            await asyncio.sleep(self._settings.pulse_ms / 1000)
        except asyncio.CancelledError:
            # Cancelled mid-pulse (shutdown, caller's deadline): the ON may have reached the board, so let go
            # of the contact before giving up (bounded by timeout_s per step, like every request).
            try:
                await self._switch_off()
            except GateFault:
                log.exception("%s: OFF after cancellation failed", self.name)
            raise
        await self._switch_off()
        coil = self._settings.coil
        if await self._read_coil(coil):
            raise self._fault(f"coil {coil} still reads ON after OFF: relay may be stuck, barrier held open")

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
        relay = self._settings.coil
        address = WAVESHARE_FLASH_ON_BASE + relay
        units = max(1, (self._settings.pulse_ms + _WAVESHARE_UNIT_MS // 2) // _WAVESHARE_UNIT_MS)
        what = f"Waveshare flash-on relay {relay} for {units * _WAVESHARE_UNIT_MS} ms (FC05 0x{address:04X})"
        request = _FlashOnPdu(address=address, value=units, dev_id=self._settings.unit)
        response = await self._request(what, lambda client: client.execute(False, request))
        echoed = (response.address, getattr(response, "value", None))
        if echoed != (address, units):
            raise self._fault(
                f"{what}: board echoed address 0x{response.address:04X} value {echoed[1]!r}; it does not"
                f" seem to understand Waveshare flash commands (check board_pulse)"
            )

    async def rest(self) -> bool:
        """Write the coil OFF (FC05 ``0000``) and read it back (FC01): a booth killed mid-pulse left it ON.

        Also with ``board_pulse="waveshare"``: the board's own timer lets go, but a coil switched ON by other
        means (or by an older setting) would still hold the barrier, and OFF ends a flash early at worst.
        Under the open lock, so it never lands inside a pulse.
        """
        coil = self._settings.coil
        async with self._open_lock:
            await self._write_coil(False)
            if await self._read_coil(coil):
                raise self._fault(f"coil {coil} still reads ON after OFF at start: relay may be stuck")
        return True

    async def probe(self) -> str | None:
        """Read the coil (FC01), write nothing: the board answers, and what the relay holds now."""
        coil = self._settings.coil
        on = await self._read_coil(coil)
        return f"coil {coil} reads {'ON (the barrier is being lifted, or held)' if on else 'OFF'}"

    async def vehicle_passed(self) -> bool | None:
        address = self._settings.passed_input
        if address is None:
            return None
        return await self._read_input(address)

    async def aclose(self) -> None:
        self._closed = True
        async with self._connect_lock:
            self._drop_connection()


class ModbusTcpGate(ModbusRelayGate):
    """A Modbus TCP relay board (or an RTU board behind a Modbus TCP gateway)."""

    _unreachable = "cannot connect (connection refused or host unreachable)"

    def __init__(self, settings: ModbusTcpGateSettings) -> None:
        host = f"[{settings.host}]" if ":" in settings.host else settings.host
        where = f"{host}:{settings.port}"
        super().__init__(settings, where, f"modbus_tcp {where} coil {settings.coil}")
        self._tcp = settings

    def _new_client(self, lost: asyncio.Event) -> ModbusBaseClient:
        return AsyncModbusTcpClient(
            self._tcp.host,
            port=self._tcp.port,
            name=self.name,
            timeout=self._timeout_s + _PYMODBUS_TIMEOUT_MARGIN_S,
            retries=0,
            reconnect_delay=0,
            trace_connect=lambda up: None if up else lost.set(),
        )
