"""Spoken prompts for the driver ("请扫码支付 12 元", "一路顺风") and the attendant ("道闸故障").

``Voice`` speaks through Qt's text-to-speech when an engine is ready (a Chinese voice if it has one, else
any), else plays a bundled chime per kind of prompt (resources/sounds/, made by tools/make_sounds.py), else
stays silent. Nothing waits: ``say`` queues and returns; a prompt superseded for the same lane, or older
than ``stale_s`` by the time the speaker is free, is dropped, and the queue is short, because a driver
who has already left must not hear the next car's fee late.

``LaneAnnouncer`` turns the bridge's lane views and alerts into prompts.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from PySide6.QtCore import QCoreApplication, QLocale, QObject, QUrl, Signal, Slot
from PySide6.QtMultimedia import QSoundEffect
from PySide6.QtTextToSpeech import QTextToSpeech

from booth.domain.lane import LaneState, LaneView
from booth.engine import AlertRaised
from ui.kit.style import RESOURCES
from ui.kit.wording import alert_words
from ui.link.bridge import EngineBridge

log = logging.getLogger("ui.voice")

SOUNDS = RESOURCES / "sounds"
Backend = Literal["starting", "tts", "sounds", "silent"]
#: the chime played for each kind of prompt when there is no speech engine
SOUND_FILES = {"pay": "pay.wav", "goodbye": "goodbye.wav", "alert": "alert.wav", "notice": "notice.wav"}
#: alerts the attendant hears as well as reads
#: engines tried first when none is named (speech-dispatcher drives espeak-ng and others on Linux)
PREFERRED_ENGINES = ("speechd", "flite", "sapi", "winrt", "darwin")
SPOKEN_ALERTS = frozenset({"gate_fault", "payment_failed", "payment_not_settling", "store_failed"})


def spoken_yuan(fen: int) -> str:
    """An amount as said aloud: 1200 -> "12", 1250 -> "12.5", 1205 -> "12.05" (money is integer fen)."""
    if not isinstance(fen, int) or isinstance(fen, bool) or fen < 0:
        raise ValueError(f"an amount to speak must be a non-negative whole number of fen, got {fen!r}")
    yuan, rest = divmod(fen, 100)
    if rest == 0:
        return str(yuan)
    if rest % 10 == 0:
        return f"{yuan}.{rest // 10}"
    return f"{yuan}.{rest:02d}"


def prompt_text(kind: str, values: dict[str, object]) -> str:
    """The words of a prompt (translated in context "Voice"); a wrong kind or value is named."""
    tr = QCoreApplication.translate
    if kind == "pay":
        amount = values.get("amount_fen")
        if not isinstance(amount, int):
            raise ValueError(f"the 'pay' prompt needs amount_fen (int fen), got {amount!r}")
        return tr("Voice", "请扫码支付 %1 元").replace("%1", spoken_yuan(amount))
    if kind == "goodbye":
        return tr("Voice", "一路顺风")
    if kind == "alert":
        words = values.get("words")
        if not isinstance(words, str) or not words:
            raise ValueError(f"the 'alert' prompt needs words (text), got {words!r}")
        return words
    raise ValueError(f"unknown prompt kind {kind!r}: expected one of {sorted(SOUND_FILES)}")


@dataclass
class _Queued:
    text: str
    kind: str
    key: str | None
    at: float


class Voice(QObject):
    """Non-blocking prompts: text-to-speech, else chimes, else silence.

    Signals (GUI thread): ``spoke(str)`` when a prompt starts (in chime mode: the text it stands for);
    ``backendChanged(str)`` when the backend is known or changes ("tts", "sounds", "silent").
    """

    spoke = Signal(str)
    backendChanged = Signal(str)

    def __init__(
        self,
        *,
        enabled: bool = True,
        engine: str | None = None,
        use_tts: bool = True,
        sounds: Path | None = SOUNDS,
        language: str = "zh_CN",
        max_queue: int = 3,
        max_chars: int = 40,
        stale_s: float = 15.0,
        clock: Callable[[], float] = time.monotonic,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        if max_queue < 1 or max_chars < 1 or stale_s <= 0:
            raise ValueError(
                "max_queue and max_chars must be >= 1 and stale_s > 0, "
                f"got {max_queue}, {max_chars}, {stale_s}"
            )
        self.max_queue = max_queue
        self.max_chars = max_chars
        self.stale_s = stale_s
        self.language = language
        self._clock = clock
        self._queue: deque[_Queued] = deque()
        self._sounds = sounds if sounds is not None and sounds.is_dir() else None
        self._effects: dict[str, QSoundEffect] = {}  # kind -> QSoundEffect, made on first use
        self._playing: QSoundEffect | None = None
        self.tts: QTextToSpeech | None = None
        self.backend: Backend = "starting"
        self.dropped = 0
        if not enabled:
            self._set_backend("silent")
        elif use_tts:
            self._start_tts(engine)
        else:
            self._fall_back("text-to-speech not wanted")

    # ------------------------------------------------------------------------------------ backends
    def _start_tts(self, engine: str | None) -> None:
        available = QTextToSpeech.availableEngines()
        if engine is None:
            # "mock" (shipped with PySide6-Addons for tests) speaks nothing: never chosen by itself
            real = [e for e in PREFERRED_ENGINES if e in available]
            real += sorted(e for e in available if e not in real and e != "mock")
            if not real:
                self._fall_back(f"no text-to-speech engine installed (have {available})")
                return
            engine = real[0]
        elif engine not in available:
            self._fall_back(f"text-to-speech engine {engine!r} not installed (have {available})")
            return
        tts = QTextToSpeech(engine, self)
        self.tts = tts
        tts.stateChanged.connect(self._on_tts_state)
        self._on_tts_state(tts.state())

    @Slot(object)
    def _on_tts_state(self, state: object) -> None:
        tts = self.tts
        if tts is None:
            return
        if state == QTextToSpeech.State.Error:
            reason = tts.errorString() or "error"
            self.tts = None
            tts.deleteLater()
            self._fall_back(f"text-to-speech engine {tts.engine()!r} failed: {reason}")
            return
        if state == QTextToSpeech.State.Ready:
            if self.backend != "tts":
                self._choose_voice(tts)
                self._set_backend("tts")
            self._pump()

    def _choose_voice(self, tts: QTextToSpeech) -> None:
        wanted = QLocale(self.language)
        locales = tts.availableLocales()
        exact = [loc for loc in locales if loc.name() == wanted.name()]
        same_language = [loc for loc in locales if loc.language() == wanted.language()]
        chosen = exact or same_language
        if chosen:
            tts.setLocale(chosen[0])
        else:
            log.info("text-to-speech has no %s voice; speaking with %s", wanted.name(), tts.locale().name())

    def _fall_back(self, reason: str) -> None:
        if self._sounds is not None:
            log.info("voice: %s; playing chimes from %s", reason, self._sounds)
            self._set_backend("sounds")
        else:
            log.info("voice: %s; no sounds either: silent", reason)
            self._set_backend("silent")
        self._pump()

    def _set_backend(self, backend: Backend) -> None:
        if backend != self.backend:
            self.backend = backend
            self.backendChanged.emit(backend)

    # ------------------------------------------------------------------------------------ speaking
    def prompt(self, kind: str, *, key: str | None = None, **values: object) -> None:
        """Say a prompt of ``kind`` ("pay" with amount_fen, "goodbye", "alert" with words); a later prompt
        with the same ``key`` (e.g. the lane) replaces one still waiting."""
        self.say(prompt_text(kind, values), kind=kind, key=key)

    def say(self, text: str, *, kind: str = "notice", key: str | None = None) -> None:
        """Queue ``text`` and return at once."""
        text = " ".join(str(text).split())[: self.max_chars]
        if not text or self.backend == "silent":
            return
        if key is not None:
            kept = deque(item for item in self._queue if item.key != key)
            self.dropped += len(self._queue) - len(kept)
            self._queue = kept
        self._queue.append(_Queued(text, kind, key, self._clock()))
        while len(self._queue) > self.max_queue:
            self._queue.popleft()
            self.dropped += 1
        self._pump()

    @property
    def queued(self) -> int:
        return len(self._queue)

    def busy(self) -> bool:
        if self.backend == "tts" and isinstance(self.tts, QTextToSpeech):
            return self.tts.state() in (QTextToSpeech.State.Speaking, QTextToSpeech.State.Synthesizing)
        if self.backend == "sounds" and self._playing is not None:
                return isinstance(self._playing, QSoundEffect) and self._playing.isPlaying()
        return False

    def _pump(self) -> None:
        if self.backend in ("starting", "silent") or not self._queue or self.busy():
            return
        now = self._clock()
        while self._queue:
            item = self._queue.popleft()
            if now - item.at <= self.stale_s:
                self._speak(item)
                return
            self.dropped += 1
            log.debug("voice: dropped a stale prompt %r", item.text)

    def _speak(self, item: _Queued) -> None:
        if self.backend == "tts":
            assert self.tts is not None
            self.tts.say(item.text)
        else:
            effect = self._effect(item.kind)
            if effect is None:
                return
            self._playing = effect
            effect.play()
        self.spoke.emit(item.text)

    def _effect(self, kind: str) -> QSoundEffect | None:
        if self._sounds is None:
            return None
        effect = self._effects.get(kind)
        if effect is None:
            path = self._sounds / SOUND_FILES.get(kind, SOUND_FILES["notice"])
            if not path.is_file():
                log.warning("voice: no sound file %s", path)
                return None
            made = QSoundEffect(self)
            made.setSource(QUrl.fromLocalFile(str(path)))
            made.playingChanged.connect(self._on_sound_done)
            self._effects[kind] = made
            effect = made
        return effect

    @Slot()
    def _on_sound_done(self) -> None:
        self._pump()

    def close(self) -> None:
        """Stop speaking and forget what is queued (the window is closing)."""
        self._queue.clear()
        if self.tts is not None:
            self.tts.stop()
        self._set_backend("silent")


class LaneAnnouncer(QObject):
    """Prompts from lane changes: the fee when an exit starts waiting for payment, "一路顺风" when its gate
    opens, and the attendant's alerts. Each lane's prompts share a key, so a late one replaces the last."""

    def __init__(self, bridge: EngineBridge, voice: Voice, parent: QObject | None = None) -> None:
        super().__init__(parent if parent is not None else bridge)
        self.voice = voice
        self._last: dict[str, tuple[LaneState, int | None]] = {}
        bridge.laneChanged.connect(self._on_lane_changed)
        bridge.alertRaised.connect(self._on_alert)

    @Slot(object)
    def _on_lane_changed(self, view: LaneView) -> None:
        before = self._last.get(view.lane_id)
        self._last[view.lane_id] = (view.state, view.due_fen)
        if view.direction != "exit" or before == (view.state, view.due_fen):
            return
        if view.state is LaneState.AWAITING_PAYMENT and view.due_fen:
            self.voice.prompt("pay", key=view.lane_id, amount_fen=view.due_fen)
        elif view.state is LaneState.GATE_OPEN and (before is None or before[0] is not LaneState.GATE_OPEN):
            self.voice.prompt("goodbye", key=view.lane_id)

    @Slot(object)
    def _on_alert(self, alert: AlertRaised) -> None:
        if alert.kind in SPOKEN_ALERTS:
            self.voice.prompt("alert", key=f"alert:{alert.lane_id}", words=alert_words(alert.kind))
