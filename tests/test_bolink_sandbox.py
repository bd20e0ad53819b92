"""The Bolink sandbox speaks the protocol: signs, tokens, limits, the pay page, autopay, driver hooks."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
import pytest
import pytest_asyncio

from booth.clouds.bolink import BolinkClient
from booth.clouds.bolink_protocol import (
    DownstreamMessage,
    NolicenceInPark,
    OutparkResult,
    PrepayOrder,
    QueryPrice,
    compact_json,
    encode_envelope,
    nolicence_answer,
    outpark_ack,
    prepay_answer,
    query_price_answer,
    sign,
)
from booth.config import BolinkSettings
from booth.sandbox.bolink_cloud import RATE_LIMIT, BolinkSandbox

UNION, PARK, UKEY = "200208", "21835", "8403A41ED5EF20BC"
LOGIN = {"union_id": UNION, "park_id": PARK, "local_id": "booth1"}
DEADLINE_S = 10.0


@pytest_asyncio.fixture
async def sandbox() -> AsyncIterator[BolinkSandbox]:
    cloud = BolinkSandbox(union_id=UNION, park_id=PARK, ukey=UKEY, poll_hold_s=0.2, redeliver_after_s=5.0)
    await cloud.start()
    yield cloud
    await cloud.stop()


@pytest_asyncio.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield client


async def upload(
    http: httpx.AsyncClient, cloud: BolinkSandbox, service: str, data: Mapping[str, Any], token: str | None
) -> dict[str, Any]:
    body = encode_envelope(service, data, ukey=UKEY, token=token)
    response = await http.post(f"{cloud.base_url}/bpd/upload.do", content=body)
    assert response.status_code == 200
    answer: dict[str, Any] = response.json()
    return answer


async def login(http: httpx.AsyncClient, cloud: BolinkSandbox, local_id: str = "booth1") -> str:
    answer = await upload(http, cloud, "login", LOGIN | {"local_id": local_id}, None)
    assert answer["state"] == 1
    token: str = answer["token"]
    return token


async def download(http: httpx.AsyncClient, cloud: BolinkSandbox, token: str) -> httpx.Response:
    return await http.post(f"{cloud.base_url}/bpd/download.do", content=compact_json({"token": token}))


def booth_client(cloud: BolinkSandbox) -> BolinkClient:
    settings = BolinkSettings(
        base_url="sandbox", union_id=UNION, park_id=PARK, ukey=UKEY, local_id="booth1", poll_timeout_s=3.0
    )
    return BolinkClient(settings, base_url=cloud.base_url)


async def scancode_exit(
    client: BolinkClient, order_id: str, channel: str = "X1", total_fen: int = 800
) -> None:
    await client.outpark(
        car_number="沪C55555",
        in_time=1_700_000_000,
        out_time=1_700_007_200,
        order_id=order_id,
        total_fen=total_fen,
        pay_type="scancode",
        out_channel_id=channel,
        in_channel_id="E1",
        empty_plot=1,
    )


# -- the envelope ------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_bad_sign_is_refused_and_not_recorded(sandbox: BolinkSandbox, http: httpx.AsyncClient) -> None:
    token = await login(http, sandbox)
    data_text = compact_json({"channel_id": "X1", "type": 2})
    body = (
        f'{{"service_name":"code_url","token":"{token}","sign":"{sign(data_text, "not the key")}",'
        f'"data":{data_text}}}'
    ).encode()
    answer = (await http.post(f"{sandbox.base_url}/bpd/upload.do", content=body)).json()
    assert answer["state"] == 0
    assert "sign" in answer["errmsg"]
    assert [name for name, _ in sandbox.calls] == ["login"]


@pytest.mark.asyncio
async def test_malformed_envelope_is_refused_by_name(sandbox: BolinkSandbox, http: httpx.AsyncClient) -> None:
    answer = (
        await http.post(f"{sandbox.base_url}/bpd/upload.do", content=b'{"service_name":"inpark"}')
    ).json()
    assert answer == {"state": 0, "errmsg": "数据格式错误: missing sign"}


@pytest.mark.asyncio
async def test_login_with_a_wrong_park_is_refused(sandbox: BolinkSandbox, http: httpx.AsyncClient) -> None:
    answer = await upload(http, sandbox, "login", LOGIN | {"park_id": "1"}, None)
    assert answer["state"] == 0
    assert "park_id" in answer["errmsg"]


@pytest.mark.asyncio
async def test_tokens_go_stale(sandbox: BolinkSandbox, http: httpx.AsyncClient) -> None:
    first = await login(http, sandbox)
    other_booth = await login(http, sandbox, local_id="booth2")
    second = await login(http, sandbox)  # the same booth logs in again: its first token is stale
    assert len({first, second, other_booth}) == 3
    stale = await upload(http, sandbox, "code_url", {"channel_id": "X1", "type": 2}, first)
    assert stale == {"state": 0, "errmsg": "token_error"}
    assert (await download(http, sandbox, first)).json() == {"state": 0, "errmsg": "token_error"}
    assert (await upload(http, sandbox, "code_url", {"channel_id": "X1", "type": 2}, second))["state"] == 1
    assert (await upload(http, sandbox, "code_url", {"channel_id": "X1", "type": 2}, other_booth))[
        "state"
    ] == 1
    sandbox.expire_tokens()
    assert (await upload(http, sandbox, "code_url", {"channel_id": "X1"}, second))["errmsg"] == "token_error"
    missing = await upload(http, sandbox, "code_url", {"channel_id": "X1"}, None)
    assert missing["state"] == 0 and "token" in missing["errmsg"]


@pytest.mark.asyncio
async def test_body_over_64_kib_gets_413(sandbox: BolinkSandbox, http: httpx.AsyncClient) -> None:
    token = await login(http, sandbox)
    picture = {"order_id": "E1_1", "content": "A" * (70 * 1024), "car_number": "京A1"}
    body = encode_envelope("upload_carpic", picture, ukey=UKEY, token=token)
    response = await http.post(f"{sandbox.base_url}/bpd/upload.do", content=body)
    assert response.status_code == 413
    small = picture | {"content": "QUJD"}
    assert (await upload(http, sandbox, "upload_carpic", small, token))["state"] == 1


@pytest.mark.asyncio
async def test_rate_limit_per_token(sandbox: BolinkSandbox, http: httpx.AsyncClient) -> None:
    token = await login(http, sandbox)
    for _ in range(RATE_LIMIT):
        assert (await upload(http, sandbox, "code_url", {"channel_id": "X1", "type": 2}, token))["state"] == 1
    over = await upload(http, sandbox, "code_url", {"channel_id": "X1", "type": 2}, token)
    assert over == {"state": 0, "errmsg": "request_over_times"}
    other = await login(http, sandbox, local_id="booth2")
    assert (await upload(http, sandbox, "code_url", {"channel_id": "X1", "type": 2}, other))["state"] == 1


@pytest.mark.asyncio
async def test_services_validate_their_data(sandbox: BolinkSandbox, http: httpx.AsyncClient) -> None:
    token = await login(http, sandbox)
    car_in = {"car_number": "京A1", "in_time": 1, "order_id": "E1_1", "in_channel_id": "E1"}
    car_out = {
        "car_number": "京A1",
        "order_id": "E1_1",
        "pay_type": "cash",
        "out_channel_id": "X1",
        "out_time": 5,
    }
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("inpark", car_in | {"order_id": ""}, "missing order_id"),
        ("inpark", car_in | {"order_id": "a-b"}, "order_id must be"),
        ("inpark", car_in | {"in_time": "x"}, "in_time must be unix seconds"),
        ("outpark", car_out | {"total": "1.234"}, "more than two decimals"),
        ("outpark", car_out | {"total": "1", "pay_type": "coins"}, "unknown pay_type"),
        ("outpark", car_out | {"total": "1", "pay_type": "sweepcode"}, "auth_code is required"),
        ("upload_carpic", {"order_id": "E1_1", "content": "not base64!"}, "base64"),
        ("code_url", {"type": 2}, "missing channel_id"),
        ("refund", {"order_id": "E1_1"}, "unknown service_name 'refund'"),
    ]
    for service, data, reason in cases:
        answer = await upload(http, sandbox, service, data, token)
        assert answer["state"] == 0, (service, data)
        assert reason in answer["errmsg"], (answer, reason)
    assert [name for name, _ in sandbox.calls] == ["login"]


@pytest.mark.asyncio
async def test_repeated_message_is_already_processed(sandbox: BolinkSandbox, http: httpx.AsyncClient) -> None:
    token = await login(http, sandbox)
    data = {"car_number": "京A1", "in_time": 1, "order_id": "E1_1", "in_channel_id": "E1", "empty_plot": 1}
    assert (await upload(http, sandbox, "inpark", data, token))["state"] == 1
    again = await upload(http, sandbox, "inpark", data, token)
    assert again["state"] == 0 and again["errmsg"].startswith("数据已处理过")
    assert sandbox.orders["E1_1"].state == "in"


# -- download.do -------------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_download_answers_500_when_there_is_nothing(
    sandbox: BolinkSandbox, http: httpx.AsyncClient
) -> None:
    token = await login(http, sandbox)
    response = await download(http, sandbox, token)
    assert (response.status_code, response.text) == (200, "500")


@pytest.mark.asyncio
async def test_pushed_bytes_are_delivered_as_they_are(
    sandbox: BolinkSandbox, http: httpx.AsyncClient
) -> None:
    token = await login(http, sandbox)
    sandbox.push(b"{broken")
    sandbox.push({"service_name": "update_balance", "car_number": "京A1", "balance": 1.5, "autopay": 1})
    assert (await download(http, sandbox, token)).content == b"{broken"
    second = await download(http, sandbox, token)
    assert second.headers["content-type"].startswith("application/json")
    assert second.json()["service_name"] == "update_balance"


@pytest.mark.asyncio
async def test_state_survives_a_restart_on_the_same_port(
    sandbox: BolinkSandbox, http: httpx.AsyncClient
) -> None:
    token = await login(http, sandbox)
    url = sandbox.base_url
    await sandbox.stop()
    sandbox.push({"service_name": "update_balance", "car_number": "京A1", "balance": 0, "autopay": 0})
    await sandbox.start()
    assert sandbox.base_url == url
    assert (await download(http, sandbox, token)).json()["car_number"] == "京A1"


# -- the pay page and autopay --------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_pay_page_shows_the_waiting_order_and_pays_it(
    sandbox: BolinkSandbox, http: httpx.AsyncClient
) -> None:
    client = booth_client(sandbox)
    try:
        await scancode_exit(client, "X1_9", total_fen=800)
        url = await client.code_url("X1")
        page = await http.get(url)
        assert page.status_code == 200
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert "沪C55555" in page.text and "8.00" in page.text and "支付 / Pay" in page.text
        paid = await http.post(url)
        assert paid.status_code == 200 and "支付成功" in paid.text
        assert sandbox.orders["X1_9"].state == "paid"
        message = await asyncio.wait_for(client.poll(), DEADLINE_S)
        assert isinstance(message, OutparkResult)
        assert (message.state, message.order_id, message.total_fen) == (1, "X1_9", 800)
        nothing = await http.get(url)  # paid: nothing waits at the lane any more
        assert nothing.status_code == 404 and "No order is waiting" in nothing.text
        assert (await http.post(url)).status_code == 404
    finally:
        await client.aclose()


@pytest.mark.asyncio
async def test_pay_page_escapes_what_it_shows(sandbox: BolinkSandbox, http: httpx.AsyncClient) -> None:
    page = await http.get(f"{sandbox.base_url}/pay/%3Cscript%3E")
    assert page.status_code == 404
    assert "<script>" not in page.text and "&lt;script&gt;" in page.text


@pytest.mark.asyncio
async def test_autopay_pays_each_order_after_the_delay() -> None:
    cloud = BolinkSandbox(union_id=UNION, park_id=PARK, ukey=UKEY, poll_hold_s=0.2, autopay_after_s=0.05)
    await cloud.start()
    client = booth_client(cloud)
    try:
        await scancode_exit(client, "X1_1")
        async with asyncio.timeout(DEADLINE_S):
            message = None
            while message is None:
                message = await client.poll()
        assert isinstance(message, OutparkResult)
        assert (message.state, message.order_id, message.total_fen) == (1, "X1_1", 800)
        assert cloud.orders["X1_1"].state == "paid"
        assert cloud.orders["X1_1"].trade_no == message.trade_no
    finally:
        await client.aclose()
        await cloud.stop()


@pytest.mark.asyncio
async def test_wallet_exit_is_paid_at_once(sandbox: BolinkSandbox) -> None:
    client = booth_client(sandbox)
    try:
        await client.outpark(
            car_number="沪C55555",
            in_time=0,
            out_time=600,
            order_id="X1_3",
            total_fen=300,
            pay_type="wallet",
            out_channel_id="X1",
            in_channel_id="E1",
            empty_plot=1,
        )
        message = await asyncio.wait_for(client.poll(), DEADLINE_S)
        assert isinstance(message, OutparkResult)
        assert (message.state, message.pay_type, message.pay_channel) == (1, "wallet", 2)
    finally:
        await client.aclose()


# -- the driver's side: questions that wait for the booth's answer ---------------------------------------


async def answer_as_a_booth(message: DownstreamMessage) -> Mapping[str, Any] | None:
    if isinstance(message, QueryPrice):
        return query_price_answer(
            park_id=message.park_id,
            order_id=message.order_id,
            price_fen=650,
            total_fen=800,
            duration_min=120,
            query_time=1_700_007_200,
            query_order_no=message.query_order_no,
            derate_fen=150,
        )
    if isinstance(message, PrepayOrder):
        return prepay_answer(
            park_id=message.park_id,
            order_id=message.order_id,
            prepay_fen=message.prepay_fen,
            query_time=message.query_time,
        )
    if isinstance(message, NolicenceInPark):
        return nolicence_answer(car_number=message.car_number)
    if isinstance(message, OutparkResult):
        return outpark_ack(order_id=message.order_id, trade_no=message.trade_no)
    return None


@pytest.mark.asyncio
async def test_driver_questions_get_the_booths_answers(sandbox: BolinkSandbox) -> None:
    client = booth_client(sandbox)
    task = asyncio.create_task(client.run_downstream(answer_as_a_booth, lambda online, reason: None))
    try:
        await client.inpark(
            car_number="沪C55555", in_time=1, order_id="E1_42", in_channel_id="E1", empty_plot=1
        )
        price = await sandbox.driver_asks_price(car_number="沪C55555", channel_id="X1")
        assert (price["state"], price["order_id"], price["price"], price["total"]) == (
            1,
            "E1_42",
            "6.50",
            "8.00",
        )
        prepaid = await sandbox.driver_prepays(car_number="沪C55555", prepay_fen=650)
        assert (prepaid["state"], prepaid["order_id"], prepaid["prepay"]) == (1, "E1_42", "6.50")
        assert sandbox.orders["E1_42"].prepaid_fen == 650
        plateless = await sandbox.plateless_car_scans("E1")
        assert plateless["state"] == 1 and plateless["car_number"].startswith("无")
        assert [a["service_name"] for a in sandbox.answers] == [
            "query_price",
            "prepay_order",
            "nolicence_in_park",
        ]
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await client.aclose()


@pytest.mark.asyncio
async def test_driver_question_times_out_when_nobody_answers(sandbox: BolinkSandbox) -> None:
    with pytest.raises(TimeoutError, match="did not answer query_price"):
        await sandbox.driver_asks_price(car_number="京A1", timeout=0.1)


@pytest.mark.asyncio
async def test_driver_pays_needs_an_order(sandbox: BolinkSandbox) -> None:
    with pytest.raises(LookupError, match="no order is waiting for payment at channel 'X9'"):
        await sandbox.driver_pays(channel_id="X9")
    with pytest.raises(LookupError, match="no order 'nope'"):
        await sandbox.driver_pays(order_id="nope")
    assert json.loads(compact_json(sandbox.unacknowledged_results)) == []
