"""Hikvision ANPR cameras over ISAPI: the event push and the barrier (``HikvisionGate``).

Facts (devices spec, "Hikvision"): events arrive as multipart/form-data with an ``anpr.xml`` part
(``EventNotificationAlert``) and JPEG parts; parts are matched by file name or content type, never by
their form name. Chinese firmware may put the colour before the plate (``蓝苏A8HK52``): ``parse_plate``
strips it. The barrier is ``PUT /ISAPI/Parking/channels/<n>/barrierGate`` with HTTP Digest auth; a 200
does not prove the arm moved, so ``barrierGateStatus`` is polled until it reads 2 (open).

The XML comes from the network: a document with a DOCTYPE (where entity expansion lives) is refused
before it reaches the stdlib parser (defusedxml is not installed).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import xml.etree.ElementTree as ET
from collections import OrderedDict
from datetime import datetime
from typing import Any

import httpx
from aiohttp import BodyPartReader, web

from booth.config import HikvisionGateSettings
from booth.devices.camera_reads import CameraPayloadError, CameraSink, PlateRead
from booth.devices.gates import GateDriver, GateFault
from booth.domain.plates import PlateColour

log = logging.getLogger(__name__)

_ISAPI_NS = "http://www.isapi.org/ver20/XMLSchema"
_DOCTYPE = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.I)
_DEDUPE_MEMORY = 20_000
GATE_OPEN = "2"


def parse_xml(data: bytes, what: str) -> ET.Element:
    """Parse untrusted XML with the stdlib parser after refusing DOCTYPE/ENTITY declarations."""
    if _DOCTYPE.search(data):
        raise CameraPayloadError(f"{what}: XML with a DOCTYPE or ENTITY declaration is refused")
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        raise CameraPayloadError(f"{what}: not well-formed XML ({exc})") from None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _find(root: ET.Element, name: str) -> ET.Element | None:
    for element in root.iter():
        if _local(element.tag) == name:
            return element
    return None


def _text(root: ET.Element, name: str) -> str | None:
    element = _find(root, name)
    return None if element is None or element.text is None else element.text.strip()


_COLOURS = {
    "blue": PlateColour.BLUE,
    "yellow": PlateColour.YELLOW,
    "white": PlateColour.WHITE,
    "black": PlateColour.BLACK,
    "green": PlateColour.GREEN,
    "yellowgreen": PlateColour.YELLOW_GREEN,
}


class AnprEvent:
    """The fields of one ANPR ``EventNotificationAlert`` that the lane needs."""

    def __init__(self, root: ET.Element) -> None:
        if _local(root.tag) != "EventNotificationAlert":
            raise CameraPayloadError(f"anpr.xml: expected EventNotificationAlert, got {_local(root.tag)}")
        self.event_type = _text(root, "eventType") or ""
        self.uuid = _text(root, "UUID")
        self.date_time = _text(root, "dateTime")
        anpr = _find(root, "ANPR")
        if self.event_type.upper() != "ANPR" or anpr is None:
            raise CameraPayloadError(f"anpr.xml: not an ANPR event (eventType {self.event_type!r})")
        plate = _text(anpr, "licensePlate")
        if plate is None:
            raise CameraPayloadError("anpr.xml: ANPR.licensePlate is missing")
        self.plate_text = plate
        level = _text(anpr, "confidenceLevel")
        try:
            self.confidence = None if level in (None, "") else int(float(level))
        except ValueError:
            raise CameraPayloadError(f"anpr.xml: ANPR.confidenceLevel is not a number: {level!r}") from None
        if self.confidence is not None and not 0 <= self.confidence <= 100:
            raise CameraPayloadError(f"anpr.xml: ANPR.confidenceLevel out of 0-100: {self.confidence}")
        colour = (_text(anpr, "plateColor") or "").replace("_", "").replace("-", "").lower()
        self.colour = _COLOURS.get(colour)

    @property
    def camera_at(self) -> datetime | None:
        try:
            return datetime.fromisoformat(self.date_time) if self.date_time else None
        except ValueError:
            return None


class HikvisionAdapter:
    """Handles POSTs from Hikvision cameras: ANPR events; anything else counts as a heartbeat."""

    def __init__(self, sink: CameraSink) -> None:
        self._sink = sink
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._lane_locks: dict[str, asyncio.Lock] = {}

    async def handle(self, request: web.Request, lane_id: str, ip: str) -> web.StreamResponse:
        if not request.content_type.startswith("multipart/"):
            await request.read()
            return web.Response(text="OK")  # heartbeats and other events: seen, nothing to do
        try:
            xml, image, crop = await self._parts(request)
            if xml is None:
                raise CameraPayloadError("no anpr.xml part (by file name or XML content type)")
            event = AnprEvent(parse_xml(xml, "anpr.xml"))
        except CameraPayloadError as exc:
            log.warning("hikvision %s (%s): refused an event: %s", ip, lane_id, exc)
            return web.Response(status=400, text=str(exc))
        source = f"hikvision {ip} uuid {event.uuid or '?'}"
        if event.uuid is not None:
            if event.uuid in self._seen:
                log.info("%s (%s): repeat of an event already handled; ignored", source, lane_id)
                return web.Response(text="OK")
            self._seen[event.uuid] = None
            while len(self._seen) > _DEDUPE_MEMORY:
                self._seen.popitem(last=False)
        read = PlateRead(
            lane_id, event.plate_text, event.colour, event.confidence, event.camera_at, image, crop, source
        )
        # answer at once; the lane handles the read on the loop (the photo is stored first, in camera_read)
        task = asyncio.get_running_loop().create_task(self._in_order(read))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return web.Response(text="OK")

    async def _in_order(self, read: PlateRead) -> None:
        """A lane's reads are handled one at a time, in arrival order (asyncio.Lock is fair)."""
        async with self._lane_locks.setdefault(read.lane_id, asyncio.Lock()):
            await self._sink.camera_read(read)

    async def aclose(self) -> None:
        """Cancel reads still being handled (the engine is stopping)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _parts(self, request: web.Request) -> tuple[bytes | None, bytes | None, bytes | None]:
        xml = image = crop = None
        reader = await request.multipart()
        while True:
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, BodyPartReader):
                continue  # a nested multipart: not something an ANPR camera sends
            filename = (part.filename or "").lower()
            ctype = part.headers.get("Content-Type", "").lower()
            data = bytes(await part.read())
            if filename.endswith(".xml") or "xml" in ctype:
                xml = xml or data
            elif "plate" in filename:
                crop = crop or data
            elif filename.endswith((".jpg", ".jpeg")) or ctype.startswith("image/"):
                image = image or data
        return xml, image, crop


class HikvisionGate(GateDriver):
    """The barrier behind a Hikvision ANPR camera, driven over ISAPI with HTTP Digest auth."""

    def __init__(self, settings: HikvisionGateSettings) -> None:
        self._settings = settings
        host = f"[{settings.host}]" if ":" in settings.host else settings.host
        self._base = f"{settings.scheme}://{host}:{settings.port}/ISAPI/Parking/channels/{settings.channel}"
        self.name = f"hikvision {host}:{settings.port} channel {settings.channel}"
        self._client = httpx.AsyncClient(
            auth=httpx.DigestAuth(settings.username, settings.password),
            timeout=settings.timeout_s,
            trust_env=False,
        )
        self._closed = False

    def _fault(self, problem: str) -> GateFault:
        return GateFault(f"{self.name}: {problem}", problem)

    async def open(self) -> None:
        if self._closed:
            raise self._fault("driver is closed")
        body = (
            f'<BarrierGate version="2.0" xmlns="{_ISAPI_NS}"><ctrlMode>open</ctrlMode></BarrierGate>'
        ).encode()
        deadline = time.monotonic() + self._settings.timeout_s
        try:
            response = await self._client.put(
                f"{self._base}/barrierGate", content=body, headers={"Content-Type": "application/xml"}
            )
        except httpx.HTTPError as exc:
            raise self._fault(f"barrierGate: {type(exc).__name__}: {exc}") from exc
        if response.status_code == 401:
            raise self._fault("barrierGate: 401, the camera refused the user name or password")
        if response.status_code != 200:
            raise self._fault(f"barrierGate: HTTP {response.status_code} {response.text[:200]!r}")
        if not self._settings.confirm_status:
            return
        while True:
            status = await self._status()
            if status == GATE_OPEN:
                return
            if time.monotonic() >= deadline:
                raise self._fault(
                    f"the camera took the open command but barrierGateStatus reads {status!r}, not open,"
                    f" after {self._settings.timeout_s:g} s"
                )
            await asyncio.sleep(0.1)

    async def _status(self) -> str | None:
        try:
            response = await self._client.get(f"{self._base}/barrierGate/barrierGateStatus")
        except httpx.HTTPError as exc:
            raise self._fault(f"barrierGateStatus: {type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            raise self._fault(f"barrierGateStatus: HTTP {response.status_code}")
        try:
            root = parse_xml(response.content, "barrierGateStatus")
        except CameraPayloadError as exc:
            raise self._fault(str(exc)) from None
        if _local(root.tag) == "barrierGateStatus":
            return (root.text or "").strip()
        value = _text(root, "barrierGateStatus")
        if value is None:
            raise self._fault(f"barrierGateStatus: no status in the answer ({response.text[:120]!r})")
        return value

    async def vehicle_passed(self) -> bool | None:
        if self._closed:
            raise self._fault("driver is closed")
        return None

    async def aclose(self) -> None:
        self._closed = True
        await self._client.aclose()
