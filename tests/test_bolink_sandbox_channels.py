"""The Bolink sandbox routes each downstream message by channel, as Bolink does for the charging systems of
one park (issue #18: a lot's booths, each with a session of its own on one cloud): a message about a channel
goes to the session whose ``local_id`` names that channel (``"<id>_channels_X1_X2"``), and waits for it; one
about no channel, or a channel no session names, goes to whichever session polls first.

Real sessions over loopback HTTP: signed logins and uploads, and ``download.do`` long polls."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from booth.clouds.bolink_protocol import NO_MESSAGE, compact_json, encode_envelope, outpark_ack
from booth.sandbox.bolink_cloud import BolinkSandbox
from booth.sandbox.bolink_push import channels_named

UNION, PARK, UKEY = "200208", "21835", "8403A41ED5EF20BC"
EAST, WEST = "east_channels_X1_X3", "west_channels_X2"


@pytest_asyncio.fixture
async def sandbox() -> AsyncIterator[BolinkSandbox]:
    cloud = BolinkSandbox(union_id=UNION, park_id=PARK, ukey=UKEY, poll_hold_s=0.3, redeliver_after_s=0.5)
    await cloud.start()
    yield cloud
    await cloud.stop()


class Session:
    """One charging system's session: its token, its uploads and its long polls."""

    def __init__(self, http: httpx.AsyncClient, cloud: BolinkSandbox, local_id: str) -> None:
        self.http, self.cloud, self.local_id = http, cloud, local_id
        self.token = ""

    async def login(self) -> Session:
        answer = await self.upload("login", {"union_id": UNION, "park_id": PARK, "local_id": self.local_id})
        assert answer["state"] == 1, answer
        self.token = str(answer["token"])
        return self

    async def upload(self, service: str, data: dict[str, Any]) -> dict[str, Any]:
        body = encode_envelope(service, data, ukey=UKEY, token=self.token or None)
        response = await self.http.post(f"{self.cloud.base_url}/bpd/upload.do", content=body)
        assert response.status_code == 200
        answer: dict[str, Any] = response.json()
        return answer

    async def exit(self, order_id: str, plate: str, channel: str) -> None:
        """A car at one of this booth's exits: its order waits for the driver's payment at ``channel``."""
        answer = await self.upload(
            "outpark",
            {
                "car_number": plate,
                "order_id": order_id,
                "in_time": 1_700_000_000,
                "out_time": 1_700_003_600,
                "total": "5.00",
                "pay_type": "scancode",
                "out_channel_id": channel,
                "in_channel_id": "E1",
                "empty_plot": 1,
            },
        )
        assert answer["state"] == 1, answer

    async def poll(self) -> dict[str, Any] | None:
        """One long poll: the message the cloud gave this session, or None (nothing within the hold)."""
        response = await self.http.post(
            f"{self.cloud.base_url}/bpd/download.do", content=compact_json({"token": self.token})
        )
        assert response.status_code == 200
        if response.text == NO_MESSAGE:
            return None
        message: dict[str, Any] = json.loads(response.text)
        return message

    async def drain(self) -> list[dict[str, Any]]:
        """Poll until a poll comes back empty."""
        messages = []
        while (message := await self.poll()) is not None:
            messages.append(message)
        return messages

    async def ack(self, message: dict[str, Any]) -> None:
        answer = await self.upload(
            "outpark", outpark_ack(order_id=message["order_id"], trade_no=message["trade_no"])
        )
        assert answer["state"] == 1, answer


@pytest_asyncio.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0, trust_env=False) as client:
        yield client


def test_a_local_id_names_the_channels_after_its_mark() -> None:
    assert channels_named("east_channels_X1_X3") == {"X1", "X3"}
    assert channels_named("booth_test") == frozenset()
    assert channels_named("a_channels_") == frozenset()


@pytest.mark.asyncio
async def test_each_payment_result_reaches_the_session_naming_its_channel(
    sandbox: BolinkSandbox, http: httpx.AsyncClient
) -> None:
    """Two booths, cars leaving by turns at X1 (east) and X2 (west): each result goes to its own booth,
    whichever session polls first (with one push queue, every second one went to the wrong booth)."""
    east, west = await Session(http, sandbox, EAST).login(), await Session(http, sandbox, WEST).login()
    sessions = {"X1": east, "X2": west}
    for n in range(6):
        channel = ("X1", "X2")[n % 2]
        await sessions[channel].exit(f"O_{n}", f"苏E{n:05d}", channel)
        await sandbox.driver_pays(channel_id=channel)
    # the other booth polls first every time: it gets none of them
    for first in (west, east):
        messages = await first.drain()
        assert {m["out_channel_id"] for m in messages} == ({"X2"} if first is west else {"X1"})
        assert len(messages) == 3
        for message in messages:
            assert message["service_name"] == "outpark" and message["state"] == 1
            await first.ack(message)
    assert await east.poll() is None and await west.poll() is None
    assert sandbox.unacknowledged_results == []


@pytest.mark.asyncio
async def test_a_held_poll_of_the_other_booth_does_not_take_the_result(
    sandbox: BolinkSandbox, http: httpx.AsyncClient
) -> None:
    """Both booths hold a poll when the driver pays at X2: the west booth's poll answers with the result,
    the east booth's poll goes on waiting and ends empty."""
    east, west = await Session(http, sandbox, EAST).login(), await Session(http, sandbox, WEST).login()
    await west.exit("O_W", "苏W00001", "X2")
    east_poll, west_poll = asyncio.create_task(east.poll()), asyncio.create_task(west.poll())
    await asyncio.sleep(0.05)  # (both polls are held now)
    await sandbox.driver_pays(channel_id="X2")
    got_west, got_east = await west_poll, await east_poll
    assert got_west is not None and got_west["order_id"] == "O_W"
    assert got_east is None


@pytest.mark.asyncio
async def test_a_result_waits_for_its_booth_while_it_is_away_and_is_redelivered_to_it(
    sandbox: BolinkSandbox, http: httpx.AsyncClient
) -> None:
    """The east booth is logged in but not polling (restarting): its result is not given to the west booth,
    which polls meanwhile; the east booth gets it when it polls again, and an unacknowledged result is
    pushed again to the east booth, not to the west one."""
    east, west = await Session(http, sandbox, EAST).login(), await Session(http, sandbox, WEST).login()
    await east.exit("O_E", "苏E00001", "X3")
    await sandbox.driver_pays(channel_id="X3")
    assert await west.drain() == []
    first = await east.poll()
    assert first is not None and (first["order_id"], first["out_channel_id"]) == ("O_E", "X3")
    await asyncio.sleep(0.6)  # not acknowledged: pushed again after redeliver_after_s (0.5 s)
    assert await west.drain() == []
    again = await east.poll()
    assert again is not None and again["trade_no"] == first["trade_no"]
    await east.ack(again)
    # a new login of the same booth (a restart) is the same charging system: it gets its results
    await east.exit("O_E2", "苏E00002", "X1")
    east2 = await Session(http, sandbox, EAST).login()
    await sandbox.driver_pays(channel_id="X1")
    assert await west.drain() == []
    result = await east2.poll()
    assert result is not None and result["order_id"] == "O_E2"


@pytest.mark.asyncio
async def test_a_channel_no_session_names_and_messages_without_a_channel_go_to_any_session(
    sandbox: BolinkSandbox, http: httpx.AsyncClient
) -> None:
    """The old behaviour where routing cannot decide: X9 is named by no session, a prepayment names no
    channel; each goes to the first session that polls."""
    east, west = await Session(http, sandbox, EAST).login(), await Session(http, sandbox, WEST).login()
    await east.exit("O_9", "苏E00009", "X9")
    await sandbox.driver_pays(channel_id="X9")
    got = await west.poll()
    assert got is not None and (got["order_id"], got["out_channel_id"]) == ("O_9", "X9")
    sandbox.push({"service_name": "prepay_order", "order_id": "O_9", "car_number": "苏E00009"})
    got = await west.poll()
    assert got is not None and got["service_name"] == "prepay_order"
    # and a question about a channel (query_price's out_channel_id) is routed like a result
    sandbox.push({"service_name": "query_price", "car_number": "苏E1", "out_channel_id": "X1"})
    assert await west.poll() is None
    got = await east.poll()
    assert got is not None and got["service_name"] == "query_price"


@pytest.mark.asyncio
async def test_one_session_without_channels_gets_everything_as_before(
    sandbox: BolinkSandbox, http: httpx.AsyncClient
) -> None:
    alone = await Session(http, sandbox, "booth1").login()
    for n, channel in enumerate(("X1", "X2")):
        await alone.exit(f"O_{n}", f"苏A{n:05d}", channel)
        await sandbox.driver_pays(channel_id=channel)
    assert [m["out_channel_id"] for m in await alone.drain()] == ["X1", "X2"]
