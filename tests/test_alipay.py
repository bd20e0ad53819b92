"""Alipay gateway client: the SDK vectors, key formats, raw-bytes verification, outcomes over real loopback
HTTP against the gateway emulator, and what a bad configuration says."""

from __future__ import annotations

import base64
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
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pydantic import ValidationError

from booth.clouds.alipay import (
    ORDER_SYNC,
    PARKINGLOT_CREATE,
    AlipayClient,
    AlipayDataError,
    AlipayOutcome,
    alipay_sign_content,
    biz_content_text,
    build_order_sync_biz,
    build_parkinglotinfo_create_biz,
    build_parkinglotinfo_query_biz,
    classify_alipay,
    json_object_members,
    out_order_no_for,
    read_alipay_response,
    rsa2_sign,
)
from booth.clouds.http import china_time_text, parse_china_time
from booth.config import AlipayKeyError, AlipayLotSettings, AlipaySettings, load_private_key, load_public_key
from booth.sandbox.alipay_gateway import AlipayGatewayEmulator

VECTOR_DIR = Path(__file__).parent / "vectors"
APP_ID = "2014072300007148"
PARKING_NAME = '城西停车场 {"B}区'  # braces and a quote: answers echoing it must still verify


def _pem(name: str) -> str:
    return (VECTOR_DIR / name).read_text(encoding="ascii")


APP_PRIVATE = _pem("app_private_key.pem")
APP_PUBLIC = _pem("app_public_key.pem")
ALIPAY_PRIVATE = _pem("alipay_private_key.pem")
ALIPAY_PUBLIC = _pem("alipay_public_key.pem")


@pytest.fixture(scope="module")
def vector() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTOR_DIR / "vectors.json").read_text(encoding="utf-8"))["alipay"]
    return data


def lot() -> AlipayLotSettings:
    return AlipayLotSettings(
        city_id="330106",
        parking_address="浙江省杭州市古墩路与疏港公路的交汇处",
        longitude="120.092651",  # as TOML text; pydantic makes the Decimal
        latitude="30.305452",
        parking_number=320,
        contact_email="lot@example.com",
        time_out=15,
    )


def settings(**overrides: Any) -> AlipaySettings:
    values: dict[str, Any] = {
        "app_id": APP_ID,
        "app_private_key": APP_PRIVATE,
        "alipay_public_key": ALIPAY_PUBLIC,
        "out_parking_id": "BOOTH-LOT-1",
        "parking_id": "PI0000000000000000001",
        "parking_name": PARKING_NAME,
        "request_timeout_s": 5.0,
        "lot": lot(),
    }
    values.update(overrides)
    return AlipaySettings(**values)


def order_biz(out_order_no: str = "O1_2024000000000001", **overrides: Any) -> dict[str, str]:
    paid = datetime(2024, 5, 1, 4, 30, 5, tzinfo=UTC)
    values: dict[str, Any] = {
        "user_id": "2088000000000001",
        "out_parking_id": "BOOTH-LOT-1",
        "parking_name": "城西停车场",
        "car_number": "浙A12345",
        "out_order_no": out_order_no,
        "order_time": paid - timedelta(minutes=1),
        "order_no": "2024050122001400000000000001",
        "pay_time": paid,
        "pay_money_fen": 1250,
        "in_time": paid - timedelta(hours=2, minutes=5, seconds=30),
        "parking_id": "PI0000000000000000001",
    }
    values.update(overrides)
    return build_order_sync_biz(**values)


@pytest_asyncio.fixture
async def gateway() -> AsyncIterator[AlipayGatewayEmulator]:
    async with AlipayGatewayEmulator(APP_PUBLIC, ALIPAY_PRIVATE, app_id=APP_ID) as emulator:
        yield emulator


@pytest_asyncio.fixture
async def client(gateway: AlipayGatewayEmulator) -> AsyncIterator[AlipayClient]:
    async with AlipayClient(settings(), gateway_url=gateway.gateway_url) as alipay:
        yield alipay


# -- the vectors of the official SDK -----------------------------------------------------------------------


def test_order_sync_builder_reproduces_the_vector_biz_content(vector: dict[str, Any]) -> None:
    utc = timedelta(hours=8)  # the booth stores UTC; Alipay wants China time
    biz = build_order_sync_biz(
        user_id="2088006362935583",
        out_parking_id="201605061278654",
        parking_name="上海证大五道口地下停车场",
        car_number="浙A12345",
        out_order_no="201605061278654435466567",
        order_time=datetime(2016, 8, 12, 20, 27, 30, tzinfo=UTC) - utc,
        order_no="7674879087745646586",
        pay_time=datetime(2016, 8, 12, 23, 20, 23, tzinfo=UTC) - utc,
        pay_money_fen=2000,
        in_time=datetime(2016, 8, 12, 20, 20, 13, tzinfo=UTC) - utc,
        parking_id="1234567890123456",
        in_duration_minutes=320,
    )
    assert biz_content_text(biz) == vector["request_params"]["biz_content"]


def test_request_sign_content_and_signature_reproduce_the_vector(vector: dict[str, Any]) -> None:
    expected = vector["request_params"]
    alipay = AlipayClient(settings(), gateway_url="http://127.0.0.1:9/gateway.do", http=httpx.AsyncClient())
    biz = json.loads(expected["biz_content"])  # key order is kept
    params = alipay.request_params(expected["method"], biz, timestamp=expected["timestamp"])
    assert {k: v for k, v in params.items() if k != "sign"} == expected
    assert alipay_sign_content(params) == vector["request_sign_content"]
    assert params["sign"] == vector["request_sign"]


def test_sign_content_drops_sign_and_empty_values_and_sorts() -> None:
    params = {"b": "2", "sign": "x", "a": "1", "c": "", "a_b": "3", "B": "0"}
    assert alipay_sign_content(params) == "B=0&a=1&a_b=3&b=2"


def _private_forms(key: rsa.RSAPrivateKey) -> dict[str, str]:
    pkcs8_der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    pkcs1_der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    pkcs8_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    b64 = base64.b64encode(pkcs8_der).decode()
    return {
        "pkcs1 pem": APP_PRIVATE,
        "pkcs8 pem": pkcs8_pem,
        "pkcs8 bare base64": b64,
        "pkcs8 base64 in lines": "\n".join(b64[i : i + 64] for i in range(0, len(b64), 64)),
        "pkcs1 bare base64": base64.b64encode(pkcs1_der).decode(),
        "pem with escaped newlines": pkcs8_pem.replace("\n", "\\n"),
    }


def test_pkcs1_pkcs8_pem_and_bare_base64_keys_give_the_vector_signature(vector: dict[str, Any]) -> None:
    forms = _private_forms(load_private_key(APP_PRIVATE))
    for form, text in forms.items():
        key = load_private_key(text)
        assert rsa2_sign(vector["request_sign_content"], key) == vector["request_sign"], form
        assert (
            settings(app_private_key=text).load_app_private_key().private_numbers() == key.private_numbers()
        )


def test_alipay_public_key_loads_from_pem_and_bare_base64(vector: dict[str, Any]) -> None:
    bare = "".join(line for line in ALIPAY_PUBLIC.splitlines() if not line.startswith("-----"))
    body = vector["responses"]["order_sync_success"]["body"].encode()
    for text in (ALIPAY_PUBLIC, bare):
        result = read_alipay_response(ORDER_SYNC, 200, body, load_public_key(text))
        assert result.verified and result.outcome is AlipayOutcome.SUCCESS


@pytest.mark.parametrize(
    ("name", "method", "outcome"),
    [
        ("order_sync_success", ORDER_SYNC, AlipayOutcome.SUCCESS),
        ("order_sync_duplicate", ORDER_SYNC, AlipayOutcome.ALREADY_DONE),
        ("order_sync_busy", ORDER_SYNC, AlipayOutcome.RETRY),
        ("order_sync_tampered", ORDER_SYNC, AlipayOutcome.RETRY),
        ("parkinglotinfo_create_success", PARKINGLOT_CREATE, AlipayOutcome.SUCCESS),
    ],
)
def test_vector_responses_are_accepted_or_rejected_as_listed(
    vector: dict[str, Any], name: str, method: str, outcome: AlipayOutcome
) -> None:
    case = vector["responses"][name]
    result = read_alipay_response(method, 200, case["body"].encode(), load_public_key(ALIPAY_PUBLIC))
    assert result.verified is case["verifies"]
    assert result.outcome is outcome
    if case["verifies"]:
        assert result.code == case.get("code", "10000")
        claimed = next(iter(json.loads(case["body"]).values()))
        assert result.sub_code == case.get("sub_code", claimed.get("sub_code", ""))
        assert result.node.get("parking_id") == case.get("parking_id")
    else:
        assert result.code == "" and result.node == {}, (
            "an unverified answer's claims are not reported as facts"
        )
        assert "signature does not verify" in result.msg


# -- raw-bytes verification --------------------------------------------------------------------------------


def _signed(
    node_text: str,
    *,
    node: str = "alipay_eco_mycar_parking_order_sync_response",
    key: str = ALIPAY_PRIVATE,
    layout: str = "{node}{sign}",
) -> bytes:
    sign = rsa2_sign(node_text, load_private_key(key))
    parts = {"node": f'"{node}" : {node_text}', "sign": f'"sign":"{sign}"'}
    first, second = (
        (parts["node"], parts["sign"]) if layout == "{node}{sign}" else (parts["sign"], parts["node"])
    )
    return f"{{\n  {first},\n  {second}\n}}\n".encode()


def test_a_node_with_braces_quotes_and_escapes_inside_strings_verifies_over_its_raw_bytes() -> None:
    node_text = '{ "code":"10000", "msg":"Success",\n "note":"a}b{\\"}c\\u4e0a\u4e0b", "n":[{"x":"}"}] }'
    assert json.dumps(json.loads(node_text), ensure_ascii=False) != node_text, "re-serialising would differ"
    public = load_public_key(ALIPAY_PUBLIC)
    for layout in ("{node}{sign}", "{sign}{node}"):
        result = read_alipay_response(ORDER_SYNC, 200, _signed(node_text, layout=layout), public)
        assert result.outcome is AlipayOutcome.SUCCESS, result.describe()
        assert result.node["note"] == 'a}b{"}c上下'


def test_json_object_members_gives_exact_value_offsets() -> None:
    text = '{"a" : {"s":"}{"} , "b":[1,"]"], "sign":"x"}'
    spans = {key: text[start:end] for key, _, start, end in json_object_members(text)}
    assert spans == {"a": '{"s":"}{"}', "b": '[1,"]"]', "sign": '"x"'}
    for bad in ('{"a":1} trailing', '[{"a":1}]', '{"a":1', '{"a" 1}', "", "<html>"):
        with pytest.raises(ValueError):
            json_object_members(bad)


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        (
            b'{"alipay_eco_mycar_parking_order_sync_response":{"code":"10000","msg":"Success"}}',
            200,
            "not signed",
        ),
        (_signed('{"code":"10000","msg":"Success"}', key=APP_PRIVATE), 200, "does not verify"),
        (b"<html><body>502 Bad Gateway</body></html>", 200, "not a JSON object"),
        (b'{"sign":"abc"}', 200, "neither"),
        (b"\xff\xfe{}", 200, "not UTF-8"),
        (_signed('{"code":"10000","msg":"Success"}'), 502, "HTTP 502"),
        (_signed('{"code":"10000"}').replace(b'"sign"', b'"x":1,"sign":"A","sign"'), 200, "'sign' twice"),
    ],
)
def test_answers_that_cannot_be_trusted_are_retried_never_successes(
    body: bytes, status: int, reason: str
) -> None:
    result = read_alipay_response(ORDER_SYNC, status, body, load_public_key(ALIPAY_PUBLIC))
    assert result.outcome is AlipayOutcome.RETRY
    assert not result.verified
    assert reason in result.msg


def test_a_signed_gateway_error_response_is_classified() -> None:
    body = _signed(
        '{"code":"40002","msg":"Invalid Arguments",'
        '"sub_code":"isv.invalid-app-id","sub_msg":"无效的AppID参数"}',
        node="error_response",
    )
    result = read_alipay_response(ORDER_SYNC, 200, body, load_public_key(ALIPAY_PUBLIC))
    assert (result.outcome, result.sub_code, result.verified) == (
        AlipayOutcome.FATAL,
        "isv.invalid-app-id",
        True,
    )


@pytest.mark.parametrize(
    ("code", "sub_code", "sub_msg", "outcome"),
    [
        ("10000", "", "", AlipayOutcome.SUCCESS),
        ("40004", "PARKING_DEDUCT_ORDER_HAS_SYNCED", "", AlipayOutcome.ALREADY_DONE),
        ("40004", "BIZ_ERROR", "业务异常。该订单信息已经存在", AlipayOutcome.ALREADY_DONE),
        ("40004", "BIZ_ERROR", "业务异常。订单信息同步录入失败", AlipayOutcome.RETRY),
        ("20000", "isp.unknow-error", "", AlipayOutcome.RETRY),
        ("20000", "", "", AlipayOutcome.RETRY),
        ("40004", "SYSTEM_ERROR", "", AlipayOutcome.RETRY),
        ("40004", "ACQ.SYSTEM_ERROR", "", AlipayOutcome.RETRY),
        ("40004", "CALL_TOO_OFFTEN", "", AlipayOutcome.RETRY),
        ("40004", "BIZ_UNKNOWN", "", AlipayOutcome.RETRY),
        ("40002", "isv.invalid-signature", "", AlipayOutcome.FATAL),
        ("40002", "isv.invalid-timestamp", "", AlipayOutcome.FATAL),
        ("40001", "isv.missing-method", "", AlipayOutcome.FATAL),
        ("40006", "isv.insufficient-isv-permissions", "", AlipayOutcome.FATAL),
        ("20001", "aop.invalid-auth-token", "", AlipayOutcome.FATAL),
        ("40004", "PARKING_ID_IS_EMPTY", "", AlipayOutcome.FATAL),
        ("40004", "PAY_TIME_FORMAT_ERROR", "", AlipayOutcome.FATAL),
        ("40004", "USER_ID_ILLEGAL", "", AlipayOutcome.FATAL),
        ("40004", "INVALID_PARAMETER", "参数有误。必要参数为空", AlipayOutcome.FATAL),
        ("40004", "SOMETHING_NEW", "", AlipayOutcome.FATAL),
        ("", "", "", AlipayOutcome.RETRY),
    ],
)
def test_classification(code: str, sub_code: str, sub_msg: str, outcome: AlipayOutcome) -> None:
    assert classify_alipay(code, sub_code, sub_msg) is outcome


# -- keys and configuration --------------------------------------------------------------------------------


def _small_rsa_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _ec_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _encrypted_pem() -> str:
    return (
        load_private_key(APP_PRIVATE)
        .private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
        .decode()
    )


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        ("not a key at all!", "neither a PEM block nor base64"),
        ("QUJD", "not a valid RSA private key"),
        (APP_PUBLIC, "this is a public key"),
        ("".join(APP_PUBLIC.splitlines()[1:-1]), "this is a public key"),
        ("encrypted", "encrypted"),
        ("small", "1024-bit key"),
        ("ec", "not an RSA key"),
        ("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", "certificate mode"),
    ],
)
def test_bad_private_keys_are_refused_by_name(text: str, problem: str) -> None:
    text = {"encrypted": _encrypted_pem, "small": _small_rsa_pem, "ec": _ec_pem}.get(text, lambda: text)()
    with pytest.raises(AlipayKeyError, match="^app_private_key: .*" + problem):
        load_private_key(text)


@pytest.mark.parametrize(
    ("text", "problem"),
    [("", "empty"), (APP_PRIVATE, "this is a private key"), ("QUJD", "not a valid RSA public key")],
)
def test_bad_public_keys_are_refused_by_name(text: str, problem: str) -> None:
    with pytest.raises(AlipayKeyError, match="^alipay_public_key: .*" + problem):
        load_public_key(text)


def _config_error(**overrides: Any) -> str:
    with pytest.raises(ValidationError) as caught:
        settings(**overrides)
    return str(caught.value)


def test_settings_report_key_problems_clearly(tmp_path: Path) -> None:
    assert "app_private_key: this is a public key" in _config_error(app_private_key=APP_PUBLIC)
    assert "alipay_public_key is the app's own public key" in _config_error(alipay_public_key=APP_PUBLIC)
    assert "app_private_key (or app_private_key_file) is required" in _config_error(app_private_key="")
    missing = tmp_path / "nope.pem"
    assert f"app_private_key_file: cannot read {str(missing)!r}" in _config_error(
        app_private_key="", app_private_key_file=missing
    )
    assert "both set" in _config_error(app_private_key_file=tmp_path / "x.pem")
    assert "must be an http(s) URL" in _config_error(gateway_url="openapi.alipay.com")
    with pytest.raises(ValidationError, match="extra"):
        settings(app_secret="x")


def test_settings_read_keys_from_files_and_sandbox_needs_none(tmp_path: Path) -> None:
    (tmp_path / "app.pem").write_text(APP_PRIVATE)
    (tmp_path / "alipay.txt").write_text("".join(ALIPAY_PUBLIC.splitlines()[1:-1]))
    s = settings(
        app_private_key="",
        app_private_key_file=tmp_path / "app.pem",
        alipay_public_key="",
        alipay_public_key_file=tmp_path / "alipay.txt",
    )
    assert s.load_alipay_public_key().public_numbers() == load_public_key(ALIPAY_PUBLIC).public_numbers()
    assert APP_PRIVATE.splitlines()[1] not in repr(settings()), "the private key never shows in logs"
    sandbox = settings(gateway_url="sandbox", app_private_key="", alipay_public_key="")
    assert sandbox.is_sandbox
    with pytest.raises(ValueError, match="pass the running emulator"):
        AlipayClient(sandbox)


# -- time and business fields ------------------------------------------------------------------------------


@pytest.fixture
def new_york(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.mark.usefixtures("new_york")
def test_timestamps_are_china_time_whatever_the_machine_zone() -> None:
    assert time.localtime().tm_gmtoff != 8 * 3600
    fixed = AlipayClient(
        settings(), gateway_url="http://127.0.0.1:9/", http=httpx.AsyncClient(),
        clock=lambda: datetime(2024, 12, 31, 16, 0, 1, tzinfo=UTC),
    )  # fmt: skip
    assert fixed.request_params(ORDER_SYNC, {})["timestamp"] == "2025-01-01 00:00:01"
    real = AlipayClient(settings(), gateway_url="http://127.0.0.1:9/", http=httpx.AsyncClient())
    sent = parse_china_time(real.request_params(ORDER_SYNC, {})["timestamp"])
    assert abs((sent - datetime.now(UTC)).total_seconds()) < 120
    with pytest.raises(ValueError, match="naive"):
        china_time_text(datetime(2024, 1, 1, 12, 0))


def test_order_sync_builder_formats_and_derives_fields() -> None:
    biz = order_biz(pay_money_fen=1)
    assert biz["pay_money"] == "0.01"
    assert biz["in_duration"] == "125"  # 2 h 5 min 30 s: whole minutes
    assert biz["pay_time"] == "2024-05-01 12:30:05"  # 04:30:05 UTC
    assert biz["card_number"] == "*" and biz["order_status"] == "0" and biz["pay_type"] == "1"
    assert order_biz(pay_money_fen=9_999_999)["pay_money"] == "99999.99"


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"user_id": "123"}, "user_id"),
        ({"parking_id": ""}, "register the lot first"),
        ({"pay_money_fen": 0}, "pay_money_fen"),
        ({"pay_money_fen": 12.5}, "integer fen"),
        ({"pay_money_fen": 10_000_000}, "pay_money_fen"),
        ({"pay_time": datetime(2024, 5, 1, 12, 0)}, "pay_time: naive"),
        ({"car_number": "浙A123456789"}, "car_number"),
        ({"in_time": datetime(2024, 5, 2, tzinfo=UTC)}, "is after pay_time"),
        ({"out_order_no": "has space"}, "out_order_no"),
        ({"order_no": ""}, "order_no: required"),
    ],
)
def test_order_sync_builder_refuses_bad_fields_by_name(overrides: dict[str, Any], problem: str) -> None:
    with pytest.raises(AlipayDataError, match=problem):
        order_biz(**overrides)


def test_out_order_no_is_stable_per_payment_and_fits() -> None:
    first = out_order_no_for("E1_20240501_0001", "2024050122001400000000000001")
    assert first == "E1_20240501_0001_2024050122001400000000000001"
    assert out_order_no_for("E1_20240501_0001", "2024050122001400000000000001") == first
    assert out_order_no_for("E1_20240501_0001", "2024050122001400000000000002") != first
    long_id = "L" * 48
    hashed = out_order_no_for(long_id, "2024050122001400000000000001")
    assert hashed == out_order_no_for(long_id, "2024050122001400000000000001")
    assert hashed != out_order_no_for(long_id, "2024050122001400000000000002")
    assert len(hashed) <= 64
    order_biz(out_order_no=hashed)  # accepted by the builder


def test_parkinglotinfo_builders() -> None:
    biz = build_parkinglotinfo_create_biz(settings())
    required = (
        "city_id", "out_parking_id", "parking_address", "longitude", "latitude", "parking_start_time",
        "parking_end_time", "parking_number", "parking_lot_type", "parking_type", "payment_mode", "pay_type",
        "parking_name",
    )  # fmt: skip
    assert all(biz[name] for name in required)
    assert biz["longitude"] == "120.092651" and biz["parking_end_time"] == "23:59:59"
    assert biz["contact_emali"] == "lot@example.com" and biz["time_out"] == "15"
    assert "contact_weixin" not in biz, "empty optional fields are not sent"
    with pytest.raises(AlipayDataError, match=r"\[alipay.lot\] is missing"):
        build_parkinglotinfo_create_biz(settings(lot=None))
    assert build_parkinglotinfo_query_biz(parking_id="PI1") == {"parking_id": "PI1"}
    with pytest.raises(AlipayDataError, match="needs parking_id or out_parking_id"):
        build_parkinglotinfo_query_biz()
    with pytest.raises(ValidationError, match="city_id"):
        AlipayLotSettings(city_id="1101", parking_address="x", longitude=1, latitude=1, parking_number=1)


# -- against the gateway emulator over loopback ------------------------------------------------------------


@pytest.mark.asyncio
async def test_order_sync_is_accepted_once_and_a_repeat_is_already_done(
    client: AlipayClient, gateway: AlipayGatewayEmulator
) -> None:
    biz = order_biz()
    first = await client.sync_order(biz)
    assert (first.outcome, first.code, first.verified) == (AlipayOutcome.SUCCESS, "10000", True)
    again = await client.sync_order(biz)
    assert again.outcome is AlipayOutcome.ALREADY_DONE and again.done
    assert gateway.accepted == {biz["out_order_no"]: 1}
    assert gateway.duplicates == {biz["out_order_no"]: 1}
    assert gateway.orders[biz["out_order_no"]] == biz


@pytest.mark.asyncio
async def test_lot_registration_and_query_echoing_braces_verify(
    client: AlipayClient, gateway: AlipayGatewayEmulator
) -> None:
    created = await client.create_parking_lot()
    assert created.outcome is AlipayOutcome.SUCCESS, created.describe()
    parking_id = created.node["parking_id"]
    assert parking_id in gateway.lots
    queried = await client.query_parking_lot(parking_id=parking_id)
    assert queried.outcome is AlipayOutcome.SUCCESS and queried.verified, queried.describe()
    assert queried.node["parking_name"] == PARKING_NAME
    assert PARKING_NAME.replace('"', '\\"').encode() in queried.raw
    by_ours = await client.query_parking_lot()
    assert by_ours.node["parking_id"] == parking_id


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("fault", "outcome", "processed"),
    [
        ("20000", AlipayOutcome.RETRY, False),
        ("duplicate", AlipayOutcome.ALREADY_DONE, False),
        ("html", AlipayOutcome.RETRY, False),
        ("http500", AlipayOutcome.RETRY, False),
        ("timeout", AlipayOutcome.RETRY, False),
        ("endless", AlipayOutcome.RETRY, False),
        ("oversized", AlipayOutcome.RETRY, False),
        ("bad_signature", AlipayOutcome.RETRY, True),
        ("truncated", AlipayOutcome.RETRY, True),
    ],
)
async def test_each_failure_has_its_outcome_and_a_retry_lands_exactly_once(
    client: AlipayClient, gateway: AlipayGatewayEmulator, fault: Any, outcome: AlipayOutcome, processed: bool
) -> None:
    biz = order_biz()
    gateway.fail_next(1, fault)
    if fault in ("timeout", "endless"):
        async with AlipayClient(
            settings(request_timeout_s=0.3), gateway_url=gateway.gateway_url
        ) as impatient:
            failed = await impatient.sync_order(biz)
        assert "no complete answer within 0.3 s" in failed.msg
    else:
        failed = await client.sync_order(biz)
    assert failed.outcome is outcome, failed.describe()
    if outcome is AlipayOutcome.RETRY:
        assert not failed.done
    assert (biz["out_order_no"] in gateway.accepted) is processed
    if fault == "oversized":
        assert "larger than" in failed.msg
    retried = await client.sync_order(biz)
    assert retried.outcome is (AlipayOutcome.ALREADY_DONE if processed else AlipayOutcome.SUCCESS)
    assert gateway.accepted == {biz["out_order_no"]: 1}


@pytest.mark.asyncio
async def test_a_signed_business_refusal_is_fatal(
    client: AlipayClient, gateway: AlipayGatewayEmulator
) -> None:
    biz = {k: v for k, v in order_biz().items() if k != "card_number"}
    result = await client.execute(ORDER_SYNC, biz)
    assert (result.outcome, result.sub_code) == (AlipayOutcome.FATAL, "INVALID_PARAMETER")
    assert "card_number" in result.sub_msg
    assert gateway.accepted == {}


@pytest.mark.asyncio
async def test_a_wrong_app_key_is_fatal_invalid_signature(gateway: AlipayGatewayEmulator) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    async with AlipayClient(settings(), gateway_url=gateway.gateway_url, app_private_key=other) as alipay:
        result = await alipay.sync_order(order_biz())
    assert (result.outcome, result.sub_code) == (AlipayOutcome.FATAL, "isv.invalid-signature")
    assert gateway.accepted == {}


@pytest.mark.asyncio
async def test_a_wrong_alipay_public_key_never_reports_success(gateway: AlipayGatewayEmulator) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    async with AlipayClient(
        settings(), gateway_url=gateway.gateway_url, alipay_public_key=stranger
    ) as alipay:
        result = await alipay.sync_order(order_biz())
    assert result.outcome is AlipayOutcome.RETRY and not result.verified
    assert len(gateway.accepted) == 1, "the gateway took it; the booth just cannot trust the answer"


@pytest.mark.asyncio
async def test_app_auth_token_is_sent_and_signed(gateway: AlipayGatewayEmulator) -> None:
    async with AlipayClient(
        settings(app_auth_token="202405BB0123"), gateway_url=gateway.gateway_url
    ) as alipay:
        result = await alipay.sync_order(order_biz())
    assert result.outcome is AlipayOutcome.SUCCESS
    assert gateway.requests[-1]["app_auth_token"] == "202405BB0123"


@pytest.mark.asyncio
async def test_a_request_that_cannot_be_built_is_fatal_and_not_sent(
    client: AlipayClient, gateway: AlipayGatewayEmulator
) -> None:
    result = await client.execute(ORDER_SYNC, {"when": object()})
    assert result.outcome is AlipayOutcome.FATAL and "not JSON-serialisable" in result.msg
    bad_method = await client.execute("Not A Method", {})
    assert bad_method.outcome is AlipayOutcome.FATAL and "method" in bad_method.msg
    assert gateway.requests == []


@pytest.mark.asyncio
async def test_a_refused_connection_is_retry() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with AlipayClient(settings(), gateway_url=f"http://127.0.0.1:{port}/gateway.do") as alipay:
        result = await alipay.sync_order(order_biz())
    assert result.outcome is AlipayOutcome.RETRY and "ConnectError" in result.msg


@pytest.mark.asyncio
async def test_emulator_refuses_unknown_faults_and_reports_its_key(gateway: AlipayGatewayEmulator) -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        gateway.fail_next(1, "meteor")  # type: ignore[arg-type]
    assert load_public_key(gateway.alipay_public_key_pem).public_numbers() == (
        load_public_key(ALIPAY_PUBLIC).public_numbers()
    )
