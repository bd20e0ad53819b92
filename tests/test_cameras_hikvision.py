"""Hikvision ANPR: the multipart event push to the listener, and the ISAPI barrier with HTTP Digest auth
against a tiny aiohttp ISAPI emulator that checks the digest itself."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from aiohttp import web

from booth.config import HikvisionGateSettings
from booth.devices.camera_reads import CameraPayloadError
from booth.devices.gate_factory import make_gate
from booth.devices.gates import GateFault
from booth.devices.hikvision import AnprEvent, HikvisionGate, parse_xml
from booth.domain.lane import LaneState
from booth.domain.plates import PlateColour
from tests.conftest import RunningEngine, wait_until
from tests.test_cameras import JPEG, X2_CAMERA, camera_lanes, listener_settings, post

ISAPI = "http://www.isapi.org/ver20/XMLSchema"
CROP = b"\xff\xd8\xff\xe1" + b"plate crop"
SHANGHAI = ZoneInfo("Asia/Shanghai")


def anpr_xml(
    plate: str = "蓝苏A8HK52",
    uuid: str = "c1a5e2f0-0001",
    confidence: int | str = 97,
    date_time: str | None = None,
) -> bytes:
    """An event as the spec documents it; ``date_time`` defaults to now, in Beijing time as the camera
    writes it."""
    stamp = date_time or datetime.now(SHANGHAI).isoformat(timespec="seconds")
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<EventNotificationAlert version="2.0" xmlns="{ISAPI}">
<ipAddress>{X2_CAMERA}</ipAddress><channelID>1</channelID><dateTime>{stamp}</dateTime>
<eventType>ANPR</eventType><eventState>active</eventState><UUID>{uuid}</UUID>
<ANPR><country>CHN</country><licensePlate>{plate}</licensePlate><confidenceLevel>{confidence}</confidenceLevel>
<plateCharBelieve>99,99,61,99,99,99,99</plateCharBelieve><plateColor>blue</plateColor>
<plateType>92TypeCivil</plateType><direction>forward</direction><vehicleType>vehicle</vehicleType></ANPR>
</EventNotificationAlert>""".encode()


def anpr_files(xml: bytes) -> dict[str, Any]:
    # form names say nothing useful: parts are matched by file name and content type
    return {
        "files": {
            "a": ("anpr.xml", xml, "application/xml"),
            "b": ("licensePlatePicture.jpg", CROP, "image/jpeg"),
            "c": ("detectionPicture.jpg", JPEG, "image/jpeg"),
        }
    }


# ---------------------------------------------------------------------------------------- the XML
def test_anpr_event_fields_and_hostile_xml_is_refused() -> None:
    event = AnprEvent(parse_xml(anpr_xml(), "anpr.xml"), SHANGHAI)
    assert (event.plate_text, event.colour, event.confidence, event.uuid) == (
        "蓝苏A8HK52", PlateColour.BLUE, 97, "c1a5e2f0-0001",
    )  # fmt: skip
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><EventNotificationAlert>&a;</EventN'
    bomb += b"otificationAlert>"
    with pytest.raises(CameraPayloadError, match="DOCTYPE or ENTITY"):
        parse_xml(bomb, "anpr.xml")
    with pytest.raises(CameraPayloadError, match="not well-formed"):
        parse_xml(b"<EventNotificationAlert>", "anpr.xml")
    with pytest.raises(CameraPayloadError, match="not an ANPR event"):
        AnprEvent(parse_xml(anpr_xml().replace(b"<eventType>ANPR", b"<eventType>VMD"), "anpr.xml"), SHANGHAI)


# ---------------------------------------------------------------------------------------- the listener
@pytest.fixture
def hik_engine(make_engine: Callable[..., RunningEngine], tmp_path: Path) -> RunningEngine:
    return make_engine(lanes=camera_lanes(), cameras=listener_settings(tmp_path))


def test_anpr_push_brings_the_car_with_its_photo(hik_engine: RunningEngine) -> None:
    r = hik_engine
    r.engine.seed_stay("苏A8HK52", r.engine.now() - timedelta(hours=2)).result(5)
    response = post(r, X2_CAMERA, **anpr_files(anpr_xml()))
    assert response.status_code == 200
    view = wait_until(lambda: (v := r.lane("X2")).state is LaneState.AWAITING_PAYMENT and v, what="the quote")
    assert view.plate == "苏A8HK52" and view.plate_colour == "blue"
    assert view.photo and Path(view.photo).read_bytes() == JPEG  # the scene, not the plate crop
    # the same event again is answered and ignored
    r.engine.cancel("X2", "tester").result(5)
    wait_until(lambda: r.lane("X2").state is LaneState.IDLE, what="the cancel")
    assert post(r, X2_CAMERA, **anpr_files(anpr_xml())).status_code == 200
    assert post(r, X2_CAMERA, **anpr_files(anpr_xml(plate="苏C99999", uuid="marker"))).status_code == 200
    wait_until(lambda: r.lane("X2").plate == "苏C99999", what="the marker read")
    assert len(r.rows("SELECT id FROM exit_orders")) == 1


def test_stale_or_future_anpr_events_are_recorded_not_acted_on(hik_engine: RunningEngine) -> None:
    r = hik_engine
    r.engine.seed_stay("苏A8HK52", r.engine.now() - timedelta(hours=5)).result(5)
    beijing = datetime.now(SHANGHAI)
    stamps = [
        (beijing - timedelta(hours=3)).isoformat(timespec="seconds"),  # a re-sent event from hours ago
        (beijing + timedelta(hours=1)).astimezone(UTC).isoformat().replace("+00:00", "Z"),  # clock ahead
        (beijing - timedelta(hours=3)).replace(tzinfo=None).isoformat(timespec="seconds"),  # naive: Beijing
    ]
    for n, stamp in enumerate(stamps):
        assert post(r, X2_CAMERA, **anpr_files(anpr_xml(uuid=f"old-{n}", date_time=stamp))).status_code == 200
    audited = wait_until(
        lambda: (
            len(rows := r.rows("SELECT detail_json FROM audit_log WHERE action = 'camera_stale_read'")) == 3
            and rows
        ),
        what="the three stale events audited",
    )
    assert sum("ahead of the booth's clock" in detail for (detail,) in audited) == 1
    assert r.lane("X2").state is LaneState.IDLE and r.rows("SELECT id FROM exit_orders") == []
    # an event without a time cannot be judged: refused
    undated = re.sub(rb"<dateTime>[^<]*</dateTime>", b"", anpr_xml(uuid="undated"))
    response = post(r, X2_CAMERA, **anpr_files(undated))
    assert response.status_code == 400 and "dateTime is missing" in response.text
    # one stamped now (naive, in Beijing time as the camera's clock runs) is acted on
    now_naive = beijing.replace(tzinfo=None).isoformat(timespec="seconds")
    assert post(r, X2_CAMERA, **anpr_files(anpr_xml(uuid="now", date_time=now_naive))).status_code == 200
    wait_until(lambda: r.lane("X2").state is LaneState.AWAITING_PAYMENT, what="the live event")


def test_xml_that_hides_a_doctype_or_cannot_be_read_is_refused() -> None:
    hidden = (
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY a "boom">]>'
        "<EventNotificationAlert>&a;</EventNotificationAlert>"
    ).encode("utf-16")
    with pytest.raises(CameraPayloadError, match="DOCTYPE or ENTITY"):
        parse_xml(hidden, "anpr.xml")  # a byte pattern never sees "<!DOCTYPE" in UTF-16
    with pytest.raises(CameraPayloadError, match="encoding"):
        parse_xml(anpr_xml().replace(b'encoding="UTF-8"', b'encoding="x-no-such"'), "anpr.xml")
    for level in ("inf", "nan", "1e400", "-1", "101", "9" * 5000):
        with pytest.raises(CameraPayloadError, match="confidenceLevel is not a number 0-100"):
            AnprEvent(parse_xml(anpr_xml(confidence=level), "anpr.xml"), SHANGHAI)


def test_hostile_or_broken_events_are_refused(hik_engine: RunningEngine) -> None:
    r = hik_engine
    doctype = b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]>' + anpr_xml().split(b"?>", 1)[1]
    response = post(r, X2_CAMERA, **anpr_files(doctype))
    assert response.status_code == 400 and "DOCTYPE" in response.text
    only_pictures = {"files": {"c": ("detectionPicture.jpg", JPEG, "image/jpeg")}}
    assert post(r, X2_CAMERA, **only_pictures).status_code == 400
    assert r.lane("X2").state is LaneState.IDLE and r.rows("SELECT id FROM exit_orders") == []


# ---------------------------------------------------------------------------------------- the barrier
class IsapiEmulator:
    """The barrierGate endpoints of a Hikvision camera, with HTTP Digest (MD5, qop=auth) checked here."""

    realm = "IP Camera(C1234)"

    def __init__(self, username: str = "admin", password: str = "s3cret!") -> None:
        self.username, self.password = username, password
        self.status = "1"
        self.arm_moves = True
        self.status_body: bytes | None = None  # overrides the status answer
        self.commands: list[str] = []
        self.unauthorised = 0
        self._nonces: set[str] = set()
        self._runner: web.AppRunner | None = None
        self.port = 0

    def _authorised(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Digest "):
            return False
        fields = {k: v1 or v2 for k, v1, v2 in re.findall(r'(\w+)=(?:"([^"]*)"|([^,\s]+))', header[7:])}
        if fields.get("nonce") not in self._nonces or fields.get("username") != self.username:
            return False
        if fields.get("uri") != request.path_qs:
            return False

        def md5(text: str) -> str:
            return hashlib.md5(text.encode()).hexdigest()

        ha1 = md5(f"{self.username}:{self.realm}:{self.password}")
        ha2 = md5(f"{request.method}:{fields['uri']}")
        expected = md5(f"{ha1}:{fields['nonce']}:{fields['nc']}:{fields['cnonce']}:auth:{ha2}")
        return secrets.compare_digest(expected, fields.get("response", ""))

    def _challenge(self) -> web.Response:
        self.unauthorised += 1
        nonce = secrets.token_hex(16)
        self._nonces.add(nonce)
        header = f'Digest realm="{self.realm}", qop="auth", nonce="{nonce}", opaque="0b1c", algorithm=MD5'
        return web.Response(status=401, headers={"WWW-Authenticate": header})

    async def _barrier(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return self._challenge()
        root = parse_xml(await request.read(), "BarrierGate")
        mode = next(e.text for e in root.iter() if e.tag.endswith("ctrlMode"))
        self.commands.append(str(mode))
        if mode == "open" and self.arm_moves:
            self.status = "2"
        return web.Response(text="<ResponseStatus><statusCode>1</statusCode></ResponseStatus>")

    async def _status(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return self._challenge()
        body = (
            self.status_body
            or (
                f'<BarrierGateStatus version="2.0" xmlns="{ISAPI}">'
                f"<barrierGateStatus>{self.status}</barrierGateStatus></BarrierGateStatus>"
            ).encode()
        )
        return web.Response(body=body, content_type="application/xml")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_put("/ISAPI/Parking/channels/1/barrierGate", self._barrier)
        app.router.add_get("/ISAPI/Parking/channels/1/barrierGate/barrierGateStatus", self._status)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest_asyncio.fixture
async def isapi() -> AsyncIterator[IsapiEmulator]:
    emulator = IsapiEmulator()
    await emulator.start()
    yield emulator
    await emulator.stop()


def hik_settings(emulator: IsapiEmulator, **overrides: Any) -> HikvisionGateSettings:
    values: dict[str, Any] = {
        "driver": "hikvision",
        "host": "127.0.0.1",
        "port": emulator.port,
        "username": "admin",
        "password": "s3cret!",
        "timeout_s": 2,
        **overrides,
    }
    return HikvisionGateSettings(**values)


@pytest.mark.asyncio
async def test_hikvision_gate_opens_with_digest_auth_and_confirms_the_status(isapi: IsapiEmulator) -> None:
    gate = make_gate(hik_settings(isapi), "X2")
    assert isinstance(gate, HikvisionGate)
    async with gate:
        await gate.open()
        assert await gate.vehicle_passed() is None
    assert isapi.commands == ["open"] and isapi.status == "2"
    assert isapi.unauthorised >= 1  # the digest challenge was met, not skipped


@pytest.mark.asyncio
async def test_hikvision_gate_faults_on_wrong_password(isapi: IsapiEmulator) -> None:
    async with HikvisionGate(hik_settings(isapi, password="wrong")) as gate:
        with pytest.raises(GateFault, match="401"):
            await gate.open()
    assert isapi.commands == []


@pytest.mark.asyncio
async def test_hikvision_gate_faults_when_the_arm_does_not_move(isapi: IsapiEmulator) -> None:
    isapi.arm_moves = False
    async with HikvisionGate(hik_settings(isapi, timeout_s=0.3)) as gate:
        with pytest.raises(GateFault, match="reads '1', not open"):
            await gate.open()
    assert isapi.commands == ["open"]


@pytest.mark.asyncio
async def test_hikvision_gate_faults_on_a_garbage_status(isapi: IsapiEmulator) -> None:
    isapi.status_body = b"<html>busy</html>"
    async with HikvisionGate(hik_settings(isapi)) as gate:
        with pytest.raises(GateFault, match="no status in the answer"):
            await gate.open()


@pytest.mark.asyncio
async def test_hikvision_gate_faults_when_nobody_answers() -> None:
    settings = HikvisionGateSettings(driver="hikvision", host="127.0.0.1", port=9, username="a", password="b")
    async with HikvisionGate(settings) as gate:
        with pytest.raises(GateFault, match="barrierGate: ConnectError"):
            await gate.open()


# ------------------------------------------------------------------ lanes sharing a camera (#14 item 7)
def on_channel_id(xml: bytes, channel: str | None) -> bytes:
    tag = b"<channelID>1</channelID>"
    return xml.replace(tag, b"" if channel is None else f"<channelID>{channel}</channelID>".encode())


def test_anpr_channel_id_is_read_and_must_be_a_number() -> None:
    assert AnprEvent(parse_xml(anpr_xml(), "anpr.xml"), SHANGHAI).channel == 1
    assert AnprEvent(parse_xml(on_channel_id(anpr_xml(), None), "anpr.xml"), SHANGHAI).channel is None
    with pytest.raises(CameraPayloadError, match="channelID is not a channel number: '1; DROP'"):
        AnprEvent(parse_xml(on_channel_id(anpr_xml(), "1; DROP"), "anpr.xml"), SHANGHAI)


def test_two_lanes_behind_one_hikvision_camera_each_get_their_channels_events(
    make_engine: Callable[..., RunningEngine], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from tests.test_cameras import X1_CAMERA, shared_camera_lanes

    r = make_engine(lanes=shared_camera_lanes("hikvision", (1, 2)), cameras=listener_settings(tmp_path))
    caplog.set_level("WARNING")
    for plate in ("苏A11111", "苏A22222"):
        r.engine.seed_stay(plate, r.engine.now() - timedelta(hours=2)).result(5)
    xml = on_channel_id(anpr_xml(plate="蓝苏A22222", uuid="c2"), "2")
    assert post(r, X1_CAMERA, **anpr_files(xml)).status_code == 200
    wait_until(lambda: r.lane("X2").plate == "苏A22222", what="X2's read")
    assert post(r, X1_CAMERA, **anpr_files(anpr_xml(plate="蓝苏A11111", uuid="c1"))).status_code == 200
    wait_until(lambda: r.lane("X1").plate == "苏A11111", what="X1's read")
    # a channel no lane has: answered 200 (a re-send would not help), logged, acted on by no lane
    stray = on_channel_id(anpr_xml(plate="蓝苏A33333", uuid="c9"), "9")
    assert post(r, X1_CAMERA, **anpr_files(stray)).status_code == 200
    assert "channel 9 uuid c9 (X1, X2): read 蓝苏A33333 is no lane's, not acted on" in caplog.text
    # a channelID that is not a number is a malformed event
    bad = post(r, X1_CAMERA, **anpr_files(on_channel_id(anpr_xml(uuid="c8"), "one")))
    assert bad.status_code == 400 and "channelID is not a channel number" in bad.text
    assert [r.lane(lane).plate for lane in ("X1", "X2")] == ["苏A11111", "苏A22222"]
    assert len(r.rows("SELECT id FROM exit_orders")) == 2


@pytest.mark.asyncio
async def test_hikvision_probe_reads_the_status_and_sends_no_command(isapi: IsapiEmulator) -> None:
    async with HikvisionGate(hik_settings(isapi)) as gate:
        assert await gate.probe() == "barrierGateStatus reads '1'"
    assert isapi.commands == [] and isapi.status == "1"  # the barrier was not asked to move
    async with HikvisionGate(hik_settings(isapi, password="wrong")) as gate:
        with pytest.raises(GateFault, match="barrierGateStatus: HTTP 401"):
            await gate.probe()
