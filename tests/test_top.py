"""TOP client: the documentation's signing vectors, backflow parameters, answer classes, and real loopback
calls against the TOP router emulator."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from pydantic import ValidationError

from booth.clouds.top import (
    BACKFLOW,
    TopClient,
    TopDataError,
    TopOutcome,
    build_backflow,
    classify_top,
    read_top_response,
    top_param_text,
    top_sign,
    top_sign_content,
)
from booth.config import SIGN_METHODS, TmallSettings
from booth.sandbox.top_router import TopRouterEmulator

VECTORS = Path(__file__).parent / "vectors" / "vectors.json"
APP_KEY, SECRET, MALL = "12345678", "s3cret", 123
ARRIVED = datetime(2024, 5, 1, 1, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def vector() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(VECTORS.read_text(encoding="utf-8"))["top"]
    return data


def settings(**overrides: Any) -> TmallSettings:
    values: dict[str, Any] = {
        "app_key": APP_KEY,
        "app_secret": SECRET,
        "mall_id": MALL,
        "request_timeout_s": 5.0,
    }
    values.update(overrides)
    return TmallSettings(**values)


def offline(**overrides: Any) -> TopClient:
    """A client for building requests only (it is never asked to send)."""
    return TopClient(
        settings(**overrides), gateway_url="http://127.0.0.1:9/router/rest", http=httpx.AsyncClient()
    )


@pytest_asyncio.fixture
async def router() -> AsyncIterator[TopRouterEmulator]:
    async with TopRouterEmulator(APP_KEY, SECRET) as emulator:
        yield emulator


@pytest_asyncio.fixture
async def client(router: TopRouterEmulator) -> AsyncIterator[TopClient]:
    async with TopClient(settings(), gateway_url=router.gateway_url) as top:
        yield top


def arrive(car_no: str = "浙A12345") -> dict[str, str]:
    return build_backflow("arrive", car_no, MALL, start_time=ARRIVED)


# -- vectors -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", SIGN_METHODS)
def test_documentation_example_signs_as_documented(vector: dict[str, Any], method: str) -> None:
    example = vector["doc_example"]
    assert top_sign_content(example["params"]) == example["concat"]
    assert top_sign(example["params"], example["secret"], method) == example[method]


def test_backflow_request_reproduces_the_vector(vector: dict[str, Any]) -> None:
    example = vector["backflow_example"]
    expected = example["params"]
    business = build_backflow(
        "pay",
        "浙A.66666",
        123,
        pay_time=datetime(2019, 2, 14, 0, 0, tzinfo=UTC),  # 08:00 in China
        park_duration_minutes=120,
        extend={"key": "value"},
    )
    top = offline(
        app_key=expected["app_key"], app_secret=example["secret"], sign_method=example["sign_method"]
    )
    params = top.request_params(BACKFLOW, business, timestamp=expected["timestamp"])
    assert {k: v for k, v in params.items() if k != "sign"} == expected
    assert params["sign"] == example["sign"]


def test_sign_content_skips_sign_and_empty_values() -> None:
    assert top_sign_content({"b": "2", "a": "", "sign": "X", "c": "3"}) == "b2c3"
    with pytest.raises(ValueError, match="sign_method"):
        top_sign({"a": "1"}, SECRET, "sha1")


def test_parameter_texts() -> None:
    assert top_param_text("extend", {"k": "值", "n": [1, True]}) == '{"k":"值","n":[1,true]}'
    assert top_param_text("flag", False) == "false"
    assert top_param_text("n", 7) == "7"
    assert top_param_text("t", datetime(2024, 1, 1, 16, 0, tzinfo=UTC)) == "2024-01-02 00:00:00"
    assert top_param_text("x", None) == ""
    with pytest.raises(ValueError, match="x: cannot send a float"):
        top_param_text("x", 1.5)
    with pytest.raises(ValueError, match="naive"):
        top_param_text("t", datetime(2024, 1, 1))


@pytest.fixture
def new_york(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("new_york")
def test_timestamp_is_china_time_whatever_the_machine_zone() -> None:
    top = TopClient(
        settings(), gateway_url="http://127.0.0.1:9/", http=httpx.AsyncClient(),
        clock=lambda: datetime(2024, 6, 30, 20, 30, tzinfo=UTC),
    )  # fmt: skip
    assert top.request_params(BACKFLOW, arrive())["timestamp"] == "2024-07-01 04:30:00"


# -- backflow parameters -----------------------------------------------------------------------------------


def test_backflow_per_action() -> None:
    assert arrive() == {
        "car_no": "浙A12345",
        "action": "arrive",
        "mall_id": "123",
        "start_time": "2024-05-01 09:00:00",
    }
    left = build_backflow(
        "leave", "浙A12345", "123", end_time=ARRIVED + timedelta(hours=2), user_nick="t***1"
    )
    assert left["end_time"] == "2024-05-01 11:00:00" and left["user_nick"] == "t***1"
    paid = build_backflow(
        "pay",
        "浙A12345",
        MALL,
        pay_time=ARRIVED,
        park_duration_minutes=0,
        mobile="15988855789",
        coupon_id="C1",
    )
    assert (paid["park_duration"], paid["mobile"], paid["coupon_id"]) == ("0", "15988855789", "C1")
    assert "extend" not in paid and "car_type" not in paid


@pytest.mark.parametrize(
    ("action", "kwargs", "problem"),
    [
        ("arrive", {}, "start_time: required when action is 'arrive'"),
        ("leave", {"start_time": ARRIVED}, "end_time: required"),
        ("pay", {"pay_time": ARRIVED}, "park_duration_minutes: required"),
        ("pay", {"pay_time": ARRIVED, "park_duration_minutes": -1}, "park_duration_minutes: whole minutes"),
        ("pay", {"pay_time": ARRIVED, "park_duration_minutes": 1.5}, "park_duration_minutes: whole minutes"),
        ("park", {}, "action: one of"),
        ("arrive", {"start_time": datetime(2024, 5, 1)}, "start_time: naive"),
        ("arrive", {"start_time": ARRIVED, "mobile": "1598885x"}, "mobile: digits"),
        ("arrive", {"start_time": ARRIVED, "extend": ["a"]}, "extend: a JSON object"),
        ("arrive", {"start_time": ARRIVED, "car_no": " "}, "car_no: required"),
        ("arrive", {"start_time": ARRIVED, "mall_id": "12a"}, "mall_id: a number"),
    ],
)
def test_backflow_refuses_bad_fields_by_name(action: Any, kwargs: dict[str, Any], problem: str) -> None:
    kwargs = dict(kwargs)
    car_no = kwargs.pop("car_no", "浙A12345")
    mall_id = kwargs.pop("mall_id", MALL)
    with pytest.raises(TopDataError, match=problem):
        build_backflow(action, car_no, mall_id, **kwargs)


# -- answers -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "sub_code", "outcome"),
    [
        (7, "accesscontrol.limited", TopOutcome.RETRY),
        (10, "", TopOutcome.RETRY),
        (15, "isp.remote-service-error", TopOutcome.RETRY),
        (50, "isp.unknown-error", TopOutcome.RETRY),
        (15, "isv.invalid-parameter", TopOutcome.FATAL),
        (50, "isv.invalid-parameter", TopOutcome.FATAL),
        (11, "", TopOutcome.FATAL),
        (25, "", TopOutcome.FATAL),
        (27, "invalid-sessionkey", TopOutcome.FATAL),
        (31, "", TopOutcome.FATAL),
        (40, "isv.missing-parameter:car_no", TopOutcome.FATAL),
        (43, "", TopOutcome.FATAL),
        (None, "", TopOutcome.RETRY),
    ],
)
def test_classification(code: int | None, sub_code: str, outcome: TopOutcome) -> None:
    assert classify_top(code, sub_code) is outcome


def _node(dto: object) -> bytes:
    return json.dumps(
        {"tmall_popupstore_park_backflow_response": {"result_dto": dto, "request_id": "r1"}}
    ).encode()


@pytest.mark.parametrize(
    ("status", "body", "outcome", "detail"),
    [
        (200, _node({"success": True, "data": True}), TopOutcome.SUCCESS, ""),
        (200, _node({"success": True, "data": False, "error_code": "-1"}), TopOutcome.FATAL, "data=False"),
        (200, _node({"success": False, "data": True}), TopOutcome.FATAL, "success=False"),
        (200, _node({"success": "true", "data": "true"}), TopOutcome.FATAL, "success='true'"),
        (200, _node(None), TopOutcome.RETRY, "no result_dto"),
        (
            200,
            b'{"error_response":{"code":"7","msg":"App Call Limited","sub_msg":"ban 3 more seconds"}}',
            TopOutcome.RETRY,
            "App Call Limited",
        ),
        (200, b'{"something_else":{}}', TopOutcome.RETRY, "neither"),
        (200, b"<error_response><code>50</code></error_response>", TopOutcome.RETRY, "not JSON"),
        (200, b"[]", TopOutcome.RETRY, "not a JSON object"),
        (503, b"busy", TopOutcome.RETRY, "HTTP 503"),
    ],
)
def test_answers(status: int, body: bytes, outcome: TopOutcome, detail: str) -> None:
    result = read_top_response(BACKFLOW, status, body)
    assert result.outcome is outcome, result.describe()
    assert detail in result.describe()


def test_a_call_limit_says_how_long_the_ban_lasts() -> None:
    body = b'{"error_response":{"code":7,"sub_msg":"This ban will last for 12 more seconds"}}'
    result = read_top_response(BACKFLOW, 200, body)
    assert (result.code, result.retry_after_s) == (7, 12.0)


def test_settings_refuse_bad_values_by_name() -> None:
    for overrides, problem in (
        ({"sign_method": "sha1"}, "sign_method"),
        ({"app_secret": " "}, "app_secret"),
        ({"mall_id": 0}, "mall_id"),
        ({"gateway_url": "eco.taobao.com"}, "gateway_url"),
        ({"actions": ("arrive", "park")}, "actions"),
        ({"secret": "x"}, "secret"),
    ):
        with pytest.raises(ValidationError, match=problem):
            settings(**overrides)
    assert "s3cret" not in repr(settings())
    with pytest.raises(ValueError, match="pass the running emulator"):
        TopClient(settings(gateway_url="sandbox"))


# -- against the router emulator over loopback -------------------------------------------------------------


@pytest.mark.asyncio
@pytest.mark.parametrize("sign_method", SIGN_METHODS)
async def test_every_sign_method_is_accepted(router: TopRouterEmulator, sign_method: str) -> None:
    async with TopClient(settings(sign_method=sign_method), gateway_url=router.gateway_url) as top:
        result = await top.backflow(arrive())
    assert result.outcome is TopOutcome.SUCCESS, result.describe()
    assert router.accepted == {("浙A12345", "arrive", "123"): 1}
    assert router.calls[-1]["sign_method"] == sign_method


@pytest.mark.asyncio
async def test_arrive_pay_leave_are_counted_per_car_action_and_mall(
    client: TopClient, router: TopRouterEmulator
) -> None:
    stay = [
        arrive(),
        build_backflow(
            "pay", "浙A12345", MALL, pay_time=ARRIVED + timedelta(hours=2), park_duration_minutes=120,
            extend={"booth": "B1"},
        ),
        build_backflow("leave", "浙A12345", MALL, end_time=ARRIVED + timedelta(hours=2, minutes=3)),
        arrive("沪B67890"),
    ]  # fmt: skip
    for params in stay:
        result = await client.backflow(params)
        assert result.done, result.describe()
    assert router.accepted == {
        ("浙A12345", "arrive", "123"): 1,
        ("浙A12345", "pay", "123"): 1,
        ("浙A12345", "leave", "123"): 1,
        ("沪B67890", "arrive", "123"): 1,
    }
    assert json.loads(router.backflows[1]["extend"]) == {"booth": "B1"}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("fault", "outcome", "code"),
    [
        ("7", TopOutcome.RETRY, 7),
        ("15", TopOutcome.RETRY, 15),
        ("25", TopOutcome.FATAL, 25),
        ("html", TopOutcome.RETRY, None),
        ("http500", TopOutcome.RETRY, None),
        ("hang", TopOutcome.RETRY, None),
        ("refused", TopOutcome.FATAL, None),
    ],
)
async def test_each_failure_has_its_outcome(
    client: TopClient, router: TopRouterEmulator, fault: Any, outcome: TopOutcome, code: int | None
) -> None:
    router.fail_next(1, fault)
    if fault == "hang":
        async with TopClient(settings(request_timeout_s=0.3), gateway_url=router.gateway_url) as impatient:
            failed = await impatient.backflow(arrive())
        assert "no complete answer within 0.3 s" in failed.msg
    else:
        failed = await client.backflow(arrive())
    assert (failed.outcome, failed.code) == (outcome, code), failed.describe()
    if fault == "7":
        assert failed.retry_after_s == 1.0
    assert router.accepted == {}
    again = await client.backflow(arrive())
    assert again.outcome is TopOutcome.SUCCESS
    assert router.accepted == {("浙A12345", "arrive", "123"): 1}


@pytest.mark.asyncio
async def test_a_wrong_secret_is_an_invalid_signature(router: TopRouterEmulator) -> None:
    async with TopClient(settings(app_secret="not-it"), gateway_url=router.gateway_url) as top:
        result = await top.backflow(arrive())
    assert (result.outcome, result.code) == (TopOutcome.FATAL, 25)
    assert router.accepted == {}


@pytest.mark.asyncio
async def test_a_clock_eleven_minutes_off_is_an_invalid_timestamp(router: TopRouterEmulator) -> None:
    def late() -> datetime:
        return datetime.now(UTC) - timedelta(minutes=11)

    async with TopClient(settings(), gateway_url=router.gateway_url, clock=late) as top:
        result = await top.backflow(arrive())
    assert (result.outcome, result.code) == (TopOutcome.FATAL, 31)


@pytest.mark.asyncio
async def test_session_is_sent_when_configured() -> None:
    async with TopRouterEmulator(APP_KEY, SECRET, session="sess-1") as router:
        async with TopClient(settings(session="sess-1"), gateway_url=router.gateway_url) as top:
            assert (await top.backflow(arrive())).outcome is TopOutcome.SUCCESS
        async with TopClient(settings(), gateway_url=router.gateway_url) as top:
            missing = await top.backflow(arrive())
    assert (missing.outcome, missing.code) == (TopOutcome.FATAL, 26)


@pytest.mark.asyncio
async def test_a_missing_required_argument_is_fatal(client: TopClient, router: TopRouterEmulator) -> None:
    result = await client.execute(BACKFLOW, {"car_no": "浙A12345", "action": "arrive", "mall_id": "123"})
    assert (result.outcome, result.code, result.sub_code) == (
        TopOutcome.FATAL,
        40,
        "isv.missing-parameter:start_time",
    )
    assert router.accepted == {}


@pytest.mark.asyncio
async def test_a_request_that_cannot_be_built_is_fatal_and_not_sent(
    client: TopClient, router: TopRouterEmulator
) -> None:
    assert (await client.execute(BACKFLOW, {"sign": "forged"})).outcome is TopOutcome.FATAL
    assert (await client.execute(BACKFLOW, {"when": 1.5})).outcome is TopOutcome.FATAL
    assert (await client.execute("no such method", {})).outcome is TopOutcome.FATAL
    assert router.calls == []


@pytest.mark.asyncio
async def test_a_refused_connection_is_retry() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with TopClient(settings(), gateway_url=f"http://127.0.0.1:{port}/router/rest") as top:
        result = await top.backflow(arrive())
    assert result.outcome is TopOutcome.RETRY and "ConnectError" in result.msg
