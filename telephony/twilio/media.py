"""Hold music of our own, generated rather than fetched.

Twilio's stock hold music lives on Twilio's servers; callers of a hotline should hear nothing
that depends on a third party's URL, and tests run without network. The tune is a few soft
sine chords written with the ``wave`` module on first use and kept in memory: no binary file
in the repository, nothing to license.
"""

from __future__ import annotations

import io
import math
import wave
from functools import cache

SAMPLE_RATE = 8000  # telephone audio: nothing above 4 kHz survives the network anyway
NOTE_SECONDS = 2.0
AMPLITUDE = 0.18  # calm, well below the level of speech prompts
CHORDS = (
    (261.63, 329.63, 392.00),  # C major
    (220.00, 261.63, 329.63),  # A minor
    (174.61, 220.00, 261.63),  # F major
    (196.00, 246.94, 293.66),  # G major
)


def _sample(chord: tuple[float, ...], index: int, length: int) -> int:
    t = index / SAMPLE_RATE
    # A slow rise and fall per chord, so the loop has no clicks at its joins.
    envelope = math.sin(math.pi * index / length) ** 2
    value = sum(math.sin(2 * math.pi * frequency * t) for frequency in chord) / len(chord)
    return int(32767 * AMPLITUDE * envelope * value)


@cache
def hold_music_wav() -> bytes:
    """Eight seconds of 8 kHz mono 16-bit PCM WAV that loops seamlessly."""
    length = int(SAMPLE_RATE * NOTE_SECONDS)
    frames = bytearray()
    for chord in CHORDS:
        for index in range(length):
            frames += _sample(chord, index, length).to_bytes(2, "little", signed=True)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SAMPLE_RATE)
        out.writeframes(bytes(frames))
    return buffer.getvalue()


MEDIA = {"hold.wav": hold_music_wav}
PROMPT_MEDIA = {"hold_music": "hold.wav"}  # recorded prompts a flow may ``play`` by name
