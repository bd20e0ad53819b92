"""What the emulated Bolink cloud pushes to the booth over the ``download.do`` long poll.

:class:`PushQueue` holds the messages waiting for the booths' next polls, re-pushes a final payment result
(state 0 or 1) every ``redeliver_after_s`` until the booth acknowledges it (as Bolink does), and lets a
test hook push a message and wait for the booth's answer to it.

**Routed by channel, as Bolink routes.** Several charging systems of one park (a lot's booths) each hold a
session, and each names its exit lanes' channels in its ``local_id`` (``"<id>_channels_X1_X2"``). A message
about a channel (an outpark result's ``out_channel_id``, a ``query_price``'s ``out_channel_id``, a
``nolicence_in_park``'s ``channel_id``) goes to a session whose ``local_id`` names that channel, and waits
for it while it is away (logged in but not polling: a booth restarting). A message with no channel, or whose
channel no logged-in session names, goes to whichever session polls first, as with a single session.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from booth.clouds.bolink_protocol import compact_json

logger = logging.getLogger("booth.sandbox.bolink")

AnswerKey = tuple[str, str]
"""(service_name, the id its answer carries back): what a pushed message waits for an answer by."""
ResultKey = tuple[str, str]
"""(order_id, trade_no) of a pushed payment result: what the booth's acknowledgement names."""


CHANNELS_MARK = "_channels_"
"""What separates a ``local_id``'s own name from the channels it names (``"east_channels_X1_X2"``)."""


def channels_named(local_id: str) -> frozenset[str]:
    """The channel ids a session's ``local_id`` names (none without ``_channels_``)."""
    _, found, named = local_id.partition(CHANNELS_MARK)
    return frozenset(c for c in named.split("_") if c) if found else frozenset()


def channel_of(message: Mapping[str, Any]) -> str | None:
    """The channel a downstream message is about (None: any session may take it)."""
    for key in ("out_channel_id", "channel_id"):
        value = message.get(key)
        if isinstance(value, str) and value:
            return value
    return None


@dataclass
class Queued:
    """One message waiting for a poll; ``ack_key`` is set for a payment result re-pushed until acked;
    ``channel`` routes it to the session naming that channel."""

    body: bytes
    ack_key: ResultKey | None = None
    channel: str | None = None


class PushQueue:
    """The messages for the booth, their re-delivery, and the hooks waiting for the booth's answers."""

    def __init__(self, redeliver_after_s: float) -> None:
        self.redeliver_after_s = redeliver_after_s
        self._queue: deque[Queued] = deque()
        self._wake = asyncio.Event()
        self._unacked: dict[ResultKey, tuple[bytes, str | None]] = {}  # (body, channel)
        self._timers: dict[ResultKey, asyncio.TimerHandle] = {}
        self._waiters: dict[AnswerKey, asyncio.Future[dict[str, Any]]] = {}

    @property
    def unacknowledged(self) -> list[ResultKey]:
        """(order_id, trade_no) of pushed payment results the booth has not acknowledged yet."""
        return list(self._unacked)

    def push(self, body: bytes, ack_key: ResultKey | None = None, channel: str | None = None) -> None:
        """Queue a message body as it is (a test may queue a broken one) and wake the held polls."""
        self._queue.append(Queued(body, ack_key, channel))
        self._wake.set()

    def push_result(self, message: Mapping[str, Any]) -> None:
        """Queue an outpark result; a final one (state 0 or 1) is re-pushed until the booth acks it."""
        body = compact_json({k: v for k, v in message.items() if v is not None}).encode("utf-8")
        key: ResultKey | None = None
        if message["state"] in (0, 1):
            key = (str(message["order_id"]), str(message["trade_no"]))
            self._unacked[key] = (body, channel_of(message))
        self.push(body, key, channel_of(message))

    async def push_and_wait(
        self, message: Mapping[str, Any], key: AnswerKey, wait_s: float
    ) -> dict[str, Any]:
        """Push ``message`` and return the booth's answer to it (``key`` names it); TimeoutError after
        ``wait_s``. A repeated identical answer (which the cloud drops) still ends the wait."""
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiters[key] = future
        self.push(compact_json(dict(message)).encode("utf-8"), channel=channel_of(message))
        try:
            return await asyncio.wait_for(future, wait_s)
        except TimeoutError:
            raise TimeoutError(f"the booth did not answer {key[0]} {key[1]} within {wait_s:g} s") from None
        finally:
            self._waiters.pop(key, None)

    def take_answer(self, service_name: str, data: Mapping[str, Any]) -> None:
        """The booth answered a pushed message: an outpark ack stops the re-pushes, others end a wait."""
        if service_name == "outpark":
            self._acknowledge((str(data.get("order_id", "")), str(data.get("trade_no", ""))))
            return
        field = {"query_price": "query_order_no", "prepay_order": "order_id"}.get(service_name, "car_number")
        future = self._waiters.get((service_name, str(data.get(field, ""))))
        if future is not None and not future.done():
            future.set_result(dict(data))

    def wake(self) -> None:
        """Held polls look again now (a token changed, or the cloud is stopping)."""
        self._wake.set()

    async def next_message(
        self,
        token_valid: Callable[[], bool],
        closing: Callable[[], bool],
        hold_s: float,
        takes: Callable[[Queued], bool] | None = None,
    ) -> Queued | Literal["stale"] | None:
        """The next message for a poll held up to ``hold_s`` (the first queued one that ``takes`` accepts:
        its session's, see the module): "stale" once its token is no longer valid, None when nothing came
        (or the poll's connection or the cloud is closing)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + hold_s
        while True:
            if not token_valid():
                return "stale"
            if closing():
                return None
            for index, item in enumerate(self._queue):
                if takes is None or takes(item):
                    del self._queue[index]
                    return item
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), remaining)

    def delivered(self, item: Queued) -> None:
        """A poll took ``item``: a payment result is pushed again later unless acknowledged by then."""
        if item.ack_key is not None:
            self._arm_redelivery(item.ack_key)

    def resume(self) -> None:
        """The cloud (re)started: results still unacknowledged are re-pushed on the usual schedule."""
        for key in self._unacked:
            if key not in self._timers:
                self._arm_redelivery(key)

    def pause(self) -> None:
        """The cloud is stopping: held polls answer now and re-delivery timers stop (the queue is kept)."""
        self._wake.set()
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    def _arm_redelivery(self, key: ResultKey) -> None:
        old = self._timers.pop(key, None)
        if old is not None:
            old.cancel()
        loop = asyncio.get_running_loop()
        self._timers[key] = loop.call_later(self.redeliver_after_s, self._redeliver, key)

    def _redeliver(self, key: ResultKey) -> None:
        self._timers.pop(key, None)
        unacked = self._unacked.get(key)
        if unacked is None or any(item.ack_key == key for item in self._queue):
            return
        logger.debug("re-pushing unacknowledged outpark result %s", key)
        self.push(unacked[0], key, unacked[1])

    def _acknowledge(self, key: ResultKey) -> None:
        if self._unacked.pop(key, None) is None:
            return
        timer = self._timers.pop(key, None)
        if timer is not None:
            timer.cancel()
        self._queue = deque(item for item in self._queue if item.ack_key != key)
