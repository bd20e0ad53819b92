"""The HTTP listener the plate cameras push to (aiohttp), and their heartbeats.

Every lane's camera is known by address (``lanes[].camera.ip``). What arrives from a known camera goes to
its vendor's adapter (``vzenith``, ``hikvision``) and counts as a sign of life: a camera silent for
``offline_after_s`` is reported offline on its lane (``camera_offline`` alert), and ``camera_online`` when
it is heard again. Lanes that share a camera (one address) each name a ``channel``: a read is given to the
lane whose channel its push names (``CameraLanes``); a heartbeat is a sign of life for all of them.

The listener faces the whole LAN, so it defends itself before aiohttp sees a byte (aiohttp has no header
timeout; its idle timeout lets a half-sent request hold a connection for ``keepalive_timeout``):

- A connection from an address that is no lane's camera is closed as it is accepted, before any header is
  read; so are connections beyond ``max_connections`` overall or ``max_connections_per_source`` from one
  address. A watchdog closes a connection whose request headers are not complete ``header_timeout_s``
  after it opened (or after its last answer, for a kept-alive one).
- A body must arrive within ``body_timeout_s`` (408) and fit ``max_body_bytes`` (413); multipart pushes
  must say their length up front (411). Reads waiting for a lane are capped (``ReadBacklog``, 429).
- Every refusal is logged once per ``log_interval_s`` per cause (and address), with a count of the rest;
  asyncio's own "socket.accept() out of system resource" error is rate-limited the same way.
- Nothing a camera sends makes a handler raise: aiohttp would answer 500 and log a traceback. A bug that
  still does is logged (once per interval) and answered 500.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import ClientPayloadError, web
from aiohttp.http_exceptions import HttpProcessingError

from booth.config import CameraListenerSettings, LaneSettings
from booth.devices.camera_reads import CameraLanes, CameraSink, LogThrottle, ReadBacklog, ReadFreshness
from booth.devices.gates import GateDriver
from booth.devices.hikvision import HikvisionAdapter
from booth.devices.vzenith import VzenithAdapter
from booth.domain.phrases import say

log = logging.getLogger(__name__)

#: ParkSettings' default zone, for a listener built without one (tests, tools)
_DEFAULT_ZONE = ZoneInfo("Asia/Shanghai")
_ACCEPT_OUT_OF_RESOURCES = "socket.accept() out of system resource"


def _address(raw: object) -> str:
    """An address as the listener compares them: IPv4 seen through a dual-stack socket as IPv4."""
    text = str(raw)
    try:
        address = ipaddress.ip_address(text.split("%", 1)[0])
    except ValueError:
        return text
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def _camera_lanes(lanes: Sequence[LaneSettings]) -> dict[str, CameraLanes]:
    """Each camera address with the lanes it serves (config check has refused ambiguous sharing)."""
    vendors: dict[str, str] = {}
    channels: dict[str, dict[int | None, str]] = {}
    for lane in lanes:
        if lane.camera is None:
            continue
        for raw in lane.camera.ip:
            ip = _address(raw)
            vendors.setdefault(ip, lane.camera.vendor)
            channels.setdefault(ip, {})[lane.camera.channel] = lane.id
    return {ip: CameraLanes(ip, vendors[ip], by_channel) for ip, by_channel in channels.items()}


class _Connection(asyncio.Protocol):
    """One accepted connection: admitted (or closed) by address and count before aiohttp's handler
    exists, then passed through to it, under a watchdog that closes it when a request's headers do not
    arrive in time."""

    __slots__ = ("_deadline", "_inner", "_listener", "_partial", "counted", "ip", "served", "transport")

    def __init__(self, listener: CameraListener) -> None:
        self._listener = listener
        self._inner: asyncio.Protocol | None = None
        self._deadline: asyncio.TimerHandle | None = None
        self._partial = False  # bytes arrived since the last request reached the handler
        self.transport: asyncio.Transport | None = None
        self.ip = "?"
        self.counted = False
        self.served = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.ip = _address(peer[0]) if isinstance(peer, tuple) and peer else "?"
        inner = self._listener._admit(self)
        if inner is None:
            transport.abort()
            return
        self._inner = inner
        self.counted = True
        self.watch()
        inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._inner is not None:
            self._partial = True
            self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._inner is not None else None

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self._listener._closed(self)
        inner, self._inner = self._inner, None
        if inner is not None:
            inner.connection_lost(exc)

    # the watchdog
    def watch(self) -> None:
        """Headers of the next request are due within header_timeout_s (from now)."""
        self._disarm()
        self._partial = False
        if self.transport is None or self.transport.is_closing():
            return
        loop = asyncio.get_running_loop()
        self._deadline = loop.call_later(self._listener._settings.header_timeout_s, self._expired)

    def request_started(self) -> None:
        """A request's headers are in: the handler's own body timeout takes over."""
        self.served += 1
        self._disarm()

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self.transport is None or self.transport.is_closing():
            return
        self._listener._timed_out(self, partial=self._partial)
        self.transport.abort()


class _GuardedSite(web.BaseSite):
    """A TCP site whose connections go through ``_Connection`` first (aiohttp's TCPSite hands every
    accepted socket straight to aiohttp's handler, which reads headers before anyone can refuse)."""

    __slots__ = ("_host", "_listener", "_port")

    def __init__(self, runner: web.BaseRunner, listener: CameraListener, host: str, port: int) -> None:
        super().__init__(runner)
        self._listener = listener
        self._host, self._port = host, port

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Connection(self._listener), self._host, self._port, backlog=self._backlog
        )


class _AcceptErrorFilter(logging.Filter):
    """asyncio logs "socket.accept() out of system resource" with a traceback on every failed accept while
    the process is out of file descriptors: one line per interval, with a count, and no traceback."""

    def __init__(self, interval_s: float) -> None:
        super().__init__()
        self._interval_s = interval_s
        self._logged_at = -float("inf")
        self._repeats = 0

    def filter(self, record: logging.LogRecord) -> bool:
        if _ACCEPT_OUT_OF_RESOURCES not in str(record.msg):
            return True
        now = time.monotonic()
        if now - self._logged_at < self._interval_s:
            self._repeats += 1
            return False
        error = record.exc_info[1] if record.exc_info else None
        record.msg = f"{_ACCEPT_OUT_OF_RESOURCES}: {error}" if error else _ACCEPT_OUT_OF_RESOURCES
        if self._repeats:
            record.msg += f" (and {self._repeats} more in the last {now - self._logged_at:.0f} s)"
        record.args, record.exc_info, record.exc_text = None, None, None
        self._logged_at, self._repeats = now, 0
        return True


class _ServerLog(logging.LoggerAdapter[logging.Logger]):
    """What aiohttp's connection handler logs, through the throttle. aiohttp logs a request it cannot
    parse (a header line too long, a bad chunk size, a TLS hello) as "Error handling request" with a
    traceback: that is bad input, not a fault; one warning per cause and address per interval, without
    the traceback. Anything else it logs at ERROR is a fault: still throttled, with its traceback."""

    def __init__(self, throttle: LogThrottle) -> None:
        super().__init__(logging.getLogger("aiohttp.server"), {})
        self._throttle = throttle

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None:
        if level < logging.WARNING:
            super().log(level, msg, *args, **kwargs)
            return
        exc_info = kwargs.get("exc_info")
        error = exc_info if isinstance(exc_info, BaseException) else sys.exc_info()[1] if exc_info else None
        text = str(msg) % args if args else str(msg)
        if isinstance(error, HttpProcessingError):
            remote = str(args[0]) if args else "?"
            problem = " ".join(str(error.message).split())[:160]
            self._throttle.warning(
                ("bad http", remote),
                f"camera listener: refused a malformed HTTP request from {remote} ({error.code}): {problem}",
            )
            return
        detail = f": {error!r}" if error is not None else ""
        self._throttle.log(
            max(level, logging.ERROR),
            ("aiohttp", text[:40]),
            f"camera listener: {text}{detail}",
            exc_info=error,
        )


class CameraListener:
    """One aiohttp server for every lane camera. Runs on the engine loop."""

    def __init__(
        self,
        settings: CameraListenerSettings,
        lanes: Sequence[LaneSettings],
        sink: CameraSink,
        gates: dict[str, GateDriver],
        clock: Callable[[], datetime],
        *,
        zone: tzinfo = _DEFAULT_ZONE,
    ) -> None:
        self._settings = settings
        self._sink = sink
        self._lanes = {lane.id: lane for lane in lanes if lane.camera is not None}
        self._by_ip = _camera_lanes(lanes)
        self._throttle = LogThrottle(log, settings.log_interval_s)
        self.backlog = ReadBacklog(settings.max_pending_reads)
        freshness = ReadFreshness(clock, settings.offline_read_max_age_s, settings.max_clock_skew_s)
        self._vzenith = VzenithAdapter(settings, sink, gates, freshness, self.backlog, self._throttle)
        self._hikvision = HikvisionAdapter(sink, freshness, self.backlog, self._throttle, zone)
        self._runner: web.AppRunner | None = None
        self._accept_filter = _AcceptErrorFilter(settings.log_interval_s)
        self._connections: dict[asyncio.BaseTransport, _Connection] = {}
        self._per_source: dict[str, int] = {}
        self._last_seen: dict[str, float] = {}
        self.online: dict[str, bool | None] = {
            lane_id: None for lane_id in self._lanes
        }  # None: not yet known
        self.port = 0
        self.refused = 0  # requests and connections refused, whatever the cause
        self.timed_out = 0  # connections closed by the header watchdog

    @property
    def url(self) -> str:
        return f"http://{self._settings.host}:{self.port}"

    @property
    def open_connections(self) -> int:
        return len(self._connections)

    async def start(self) -> None:
        s = self._settings
        app = web.Application(client_max_size=s.max_body_bytes)
        app.router.add_route("POST", "/{tail:.*}", self._handle)
        # lingering_time=0: a body left unread (a refusal) closes the connection rather than being drained
        self._runner = web.AppRunner(
            app,
            access_log=None,
            handle_signals=False,
            shutdown_timeout=1.0,
            keepalive_timeout=s.header_timeout_s,
            lingering_time=0,
            logger=_ServerLog(self._throttle),
        )
        await self._runner.setup()
        site = _GuardedSite(self._runner, self, s.host, s.port)
        await site.start()
        logging.getLogger("asyncio").addFilter(self._accept_filter)
        address = self._runner.addresses[0]
        self.port = int(address[1])
        now = time.monotonic()
        self._last_seen = {lane_id: now for lane_id in self._lanes}
        log.info(
            "camera listener on %s:%d for lane(s) %s",
            s.host,
            self.port,
            ", ".join(self._lanes) or "(none)",
        )

    async def stop(self) -> None:
        logging.getLogger("asyncio").removeFilter(self._accept_filter)
        await self._hikvision.aclose()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        for connection in list(self._connections.values()):  # any aiohttp did not close
            if connection.transport is not None:
                connection.transport.abort()
        self._throttle.flush()

    # ------------------------------------------------------------------------------ connections
    def _admit(self, connection: _Connection) -> asyncio.Protocol | None:
        """aiohttp's handler for an accepted connection, or None when it must be closed at once."""
        ip, s = connection.ip, self._settings
        refusal: tuple[tuple[str, ...], str] | None = None
        if ip not in self._by_ip:
            refusal = ("stranger",), "not a configured camera address"
        elif len(self._connections) >= s.max_connections:
            refusal = ("connections",), f"{len(self._connections)} connections open (max_connections)"
        elif self._per_source.get(ip, 0) >= s.max_connections_per_source:
            refusal = (
                ("connections", ip),
                (f"{self._per_source[ip]} already open from it (max_connections_per_source)"),
            )
        server = self._runner.server if self._runner is not None else None
        if refusal is not None:
            self.refused += 1
            cause, why = refusal
            self._throttle.warning(cause, f"camera listener: refused a connection from {ip}: {why}")
            return None
        if server is None:
            return None  # stopping
        assert connection.transport is not None
        self._connections[connection.transport] = connection
        self._per_source[ip] = self._per_source.get(ip, 0) + 1
        return server()

    def _closed(self, connection: _Connection) -> None:
        if not connection.counted or connection.transport is None:
            return
        connection.counted = False
        self._connections.pop(connection.transport, None)
        left = self._per_source.get(connection.ip, 0) - 1
        if left > 0:
            self._per_source[connection.ip] = left
        else:
            self._per_source.pop(connection.ip, None)

    def _timed_out(self, connection: _Connection, *, partial: bool) -> None:
        if not partial and connection.served:
            log.debug("camera listener: closed an idle kept-alive connection from %s", connection.ip)
            return
        self.timed_out += 1
        what = "sent part of a request" if partial else "sent nothing"
        self._throttle.warning(
            ("header timeout", connection.ip),
            f"camera listener: closed a connection from {connection.ip} that {what} and no complete"
            f" headers within {self._settings.header_timeout_s:g} s (header_timeout_s)",
        )

    # -------------------------------------------------------------------------------- requests
    def _refuse(
        self, status: type[web.HTTPException], cause: str, ip: str, message: str
    ) -> web.HTTPException:
        self.refused += 1
        self._throttle.warning((cause, ip), f"camera listener: {message}")
        return status(text=message)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        connection = self._connections.get(request.transport) if request.transport is not None else None
        if connection is not None:
            connection.request_started()
        try:
            return await self._serve(request)
        except web.HTTPException:
            raise
        except Exception as exc:  # a bug, not bad input: say so once per interval, keep serving
            self._throttle.log(
                logging.ERROR,
                ("bug", type(exc).__name__),
                f"camera listener: a push from {request.remote} could not be handled: {exc!r}",
                exc_info=True,
            )
            raise web.HTTPInternalServerError(text="the booth could not handle this push") from None
        finally:
            if connection is not None and connection.transport is not None:
                connection.watch()

    async def _serve(self, request: web.Request) -> web.StreamResponse:
        ip = _address(request.remote or "?")
        camera = self._by_ip.get(ip)
        if camera is None:  # refused at accept already; kept for a site without it
            raise self._refuse(
                web.HTTPForbidden,
                "stranger",
                "*",
                f"refused a push from {ip}: not a configured camera address",
            )
        limit = self._settings.max_body_bytes
        length = request.content_length
        if length is not None and length > limit:
            raise self._too_large(ip, camera.label, f"{length} bytes")
        if length is None and request.content_type.startswith("multipart/"):
            raise self._refuse(
                web.HTTPLengthRequired,
                "chunked",
                ip,
                f"refused a chunked multipart push from {ip} ({camera.label})",
            )
        body = await self._read_body(request, ip, camera.label)
        for lane_id in camera.lane_ids:  # one camera alive is alive for every lane it serves
            await self._seen(lane_id)
        if camera.vendor == "vzenith":
            return await self._vzenith.handle(request, body, camera)
        return await self._hikvision.handle(request, body, camera)

    async def _read_body(self, request: web.Request, ip: str, lane_id: str) -> bytes:
        timeout = self._settings.body_timeout_s
        try:
            async with asyncio.timeout(timeout):
                return await request.read()
        except TimeoutError:
            raise self._refuse(
                web.HTTPRequestTimeout,
                "body timeout",
                ip,
                f"refused a push from {ip} ({lane_id}): its body did not arrive within {timeout:g} s"
                " (body_timeout_s)",
            ) from None
        except web.HTTPRequestEntityTooLarge:
            raise self._too_large(ip, lane_id, f"more than {self._settings.max_body_bytes} bytes") from None
        except (ConnectionError, HttpProcessingError, ClientPayloadError) as exc:
            raise self._refuse(
                web.HTTPBadRequest,
                "body broken",
                ip,
                f"refused a push from {ip} ({lane_id}): its body was cut off or garbled ({exc!r:.120})",
            ) from None

    def _too_large(self, ip: str, lane_id: str, size: str) -> web.HTTPException:
        self.refused += 1
        message = f"refused a push from {ip} ({lane_id}): {size}, above max_body_bytes"
        self._throttle.warning(("too large", ip), f"camera listener: {message}")
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
        """Report cameras that fell silent, and the counts of repeated refusals (runs until cancelled)."""
        every = min(self._settings.offline_after_s / 4, 1.0)
        while True:
            await asyncio.sleep(every)
            self._throttle.flush()
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
