"""Fuzzing the Bolink downstream path: the parser, the sign check and the client's poll loop (issue #13).

Hostile or mangled ``download.do`` answers must never raise anything but BadMessage from the parser, never
show a traceback, never end the poll task, never report Bolink offline, and every message that expects an
answer (by its readable service_name) gets exactly one. Seeded and bounded: the default budget runs in a
few seconds; ``BOOTH_FUZZ_EXAMPLES=5000`` runs a larger one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from booth.clouds.bolink import BolinkClient
from booth.clouds.bolink_protocol import (
    ANSWERED_SERVICES,
    BadMessage,
    DownstreamMessage,
    bad_message_answer,
    check_downstream_signs,
    compact_json,
    encode_envelope,
    parse_downstream,
    sign,
)
from booth.config import BolinkSettings
from tests.bolink_fake import FakeBolink

EXAMPLES = int(os.environ.get("BOOTH_FUZZ_EXAMPLES", "300"))
UKEY = "8403A41ED5EF20BC"
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,  # seeded: the same examples on every run unless the budget changes
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)

SEEDS: list[dict[str, Any]] = [
    {
        "service_name": "outpark",
        "state": 1,
        "order_id": "X1_1700000000_1",
        "trade_no": "20240101120000000001",
        "pay_type": "scancode",
        "pay_channel": 1,
        "out_channel_id": "X1",
        "errmsg": "支付成功",
        "pay_time": 1_700_003_000,
        "total": "12.50",
        "car_number": "京A12345",
        "pay_user_id": "2088000000000001",
        "pay_company": 1,
    },
    {"service_name": "outpark", "state": 0, "order_id": "X1_2", "trade_no": "T2", "errmsg": "支付失败"},
    {"service_name": "outpark", "state": 2, "order_id": "X1_3", "trade_no": "T3", "total": 0.04},
    {
        "service_name": "query_price",
        "car_number": "京A12345",
        "order_id": "X1_1",
        "park_id": "21835",
        "pay_scene": 1,
        "out_channel_id": "X1",
        "query_order_no": "300022",
    },
    {
        "service_name": "prepay_order",
        "car_number": "京GH0093",
        "prepay": 6.5,
        "order_id": "9009",
        "query_order_no": "300022",
        "park_id": "20003",
        "trade_no": "201704012000121122232",
        "sign": "D962D47FB95FBC5A320712509AF74BB4",
        "query_time": 1_490_875_218,
        "prepay_type": 1,
    },
    {
        "service_name": "nolicence_in_park",
        "car_number": "FD45E6A",
        "park_id": "21835",
        "channel_id": "E1",
        "timetemp": 1_490_875_218,
        "pay_user_id": "u1",
    },
    {"service_name": "update_balance", "car_number": "京A12345", "balance": "3.00", "autopay": 1},
]

HOSTILE_TOKENS = [
    "[" * 3000 + "]" * 3000,
    "9" * 5000,
    "-" + "9" * 50,
    "1e400",
    "-1e400",
    "1e-400",
    "NaN",
    "Infinity",
    '"1e400"',
    '"' + "T" * 10_000 + '"',
    '"\\u0000"',
    '"\\ud800"',
    '"\\udfff\\ud800"',
    '"a\\nb"',
    "null",
    "true",
    "{}",
    "[]",
    '{"service_name":"outpark"}',
    '"  outpark  "',
    "0.001",
    "-0",
    "1.0",
    "123456789012345678901234567890",
]

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**60), max_value=10**60),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=80),
    st.sampled_from(["", " ", "1e400", "12.50", "0.001", "-1", "9" * 60, "京A12345", "500"]),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


@st.composite
def mutated_bodies(draw: st.DrawFn) -> bytes:
    """A seed message with some fields replaced, dropped, renamed or broken, maybe enveloped, maybe
    byte-mangled: what a bug, a proxy or a forger could put on the wire."""
    message = dict(draw(st.sampled_from(SEEDS)))
    tokens: dict[str, str] = {}
    for _ in range(draw(st.integers(0, 3))):
        key = draw(st.sampled_from([*sorted(message), "sign", "data", " order_id", "service_name "]))
        how = draw(st.sampled_from(["value", "token", "drop"]))
        if how == "value":
            message[key] = draw(json_values)
        elif how == "token":
            marker = f"@@{len(tokens)}@@"
            tokens[marker] = draw(st.sampled_from(HOSTILE_TOKENS))
            message[key] = marker
        else:
            message.pop(key, None)
    text = json.dumps(message, ensure_ascii=draw(st.booleans()))
    for marker, token in tokens.items():
        text = text.replace(json.dumps(marker), token)
    wrap = draw(st.sampled_from(["flat", "flat", "object", "string"]))
    if wrap != "flat":
        data = text if wrap == "object" else json.dumps(text)
        signed = sign(text, UKEY) if draw(st.booleans()) else "0" * 32
        text = f'{{"service_name":{json.dumps(message.get("service_name"))},"sign":"{signed}","data":{data}}}'
    body = bytearray(text.encode("utf-8", "surrogatepass"))
    for _ in range(draw(st.integers(0, 2))):
        if not body:
            break
        at = draw(st.integers(0, len(body) - 1))
        action = draw(st.sampled_from(["flip", "cut", "insert"]))
        if action == "flip":
            body[at] = draw(st.integers(0, 255))
        elif action == "cut":
            del body[at:]
        else:
            body[at:at] = draw(st.sampled_from([b"{", b"}", b'"', b"\\", b",", b"\x00", b"\xff", b"[[[["]))
    return bytes(body)


any_bodies = st.one_of(
    mutated_bodies(),
    st.binary(max_size=200),
    json_values.map(lambda value: json.dumps(value).encode()),
)


def _assert_refusal_is_usable(bad: BadMessage) -> None:
    text = str(bad)
    assert text.isprintable() and len(text) < 400, text
    answer = bad_message_answer(bad)
    if bad.service_name in ANSWERED_SERVICES:
        assert answer is not None and answer["state"] == 0
        encode_envelope(answer["service_name"], answer, ukey=UKEY, token="t")  # it can always be sent
    else:
        assert answer is None


@FUZZ
@given(any_bodies)
def test_the_parser_and_the_sign_check_are_total(body: bytes) -> None:
    try:
        message = parse_downstream(body)
    except BadMessage as bad:
        _assert_refusal_is_usable(bad)
    else:
        if message is not None:
            assert message.service_name in {s["service_name"] for s in SEEDS}
            compact_json(dict(message.raw))  # what was read can be logged, stored and echoed
    check_downstream_signs(body, UKEY)


def test_seeded_mutations_never_escape_the_parser() -> None:
    """The #13 reproduction: thousands of seeded random mutations (about 1 in 12 raised before)."""
    rng = random.Random(13)
    for _ in range(EXAMPLES * 10):
        body = _random_mutation(rng)
        try:
            parse_downstream(body)
        except BadMessage as bad:
            _assert_refusal_is_usable(bad)
        check_downstream_signs(body, UKEY)


def _random_mutation(rng: random.Random) -> bytes:
    message = dict(rng.choice(SEEDS))
    key = rng.choice(sorted(message))
    token = rng.choice(HOSTILE_TOKENS)
    text = json.dumps({**message, key: "@@"}, ensure_ascii=False).replace('"@@"', token)
    body = bytearray(text.encode("utf-8"))
    for _ in range(rng.randint(0, 3)):
        body[rng.randrange(len(body))] = rng.randrange(256)
    return bytes(body)


# -- the live path: a real client against a loopback Bolink that serves the fuzzed bodies ------------------


def _is_status_answer(body: bytes) -> bool:
    """download.do's own "no" (``{"state":0,...}``) or "no message": not a message, so not fuzz input."""
    if body.strip() in (b"", b"500"):
        return True
    try:
        obj = json.loads(body)
    except (ValueError, RecursionError):
        return False
    return isinstance(obj, dict) and set(obj) <= {"state", "errmsg", "errcode", "code", "msg"}


def _expects_answer(body: bytes) -> bool:
    try:
        message = parse_downstream(body)
    except BadMessage as bad:
        return bad.service_name in ANSWERED_SERVICES
    return message is not None and message.service_name in ANSWERED_SERVICES


class _Trap(logging.Handler):
    """Collects what must never happen: a traceback or an error line."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.problems: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info or record.levelno >= logging.ERROR:
            self.problems.append(record.getMessage())


async def _serve_and_check(bodies: list[bytes], policy: str) -> None:
    fake = FakeBolink(ukey=UKEY, redeliver=False, hold_s=0.02)
    await fake.start()
    settings_ = BolinkSettings(
        base_url="sandbox",
        union_id="200208",
        park_id="21835",
        ukey=UKEY,
        local_id="booth1",
        request_timeout_s=5.0,
        poll_timeout_s=5.0,
        request_budget_per_10s=100_000,
        downstream_sign=policy,
    )
    client = BolinkClient(settings_, base_url=fake.base_url, on_sign_mismatch=lambda _: None)
    statuses: list[bool] = []
    handled: list[str] = []

    async def handler(message: DownstreamMessage) -> Mapping[str, Any] | None:
        handled.append(message.service_name)
        if message.service_name in ANSWERED_SERVICES:
            return {"service_name": message.service_name, "state": 0, "errmsg": "fuzz"}
        return None

    trap = _Trap()
    log = logging.getLogger("booth.bolink")
    log.addHandler(trap)
    task = asyncio.create_task(client.run_downstream(handler, lambda online, _: statuses.append(online)))
    sentinel = compact_json({**SEEDS[0], "order_id": "SENTINEL"}).encode()
    bodies = [*bodies, sentinel]  # after all the junk, a good result must still be handled
    try:
        for body in bodies:
            fake.push(body)
        expected = sum(_expects_answer(body) for body in bodies)
        async with asyncio.timeout(60):
            while fake.pending or len(fake.answers) < expected:
                assert not task.done(), "the poll task ended"
                await asyncio.sleep(0.01)
        assert not task.done(), "the poll task ended"
        assert len(fake.deliveries) == len(bodies)
        assert len(fake.answers) == expected
        assert statuses and all(statuses), "Bolink was reported offline"
        assert not fake.bad_uploads, fake.bad_uploads
        assert trap.problems == []
        assert handled[-1] == "outpark"
    finally:
        log.removeHandler(trap)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await client.aclose()
        await fake.stop()


def _live(bodies: list[bytes], policy: str) -> None:
    asyncio.run(_serve_and_check([b for b in bodies if not _is_status_answer(b)], policy))


@pytest.mark.parametrize("policy", ["warn", "refuse"])
def test_the_poll_loop_survives_seeded_mutations(policy: str) -> None:
    rng = random.Random(1300 + len(policy))
    _live([_random_mutation(rng) for _ in range(EXAMPLES)], policy)


@settings(FUZZ, max_examples=max(4, EXAMPLES // 40))
@given(st.lists(any_bodies, min_size=1, max_size=25), st.sampled_from(["warn", "refuse"]))
def test_the_poll_loop_survives_generated_batches(bodies: list[bytes], policy: str) -> None:
    _live(bodies, policy)
