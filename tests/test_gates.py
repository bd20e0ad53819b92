"""Gate drivers against pymodbus's own Modbus TCP server on loopback, standing in for a relay board."""

from __future__ import annotations

import asyncio
import socket
import struct
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from pymodbus.constants import ExcCodes
from pymodbus.pdu import ModbusPDU
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from booth.config import (
    CameraRelayGateSettings,
    HikvisionGateSettings,
    ModbusTcpGateSettings,
    SimulatedGateSettings,
)
from booth.devices.gate_factory import make_gate
from booth.devices.gates import (
    GateDriver,
    GateFault,
    GateRest,
    SimulatedGate,
    rest_gates,
    rest_until_done,
)
from booth.devices.modbus_gates import ModbusTcpGate

FC_READ_COILS, FC_READ_INPUTS, FC_WRITE_COIL = 1, 2, 5
DEADLINE_S = 5.0


@dataclass(frozen=True)
class Access:
    """One request as it reached a unit's datastore."""

    unit: int
    function_code: int
    address: int
    values: tuple[int, ...] | None  # None for reads
    at: float


class FakeRelayBoard:
    """A pymodbus server with one device per unit; records every datastore access with a timestamp."""

    def __init__(
        self,
        units: tuple[int, ...] = (1,),
        coils: int = 16,
        flash_pdu: bool = False,
    ) -> None:
        self.units = units
        self.coils = coils
        self.flash_pdu = flash_pdu
        self.accesses: list[Access] = []
        self.connections = 0
        self.refuse_off = 0  # answer this many OFF writes with DEVICE_FAILURE
        self.welded = False  # coils read back ON whatever was written (a welded contact)
        self.port = 0
        self.recording = True  # off while the test itself (or the flash PDU) touches the datastore
        self._changed = asyncio.Event()
        self._server: ModbusTcpServer | None = None

    def _record(self, access: Access) -> None:
        if self.recording:
            self.accesses.append(access)
            self._changed.set()

    def _action(self, unit: int) -> Callable[..., Any]:
        async def action(
            function_code: int,
            start_address: int,
            address: int,
            count: int,
            registers: list[int],
            set_values: list[int] | list[bool] | None,
        ) -> ExcCodes | None:
            values = None if set_values is None else tuple(int(v) for v in set_values)
            self._record(Access(unit, function_code, address, values, time.monotonic()))
            if function_code == FC_WRITE_COIL and values == (0,) and self.refuse_off > 0:
                self.refuse_off -= 1
                return ExcCodes.DEVICE_FAILURE
            if function_code == FC_READ_COILS and self.welded:
                registers[address // 16 - start_address] |= 1 << (address % 16)
            return None

        return action

    def _device(self, unit: int) -> SimDevice:
        def bits(count: int) -> list[SimData]:
            return [SimData(0, count=count, values=False, datatype=DataType.BITS)]

        def registers() -> list[SimData]:
            return [SimData(0, values=0, datatype=DataType.REGISTERS)]

        return SimDevice(
            id=unit,
            simdata=(bits(self.coils), bits(16), registers(), registers()),
            action=self._action(unit),
        )

    def _on_connect(self, connected: bool) -> None:
        if connected:
            self.connections += 1

    async def start(self) -> None:
        """Listen on 127.0.0.1 (an OS-assigned port the first time, the same port on a restart)."""
        self._server = ModbusTcpServer(
            [self._device(unit) for unit in self.units],
            address=("127.0.0.1", self.port),
            trace_connect=self._on_connect,
            custom_pdu=[waveshare_flash_on_pdu(self)] if self.flash_pdu else None,
        )
        await self._server.serve_forever(background=True)
        self.port = self._server.transport.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.shutdown()
            self._server = None

    async def set_input(self, unit: int, address: int, value: bool) -> None:
        assert self._server is not None
        await self._server.async_setValues(unit, FC_READ_INPUTS, address, [value])

    async def coil(self, unit: int, address: int) -> bool:
        assert self._server is not None
        self.recording = False
        try:
            return bool((await self._server.async_getValues(unit, FC_READ_COILS, address, 1))[0])
        finally:
            self.recording = True

    async def set_coil(self, unit: int, address: int, on: bool) -> None:
        """Switch a relay behind the driver's back (as a booth killed mid-pulse leaves it), unrecorded."""
        assert self._server is not None
        self.recording = False
        try:
            await self._server.async_setValues(unit, FC_WRITE_COIL, address, [on])
        finally:
            self.recording = True

    def writes(self, unit: int) -> list[Access]:
        """FC05 writes (the server also reads the coil back to build its echo; those are left out)."""
        return [a for a in self.accesses if (a.unit, a.function_code) == (unit, FC_WRITE_COIL) and a.values]

    def reads(self, unit: int, function_code: int) -> list[Access]:
        wanted = (unit, function_code)
        return [a for a in self.accesses if (a.unit, a.function_code) == wanted and not a.values]

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        async with asyncio.timeout(DEADLINE_S):
            while not condition():
                self._changed.clear()
                await self._changed.wait()


def waveshare_flash_on_pdu(board: FakeRelayBoard) -> type[ModbusPDU]:
    """The board side of Waveshare's flash-on: FC05 whose value field is the on-time in 100 ms units."""

    class FlashOn(ModbusPDU):
        function_code = FC_WRITE_COIL
        rtu_frame_size = 8

        def __init__(
            self, address: int = 0, value: int = 0, dev_id: int = 0, transaction_id: int = 0
        ) -> None:
            super().__init__(dev_id=dev_id, transaction_id=transaction_id, address=address)
            self.value = value

        def encode(self) -> bytes:
            return struct.pack(">HH", self.address, self.value)

        def decode(self, data: bytes) -> None:
            self.address, self.value = struct.unpack(">HH", data[:4])

        async def datastore_update(self, context: Any, device_id: int) -> ModbusPDU:
            board._record(Access(device_id, FC_WRITE_COIL, self.address, (self.value,), time.monotonic()))
            if self.address < board.coils and self.value in (0xFF00, 0x0000):  # a plain coil write
                board.recording = False  # recorded above with its wire value
                try:
                    on = self.value == 0xFF00
                    await context.async_setValues(device_id, FC_WRITE_COIL, self.address, [on])
                finally:
                    board.recording = True
            return FlashOn(self.address, self.value, dev_id=self.dev_id, transaction_id=self.transaction_id)

    return FlashOn


def gate_settings(port: int, **overrides: Any) -> ModbusTcpGateSettings:
    values: dict[str, Any] = {
        "driver": "modbus_tcp",
        "host": "127.0.0.1",
        "port": port,
        "unit": 1,
        "coil": 0,
        "pulse_ms": 100,
        "timeout_s": 2.0,
    }
    values.update(overrides)
    return ModbusTcpGateSettings(**values)


@pytest_asyncio.fixture
async def board() -> AsyncIterator[FakeRelayBoard]:
    relay_board = FakeRelayBoard(units=(1, 3))
    await relay_board.start()
    yield relay_board
    await relay_board.stop()


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# -- host-timed pulse ------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_open_pulses_the_configured_coil_on_the_configured_unit(board: FakeRelayBoard) -> None:
    async with make_gate(gate_settings(board.port, unit=3, coil=5, pulse_ms=200)) as gate:
        await gate.open()

    writes = board.writes(3)
    assert [(w.address, w.values) for w in writes] == [(5, (1,)), (5, (0,))]
    assert writes[1].at - writes[0].at >= 0.1  # loose lower bound on the 200 ms pulse
    reads = board.reads(3, FC_READ_COILS)
    assert [r.address for r in reads] == [5]
    assert reads[0].at >= writes[1].at  # read back after the OFF
    assert [a for a in board.accesses if a.unit == 1] == []
    assert not await board.coil(3, 5)


@pytest.mark.asyncio
async def test_second_open_reuses_the_connection(board: FakeRelayBoard) -> None:
    async with make_gate(gate_settings(board.port)) as gate:
        assert board.connections == 0  # connects lazily
        await gate.open()
        await gate.open()
    assert [w.values for w in board.writes(1)] == [(1,), (0,), (1,), (0,)]
    assert board.connections == 1


@pytest.mark.asyncio
async def test_modbus_exception_is_a_fault_naming_it(board: FakeRelayBoard) -> None:
    async with make_gate(gate_settings(board.port, coil=600, passed_input=0)) as gate:
        with pytest.raises(GateFault) as fault:
            await gate.open()
        message = str(fault.value)
        assert f"modbus 127.0.0.1:{board.port} unit 1" in message
        assert "coil 600" in message and "ILLEGAL_ADDRESS" in message
        # The board answered, so the connection stays usable.
        assert await gate.vehicle_passed() is False
    assert board.connections == 1


@pytest.mark.asyncio
async def test_off_refused_once_is_tried_again(board: FakeRelayBoard) -> None:
    board.refuse_off = 1
    async with make_gate(gate_settings(board.port, coil=2)) as gate:
        await gate.open()
    assert [w.values for w in board.writes(1)] == [(1,), (0,), (0,)]
    assert not await board.coil(1, 2)


@pytest.mark.asyncio
async def test_off_refused_twice_reports_a_stuck_relay(board: FakeRelayBoard) -> None:
    board.refuse_off = 2
    async with make_gate(gate_settings(board.port, coil=2)) as gate:
        with pytest.raises(GateFault, match=r"coil 2 OFF failed twice.*stuck ON") as fault:
            await gate.open()
    assert "DEVICE_FAILURE" in str(fault.value)
    assert str(fault.value).count(f"127.0.0.1:{board.port}") == 1  # the causes are not prefixed again
    assert fault.value.problem.startswith("coil 2 OFF failed twice")
    assert [w.values for w in board.writes(1)] == [(1,), (0,), (0,)]


@pytest.mark.asyncio
async def test_coil_still_on_after_off_is_a_fault(board: FakeRelayBoard) -> None:
    board.welded = True
    async with make_gate(gate_settings(board.port, coil=1)) as gate:
        with pytest.raises(GateFault, match="coil 1 still reads ON after OFF"):
            await gate.open()


@pytest.mark.asyncio
async def test_cancelled_mid_pulse_still_switches_the_coil_off(board: FakeRelayBoard) -> None:
    async with make_gate(gate_settings(board.port, coil=4, pulse_ms=5000)) as gate:
        opening = asyncio.create_task(gate.open())
        await board.wait_until(lambda: len(board.writes(1)) == 1)
        opening.cancel()
        with pytest.raises(asyncio.CancelledError):
            await opening
    assert [w.values for w in board.writes(1)] == [(1,), (0,)]
    assert not await board.coil(1, 4)


# -- board-timed pulse (Waveshare flash-on) --------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize(("pulse_ms", "units"), [(700, 7), (250, 3), (100, 1), (5000, 50)])
async def test_waveshare_mode_sends_one_flash_on_command(pulse_ms: int, units: int) -> None:
    waveshare = FakeRelayBoard(units=(2,), flash_pdu=True)
    await waveshare.start()
    try:
        settings = gate_settings(waveshare.port, unit=2, coil=3, pulse_ms=pulse_ms, board_pulse="waveshare")
        async with make_gate(settings) as gate:
            await gate.open()
    finally:
        await waveshare.stop()
    assert [(a.unit, a.function_code, a.address, a.values) for a in waveshare.accesses] == [
        (2, FC_WRITE_COIL, 0x0203, (units,))
    ]


@pytest.mark.asyncio
async def test_waveshare_mode_against_a_board_without_flash_commands_is_a_fault() -> None:
    plain = FakeRelayBoard(coils=0x0210)  # a stock board: treats the value as ON and echoes FF00
    await plain.start()
    try:
        async with make_gate(gate_settings(plain.port, board_pulse="waveshare", pulse_ms=700)) as gate:
            with pytest.raises(GateFault, match="does not seem to understand Waveshare flash"):
                await gate.open()
    finally:
        await plain.stop()


def test_waveshare_coil_beyond_the_flash_block_is_refused() -> None:
    # the settings refuse it first (so `booth config check` names it) ...
    with pytest.raises(ValueError, match="coil must be 0-511, got 512"):
        gate_settings(502, coil=512, board_pulse="waveshare")
    # ... and the driver refuses it too, should settings be built around the validation
    settings = ModbusTcpGateSettings.model_construct(
        **{**gate_settings(502, coil=0, board_pulse="waveshare").model_dump(), "coil": 512}
    )
    with pytest.raises(ValueError, match="coil 512: with board_pulse 'waveshare'"):
        ModbusTcpGate(settings)


# -- rest at start (issue 14 item 2: a booth killed mid-pulse left the relay ON) ---------------------------


@pytest.mark.asyncio
async def test_rest_switches_a_coil_left_on_off_and_reads_it_back(board: FakeRelayBoard) -> None:
    await board.set_coil(3, 5, True)
    async with make_gate(gate_settings(board.port, unit=3, coil=5)) as gate:
        assert await gate.rest() is True
    assert [(a.function_code, a.address, a.values) for a in board.accesses if a.values] == [
        (FC_WRITE_COIL, 5, (0,))
    ]
    assert [r.address for r in board.reads(3, FC_READ_COILS)][-1:] == [5]  # the read-back, after the OFF
    assert not await board.coil(3, 5)


@pytest.mark.asyncio
async def test_rest_on_a_waveshare_board_writes_a_plain_off() -> None:
    """The board times its flash itself, but a coil switched ON otherwise still holds the barrier."""
    waveshare = FakeRelayBoard(units=(2,), flash_pdu=True)
    await waveshare.start()
    try:
        await waveshare.set_coil(2, 3, True)
        settings = gate_settings(waveshare.port, unit=2, coil=3, board_pulse="waveshare", pulse_ms=700)
        async with make_gate(settings) as gate:
            assert await gate.rest() is True
            await gate.open()  # the flash-on still works on the same connection
        assert not await waveshare.coil(2, 3)
    finally:
        await waveshare.stop()
    assert [(a.function_code, a.address, a.values) for a in waveshare.accesses] == [
        (FC_WRITE_COIL, 3, (0x0000,)),
        (FC_READ_COILS, 3, None),
        (FC_WRITE_COIL, 0x0203, (7,)),
    ]


@pytest.mark.asyncio
async def test_rest_of_a_relay_that_stays_on_is_a_fault(board: FakeRelayBoard) -> None:
    board.welded = True
    async with make_gate(gate_settings(board.port, coil=1)) as gate:
        with pytest.raises(GateFault, match="coil 1 still reads ON after OFF at start"):
            await gate.rest()


@pytest.mark.asyncio
async def test_rest_of_an_unreachable_board_is_a_fault_and_the_gate_works_once_it_answers() -> None:
    late = FakeRelayBoard()
    late.port = closed_port()
    async with make_gate(gate_settings(late.port, coil=2)) as gate:
        with pytest.raises(GateFault, match=rf"127\.0\.0\.1:{late.port} unit 1: cannot connect"):
            await gate.rest()
        await late.start()
        try:
            await late.set_coil(1, 2, True)
            assert await gate.rest() is True  # the driver reconnects on the next call
            await gate.open()
        finally:
            await late.stop()
    assert [w.values for w in late.writes(1)] == [(0,), (1,), (0,)]


@pytest.mark.asyncio
async def test_rest_waits_for_a_pulse_under_way(board: FakeRelayBoard) -> None:
    """Rest never cuts a host-timed pulse short: it queues behind the open, then writes OFF again."""
    async with make_gate(gate_settings(board.port, coil=4, pulse_ms=300)) as gate:
        opening = asyncio.create_task(gate.open())
        await board.wait_until(lambda: len(board.writes(1)) == 1)
        assert await gate.rest() is True
        await opening
    assert [w.values for w in board.writes(1)] == [(1,), (0,), (0,)]


class _StuckGate(SimulatedGate):
    """A driver whose rest never returns (a bug, or a transport without its own deadline)."""

    async def rest(self) -> bool:
        await asyncio.Event().wait()
        return True


class _BrokenGate(SimulatedGate):
    async def rest(self) -> bool:
        raise RuntimeError("driver bug")


@pytest.mark.asyncio
async def test_rest_gates_rests_every_gate_at_once_and_never_raises(board: FakeRelayBoard) -> None:
    await board.set_coil(1, 0, True)
    unreachable = closed_port()
    gates: dict[str, GateDriver] = {
        "E1": SimulatedGate(),
        "X1": make_gate(gate_settings(board.port)),
        "X2": make_gate(gate_settings(unreachable)),
        "X3": _StuckGate(),
        "X4": _BrokenGate(),
    }
    try:
        async with asyncio.timeout(DEADLINE_S):
            rests = await rest_gates(gates, deadline_s=0.5)
    finally:
        for gate in gates.values():
            await gate.aclose()
    assert rests["E1"] == GateRest("simulated gate", wrote=False)
    assert rests["X1"] == GateRest(f"modbus_tcp 127.0.0.1:{board.port} coil 0", wrote=True)
    assert not await board.coil(1, 0)
    assert rests["X2"].wrote is False and "cannot connect" in (rests["X2"].error or "")
    assert rests["X3"].error == "simulated gate: no rest within 0.5 s"
    assert rests["X4"].error == "simulated gate: RuntimeError: driver bug"


@pytest.mark.asyncio
async def test_rest_until_done_backs_off_until_the_board_answers() -> None:
    late = FakeRelayBoard()
    late.port = closed_port()
    waits: list[float] = []

    async def board_comes_up_on_the_fourth_wait(delay: float) -> None:
        waits.append(delay)
        if len(waits) == 4:
            await late.start()
            await late.set_coil(1, 0, True)

    try:
        async with make_gate(gate_settings(late.port)) as gate:
            async with asyncio.timeout(DEADLINE_S):
                tries = await rest_until_done(
                    gate, first_delay_s=1, max_delay_s=3, sleep=board_comes_up_on_the_fourth_wait
                )
        assert not await late.coil(1, 0)
    finally:
        await late.stop()
    assert tries == 4
    assert waits == [1, 2, 3, 3]


@pytest.mark.asyncio
async def test_gates_without_a_relay_of_their_own_have_nothing_to_rest() -> None:
    from booth.devices.hikvision import HikvisionGate
    from booth.devices.vzenith import CameraRelayGate

    camera = CameraRelayGate(CameraRelayGateSettings(driver="camera_relay"), "X2")
    hikvision = HikvisionGate(
        HikvisionGateSettings(
            driver="hikvision", host="127.0.0.1", port=closed_port(), username="u", password="x"
        )
    )
    for gate in (SimulatedGate(), camera, hikvision):
        async with gate:
            assert await gate.rest() is False
    assert camera.take() is None  # no command was queued for the camera's next answer


# -- vehicle passed input --------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_vehicle_passed_reads_the_discrete_input(board: FakeRelayBoard) -> None:
    async with make_gate(gate_settings(board.port, unit=3, passed_input=7)) as gate:
        assert await gate.vehicle_passed() is False
        await board.set_input(3, 7, True)
        assert await gate.vehicle_passed() is True
        await board.set_input(3, 7, False)
        assert await gate.vehicle_passed() is False
    assert [r.address for r in board.reads(3, FC_READ_INPUTS)] == [7, 7, 7]


@pytest.mark.asyncio
async def test_vehicle_passed_is_none_without_an_input(board: FakeRelayBoard) -> None:
    async with make_gate(gate_settings(board.port)) as gate:
        assert await gate.vehicle_passed() is None
    assert board.connections == 0


# -- failures and reconnection ---------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_unreachable_board_faults_without_waiting_for_the_timeout() -> None:
    port = closed_port()
    async with make_gate(gate_settings(port, timeout_s=30)) as gate:
        async with asyncio.timeout(DEADLINE_S):  # far below timeout_s: a refused connect must not wait
            with pytest.raises(GateFault, match=rf"modbus 127\.0\.0\.1:{port} unit 1: cannot connect"):
                await gate.open()


@pytest.mark.asyncio
async def test_silent_board_faults_after_timeout_and_next_open_reconnects() -> None:
    connections: list[asyncio.Task[None]] = []

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        connections.append(task)
        await reader.read()  # swallow requests until the client hangs up
        writer.close()
        await writer.wait_closed()

    silent = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    try:
        async with make_gate(gate_settings(port, timeout_s=0.2)) as gate:
            for _ in range(2):
                with pytest.raises(GateFault, match=r"write coil 0 ON \(FC05\): no answer within 0\.2 s"):
                    await gate.open()
        async with asyncio.timeout(DEADLINE_S):
            await asyncio.gather(*connections)  # each timed-out connection was hung up by the driver
    finally:
        silent.close()
        await silent.wait_closed()
    assert len(connections) == 2


@pytest.mark.asyncio
async def test_board_restart_fails_one_open_then_the_next_reconnects(board: FakeRelayBoard) -> None:
    async with make_gate(gate_settings(board.port, coil=1)) as gate:
        await gate.open()
        await board.stop()
        # Whether the driver noticed the closed connection before sending or only after, it fails at once.
        with pytest.raises(GateFault, match=r"cannot connect|closed the connection"):
            await gate.open()
        await board.start()
        await gate.open()
    assert [w.values for w in board.writes(1)] == [(1,), (0,), (1,), (0,)]
    assert board.connections == 2
    assert not await board.coil(1, 1)


@pytest.mark.asyncio
async def test_closed_driver_refuses_commands(board: FakeRelayBoard) -> None:
    gate = make_gate(gate_settings(board.port))
    await gate.aclose()
    with pytest.raises(GateFault, match="driver is closed"):
        await gate.open()
    assert board.accesses == []


# -- simulated gate and the factory ----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_simulated_gate_counts_opens_and_fails_the_first_ones_on_request() -> None:
    gate = SimulatedGate(SimulatedGateSettings(open_ms=0, fail_next=2))
    for left in (1, 0):
        with pytest.raises(GateFault, match=rf"simulated gate: .*training fault, {left} more") as fault:
            await gate.open()
        assert fault.value.problem.startswith("open not confirmed")
    assert (gate.open_count, gate.failed_count) == (0, 2)
    await gate.open()
    await gate.open()
    assert (gate.open_count, gate.failed_count) == (2, 2)


@pytest.mark.asyncio
async def test_simulated_gate_reports_what_the_test_sets_as_passed() -> None:
    async with SimulatedGate() as gate:
        assert await gate.vehicle_passed() is False
        gate.set_passed(True)
        assert await gate.vehicle_passed() is True
    with pytest.raises(GateFault, match="closed"):
        await gate.open()


def test_make_gate_builds_the_driver_the_settings_name() -> None:
    simulated = make_gate(SimulatedGateSettings())
    modbus = make_gate(gate_settings(5020, coil=3))
    assert isinstance(simulated, SimulatedGate)
    assert isinstance(modbus, ModbusTcpGate)
    assert isinstance(modbus, GateDriver)
    assert modbus.name == "modbus_tcp 127.0.0.1:5020 coil 3"


# -- probe (booth doctor): read, never write -------------------------------------------------------------


@pytest.mark.asyncio
async def test_probe_reads_the_coil_and_writes_nothing(board: FakeRelayBoard) -> None:
    async with make_gate(gate_settings(board.port, unit=3, coil=5)) as gate:
        assert await gate.probe() == "coil 5 reads OFF"
        await board.set_coil(3, 5, True)
        assert (await gate.probe() or "").startswith("coil 5 reads ON")
    assert [(a.function_code, a.address) for a in board.reads(3, FC_READ_COILS)] == [(FC_READ_COILS, 5)] * 2
    assert board.writes(3) == [] and board.writes(1) == []
    assert await board.coil(3, 5)  # left as it was


@pytest.mark.asyncio
async def test_probe_of_a_refused_port_is_a_fault_at_once() -> None:
    async with make_gate(gate_settings(closed_port(), timeout_s=2.0)) as gate:
        started = time.monotonic()
        with pytest.raises(GateFault, match="cannot connect"):
            await gate.probe()
        assert time.monotonic() - started < 1.5  # refused, not waited out


@pytest.mark.asyncio
async def test_probe_of_the_simulated_and_camera_relay_gates() -> None:
    async with SimulatedGate() as simulated:
        assert await simulated.probe() == "no hardware to read (training)"
    with pytest.raises(GateFault, match="closed"):
        await simulated.probe()
    camera = make_gate(CameraRelayGateSettings(driver="camera_relay"), "E1")
    assert await camera.probe() is None  # nothing it can read without acting: "not checkable"
    await camera.aclose()
