"""Rendering the IVR's actions as pjsua2 media operations.

Two halves, on two kinds of thread:

* :func:`plan_turn` runs on a worker thread: it turns a ``CallTurn``'s actions into a list of
  media steps with every prompt already resolved to a WAV file (rendering it if needed) and its
  playing time measured, so the pjsua2 thread never waits on a disk, a database or espeak-ng.
* :class:`CallAudio` runs on the pjsua2 thread: per-call players, the shared hold loop and the
  recorder, all joined on the conference bridge.

Mapping of the closed action set: ``Say``/``Play`` -> a playlist of WAVs; ``Gather`` -> its
prompts with barge-in, then keys collected until ``num_digits``, ``finish_on_key`` or
``timeout_s`` of no input (a ``silence`` event when nothing was pressed); ``Enqueue`` and a
connecting ``Escalate`` -> the hold loop until a person is bridged; ``Dial`` -> an outbound leg
to the line's number through the trunk, bridged; ``Record`` -> a WAV recorder on the bridge;
``Hangup`` -> hang up after what was said before it has been heard.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, assert_never

import pjsua2 as pj

from calls.turn import CallTurn
from ivr_flows.actions import (
    Dial,
    Enqueue,
    Escalate,
    Gather,
    Hangup,
    Join,
    Play,
    Record,
    Say,
    SetLocale,
)
from telephony.sip.prompts import PromptLibrary, wav_seconds

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PlayStep:
    files: tuple[Path, ...]
    seconds: float


@dataclass(frozen=True)
class GatherStep:
    prompt: PlayStep
    num_digits: int
    timeout_s: float
    finish_on_key: str | None


@dataclass(frozen=True)
class HoldStep:
    """Wait for a person (queue or urgent team) hearing the hold loop."""


@dataclass(frozen=True)
class DialStep:
    number: str | None
    reason: str


@dataclass(frozen=True)
class RecordStep:
    policy: str
    pause_during: tuple[str, ...] = ()


@dataclass(frozen=True)
class JoinStep:
    """An urgent-team member's alert call joins the woman's live call ``call_id``."""

    call_id: str | None


@dataclass(frozen=True)
class HangupStep:
    reason: str


Step = PlayStep | GatherStep | HoldStep | DialStep | JoinStep | RecordStep | HangupStep


def _prompt_files(
    prompts: PromptLibrary, items: tuple[Say | Play, ...] | list[Say | Play]
) -> PlayStep:
    files: list[Path] = []
    for item in items:
        if isinstance(item, Say):
            files.append(prompts.file_for(item.message_id, item.locale, item.params))
        else:
            recorded = prompts.recorded_dir / "prompts" / f"{item.prompt}.wav"
            files.append(recorded if recorded.is_file() else prompts.hold())
    return PlayStep(tuple(files), sum(wav_seconds(path) for path in files))


def plan_turn(turn: CallTurn, prompts: PromptLibrary) -> list[Step]:
    """The media steps of ``turn`` in the order the caller must experience them."""
    steps: list[Step] = []
    pending: list[Say | Play] = []

    def flush() -> None:
        if pending:
            steps.append(_prompt_files(prompts, pending))
            pending.clear()

    for action in turn.actions:
        match action:
            case Say() | Play():
                pending.append(action)
            case Gather():
                flush()
                steps.append(
                    GatherStep(
                        prompt=_prompt_files(prompts, list(action.prompts)),
                        num_digits=max(1, action.num_digits),
                        timeout_s=action.timeout_s,
                        finish_on_key=action.finish_on_key,
                    )
                )
            case Record():
                flush()
                steps.append(RecordStep(action.policy, action.pause_during))
            case Enqueue() | Escalate(connect_caller=True):
                flush()
                steps.append(HoldStep())
            case Escalate():
                pass  # duress: the switchboard started the ladder; the call sounds normal
            case Dial():
                flush()
                steps.append(DialStep(turn.dial_number(action), action.reason))
            case Join():
                flush()
                steps.append(JoinStep(turn.join_call))
            case Hangup():
                flush()
                steps.append(HangupStep(action.reason))
            case SetLocale():
                pass  # the following Say actions carry their locale
            case _:
                assert_never(action)
    flush()
    return steps


class CallAudio:
    """One call's audio on the conference bridge (pjsua2 thread only)."""

    def __init__(self, hold_loop: Any) -> None:
        self._hold_loop = hold_loop
        self._player: Any = None
        self._media: Any = None
        self._holding = False
        self.recorder: Any = None
        self.recording_path: Path | None = None
        self._recorded: list[Any] = []  # the other legs in the recording
        self.recording_paused = False

    def attach(self, media: Any) -> None:
        self._media = media

    @property
    def ready(self) -> bool:
        return self._media is not None

    @property
    def media(self) -> Any:
        return self._media

    def play(self, files: tuple[Path, ...]) -> bool:
        """Start a playlist to the caller; False when the bridge refused (caller then hears
        the hold loop rather than nothing)."""
        self.stop_playing()
        if not files or self._media is None:
            return False
        player = pj.AudioMediaPlayer()
        try:
            if len(files) == 1:
                player.createPlayer(str(files[0]), pj.PJMEDIA_FILE_NO_LOOP)
            else:
                names = pj.StringVector()
                for path in files:
                    names.append(str(path))
                player.createPlaylist(names, "prompts", pj.PJMEDIA_FILE_NO_LOOP)
            player.startTransmit(self._media)
        except pj.Error as exc:
            log.error("prompt player refused (%s); playing the hold loop", exc.reason)
            self.hold()
            return False
        self._player = player
        return True

    def stop_playing(self) -> None:
        player, self._player = self._player, None
        if player is not None and self._media is not None:
            with contextlib.suppress(pj.Error):
                player.stopTransmit(self._media)
        # Dropping the last reference destroys the player; pjmedia frees its bridge port on the
        # next clock tick (port removal is asynchronous in 2.17).
        del player

    def hold(self) -> None:
        if self._media is None or self._holding:
            return
        self.stop_playing()
        try:
            self._hold_loop.startTransmit(self._media)
            self._holding = True
        except pj.Error as exc:
            log.error("hold loop could not be connected: %s", exc.reason)

    def stop_hold(self) -> None:
        if self._holding and self._media is not None:
            with contextlib.suppress(pj.Error):
                self._hold_loop.stopTransmit(self._media)
        self._holding = False

    def start_recording(self, path: Path) -> bool:
        if self.recorder is not None or self._media is None:
            return self.recorder is not None
        recorder = pj.AudioMediaRecorder()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            recorder.createRecorder(str(path))
            self._media.startTransmit(recorder)
        except pj.Error as exc:
            log.error("recorder refused: %s", exc.reason)
            return False
        self.recorder = recorder
        self.recording_path = path
        return True

    def record_also(self, other: Any) -> None:
        """Put another leg (the agent) into this call's recording (from its resume, if the
        recording is paused now)."""
        if self.recorder is not None:
            self._recorded.append(other)
            if self.recording_paused:
                return
            try:
                other.startTransmit(self.recorder)
            except pj.Error as exc:
                log.error("second leg not recorded: %s", exc.reason)

    def pause_recording(self, paused: bool, resume_with: tuple[Any, ...] = ()) -> bool:
        """Nothing reaches the recorder while ``paused`` (the file skips that time). Resumed,
        it records her and ``resume_with`` only: the legs still on the call (a leg that ended
        meanwhile left a bridge slot pjsua may have given to another call). True when this
        changed anything."""
        if self.recorder is None or self._media is None or paused == self.recording_paused:
            return False
        self.recording_paused = paused
        if not paused:
            self._recorded = list(resume_with)
        for source in [self._media, *self._recorded]:
            with contextlib.suppress(pj.Error, ReferenceError):
                if paused:
                    source.stopTransmit(self.recorder)
                else:
                    source.startTransmit(self.recorder)
        return True

    def release(self) -> Path | None:
        """The call is over (its media port is already gone, and with it every connection):
        drop players and recorder; returns the finished recording to archive, if any."""
        self._media = None
        self._holding = False
        self.stop_playing()
        recorder, self.recorder = self.recorder, None
        self._recorded.clear()
        del recorder  # closes the WAV file
        path, self.recording_path = self.recording_path, None
        return path
