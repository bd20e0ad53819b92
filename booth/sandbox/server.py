"""What every emulator shares: an aiohttp application served on loopback, started and stopped at will.

A stopped emulator keeps what it recorded and serves again on the same port when restarted, as a real cloud
that was unreachable for a while would (tests take a cloud away and bring it back).
"""

from __future__ import annotations

import asyncio
from typing import Self

from aiohttp import web


class LoopbackServer:
    """Subclasses build their application in ``make_app`` and may act in ``after_start``/``before_stop``."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self._port = port  # 0 = any free port the first time; the same one again after a restart
        self._runner: web.AppRunner | None = None
        self._stopped = asyncio.Event()  # set while stopped: held or hung answers are released

    @property
    def running(self) -> bool:
        return self._runner is not None

    @property
    def port(self) -> int:
        return self._port

    def make_app(self) -> web.Application:
        raise NotImplementedError

    async def after_start(self) -> None:
        """Called once serving (the port is known)."""

    async def before_stop(self) -> None:
        """Called before the server closes (release what waits on it)."""

    async def start(self) -> None:
        if self._runner is not None:
            return
        self._stopped.clear()
        runner = web.AppRunner(
            self.make_app(), handle_signals=False, access_log=None, handler_cancellation=True,
            shutdown_timeout=1.0,
        )  # fmt: skip
        await runner.setup()
        site = web.TCPSite(runner, self.host, self._port, reuse_address=True)
        try:
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = int(runner.addresses[0][1])
        await self.after_start()

    async def stop(self) -> None:
        """Stop serving; what was recorded is kept."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._stopped.set()
        await self.before_stop()
        await runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()
