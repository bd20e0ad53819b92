"""Serial gate relays over pseudo-terminals: Modbus RTU against pymodbus's own serial server (through a pure
Python bridge joining two ptys back to back) and the LCUS USB relay against a pty peer reading its frames."""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import tty
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from pymodbus.server import ModbusSerialServer

from booth.config import LcusRelayGateSettings, ModbusRtuGateSettings, settings_from_mapping
from booth.devices.gate_factory import make_gate
from booth.devices.gates import GateFault
from booth.devices.serial_gates import LcusRelayGate, ModbusRtuGate, lcus_frame
from tests.test_gates import FC_READ_COILS, FC_WRITE_COIL, FakeRelayBoard, waveshare_flash_on_pdu


def raw_pty() -> tuple[int, int, str]:
    master, slave = os.openpty()
    tty.setraw(slave)
    return master, slave, os.ttyname(slave)


class PtyBridge:
    """Two ptys joined at their masters: bytes written at one slave device arrive at the other, like a
    null-modem cable between the gate's serial port and the board's."""

    def __init__(self) -> None:
        self._a_master, self._a_slave, self.a = raw_pty()
        self._b_master, self._b_slave, self.b = raw_pty()  # the slaves stay open: no EIO at the masters

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        loop.add_reader(self._a_master, self._copy, self._a_master, self._b_master)
        loop.add_reader(self._b_master, self._copy, self._b_master, self._a_master)

    @staticmethod
    def _copy(source: int, target: int) -> None:
        with contextlib.suppress(OSError):  # a side closed; the test's deadline reports what is missing
            os.write(target, os.read(source, 4096))

    def close(self) -> None:
        loop = asyncio.get_running_loop()
        for fd in (self._a_master, self._b_master):
            loop.remove_reader(fd)
        for fd in (self._a_master, self._b_master, self._a_slave, self._b_slave):
            os.close(fd)


@pytest_asyncio.fixture
async def bridge() -> AsyncIterator[PtyBridge]:
    joined = PtyBridge()
    joined.start()
    yield joined
    joined.close()


@pytest_asyncio.fixture
async def rtu_board(bridge: PtyBridge) -> AsyncIterator[FakeRelayBoard]:
    """A relay board (unit 1) that understands Waveshare flash-on, on the bridge's far end."""
    board = FakeRelayBoard(flash_pdu=True)
    server = ModbusSerialServer(
        [board._device(1)], port=bridge.b, baudrate=9600, custom_pdu=[waveshare_flash_on_pdu(board)]
    )
    await server.serve_forever(background=True)
    board._server = server  # type: ignore[assignment]  # lets the test set coils in its datastore
    yield board
    await server.shutdown()


def rtu_settings(device: str, **overrides: Any) -> ModbusRtuGateSettings:
    values: dict[str, Any] = {"driver": "modbus_rtu", "device": device, "pulse_ms": 100, "timeout_s": 1}
    return ModbusRtuGateSettings(**{**values, **overrides})


@pytest.mark.asyncio
async def test_rtu_gate_pulses_the_coil_and_reads_it_back(
    bridge: PtyBridge, rtu_board: FakeRelayBoard
) -> None:
    gate = make_gate(rtu_settings(bridge.a, coil=3), "X1")
    assert isinstance(gate, ModbusRtuGate)
    async with gate:
        await gate.open()
        assert await gate.vehicle_passed() is None
    seen = [(a.unit, a.function_code, a.address, a.values) for a in rtu_board.accesses]
    # this board also speaks Waveshare's raw FC05, so it records the wire values: FF00 on, 0000 off
    assert seen == [
        (1, FC_WRITE_COIL, 3, (0xFF00,)),
        (1, FC_WRITE_COIL, 3, (0,)),
        (1, FC_READ_COILS, 3, None),
    ]


@pytest.mark.asyncio
async def test_rtu_gate_asks_a_waveshare_board_to_time_the_pulse(
    bridge: PtyBridge, rtu_board: FakeRelayBoard
) -> None:
    async with ModbusRtuGate(rtu_settings(bridge.a, coil=1, pulse_ms=700, board_pulse="waveshare")) as gate:
        await gate.open()
    assert [(a.function_code, a.address, a.values) for a in rtu_board.accesses] == [
        (FC_WRITE_COIL, 0x0201, (7,))
    ]


@pytest.mark.asyncio
async def test_rtu_gate_faults_when_the_board_is_silent(bridge: PtyBridge) -> None:
    async with ModbusRtuGate(rtu_settings(bridge.a, timeout_s=0.3)) as gate:
        with pytest.raises(GateFault, match=r"write coil 0 ON \(FC05\): no answer within 0\.3 s"):
            await gate.open()


@pytest.mark.asyncio
async def test_rtu_gate_faults_on_a_missing_port(tmp_path: Path) -> None:
    async with ModbusRtuGate(rtu_settings(str(tmp_path / "ttyUSB9"), timeout_s=0.5)) as gate:
        with pytest.raises(GateFault, match="cannot open"):
            await gate.open()


@pytest.mark.asyncio
async def test_rtu_rest_switches_a_coil_left_on_off(bridge: PtyBridge, rtu_board: FakeRelayBoard) -> None:
    await rtu_board.set_coil(1, 3, True)  # a booth killed between ON and OFF
    async with ModbusRtuGate(rtu_settings(bridge.a, coil=3)) as gate:
        assert await gate.rest() is True
    assert [(a.function_code, a.address, a.values) for a in rtu_board.accesses] == [
        (FC_WRITE_COIL, 3, (0,)),
        (FC_READ_COILS, 3, None),
    ]
    assert not await rtu_board.coil(1, 3)


# ------------------------------------------------------------------------------------------------ LCUS
@pytest.fixture
def lcus_peer() -> Iterator[tuple[int, str]]:
    master, slave, path = raw_pty()
    yield master, path
    os.close(master)
    os.close(slave)


def read_frames(master: int, count: int, deadline_s: float = 5.0) -> bytes:
    """What the relay received: ``count`` bytes or fewer if nothing more came before the deadline."""
    data = b""
    while len(data) < count:
        ready, _, _ = select.select([master], [], [], deadline_s)
        if not ready:
            break
        data += os.read(master, count - len(data))
    return data


def test_lcus_frames_match_the_documented_bytes() -> None:
    assert lcus_frame(1, True) == bytes.fromhex("A00101A2")
    assert lcus_frame(1, False) == bytes.fromhex("A00100A1")
    assert lcus_frame(2, True) == bytes.fromhex("A00201A3")
    with pytest.raises(ValueError, match="channel"):
        lcus_frame(0, True)


@pytest.mark.asyncio
async def test_lcus_gate_sends_on_then_off(lcus_peer: tuple[int, str]) -> None:
    master, path = lcus_peer
    settings = LcusRelayGateSettings(driver="lcus", device=path, channel=2, pulse_ms=100)
    gate = make_gate(settings, "E1")
    assert isinstance(gate, LcusRelayGate)
    async with gate:
        await gate.open()
        await gate.open()
    frames = await asyncio.to_thread(read_frames, master, 17, 0.5)
    assert frames == (lcus_frame(2, True) + lcus_frame(2, False)) * 2


@pytest.mark.asyncio
async def test_lcus_rest_sends_the_off_frame(lcus_peer: tuple[int, str]) -> None:
    """Booth times the LCUS pulse, so a booth killed mid-pulse left the relay ON: rest lets it go."""
    master, path = lcus_peer
    async with make_gate(LcusRelayGateSettings(driver="lcus", device=path, channel=2), "X1") as gate:
        assert await gate.rest() is True
    frames = await asyncio.to_thread(read_frames, master, 5, 0.5)
    assert frames == lcus_frame(2, False) == bytes.fromhex("A00200A2")


@pytest.mark.asyncio
async def test_lcus_rest_on_a_missing_port_is_a_fault(tmp_path: Path) -> None:
    settings = LcusRelayGateSettings(driver="lcus", device=str(tmp_path / "ttyUSB9"))
    async with LcusRelayGate(settings) as gate:
        with pytest.raises(GateFault, match=r"relay OFF \(A0 01 00 A1\)"):
            await gate.rest()


@pytest.mark.asyncio
async def test_lcus_gate_faults_on_a_missing_port_and_recovers(tmp_path: Path) -> None:
    settings = LcusRelayGateSettings(driver="lcus", device=str(tmp_path / "ttyUSB9"), pulse_ms=100)
    async with LcusRelayGate(settings) as gate:
        with pytest.raises(GateFault, match=r"relay ON \(A0 01 01 A2\)"):
            await gate.open()
        with pytest.raises(GateFault, match="relay ON"):  # still usable: it tries the port again
            await gate.open()


def test_serial_gate_settings_are_validated() -> None:
    base: dict[str, Any] = {
        "park": {"name": "p"},
        "bolink": {"base_url": "sandbox", "union_id": "1", "park_id": "2", "ukey": "k", "local_id": "l"},
    }
    lane = {"id": "X1", "name": "x", "direction": "exit", "channel_id": "X1"}
    s = settings_from_mapping({**base, "lanes": [{**lane, "gate": {"driver": "lcus", "device": "COM3"}}]})
    assert isinstance(s.lanes[0].gate, LcusRelayGateSettings)
    with pytest.raises(Exception, match=r"lanes\[0\]\.gate: coil: .* must be 0-511, got 600"):
        settings_from_mapping(
            {
                **base,
                "lanes": [
                    {
                        **lane,
                        "gate": {
                            "driver": "modbus_rtu",
                            "device": "/dev/ttyUSB0",
                            "board_pulse": "waveshare",
                            "coil": 600,
                        },
                    }
                ],
            }
        )


@pytest.mark.asyncio
async def test_rtu_probe_reads_the_coil_over_the_line(bridge: PtyBridge, rtu_board: FakeRelayBoard) -> None:
    async with ModbusRtuGate(rtu_settings(bridge.a, coil=3)) as gate:
        assert await gate.probe() == "coil 3 reads OFF"
    assert [(a.function_code, a.address, a.values) for a in rtu_board.accesses] == [(FC_READ_COILS, 3, None)]


@pytest.mark.asyncio
async def test_lcus_probe_opens_the_port_and_writes_nothing(
    lcus_peer: tuple[int, str], tmp_path: Path
) -> None:
    master, path = lcus_peer
    async with LcusRelayGate(LcusRelayGateSettings(driver="lcus", device=path)) as gate:
        assert await gate.probe() == f"{path} opens (nothing written; the relay answers nothing)"
    assert await asyncio.to_thread(read_frames, master, 1, 0.3) == b""
    missing = LcusRelayGateSettings(driver="lcus", device=str(tmp_path / "ttyUSB9"))
    async with LcusRelayGate(missing) as gate:
        with pytest.raises(GateFault, match="cannot open"):
            await gate.probe()
