"""Prompts as 8 kHz mono 16-bit WAV files, the format the SIP media clock runs at.

A recorded prompt (``locales/<lang>/prompts/<message_id>.wav``, for prompts without parameters)
always wins: a human voice is better than a synthetic one, and it is the only way to give a
language espeak-ng cannot speak (Galician) its own voice. Anything else is rendered once with
espeak-ng into a cache keyed by locale, message id and a hash of the exact text, so a changed
translation is rendered again and an unchanged one never is. Rendering runs on worker threads,
never on the thread that drives pjsua2.

No prompt is ever missing at play time: if espeak-ng is not installed, or fails, the prompt is a
short soft tone instead of silence, and the failure is logged once.
"""

from __future__ import annotations

import array
import hashlib
import logging
import math
import shutil
import subprocess
import tempfile
import threading
import wave
from collections.abc import Iterable, Mapping
from pathlib import Path

from locales import LOCALES_DIR
from locales.prompts import prompt_text
from locales.voices import voice_for

log = logging.getLogger(__name__)

SAMPLE_RATE = 8000
RENDER_TIMEOUT_S = 30


def wav_seconds(path: Path) -> float:
    """Playing time of a WAV file (used for timers: pjsua2 end-of-file callbacks arrive on the
    media thread, which must never run Python that touches calls)."""
    with wave.open(str(path), "rb") as handle:
        return handle.getnframes() / float(handle.getframerate() or SAMPLE_RATE)


def write_pcm(path: Path, samples: Iterable[int], rate: int = SAMPLE_RATE) -> None:
    data = array.array("h", samples)
    tmp = path.with_suffix(".tmp")
    with wave.open(str(tmp), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(data.tobytes())
    tmp.replace(path)


def tone(seconds: float, frequency: float, level: float = 0.15) -> list[int]:
    count = int(seconds * SAMPLE_RATE)
    fade = max(1, int(0.02 * SAMPLE_RATE))
    out = []
    for n in range(count):
        envelope = min(1.0, n / fade, (count - n) / fade)
        out.append(int(32767 * level * envelope * math.sin(2 * math.pi * frequency * n / 8000)))
    return out


def hold_audio(path: Path) -> Path:
    """A soft, slow chime loop for callers waiting for a person: never silence, which a caller
    in danger could take for a dropped line."""
    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    samples: list[int] = []
    for frequency in (523.25, 659.25, 783.99, 659.25):
        samples += tone(0.45, frequency, 0.12) + [0] * int(0.15 * SAMPLE_RATE)
    samples += [0] * int(1.2 * SAMPLE_RATE)
    write_pcm(path, samples)
    return path


def resample_to_8k(source: Path, target: Path) -> None:
    """Plain-Python conversion to 8 kHz mono 16-bit (sox is used when present)."""
    with wave.open(str(source), "rb") as handle:
        rate = handle.getframerate()
        channels = handle.getnchannels()
        width = handle.getsampwidth()
        raw = handle.readframes(handle.getnframes())
    if width != 2:
        raise ValueError("only 16-bit WAV can be converted without sox")
    pcm = array.array("h", raw)
    mono = pcm[::channels] if channels > 1 else pcm
    step = rate / SAMPLE_RATE
    count = int(len(mono) / step)
    write_pcm(target, (mono[min(len(mono) - 1, int(i * step))] for i in range(count)))


class PromptLibrary:
    """Finds or renders the WAV file of each prompt.

    Args:
        cache_dir: where rendered prompts are kept (under the data dir, reused across starts).
        recorded_dir: root of recorded prompts, ``<root>/<lang>/prompts/<message_id>.wav``.
    """

    def __init__(self, cache_dir: Path, recorded_dir: Path = LOCALES_DIR) -> None:
        self.cache_dir = cache_dir
        self.recorded_dir = recorded_dir
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self._espeak = shutil.which("espeak-ng")
        self._sox = shutil.which("sox")
        self._lock = threading.Lock()
        self._rendering: dict[Path, threading.Lock] = {}
        self._warned = False

    def hold(self) -> Path:
        return hold_audio(self.cache_dir / "hold.wav")

    def file_for(self, message_id: str, locale: str, params: Mapping[str, str]) -> Path:
        """The WAV of ``message_id`` in ``locale``, rendering it on first use."""
        if not params:
            recorded = self.recorded_dir / locale / "prompts" / f"{message_id}.wav"
            if recorded.is_file():
                return recorded
        text = prompt_text(message_id, locale, params)
        digest = hashlib.sha256(f"{locale}\0{message_id}\0{text}".encode()).hexdigest()[:16]
        target = self.cache_dir / locale / f"{message_id}-{digest}.wav"
        if target.is_file():
            return target
        with self._lock:
            per_file = self._rendering.setdefault(target, threading.Lock())
        with per_file:
            if not target.is_file():
                self._render(text, locale, target)
        return target

    def _render(self, text: str, locale: str, target: Path) -> None:
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            if self._espeak is None:
                raise FileNotFoundError("espeak-ng is not installed")
            with tempfile.TemporaryDirectory(dir=self.cache_dir) as work:
                spoken = Path(work) / "spoken.wav"
                subprocess.run(
                    [
                        self._espeak,
                        "-v",
                        voice_for(locale).espeak_voice,
                        "-s",
                        "150",
                        "-w",
                        str(spoken),
                        "--",
                        text,
                    ],
                    check=True,
                    capture_output=True,
                    timeout=RENDER_TIMEOUT_S,
                )
                converted = Path(work) / "converted.wav"
                if self._sox is not None:
                    subprocess.run(
                        [
                            self._sox,
                            str(spoken),
                            "-r",
                            "8000",
                            "-c",
                            "1",
                            "-b",
                            "16",
                            str(converted),
                        ],
                        check=True,
                        capture_output=True,
                        timeout=RENDER_TIMEOUT_S,
                    )
                else:
                    resample_to_8k(spoken, converted)
                converted.replace(target)
        except (OSError, subprocess.SubprocessError, ValueError, wave.Error) as exc:
            if not self._warned:
                log.error("prompts cannot be rendered (%s); callers hear a tone instead", exc)
                self._warned = True
            write_pcm(target.with_suffix(".tone.wav"), tone(0.6, 440.0))
            target.with_suffix(".tone.wav").replace(target)

    def prerender(self, items: Iterable[tuple[str, str, Mapping[str, str]]]) -> int:
        """Render ``(message_id, locale, params)`` ahead of the first call; returns how many."""
        count = 0
        for message_id, locale, params in items:
            self.file_for(message_id, locale, params)
            count += 1
        return count


def flow_prompts(
    flow_files: Iterable[Path], locales: Iterable[str]
) -> list[tuple[str, str, dict[str, str]]]:
    """Every message of the given flow files, in each of ``locales`` unless pinned to one."""
    import json

    wanted = list(locales)
    out: dict[tuple[str, str, str], tuple[str, str, dict[str, str]]] = {}
    for flow_file in flow_files:
        data = json.loads(flow_file.read_text())
        for state in data.get("states", []):
            props = state.get("properties") or {}
            messages = list(props.get("messages") or [])
            if props.get("invalid_message"):
                messages.append({"message_id": props["invalid_message"]})
            for message in messages:
                params = {str(k): str(v) for k, v in (message.get("params") or {}).items()}
                for locale in [message["locale"]] if message.get("locale") else wanted:
                    item = (message["message_id"], locale, params)
                    out[(item[0], locale, repr(sorted(params.items())))] = item
    return list(out.values())
