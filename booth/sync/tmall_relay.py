"""Tmall's part of the sync: the TOP client (and the TOP router emulator in sandbox mode) and the sender of
``backflow_*`` rows with ``tmall.popupstore.park.backflow``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

import httpx

from booth.clouds.top import TopClient, TopOutcome, build_backflow
from booth.config import BACKFLOW_ACTIONS, TmallSettings
from booth.store import OutboxRecord
from booth.sync.outbox import SendResult, SendVerdict
from booth.sync.rows import moment_of

if TYPE_CHECKING:
    from booth.sandbox.top_router import TopRouterEmulator

log = logging.getLogger("booth.sync")


async def open_tmall(
    settings: TmallSettings, http: httpx.AsyncClient, clock: Callable[[], datetime]
) -> tuple[TopClient, TopRouterEmulator | None]:
    """The TOP client over ``http``; in sandbox mode, to a TOP router emulator started here (returned too)."""
    url = None
    emulator = None
    if settings.is_sandbox:
        from booth.sandbox.top_router import TopRouterEmulator

        session = settings.session.get_secret_value() or None
        emulator = TopRouterEmulator(
            settings.app_key,
            settings.app_secret.get_secret_value(),
            session=session,
            port=settings.sandbox_port,
        )
        await emulator.start()
        url = emulator.gateway_url
        log.info("TOP router emulator at %s", url)
    return TopClient(settings, gateway_url=url, http=http, clock=clock), emulator


class TmallBackflowSender:
    """Sends ``backflow_*`` rows with ``tmall.popupstore.park.backflow`` for the configured mall."""

    def __init__(self, settings: TmallSettings, client: TopClient) -> None:
        self._settings = settings
        self._client = client

    def params(self, row: OutboxRecord) -> dict[str, str]:
        """The backflow's parameters from a row; ValueError when they cannot be built."""
        p = row.payload
        action = p.get("action")
        if action not in BACKFLOW_ACTIONS or row.kind != f"backflow_{action}":
            raise ValueError(f"unknown Tmall outbox kind {row.kind!r} (action {action!r})")
        at = moment_of(p, "time")
        return build_backflow(
            action,
            p.get("car_no", ""),
            self._settings.mall_id,
            start_time=at if action == "arrive" else None,
            end_time=at if action == "leave" else None,
            pay_time=at if action == "pay" else None,
            park_duration_minutes=p.get("park_duration") if action == "pay" else None,
        )

    async def send(self, row: OutboxRecord) -> SendResult:
        try:
            params = self.params(row)
        except (ValueError, TypeError) as exc:
            return SendResult(SendVerdict.FATAL, f"backflow not built: {exc}")
        result = await self._client.backflow(params)
        if result.outcome is TopOutcome.SUCCESS:
            return SendResult(SendVerdict.SENT)
        if result.outcome is TopOutcome.FATAL:
            return SendResult(SendVerdict.FATAL, result.describe())
        return SendResult(SendVerdict.RETRY, result.describe(), retry_after_s=result.retry_after_s)
