"""Async client of Bolink's HTTP mode: the services the booth calls, over a session and a long poll.

:class:`BolinkClient` is what the engine holds. It is built from three parts, each readable alone:

* :mod:`booth.clouds.bolink_protocol`: the wire format (signing, envelopes, downstream messages, answers);
* :mod:`booth.clouds.bolink_session`: transport (httpx, explicit timeouts, a 1 MiB answer cap), the login
  token's life cycle and a client-side request budget: :class:`BolinkSession`;
* :mod:`booth.clouds.bolink_downstream`: the ``download.do`` long poll that keeps the booth connected
  through outages and answers what Bolink pushes: :class:`BolinkDownstream`.

This module adds the upstream services with their argument checks (``inpark``, ``outpark``, ``code_url``,
``query_order``) and re-exports the names importers use (the errors, :class:`SignMismatch`,
:data:`ALREADY_PROCESSED`, :func:`background_traffic`).

Errors: :class:`BolinkUnavailable` when Bolink cannot be reached or answers garbage (try again later),
:class:`BolinkRefused` when it answered and said no (state 0: retrying the same call will not help).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx

from booth.clouds.bolink_downstream import BolinkDownstream, Handler, SignMismatch
from booth.clouds.bolink_protocol import DATA_TARGET, ORDER_ID_RE, PAY_TYPES, DownstreamMessage
from booth.clouds.bolink_session import (
    ALREADY_PROCESSED,
    BolinkError,
    BolinkRefused,
    BolinkSession,
    BolinkUnavailable,
    background_traffic,
)
from booth.config import BolinkSettings
from booth.domain.money import format_yuan

__all__ = [
    "ALREADY_PROCESSED",
    "BolinkClient",
    "BolinkError",
    "BolinkRefused",
    "BolinkUnavailable",
    "SignMismatch",
    "background_traffic",
]


class BolinkClient:
    """One booth's session with Bolink: login token, signed uploads, long poll.

    ``base_url`` overrides ``settings.base_url`` (the engine passes the sandbox's URL when
    ``settings.is_sandbox``). ``http`` may be shared; it is closed by :meth:`aclose` only if created here.
    """

    def __init__(
        self,
        settings: BolinkSettings,
        *,
        base_url: str | None = None,
        http: httpx.AsyncClient | None = None,
        on_sign_mismatch: Callable[[SignMismatch], None] | None = None,
    ) -> None:
        if settings.is_sandbox and base_url is None:
            raise ValueError('bolink.base_url is "sandbox": pass the running sandbox\'s base_url')
        url = base_url if base_url is not None else settings.base_url
        self._session = BolinkSession(settings, base_url=url, http=http)
        self._downstream = BolinkDownstream(self._session, settings, on_sign_mismatch)

    @property
    def online(self) -> bool:
        """True when the last call or poll got a usable answer from Bolink (a refusal counts as reached)."""
        return self._session.online

    @property
    def base_url(self) -> str:
        return self._session.base_url

    def time_round_trips(self, observer: Callable[[str, float], None] | None) -> None:
        """Tell ``observer`` (service name, seconds) of each ``upload.do`` exchange that got an answer."""
        self._session.on_round_trip = observer

    @property
    def sign_mismatches(self) -> int:
        """Downstream messages whose sign did not match since this client started (for the supervisor)."""
        return self._downstream.sign_mismatches

    @property
    def backoff_min_s(self) -> float:
        """The long poll's first wait after a failure (doubling up to :attr:`backoff_max_s`)."""
        return self._downstream.backoff_min_s

    @backoff_min_s.setter
    def backoff_min_s(self, seconds: float) -> None:
        self._downstream.backoff_min_s = seconds

    @property
    def backoff_max_s(self) -> float:
        return self._downstream.backoff_max_s

    @backoff_max_s.setter
    def backoff_max_s(self, seconds: float) -> None:
        self._downstream.backoff_max_s = seconds

    async def aclose(self) -> None:
        await self._session.aclose()

    async def login(self) -> None:
        """Log in (again); a new token makes the old one stale at Bolink."""
        await self._session.login()

    async def upload(self, service_name: str, data: Mapping[str, Any]) -> dict[str, Any]:
        """One signed ``upload.do`` call; returns the state-1 answer.

        A stale token answer triggers one re-login and one retry. Bolink's "数据已处理过" (already
        processed) counts as success: the answer is returned with ``already_processed: True``.
        """
        return await self._session.upload(service_name, data)

    async def answer(self, service_name: str, data: Mapping[str, Any]) -> None:
        """Answer a downstream message (``data_target: "bolink"``, same service_name)."""
        await self._session.answer(service_name, data)

    async def poll(self) -> DownstreamMessage | None:
        """One ``download.do`` long poll: a message, or None when there was none (or the token was renewed).

        Raises BadMessage for a message that cannot be used (BadSign for a bad sign under
        ``downstream_sign = "refuse"``), BolinkUnavailable/BolinkRefused otherwise.
        """
        return await self._downstream.poll()

    async def run_downstream(self, handler: Handler, on_status: Callable[[bool, str], None]) -> None:
        """Poll forever, hand each message to ``handler`` and upload its answer (if not None); report
        ``on_status(online, reason)`` on each change. See :meth:`BolinkDownstream.run`."""
        await self._downstream.run(handler, on_status)

    # -- upstream services ---------------------------------------------------------------------------------

    async def inpark(
        self,
        *,
        car_number: str,
        in_time: int,
        order_id: str,
        in_channel_id: str,
        empty_plot: int,
        uid: str = "",
        car_type: str = "小车",
        c_type: str = "通道照牌",
        license_color: str | None = None,
    ) -> None:
        """A vehicle entered: open the stay at Bolink under ``order_id``."""
        _check_plate(car_number)
        _check_order_id(order_id)
        data: dict[str, Any] = {
            "car_number": car_number,
            "in_time": _unix(in_time, "in_time"),
            "car_type": car_type,
            "c_type": c_type,
            "uid": uid,
            "order_id": order_id,
            "empty_plot": empty_plot,
            "in_channel_id": in_channel_id,
        }
        if license_color is not None:
            data["license_color"] = license_color
        await self.upload("inpark", data)

    async def outpark(
        self,
        *,
        car_number: str,
        in_time: int,
        out_time: int,
        order_id: str,
        total_fen: int,
        pay_type: str,
        out_channel_id: str,
        in_channel_id: str,
        empty_plot: int,
        uid: str = "",
        auth_code: str | None = None,
    ) -> dict[str, Any]:
        """Settle an exit (may be called again until settled); ``total`` is due now, as a yuan string."""
        _check_plate(car_number)
        _check_order_id(order_id)
        if out_time < in_time:
            raise ValueError(f"out_time {out_time} is before in_time {in_time}")
        if isinstance(total_fen, bool) or not isinstance(total_fen, int) or total_fen < 0:
            raise ValueError(f"total_fen must be a non-negative int (fen), got {total_fen!r}")
        if pay_type not in PAY_TYPES:
            raise ValueError(f"unknown pay_type {pay_type!r} (expected one of {sorted(PAY_TYPES)})")
        if (pay_type == "sweepcode") != bool(auth_code):
            raise ValueError("auth_code is required with pay_type sweepcode and only then")
        data: dict[str, Any] = {
            "car_number": car_number,
            "in_time": _unix(in_time, "in_time"),
            "out_time": _unix(out_time, "out_time"),
            "uid": uid,
            "duration": (out_time - in_time) // 60,
            "pay_type": pay_type,
            "empty_plot": empty_plot,
            "total": format_yuan(total_fen),
            "order_id": order_id,
            "out_channel_id": out_channel_id,
            "in_channel_id": in_channel_id,
        }
        if auth_code:
            data["auth_code"] = auth_code
        return await self.upload("outpark", data)

    async def code_url(self, channel_id: str, code_type: int = 2) -> str:
        """The lane's QR address. Bolink's document: type 2 = exit direct-pay code, 3 = plateless entry."""
        if not channel_id:
            raise ValueError("channel_id must not be empty")
        data = {"data_target": DATA_TARGET, "channel_id": channel_id, "type": code_type}
        answer = await self.upload("code_url", data)
        url = answer.get("code_url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise self._session.unavailable("code_url", f"answer has no usable code_url: {answer!r}")
        return url

    async def query_order(
        self, *, order_id: str, car_number: str, pay_type: str = "scancode", pay_scene: str = "outpay"
    ) -> None:
        """Ask for an order's payment state; the answer arrives downstream as an ``outpark`` result."""
        if pay_scene not in ("prepay", "outpay"):
            raise ValueError(f"pay_scene must be 'prepay' or 'outpay', got {pay_scene!r}")
        data = {
            "data_target": DATA_TARGET,
            "order_id": order_id,
            "car_number": car_number,
            "pay_type": pay_type,
            "pay_scene": pay_scene,
            "time_temp": int(time.time() * 1000),
        }
        await self.upload("query_order", data)


def _check_order_id(order_id: str) -> None:
    if not isinstance(order_id, str) or not ORDER_ID_RE.match(order_id):
        raise ValueError(f"order_id must be 1-48 letters, digits or _, got {order_id!r}")


def _check_plate(car_number: str) -> None:
    if not isinstance(car_number, str) or not car_number.strip():
        raise ValueError(f"car_number must not be empty, got {car_number!r}")


def _unix(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be unix seconds (int), got {value!r}")
    return value
