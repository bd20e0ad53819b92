"""What the lane crash and cloud-fault tests put around a booth: the world outside it, on loopback.

A loop thread of the test process runs the Bolink emulator, the Alipay gateway emulator and a Modbus TCP
relay board (pymodbus's own server, every coil write logged with its time.monotonic()), as a real lot's
clouds and relay board outlive the booth. The booth itself runs elsewhere (a forked process, or an Engine
thread) and reaches them over 127.0.0.1 only; the test plays the cameras (Vzenith pushes from a loopback
address per lane) and the drivers (who pay the order Bolink shows at their lane).
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from booth.config import public_key_pem
from booth.sandbox.alipay_gateway import AlipayGatewayEmulator
from booth.sandbox.bolink_cloud import BolinkSandbox, SandboxOrder
from booth.store import Store
from tests.test_cameras import vzenith_push
from tests.test_gates import FC_WRITE_COIL, FakeRelayBoard

T = TypeVar("T")

UNION_ID, PARK_ID, UKEY = "200208", "21835", "8403A41ED5EF20BC"
APP_ID = "2021000000000077"
TRIGGER_TURNED_BACK = 66
ON, OFF = 1, 0


@dataclass(frozen=True)
class ExitLaneRig:
    """One exit lane as the world sees it: its Bolink channel, its relay coil and its camera's address."""

    lane_id: str
    coil: int
    camera_ip: str


EXIT_LANES = (ExitLaneRig("X1", 0, "127.0.0.2"), ExitLaneRig("X2", 1, "127.0.0.3"))
RELAY_UNIT = 1


@dataclass(frozen=True)
class CoilWrite:
    coil: int
    value: int
    at: float  # time.monotonic() of the test process, when the board took the write


class World:
    """The clouds and the relay board on a loop thread; ``call`` runs a coroutine there."""

    def __init__(self, folder: Path, *, poll_hold_s: float = 25.0, alipay: bool = True) -> None:
        self.folder = folder
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="lane-world", daemon=True)
        self._thread.start()
        self.bolink: BolinkSandbox
        self.alipay: AlipayGatewayEmulator | None = None
        self.board: FakeRelayBoard
        self.call(self._start(poll_hold_s, alipay))

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 30) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _start(self, poll_hold_s: float, alipay: bool) -> None:
        self.bolink = BolinkSandbox(union_id=UNION_ID, park_id=PARK_ID, ukey=UKEY, poll_hold_s=poll_hold_s)
        await self.bolink.start()
        self.board = FakeRelayBoard(units=(RELAY_UNIT,), coils=8)
        await self.board.start()
        if alipay:
            app, gateway = (rsa.generate_private_key(public_exponent=65537, key_size=2048) for _ in "ab")
            (self.folder / "app_private.pem").write_bytes(
                app.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
            (self.folder / "alipay_public.pem").write_text(public_key_pem(gateway), encoding="ascii")
            gateway_private = gateway.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ).decode()
            self.alipay = AlipayGatewayEmulator(public_key_pem(app), gateway_private, app_id=APP_ID)
            await self.alipay.start()

    def close(self) -> None:
        async def stop() -> None:
            await self.bolink.stop()
            await self.board.stop()
            if self.alipay is not None:
                await self.alipay.stop()

        try:
            self.call(stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()

    # -- what the world saw (loop thread, or any thread once the booth is quiet) -------------------------

    def coil_writes(self, coil: int) -> list[CoilWrite]:
        """FC05 writes to one coil, in the order the board took them."""
        return [
            CoilWrite(a.address, a.values[0], a.at)
            for a in list(self.board.accesses)
            if a.unit == RELAY_UNIT and a.function_code == FC_WRITE_COIL and a.values and a.address == coil
        ]

    def awaiting_at(self, lane_id: str) -> SandboxOrder | None:
        """The order Bolink shows at a lane's QR (what a driver scanning it would pay), if any (loop)."""
        order = self.bolink.order_at(lane_id)
        return order if order is not None and order.state in ("awaiting", "paying") else None

    def config(
        self,
        *,
        db: Path,
        lanes: str,
        cameras: bool,
        log_level: str = "INFO",
        bolink_extra: str = "",
    ) -> str:
        """A settings file for the booth: Bolink and Alipay here, the exit lanes given as TOML."""
        alipay = ""
        if self.alipay is not None:
            alipay = f"""
[alipay]
gateway_url = "{self.alipay.gateway_url}"
app_id = "{APP_ID}"
app_private_key_file = "{self.folder}/app_private.pem"
alipay_public_key_file = "{self.folder}/alipay_public.pem"
out_parking_id = "LOT-LANES"
parking_name = "车道测试停车场"
parking_id = "PI-LANES-1"
request_timeout_s = 5

[sync]
retry_base_s = 0.05
retry_cap_s = 0.5
status_every_s = 0.1
"""
        camera_section = ""
        if cameras:
            camera_section = f"""
[cameras]
enabled = true
host = "127.0.0.1"
port = 0
upload_photos = false
photo_dir = "{self.folder}/photos"
"""
        return f"""
[park]
name = "车道测试停车场"
province = "苏"

[bolink]
base_url = "{self.bolink.base_url}"
union_id = "{UNION_ID}"
park_id = "{PARK_ID}"
ukey = "{UKEY}"
local_id = "booth_lanes"
{bolink_extra}

[tariff]
free_minutes = 15

[tariff.classes.small]
daily_cap = "10.00"

[tariff.classes.large]
daily_cap = "20.00"

[database]
url = "sqlite:///{db}"

[logging]
level = "{log_level}"
{camera_section}{alipay}
{lanes}
"""


def modbus_exit_lanes(board_port: int, *, pulse_ms: int = 300, pass_timeout_s: float = 2.0) -> str:
    """The exit lanes of EXIT_LANES, each with a Modbus TCP gate on the world's board and a Vzenith camera.
    The pulse is timed by the booth (board_pulse "none"): the case where a crash can hold the relay ON."""
    return "\n".join(
        f"""
[[lanes]]
id = "{lane.lane_id}"
name = "出口{lane.lane_id}"
direction = "exit"
channel_id = "{lane.lane_id}"
pass_timeout_s = {pass_timeout_s}
gate = {{ driver = "modbus_tcp", host = "127.0.0.1", port = {board_port}, unit = {RELAY_UNIT}, coil = {lane.coil}, pulse_ms = {pulse_ms}, board_pulse = "none", timeout_s = 1.0 }}
camera = {{ vendor = "vzenith", ip = ["{lane.camera_ip}"] }}
"""  # noqa: E501
        for lane in EXIT_LANES
    )


@dataclass
class ParkedCar:
    plate: str
    order_id: str  # the stay's Bolink order id
    stay_id: int


def park_cars(store: Store, first: int, count: int, *, hours_ago: float = 20.0) -> list[ParkedCar]:
    """Stays of cars that entered long ago (their fee is the day's cap, the same all through the test).
    Written straight into the store while no booth runs: the entry lane is not what is under test."""
    entry = datetime.now(UTC) - timedelta(hours=hours_ago)
    cars = []
    for n in range(first, first + count):
        plate, order_id = f"苏K{n:05d}", f"E1_lanes_{n:06d}"
        stay = store.create_stay(
            order_id=order_id,
            plate=plate,
            plate_colour="blue",
            vehicle_class="small",
            lane_id="E1",
            entry_at=entry,
        )
        cars.append(ParkedCar(plate, order_id, stay.id))
    return cars


class Camera:
    """A Vzenith camera pushing its reads to the booth's listener from its own loopback address."""

    _plate_ids = itertools.count(1)

    def __init__(self, source_ip: str) -> None:
        self._client = httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(local_address=source_ip), timeout=3.0, trust_env=False
        )

    async def push(self, port: int | None, plate: str, *, trigger: int = 1) -> bool:
        """One read; False when no booth took it (none running, or it died meanwhile)."""
        if port is None:
            return False
        body = vzenith_push(plate, plateid=next(self._plate_ids), trigger=trigger, image=None)
        try:
            answer = await self._client.post(
                f"http://127.0.0.1:{port}/devicemanagement/php/plateresult.php", json=body
            )
        except httpx.HTTPError:
            return False
        return answer.status_code == 200

    async def aclose(self) -> None:
        await self._client.aclose()
