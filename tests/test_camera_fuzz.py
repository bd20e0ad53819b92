"""Fuzz the camera listener for both vendors over real loopback HTTP (issue #13).

Hypothesis builds pushes of four kinds: live ones (must reach the lane exactly once), stale ones (recorded,
never at the lane), malformed ones (a clean answer: Vzenith's no-op 200, Hikvision's 400) and mutated
bytes of a valid push (anything may happen but a 5xx, a traceback or a stale/malformed read at the lane).
A raw-socket test abuses the connections themselves. After every example: no ERROR record or traceback in
the log, the listener's task alive, no gate command in any answer.

Seeded (``derandomize``): the same examples on every run. ``BOOTH_FUZZ_EXAMPLES=5000`` runs a larger
budget; ``BOOTH_FUZZ_SEED`` changes the raw-socket abuse. A failure prints its example (hypothesis) or its
seed (the abuse test).
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import random
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import httpx
import pytest
from hypothesis import HealthCheck, given, note, settings
from hypothesis import strategies as st

from booth.devices.camera_reads import PlateRead
from tests.camera_harness import ListenerThread, ProblemRecords, problem_records
from tests.conftest import wait_until
from tests.test_camera_listener import closed_by_server, multipart, raw_post, read_response
from tests.test_cameras import E1_CAMERA, STRANGER, X1_CAMERA, X2_CAMERA
from tests.test_cameras_hikvision import ISAPI, SHANGHAI

EXAMPLES = int(os.environ.get("BOOTH_FUZZ_EXAMPLES", "200"))
ABUSE_SEED = int(os.environ.get("BOOTH_FUZZ_SEED", "1307"))
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,  # seeded: the same examples on every run unless the budget changes
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
MAX_AGE_S, MAX_SKEW_S = 30.0, 5.0  # the defaults the listener runs with
_ids = itertools.count(10**8)  # unique per push, and always nine digits: a body's length never depends on it


@dataclass(frozen=True)
class Push:
    """One generated push and what the listener must do with it."""

    kind: str  # "live", "stale", "malformed", "mutated"
    body: bytes
    content_type: str | None
    plate: str | None = None  # a live push's plate


@pytest.fixture(scope="module")
def camera_listener(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ListenerThread]:
    listener = ListenerThread(
        tmp_path_factory.mktemp("fuzz"),
        header_timeout_s=0.5,
        body_timeout_s=0.5,
        max_connections=12,
        max_connections_per_source=4,
        comet_hold_s=0,
    )
    yield listener
    assert listener.alive(), "the listener's watch task died"
    listener.stop()


@pytest.fixture(scope="module")
def problems() -> Iterator[ProblemRecords]:
    with problem_records() as handler:
        yield handler
    assert not handler.problems, handler.describe()


def send(listener: ListenerThread, source: str, push: Push) -> httpx.Response:
    headers = {"Content-Type": push.content_type} if push.content_type else {}
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, timeout=10, trust_env=False) as client:
        return client.post(f"http://127.0.0.1:{listener.port}/push", content=push.body, headers=headers)


def assert_read_was_live(read: PlateRead, received_at: datetime) -> None:
    """What reached a lane came with a camera time within the rule, and fields a lane can take."""
    assert read.camera_at is not None and read.camera_at.tzinfo is not None, read
    age = (received_at - read.camera_at).total_seconds()
    assert -MAX_SKEW_S - 1 <= age <= MAX_AGE_S + 2, (age, read)
    assert isinstance(read.plate_text, str) and len(read.plate_text) <= 32, read
    assert read.confidence is None or 0 <= read.confidence <= 100, read


def check_listener(listener: ListenerThread, problems: ProblemRecords, reads_before: int) -> None:
    assert not problems.problems, problems.describe()
    assert listener.alive(), "the listener's watch task died"
    sink = listener.sink
    for read, at in zip(sink.reads[reads_before:], sink.received_at[reads_before:], strict=True):
        assert_read_was_live(read, at)


# ---------------------------------------------------------------------------------------- values
plate_texts = st.text(
    alphabet="京沪苏浙粤ABCDEFGHJKLMNPQRSTUVWXYZ0123456789_无学警挂", min_size=1, max_size=12
)
live_offsets = st.floats(min_value=-(MAX_AGE_S - 8), max_value=MAX_SKEW_S - 3)
stale_offsets = st.one_of(
    st.floats(min_value=-10 * 365 * 86400, max_value=-(MAX_AGE_S + 8)),
    st.floats(min_value=MAX_SKEW_S + 8, max_value=10 * 365 * 86400),
)
# JSON text for a number field that no reading can accept
bad_json_numbers = st.sampled_from(
    ["Infinity", "-Infinity", "NaN", "1e400", "-1e400", "9" * 5000, "9" * 4000, "1" + "0" * 30, "true",
     "[]", "{}", '"x"', '"9e999"', '"' + "9" * 5000 + '"', '"NaN"']
)  # fmt: skip


def _now() -> datetime:
    return datetime.now(UTC)


# ---------------------------------------------------------------------------------------- Vzenith
def vzenith_doc(
    plate: str, *, offset_s: float | None, offline: int, confidence: int | None
) -> dict[str, Any]:
    result: dict[str, Any] = {
        "license": plate, "colorType": 1, "confidence": confidence, "type": 1, "triggerType": 1,
        "plateid": next(_ids), "isoffline": offline,
        "imageFile": base64.b64encode(b"\xff\xd8 scene").decode(),
    }  # fmt: skip
    if offset_s is not None:
        result["timeStamp"] = {"Timeval": {"sec": int((_now() + timedelta(seconds=offset_s)).timestamp())}}
    return {"AlarmInfoPlate": {"serialno": "fuzz", "result": {"PlateResult": result}}}


def as_json(doc: Any) -> bytes:
    return json.dumps(doc, ensure_ascii=False).encode()


@st.composite
def vzenith_live(draw: st.DrawFn) -> Push:
    plate = draw(plate_texts)
    doc = vzenith_doc(
        plate,
        offset_s=draw(live_offsets),
        offline=draw(st.sampled_from([0, 1])),
        confidence=draw(st.none() | st.integers(0, 100)),
    )
    return Push("live", as_json(doc), "application/json", plate)


@st.composite
def vzenith_stale(draw: st.DrawFn) -> Push:
    offset = draw(st.none() | stale_offsets)  # None: no timeStamp at all
    # a live push with no time cannot be judged and is taken as now; a backlog one without a time is stale
    offline = 1 if offset is None else draw(st.sampled_from([0, 1]))
    doc = vzenith_doc(draw(plate_texts), offset_s=offset, offline=offline, confidence=90)
    return Push("stale", as_json(doc), "application/json")


@st.composite
def vzenith_malformed(draw: st.DrawFn) -> Push:
    doc = vzenith_doc(draw(plate_texts), offset_s=0, offline=0, confidence=90)
    plate = doc["AlarmInfoPlate"]["result"]["PlateResult"]
    field = draw(
        st.sampled_from(
            ["license", "confidence", "colorType", "triggerType", "plateid", "isoffline", "sec", "imageFile",
             "serialno", "shape", "nested"]
        )
    )  # fmt: skip
    raw: str | None = None
    if field == "license":
        raw = draw(st.sampled_from(["1", "null", "[]", "{}", "true"]) | st.just(json.dumps("苏" * 33)))
    elif field in ("confidence", "colorType", "triggerType", "plateid", "isoffline"):
        raw = draw(bad_json_numbers | st.just("101") if field == "confidence" else bad_json_numbers)
    elif field == "sec":
        raw = draw(bad_json_numbers | st.sampled_from(["1" + "0" * 15, "-" + "1" + "0" * 15]))
    elif field == "imageFile":
        raw = draw(st.sampled_from(['"not base64!"', "12", "[]"]))
    elif field == "serialno":
        raw = draw(st.sampled_from(["[]", "{}", "true", json.dumps("x" * 65)]))
    if raw is not None:
        target = plate["timeStamp"]["Timeval"] if field == "sec" else plate
        target["sec" if field == "sec" else field] = "@@"
        if field == "serialno":
            doc["AlarmInfoPlate"]["serialno"] = "@@"
            plate.pop("serialno", None)
        body = as_json(doc).replace(b'"@@"', raw.encode())
    elif field == "shape":
        body = draw(
            st.sampled_from(
                [b'{"AlarmInfoPlate": []}', b'{"AlarmInfoPlate": "x"}', b'{"AlarmInfoPlate": {"result": 1}}',
                 b'{"AlarmInfoPlate": {"result": {"PlateResult": []}}}', b'{"AlarmInfoPlate": null}']
            )
        )  # fmt: skip
    else:
        depth = draw(st.sampled_from([600, 1_000, 10_000, 100_000]))
        opener, closer = draw(st.sampled_from([(b"[", b"]"), (b'{"a":', b"}")]))
        body = b'{"AlarmInfoPlate": ' + opener * depth + b"1" + closer * depth + b"}"
    return Push("malformed", body, draw(st.sampled_from(["application/json", None])))


@st.composite
def mutated(draw: st.DrawFn, valid: st.SearchStrategy[Push]) -> Push:
    """A valid push with its bytes cut, overwritten or spliced, under any content type."""
    body = bytearray(draw(valid).body)
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(body)))
        how = draw(st.sampled_from(["cut", "overwrite", "insert"]))
        junk = draw(st.binary(min_size=1, max_size=16))
        if how == "cut":
            del body[at : at + draw(st.integers(1, 64))]
        elif how == "overwrite":
            body[at : at + len(junk)] = junk
        else:
            body[at:at] = junk
    ctype = draw(
        st.sampled_from(
            ["application/json", "text/plain", None, "multipart/form-data; boundary=MIME_boundary",
             "application/xml", "multipart/form-data"]
        )
    )  # fmt: skip
    return Push("mutated", bytes(body), ctype)


vzenith_pushes = st.one_of(
    vzenith_live(), vzenith_stale(), vzenith_malformed(), mutated(vzenith_live() | vzenith_stale())
)


@FUZZ
@given(push=vzenith_pushes)
def test_vzenith_pushes(camera_listener: ListenerThread, problems: ProblemRecords, push: Push) -> None:
    listener, sink = camera_listener, camera_listener.sink
    note(f"{push.kind} {push.content_type}: {push.body[:300]!r} ({len(push.body)} bytes)")
    reads, records = len(sink.reads), len(sink.records)
    response = send(listener, X1_CAMERA, push)
    assert response.status_code == 200, response.text
    answer = response.json()["Response_AlarmInfoPlate"]
    assert answer["info"] == "no" and "ivs_ioctrl" not in answer and "serialData" not in answer
    if push.kind == "live":
        assert [r.plate_text for r in sink.reads[reads:]] == [push.plate]
    elif push.kind == "stale":
        assert len(sink.reads) == reads and len(sink.records) == records + 1
    elif push.kind == "malformed":
        assert len(sink.reads) == reads and len(sink.records) == records
    check_listener(listener, problems, reads)


# -------------------------------------------------------------------------------------- Hikvision
def anpr(plate: str, *, date_time: str, confidence: str = "97", extra: str = "") -> str:
    return (
        f'<EventNotificationAlert version="2.0" xmlns="{ISAPI}"><dateTime>{date_time}</dateTime>'
        f"<eventType>ANPR</eventType><UUID>fuzz-{next(_ids)}</UUID>{extra}<ANPR><licensePlate>{escape(plate)}"
        f"</licensePlate><confidenceLevel>{confidence}</confidenceLevel><plateColor>blue</plateColor></ANPR>"
        "</EventNotificationAlert>"
    )


def encoded(xml: str, encoding: str) -> bytes:
    return (f'<?xml version="1.0" encoding="{encoding}"?>' + xml).encode(encoding)


@st.composite
def stamps(draw: st.DrawFn, offsets: st.SearchStrategy[float]) -> str:
    """A dateTime as firmware writes it: with an offset, in UTC, or naive in the lot's zone."""
    at = _now() + timedelta(seconds=draw(offsets))
    form = draw(st.sampled_from(["beijing", "utc", "naive"]))
    if form == "beijing":
        return at.astimezone(SHANGHAI).isoformat(timespec="seconds")
    if form == "utc":
        return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return at.astimezone(SHANGHAI).replace(tzinfo=None).isoformat(timespec="seconds")


def hik_push(kind: str, xml: bytes, draw: st.DrawFn, plate: str | None = None) -> Push:
    parts = [("anpr.xml", xml, "application/xml")]
    if draw(st.booleans()):
        parts.append(("licensePlatePicture.jpg", draw(st.binary(max_size=64)), "image/jpeg"))
    body, ctype = multipart(parts, draw(st.sampled_from(["MIME_boundary", "----=_x9", "b"])))
    return Push(kind, body, ctype, plate)


@st.composite
def hikvision_live(draw: st.DrawFn) -> Push:
    plate = draw(plate_texts)
    xml = anpr(plate, date_time=draw(stamps(live_offsets)), confidence=str(draw(st.integers(0, 100))))
    return hik_push("live", encoded(xml, draw(st.sampled_from(["UTF-8", "UTF-16"]))), draw, plate)


@st.composite
def hikvision_stale(draw: st.DrawFn) -> Push:
    xml = anpr(draw(plate_texts), date_time=draw(stamps(stale_offsets)))
    return hik_push("stale", encoded(xml, "UTF-8"), draw)


@st.composite
def hikvision_malformed(draw: st.DrawFn) -> Push:
    now = _now().isoformat()
    case = draw(
        st.sampled_from(
            ["confidence", "dateTime", "doctype", "encoding", "plate", "event", "root", "deep", "not xml",
             "boundary", "unclosed", "no xml part", "junk after boundary"]
        )
    )  # fmt: skip
    if case == "confidence":
        level = draw(st.sampled_from(["inf", "-inf", "nan", "1e400", "-1", "101", "9" * 5000, "high", "1e2"]))
        return hik_push(
            "malformed", encoded(anpr("苏A12345", date_time=now, confidence=level), "UTF-8"), draw
        )
    if case == "dateTime":
        stamp = draw(st.sampled_from(["", "yesterday", "9" * 100, "2026-13-45T99:00:00", "inf"]))
        return hik_push("malformed", encoded(anpr("苏A12345", date_time=stamp), "UTF-8"), draw)
    if case == "doctype":
        xml = '<!DOCTYPE x [<!ENTITY a "boom">]>' + anpr("苏A12345", date_time=now)
        return hik_push("malformed", encoded(xml, draw(st.sampled_from(["UTF-8", "UTF-16"]))), draw)
    if case == "encoding":
        name = draw(st.sampled_from(["x-no-such", "GBK", "UTF-32", "utf-7"]))
        body = f'<?xml version="1.0" encoding="{name}"?>'.encode() + anpr("苏A12345", date_time=now).encode()
        return hik_push("malformed", body, draw)
    if case == "plate":
        xml = anpr("苏" * draw(st.integers(33, 2000)), date_time=now)
        return hik_push("malformed", encoded(xml, "UTF-8"), draw)
    if case == "event":
        xml = anpr("苏A12345", date_time=now).replace("<eventType>ANPR", "<eventType>VMD")
        return hik_push("malformed", encoded(xml, "UTF-8"), draw)
    if case == "root":
        return hik_push("malformed", b"<Other><ANPR/></Other>", draw)
    if case == "deep":
        depth = draw(st.sampled_from([1_000, 100_000]))
        return hik_push("malformed", b"<a>" * depth + b"</a>" * depth, draw)
    if case == "not xml":
        return hik_push("malformed", draw(st.binary(max_size=200)).replace(b"<", b""), draw)
    valid_xml = encoded(anpr("苏A12345", date_time=now), "UTF-8")
    body, ctype = multipart([("anpr.xml", valid_xml, "application/xml")])
    if case == "boundary":
        ctype = ctype.replace(
            "MIME_boundary", draw(st.sampled_from(["other", "MIME", "MIME_boundary2", '""']))
        )
    elif case == "unclosed":
        body = body[: -draw(st.integers(3, 40))]
    elif case == "no xml part":
        body, ctype = multipart([("detectionPicture.jpg", b"\xff\xd8", "image/jpeg")])
    else:
        body = body.replace(b"--MIME_boundary\r\n", b"--MIME_boundary junk\r\n", 1)
    return Push("malformed", body, ctype)


hikvision_pushes = st.one_of(
    hikvision_live(), hikvision_stale(), hikvision_malformed(), mutated(hikvision_live() | hikvision_stale())
)


@FUZZ
@given(push=hikvision_pushes)
def test_hikvision_pushes(camera_listener: ListenerThread, problems: ProblemRecords, push: Push) -> None:
    listener, sink = camera_listener, camera_listener.sink
    note(f"{push.kind} {push.content_type}: {push.body[:300]!r} ({len(push.body)} bytes)")
    reads, records = len(sink.reads), len(sink.records)
    response = send(listener, X2_CAMERA, push)
    if push.kind == "live":
        assert response.status_code == 200, response.text
        wait_until(lambda: len(sink.reads) > reads, what="the live read at the lane")
        assert [r.plate_text for r in sink.reads[reads:]] == [push.plate]
    elif push.kind == "stale":
        assert response.status_code == 200, response.text
        assert len(sink.reads) == reads and len(sink.records) == records + 1
    elif push.kind == "malformed":
        assert response.status_code == 400, response.text
        assert len(sink.reads) == reads and len(sink.records) == records
    else:
        assert response.status_code in (200, 400), response.text
        wait_until(lambda: listener.listener.backlog.waiting("X2") == 0, what="the lane's reads handled")
    check_listener(listener, problems, reads)


# ------------------------------------------------------------------------------- raw-socket abuse
def test_raw_socket_abuse(camera_listener: ListenerThread, problems: ProblemRecords) -> None:
    """Half-sent headers, slowloris, garbage, bodies cut off, floods of connections from cameras and
    strangers, all at once: the cameras' own pushes still get through, every connection is closed in
    the end, nothing logs a traceback."""
    print(f"raw-socket abuse seed {ABUSE_SEED} (BOOTH_FUZZ_SEED)")
    rng = random.Random(ABUSE_SEED)
    listener = camera_listener
    valid = raw_post(
        as_json(vzenith_doc("苏A12345", offset_s=0, offline=0, confidence=90)), "application/json"
    )
    abuses = [
        b"POST /push HTTP/1.1\r\nHost: booth\r\nContent-Le",  # half-sent headers
        b"GET / HTTP/1.1\r\nHost: booth\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + rng.randbytes(64),  # a TLS hello
        b"POST /push HTTP/1.1\r\nHost: booth\r\nX-Long: " + b"a" * 20_000 + b"\r\n\r\n",
        b"POST /push HTTP/1.1\r\nHost: booth\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"POST /push HTTP/1.1\r\nHost: booth\r\nContent-Length: -5\r\n\r\n",
        b"POST /push HTTP/1.1\r\nHost: booth\r\nContent-Length: 5000\r\n\r\n" + b"{" * 100,  # body cut off
        raw_post(b"x" * 64, "multipart/form-data; boundary=b"),
        valid + valid + b"POST /push HTTP/1.1\r\n",  # pipelined, the last one half-sent
        rng.randbytes(300),
        b"",  # connects and says nothing
    ]
    sources = [X1_CAMERA, X2_CAMERA, E1_CAMERA, STRANGER]

    def abuser(n: int) -> None:
        local = random.Random(ABUSE_SEED * 1000 + n)
        for _ in range(12):
            data = local.choice(abuses)
            try:
                with socket.create_connection(
                    ("127.0.0.1", listener.port), timeout=10, source_address=(local.choice(sources), 0)
                ) as sock:
                    if local.random() < 0.3:  # slowloris: a few bytes at a time
                        for start in range(0, min(len(data), 40), 4):
                            sock.sendall(data[start : start + 4])
                            threading.Event().wait(0.02)
                    else:
                        sock.sendall(data)
                    if local.random() < 0.5:
                        sock.shutdown(socket.SHUT_WR)
                    while sock.recv(65536):
                        pass
            except OSError:
                pass  # refused, reset or closed by the listener: what it is for

    threads = [threading.Thread(target=abuser, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    # meanwhile the cameras' own pushes get through (an abused camera may have to try again)
    wait_until(lambda: _pushes_through(listener, X1_CAMERA, valid), what="a push from X1's camera")
    wait_until(lambda: _pushes_through(listener, E1_CAMERA, valid), what="a push from E1's camera")
    for thread in threads:
        thread.join(60)
        assert not thread.is_alive()
    wait_until(lambda: listener.listener.open_connections == 0, what="every connection closed")
    with socket.create_connection(
        ("127.0.0.1", listener.port), timeout=10, source_address=(X1_CAMERA, 0)
    ) as s:
        s.sendall(valid)
        assert read_response(s).startswith(b"HTTP/1.1 200")
    with socket.create_connection(
        ("127.0.0.1", listener.port), timeout=10, source_address=(STRANGER, 0)
    ) as s:
        assert closed_by_server(s)
    check_listener(listener, problems, 0)


def _pushes_through(listener: ListenerThread, source: str, request: bytes) -> bool:
    try:
        with socket.create_connection(
            ("127.0.0.1", listener.port), timeout=10, source_address=(source, 0)
        ) as s:
            s.sendall(request)
            return read_response(s).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def test_the_fuzz_listener_settings_match_the_rule(tmp_path: Path) -> None:
    """The fuzz oracle's limits are the listener's defaults (they would drift apart silently)."""
    listener = ListenerThread(tmp_path)
    try:
        assert listener.settings.cameras.offline_read_max_age_s == MAX_AGE_S
        assert listener.settings.cameras.max_clock_skew_s == MAX_SKEW_S
    finally:
        listener.stop()
