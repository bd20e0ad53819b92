"""The camera listener and the Vzenith push, over loopback HTTP to a real engine.

Loopback is all of 127.0.0.0/8 on Linux, so each emulated camera posts from its own source address: X1's
Vzenith camera is 127.0.0.1, E1's (with the camera-relay gate) 127.0.0.2, X2's Hikvision camera 127.0.0.3,
and 127.0.0.9 is nobody's.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from booth.config import CameraRelayGateSettings, ConfigError
from booth.devices.camera_reads import CameraPayloadError, likely_plates, plate_similarity
from booth.devices.gates import GateFault
from booth.devices.vzenith import CameraRelayGate, led_frame, parse_alarm_info_plate, speak_frame
from booth.domain.lane import LaneState
from booth.domain.plates import PlateColour
from booth.engine import AlertRaised
from tests.conftest import RunningEngine, engine_settings, wait_until

MakeEngine = Callable[..., RunningEngine]
JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + bytes(range(256)) * 4 + b"\xff\xd9"
X1_CAMERA, E1_CAMERA, X2_CAMERA, STRANGER = "127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.9"


def camera_lanes(e1_gate: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    gate = e1_gate or {"driver": "camera_relay", "timeout_s": 5}
    return [
        {
            "id": "E1", "name": "入口", "direction": "entry", "channel_id": "E1", "pass_timeout_s": 1,
            "camera": {"vendor": "vzenith", "ip": [E1_CAMERA]}, "gate": gate,
        },
        {
            "id": "X1", "name": "东出口", "direction": "exit", "channel_id": "X1", "pass_timeout_s": 1,
            "camera": {"vendor": "vzenith", "ip": [X1_CAMERA]},
        },
        {
            "id": "X2", "name": "西出口", "direction": "exit", "channel_id": "X2", "pass_timeout_s": 1,
            "camera": {"vendor": "hikvision", "ip": [X2_CAMERA]},
        },
    ]  # fmt: skip


def listener_settings(tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    """[cameras] for tests: loopback, any free port, short comet holds, photos under tmp_path."""
    return {
        "enabled": True,
        "host": "127.0.0.1",
        "port": 0,
        "comet_hold_s": 0.3,
        "photo_dir": str(tmp_path / "photos"),
        **overrides,
    }


@pytest.fixture
def camera_engine(make_engine: MakeEngine, tmp_path: Path) -> Callable[..., RunningEngine]:
    def make(cameras: dict[str, Any] | None = None, e1_gate: dict[str, Any] | None = None) -> RunningEngine:
        return make_engine(
            lanes=camera_lanes(e1_gate), cameras=listener_settings(tmp_path, **(cameras or {}))
        )

    return make


def post(r: RunningEngine, source: str, **kwargs: Any) -> httpx.Response:
    """POST to the listener from ``source`` (a loopback address standing for one camera)."""
    assert r.engine.cameras is not None
    transport = httpx.HTTPTransport(local_address=source)
    with httpx.Client(transport=transport, timeout=10, trust_env=False) as client:
        return client.post(f"http://127.0.0.1:{r.engine.cameras.port}/devicemanagement/php/plateresult.php",
                           **kwargs)  # fmt: skip


def vzenith_push(
    plate: str,
    *,
    plateid: int,
    colour: int = 1,
    confidence: int = 95,
    trigger: int = 1,
    offline: int = 0,
    camera_at: datetime | None = None,
    image: bytes | None = JPEG,
    crop: bytes | None = None,
) -> dict[str, Any]:
    """A push as the devices spec documents it."""
    stamp = camera_at or datetime.now(UTC)
    result: dict[str, Any] = {
        "license": plate,
        "colorType": colour,
        "confidence": confidence,
        "type": 1,
        "triggerType": trigger,
        "direction": 0,
        "location": {"RECT": {"left": 10, "top": 20, "right": 110, "bottom": 50}},
        "timeStamp": {"Timeval": {"sec": int(stamp.timestamp()), "usec": 0}},
        "plateid": plateid,
        "isoffline": offline,
    }
    if image is not None:
        result["imageFile"] = base64.b64encode(image).decode()
        result["imageFileLen"] = len(image)
    if crop is not None:
        result["imageFragmentFile"] = base64.b64encode(crop).decode()
        result["imageFragmentFileLen"] = len(crop)
    return {
        "AlarmInfoPlate": {
            "channel": 0,
            "deviceName": "IVS",
            "ipaddr": "192.168.1.100",
            "serialno": "e5d1b0f2-3a4b9c11",
            "rule_id": 0,
            "user_data": "",
            "result": {"PlateResult": result},
        }
    }


def answer_of(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    doc = response.json()
    assert set(doc) == {"Response_AlarmInfoPlate"}
    return dict(doc["Response_AlarmInfoPlate"])


def opens(answer: dict[str, Any]) -> bool:
    return answer.get("info") == "ok" or "ivs_ioctrl" in answer


def alerts(r: RunningEngine, kind: str) -> list[AlertRaised]:
    return [e for e in r.events if isinstance(e, AlertRaised) and e.kind == kind]


def heartbeat() -> dict[str, Any]:
    return {"files": {"device_name": (None, "IVS"), "ipaddr": (None, "192.168.1.100"),
                      "serialno": (None, "e5d1b0f2-3a4b9c11"), "channel_num": (None, "1")}}  # fmt: skip


# ------------------------------------------------------------------------------------ formats, no engine
def test_led_frame_reproduces_the_spec_example_exactly() -> None:
    # 00 64 FF FF 30 14 01 <GBK "欢迎光临,请入场停车"> A9 36: DL (0x14) counts the 0x01 option byte and
    # the 19 text bytes, so the example's comma is the ASCII one
    text = "欢迎光临,请入场停车"
    expected = bytes.fromhex("0064FFFF301401") + text.encode("gbk") + bytes.fromhex("A936")
    assert speak_frame(text) == expected
    assert led_frame(0x30, b"\x01" + text.encode("gbk")) == expected
    with pytest.raises(ValueError, match="255"):
        led_frame(0x30, bytes(256))


def test_parse_alarm_info_plate_reads_the_documented_fields() -> None:
    at = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    plate = parse_alarm_info_plate(vzenith_push("苏A12345", plateid=42, colour=2, confidence=88, trigger=8,
                                                offline=1, camera_at=at))  # fmt: skip
    assert (plate.plate_text, plate.colour, plate.confidence, plate.trigger) == (
        "苏A12345", PlateColour.YELLOW, 88, 8,
    )  # fmt: skip
    assert (plate.plateid, plate.serialno, plate.offline, plate.camera_at) == (
        42,
        "e5d1b0f2-3a4b9c11",
        True,
        at,
    )
    assert plate.image == JPEG and plate.crop is None
    bad = vzenith_push("苏A12345", plateid=1)
    bad["AlarmInfoPlate"]["result"]["PlateResult"]["imageFile"] = "not base64!"
    with pytest.raises(CameraPayloadError, match="imageFile: not valid base64"):
        parse_alarm_info_plate(bad)
    with pytest.raises(CameraPayloadError, match="PlateResult"):
        parse_alarm_info_plate({"AlarmInfoPlate": {"result": {}}})


def test_likely_plates_know_the_ocr_confusions() -> None:
    in_lot = ["苏A8B123", "苏A88123", "苏B12345", "苏AD0Q52", "苏AD12345"]
    assert likely_plates("苏A77723", in_lot) == []  # three digits off, none a known confusion
    assert likely_plates("苏A88123", in_lot)[0] == "苏A8B123"
    assert likely_plates("苏A0DQ5S", in_lot) == ["苏AD0Q52"]
    assert plate_similarity("苏A12345", "苏AD12345") == 0.0  # new-energy vs ordinary: never the same car
    assert plate_similarity("浙A12345", "苏A12345") > plate_similarity("苏A12346", "苏A12345")


@pytest.mark.asyncio
async def test_camera_relay_gate_withdraws_an_untaken_command_and_faults() -> None:
    gate = CameraRelayGate(CameraRelayGateSettings(driver="camera_relay", timeout_s=0.2), "E1")
    with pytest.raises(GateFault, match=r"did not poll within 0\.2 s"):
        await gate.open()
    assert gate.take() is None  # a late poll cannot lift the arm behind the engine's back
    # taken by a poll: open() returns once the answer was delivered
    opening = asyncio.ensure_future(gate.open())
    ticket = await gate.wait(5)
    assert ticket is not None and ticket.commands == {"info": "ok"}
    assert not opening.done()
    gate.delivered(ticket)
    await opening
    await gate.aclose()
    with pytest.raises(GateFault, match="closed"):
        await gate.open()


@pytest.mark.asyncio
async def test_camera_relay_gate_ivs_ioctrl_with_voice() -> None:
    settings = CameraRelayGateSettings(
        driver="camera_relay", command="ivs_ioctrl", io=1, pulse_ms=700, open_voice="一路平安", timeout_s=5
    )
    gate = CameraRelayGate(settings, "E1")
    opening = asyncio.ensure_future(gate.open())
    ticket = await gate.wait(5)
    assert ticket is not None
    assert ticket.commands["ivs_ioctrl"] == {"io": 1, "value": 2, "delay": 700}
    [serial] = ticket.commands["serialData"]
    assert base64.b64decode(serial["data"]) == speak_frame("一路平安") and serial["dataLen"] == 6 + 1 + 8 + 2
    gate.delivered(ticket)
    await opening
    await gate.aclose()


def test_camera_settings_are_checked(tmp_path: Path) -> None:
    lanes = camera_lanes()
    lanes[1]["camera"]["ip"] = [E1_CAMERA]
    with pytest.raises(ConfigError, match=r"camera ip 127\.0\.0\.2 is given to lanes 'E1' and 'X1'"):
        engine_settings(tmp_path, lanes=lanes)
    lanes = camera_lanes()
    lanes[2]["gate"] = {"driver": "camera_relay"}  # X2's camera is a Hikvision
    with pytest.raises(ConfigError, match="lane 'X2' has a camera_relay gate but no vzenith camera"):
        engine_settings(tmp_path, lanes=lanes)
    lanes = camera_lanes()
    lanes[0]["camera"]["ip"] = ["camera.local"]
    with pytest.raises(ConfigError, match=r"lanes\[0\]\.camera\.ip: .*not an IP address: 'camera.local'"):
        engine_settings(tmp_path, lanes=lanes)


# --------------------------------------------------------------------------------- the listener, engine
def test_push_brings_a_car_to_the_exit_with_its_photo_and_uploads_it(
    camera_engine: Callable[..., RunningEngine],
) -> None:
    r = camera_engine()
    r.engine.seed_stay("苏A12345", r.engine.now() - timedelta(hours=2)).result(5)
    answer = answer_of(post(r, X1_CAMERA, json=vzenith_push("苏A12345", plateid=1)))
    assert not opens(answer)  # an exit waits for the payment
    view = wait_until(lambda: (v := r.lane("X1")).state is LaneState.AWAITING_PAYMENT and v, what="the quote")
    assert view.plate == "苏A12345" and view.photo
    assert Path(view.photo).read_bytes() == JPEG
    wait_until(
        lambda: any(name == "upload_carpic" and data["order_id"] == view.order_id
                    and base64.b64decode(data["content"]) == JPEG for name, data in r.engine.sandbox.calls),
        what="the photo upload to Bolink",
    )  # fmt: skip


def test_a_scene_too_large_for_bolink_sends_the_plate_crop(
    camera_engine: Callable[..., RunningEngine],
) -> None:
    r = camera_engine({"upload_max_bytes": 2000})
    r.engine.seed_stay("苏A12345", r.engine.now() - timedelta(hours=2)).result(5)
    scene, crop = JPEG * 3, b"\xff\xd8\xff\xdb crop"
    answer_of(post(r, X1_CAMERA, json=vzenith_push("苏A12345", plateid=1, image=scene, crop=crop)))
    view = r.lane("X1")
    assert view.photo and Path(view.photo).read_bytes() == scene  # the attendant sees the scene
    sent = wait_until(
        lambda: [base64.b64decode(d["content"]) for n, d in r.engine.sandbox.calls if n == "upload_carpic"],
        what="the photo upload",
    )
    assert sent == [crop]


def test_entry_push_opens_the_camera_relay_through_a_comet_poll(
    camera_engine: Callable[..., RunningEngine],
) -> None:
    r = camera_engine()
    answers: list[dict[str, Any]] = []
    stop = threading.Event()

    def camera_polls() -> None:  # comet mode: re-post as soon as an answer comes
        while not stop.is_set():
            answers.append(answer_of(post(r, E1_CAMERA, **heartbeat())))

    poller = threading.Thread(target=camera_polls)
    poller.start()
    try:
        push_answer = answer_of(post(r, E1_CAMERA, json=vzenith_push("苏E54321", plateid=5)))
        wait_until(lambda: r.rows("SELECT outcome FROM gate_events") == [("opened",)], what="the gate event")
    finally:
        stop.set()
        poller.join(10)
    opened = [a for a in [push_answer, *answers] if opens(a)]
    assert len(opened) == 1 and opened[0]["info"] == "ok"
    assert r.rows("SELECT plate, state FROM stays") == [("苏E54321", "in_lot")]


def test_entry_gate_faults_when_the_camera_never_polls(camera_engine: Callable[..., RunningEngine]) -> None:
    r = camera_engine(e1_gate={"driver": "camera_relay", "timeout_s": 0.2})
    r.engine.vehicle_at("E1", "苏E54321").result(5)
    wait_until(
        lambda: r.rows("SELECT outcome FROM gate_events") == [("failed",), ("failed",)], what="2 faults"
    )
    detail = r.rows("SELECT detail FROM gate_events")[0][0]
    assert "did not poll" in detail


def test_repeats_are_answered_and_ignored(camera_engine: Callable[..., RunningEngine]) -> None:
    r = camera_engine()
    r.engine.seed_stay("苏A12345", r.engine.now() - timedelta(hours=2)).result(5)
    answer_of(post(r, X1_CAMERA, json=vzenith_push("苏A12345", plateid=7)))
    wait_until(lambda: r.lane("X1").state is LaneState.AWAITING_PAYMENT, what="the quote")
    r.engine.cancel("X1", "tester").result(5)
    wait_until(lambda: r.lane("X1").state is LaneState.IDLE, what="the cancel")
    # the same read again (a camera re-send) does not bring the car back; a push is handled before it is
    # answered, so the lane is checked right after the answer
    answer = answer_of(post(r, X1_CAMERA, json=vzenith_push("苏A12345", plateid=7)))
    assert not opens(answer)
    assert r.lane("X1").state is LaneState.IDLE and len(r.rows("SELECT id FROM exit_orders")) == 1
    # a new read (another plateid) does
    answer_of(post(r, X1_CAMERA, json=vzenith_push("苏A12345", plateid=8)))
    assert r.lane("X1").state is LaneState.AWAITING_PAYMENT
    assert len(r.rows("SELECT id FROM exit_orders")) == 2


def test_offline_backlog_is_recorded_not_acted_on_and_kept_coming(
    camera_engine: Callable[..., RunningEngine],
) -> None:
    r = camera_engine()
    r.engine.seed_stay("苏A12345", r.engine.now() - timedelta(hours=2)).result(5)
    old = datetime.now(UTC) - timedelta(hours=1)
    answer = answer_of(
        post(r, X1_CAMERA, json=vzenith_push("苏A12345", plateid=90, offline=1, camera_at=old))
    )
    assert answer["ContinuePushOffline"] == {"plateid": 90, "continue": 1}
    assert not opens(answer)
    wait_until(lambda: r.rows("SELECT actor FROM audit_log WHERE action = 'camera_offline_read'"),
               what="the audit of the backlog read")  # fmt: skip
    assert r.lane("X1").state is LaneState.IDLE and r.rows("SELECT id FROM exit_orders") == []
    # a backlog read from seconds ago: the car may still be at the barrier
    fresh = answer_of(post(r, X1_CAMERA, json=vzenith_push("苏A12345", plateid=91, offline=1)))
    assert fresh["ContinuePushOffline"] == {"plateid": 91, "continue": 1}
    wait_until(lambda: r.lane("X1").state is LaneState.AWAITING_PAYMENT, what="the fresh backlog read")


def test_stale_and_future_reads_are_recorded_not_acted_on(
    camera_engine: Callable[..., RunningEngine],
) -> None:
    r = camera_engine()
    r.engine.seed_stay("苏A12345", r.engine.now() - timedelta(hours=2)).result(5)
    now = datetime.now(UTC)
    no_time = vzenith_push("苏A12345", plateid=4)
    del no_time["AlarmInfoPlate"]["result"]["PlateResult"]["timeStamp"]
    pushes = [
        (
            X1_CAMERA,
            vzenith_push("苏A12345", plateid=1, camera_at=now - timedelta(hours=1)),
        ),  # a live re-send
        (X1_CAMERA, vzenith_push("苏A12345", plateid=2, offline=1, camera_at=now + timedelta(hours=1))),
        (X1_CAMERA, vzenith_push("苏A12345", plateid=3, trigger=66, camera_at=now - timedelta(hours=1))),
        (E1_CAMERA, vzenith_push("苏E54321", plateid=5, camera_at=now + timedelta(minutes=1))),  # clock ahead
    ]
    for source, push in pushes:
        assert not opens(answer_of(post(r, source, json=push)))
    audited = wait_until(
        lambda: (
            len(rows := r.rows("SELECT action, detail_json FROM audit_log WHERE action LIKE '%_read'")) == 4
            and rows
        ),
        what="the four reads audited",
    )
    assert sorted(action for action, _ in audited) == ["camera_offline_read"] + ["camera_stale_read"] * 3
    reasons = " | ".join(detail for _, detail in audited)
    assert "s old (offline_read_max_age_s 30)" in reasons
    assert "ahead of the booth's clock (max_clock_skew_s 5)" in reasons
    assert r.lane("X1").state is LaneState.IDLE and r.rows("SELECT id FROM exit_orders") == []
    assert (
        r.rows("SELECT id FROM stays WHERE plate = '苏E54321'") == []
        and r.rows("SELECT id FROM gate_events") == []
    )
    # the attendant is told (once per camera, not per read) that a camera's clock makes its reads unusable
    alerts = wait_until(
        lambda: len(a := [e for e in r.events if isinstance(e, AlertRaised) and e.kind == "camera_clock"])
        == 2
        and a,
        what="one camera clock alert per camera",
    )
    assert sorted(str(e.lane_id) for e in alerts) == ["E1", "X1"]
    # a read stamped now is acted on; so is a live read whose firmware sends no time (it cannot be judged)
    answer_of(post(r, X1_CAMERA, json=vzenith_push("苏A12345", plateid=6)))
    wait_until(lambda: r.lane("X1").state is LaneState.AWAITING_PAYMENT, what="the live read")
    r.engine.cancel("X1", "1001").result(5)
    answer_of(post(r, X1_CAMERA, json=no_time))
    wait_until(lambda: r.lane("X1").state is LaneState.AWAITING_PAYMENT, what="the live read without a time")


def test_turned_back_frees_the_lane(camera_engine: Callable[..., RunningEngine]) -> None:
    r = camera_engine()
    r.engine.seed_stay("苏A12345", r.engine.now() - timedelta(hours=2)).result(5)
    answer_of(post(r, X1_CAMERA, json=vzenith_push("苏A12345", plateid=1)))
    wait_until(lambda: r.lane("X1").state is LaneState.AWAITING_PAYMENT, what="the quote")
    answer_of(post(r, X1_CAMERA, json=vzenith_push("苏A12345", plateid=2, trigger=66)))
    wait_until(lambda: r.lane("X1").state is LaneState.IDLE, what="the lane to let the car go")


def test_plateless_and_unreadable_plates_alert_and_open_nothing(
    camera_engine: Callable[..., RunningEngine],
) -> None:
    r = camera_engine()
    answer = answer_of(post(r, E1_CAMERA, json=vzenith_push("_无_", plateid=1, colour=0)))
    assert not opens(answer)
    wait_until(lambda: alerts(r, "plateless"), what="the plateless alert")
    answer = answer_of(post(r, E1_CAMERA, json=vzenith_push("ABC", plateid=2)))
    assert not opens(answer)
    wait_until(lambda: alerts(r, "plate_unreadable"), what="the unreadable alert")
    assert r.rows("SELECT id FROM stays") == [] and r.rows("SELECT id FROM gate_events") == []


def test_bad_requests_are_refused_and_change_nothing(
    camera_engine: Callable[..., RunningEngine], caplog: pytest.LogCaptureFixture
) -> None:
    r = camera_engine({"max_body_bytes": 4096})
    caplog.set_level(logging.WARNING)
    # a stranger is refused as it connects, before a header is read
    with pytest.raises(httpx.TransportError):  # reset or closed, as the timing falls
        post(r, STRANGER, json=vzenith_push("苏E54321", plateid=1, image=None))
    assert "refused a connection from 127.0.0.9: not a configured camera address" in caplog.text
    big = vzenith_push("苏E54321", plateid=2, image=JPEG * 8)
    assert post(r, E1_CAMERA, json=big).status_code == 413
    assert "above max_body_bytes" in caplog.text
    answer = answer_of(
        post(r, E1_CAMERA, content=b'{"AlarmInfoPlate": ', headers={"Content-Type": "application/json"})
    )
    assert not opens(answer)
    assert "not UTF-8 JSON" in caplog.text
    broken = vzenith_push("苏E54321", plateid=3, image=None)
    broken["AlarmInfoPlate"]["result"]["PlateResult"]["confidence"] = "high"
    assert not opens(answer_of(post(r, E1_CAMERA, json=broken)))
    assert "PlateResult.confidence: expected a number" in caplog.text
    chunked = post(
        r, X1_CAMERA, content=iter([b"--x\r\n"]), headers={"Content-Type": "multipart/form-data; boundary=x"}
    )
    assert chunked.status_code == 411
    assert r.engine.cameras is not None and r.engine.cameras.refused == 3  # stranger, 413, 411
    assert r.rows("SELECT id FROM stays") == [] and r.rows("SELECT id FROM gate_events") == []


def test_silent_camera_is_reported_offline_then_online(camera_engine: Callable[..., RunningEngine]) -> None:
    r = camera_engine({"offline_after_s": 0.2})
    wait_until(lambda: {a.lane_id for a in alerts(r, "camera_offline")} == {"E1", "X1", "X2"},
               what="every silent camera reported offline")  # fmt: skip
    answer_of(post(r, X1_CAMERA, **heartbeat()))
    wait_until(lambda: [a.lane_id for a in alerts(r, "camera_online")] == ["X1"], what="X1 back online")
    assert len([a for a in alerts(r, "camera_offline") if a.lane_id == "X1"]) >= 1


def test_low_confidence_read_is_flagged_with_the_likeliest_plates(
    camera_engine: Callable[..., RunningEngine],
) -> None:
    r = camera_engine({"low_confidence": 80})
    for plate in ("苏A8B123", "苏C99999"):
        r.engine.seed_stay(plate, r.engine.now() - timedelta(hours=1)).result(5)
    answer_of(post(r, X1_CAMERA, json=vzenith_push("苏A88123", plateid=1, confidence=61)))
    [alert] = wait_until(lambda: alerts(r, "plate_low_confidence"), what="the low-confidence alert")
    assert alert.lane_id == "X1" and "苏A8B123" in alert.message and "苏C99999" not in alert.message
    # still handled: the lane shows the read (not in the lot, so the attendant corrects it)
    wait_until(lambda: r.lane("X1").plate == "苏A88123", what="the read at the lane")
    # a confident read is not flagged
    answer_of(post(r, E1_CAMERA, json=vzenith_push("苏E54321", plateid=2, confidence=99)))
    wait_until(lambda: r.rows("SELECT plate FROM stays WHERE plate = '苏E54321'"), what="the entry")
    assert len(alerts(r, "plate_low_confidence")) == 1


# ----------------------------------------------------------------- lanes sharing a camera (#14 item 7)
Channels = tuple[int | None, int | None]


def shared_camera_lanes(vendor: str = "vzenith", channels: Channels = (0, 1)) -> list[dict[str, Any]]:
    """E1 as usual; X1 and X2 behind one camera at 127.0.0.1, told apart by the channel their pushes name."""
    [entry, x1, x2] = camera_lanes()
    for lane, channel in ((x1, channels[0]), (x2, channels[1])):
        lane["camera"] = {"vendor": vendor, "ip": [X1_CAMERA]}
        if channel is not None:
            lane["camera"]["channel"] = channel
    return [entry, x1, x2]


def on_channel(push: dict[str, Any], channel: int | None) -> dict[str, Any]:
    if channel is None:
        del push["AlarmInfoPlate"]["channel"]
    else:
        push["AlarmInfoPlate"]["channel"] = channel
    return push


def test_lanes_share_a_camera_only_by_distinct_channels(tmp_path: Path) -> None:
    settings = engine_settings(tmp_path, lanes=shared_camera_lanes())
    assert [lane.camera.channel for lane in settings.lanes if lane.camera] == [None, 0, 1]
    refusals = [
        (shared_camera_lanes(channels=(0, None)), r"camera ip 127\.0\.0\.1 is given to lanes 'X1' and 'X2': "
         r"lanes share a camera only by the channel its pushes name; give each of them \[lanes\.camera\] "
         r"channel = N \(vzenith: the push's channel; hikvision: channelID\)"),
        (shared_camera_lanes(channels=(1, 1)), r"camera ip 127\.0\.0\.1 channel 1 is given to lanes 'X1' and "
         r"'X2': give each lane its own channel"),
    ]  # fmt: skip
    mixed = shared_camera_lanes()
    mixed[2]["camera"]["vendor"] = "hikvision"
    refusals.append((mixed, "camera ip 127.0.0.1 is vzenith on lane 'X1' but hikvision on 'X2'"))
    relay = shared_camera_lanes()
    relay[1]["gate"] = {"driver": "camera_relay"}
    refusals.append((relay, "lane 'X1' has a camera_relay gate, which needs a camera of its own"))
    for lanes, message in refusals:
        with pytest.raises(ConfigError, match=message):
            engine_settings(tmp_path, lanes=lanes)
    lanes = camera_lanes()
    lanes[1]["camera"]["channel"] = -1
    with pytest.raises(ConfigError, match=r"lanes\[1\]\.camera\.channel: .*greater than or equal to 0"):
        engine_settings(tmp_path, lanes=lanes)


def test_two_lanes_behind_one_vzenith_camera_each_get_their_channels_reads(
    make_engine: MakeEngine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    r = make_engine(lanes=shared_camera_lanes(), cameras=listener_settings(tmp_path, offline_after_s=0.5))
    caplog.set_level(logging.WARNING)
    for plate in ("苏A11111", "苏A22222", "苏A33333"):
        r.engine.seed_stay(plate, r.engine.now() - timedelta(hours=2)).result(5)
    assert not opens(answer_of(post(r, X1_CAMERA, json=on_channel(vzenith_push("苏A22222", plateid=1), 1))))
    wait_until(lambda: r.lane("X2").state is LaneState.AWAITING_PAYMENT, what="X2's quote")
    assert r.lane("X2").plate == "苏A22222" and r.lane("X1").state is LaneState.IDLE
    answer_of(post(r, X1_CAMERA, json=on_channel(vzenith_push("苏A11111", plateid=2), 0)))
    wait_until(lambda: r.lane("X1").plate == "苏A11111", what="X1's read")
    assert r.lane("X2").plate == "苏A22222"
    # a channel no lane has, or none at all: answered (no re-send loop), logged, acted on by no lane
    for plateid, channel in ((3, 7), (4, None)):
        push = on_channel(vzenith_push("苏A33333", plateid=plateid, offline=1), channel)
        answer = answer_of(post(r, X1_CAMERA, json=push))
        assert not opens(answer) and answer["ContinuePushOffline"] == {"plateid": plateid, "continue": 1}
    assert "channel 7 serialno e5d1b0f2-3a4b9c11 plateid 3 (X1, X2): read 苏A33333 is no lane's" in (
        caplog.text
    )
    assert "the push names channel 7; [lanes.camera] channel for this camera: 0 (X1), 1 (X2)" in caplog.text
    assert [r.lane(lane).plate for lane in ("X1", "X2")] == ["苏A11111", "苏A22222"]
    assert len(r.rows("SELECT id FROM exit_orders")) == 2
    # a heartbeat carries no channel: the camera is alive for both its lanes
    wait_until(lambda: {a.lane_id for a in alerts(r, "camera_offline")} >= {"X1", "X2"}, what="offline")
    answer_of(post(r, X1_CAMERA, **heartbeat()))
    wait_until(lambda: {a.lane_id for a in alerts(r, "camera_online")} == {"X1", "X2"}, what="both online")
