"""Bolink wire format: the verified signature vector, envelope byte-exactness, downstream parsing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from booth.clouds.bolink_protocol import (
    BadMessage,
    BadSign,
    NolicenceInPark,
    OutparkResult,
    PrepayOrder,
    QueryPrice,
    UpdateBalance,
    answer_state,
    bad_message_answer,
    check_downstream_signs,
    compact_json,
    encode_envelope,
    is_already_processed,
    is_token_invalid,
    nolicence_answer,
    outpark_ack,
    parse_downstream,
    prepay_answer,
    query_price_answer,
    sign,
    verify_envelope,
)

VECTORS = Path(__file__).parent / "vectors" / "vectors.json"
UKEY = "8403A41ED5EF20BC"


@pytest.fixture(scope="module")
def vector() -> dict[str, str]:
    data: dict[str, str] = json.loads(VECTORS.read_text(encoding="utf-8"))["bolink"]
    return data


def _data_text_in(body: bytes) -> bytes:
    """The ``data`` value's text in an envelope this module built: after '"data":' up to the final '}'."""
    start = body.index(b'"data":') + len(b'"data":')
    assert body.endswith(b"}")
    return body[start:-1]


def _envelope(service_name: str, data_text: str, *, ukey: str = UKEY, token: str | None = "t0") -> bytes:
    """A hand-built envelope around an arbitrary data text (as another implementation might send)."""
    token_part = f',"token":"{token}"' if token is not None else ""
    sig = sign(data_text, ukey)
    return f'{{"service_name":"{service_name}"{token_part},"sign":"{sig}","data":{data_text}}}'.encode()


# -- signing and envelopes ---------------------------------------------------------------------------------


def test_sign_reproduces_the_verified_vector(vector: dict[str, str]) -> None:
    assert sign(vector["data_text"], vector["ukey"]) == vector["sign"]


def test_login_envelope_signs_the_exact_vector_text_and_carries_no_token(vector: dict[str, str]) -> None:
    data = json.loads(vector["data_text"])  # key order union_id, park_id, local_id is kept
    body = encode_envelope("login", data, ukey=vector["ukey"], token=None)
    assert _data_text_in(body) == vector["data_text"].encode()
    envelope = json.loads(body)
    assert envelope["sign"] == vector["sign"]
    assert "token" not in envelope
    assert verify_envelope(body, vector["ukey"]) == ("login", None, data)


def test_envelope_signs_the_bytes_it_sends_with_chinese_plates() -> None:
    data = {
        "car_number": "京A·12345",
        "remark": "收到停车费-粤B00000",
        "total": "12.50",
        "in_time": 1490875200,
    }
    body = encode_envelope("outpark", data, ukey=UKEY, token="tok")
    sent = _data_text_in(body)
    assert "京A·12345".encode() in sent  # real UTF-8, not \\u escapes
    assert b"\\u" not in body
    assert sent == compact_json(data).encode()
    assert json.loads(body)["sign"] == sign(sent.decode("utf-8"), UKEY)
    assert verify_envelope(body, UKEY) == ("outpark", "tok", data)


def test_envelope_refuses_floats_so_money_goes_as_text() -> None:
    with pytest.raises(TypeError, match=r"data\.total"):
        encode_envelope("outpark", {"total": 12.5}, ukey=UKEY, token="t")


def test_verify_checks_the_raw_data_text_not_a_reserialisation() -> None:
    spaced = '{ "car_number" : "京A12345",\n  "in_time": 1490875200 }'
    body = _envelope("inpark", spaced)
    assert verify_envelope(body, UKEY) == ("inpark", "t0", {"car_number": "京A12345", "in_time": 1490875200})
    # a sign made over the compact re-serialisation of the same data does not match what was sent
    compact = compact_json(json.loads(spaced))
    forged = body.replace(sign(spaced, UKEY).encode(), sign(compact, UKEY).encode())
    with pytest.raises(BadSign, match="bad sign"):
        verify_envelope(forged, UKEY)


GOOD_DATA = '{"order_id":"A1_1"}'


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"\xff\xfe{}", "not UTF-8"),
        (b"{not json", "not valid JSON"),
        (b"[1,2]", "not a JSON object"),
        (b'{"sign":"' + b"A" * 32 + b'","data":{}}', "missing service_name"),
        (b'{"service_name":"","sign":"x","data":{}}', "service_name must be a non-empty string"),
        (b'{"service_name":"inpark","token":"t","data":{}}', "missing sign"),
        (b'{"service_name":"inpark","token":"t","sign":"abc","data":{}}', "32 upper-case hex"),
        (
            b'{"service_name":"inpark","token":"t","sign":"'
            + sign("{}", UKEY).lower().encode()
            + b'","data":{}}',
            "32 upper-case hex",
        ),
        (b'{"service_name":"inpark","token":"t","sign":"' + b"A" * 32 + b'"}', "missing data"),
        (
            b'{"service_name":"inpark","token":"t","sign":"' + sign('"x"', UKEY).encode() + b'","data":"x"}',
            "data is not a JSON object but a string",
        ),
        (
            b'{"service_name":"inpark","token":"t","sign":"' + sign("[1]", UKEY).encode() + b'","data":[1]}',
            "data is not a JSON object but an array",
        ),
        (
            b'{"service_name":"inpark","token":5,"sign":"' + b"A" * 32 + b'","data":{}}',
            "token must be a string",
        ),
        (_envelope("inpark", GOOD_DATA) + b"xx", "extra text after the object"),
        (_envelope("inpark", GOOD_DATA)[:-1] + b',"data":{}}', "duplicate key 'data'"),
        (_envelope("inpark", '{"total":NaN}'), "NaN is not a number"),
        (_envelope("inpark", GOOD_DATA).replace(b"A1_1", b"A1_2"), "bad sign"),
        (_envelope("inpark", GOOD_DATA, ukey="another key"), "bad sign"),
    ],
)
def test_verify_envelope_refuses_naming_the_problem(body: bytes, reason: str) -> None:
    with pytest.raises(BadMessage, match=reason):
        verify_envelope(body, UKEY)


def test_bad_sign_is_its_own_kind_and_names_the_service() -> None:
    with pytest.raises(BadSign) as caught:
        verify_envelope(_envelope("outpark", GOOD_DATA, ukey="wrong"), UKEY)
    assert caught.value.service_name == "outpark"


# -- answers from upload.do --------------------------------------------------------------------------------


def test_answer_helpers_recognise_token_and_repeat_answers() -> None:
    assert answer_state({"state": "1"}) == 1
    assert answer_state({"state": "yes"}) is None
    assert is_token_invalid({"state": 0, "errmsg": "token_error"})
    assert is_token_invalid({"state": 0, "errmsg": "Token无效"})
    assert not is_token_invalid({"state": 1, "errmsg": "token ok"})
    assert not is_token_invalid({"state": 0, "errmsg": "签名无效"})
    assert is_already_processed({"state": 0, "errmsg": "数据已处理过..."})
    assert not is_already_processed({"state": 1, "errmsg": "数据已处理过..."})


# -- downstream messages -----------------------------------------------------------------------------------


def test_parse_payment_result_as_in_bolinks_example() -> None:
    # Bolink's own example, including its stray spaces in keys and values (quotes fixed to ASCII)
    body = (
        '{"state":1,"pay_type":"wallet","pay_channel":2,"errmsg":"支付成功","service_name":"outpark",'
        '"trade_no":"201704012000121122232","total":0.04,"pay_time":1490875200,"order_id":"325101",'
        '" car_number":"京GH0093"," out_channel_id":" A1","arrive_money":0.01,"account_type":1,"fee":0.0}'
    ).encode()
    message = parse_downstream(body)
    assert message == OutparkResult(
        state=1,
        order_id="325101",
        trade_no="201704012000121122232",
        pay_type="wallet",
        pay_channel=2,
        out_channel_id="A1",
        total_fen=4,
        pay_time=1490875200,
        car_number="京GH0093",
        errmsg="支付成功",
        pay_user_id="",
        pay_company=None,
        raw={},
    )
    assert isinstance(message, OutparkResult)
    assert message.paid
    assert message.service_name == "outpark"
    assert message.raw["arrive_money"] == 0.01
    assert hash(message) == hash(parse_downstream(body))


def test_parse_accepts_numeric_strings_and_the_envelope_form() -> None:
    inner = {"state": "1", "order_id": 325101, "trade_no": "T1", "total": "12.50", "pay_time": "1490875200"}
    flat = parse_downstream(compact_json({"service_name": "outpark", **inner}).encode())
    wrapped = parse_downstream(compact_json({"service_name": "outpark", "sign": "X", "data": inner}).encode())
    as_text = parse_downstream(
        compact_json({"service_name": "outpark", "data": compact_json(inner)}).encode()
    )
    assert flat == wrapped == as_text
    assert isinstance(flat, OutparkResult)
    assert (flat.state, flat.order_id, flat.total_fen, flat.pay_time) == (1, "325101", 1250, 1490875200)


def test_parse_a_failed_or_paying_result_needs_no_trade_no_or_total() -> None:
    message = parse_downstream(b'{"service_name":"outpark","state":2,"order_id":"A1_7","errmsg":"paying"}')
    assert isinstance(message, OutparkResult)
    assert (message.state, message.trade_no, message.total_fen, message.paid) == (2, "", 0, False)


def test_parse_query_price() -> None:
    message = parse_downstream(
        compact_json(
            {
                "service_name": "query_price",
                "car_number": "京A12345",
                "order_id": "A1_1",
                "park_id": "21835",
                "pay_scene": 1,
                "out_channel_id": "X1",
                "query_order_no": "Q1",
            }
        ).encode()
    )
    assert message == QueryPrice(
        car_number="京A12345",
        order_id="A1_1",
        park_id="21835",
        pay_scene=1,
        out_channel_id="X1",
        query_order_no="Q1",
        raw={},
    )


def test_parse_prepay_order() -> None:
    message = parse_downstream(
        compact_json(
            {
                "service_name": "prepay_order",
                "car_number": "京A12345",
                "prepay": 5.5,
                "order_id": "A1_1",
                "query_order_no": "Q1",
                "park_id": "21835",
                "trade_no": "T9",
                "sign": "whatever",
                "query_time": 1490875200,
                "prepay_type": 1,
            }
        ).encode()
    )
    assert message == PrepayOrder(
        car_number="京A12345",
        prepay_fen=550,
        order_id="A1_1",
        query_order_no="Q1",
        park_id="21835",
        trade_no="T9",
        query_time=1490875200,
        prepay_type="1",
        raw={},
    )


def test_parse_nolicence_in_park() -> None:
    message = parse_downstream(
        '{"service_name":"nolicence_in_park","car_number":"无A1B2C3D","park_id":"21835","channel_id":"E1",'
        '"timetemp":1490875200,"pay_user_id":"2088"}'.encode()
    )
    assert message == NolicenceInPark(
        car_number="无A1B2C3D",
        park_id="21835",
        channel_id="E1",
        timetemp=1490875200,
        pay_user_id="2088",
        raw={},
    )


@pytest.mark.parametrize(("autopay", "expected"), [(1, True), ("0", False), (True, True)])
def test_parse_update_balance(autopay: Any, expected: bool) -> None:
    body = compact_json(
        {"service_name": "update_balance", "car_number": "京A12345", "balance": "30.00", "autopay": autopay}
    )
    message = parse_downstream(body.encode())
    assert message == UpdateBalance(car_number="京A12345", balance_fen=3000, autopay=expected, raw={})


@pytest.mark.parametrize("body", [b"", b"500", b"  500\n", b"\n"])
def test_no_message_answers(body: bytes) -> None:
    assert parse_downstream(body) is None


def _outpark(**fields: Any) -> bytes:
    base: dict[str, Any] = {
        "service_name": "outpark",
        "state": 1,
        "order_id": "A1_1",
        "trade_no": "T1",
        "total": 1,
    }
    base.update(fields)
    return compact_json({k: v for k, v in base.items() if v is not None}).encode()


MALFORMED: list[tuple[bytes, str, str | None]] = [
    (b"{not json", "not valid JSON", None),
    (b"\xff\xfe", "not UTF-8", None),
    (b"[1,2]", "not a JSON object but an array", None),
    (b'"hello"', "not a JSON object but a string", None),
    (b'{"state":1,"order_id":"A1_1"}', "missing service_name", None),
    (b'{"service_name":5}', "service_name must be a non-empty string", None),
    (b'{"service_name":"refund","order_id":"A1_1"}', "unknown service_name 'refund'", "refund"),
    (_outpark(state=None), "missing state", "outpark"),
    (_outpark(state="paid"), "state: expected a non-negative integer, got 'paid'", "outpark"),
    (_outpark(state=5), r"state: unknown value 5 \(expected 0 fail, 1 paid, 2 paying\)", "outpark"),
    (_outpark(state=True), "state: expected an integer, got a boolean", "outpark"),
    (_outpark(state=1.5), "state: expected a non-negative integer, got 1.5", "outpark"),
    (_outpark(order_id=None), "missing order_id", "outpark"),
    (_outpark(order_id=" "), "order_id: must not be empty", "outpark"),
    (_outpark(order_id={"id": 1}), "order_id: expected text, got an object", "outpark"),
    (_outpark(trade_no=None), "missing trade_no", "outpark"),
    (_outpark(total=None), "missing total", "outpark"),
    (_outpark(total="abc"), "total: not a number: 'abc'", "outpark"),
    (_outpark(total=0.001), "total: more than two decimals", "outpark"),
    (_outpark(total=-1), "total: not a valid amount", "outpark"),
    (_outpark(total=True), "total: expected an amount in yuan", "outpark"),
    (_outpark(pay_channel="WeChat"), "pay_channel: expected a non-negative integer", "outpark"),
    (_outpark().replace(b'"total":1', b'"total":NaN'), "NaN is not a number", "outpark"),
    (b'{"service_name":"outpark","data":[1]}', "data is not a JSON object but an array", "outpark"),
    (b'{"service_name":"outpark","data":"{oops"}', "data is a string that is not a JSON object", "outpark"),
    (
        b'{"service_name":"outpark","data":{"service_name":"query_price"}}',
        "service_name 'outpark' of the envelope differs from 'query_price'",
        "outpark",
    ),
    (b'{"service_name":"query_price","car_number":"A"}', "missing pay_scene", "query_price"),
    (b'{"service_name":"query_price","pay_scene":7}', "pay_scene: unknown value 7", "query_price"),
    (
        b'{"service_name":"prepay_order","prepay":"1.234","order_id":"A1_1","trade_no":"T"}',
        "prepay: more than two decimals",
        "prepay_order",
    ),
    (b'{"service_name":"prepay_order","prepay":"1","order_id":"A1_1"}', "missing trade_no", "prepay_order"),
    (b'{"service_name":"nolicence_in_park","car_number":"X"}', "missing channel_id", "nolicence_in_park"),
    (
        b'{"service_name":"update_balance","car_number":"X","balance":1,"autopay":"maybe"}',
        "autopay: expected a non-negative integer, got 'maybe'",
        "update_balance",
    ),
    (
        b'{"service_name":"update_balance","car_number":"X","balance":1,"autopay":3}',
        r"autopay: unknown value 3 \(expected 0 off, 1 on\)",
        "update_balance",
    ),
]


@pytest.mark.parametrize(("body", "reason", "service_name"), MALFORMED)
def test_malformed_downstream_messages_are_refused_by_name(
    body: bytes, reason: str, service_name: str | None
) -> None:
    with pytest.raises(BadMessage, match=reason) as caught:
        parse_downstream(body)
    assert caught.value.service_name == service_name


# -- the booth's answers -----------------------------------------------------------------------------------


def test_outpark_ack() -> None:
    assert outpark_ack(order_id="A1_1", trade_no="T1") == {
        "service_name": "outpark",
        "data_target": "bolink",
        "state": 1,
        "errmsg": "",
        "trade_no": "T1",
        "order_id": "A1_1",
    }


def test_query_price_answer_sends_money_as_yuan_text() -> None:
    answer = query_price_answer(
        park_id="21835",
        order_id="A1_1",
        price_fen=1150,
        total_fen=1250,
        duration_min=95,
        query_time=1490875200,
        query_order_no="Q1",
        derate_fen=100,
    )
    assert answer["service_name"] == "query_price"
    assert answer["data_target"] == "bolink"
    assert (answer["price"], answer["total"], answer["derate_money"]) == ("11.50", "12.50", "1.00")
    assert (answer["duration"], answer["query_order_no"], answer["state"]) == (95, "Q1", 1)
    encode_envelope("query_price", answer, ukey=UKEY, token="t")  # no float slipped in


def test_prepay_and_nolicence_answers() -> None:
    prepay = prepay_answer(park_id="21835", order_id="A1_1", prepay_fen=550, query_time=7)
    assert (prepay["service_name"], prepay["prepay"], prepay["query_time"], prepay["state"]) == (
        "prepay_order",
        "5.50",
        7,
        1,
    )
    assert nolicence_answer(car_number="无A1", state=2) == {
        "service_name": "nolicence_in_park",
        "data_target": "bolink",
        "state": 2,
        "errmsg": "",
        "car_number": "无A1",
    }


def test_refusal_needs_a_reason_and_a_known_state() -> None:
    with pytest.raises(ValueError, match="state 0 needs an errmsg"):
        outpark_ack(order_id="A1_1", trade_no="T1", state=0)
    with pytest.raises(ValueError, match="state must be one of"):
        prepay_answer(park_id="p", order_id="o", prepay_fen=1, query_time=None, state=2)


def test_bad_message_answer_echoes_ids_and_is_short() -> None:
    with pytest.raises(BadMessage) as caught:
        parse_downstream(_outpark(state="paid", order_id="A1_5", trade_no="T5"))
    answer = bad_message_answer(caught.value)
    assert answer is not None
    assert (answer["service_name"], answer["state"], answer["order_id"], answer["trade_no"]) == (
        "outpark",
        0,
        "A1_5",
        "T5",
    )
    assert answer["errmsg"].startswith("bad message: state")
    assert len(answer["errmsg"]) <= 48


def test_no_answer_for_messages_that_expect_none() -> None:
    for body in (b'{"service_name":"update_balance"}', b'{"service_name":"refund"}', b"{oops"):
        with pytest.raises(BadMessage) as caught:
            parse_downstream(body)
        assert bad_message_answer(caught.value) is None


# -- hostile input (issue #13): every malformed message is a BadMessage with a one-line reason -------------

DEEP = b"[" * 100_000 + b"]" * 100_000

HOSTILE: list[tuple[bytes, str]] = [
    (_outpark().replace(b'"total":1', b'"total":' + DEEP), "nested too deeply"),
    (
        _outpark().replace(b'"total":1', b'"total":' + b"9" * 5000),
        "total: not a valid amount: a number of 5000",
    ),
    (_outpark(total="1e400"), "total: not a valid amount: '1e400'"),
    (_outpark(total=1e300), "total: not a valid amount"),
    (_outpark(total="9" * 100), r"total: not a valid amount: '9999"),
    (_outpark(total="99999999999"), "total: implausibly large amount"),
    (_outpark().replace(b'"total":1', b'"total":1e400'), "total: not a valid amount"),
    (_outpark(pay_time="9" * 5000), "pay_time: expected a non-negative integer"),
    (_outpark(pay_time=10**30), r"pay_time: .* is out of range"),
    (_outpark(trade_no="T" * 10_000), "trade_no: 10000 characters, at most 64 expected"),
    (_outpark(order_id="A1\u0000"), "order_id: holds control characters"),
    (_outpark().replace(b'"A1_1"', b'"A1\\ud800"'), "order_id: holds control characters or broken UTF-16"),
]


@pytest.mark.parametrize(("body", "reason"), HOSTILE)
def test_hostile_messages_are_refused_by_name_and_answered(body: bytes, reason: str) -> None:
    """Before #13 these raised RecursionError, ValueError (int over 4,300 digits) or InvalidOperation out
    of the parser, or were accepted with ids no store or answer could carry."""
    with pytest.raises(BadMessage, match=reason) as caught:
        parse_downstream(body)
    bad = caught.value
    assert "\n" not in str(bad) and len(str(bad)) < 300
    assert bad.service_name == "outpark"
    answer = bad_message_answer(bad)
    assert answer is not None and answer["state"] == 0
    encode_envelope("outpark", answer, ukey=UKEY, token="t")  # the refusal can always be sent


def test_a_refusal_echoes_ids_exactly_so_it_acknowledges_the_message() -> None:
    body = _outpark(total="1e400").replace(b'"A1_1"', b'"A1\\ud800"')
    with pytest.raises(BadMessage) as caught:
        parse_downstream(body)
    answer = bad_message_answer(caught.value)
    assert answer is not None and answer["order_id"] == "A1\ud800" and answer["trade_no"] == "T1"
    sent = encode_envelope("outpark", answer, ukey=UKEY, token="t")
    assert verify_envelope(sent, UKEY)[2]["order_id"] == "A1\ud800"  # sent as an ASCII escape


def test_ids_of_a_message_that_is_not_json_are_salvaged_for_the_refusal() -> None:
    with pytest.raises(BadMessage, match="nested too deeply") as caught:
        parse_downstream(b'{"service_name":"prepay_order","order_id":"A1_1","x":' + DEEP + b"}")
    answer = bad_message_answer(caught.value)
    assert answer is not None and (answer["service_name"], answer["order_id"]) == ("prepay_order", "A1_1")


def test_a_hostile_service_name_never_reaches_a_log_line() -> None:
    with pytest.raises(BadMessage) as caught:
        parse_downstream(b'{"service_name":"out\\npark\\u001b[31m","state":1}')
    assert caught.value.service_name is None
    assert "\n" not in str(caught.value) and "\x1b" not in str(caught.value)


def test_free_text_is_cut_not_refused() -> None:
    message = parse_downstream(_outpark(errmsg="长" * 5000))
    assert isinstance(message, OutparkResult) and len(message.errmsg) == 257


@pytest.mark.parametrize("state", ["9" * 5000, "1" * 40])
def test_answer_state_of_an_absurd_number_is_garbage_not_a_crash(state: str) -> None:
    assert answer_state({"state": state}) is None


# -- signatures on downstream messages ---------------------------------------------------------------------


def _prepay_fields(**extra: Any) -> dict[str, Any]:
    return {
        "service_name": "prepay_order",
        "car_number": "京GH0093",
        "prepay": 6.5,
        "order_id": "9009",
        "query_order_no": "300022",
        "park_id": "20003",
        "trade_no": "201704012000121122232",
        "query_time": 1490875218,
        "prepay_type": 1,
        **extra,
    }


def test_a_message_without_sign_has_nothing_to_check() -> None:
    check = check_downstream_signs(_outpark(), UKEY)
    assert check.ok and check.checked == () and check.service_name == "outpark"


@pytest.mark.parametrize("sorted_keys", [False, True])
def test_prepay_orders_own_sign_over_its_other_fields(sorted_keys: bool) -> None:
    fields = _prepay_fields()
    signed_text = compact_json(dict(sorted(fields.items())) if sorted_keys else fields)
    body = compact_json({**fields, "sign": sign(signed_text, UKEY)}).encode()
    check = check_downstream_signs(body, UKEY)
    assert check.ok and check.checked == ("message",)
    assert not check_downstream_signs(body, "another key").ok
    forged = body.replace(b'"prepay":6.5', b'"prepay":65')
    assert check_downstream_signs(forged, UKEY).mismatches == (
        "prepay_order's own sign does not match (over its other fields)",
    )


def test_the_sign_covers_numbers_as_they_were_written() -> None:
    text = '{"service_name":"prepay_order","prepay":6.50,"order_id":"9009","trade_no":"T"}'
    body = text[:-1] + f',"sign":"{sign(text, UKEY).lower()}"}}'
    assert check_downstream_signs(body.encode(), UKEY).ok  # 6.50 kept, and hex in any case


def test_an_envelopes_sign_covers_its_data_text_and_the_inner_sign_its_fields() -> None:
    inner = _prepay_fields()
    data = compact_json({**inner, "sign": sign(compact_json(inner), UKEY)})
    body = f'{{"service_name":"prepay_order","sign":"{sign(data, UKEY)}","data":{data}}}'.encode()
    check = check_downstream_signs(body, UKEY)
    assert check.ok and check.checked == ("envelope", "message")
    bad = f'{{"service_name":"prepay_order","sign":"{"0" * 32}","data":{data}}}'.encode()
    assert check_downstream_signs(bad, UKEY).mismatches == (
        "envelope sign does not match (over the data text)",
    )
    garbled = f'{{"service_name":"prepay_order","sign":12,"data":{data}}}'.encode()
    assert "is not 32 hex digits" in check_downstream_signs(garbled, UKEY).mismatches[0]
