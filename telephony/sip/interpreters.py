"""An interpreter conferenced into a SIP call on the bridge.

The console's "add interpreter" reaches the SIP process holding the call (command
``interpreter``) with the interpreting service's target, found by the web process for the
call's line and language (``calls.interpreters``): a SIP URI is called as it is, a number through
the trunk with the neutral caller ID. Once the interpreter's leg has media, caller, agent and
interpreter all hear one another, the recording takes the interpreter too, and the service's
digits (an account PIN) are sent on her leg; they are never logged.

If her leg never answers, caller and agent stay as they are and the agent is told on her
console (``interpreter_failed``, as on Twilio). If she hangs up, or the console removes her,
only her leg ends. On hold the caller hears the hold loop and nothing of the interpreter, and
the interpreter nothing of her; agent and interpreter may go on talking. As she joins, caller
and agent hear "an interpreter is joining the call" in the call's locale.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import pjsua2 as pj

from telephony.sip.legs import Leg

log = logging.getLogger(__name__)


class InterpretedCall(Protocol):
    """The caller's bridge to her agent (``bridge.Bridge``), as an interpreter sees it."""

    @property
    def call_id(self) -> str: ...

    @property
    def on_hold(self) -> bool: ...

    def caller_media(self) -> Any: ...

    def person_media(self) -> Any: ...

    def record_also(self, media: Any) -> None: ...

    def log_event(self, kind: str, data: dict[str, Any]) -> None: ...

    def interpreter_gone(self, interpreter: InterpreterLeg) -> None: ...


def link(source: Any, sink: Any) -> None:
    try:
        source.startTransmit(sink)
    except pj.Error as exc:
        log.error("bridge link refused: %s", exc.reason)


def unlink(source: Any, sink: Any) -> None:
    with contextlib.suppress(pj.Error):
        source.stopTransmit(sink)


@dataclass
class InterpreterLeg:
    """The interpreter's leg on a bridge. ``gone`` is called once her leg is over: with its SIP
    status when it never answered (the agent is told), with None when she had joined."""

    call: InterpretedCall
    leg: Leg
    language: str
    digits: str | None
    gone: Callable[[int | None], None]
    announce: Callable[[], None] | None = None
    """Caller and agent are told she joins (``Bridge.announce``)."""
    connected: bool = False
    removed: bool = False

    def leg_confirmed(self, leg: Leg) -> None:
        """Answered; media follows."""

    def leg_media(self, leg: Leg, media: Any) -> None:
        if self.connected:
            return  # a re-INVITE: the links stand
        caller, person = self.call.caller_media(), self.call.person_media()
        if caller is None or person is None:
            leg.end()
            return
        self.connected = True
        link(person, media)
        link(media, person)
        if not self.call.on_hold:
            link(caller, media)
            link(media, caller)
        self.call.record_also(media)
        self.call.log_event("interpreter_joined", {"language": self.language})
        log.info("call %s: interpreter (%s) joined", self.call.call_id, self.language)
        if self.announce is not None:
            self.announce()
        if self.digits:
            try:
                leg.dialDtmf(self.digits)
            except (pj.Error, ReferenceError) as exc:
                log.error("call %s: interpreter's digits not sent (%s)", self.call.call_id, exc)

    def leg_digit(self, leg: Leg, digit: str) -> None:
        """The interpreter's keys do nothing in the call."""

    def leg_ended(self, leg: Leg, status: int) -> None:
        self.call.interpreter_gone(self)
        if self.connected:
            kind = "interpreter_removed" if self.removed else "interpreter_left"
            log.info("call %s: %s", self.call.call_id, kind.replace("_", " "))
            self.call.log_event(kind, {"language": self.language})
            self.gone(None)
            return
        log.warning("call %s: interpreter did not answer (status %s)", self.call.call_id, status)
        self.call.log_event("interpreter_failed", {"language": self.language, "status": status})
        self.gone(None if self.removed else status)

    def hold(self, on: bool) -> None:
        """The caller on hold hears nothing of the interpreter, nor she of the caller."""
        media, caller = self.leg.media, self.call.caller_media()
        if not self.connected or media is None or caller is None:
            return
        (unlink if on else link)(media, caller)
        (unlink if on else link)(caller, media)

    def remove(self) -> None:
        self.removed = True
        self.leg.end()
