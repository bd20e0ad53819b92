"""What the booth uploads to Bolink in the background, from the outbox: entries (inpark), exits paid in cash
or let out free (outpark), and the plate photos (upload_carpic). The lanes never wait for these."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

from booth.clouds.bolink import BolinkClient, BolinkRefused, BolinkUnavailable, background_traffic
from booth.engine.payments import Payments
from booth.engine.runtime import Runtime
from booth.store import OutboxRecord
from booth.store.worker import Priority
from booth.sync.outbox import SendResult, SendVerdict


class BolinkUploads:
    """The Bolink relay's sender."""

    def __init__(self, rt: Runtime, bolink: BolinkClient, payments: Payments) -> None:
        self._rt = rt
        self._bolink = bolink
        self._payments = payments

    async def send(self, row: OutboxRecord) -> SendResult:
        """Send one outbox row (the relay's sender): SENT, RETRY (transport) or FATAL (Bolink said no)."""
        payload = dict(row.payload)
        with background_traffic():
            return await self._send(self._bolink, row, payload)

    async def _send(self, bolink: BolinkClient, row: OutboxRecord, payload: dict[str, Any]) -> SendResult:
        try:
            if row.kind == "inpark":
                await bolink.inpark(
                    car_number=payload["car_number"],
                    in_time=payload["in_time"],
                    order_id=payload["order_id"],
                    in_channel_id=payload["in_channel_id"],
                    empty_plot=await self._payments.empty_plot(),
                    license_color=payload.get("license_color"),
                )
            elif row.kind == "outpark":
                store = self._rt.store
                stay = await self._rt.db(
                    lambda: store.stay_by_order_id(payload["order_id"]), Priority.BACKGROUND
                )
                if stay is None:
                    return SendResult(SendVerdict.FATAL, f"no stay with order id {payload['order_id']}")
                await bolink.outpark(
                    car_number=stay.plate,
                    in_time=int(stay.entry_at.timestamp()),
                    out_time=payload["out_time"],
                    order_id=stay.order_id,
                    total_fen=payload["total_fen"],
                    pay_type=payload["pay_type"],
                    out_channel_id=payload["out_channel_id"],
                    in_channel_id=self._payments.channel_of(stay.entry_lane),
                    empty_plot=await self._payments.empty_plot(),
                )
            elif row.kind == "upload_carpic":
                path = Path(payload.pop("photo", ""))
                try:
                    content = await asyncio.to_thread(path.read_bytes)
                except OSError as exc:
                    return SendResult(SendVerdict.FATAL, f"photo {path} is gone ({exc.strerror or exc})")
                payload["content"] = base64.b64encode(content).decode("ascii")
                await bolink.upload("upload_carpic", payload)
            else:
                return SendResult(SendVerdict.FATAL, f"unknown Bolink outbox kind {row.kind!r}")
        except BolinkUnavailable as exc:
            return SendResult(SendVerdict.RETRY, str(exc))
        except BolinkRefused as exc:
            # Bolink understood and said no: retrying the same data cannot help. Parked as dead for the
            # supervisor to read, fix and requeue; transport trouble above is retried without end.
            return SendResult(SendVerdict.FATAL, f"Bolink refused {row.kind}: {exc.errmsg}")
        return SendResult(SendVerdict.SENT)
