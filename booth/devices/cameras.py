"""The HTTP listener the plate cameras push to (aiohttp), and their heartbeats.

Every lane's camera is known by address (``lanes[].camera.ip``): a request from any other address is
refused with 403 and a log line naming the address; a body above ``max_body_bytes`` gets 413 (multipart
pushes must say their length up front, 411 otherwise, since multipart parts are streamed). What arrives
from a known camera goes to its vendor's adapter (``vzenith``, ``hikvision``) and counts as a sign of life:
a camera silent for ``offline_after_s`` is reported offline on its lane (``camera_offline`` alert), and
``camera_online`` when it is heard again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime

from aiohttp import web

from booth.config import CameraListenerSettings, LaneSettings
from booth.devices.camera_reads import CameraSink
from booth.devices.gates import GateDriver
from booth.devices.hikvision import HikvisionAdapter
from booth.devices.vzenith import VzenithAdapter
from booth.domain.phrases import say

log = logging.getLogger(__name__)


class CameraListener:
    """One aiohttp server for every lane camera. Runs on the engine loop."""

    def __init__(
        self,
        settings: CameraListenerSettings,
        lanes: Sequence[LaneSettings],
        sink: CameraSink,
        gates: dict[str, GateDriver],
        clock: Callable[[], datetime],
    ) -> None:
        self._settings = settings
        self._sink = sink
        self._lanes = {lane.id: lane for lane in lanes if lane.camera is not None}
        self._by_ip = {
            ip: lane for lane in self._lanes.values() for ip in (lane.camera.ip if lane.camera else ())
        }
        self._vzenith = VzenithAdapter(settings, sink, gates, clock)
        self._hikvision = HikvisionAdapter(sink)
        self._runner: web.AppRunner | None = None
        self._last_seen: dict[str, float] = {}
        self.online: dict[str, bool | None] = {
            lane_id: None for lane_id in self._lanes
        }  # None: not yet known
        self.port = 0
        self.refused = 0

    @property
    def url(self) -> str:
        return f"http://{self._settings.host}:{self.port}"

    async def start(self) -> None:
        app = web.Application(client_max_size=self._settings.max_body_bytes)
        app.router.add_route("POST", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._settings.host, self._settings.port)
        await site.start()
        address = self._runner.addresses[0]
        self.port = int(address[1])
        now = time.monotonic()
        self._last_seen = {lane_id: now for lane_id in self._lanes}
        log.info(
            "camera listener on %s:%d for lane(s) %s",
            self._settings.host,
            self.port,
            ", ".join(self._lanes) or "(none)",
        )

    async def stop(self) -> None:
        await self._hikvision.aclose()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _refuse(self, status: type[web.HTTPException], message: str) -> web.HTTPException:
        self.refused += 1
        log.warning("camera listener: %s", message)
        return status(text=message)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        ip = (request.remote or "?").removeprefix("::ffff:")  # IPv4 seen through a dual-stack socket
        lane = self._by_ip.get(ip)
        if lane is None or lane.camera is None:
            raise self._refuse(
                web.HTTPForbidden, f"refused a push from {ip}: not a configured camera address"
            )
        limit = self._settings.max_body_bytes
        length = request.content_length
        if length is not None and length > limit:
            raise self._too_large(ip, lane.id, f"{length} bytes")
        if length is None and request.content_type.startswith("multipart/"):
            raise self._refuse(
                web.HTTPLengthRequired, f"refused a chunked multipart push from {ip} ({lane.id})"
            )
        await self._seen(lane.id)
        try:
            if lane.camera.vendor == "vzenith":
                return await self._vzenith.handle(request, lane.id, ip)
            return await self._hikvision.handle(request, lane.id, ip)
        except web.HTTPRequestEntityTooLarge:
            raise self._too_large(ip, lane.id, f"more than {limit} bytes") from None

    def _too_large(self, ip: str, lane_id: str, size: str) -> web.HTTPException:
        self.refused += 1
        message = f"refused a push from {ip} ({lane_id}): {size}, above max_body_bytes"
        log.warning("camera listener: %s", message)
        return web.HTTPRequestEntityTooLarge(
            max_size=self._settings.max_body_bytes, actual_size=0, text=message
        )

    async def _seen(self, lane_id: str) -> None:
        self._last_seen[lane_id] = time.monotonic()
        was = self.online.get(lane_id)
        self.online[lane_id] = True
        if was is False:
            await self._sink.camera_alert(lane_id, "camera_online", say("alert.camera_online"))

    async def watch(self) -> None:
        """Report cameras that fell silent (runs until cancelled)."""
        every = min(self._settings.offline_after_s / 4, 1.0)
        while True:
            await asyncio.sleep(every)
            now = time.monotonic()
            for lane_id, seen in self._last_seen.items():
                silent = now - seen
                if silent > self._settings.offline_after_s and self.online.get(lane_id) is not False:
                    self.online[lane_id] = False
                    try:
                        await self._sink.camera_alert(
                            lane_id, "camera_offline", say("alert.camera_offline", seconds=round(silent))
                        )
                    except Exception:
                        log.exception("%s: could not report the camera offline", lane_id)
