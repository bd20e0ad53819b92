"""A bare Bolink on 127.0.0.1 that serves whatever bytes a test queues as ``download.do`` answers.

The sandbox (booth.sandbox.bolink_cloud) only sends well-formed messages; hostile input needs a server that
sends exactly the bytes a test chose, and that re-delivers a message until the booth's answer acknowledges
it, as Bolink does. The acknowledgement is an ``upload.do`` answer (``data_target: "bolink"``) of the same
service_name whose ``order_id`` and ``trade_no`` equal the message's, compared as text.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from booth.clouds.bolink_protocol import DATA_TARGET, NO_MESSAGE, BadMessage, verify_envelope


@dataclass
class Delivery:
    """One queued message; ``ack_key`` set means it is re-delivered until acknowledged."""

    body: bytes
    ack_key: tuple[str, str, str] | None = None
    served: int = 0


@dataclass
class FakeBolink:
    ukey: str
    redeliver: bool = True
    hold_s: float = 0.05
    deliveries: list[bytes] = field(default_factory=list)
    answers: list[dict[str, Any]] = field(default_factory=list)
    bad_uploads: list[str] = field(default_factory=list)
    logins: int = 0
    _queue: list[Delivery] = field(default_factory=list)
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _runner: web.AppRunner | None = None
    _token: str = ""
    base_url: str = ""

    async def start(self) -> None:
        app = web.Application(client_max_size=4 << 20)
        app.router.add_post("/bpd/upload.do", self._upload)
        app.router.add_post("/bpd/download.do", self._download)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        self._wake.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def push(self, body: bytes, *, ack_key: tuple[str, str, str] | None = None) -> None:
        """Queue ``body``; with ``ack_key`` (service_name, order_id, trade_no) it comes again until acked."""
        self._queue.append(Delivery(body, ack_key if self.redeliver else None))
        self._wake.set()

    @property
    def pending(self) -> int:
        """Messages still queued: not yet served, or served but not acknowledged."""
        return len(self._queue)

    async def _upload(self, request: web.Request) -> web.Response:
        try:
            service_name, token, data = verify_envelope(await request.read(), self.ukey)
        except BadMessage as exc:
            self.bad_uploads.append(str(exc))
            return web.json_response({"state": 0, "errmsg": f"bad upload: {exc.reason}"})
        if service_name == "login":
            self.logins += 1
            self._token = uuid.uuid4().hex
            return web.json_response({"state": 1, "token": self._token, "service_name": "login"})
        if token != self._token:
            return web.json_response({"state": 0, "errmsg": "token_error"})
        if data.get("data_target") == DATA_TARGET:
            self.answers.append(data)
            key = (service_name, str(data.get("order_id", "")), str(data.get("trade_no", "")))
            self._queue = [d for d in self._queue if d.ack_key != key or d.served == 0]
        return web.json_response({"state": 1, "errmsg": "", "service_name": service_name})

    async def _download(self, request: web.Request) -> web.Response:
        obj = json.loads(await request.read())
        if obj.get("token") != self._token:
            return web.json_response({"state": 0, "errmsg": "token_error"})
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.hold_s):
                while not self._queue:
                    self._wake.clear()
                    await self._wake.wait()
        if not self._queue:
            return web.Response(text=NO_MESSAGE)
        item = self._queue.pop(0)
        item.served += 1
        if item.ack_key is not None:
            self._queue.append(item)  # comes again (after the others) unless an answer acknowledges it
        self.deliveries.append(item.body)
        return web.Response(body=item.body, content_type="application/json", charset="utf-8")
