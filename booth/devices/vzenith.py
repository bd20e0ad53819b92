"""臻识 / Vzenith plate cameras: the HTTP push, the answer's commands, the LED/voice board, the relay gate.

Facts (devices spec, "Vzenith"): the camera POSTs ``{"AlarmInfoPlate": {...}}``; the server must answer
HTTP 200 with ``{"Response_AlarmInfoPlate": {...}}`` or the camera re-sends. The answer may carry commands:
``info: "ok"`` (pulse the default IO), ``ivs_ioctrl`` (pulse a chosen IO), ``serialData`` (bytes for the
RS485 LED/voice board) and ``ContinuePushOffline`` (keep the offline backlog coming). In "comet" polling
mode the camera re-posts its heartbeat as soon as it gets an answer, so a gate command waits for the next
poll (held open up to ``comet_hold_s``) and rides on its answer: that is ``CameraRelayGate``.

Decisions (documented in docs/devices.md):

- Every read, live or offline backlog (``isoffline: 1``), is acted on only when its camera time is live
  (``ReadFreshness``: at most ``offline_read_max_age_s`` old, at most ``max_clock_skew_s`` ahead); otherwise
  it is recorded in the audit and answered (with ``ContinuePushOffline`` for the backlog), never acted on.
- A malformed push (not UTF-8 JSON, Infinity/NaN, a number of thousands of digits, nesting deeper than the
  parser allows, a field of the wrong type) is answered HTTP 200 with a ``Response_AlarmInfoPlate`` that
  commands nothing, and logged once per interval: the spec says any other answer makes the camera re-send
  the same push, forever. Only the listener's own refusals (size, time, overload) use 4xx.
- A read that finds its lane with ``max_pending_reads`` already waiting is answered 429, so the camera
  sends it again later (it is not marked as seen, so that re-send is handled).
- ``triggerType`` 66 (turned back) tells the lane the car left; 64/65 (lingering/recovered) are logged only.
- Repeats (same ``serialno`` + ``plateid``) are answered (with ``ContinuePushOffline`` for the backlog)
  and otherwise ignored.
- Lanes sharing a camera are told apart by the push's top-level ``channel`` (the spec's sub-id of a push;
  ``deviceName`` is free text and ``serialno`` names the camera, not a lane). A read whose channel is no
  lane's is answered and logged, never acted on. Heartbeats carry no channel: they keep every lane of the
  camera online, and only a camera serving one lane lets them carry a gate command.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
import logging
import math
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web

from booth.config import CameraListenerSettings, CameraRelayGateSettings
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
from booth.domain.plates import PlateColour, colour_from_vzenith

if TYPE_CHECKING:
    from booth.devices.camera_reads import CameraLanes

log = logging.getLogger(__name__)

TRIGGER_TURNED_BACK = 66
_TRIGGER_LINGER = (64, 65)
_DEDUPE_MEMORY = 20_000
_PLATE_MAX_CHARS = 32  # the longest real plate is 8-9 characters; the rest is a broken or hostile push
_INT_LIMIT = 2**63  # plateid, sec, codes: anything bigger is not a camera's number
LED_VERSION = 0x64
LED_SPEAK = 0x30


# ------------------------------------------------------------------------------ the 0x64 LED/voice frame
def led_frame(cmd: int, data: bytes, address: int = 0x00) -> bytes:
    """``DA VR PN(FF FF) CMD DL DATA CRC16`` with the CRC16-Modbus low byte first (spec, LED boards)."""
    if not 0 <= cmd <= 0xFF or not 0 <= address <= 0xFF:
        raise ValueError(f"LED frame: cmd and address are single bytes, got {cmd!r}, {address!r}")
    if len(data) > 0xFF:
        raise ValueError(f"LED frame: at most 255 data bytes, got {len(data)}")
    # imported here: only a lane with an LED/voice board speaks (pymodbus is ~1 MB and 33 modules)
    from pymodbus.framer import FramerRTU

    body = bytes([address, LED_VERSION, 0xFF, 0xFF, cmd, len(data)]) + data
    # pymodbus returns the CRC already byte-swapped into wire order (low byte first)
    return body + FramerRTU.compute_CRC(body).to_bytes(2, "big")


def speak_frame(text: str, option: int = 0x01) -> bytes:
    """CMD 0x30: speak ``text`` (GBK); ``option`` is the board's first data byte (0x01 in the spec)."""
    try:
        encoded = text.encode("gbk")
    except UnicodeEncodeError as exc:
        raise ValueError(f"LED voice text {text!r} has characters GBK cannot encode") from exc
    return led_frame(LED_SPEAK, bytes([option]) + encoded)


def serial_data(frame: bytes, channel: int = 0) -> dict[str, Any]:
    return {"serialChannel": channel, "data": base64.b64encode(frame).decode("ascii"), "dataLen": len(frame)}


# ------------------------------------------------------------------------------------------ the push
@dataclass(frozen=True)
class VzenithPlate:
    plate_text: str
    colour: PlateColour
    confidence: int | None
    trigger: int | None
    camera_at: datetime | None
    plateid: int | None
    serialno: str
    offline: bool
    image: bytes | None
    crop: bytes | None
    channel: int | None = None  # the push's top-level channel: which lane of a shared camera


def _int(value: Any, name: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or (isinstance(value, float) and not math.isfinite(value)):
        raise CameraPayloadError(f"{name}: expected a number, got {_short(value)}")
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        raise CameraPayloadError(f"{name}: expected a number, got {_short(value)}") from None
    if not -_INT_LIMIT <= number <= _INT_LIMIT:
        raise CameraPayloadError(f"{name}: out of range ({_short(value)})")
    return number


def _short(value: Any) -> str:
    """``repr`` cut to a log line's worth: a hostile field may be megabytes long."""
    text = (
        repr(value)
        if not isinstance(value, int) or abs(value) < 10**30
        else f"<{value.bit_length()}-bit int>"
    )
    return text if len(text) <= 60 else text[:57] + "..."


def _refuse_constant(name: str) -> Any:
    """JSON's NaN/Infinity are not JSON (Python accepts them by default); no camera sends them."""
    raise CameraPayloadError(f"not JSON: {name} is not a number a camera sends")


def load_json(body: bytes) -> Any:
    """Decode a push as strict UTF-8 JSON; raise CameraPayloadError naming what is wrong."""
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_refuse_constant)
    except UnicodeDecodeError as exc:
        raise CameraPayloadError(f"not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except RecursionError:
        raise CameraPayloadError("not JSON a camera sends: nested too deep") from None
    except ValueError as exc:  # JSONDecodeError, and an integer of more than 4,300 digits
        raise CameraPayloadError(f"not valid JSON: {str(exc)[:120]}") from None


def _image(value: Any, name: str) -> bytes | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise CameraPayloadError(f"{name}: expected base64 text, got {type(value).__name__}")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise CameraPayloadError(f"{name}: not valid base64") from None


def parse_alarm_info_plate(doc: Any) -> VzenithPlate:
    """Read one ``{"AlarmInfoPlate": ...}`` push; raise CameraPayloadError naming what is wrong."""
    info = doc.get("AlarmInfoPlate") if isinstance(doc, dict) else None
    if not isinstance(info, dict):
        raise CameraPayloadError("AlarmInfoPlate: missing or not an object")
    result = info.get("result")
    plate = result.get("PlateResult") if isinstance(result, dict) else None
    if not isinstance(plate, dict):
        raise CameraPayloadError("AlarmInfoPlate.result.PlateResult: missing or not an object")
    text = plate.get("license")
    if not isinstance(text, str):
        raise CameraPayloadError(f"PlateResult.license: expected text, got {_short(text)}")
    if len(text) > _PLATE_MAX_CHARS:
        raise CameraPayloadError(f"PlateResult.license: {len(text)} characters, not a plate")
    confidence = _int(plate.get("confidence"), "PlateResult.confidence")
    if confidence is not None and not 0 <= confidence <= 100:
        raise CameraPayloadError(f"PlateResult.confidence: expected 0-100, got {confidence}")
    camera_at = None
    stamp = plate.get("timeStamp")
    timeval = stamp.get("Timeval") if isinstance(stamp, dict) else None
    if isinstance(timeval, dict):
        sec = _int(timeval.get("sec"), "PlateResult.timeStamp.Timeval.sec")
        if sec is not None:
            try:
                camera_at = datetime.fromtimestamp(sec, UTC)
            except (OverflowError, OSError, ValueError):
                raise CameraPayloadError(f"PlateResult.timeStamp.Timeval.sec: out of range ({sec})") from None
    serialno = info.get("serialno", "")
    if not isinstance(serialno, str | int) or isinstance(serialno, bool) or len(str(serialno)) > 64:
        raise CameraPayloadError(f"AlarmInfoPlate.serialno: expected a short text, got {_short(serialno)}")
    colour_code = _int(plate.get("colorType"), "PlateResult.colorType")
    return VzenithPlate(
        plate_text=text,
        colour=colour_from_vzenith(colour_code if colour_code is not None else 0),
        confidence=confidence,
        trigger=_int(plate.get("triggerType"), "PlateResult.triggerType"),
        camera_at=camera_at,
        plateid=_int(plate.get("plateid"), "PlateResult.plateid"),
        serialno=str(serialno),
        offline=_int(plate.get("isoffline", info.get("isoffline")), "isoffline") == 1,
        image=_image(plate.get("imageFile"), "PlateResult.imageFile"),
        crop=_image(plate.get("imageFragmentFile"), "PlateResult.imageFragmentFile"),
        channel=_int(info.get("channel"), "AlarmInfoPlate.channel"),
    )


def answer(commands: dict[str, Any] | None = None) -> dict[str, Any]:
    """The answer the camera expects; without commands it opens nothing."""
    return {"Response_AlarmInfoPlate": {"info": "no", **(commands or {})}}


# ------------------------------------------------------------------------------------ the relay gate
class _Ticket:
    """One gate command waiting for the camera's next answer."""

    def __init__(self, commands: dict[str, Any]) -> None:
        self.commands = commands
        self.taken: asyncio.Future[None] = asyncio.get_running_loop().create_future()


class CameraRelayGate(GateDriver):
    """The barrier on a Vzenith camera's IO output: ``open`` queues the command for the camera's next
    answer (a poll or a plate push) and returns once that answer was written to the camera. If the camera
    does not come within ``timeout_s`` the command is withdrawn (so a late poll cannot lift the arm behind
    the engine's back) and ``GateFault`` is raised."""

    def __init__(self, settings: CameraRelayGateSettings, lane_id: str) -> None:
        self._settings = settings
        self.lane_id = lane_id
        self.name = f"camera relay ({lane_id})"
        self._pending: _Ticket | None = None
        self._posted = asyncio.Event()
        self._closed = False

    def _fault(self, problem: str) -> GateFault:
        return GateFault(f"{self.name}: {problem}", problem)

    def _commands(self) -> dict[str, Any]:
        s = self._settings
        if s.command == "ivs_ioctrl":
            commands: dict[str, Any] = {"ivs_ioctrl": {"io": s.io, "value": 2, "delay": s.pulse_ms}}
        else:
            commands = {"info": "ok"}
        if s.open_voice:
            commands["serialData"] = [serial_data(speak_frame(s.open_voice), s.serial_channel)]
        return commands

    async def open(self) -> None:
        if self._closed:
            raise self._fault("driver is closed")
        if self._pending is not None:
            self._pending.taken.cancel()
        ticket = _Ticket(self._commands())
        self._pending = ticket
        self._posted.set()
        try:
            await asyncio.wait_for(asyncio.shield(ticket.taken), self._settings.timeout_s)
        except TimeoutError:
            raise self._fault(
                f"the camera did not poll within {self._settings.timeout_s:g} s; the open command was"
                " withdrawn (is the camera online and in comet polling mode?)"
            ) from None
        except asyncio.CancelledError:
            if not ticket.taken.cancelled():
                raise  # our caller was cancelled, not the command
            problem = "driver is closed" if self._closed else "superseded by a newer open command"
            raise self._fault(problem) from None
        finally:
            if self._pending is ticket:
                self._pending = None
                self._posted.clear()

    def take(self) -> _Ticket | None:
        """The command for the answer being written now, if any."""
        ticket, self._pending = self._pending, None
        if not self._closed:
            self._posted.clear()
        return ticket

    async def wait(self, hold_s: float) -> _Ticket | None:
        """Hold a comet poll until a command comes or ``hold_s`` passes."""
        if self._pending is None and hold_s > 0 and not self._closed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._posted.wait(), hold_s)
        return self.take()

    def delivered(self, ticket: _Ticket) -> None:
        if not ticket.taken.done():
            ticket.taken.set_result(None)

    def undelivered(self, ticket: _Ticket) -> None:
        """Writing the answer failed: the command waits for the next poll (if open() still waits)."""
        if not ticket.taken.done() and self._pending is None and not self._closed:
            self._pending = ticket
            self._posted.set()

    async def vehicle_passed(self) -> bool | None:
        if self._closed:
            raise self._fault("driver is closed")
        return None

    async def rest(self) -> bool:
        """Nothing to do: the camera times its own IO pulse (``info: ok`` or ``ivs_ioctrl`` value 2), so a
        crash cannot leave its output ON, and a command not yet taken died with the process that queued it."""
        if self._closed:
            raise self._fault("driver is closed")
        return False

    async def aclose(self) -> None:
        self._closed = True
        if self._pending is not None:
            self._pending.taken.cancel()
            self._pending = None
        self._posted.set()  # release held polls at once (they answer without a command)


# ------------------------------------------------------------------------------------------ the adapter
class VzenithAdapter:
    """Handles every POST from the Vzenith cameras (pushes, heartbeats/polls, IO events). The listener has
    read the body already (within its size and time limits)."""

    def __init__(
        self,
        settings: CameraListenerSettings,
        sink: CameraSink,
        gates: dict[str, GateDriver],
        freshness: ReadFreshness,
        backlog: ReadBacklog,
        throttle: LogThrottle,
    ) -> None:
        self._settings = settings
        self._sink = sink
        self._gates = gates
        self._freshness = freshness
        self._backlog = backlog
        self._throttle = throttle
        self._seen: OrderedDict[tuple[str, int], None] = OrderedDict()

    def _gate(self, lane_id: str) -> CameraRelayGate | None:
        gate = self._gates.get(lane_id)
        return gate if isinstance(gate, CameraRelayGate) else None

    async def handle(self, request: web.Request, body: bytes, camera: CameraLanes) -> web.StreamResponse:
        ip, label = camera.ip, camera.label
        if request.content_type == "application/json" or body.lstrip().startswith(b"{"):
            try:
                doc = load_json(body)
            except CameraPayloadError as exc:
                self._throttle.warning(
                    ("vzenith not json", ip),
                    f"vzenith {ip} ({label}): refused a push that is not UTF-8 JSON: {exc}",
                )
                return await self._send(request, None, answer(), None, label)
            if isinstance(doc, dict) and "AlarmInfoPlate" in doc:
                return await self._plate(request, camera, doc)
            if isinstance(doc, dict) and "AlarmGioIn" in doc:
                log.info("vzenith %s (%s): IO input event %s", ip, label, json.dumps(doc)[:200])
                return await self._send(request, None, answer(), None, label)
        # a heartbeat (multipart form) or anything else: a comet poll that may carry a gate command
        lane_id = camera.only_lane
        gate = self._gate(lane_id) if lane_id is not None else None
        ticket = await gate.wait(self._settings.comet_hold_s) if gate is not None else None
        return await self._send(request, lane_id, answer(ticket.commands if ticket else None), ticket, label)

    async def _send(
        self,
        request: web.Request,
        lane_id: str | None,
        doc: dict[str, Any],
        ticket: _Ticket | None,
        label: str | None = None,
    ) -> web.StreamResponse:
        """Write the answer now, so a gate command counts as delivered only once it left. A camera that hung
        up meanwhile gets nothing (the command waits for its next poll) and nothing is raised: aiohttp logs a
        handler's exception with a traceback. ``lane_id``: the lane whose gate the answer may carry (None:
        no lane's); ``label`` names the lane(s) in the log."""
        response = web.Response(
            body=json.dumps(doc, ensure_ascii=False).encode("utf-8"), content_type="application/json"
        )
        gate = self._gate(lane_id) if lane_id is not None else None
        try:
            await response.prepare(request)
            await response.write_eof()
        except ConnectionError:
            if ticket is not None and gate is not None:
                gate.undelivered(ticket)
            log.info("vzenith (%s): the camera hung up before its answer was written", label or lane_id)
            return response
        except asyncio.CancelledError:
            if ticket is not None and gate is not None:
                gate.undelivered(ticket)
            raise
        if ticket is not None and gate is not None:
            log.info("vzenith (%s): gate command delivered: %s", lane_id, sorted(ticket.commands))
            gate.delivered(ticket)
        return response

    def _is_repeat(self, key: tuple[str, int] | None) -> bool:
        return key is not None and key in self._seen

    def _remember(self, key: tuple[str, int] | None) -> None:
        if key is None:
            return
        self._seen[key] = None
        while len(self._seen) > _DEDUPE_MEMORY:
            self._seen.popitem(last=False)

    async def _plate(
        self, request: web.Request, camera: CameraLanes, doc: dict[str, Any]
    ) -> web.StreamResponse:
        ip = camera.ip
        try:
            plate = parse_alarm_info_plate(doc)
        except CameraPayloadError as exc:
            self._throttle.warning(
                ("vzenith malformed", ip),
                f"vzenith {ip} ({camera.label}): refused a malformed plate push: {exc}",
            )
            return await self._send(request, None, answer(), None, camera.label)
        commands: dict[str, Any] = {}
        if plate.offline and plate.plateid is not None:
            commands["ContinuePushOffline"] = {"plateid": plate.plateid, "continue": 1}
        channel = f" channel {plate.channel}" if camera.by_channel_only else ""
        source = f"vzenith {ip}{channel} serialno {plate.serialno or '?'} plateid {plate.plateid}"
        lane_id = camera.lane_for(plate.channel)
        if lane_id is None:
            self._throttle.warning(
                ("vzenith channel", ip),
                f"{source} ({camera.label}): read {plate.plate_text} is no lane's, not acted on: "
                f"{camera.unmatched(plate.channel)}",
            )
            return await self._send(request, None, answer(commands), None, camera.label)
        key = (plate.serialno, plate.plateid) if plate.plateid is not None else None
        if self._is_repeat(key):
            log.info("%s (%s): repeat of a read already handled; ignored", source, lane_id)
            return await self._send(request, lane_id, answer(commands), None)
        stale = self._freshness.stale_reason(plate.camera_at, backlog=plate.offline)
        if stale is not None:
            self._remember(key)
            await self._record_stale(lane_id, ip, source, plate, stale)
            return await self._send(request, lane_id, answer(commands), None)
        if not self._backlog.admit(lane_id):
            self._throttle.warning(
                ("backlog", lane_id),
                f"{source} ({lane_id}): refused {plate.plate_text} with 429: {self._backlog.limit} reads"
                " already wait for the lane (the camera sends it again)",
            )
            raise web.HTTPTooManyRequests(
                text=f"{self._backlog.limit} reads already wait for lane {lane_id}; send it again later",
                headers={"Retry-After": "1"},
            )
        self._remember(key)
        try:
            await self._act(lane_id, source, plate)
        finally:
            self._backlog.done(lane_id)
        gate = self._gate(lane_id)
        ticket = gate.take() if gate is not None else None
        if ticket is not None:
            commands.update(ticket.commands)
        return await self._send(request, lane_id, answer(commands), ticket)

    async def _act(self, lane_id: str, source: str, plate: VzenithPlate) -> None:
        if plate.trigger == TRIGGER_TURNED_BACK:
            await self._sink.camera_left(lane_id, source)
        elif plate.trigger in _TRIGGER_LINGER:
            log.info(
                "%s (%s): %s lingering/recovered (trigger %s); logged only",
                source,
                lane_id,
                plate.plate_text,
                plate.trigger,
            )
        else:
            read = PlateRead(
                lane_id,
                plate.plate_text,
                plate.colour,
                plate.confidence,
                plate.camera_at,
                plate.image,
                plate.crop,
                source,
            )
            await self._sink.camera_read(read)
            # the lane may have decided to open at once (an entry): let the gate task queue its command
            # so that it rides on this very answer
            for _ in range(3):
                await asyncio.sleep(0)

    async def _record_stale(
        self, lane_id: str, ip: str, source: str, plate: VzenithPlate, reason: str
    ) -> None:
        """Audit a read that is not acted on. A backlog read is routine (logged at info); a stale live read
        means the camera's clock is wrong, which stops the lane's reads: a warning, once per interval."""
        if plate.offline:
            log.info("%s (%s): offline backlog read %s recorded, not acted on: %s", source, lane_id,
                     plate.plate_text, reason)  # fmt: skip
        else:
            self._throttle.warning(
                ("vzenith stale", ip),
                f"{source} ({lane_id}): read {plate.plate_text} recorded, not acted on: {reason}",
            )
            if plate.camera_at is not None and self._freshness.alert_due(ip):
                offset = self._freshness.offset_s(plate.camera_at)
                await self._sink.camera_alert(
                    lane_id, "camera_clock", say("alert.camera_clock", lane_id=lane_id, offset_s=offset)
                )
        await self._sink.camera_record(
            lane_id,
            "camera_offline_read" if plate.offline else "camera_stale_read",
            {
                "plate": plate.plate_text,
                "camera_at": plate.camera_at.isoformat() if plate.camera_at else None,
                "source": source,
                "trigger": plate.trigger,
                "reason": reason,
            },
        )
