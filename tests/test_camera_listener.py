"""The camera listener defends itself (issue #13): strangers are refused as they connect, half-sent
requests are closed, connections and waiting reads are capped, malformed pushes get a clean answer and one
log line, never a 500 or a traceback. The real listener over loopback with a recording sink
(tests/camera_harness.py).
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from booth.devices.camera_reads import LogThrottle
from tests.camera_harness import ListenerThread, ProblemRecords, problem_records
from tests.conftest import wait_until
from tests.test_cameras import E1_CAMERA, STRANGER, X1_CAMERA, X2_CAMERA, vzenith_push
from tests.test_cameras_hikvision import anpr_files, anpr_xml


@pytest.fixture
def problems() -> Iterator[ProblemRecords]:
    with problem_records() as handler:
        yield handler
    assert not handler.problems, handler.describe()


@pytest.fixture
def make_listener(tmp_path: Path) -> Iterator[Any]:
    started: list[ListenerThread] = []

    def make(**cameras: Any) -> ListenerThread:
        listener = ListenerThread(tmp_path, **cameras)
        started.append(listener)
        return listener

    yield make
    for listener in started:
        assert listener.alive(), "the listener's watch task died"
        listener.stop()


def connect(listener: ListenerThread, source: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", listener.port), timeout=10, source_address=(source, 0))
    return sock


def closed_by_server(sock: socket.socket) -> bool:
    """Block until the server closes the connection (True) or sends something (False)."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


def read_response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def raw_post(body: bytes, content_type: str = "application/json") -> bytes:
    return (
        f"POST /push HTTP/1.1\r\nHost: booth\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def post(listener: ListenerThread, source: str, **kwargs: Any) -> httpx.Response:
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, timeout=10, trust_env=False) as client:
        return client.post(f"http://127.0.0.1:{listener.port}/push", **kwargs)


# ----------------------------------------------------------------------------------- connections
def test_a_stranger_is_refused_as_it_connects(make_listener: Any, problems: ProblemRecords) -> None:
    listener = make_listener()
    with connect(listener, STRANGER) as sock:  # it sends nothing: no header is ever waited for
        assert closed_by_server(sock)
    assert listener.listener.refused == 1
    assert [r.getMessage() for r in problems.lines] == [
        "camera listener: refused a connection from 127.0.0.9: not a configured camera address"
    ]


def test_half_sent_headers_and_slowloris_are_closed(make_listener: Any, problems: ProblemRecords) -> None:
    listener = make_listener(header_timeout_s=0.3)
    with connect(listener, X1_CAMERA) as sock:
        sock.sendall(b"POST /push HTTP/1.1\r\nHost: booth\r\nContent-Le")
        assert closed_by_server(sock)
    # one header byte every 50 ms keeps the connection busy but never completes the headers in time
    request = raw_post(json.dumps(vzenith_push("苏A12345", plateid=1, image=None)).encode())
    with connect(listener, X1_CAMERA) as sock:
        sent = 0
        try:
            for byte in request:
                sock.sendall(bytes([byte]))
                sent += 1
                time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert sent < request.index(b"\r\n\r\n")
    assert listener.listener.timed_out == 2
    assert "no complete headers within 0.3 s" in problems.lines[0].getMessage()
    assert listener.sink.reads == [] and listener.listener.open_connections == 0
    # the camera itself is still heard
    assert post(listener, X1_CAMERA, json=vzenith_push("苏A12345", plateid=2, image=None)).status_code == 200


def test_connections_are_capped_per_source_and_overall(make_listener: Any, problems: ProblemRecords) -> None:
    listener = make_listener(max_connections_per_source=2, max_connections=3)
    kept = [connect(listener, X1_CAMERA), connect(listener, X1_CAMERA)]
    wait_until(lambda: listener.listener.open_connections == 2, what="two connections admitted")
    with connect(listener, X1_CAMERA) as third:
        assert closed_by_server(third)  # a third from the same camera
    kept.append(connect(listener, X2_CAMERA))
    wait_until(lambda: listener.listener.open_connections == 3, what="X2's connection admitted")
    with connect(listener, E1_CAMERA) as fourth:
        assert closed_by_server(fourth)  # the fourth overall
    assert listener.listener.refused == 2
    messages = [r.getMessage() for r in problems.lines]
    assert any("(max_connections_per_source)" in m for m in messages)
    assert any("(max_connections)" in m for m in messages)
    # the admitted ones work
    body = json.dumps(vzenith_push("苏A12345", plateid=1, image=None)).encode()
    kept[0].sendall(raw_post(body))
    assert read_response(kept[0]).startswith(b"HTTP/1.1 200")
    for sock in kept:
        sock.close()
    wait_until(lambda: listener.listener.open_connections == 0, what="the connections to be counted closed")


def test_a_body_that_does_not_arrive_is_refused_with_408(
    make_listener: Any, problems: ProblemRecords
) -> None:
    listener = make_listener(body_timeout_s=0.3)
    with connect(listener, X1_CAMERA) as sock:
        sock.sendall(raw_post(b"x" * 1000)[:-990])  # the headers and 10 of 1,000 bytes
        assert read_response(sock).startswith(b"HTTP/1.1 408")
    assert "its body did not arrive within 0.3 s (body_timeout_s)" in problems.lines[0].getMessage()
    assert listener.sink.reads == []


@pytest.mark.parametrize(
    "request_bytes",
    [
        pytest.param(b"POST /push HTTP/1.1\r\nHost: b\r\nContent-Length: -5\r\n\r\n", id="negative length"),
        pytest.param(b"POST /push HTTP/1.1\r\nX-Long: " + b"a" * 20_000 + b"\r\n\r\n", id="header too long"),
        pytest.param(
            b"POST /push HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", id="bad chunk"
        ),
    ],
)
def test_malformed_http_is_one_warning_not_a_traceback(
    make_listener: Any, problems: ProblemRecords, request_bytes: bytes
) -> None:
    listener = make_listener()
    with connect(listener, X1_CAMERA) as sock:
        sock.sendall(request_bytes)
        assert read_response(sock).split(b" ", 2)[1] == b"400"  # aiohttp answers these in HTTP/1.0
    [line] = problems.lines
    assert line.getMessage().startswith(
        "camera listener: refused a malformed HTTP request from 127.0.0.1 (400)"
    )
    assert line.exc_info is None


def test_refusals_are_logged_once_per_interval_with_a_count(caplog: pytest.LogCaptureFixture) -> None:
    now = [100.0]
    throttle = LogThrottle(logging.getLogger("test.throttle"), 10, clock=lambda: now[0])
    caplog.set_level(logging.INFO, "test.throttle")
    for _ in range(5):
        throttle.warning(("stranger",), "refused 127.0.0.9")
    throttle.warning(("other",), "another cause")
    assert [r.getMessage() for r in caplog.records] == ["refused 127.0.0.9", "another cause"]
    now[0] += 10
    throttle.flush()
    assert caplog.records[-1].getMessage() == "4 more like it in the last 10 s; the last: refused 127.0.0.9"
    throttle.warning(("stranger",), "refused 127.0.0.9")  # within the interval the count line opened
    now[0] += 10
    throttle.warning(("stranger",), "refused 127.0.0.8")
    assert caplog.records[-1].getMessage() == "refused 127.0.0.8 (and 1 more like it in the last 10 s)"
    throttle.flush()  # nothing more to report; "another cause" went quiet long ago and is forgotten
    assert len(caplog.records) == 4


def test_many_strangers_make_one_log_line(make_listener: Any, problems: ProblemRecords) -> None:
    listener = make_listener()
    for _ in range(50):
        with connect(listener, STRANGER) as sock:
            assert closed_by_server(sock)
    assert listener.listener.refused == 50
    assert len(problems.lines) == 1


def test_accept_errors_are_rate_limited_without_tracebacks(
    make_listener: Any, caplog: pytest.LogCaptureFixture
) -> None:
    listener = make_listener()

    async def out_of_descriptors() -> None:
        loop = asyncio.get_running_loop()
        for _ in range(5):
            loop.call_exception_handler(
                {
                    "message": "socket.accept() out of system resource",
                    "exception": OSError(24, "Too many open files"),
                }
            )

    caplog.set_level(logging.ERROR, "asyncio")
    listener.call(out_of_descriptors())
    [record] = [r for r in caplog.records if r.name == "asyncio"]
    assert record.getMessage() == "socket.accept() out of system resource: [Errno 24] Too many open files"
    assert record.exc_info is None


# ------------------------------------------------------------------------------------ the backlog
def test_a_burst_of_hikvision_reads_is_capped_per_lane(make_listener: Any, problems: ProblemRecords) -> None:
    listener = make_listener(max_pending_reads=2)
    hold = listener.call(_event())
    listener.sink.hold = hold
    answers = [post(listener, X2_CAMERA, **anpr_files(anpr_xml(uuid=f"u{n}"))).status_code for n in range(3)]
    assert answers == [200, 200, 429]
    assert listener.listener.backlog.waiting("X2") == 2
    listener.loop.call_soon_threadsafe(hold.set)
    wait_until(lambda: listener.listener.backlog.waiting("X2") == 0, what="the reads to be handled")
    assert [r.source.rsplit(" ", 1)[1] for r in listener.sink.reads] == ["u0", "u1"]
    # the refused read was not remembered as seen: the camera's re-send is handled
    assert post(listener, X2_CAMERA, **anpr_files(anpr_xml(uuid="u2"))).status_code == 200
    wait_until(lambda: len(listener.sink.reads) == 3, what="the re-sent read")


def test_a_burst_of_vzenith_reads_is_capped_per_lane(make_listener: Any, problems: ProblemRecords) -> None:
    listener = make_listener(max_pending_reads=1)
    hold = listener.call(_event())
    listener.sink.hold = hold
    first: list[httpx.Response] = []
    pushing = threading.Thread(
        target=lambda: first.append(post(listener, X1_CAMERA, json=vzenith_push("苏A12345", plateid=1)))
    )
    pushing.start()
    wait_until(lambda: listener.sink.reads, what="the first read at the lane")
    second = post(listener, X1_CAMERA, json=vzenith_push("苏A12346", plateid=2))
    assert second.status_code == 429  # not the documented 200: the camera must send it again
    listener.loop.call_soon_threadsafe(hold.set)
    pushing.join(10)
    assert first[0].status_code == 200
    assert post(listener, X1_CAMERA, json=vzenith_push("苏A12346", plateid=2)).status_code == 200
    assert [r.plate_text for r in listener.sink.reads] == ["苏A12345", "苏A12346"]


async def _event() -> asyncio.Event:
    return asyncio.Event()


# -------------------------------------------------------------------------------- malformed pushes
def vzenith_with(field: str, raw: str) -> bytes:
    """A valid push with one PlateResult field's JSON text replaced by ``raw`` (which json.dumps cannot
    write: Infinity, a 5,000-digit number)."""
    doc = vzenith_push("苏A12345", plateid=7, image=None)
    doc["AlarmInfoPlate"]["result"]["PlateResult"][field] = "@@"
    return json.dumps(doc, ensure_ascii=False).replace('"@@"', raw).encode()


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(vzenith_with("confidence", "Infinity"), id="confidence Infinity"),
        pytest.param(vzenith_with("confidence", "NaN"), id="confidence NaN"),
        pytest.param(vzenith_with("confidence", "1e400"), id="confidence 1e400"),
        pytest.param(vzenith_with("plateid", "9" * 5000), id="5000-digit plateid"),
        pytest.param(vzenith_with("plateid", "9" * 4000), id="4000-digit plateid"),
        pytest.param(vzenith_with("license", json.dumps("苏" * 5000)), id="a 5000-character plate"),
        pytest.param(
            b'{"AlarmInfoPlate": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", id="nested 100,000 deep"
        ),
        pytest.param(b'{"AlarmInfoPlate": "\xff\xfe"}', id="not UTF-8"),
    ],
)
def test_malformed_vzenith_pushes_get_a_no_op_answer_and_one_line(
    make_listener: Any, problems: ProblemRecords, body: bytes
) -> None:
    listener = make_listener()
    response = post(listener, X1_CAMERA, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200  # the spec: anything else makes the camera re-send it forever
    assert response.json() == {"Response_AlarmInfoPlate": {"info": "no"}}
    assert listener.sink.reads == [] and listener.sink.records == []
    assert len(problems.lines) == 1 and "refused" in problems.lines[0].getMessage()


def multipart(parts: list[tuple[str, bytes, str]], boundary: str = "MIME_boundary") -> tuple[bytes, str]:
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="p{n}"; filename="{name}"\r\n'
        f"Content-Type: {ctype}\r\n\r\n".encode()
        + data
        + b"\r\n"
        for n, (name, data, ctype) in enumerate(parts)
    )
    return body + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def hik_body(
    xml: bytes, *, boundary: str = "MIME_boundary", header_boundary: str | None = None
) -> dict[str, Any]:
    body, _ = multipart([("anpr.xml", xml, "application/xml")], boundary)
    ctype = f"multipart/form-data; boundary={header_boundary or boundary}"
    return {"content": body, "headers": {"Content-Type": ctype}}


UTF16_DOCTYPE = (
    '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY a "boom">]>'
    "<EventNotificationAlert>&a;</EventNotificationAlert>"
).encode("utf-16")


@pytest.mark.parametrize(
    ("request_kwargs", "said"),
    [
        pytest.param(hik_body(anpr_xml(), header_boundary="other"), "boundary", id="boundary mismatch"),
        pytest.param(
            hik_body(anpr_xml().replace(b'encoding="UTF-8"', b'encoding="x-no-such"')),
            "encoding",
            id="unknown encoding",
        ),
        pytest.param(hik_body(anpr_xml(confidence="inf")), "confidenceLevel", id="inf confidence"),
        pytest.param(hik_body(anpr_xml(confidence="1e400")), "confidenceLevel", id="1e400 confidence"),
        pytest.param(
            hik_body(anpr_xml(confidence="9" * 5000)), "confidenceLevel", id="5000-digit confidence"
        ),
        pytest.param(hik_body(UTF16_DOCTYPE), "DOCTYPE", id="UTF-16 DOCTYPE"),
        pytest.param(hik_body(anpr_xml(date_time="yesterday")), "dateTime", id="dateTime not ISO"),
        pytest.param(
            hik_body(b"<a>" * 100_000 + b"</a>" * 100_000), "EventNotificationAlert", id="XML 100,000 deep"
        ),
        pytest.param(
            {
                "content": multipart([("anpr.xml", anpr_xml(), "application/xml")])[0][:-30],
                "headers": {"Content-Type": "multipart/form-data; boundary=MIME_boundary"},
            },
            "cut off",
            id="no closing boundary",
        ),
    ],
)
def test_malformed_hikvision_events_get_400_and_one_line(
    make_listener: Any, problems: ProblemRecords, request_kwargs: dict[str, Any], said: str
) -> None:
    listener = make_listener()
    response = post(listener, X2_CAMERA, **request_kwargs)
    assert response.status_code == 400 and said in response.text
    assert listener.sink.reads == [] and listener.sink.records == []
    assert len(problems.lines) == 1 and said in problems.lines[0].getMessage()


def test_a_naive_hikvision_time_is_the_lots_time(make_listener: Any, problems: ProblemRecords) -> None:
    listener = make_listener()
    beijing_now = datetime.now(listener.settings.park.zone).replace(tzinfo=None, microsecond=0)
    # read as UTC it would be 8 hours ahead and refused
    response = post(
        listener, X2_CAMERA, **anpr_files(anpr_xml(uuid="naive", date_time=beijing_now.isoformat()))
    )
    assert response.status_code == 200
    [read] = wait_until(lambda: listener.sink.reads, what="the read")
    assert read.camera_at is not None and abs((read.camera_at - datetime.now(UTC)).total_seconds()) < 5
