"""Hikvision ANPR cameras over ISAPI: the event push and the barrier (``HikvisionGate``).

Facts (devices spec, "Hikvision"): events arrive as multipart/form-data with an ``anpr.xml`` part
(``EventNotificationAlert``) and JPEG parts; parts are matched by file name or content type, never by
their form name. Chinese firmware may put the colour before the plate (``蓝苏A8HK52``): ``parse_plate``
strips it. The barrier is ``PUT /ISAPI/Parking/channels/<n>/barrierGate`` with HTTP Digest auth; a 200
does not prove the arm moved, so ``barrierGateStatus`` is polled until it reads 2 (open).

Decisions:

- The XML comes from the network: it is parsed with defusedxml, DTDs refused (no camera sends one; a
  byte-pattern check for ``<!DOCTYPE`` is bypassed by a UTF-16 document).
- The multipart body (already read by the listener, within its size and time limits) is split here, one
  level deep: a nested multipart or a part without the boundary is not something an ANPR camera sends.
  (aiohttp's streaming reader warns through ``warnings`` on a bad Content-Disposition and the stdlib email
  parser recurses into nested multiparts: 1.3 s of the loop and a RecursionError for a 4 MB body.)
- ``dateTime`` decides whether the event is live (``ReadFreshness``): an event without it, or with one that
  is not ISO 8601, is refused (400); one with no UTC offset is read in the lot's time zone
  (``park.timezone``), as the camera's own clock runs in it. A stale event is recorded, answered 200 (so
  the camera does not send it again) and never reaches the lane.
- A malformed event is answered 400 and logged once per interval.
- Lanes sharing a camera (or an NVR, or a multi-lane controller) are told apart by the event's
  ``channelID``. An event whose channel is no lane's is answered 200 (re-sending it would not help) and
  logged, never acted on; a ``channelID`` that is not a number is a malformed event.
"""

from __future__ import annotations

import asyncio
import email.message
import email.parser
import logging
import re
import time
import xml.etree.ElementTree as ET
from collections import OrderedDict
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

import defusedxml.ElementTree as SafeET
import httpx
from aiohttp import web
from defusedxml import DefusedXmlException

from booth.config import HikvisionGateSettings
from booth.devices.camera_reads import (
    CameraPayloadError,
    CameraSink,
    LogThrottle,
    PlateRead,
    ReadBacklog,
    ReadFreshness,
)
from booth.devices.gates import GateDriver, GateFault
from booth.domain.phrases import say
from booth.domain.plates import PlateColour

if TYPE_CHECKING:
    from booth.devices.camera_reads import CameraLanes

log = logging.getLogger(__name__)

_ISAPI_NS = "http://www.isapi.org/ver20/XMLSchema"
_DEDUPE_MEMORY = 20_000
_PLATE_MAX_CHARS = 32
_MAX_PARTS = 16
_MAX_PART_HEADER_BYTES = 8192
_CONFIDENCE = re.compile(r"\d{1,3}(?:\.\d{1,6})?")
_CHANNEL = re.compile(r"\d{1,5}")
GATE_OPEN = "2"


def parse_xml(data: bytes, what: str) -> ET.Element:
    """Parse untrusted XML with defusedxml (no DTD, no entities, no external references)."""
    try:
        return SafeET.fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise CameraPayloadError(
            f"{what}: XML with a DOCTYPE or ENTITY declaration is refused ({exc})"
        ) from None
    except ET.ParseError as exc:
        raise CameraPayloadError(f"{what}: not well-formed XML ({exc})") from None
    except (ValueError, LookupError) as exc:  # an encoding expat does not know, or a multi-byte one
        raise CameraPayloadError(f"{what}: XML in an encoding that cannot be read ({exc})") from None


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


def _short(text: str) -> str:
    return repr(text) if len(text) <= 60 else repr(text[:57] + "...")


_COLOURS = {
    "blue": PlateColour.BLUE,
    "yellow": PlateColour.YELLOW,
    "white": PlateColour.WHITE,
    "black": PlateColour.BLACK,
    "green": PlateColour.GREEN,
    "yellowgreen": PlateColour.YELLOW_GREEN,
}


def parse_date_time(text: str | None, zone: tzinfo) -> datetime:
    """``dateTime`` as an aware time: ISO 8601 with its offset, or, with none, in the lot's zone."""
    if not text:
        raise CameraPayloadError(
            "anpr.xml: dateTime is missing (an event without a time may be an old re-send)"
        )
    if len(text) > 40:
        raise CameraPayloadError(f"anpr.xml: dateTime is not an ISO 8601 time: {_short(text)}")
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise CameraPayloadError(f"anpr.xml: dateTime is not an ISO 8601 time: {_short(text)}") from None
    return at if at.tzinfo is not None else at.replace(tzinfo=zone)


class AnprEvent:
    """The fields of one ANPR ``EventNotificationAlert`` that the lane needs."""

    def __init__(self, root: ET.Element, zone: tzinfo) -> None:
        if _local(root.tag) != "EventNotificationAlert":
            raise CameraPayloadError(
                f"anpr.xml: expected EventNotificationAlert, got {_short(_local(root.tag))}"
            )
        self.event_type = _text(root, "eventType") or ""
        self.uuid = _text(root, "UUID")
        if self.uuid is not None and len(self.uuid) > 128:
            raise CameraPayloadError(f"anpr.xml: UUID is {len(self.uuid)} characters, not an id")
        anpr = _find(root, "ANPR")
        if self.event_type.upper() != "ANPR" or anpr is None:
            raise CameraPayloadError(f"anpr.xml: not an ANPR event (eventType {_short(self.event_type)})")
        plate = _text(anpr, "licensePlate")
        if plate is None:
            raise CameraPayloadError("anpr.xml: ANPR.licensePlate is missing")
        if len(plate) > _PLATE_MAX_CHARS:
            raise CameraPayloadError(f"anpr.xml: ANPR.licensePlate is {len(plate)} characters, not a plate")
        self.plate_text = plate
        level = _text(anpr, "confidenceLevel")
        if level in (None, ""):
            self.confidence: int | None = None
        elif _CONFIDENCE.fullmatch(level) and float(level) <= 100:
            self.confidence = int(float(level))
        else:
            raise CameraPayloadError(f"anpr.xml: ANPR.confidenceLevel is not a number 0-100: {_short(level)}")
        colour = (_text(anpr, "plateColor") or "").replace("_", "").replace("-", "").lower()
        self.colour = _COLOURS.get(colour)
        self.camera_at = parse_date_time(_text(root, "dateTime"), zone)
        channel = _text(root, "channelID")
        if channel in (None, ""):
            self.channel: int | None = None
        elif _CHANNEL.fullmatch(channel):
            self.channel = int(channel)
        else:
            raise CameraPayloadError(f"anpr.xml: channelID is not a channel number: {_short(channel)}")


def split_multipart(content_type: str, body: bytes) -> list[tuple[email.message.Message, bytes]]:
    """The parts of a multipart body, each as (its headers, its content); one level, strictly."""
    header = email.message.Message()
    header["Content-Type"] = content_type
    boundary = header.get_boundary()
    if not boundary or len(boundary) > 200 or not boundary.isascii():
        raise CameraPayloadError(f"multipart push without a usable boundary ({_short(content_type)})")
    delimiter = b"\r\n--" + boundary.encode("ascii")
    chunks = (b"\r\n" + body).split(delimiter)
    if len(chunks) < 2:
        raise CameraPayloadError("the multipart boundary of the Content-Type header is not in the body")
    parts: list[tuple[email.message.Message, bytes]] = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            return parts  # the close delimiter: what follows is the epilogue
        line_end = chunk.find(b"\r\n")
        if line_end < 0 or chunk[:line_end].strip(b" \t"):
            raise CameraPayloadError("a multipart boundary is followed by something other than a line end")
        head_end = chunk.find(b"\r\n\r\n", line_end)
        if head_end == line_end:  # a part without headers
            head, content = b"", chunk[line_end + 4 :]
        elif head_end < 0 or head_end - line_end > _MAX_PART_HEADER_BYTES:
            raise CameraPayloadError("a multipart part has no end to its headers")
        else:
            head, content = chunk[line_end + 2 : head_end], chunk[head_end + 4 :]
        if len(parts) == _MAX_PARTS:
            raise CameraPayloadError(f"more than {_MAX_PARTS} multipart parts")
        parts.append((email.parser.BytesHeaderParser().parsebytes(head + b"\r\n\r\n"), content))
    raise CameraPayloadError("the multipart body is cut off (no closing boundary)")


def anpr_parts(content_type: str, body: bytes) -> tuple[bytes | None, bytes | None, bytes | None]:
    """The XML, the scene and the plate crop of an ANPR push, matched by file name or content type."""
    xml = image = crop = None
    for headers, content in split_multipart(content_type, body):
        filename = (headers.get_filename() or "").lower()
        ctype = headers.get_content_type().lower()
        if ctype.startswith("multipart/"):
            continue  # a nested multipart: not something an ANPR camera sends
        if filename.endswith(".xml") or "xml" in ctype:
            xml = xml or content
        elif "plate" in filename:
            crop = crop or content
        elif filename.endswith((".jpg", ".jpeg")) or ctype.startswith("image/"):
            image = image or content
    return xml, image, crop


class HikvisionAdapter:
    """Handles POSTs from Hikvision cameras: ANPR events; anything else counts as a heartbeat."""

    def __init__(
        self,
        sink: CameraSink,
        freshness: ReadFreshness,
        backlog: ReadBacklog,
        throttle: LogThrottle,
        zone: tzinfo,
    ) -> None:
        self._sink = sink
        self._freshness = freshness
        self._backlog = backlog
        self._throttle = throttle
        self._zone = zone
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._lane_locks: dict[str, asyncio.Lock] = {}

    async def handle(self, request: web.Request, body: bytes, camera: CameraLanes) -> web.StreamResponse:
        if not request.content_type.startswith("multipart/"):
            return web.Response(text="OK")  # heartbeats and other events: seen, nothing to do
        ip = camera.ip
        try:
            xml, image, crop = anpr_parts(request.headers.get("Content-Type", ""), body)
            if xml is None:
                raise CameraPayloadError("no anpr.xml part (by file name or XML content type)")
            event = AnprEvent(parse_xml(xml, "anpr.xml"), self._zone)
        except CameraPayloadError as exc:
            self._throttle.warning(
                ("hikvision malformed", ip), f"hikvision {ip} ({camera.label}): refused an event: {exc}"
            )
            return web.Response(status=400, text=str(exc))
        channel = f" channel {event.channel}" if camera.by_channel_only else ""
        source = f"hikvision {ip}{channel} uuid {event.uuid or '?'}"
        lane_id = camera.lane_for(event.channel)
        if lane_id is None:
            self._throttle.warning(
                ("hikvision channel", ip),
                f"{source} ({camera.label}): read {event.plate_text} is no lane's, not acted on: "
                f"{camera.unmatched(event.channel)}",
            )
            return web.Response(text="OK")
        if event.uuid is not None and event.uuid in self._seen:
            log.info("%s (%s): repeat of an event already handled; ignored", source, lane_id)
            return web.Response(text="OK")
        stale = self._freshness.stale_reason(event.camera_at)
        if stale is not None:
            self._remember(event.uuid)
            self._throttle.warning(
                ("hikvision stale", ip),
                f"{source} ({lane_id}): read {event.plate_text} recorded, not acted on: {stale}",
            )
            await self._sink.camera_record(
                lane_id,
                "camera_stale_read",
                {"plate": event.plate_text, "camera_at": event.camera_at.isoformat(), "source": source,
                 "reason": stale},
            )  # fmt: skip
            if self._freshness.alert_due(ip):
                offset = self._freshness.offset_s(event.camera_at)
                await self._sink.camera_alert(
                    lane_id, "camera_clock", say("alert.camera_clock", lane_id=lane_id, offset_s=offset)
                )
            return web.Response(text="OK")
        if not self._backlog.admit(lane_id):
            self._throttle.warning(
                ("backlog", lane_id),
                f"{source} ({lane_id}): refused {event.plate_text} with 429: {self._backlog.limit} reads"
                " already wait for the lane (the camera sends it again)",
            )
            return web.Response(
                status=429,
                text=f"{self._backlog.limit} reads already wait for lane {lane_id}; send it again later",
                headers={"Retry-After": "1"},
            )
        self._remember(event.uuid)
        read = PlateRead(
            lane_id, event.plate_text, event.colour, event.confidence, event.camera_at, image, crop, source
        )
        # answer at once; the lane handles the read on the loop (the photo is stored first, in camera_read)
        task = asyncio.get_running_loop().create_task(self._in_order(read))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return web.Response(text="OK")

    def _remember(self, uuid: str | None) -> None:
        if uuid is None:
            return
        self._seen[uuid] = None
        while len(self._seen) > _DEDUPE_MEMORY:
            self._seen.popitem(last=False)

    async def _in_order(self, read: PlateRead) -> None:
        """A lane's reads are handled one at a time, in arrival order (asyncio.Lock is fair)."""
        try:
            async with self._lane_locks.setdefault(read.lane_id, asyncio.Lock()):
                await self._sink.camera_read(read)
        finally:
            self._backlog.done(read.lane_id)

    async def aclose(self) -> None:
        """Cancel reads still being handled (the engine is stopping)."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


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

    async def probe(self) -> str | None:
        """GET barrierGateStatus (nothing sent to the barrier): the camera answers, and what it reports."""
        if self._closed:
            raise self._fault("driver is closed")
        return f"barrierGateStatus reads {await self._status()!r}"

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

    async def rest(self) -> bool:
        """Nothing to do: ISAPI ``ctrlMode open`` is one command the camera carries out itself; Booth holds
        no contact between commands. (Sending ``close`` at start could bring the arm down on a car.)"""
        if self._closed:
            raise self._fault("driver is closed")
        return False

    async def aclose(self) -> None:
        self._closed = True
        await self._client.aclose()
