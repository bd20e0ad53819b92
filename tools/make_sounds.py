"""Write the booth's fallback chimes (resources/sounds/*.wav) used when no text-to-speech engine is ready.

Run: ``python tools/make_sounds.py`` (the generated files are committed; rerun only to change them).
Short, soft sine tones with a fade in and out, 16-bit mono, so any sound card plays them.
"""

from __future__ import annotations

import math
import struct
import sys
import wave
from pathlib import Path

RATE = 22_050
SOUNDS = Path(__file__).resolve().parent.parent / "resources" / "sounds"
#: each chime: (frequency in Hz or 0 for a pause, seconds)
CHIMES: dict[str, list[tuple[float, float]]] = {
    "pay.wav": [(660.0, 0.18), (0.0, 0.04), (880.0, 0.28)],  # rising: "your turn"
    "goodbye.wav": [(880.0, 0.16), (740.0, 0.16), (587.0, 0.32)],  # falling: "done"
    "alert.wav": [(988.0, 0.12), (0.0, 0.08), (988.0, 0.12), (0.0, 0.08), (988.0, 0.12)],  # for the attendant
    "notice.wav": [(740.0, 0.25)],
}
VOLUME = 0.45
FADE_S = 0.015


def tone(frequency: float, seconds: float) -> list[int]:
    count = int(RATE * seconds)
    fade = max(1, int(RATE * FADE_S))
    samples = []
    for i in range(count):
        envelope = min(1.0, i / fade, (count - 1 - i) / fade)
        value = math.sin(2 * math.pi * frequency * i / RATE) if frequency else 0.0
        samples.append(round(32767 * VOLUME * envelope * value))
    return samples


def write(path: Path, notes: list[tuple[float, float]]) -> None:
    samples = [s for frequency, seconds in notes for s in tone(frequency, seconds)]
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(struct.pack(f"<{len(samples)}h", *samples))


def main() -> int:
    SOUNDS.mkdir(parents=True, exist_ok=True)
    for name, notes in CHIMES.items():
        write(SOUNDS / name, notes)
        print(SOUNDS / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
