"""Joining a caller to a person on the conference bridge.

When an agent accepts a call (in the web console, in whatever process) the SIP process holding
the caller calls the agent's SIP URI; once the agent's leg has media, the caller stops hearing
the hold loop and the two legs are connected both ways. The same bridge carries a call sent to
a number through the trunk (overflow, fallback).

A supervisor's leg joins an existing bridge in one of three modes:

* ``listen``: the supervisor hears caller and agent; nobody hears the supervisor;
* ``whisper``: as listen, and the agent (only) hears the supervisor (coaching);
* ``barge``: everyone hears everyone.

Hang-up of the caller ends the person's and supervisors' legs. When an agent's leg ends
mid-call (not from the console) the caller goes to the hold loop and, while the call is still
that agent's, back to the front of her queue (``calls.reoffer``); otherwise, and for a number
or a member, the person's hang-up ends the caller's leg; all are logged with ids only. A
person's leg that fails before answering puts the caller back on the hold loop (never silence,
never a hang-up); when that person was an agent who had accepted the call, the caller is then
sent to the line's overflow number, as on Twilio, since routing will not offer the call again.

The agent may also end the call from the console: every leg then gets a BYE, and the caller's
hang-up closes the call in the switchboard. On hold the caller hears the hold loop and is
unlinked from the person both ways (a barging supervisor is not heard by her either); the
recorder keeps both legs, so the recording goes on across hold. Resume links them again.
Nobody is hung up by hold or resume. A caller on hold outlives the person who held her: when
the call is transferred (another person is bridged) that person's leg is released, and when
that person hangs up the caller stays on the hold loop for whoever takes her next. An
interpreter joins the bridge as ``interpreters.py`` says, and leaves with the person.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

import pjsua2 as pj

from telephony.sip.interpreters import InterpreterLeg, link, unlink
from telephony.sip.legs import Leg
from telephony.sip.media import CallAudio

log = logging.getLogger(__name__)


class BridgeHost(Protocol):
    """What a bridge needs from the SIP service: the call's event log."""

    def log_event(self, call_id: str, kind: str, data: dict[str, Any]) -> None: ...


class BridgedCaller(Protocol):
    """The caller's side of a bridge (``calls.IvrSession``)."""

    @property
    def call_id(self) -> str: ...

    @property
    def ended(self) -> bool: ...

    @property
    def audio(self) -> CallAudio: ...

    @property
    def leg(self) -> Leg: ...

    @property
    def record_pauses(self) -> tuple[str, ...]:
        """The moments her recording pauses for (empty: not recorded, or never paused)."""

    def bridged(self, bridge: Bridge) -> None: ...

    def unbridged(self) -> None: ...

    def person_unanswered(self, person_id: str, reason: str = ...) -> None: ...

    def alone_on_hold(self, person_id: str) -> None: ...

    def agent_dropped(self, agent_id: str, then: Callable[[bool | None], None]) -> None: ...


class MonitorMode(StrEnum):
    LISTEN = "listen"
    WHISPER = "whisper"
    BARGE = "barge"


@dataclass
class SupervisorLeg:
    bridge: Bridge
    leg: Leg
    supervisor_id: str
    mode: MonitorMode
    gone: Callable[[], None] | None = None  # her leg is over (the console forgets her mode)

    def leg_confirmed(self, leg: Leg) -> None:
        """Media follows."""

    def leg_media(self, leg: Leg, media: Any) -> None:
        self.bridge.connect_supervisor(self)

    def leg_digit(self, leg: Leg, digit: str) -> None:
        """Supervisors' keys do nothing in the call."""

    def leg_ended(self, leg: Leg, status: int) -> None:
        log.info("call %s: supervisor left (status %s)", self.bridge.call_id, status)
        self.bridge.supervisors.pop(self.supervisor_id, None)
        if self.gone is not None:
            self.gone()


@dataclass
class Bridge:
    """The caller's session and the person (agent or number) it is being joined to."""

    host: BridgeHost
    session: BridgedCaller
    person: Leg
    person_id: str  # an agent id, or "number:<reason>" for a dialled target
    connected: bool = False
    caller_gone: bool = False
    on_hold: bool = False
    ending: bool = False  # ended from the console: every leg is being hung up on purpose
    released: bool = False  # the caller on hold left this person's bridge; she stays
    muted: bool = False  # the person's microphone is off: the caller does not hear her
    supervisors: dict[str, SupervisorLeg] = field(default_factory=dict)
    interpreter: InterpreterLeg | None = None
    transfer: Bridge | None = None  # an outside number ringing for a cold transfer
    announcement: Any = field(default=None, repr=False)  # the player of a notice both hear

    @property
    def call_id(self) -> str:
        return self.session.call_id

    # -- the person's leg --------------------------------------------------------------------

    def leg_confirmed(self, leg: Leg) -> None:
        """Answered; media follows."""

    def leg_media(self, leg: Leg, media: Any) -> None:
        caller = self.session.audio.media
        if caller is None or self.session.ended:
            leg.end()
            return
        self.session.bridged(self)
        link(caller, media)
        link(media, caller)
        self.session.audio.record_also(media)
        self.connected = True
        log.info("call %s: bridged to %s", self.call_id, self._who())
        self.host.log_event(self.call_id, "bridged", {"to": self._who()})

    def leg_digit(self, leg: Leg, digit: str) -> None:
        """The person's keys are not the caller's answers: they are played to the far end
        (RFC 2833 on the caller's leg, as the browser phone's keypad expects), never logged."""
        if not self.connected or self.on_hold or self.session.ended:
            return
        try:
            self.session.leg.dialDtmf(digit)
        except (pj.Error, ReferenceError) as exc:
            log.warning("call %s: key not passed on (%s)", self.call_id, type(exc).__name__)
            return
        log.info("call %s: a key from %s passed on to the caller", self.call_id, self._who())

    def leg_ended(self, leg: Leg, status: int) -> None:
        if self.caller_gone or self.ending or self.released:
            return  # we ended it: the caller hung up first, the console, or a transfer
        if self.connected and self.on_hold:
            log.info("call %s: %s left; the caller stays on hold", self.call_id, self._who())
            self.host.log_event(self.call_id, "person_left_hold", {"by": self._who()})
            self.released = True
            self._end_companions()
            self.session.unbridged()
            self.session.alone_on_hold(self.person_id)
        elif self.connected and ":" not in self.person_id:
            self._agent_left()
        elif self.connected:
            self._person_hung_up()
        else:
            log.warning(
                "call %s: %s did not answer (status %s); caller back on hold",
                self.call_id,
                self._who(),
                status,
            )
            self.host.log_event(
                self.call_id, "bridge_failed", {"to": self._who(), "status": status}
            )
            self._end_companions()
            self.session.unbridged()
            self.session.person_unanswered(self.person_id)

    def _agent_left(self) -> None:
        """The agent's leg ended mid-call (not from the console): the caller goes to the hold
        loop at once, then back to the front of her queue while the call is still the
        agent's; otherwise the agent's hang-up ends the caller's leg as before, and when
        routing cannot be asked she waits on hold for the overflow."""
        self.released = True
        self._end_companions()
        self.session.unbridged()

        def after(offered: bool | None) -> None:
            if offered:
                log.warning("call %s: the agent's leg dropped; offered again", self.call_id)
                self.host.log_event(self.call_id, "person_dropped", {"by": self._who()})
            elif offered is None:
                self.session.alone_on_hold(self.person_id)
            elif not self.session.ended:
                self._person_hung_up()

        self.session.agent_dropped(self.person_id, after)

    def _person_hung_up(self) -> None:
        log.info("call %s: %s hung up; ending the caller's leg", self.call_id, self._who())
        self.host.log_event(self.call_id, "person_hung_up", {"by": self._who()})
        self._end_companions()
        self.session.leg.end()

    # -- the caller's side -------------------------------------------------------------------

    def caller_left(self) -> None:
        if self.ending:
            return  # the console's end: logged and the other legs hung up already
        self.caller_gone = True
        log.info("call %s: caller hung up; ending %s's leg", self.call_id, self._who())
        self.host.log_event(self.call_id, "caller_hung_up", {"bridged_to": self._who()})
        self.person.end()
        self._end_companions()

    # -- the console's call control ----------------------------------------------------------

    def end_from_console(self) -> None:
        """The agent ended the call in the console: BYE to the person and the supervisors,
        then to the caller, whose hang-up closes the call in the switchboard."""
        self.ending = True
        log.info("call %s: ended from the console; hanging up every leg", self.call_id)
        self.host.log_event(self.call_id, "ended", {"by": self._who()})
        self.person.end()
        self._end_companions()
        self.session.leg.end()

    def hold(self, on: bool) -> None:
        """Hold (``on``) or resume a connected call; asking twice does nothing more."""
        caller = self.session.audio.media
        person = self.person.media
        if not self.connected or on == self.on_hold or caller is None or person is None:
            log.info("call %s: %s not applicable now; ignored", self.call_id, _hold_word(on))
            return
        self.on_hold = on
        if on:
            unlink(person, caller)
            unlink(caller, person)
            self.session.audio.hold()
        else:
            self.session.audio.stop_hold()
            link(caller, person)
            if not self.muted:
                link(person, caller)
        for supervisor in self.supervisors.values():
            sup = supervisor.leg.media
            if sup is not None and supervisor.mode is MonitorMode.BARGE:
                (unlink if on else link)(sup, caller)
        if self.interpreter is not None:
            self.interpreter.hold(on)
        log.info("call %s: %s", self.call_id, "caller on hold" if on else "caller back")
        self.host.log_event(self.call_id, "held" if on else "resumed", {"by": self._who()})

    def mute(self, on: bool) -> None:
        """The person's microphone off (``on``) or back on: muted, the caller hears nothing
        of her (the person still hears the caller). On hold the caller hears the hold loop
        either way; resume follows the microphone."""
        if on == self.muted:
            log.info("call %s: %s already; ignored", self.call_id, _mute_word(on))
            return
        self.muted = on
        caller = self.session.audio.media
        person = self.person.media
        if caller is not None and person is not None and not self.on_hold:
            (unlink if on else link)(person, caller)
        log.info("call %s: %s", self.call_id, _mute_word(on))
        self.host.log_event(self.call_id, "muted" if on else "unmuted", {"by": self._who()})

    def release(self) -> None:
        """The caller on hold goes to another person (a transfer from the console): the
        person who held her, and the supervisors, leave; she stays on the hold loop."""
        self.released = True
        log.info("call %s: %s released from the held call", self.call_id, self._who())
        self.host.log_event(self.call_id, "person_released", {"by": self._who()})
        self._end_companions()
        self.person.end()
        self.session.unbridged()

    # -- supervisors -------------------------------------------------------------------------

    def add_supervisor(self, supervisor: SupervisorLeg) -> None:
        self.supervisors[supervisor.supervisor_id] = supervisor

    def connect_supervisor(
        self, supervisor: SupervisorLeg, previous: MonitorMode | None = None
    ) -> None:
        sup = supervisor.leg.media
        caller = self.session.audio.media
        person = self.person.media
        if sup is None or caller is None or person is None:
            return
        if previous is None:
            link(caller, sup)
            link(person, sup)
        hears_sup_agent = supervisor.mode in (MonitorMode.WHISPER, MonitorMode.BARGE)
        hears_sup_caller = supervisor.mode is MonitorMode.BARGE and not self.on_hold
        (link if hears_sup_agent else unlink)(sup, person)
        (link if hears_sup_caller else unlink)(sup, caller)
        log.info("call %s: supervisor in %s mode", self.call_id, supervisor.mode.value)
        self.host.log_event(
            self.call_id,
            "supervisor_joined" if previous is None else "supervisor_mode",
            {"supervisor_id": supervisor.supervisor_id, "mode": supervisor.mode.value},
        )

    def change_mode(self, supervisor_id: str, mode: MonitorMode) -> bool:
        supervisor = self.supervisors.get(supervisor_id)
        if supervisor is None:
            return False
        previous, supervisor.mode = supervisor.mode, mode
        self.connect_supervisor(supervisor, previous)
        return True

    def _end_companions(self) -> None:
        """The supervisors' and the interpreter's legs end with the call or its person."""
        for supervisor in list(self.supervisors.values()):
            supervisor.leg.end()
        if self.interpreter is not None:
            self.interpreter.leg.end()
        if self.transfer is not None and not self.transfer.connected:
            self.transfer.person.end()

    # -- the interpreter (``interpreters.InterpreterLeg``) -----------------------------------

    def caller_media(self) -> Any:
        return self.session.audio.media

    def person_media(self) -> Any:
        return self.person.media

    def record_also(self, media: Any) -> None:
        self.session.audio.record_also(media)

    def log_event(self, kind: str, data: dict[str, Any]) -> None:
        self.host.log_event(self.call_id, kind, data)

    def announce(self, prompt: str, path: Path) -> None:
        """A short notice (``prompt`` rendered as ``path``) played to the person and, unless she
        is on hold, to the caller, over what they say to each other."""
        if self.session.ended or not self.connected or self.ending or self.released:
            return
        player = pj.AudioMediaPlayer()
        try:
            player.createPlayer(str(path), pj.PJMEDIA_FILE_NO_LOOP)
            for media in (self.person.media, None if self.on_hold else self.caller_media()):
                if media is not None:
                    player.startTransmit(media)
        except pj.Error as exc:
            log.error("call %s: notice not played (%s)", self.call_id, exc.reason)
            return
        self.announcement = player  # kept until the next notice or the bridge's end
        self.host.log_event(self.call_id, "announced", {"prompt": prompt})

    def interpreter_gone(self, interpreter: InterpreterLeg) -> None:
        if self.interpreter is interpreter:
            self.interpreter = None

    def _who(self) -> str:
        return self.person_id


def _mute_word(on: bool) -> str:
    return "person muted" if on else "person unmuted"


def _hold_word(on: bool) -> str:
    return "hold" if on else "resume"
