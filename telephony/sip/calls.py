"""One caller's call: pjsua2 callbacks in, switchboard events out, media steps rendered.

Everything here runs on the pjsua2 thread except what is handed to the host (``SessionHost``,
the SIP service): the switchboard (database and Redis I/O), PIN checks and prompt rendering run
on the worker pool, and their result comes back through ``host.loop.post``. A call never waits
on I/O, and a slow database delays one caller's next prompt, not every call's audio.

The modules import one way: ``service`` -> ``calls`` -> ``bridge``. What a session needs from
the service is ``SessionHost``; what a bridge needs from both is in ``bridge.py``.

Safety: a caller is never left in silence and never hung up on by the system for being silent.
Whenever there is nothing to play (no steps, a refused player) the caller hears the hold loop;
the IVR itself sends silent callers to a person. A turn that fails or does not come back in time
sends her to the line's overflow number (``turns.py``), as Twilio's fallback does.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from calls.switchboard import Switchboard
from calls.turn import CallTurn
from ivr_flows.events import CallEvent, EventKind
from telephony.sip.bridge import Bridge, BridgeHost
from telephony.sip.legs import Leg, borrowed
from telephony.sip.loop import PjLoop
from telephony.sip.media import (
    CallAudio,
    DialStep,
    GatherStep,
    HangupStep,
    HoldStep,
    JoinStep,
    PlayStep,
    RecordStep,
    Step,
)
from telephony.sip.turns import TurnFailure

log = logging.getLogger(__name__)

PLAY_MARGIN_S = 0.2
ALONE_ON_HOLD_S = 30.0
"""How long a caller whose agent hung up while she was on hold waits on the hold loop for a
transfer's next person before going to the line's overflow number."""

T = TypeVar("T")
TurnResult = tuple[CallTurn, list[Step]]
AgentDropped = Callable[[str, str, float], str | None]
"""(call id, agent id, when) -> her new routing id, or None when the call was not the
agent's any more (``calls.reoffer.AgentDrops.agent_dropped``)."""


class SessionHost(BridgeHost, Protocol):
    """What a caller's session needs from the SIP service (``service.SipService``)."""

    hold_loop: Any
    loop: PjLoop
    switchboard: Switchboard
    agent_dropped: AgentDropped | None

    def submit(self, work: Callable[[], T], then: Callable[[T], None] | None) -> None: ...

    def take_turn(self, work: Callable[[], TurnResult], session: IvrSession) -> None: ...

    def plan(self, turn: CallTurn) -> list[Step]: ...

    def session_identified(self, session: IvrSession) -> None: ...

    def session_ended(self, session: IvrSession, recording: Path | None) -> None: ...

    def waiting(self, session: IvrSession) -> None: ...

    def recording_path(self, call_id: str) -> Path: ...

    def dial_out(self, session: IvrSession, number: str | None, reason: str) -> None: ...

    def join(self, session: IvrSession, call_id: str | None) -> None: ...


@dataclass
class GatherState:
    step: GatherStep
    digits: str = ""
    playing: bool = True
    timer: Any = None


@dataclass
class IvrSession:
    """The IVR side of one caller leg (inbound, or an answered outbound check-in)."""

    host: SessionHost
    leg: Leg
    call_id: str = ""
    audio: CallAudio = field(init=False)
    steps: deque[Step] = field(default_factory=deque)
    gather: GatherState | None = None
    typeahead: str = ""
    waiting_turn: bool = True
    holding: bool = False
    bridge: Bridge | None = None
    ended: bool = False
    record_policy: str | None = None
    record_pauses: tuple[str, ...] = ()
    opened: bool = False  # the switchboard opened the call (False: unknown line, fallback)
    line_id: str | None = None  # known from the first turn (or the outbound call's row)
    dialled: str | None = None  # the number she called, to find her line's overflow without it
    _timer: Any = None
    _events: Any = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        self.audio = CallAudio(self.host.hold_loop)
        self.leg.listener = self
        self.leg = borrowed(self.leg)

    @property
    def label(self) -> str:
        """For logs: the call id, or the SIP Call-ID before the switchboard has named it."""
        if self.call_id:
            return self.call_id
        try:
            return f"sip:{self.leg.sip_call_id or '-'}"
        except ReferenceError:
            return "-"

    # -- leg callbacks -----------------------------------------------------------------------

    def leg_confirmed(self, leg: Leg) -> None:
        """Answered; media arrives through ``leg_media``."""

    def leg_media(self, leg: Leg, media: Any) -> None:
        self.audio.attach(media)
        if not self.waiting_turn or self.steps:
            self._next()
        else:
            self.audio.hold()  # a turn is still being computed: never silence

    def leg_digit(self, leg: Leg, digit: str) -> None:
        if self.ended:
            return
        gather = self.gather
        if gather is None or self.waiting_turn:
            self.typeahead += digit
            return
        self._gather_digit(gather, digit)

    def leg_ended(self, leg: Leg, status: int) -> None:
        if self.ended:
            return
        self.ended = True
        self._cancel_timers()
        log.info("call %s: caller hung up (status %s)", self.call_id or "-", status)
        if self.bridge is not None:
            self.bridge.caller_left()
        recording = self.audio.release()
        self.host.session_ended(self, recording)
        if self.opened:
            self.send(EventKind.HANGUP)

    # -- turns -------------------------------------------------------------------------------

    def send(self, kind: EventKind, digits: str | None = None) -> None:
        """Hand an event to the switchboard off this thread; its actions come back later.
        Digits keyed at a PIN prompt go as they are: the switchboard compares them with her
        PIN and keeps only the result (nothing here logs them)."""
        call_id = self.call_id
        seq = next(self._events)
        at = time.time()
        self.waiting_turn = kind is not EventKind.HANGUP
        if self.waiting_turn and not self.holding:
            self.audio.hold()

        def work() -> TurnResult:
            event = CallEvent(kind=kind, call_id=call_id, at=at, digits=digits)
            turn = self.host.switchboard.handle(event, idempotency_key=f"sip:{call_id}:{seq}")
            return turn, self.host.plan(turn)

        if kind is EventKind.HANGUP:
            self.host.submit(work, None)
        else:
            self.host.take_turn(work, self)

    def apply(self, result: TurnResult) -> None:
        """A turn's media steps, back on the pjsua2 thread."""
        turn, steps = result
        if not self._identified(turn):
            return
        self.waiting_turn = False
        if self.bridge is not None:
            return  # with a person (or being connected to one): the IVR has nothing to say
        self.gather = None
        self.steps = deque(steps)
        if self.audio.ready:
            self._next()

    def turn_failed(self, reason: TurnFailure) -> None:
        """The turn raised or did not come back in time: the line's overflow, never a hang-up."""
        if self.ended:
            return
        self.waiting_turn = False
        if self.bridge is not None:
            return  # with a person (or being connected to one) already
        self.steps.clear()
        self.gather = None
        self.dial(None, reason.value)

    def turn_late(self, result: TurnResult) -> None:
        """A turn that came after the fallback: only who the call is counts now."""
        self._identified(result[0])

    def _identified(self, turn: CallTurn) -> bool:
        """Learn the call's id and line from a turn; False when the caller is gone."""
        if turn.line is not None:
            self.line_id = turn.line.line_id
        if self.ended:
            if not self.call_id and turn.line is not None:
                # She hung up while her call was being opened: tell the switchboard now.
                self.call_id, self.opened = turn.call_id, True
                self.send(EventKind.HANGUP)
            return False
        if not self.call_id:
            self.call_id = turn.call_id
            self.opened = turn.line is not None
            self.host.session_identified(self)
        return True

    # -- media steps -------------------------------------------------------------------------

    def _next(self) -> None:
        if self.ended or self.waiting_turn:
            return
        if not self.steps:
            if self.gather is None and self.bridge is None:
                self._hold()
            return
        step = self.steps.popleft()
        if isinstance(step, PlayStep):
            self.holding = False
            self.audio.stop_hold()
            if self.audio.play(step.files):
                self._after(step.seconds + PLAY_MARGIN_S, self._next)
            else:
                self._next()
        elif isinstance(step, GatherStep):
            self._start_gather(step)
        elif isinstance(step, HoldStep):
            self._hold()
        elif isinstance(step, RecordStep):
            self.record_policy = step.policy
            self.record_pauses = step.pause_during
            self.audio.start_recording(self.host.recording_path(self.call_id))
            self._next()
        elif isinstance(step, DialStep):
            self.dial(step.number, step.reason)
        elif isinstance(step, JoinStep):
            self.host.join(self, step.call_id)
        elif isinstance(step, HangupStep):
            log.info("call %s: ended by the flow (%s)", self.call_id, step.reason)
            self.leg.end()

    def _hold(self) -> None:
        self.holding = True
        self.audio.hold()
        self.host.waiting(self)

    def _after(self, seconds: float, action: Callable[[], None]) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self.host.loop.call_later(seconds, action)

    def _cancel_timers(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.gather is not None and self.gather.timer is not None:
            self.gather.timer.cancel()

    def _start_gather(self, step: GatherStep) -> None:
        self.holding = False
        self.audio.stop_hold()
        gather = GatherState(step)
        self.gather = gather
        typed, self.typeahead = self.typeahead, ""
        for digit in typed:
            if self.gather is not gather:
                self.typeahead += digit
                continue
            self._gather_digit(gather, digit)
        if self.gather is not gather or gather.digits:
            return
        if step.prompt.files and self.audio.play(step.prompt.files):
            self._after(step.prompt.seconds + PLAY_MARGIN_S, lambda: self._prompt_done(gather))
        else:
            self._prompt_done(gather)

    def _prompt_done(self, gather: GatherState) -> None:
        if self.gather is not gather:
            return
        gather.playing = False
        self._arm(gather)

    def _arm(self, gather: GatherState) -> None:
        if gather.timer is not None:
            gather.timer.cancel()
        gather.timer = self.host.loop.call_later(
            gather.step.timeout_s, lambda: self._gather_timeout(gather)
        )

    def _gather_digit(self, gather: GatherState, digit: str) -> None:
        if gather.playing:  # barge-in: a key stops the prompt
            gather.playing = False
            if self._timer is not None:
                self._timer.cancel()
            self.audio.stop_playing()
        step = gather.step
        if step.finish_on_key is not None and digit == step.finish_on_key:
            self._gather_done(gather)
            return
        gather.digits += digit
        if len(gather.digits) >= step.num_digits:
            self._gather_done(gather)
        else:
            self._arm(gather)

    def _gather_timeout(self, gather: GatherState) -> None:
        if self.gather is gather:
            self._gather_done(gather)

    def _gather_done(self, gather: GatherState) -> None:
        if gather.timer is not None:
            gather.timer.cancel()
        self.gather = None
        if gather.digits:
            self.send(EventKind.DIGITS, gather.digits)
        else:
            # No key within the timeout: the `silence` event. The flows send it to a person.
            self.send(EventKind.SILENCE)

    # -- people ------------------------------------------------------------------------------

    def dial(self, number: str | None, reason: str) -> None:
        """Send the caller to ``number`` (overflow, fallback; None: her line's overflow number
        from the overflow book): bridged through the trunk, or handed back with REFER."""
        self.host.dial_out(self, number, reason)

    def bridged(self, bridge: Bridge) -> None:
        self.bridge = bridge
        self.holding = False
        self.steps.clear()
        self.gather = None
        self._cancel_timers()
        self.audio.stop_playing()
        self.audio.stop_hold()

    def unbridged(self) -> None:
        """The person's leg failed before answering: back to the hold loop."""
        self.bridge = None
        if not self.ended:
            self._hold()

    def person_unanswered(self, person_id: str, reason: str = "agent_unanswered") -> None:
        """An agent accepted the call but her leg failed (busy, no answer, no SIP address):
        routing considers the call taken and will not offer it again, so the caller goes to
        the line's overflow number. A failed overflow leg leaves her on the hold loop."""
        if person_id.startswith("number:") or self.ended:
            return
        call_id = self.call_id

        def work() -> TurnResult:
            turn = self.host.switchboard.overflow_turn(call_id, reason)
            return turn, self.host.plan(turn)

        self.host.take_turn(work, self)

    def agent_dropped(self, agent_id: str, then: Callable[[bool | None], None]) -> None:
        """The agent's leg ended while she was with her: routing offers her again, first in
        her queue, when the call was still the agent's. ``then`` runs on the pjsua2 thread
        with True (offered again), False (the call was not the agent's: nothing was done) or
        None (it could not be asked)."""
        drops, call_id = self.host.agent_dropped, self.call_id
        if drops is None:
            then(False)
            return

        def work() -> bool | None:
            try:
                return drops(call_id, agent_id, time.time()) is not None
            except Exception as exc:
                log.error("call %s: not offered again (%s)", self.label, type(exc).__name__)
                return None

        self.host.submit(work, then)

    def alone_on_hold(self, person_id: str) -> None:
        """The person who put her on hold hung up. A transfer brings the next person (the
        call is queued again); otherwise nobody is coming, so after ``ALONE_ON_HOLD_S`` on the
        hold loop she goes to the line's overflow number, never to a hang-up."""

        def still_alone() -> None:
            if not self.ended and self.bridge is None:
                self.person_unanswered(person_id, "agent_left_hold")

        self._after(ALONE_ON_HOLD_S, still_alone)


def recording_file(root: Path, call_id: str) -> Path:
    return root / f"{call_id}-{int(time.time())}.wav"
