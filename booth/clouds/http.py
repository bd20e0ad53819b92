"""What the cloud clients share: a POST read whole under one deadline and a size cap, China time, and
the life of an httpx client a gateway client may own."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Final, Self

import httpx

MAX_ANSWER_BYTES: Final = 1 << 20
CHINA_TZ: Final = timezone(timedelta(hours=8), "China Standard Time")


class GatewayClient:
    """A client of one gateway URL over an httpx client it owns unless one is handed in."""

    def __init__(
        self, url: str, http: httpx.AsyncClient | None, clock: Callable[[], datetime] | None
    ) -> None:
        self._url = url
        self._owns_http = http is None
        self._http = http if http is not None else httpx.AsyncClient()
        self._clock = clock or (lambda: datetime.now(UTC))

    @property
    def gateway_url(self) -> str:
        return self._url

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class TransportFailure(Exception):
    """No complete HTTP answer: refused connection, timeout, dropped or endless body, too big."""


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    status: int
    content_type: str
    body: bytes


async def post_capped(
    http: httpx.AsyncClient,
    url: str,
    *,
    content: bytes,
    headers: Mapping[str, str],
    timeout_s: float,
    params: Mapping[str, str] | None = None,
    max_bytes: int = MAX_ANSWER_BYTES,
) -> HttpAnswer:
    """POST and read the whole answer within one overall deadline and a size cap.

    httpx's own timeouts are per read, so a server dribbling bytes forever would never trip them: the
    ``asyncio.timeout`` around the whole exchange does.
    """
    try:
        async with asyncio.timeout(timeout_s):
            async with http.stream(
                "POST",
                url,
                params=dict(params or {}),
                content=content,
                headers=dict(headers),
                timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 5.0)),
            ) as response:
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise TransportFailure(f"answer of {declared} bytes refused (limit {max_bytes})")
                received = bytearray()
                async for chunk in response.aiter_bytes():
                    received += chunk
                    if len(received) > max_bytes:
                        raise TransportFailure(f"answer larger than {max_bytes} bytes refused")
                return HttpAnswer(
                    response.status_code, response.headers.get("content-type", ""), bytes(received)
                )
    except TimeoutError:
        raise TransportFailure(f"no complete answer within {timeout_s:g} s") from None
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        raise TransportFailure(f"{type(exc).__name__}: {exc or 'connection failed'}") from None


def china_time_text(moment: datetime) -> str:
    """'yyyy-MM-dd HH:mm:ss' in China time. A naive datetime is refused: its zone would be a guess."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"naive datetime refused (give an aware one): {moment!r}")
    return moment.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S")


def parse_china_time(text: str) -> datetime:
    """Inverse of :func:`china_time_text`; ValueError for any other format."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA_TZ)
