"""Spoken prompts through Qt's "mock" text-to-speech engine (shipped with PySide6-Addons; speaks nothing, but
runs like a real engine: Speaking, then Ready again from its own timers), the chime fallback and silence."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from PySide6.QtTextToSpeech import QTextToSpeech

from booth.domain.lane import LaneState, LaneView
from booth.engine import AlertRaised
from ui.lanes.voice import SOUNDS, LaneAnnouncer, Voice, prompt_text, spoken_yuan

WAIT_MS = 10_000
#: what QtMultimedia says on a machine without a sound server (the chime test loads it)
AUDIO_NOISE = (
    r"This plugin does not support propagateSizeHints",
    r"Couldn't (load|resolve) .*",
    r"PulseAudio",
    r"pa_context",
    r"QSoundEffect",
    r"audio",
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def voice(qtbot: Any) -> Iterator[Voice]:
    made = Voice(engine="mock", max_queue=3)
    yield made
    made.close()
    made.deleteLater()


def spoken(voice: Voice) -> list[str]:
    said: list[str] = []
    voice.spoke.connect(said.append)
    return said


def test_spoken_amounts_read_naturally() -> None:
    assert [spoken_yuan(f) for f in (0, 1200, 1250, 1205, 99)] == ["0", "12", "12.5", "12.05", "0.99"]
    for bad in (-1, 12.5, True):
        with pytest.raises(ValueError, match="whole number of fen"):
            spoken_yuan(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown prompt kind 'sing'"):
        prompt_text("sing", {})
    with pytest.raises(ValueError, match="needs amount_fen"):
        prompt_text("pay", {"amount_fen": "12"})


def test_voice_uses_the_mock_engine_and_says_the_fee(voice: Voice, qtbot: Any) -> None:
    assert voice.backend == "tts"
    assert voice.tts is not None and voice.tts.engine() == "mock"
    with qtbot.waitSignal(voice.spoke, timeout=WAIT_MS) as said:
        voice.prompt("pay", key="X1", amount_fen=1250)
        # say() returned while the engine is still speaking: it never waits for the words to be said
        assert voice.tts.state() == QTextToSpeech.State.Speaking
    assert said.args == ["请扫码支付 12.5 元"]
    qtbot.waitUntil(lambda: voice.tts is not None and voice.tts.state() == QTextToSpeech.State.Ready,
                    timeout=WAIT_MS)


def test_a_burst_of_prompts_never_blocks_and_keeps_the_queue_short(voice: Voice, qtbot: Any) -> None:
    said = spoken(voice)
    voice.say("第一句")
    assert voice.tts is not None and voice.tts.state() == QTextToSpeech.State.Speaking
    for i in range(20):
        voice.say(f"排队 {i}")
        assert voice.queued <= voice.max_queue
    assert voice.dropped == 20 - voice.max_queue
    qtbot.waitUntil(lambda: said[-1:] == ["排队 19"], timeout=WAIT_MS)
    assert said == ["第一句", "排队 17", "排队 18", "排队 19"]  # the oldest waiting ones were dropped


def test_a_later_prompt_for_the_same_lane_replaces_the_waiting_one(voice: Voice, qtbot: Any) -> None:
    said = spoken(voice)
    voice.say("别的车道", key="X2")  # speaking now
    voice.prompt("pay", key="X1", amount_fen=1200)  # waits...
    voice.prompt("goodbye", key="X1")  # ...and is replaced: that driver has paid and is leaving
    qtbot.waitUntil(lambda: said[-1:] == ["一路顺风"], timeout=WAIT_MS)
    assert said == ["别的车道", "一路顺风"]


def test_stale_prompts_are_dropped(qtbot: Any) -> None:
    clock = FakeClock()
    voice = Voice(engine="mock", stale_s=10, clock=clock)
    try:
        said = spoken(voice)
        voice.say("现在")
        voice.say("过时的")
        clock.now += 11  # the speaker was busy for too long: that prompt is no use any more
        voice.say("新的")
        qtbot.waitUntil(lambda: said[-1:] == ["新的"], timeout=WAIT_MS)
        assert said == ["现在", "新的"]
        assert voice.dropped == 1
    finally:
        voice.close()
        voice.deleteLater()


def test_long_text_is_cut(voice: Voice, qtbot: Any) -> None:
    with qtbot.waitSignal(voice.spoke, timeout=WAIT_MS) as said:
        voice.say("长" * 100)
    assert said.args == ["长" * voice.max_chars]


def test_without_a_speech_engine_it_falls_back_to_chimes_or_silence(qtbot: Any, tmp_path: Path) -> None:
    silent = Voice(engine="no-such-engine", sounds=tmp_path / "none")
    assert silent.backend == "silent"
    silent.say("没人听见")
    assert silent.queued == 0
    off = Voice(enabled=False)
    assert off.backend == "silent"
    chimes = Voice(engine="no-such-engine")
    assert chimes.backend == "sounds"
    bundled = sorted(p.name for p in SOUNDS.glob("*.wav"))
    assert bundled == ["alert.wav", "goodbye.wav", "notice.wav", "pay.wav"]
    for voice in (silent, off, chimes):
        voice.deleteLater()


@pytest.mark.qt_log_ignore(*AUDIO_NOISE)
def test_the_chime_fallback_plays_the_bundled_sound(qtbot: Any) -> None:
    voice = Voice(use_tts=False)
    try:
        assert voice.backend == "sounds"
        with qtbot.waitSignal(voice.spoke, timeout=WAIT_MS) as said:
            voice.prompt("pay", amount_fen=500)
        assert said.args == ["请扫码支付 5 元"]
        effect = voice._effects["pay"]
        assert Path(effect.source().toLocalFile()) == SOUNDS / "pay.wav"
    finally:
        voice.close()
        voice.deleteLater()


def test_lane_announcer_speaks_the_fee_then_goodbye_and_gate_faults(voice: Voice, qtbot: Any) -> None:
    from PySide6.QtCore import QObject, Signal

    class FakeBridge(QObject):
        laneChanged = Signal(object)
        alertRaised = Signal(object)

    bridge = FakeBridge()
    said = spoken(voice)
    LaneAnnouncer(bridge, voice)  # type: ignore[arg-type]

    def view(state: LaneState, due: int | None = None) -> LaneView:
        return LaneView(lane_id="X1", name="东出口", direction="exit", state=state, message="", due_fen=due)

    bridge.laneChanged.emit(view(LaneState.QUOTING))
    bridge.laneChanged.emit(view(LaneState.AWAITING_PAYMENT, 1200))
    bridge.laneChanged.emit(view(LaneState.AWAITING_PAYMENT, 1200))  # the same view again: said once
    qtbot.waitUntil(lambda: said == ["请扫码支付 12 元"], timeout=WAIT_MS)
    bridge.laneChanged.emit(view(LaneState.SETTLING))
    bridge.laneChanged.emit(view(LaneState.GATE_OPEN))
    qtbot.waitUntil(lambda: said[-1:] == ["一路顺风"], timeout=WAIT_MS)
    bridge.alertRaised.emit(AlertRaised("X1", "gate_fault", "no answer", datetime.now(UTC)))
    bridge.alertRaised.emit(AlertRaised("X1", "plate_corrected", "", datetime.now(UTC)))  # not spoken
    qtbot.waitUntil(lambda: said[-1:] == ["道闸故障"], timeout=WAIT_MS)
    assert said == ["请扫码支付 12 元", "一路顺风", "道闸故障"]
    bridge.deleteLater()
