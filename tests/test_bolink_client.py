"""BolinkClient against the Bolink sandbox and against misbehaving servers, all on real loopback HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web

from booth.clouds.bolink import (
    ALREADY_PROCESSED,
    BolinkClient,
    BolinkRefused,
    BolinkUnavailable,
    SignMismatch,
)
from booth.clouds.bolink_protocol import (
    DownstreamMessage,
    OutparkResult,
    PrepayOrder,
    compact_json,
    outpark_ack,
    sign,
)
from booth.config import BolinkSettings
from booth.sandbox.bolink_cloud import BolinkSandbox
from tests.bolink_fake import FakeBolink

UNION, PARK, UKEY = "200208", "21835", "8403A41ED5EF20BC"
DEADLINE_S = 10.0


def make_settings(**overrides: Any) -> BolinkSettings:
    values: dict[str, Any] = {
        "base_url": "sandbox",
        "union_id": UNION,
        "park_id": PARK,
        "ukey": UKEY,
        "local_id": "booth1_channels_X1",
        "request_timeout_s": 2.0,
        "poll_timeout_s": 3.0,
    }
    values.update(overrides)
    return BolinkSettings(**values)


@pytest_asyncio.fixture
async def sandbox() -> AsyncIterator[BolinkSandbox]:
    cloud = BolinkSandbox(union_id=UNION, park_id=PARK, ukey=UKEY, poll_hold_s=0.2, redeliver_after_s=0.3)
    await cloud.start()
    yield cloud
    await cloud.stop()


@pytest_asyncio.fixture
async def client(sandbox: BolinkSandbox) -> AsyncIterator[BolinkClient]:
    bolink = BolinkClient(make_settings(), base_url=sandbox.base_url)
    bolink.backoff_max_s = 0.5
    yield bolink
    await bolink.aclose()


async def wait_until(predicate: Callable[[], bool], what: str) -> None:
    """Poll a condition with a deadline (no fixed sleeps)."""
    async with asyncio.timeout(DEADLINE_S):
        while True:
            if predicate():
                return
            await asyncio.sleep(0.01)
    raise AssertionError(what)


async def next_message(client: BolinkClient) -> DownstreamMessage:
    """Long-poll until a message arrives (each poll may end with "no message")."""
    async with asyncio.timeout(DEADLINE_S):
        while True:
            message = await client.poll()
            if message is not None:
                return message


async def car_waits_at_exit(client: BolinkClient, order_id: str = "X1_1001", total_fen: int = 1250) -> None:
    await client.inpark(
        car_number="京A12345", in_time=1_700_000_000, order_id=order_id, in_channel_id="E1", empty_plot=9
    )
    await client.outpark(
        car_number="京A12345",
        in_time=1_700_000_000,
        out_time=1_700_003_000,
        order_id=order_id,
        total_fen=total_fen,
        pay_type="scancode",
        out_channel_id="X1",
        in_channel_id="E1",
        empty_plot=10,
    )


# -- upstream calls -----------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_login_sends_the_credentials(sandbox: BolinkSandbox, client: BolinkClient) -> None:
    assert not client.online
    await client.login()
    assert client.online
    assert sandbox.calls == [
        ("login", {"union_id": UNION, "park_id": PARK, "local_id": "booth1_channels_X1"})
    ]


@pytest.mark.asyncio
async def test_login_refused_names_the_problem(sandbox: BolinkSandbox) -> None:
    wrong = BolinkClient(make_settings(park_id="99999"), base_url=sandbox.base_url)
    try:
        with pytest.raises(BolinkRefused, match="99999"):
            await wrong.login()
    finally:
        await wrong.aclose()


@pytest.mark.asyncio
async def test_inpark_outpark_and_code_url(sandbox: BolinkSandbox, client: BolinkClient) -> None:
    await car_waits_at_exit(client)  # logs in on first use
    names = [name for name, _ in sandbox.calls]
    assert names == ["login", "inpark", "outpark"]
    inpark = sandbox.calls[1][1]
    assert inpark["car_number"] == "京A12345"
    assert (inpark["car_type"], inpark["c_type"], inpark["in_channel_id"]) == ("小车", "通道照牌", "E1")
    outpark = sandbox.calls[2][1]
    assert (outpark["total"], outpark["duration"], outpark["pay_type"]) == ("12.50", 50, "scancode")
    assert "auth_code" not in outpark
    order = sandbox.orders["X1_1001"]
    assert (order.state, order.total_fen, order.out_channel_id) == ("awaiting", 1250, "X1")
    assert await client.code_url("X1") == f"{sandbox.base_url}/pay/X1"
    assert sandbox.calls[-1] == ("code_url", {"data_target": "bolink", "channel_id": "X1", "type": 2})


@pytest.mark.asyncio
async def test_cash_exit_settles_without_payment(sandbox: BolinkSandbox, client: BolinkClient) -> None:
    answer = await client.outpark(
        car_number="京B88888",
        in_time=100,
        out_time=100 + 3600,
        order_id="X1_2",
        total_fen=500,
        pay_type="cash",
        out_channel_id="X1",
        in_channel_id="E1",
        empty_plot=3,
    )
    assert answer["state"] == 1
    assert sandbox.orders["X1_2"].state == "settled_cash"


@pytest.mark.asyncio
async def test_bad_arguments_are_refused_before_sending(client: BolinkClient) -> None:
    common: dict[str, Any] = {
        "car_number": "京A1",
        "in_time": 100,
        "out_time": 200,
        "order_id": "X1_1",
        "total_fen": 100,
        "pay_type": "scancode",
        "out_channel_id": "X1",
        "in_channel_id": "E1",
        "empty_plot": 1,
    }
    cases: list[tuple[dict[str, Any], str]] = [
        ({"order_id": "X1-1"}, "order_id must be"),
        ({"total_fen": -1}, "total_fen must be"),
        ({"total_fen": 1.5}, "total_fen must be"),
        ({"pay_type": "bitcoin"}, "unknown pay_type"),
        ({"pay_type": "sweepcode"}, "auth_code is required"),
        ({"out_time": 50}, "before in_time"),
        ({"car_number": " "}, "car_number must not be empty"),
    ]
    for change, reason in cases:
        with pytest.raises(ValueError, match=reason):
            await client.outpark(**(common | change))
    assert not client.online  # nothing was sent


@pytest.mark.asyncio
async def test_state_zero_is_refused_with_bolinks_errmsg(client: BolinkClient) -> None:
    with pytest.raises(BolinkRefused, match="订单不存在") as caught:
        await client.query_order(order_id="X1_404", car_number="京A1")
    assert caught.value.answer["state"] == 0
    assert client.online  # Bolink was reached; it said no


@pytest.mark.asyncio
async def test_already_processed_counts_as_success(client: BolinkClient) -> None:
    data = {"car_number": "京A1", "in_time": 5, "order_id": "E1_5", "in_channel_id": "E1", "empty_plot": 1}
    first = await client.upload("inpark", data)
    again = await client.upload("inpark", data)
    assert first["state"] == 1 and ALREADY_PROCESSED not in first
    assert again[ALREADY_PROCESSED] is True
    assert again["errmsg"].startswith("数据已处理过")


@pytest.mark.asyncio
async def test_stale_token_is_renewed_transparently(sandbox: BolinkSandbox, client: BolinkClient) -> None:
    await client.login()
    sandbox.expire_tokens()
    await client.inpark(car_number="京A1", in_time=5, order_id="E1_6", in_channel_id="E1", empty_plot=1)
    assert [name for name, _ in sandbox.calls] == ["login", "login", "inpark"]
    sandbox.expire_tokens()
    assert await client.poll() is None  # the poll noticed, logged in again and reports no message
    assert [name for name, _ in sandbox.calls].count("login") == 3


@pytest.mark.asyncio
async def test_a_second_login_of_the_same_booth_makes_the_first_token_stale(
    sandbox: BolinkSandbox, client: BolinkClient
) -> None:
    await client.login()
    other = BolinkClient(make_settings(), base_url=sandbox.base_url)
    try:
        await other.login()
        await client.code_url("X1")  # stale token -> login again -> retry succeeds
        with_other = [name for name, _ in sandbox.calls]
        assert with_other == ["login", "login", "login", "code_url"]
    finally:
        await other.aclose()


@pytest.mark.asyncio
@pytest.mark.parametrize("fault", ["http500", "html", "drop", "hang"])
async def test_http_faults_raise_unavailable_then_recover(sandbox: BolinkSandbox, fault: Any) -> None:
    quick = BolinkClient(make_settings(request_timeout_s=0.3), base_url=sandbox.base_url)
    try:
        await quick.login()
        sandbox.fail_next(1, fault)
        with pytest.raises(BolinkUnavailable):
            await quick.code_url("X1")
        assert not quick.online
        assert await quick.code_url("X1") == f"{sandbox.base_url}/pay/X1"
        assert quick.online
    finally:
        await quick.aclose()


@pytest.mark.asyncio
async def test_stopped_cloud_raises_unavailable(sandbox: BolinkSandbox, client: BolinkClient) -> None:
    await client.login()
    await sandbox.stop()
    with pytest.raises(BolinkUnavailable, match="download"):
        await client.poll()
    with pytest.raises(BolinkUnavailable, match="code_url"):
        await client.code_url("X1")
    assert not client.online


# -- answers that are too big or never end ------------------------------------------------------------------


@pytest_asyncio.fixture
async def rogue_server() -> AsyncIterator[
    Callable[[Callable[[web.Request], Awaitable[web.StreamResponse]]], Awaitable[str]]
]:
    runners: list[web.AppRunner] = []

    async def serve(handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> str:
        app = web.Application()
        app.router.add_post("/bpd/upload.do", handler)
        app.router.add_post("/bpd/download.do", handler)
        runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=0.5)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        return f"http://127.0.0.1:{runner.addresses[0][1]}"

    yield serve
    for runner in runners:
        await runner.cleanup()


async def _stream_forever(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    chunk = b" " * 65536
    while True:  # ends when the client hangs up (the write raises, aiohttp cancels the handler)
        await response.write(chunk)


@pytest.mark.asyncio
async def test_endless_answer_is_cut_at_one_mib(rogue_server: Any) -> None:
    url = await rogue_server(_stream_forever)
    rogue = BolinkClient(make_settings(request_timeout_s=30), base_url=url)
    try:
        with pytest.raises(BolinkUnavailable, match="larger than 1 MiB"):
            await rogue.login()
    finally:
        await rogue.aclose()


@pytest.mark.asyncio
async def test_declared_oversize_answer_is_refused_unread(rogue_server: Any) -> None:
    async def huge(request: web.Request) -> web.StreamResponse:
        return web.Response(body=b"{" + b" " * (2 << 20) + b"}", content_type="application/json")

    url = await rogue_server(huge)
    rogue = BolinkClient(make_settings(), base_url=url)
    try:
        with pytest.raises(BolinkUnavailable, match="refused"):
            await rogue.login()
    finally:
        await rogue.aclose()


@pytest.mark.asyncio
async def test_trickling_answer_hits_the_overall_deadline(rogue_server: Any) -> None:
    never = asyncio.Event()

    async def trickle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(b"{")
        await never.wait()  # the rest never comes
        return response

    url = await rogue_server(trickle)
    rogue = BolinkClient(make_settings(request_timeout_s=0.3, poll_timeout_s=0.3), base_url=url)
    try:
        with pytest.raises(BolinkUnavailable, match=r"no complete answer within 0\.3 s"):
            await rogue.login()
    finally:
        await rogue.aclose()


# -- downstream ---------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_long_poll_delivers_a_pushed_result(sandbox: BolinkSandbox, client: BolinkClient) -> None:
    await car_waits_at_exit(client)
    polling = asyncio.create_task(next_message(client))
    pushed = await sandbox.driver_pays(channel_id="X1")
    message = await polling
    assert isinstance(message, OutparkResult)
    assert (message.state, message.order_id, message.total_fen, message.trade_no) == (
        1,
        "X1_1001",
        1250,
        pushed["trade_no"],
    )
    assert (message.out_channel_id, message.car_number, message.pay_channel) == ("X1", "京A12345", 1)


@pytest.mark.asyncio
async def test_unacknowledged_result_is_delivered_again_until_acknowledged(
    sandbox: BolinkSandbox, client: BolinkClient
) -> None:
    await car_waits_at_exit(client)
    await sandbox.driver_pays(order_id="X1_1001")
    first = await next_message(client)
    again = await next_message(client)  # not acknowledged: the cloud pushes it again
    assert first == again
    assert isinstance(first, OutparkResult)
    await client.answer("outpark", outpark_ack(order_id=first.order_id, trade_no=first.trade_no))
    assert sandbox.unacknowledged_results == []
    assert sandbox.answers[-1]["trade_no"] == first.trade_no


@pytest.mark.asyncio
async def test_query_order_pushes_the_current_state(sandbox: BolinkSandbox, client: BolinkClient) -> None:
    await car_waits_at_exit(client)
    await client.query_order(order_id="X1_1001", car_number="京A12345")
    before = await next_message(client)
    assert isinstance(before, OutparkResult) and before.state == 2 and not before.paid
    paid = await sandbox.driver_pays(channel_id="X1")
    await next_message(client)
    await client.query_order(order_id="X1_1001", car_number="京A12345")
    after = await next_message(client)
    assert isinstance(after, OutparkResult)
    assert (after.state, after.trade_no) == (1, paid["trade_no"])


class Recorder:
    """Collects what run_downstream reports and delivers."""

    def __init__(self) -> None:
        self.statuses: list[tuple[bool, str]] = []
        self.messages: asyncio.Queue[DownstreamMessage] = asyncio.Queue()
        self.fail_first = 0
        self.unsendable_first = 0

    def on_status(self, online: bool, reason: str) -> None:
        self.statuses.append((online, reason))

    async def handler(self, message: DownstreamMessage) -> Mapping[str, Any] | None:
        if self.fail_first:
            self.fail_first -= 1
            raise RuntimeError("handler bug")
        await self.messages.put(message)
        if self.unsendable_first:
            self.unsendable_first -= 1
            return {"service_name": "outpark", "state": 1, "total": 12.5}  # a float: never sent
        if isinstance(message, OutparkResult) and message.state in (0, 1):
            return outpark_ack(order_id=message.order_id, trade_no=message.trade_no)
        return None

    async def next(self) -> DownstreamMessage:
        return await asyncio.wait_for(self.messages.get(), DEADLINE_S)

    @property
    def online(self) -> bool | None:
        return self.statuses[-1][0] if self.statuses else None


@pytest_asyncio.fixture
async def downstream(client: BolinkClient) -> AsyncIterator[Recorder]:
    recorder = Recorder()
    task = asyncio.create_task(client.run_downstream(recorder.handler, recorder.on_status))
    yield recorder
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


@pytest.mark.asyncio
async def test_run_downstream_answers_through_the_handler(
    sandbox: BolinkSandbox, client: BolinkClient, downstream: Recorder
) -> None:
    await car_waits_at_exit(client)
    pushed = await sandbox.driver_pays(channel_id="X1")
    message = await downstream.next()
    assert isinstance(message, OutparkResult) and message.trade_no == pushed["trade_no"]
    await wait_until(lambda: bool(sandbox.answers), "the acknowledgement reached the cloud")
    assert sandbox.answers[0] == outpark_ack(order_id="X1_1001", trade_no=pushed["trade_no"])
    assert sandbox.unacknowledged_results == []
    assert downstream.statuses[0] == (True, "connected")


@pytest.mark.asyncio
async def test_run_downstream_survives_the_cloud_going_away(
    sandbox: BolinkSandbox, client: BolinkClient, downstream: Recorder
) -> None:
    await car_waits_at_exit(client)
    await wait_until(lambda: downstream.online is True, "online at first")
    await sandbox.stop()
    await wait_until(lambda: downstream.online is False, "reported offline")
    offline_reason = downstream.statuses[-1][1]
    assert "download" in offline_reason
    pushed = await sandbox.driver_pays(channel_id="X1")  # paid while the booth cannot hear
    await sandbox.start()  # same port
    message = await downstream.next()
    assert isinstance(message, OutparkResult) and message.trade_no == pushed["trade_no"]
    assert downstream.online is True
    flags = [online for online, _ in downstream.statuses]
    transitions = [flag for i, flag in enumerate(flags) if i == 0 or flags[i - 1] != flag]
    assert transitions == [True, False, True]  # offline reports may repeat when the reason changes


@pytest.mark.asyncio
async def test_bad_message_is_logged_refused_and_the_loop_goes_on(
    sandbox: BolinkSandbox, client: BolinkClient, downstream: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="booth.bolink")
    sandbox.push({"service_name": "outpark", "state": "paid", "order_id": "X1_77", "trade_no": "T77"})
    sandbox.push(b"{this is not json")
    await car_waits_at_exit(client)
    pushed = await sandbox.driver_pays(channel_id="X1")
    message = await downstream.next()
    assert isinstance(message, OutparkResult) and message.trade_no == pushed["trade_no"]
    await wait_until(
        lambda: any(a.get("state") == 0 for a in sandbox.answers), "the refusal reached the cloud"
    )
    refusal = next(a for a in sandbox.answers if a.get("state") == 0)
    assert (refusal["service_name"], refusal["order_id"], refusal["trade_no"]) == ("outpark", "X1_77", "T77")
    assert "state" in refusal["errmsg"]
    logged = [
        r.getMessage() for r in caplog.records if r.name == "booth.bolink" and r.levelno == logging.WARNING
    ]
    assert any("state: expected a non-negative integer" in text for text in logged)
    assert any("not valid JSON" in text for text in logged)
    assert downstream.messages.empty()  # the bad ones never reached the handler


@pytest.mark.asyncio
async def test_handler_failure_is_logged_and_the_message_comes_again(
    sandbox: BolinkSandbox, client: BolinkClient, downstream: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="booth.bolink")
    downstream.fail_first = 1
    await car_waits_at_exit(client)
    pushed = await sandbox.driver_pays(channel_id="X1")
    message = await downstream.next()  # the re-push after the handler failed without answering
    assert isinstance(message, OutparkResult) and message.trade_no == pushed["trade_no"]
    assert any("handler failed" in r.getMessage() for r in caplog.records)
    await wait_until(lambda: sandbox.unacknowledged_results == [], "acknowledged the second time")


@pytest.mark.asyncio
async def test_an_answer_that_cannot_be_sent_does_not_stop_the_loop(
    sandbox: BolinkSandbox, client: BolinkClient, downstream: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="booth.bolink")
    downstream.unsendable_first = 1
    await car_waits_at_exit(client)
    pushed = await sandbox.driver_pays(channel_id="X1")
    first = await downstream.next()
    again = await downstream.next()  # nothing acknowledged it, so the cloud pushed it again
    assert first == again
    assert isinstance(again, OutparkResult) and again.trade_no == pushed["trade_no"]
    assert any("cannot be sent" in r.getMessage() for r in caplog.records)
    await wait_until(lambda: sandbox.unacknowledged_results == [], "acknowledged the second time")


@pytest.mark.asyncio
async def test_run_downstream_relogs_in_on_a_stale_token(
    sandbox: BolinkSandbox, client: BolinkClient, downstream: Recorder
) -> None:
    await car_waits_at_exit(client)
    await wait_until(lambda: downstream.online is True, "online")
    sandbox.expire_tokens()
    pushed = await sandbox.driver_pays(channel_id="X1")
    message = await downstream.next()
    assert isinstance(message, OutparkResult) and message.trade_no == pushed["trade_no"]
    assert [name for name, _ in sandbox.calls].count("login") == 2
    assert all(online for online, _ in downstream.statuses)


@pytest.mark.asyncio
async def test_online_is_reported_as_soon_as_the_cloud_is_back_not_after_a_long_poll() -> None:
    """With a 30 s long-poll hold and nothing to deliver, "online" must not wait for a poll to return:
    a lane shows the QR again only once Bolink is reported online."""
    cloud = BolinkSandbox(union_id=UNION, park_id=PARK, ukey=UKEY, poll_hold_s=30)
    await cloud.start()
    bolink = BolinkClient(make_settings(poll_timeout_s=40.0), base_url=cloud.base_url)
    bolink.backoff_max_s = 0.2
    recorder = Recorder()
    task = asyncio.create_task(bolink.run_downstream(recorder.handler, recorder.on_status))
    try:
        async with asyncio.timeout(5):  # far below the 30 s hold
            await wait_until(lambda: recorder.online is True, "online right after login")
            await cloud.stop()
            await wait_until(lambda: recorder.online is False, "offline")
            await cloud.start()
            await wait_until(lambda: recorder.online is True, "online again without waiting for a poll")
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await bolink.aclose()
        await cloud.stop()


# -- hostile messages, the poll loop's robustness, downstream signs (issue #13) -----------------------------


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeBolink]:
    cloud = FakeBolink(ukey=UKEY)
    await cloud.start()
    yield cloud
    await cloud.stop()


@contextlib.asynccontextmanager
async def downstream_of(
    client: BolinkClient, recorder: Recorder | None = None
) -> AsyncIterator[tuple[Recorder, asyncio.Task[None]]]:
    recorder = recorder or Recorder()
    task = asyncio.create_task(client.run_downstream(recorder.handler, recorder.on_status))
    try:
        yield recorder, task
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await client.aclose()


def _paid(order_id: str, trade_no: str, **fields: Any) -> bytes:
    message = {
        "service_name": "outpark",
        "state": 1,
        "order_id": order_id,
        "trade_no": trade_no,
        "total": "1",
    }
    return compact_json({**message, **fields}).encode()


HOSTILE_RESULTS = [  # (what, body, order_id, trade_no): each is re-delivered until an answer echoes its ids
    (
        "deeply nested",
        _paid("A_1", "T_1").replace(b'"total":"1"', b'"total":' + b"[" * 50_000 + b"]" * 50_000),
        "A_1",
        "T_1",
    ),
    (
        "a 5,000-digit total",
        _paid("A_2", "T_2").replace(b'"total":"1"', b'"total":' + b"9" * 5000),
        "A_2",
        "T_2",
    ),
    ("a total of 1e400", _paid("A_3", "T_3", total="1e400"), "A_3", "T_3"),
    ("a 10,000-character trade_no", _paid("A_4", "T" * 10_000), "A_4", "T" * 10_000),
    ("a NUL in the order id", _paid("A_5\u0000", "T_5"), "A_5\u0000", "T_5"),
    ("a lone surrogate", _paid("A_6", "T_6").replace(b"A_6", b"A_6\\ud800"), "A_6\ud800", "T_6"),
]


@pytest.mark.asyncio
async def test_hostile_results_are_refused_once_acknowledged_and_never_take_bolink_offline(
    fake: FakeBolink, caplog: pytest.LogCaptureFixture
) -> None:
    """Each hostile result is pushed like a real one (re-delivered until acknowledged): the refusal echoes
    its ids, which acknowledges it, so it is refused once; the loop stays online and keeps going."""
    caplog.set_level(logging.DEBUG, logger="booth.bolink")
    for _, body, order_id, trade_no in HOSTILE_RESULTS:
        fake.push(body, ack_key=("outpark", order_id, trade_no))
    fake.push(_paid("A_7", "T_7"), ack_key=("outpark", "A_7", "T_7"))
    bolink = BolinkClient(make_settings(), base_url=fake.base_url)
    async with downstream_of(bolink) as (recorder, task):
        good = await recorder.next()
        assert isinstance(good, OutparkResult) and good.order_id == "A_7"
        await wait_until(lambda: fake.pending == 0, "every message acknowledged, none re-sent for ever")
        assert not task.done()
    assert [online for online, _ in recorder.statuses] == [True]
    refusals = [a for a in fake.answers if a["state"] == 0]
    assert len(refusals) == len(HOSTILE_RESULTS)  # one each: a refusal is final
    assert all(a["service_name"] == "outpark" and a["errmsg"].startswith("bad message") for a in refusals)
    assert recorder.messages.empty()  # none of them reached the handler
    assert not fake.bad_uploads
    problems = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert problems == [], [r.getMessage() for r in problems]
    refused_lines = [r.getMessage() for r in caplog.records if "cannot be used" in r.getMessage()]
    assert len(refused_lines) == len(HOSTILE_RESULTS)
    assert all("\n" not in line and len(line) < 400 for line in refused_lines)


@pytest.mark.asyncio
async def test_a_refused_message_sent_again_gets_the_same_answer_but_is_not_logged_again(
    fake: FakeBolink, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="booth.bolink")
    fake.redeliver = False
    bad = _paid("A_9", "T_9", total="1e400")
    fake.push(bad)
    fake.push(bad)  # Bolink sends it again (e.g. it did not take the first refusal as an acknowledgement)
    fake.push(_paid("A_10", "T_10"))
    bolink = BolinkClient(make_settings(), base_url=fake.base_url)
    async with downstream_of(bolink) as (recorder, _):
        await recorder.next()
        await wait_until(lambda: len(fake.answers) == 3, "both refusals and the acknowledgement")
    assert fake.answers[0] == fake.answers[1] and fake.answers[0]["order_id"] == "A_9"
    assert len([r for r in caplog.records if "cannot be used" in r.getMessage()]) == 1


@pytest.mark.asyncio
async def test_a_handler_that_raises_is_logged_once_and_bolink_stays_online(
    sandbox: BolinkSandbox, client: BolinkClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="booth.bolink")
    recorder = Recorder()
    recorder.fail_first = 2
    async with downstream_of(client, recorder) as (_, task):
        await car_waits_at_exit(client)
        pushed = await sandbox.driver_pays(channel_id="X1")
        message = await recorder.next()  # the third delivery, after two failures
        assert isinstance(message, OutparkResult) and message.trade_no == pushed["trade_no"]
        await wait_until(lambda: sandbox.unacknowledged_results == [], "acknowledged at last")
        assert not task.done()
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 1 and "handler failed" in tracebacks[0].getMessage()
    assert any("handler failed again" in r.getMessage() for r in caplog.records)
    assert all(online for online, _ in recorder.statuses)


def _prepay(key: str = UKEY, *, signed: bool = True, **fields: Any) -> bytes:
    message: dict[str, Any] = {
        "service_name": "prepay_order",
        "car_number": "京A12345",
        "prepay": 6.5,
        "order_id": "A1_1",
        "query_order_no": "Q1",
        "park_id": PARK,
        "trade_no": "P1",
        "query_time": 1_490_875_218,
        "prepay_type": 1,
        **fields,
    }
    if signed:
        message["sign"] = sign(compact_json(message), key)
    return compact_json(message).encode()


@pytest.mark.asyncio
@pytest.mark.parametrize("policy", ["warn", "refuse"])
async def test_a_prepayment_with_a_wrong_sign_is_reported_and_refused_by_setting(
    fake: FakeBolink, policy: str
) -> None:
    seen: list[SignMismatch] = []
    fake.redeliver = False
    fake.push(_prepay(key="not the ukey"))
    fake.push(_prepay(order_id="A1_2", trade_no="P2"))  # signed right: always handled
    bolink = BolinkClient(
        make_settings(downstream_sign=policy), base_url=fake.base_url, on_sign_mismatch=seen.append
    )
    async with downstream_of(bolink) as (recorder, _):
        first = await recorder.next()
        if policy == "warn":
            assert isinstance(first, PrepayOrder) and first.order_id == "A1_1"
            first = await recorder.next()
        assert isinstance(first, PrepayOrder) and first.order_id == "A1_2"
        if policy == "refuse":
            await wait_until(lambda: len(fake.answers) == 1, "the refusal reached the cloud")
        assert bolink.sign_mismatches == 1
    assert len(seen) == 1 and seen[0].service_name == "prepay_order" and seen[0].count == 1
    assert seen[0].refused is (policy == "refuse")
    assert "own sign does not match" in seen[0].detail
    if policy == "refuse":
        refusal = fake.answers[0]
        assert (refusal["service_name"], refusal["state"], refusal["order_id"]) == ("prepay_order", 0, "A1_1")
        assert "bad sign" in refusal["errmsg"]
    assert recorder.messages.empty()


@pytest.mark.asyncio
async def test_under_refuse_a_prepayment_without_any_sign_is_refused(fake: FakeBolink) -> None:
    fake.redeliver = False
    fake.push(_prepay(signed=False))
    fake.push(_paid("A_1", "T_1"))  # results carry no sign in Bolink's document: handled
    bolink = BolinkClient(make_settings(downstream_sign="refuse"), base_url=fake.base_url)
    async with downstream_of(bolink) as (recorder, _):
        assert isinstance(await recorder.next(), OutparkResult)
        await wait_until(lambda: len(fake.answers) == 2, "the refusal and the acknowledgement")
    assert fake.answers[0]["service_name"] == "prepay_order" and fake.answers[0]["state"] == 0
    assert "carries no sign" in fake.answers[0]["errmsg"] or fake.answers[0]["errmsg"].startswith("bad")
    assert bolink.sign_mismatches == 1


@pytest.mark.asyncio
async def test_an_enveloped_message_is_checked_against_its_data_text(fake: FakeBolink) -> None:
    seen: list[SignMismatch] = []
    fake.redeliver = False
    data = '{"state":1,"order_id":"A_1","trade_no":"T_1","total":"2.00"}'
    good = f'{{"service_name":"outpark","sign":"{sign(data, UKEY)}","data":{data}}}'
    forged = good.replace('"2.00"', '"0.01"')
    fake.push(forged.encode())
    fake.push(good.encode())
    bolink = BolinkClient(
        make_settings(downstream_sign="refuse"), base_url=fake.base_url, on_sign_mismatch=seen.append
    )
    async with downstream_of(bolink) as (recorder, _):
        message = await recorder.next()
        assert isinstance(message, OutparkResult) and message.total_fen == 200
    assert len(seen) == 1 and "envelope sign does not match" in seen[0].detail
