"""Ringing outbound calls (check-ins, notifications) from the shared queue, in this process.

The presence thread takes a request while the process has room (``OutboundDesk.take_next``):
the call's number is read from its row (``outbound.py``), the call is claimed for this process
and rung through the trunk with the neutral caller id on the pjsua2 thread. Answered, the leg
becomes an ordinary IVR session; unanswered (busy, declined, no answer, a failure), the attempt
is concluded at once so the check-in ladder goes on, and the call is over. A ``cancel`` command
ends a leg still ringing.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

import redis
from sqlalchemy.orm import Session, sessionmaker

from ivr_flows.events import CallEvent, EventKind
from settings import Settings
from store.vocabulary import Channel
from telephony.sip import commands
from telephony.sip.calls import IvrSession, SessionHost, TurnResult
from telephony.sip.legs import Leg, LegListener, borrowed, trunk_host
from telephony.sip.outbound import OutboundTarget, outbound_target, unanswered_reason

log = logging.getLogger(__name__)

Unanswered = Callable[[str, str, float], Any]
"""Concludes a check-in attempt nobody answered: call id, reason, when (epoch seconds)."""


class OutboundHost(SessionHost, Protocol):
    """What ringing an outbound call needs from the SIP service, besides a session's needs."""

    stats: dict[str, int]

    def legs_in_use(self) -> int: ...

    def new_leg(
        self, uri: str, listener: LegListener, neutral: bool = False, caller_id: str | None = None
    ) -> Leg | None: ...


class OutboundDesk:
    """The outbound calls of one SIP process: taken, ringing, answered or not."""

    def __init__(
        self,
        host: OutboundHost,
        *,
        settings: Settings,
        sessions: sessionmaker[Session],
        live: redis.Redis,
        process_id: str,
        stopping: threading.Event,
        unanswered: Unanswered | None = None,
    ) -> None:
        self.host = host
        self.settings = settings
        self.sessions = sessions
        self.live = live
        self.process_id = process_id
        self.stopping = stopping
        self._unanswered = unanswered
        self.ringing: dict[str, OutboundCall] = {}
        self.pending = 0  # taken, not yet rung on the pjsua2 thread

    def room(self) -> bool:
        return (
            not self.stopping.is_set()
            and self.host.legs_in_use() + self.pending < self.settings.sip_max_calls
        )

    def take_next(self) -> bool:
        """Take one request from the shared queue (presence thread) if there is room.

        Returns:
            False when there is no room (ask again later); True otherwise.

        Raises:
            redis.RedisError, ValueError, KeyError: Redis failed, or the request is unreadable.
        """
        if not self.room():
            return False
        item = self.live.blpop([commands.OUTBOUND_QUEUE], timeout=1)
        if item is not None:
            self._take(json.loads(item[1]))
        return True

    def _take(self, request: dict[str, Any]) -> None:
        """Read the call's number, claim the call, and ring it on the pjsua2 thread."""
        call_id = str(request["call_id"])
        if commands.cancelled(self.live, call_id):
            log.info("outbound call %s was cancelled before it was taken", call_id)
            return
        target = outbound_target(
            self.sessions, call_id, datetime.now(UTC), self.settings.checkin_ring_timeout_s
        )
        if target is None:
            return
        commands.claim_call(self.live, call_id, self.process_id)
        caller_id = str(request.get("caller_id") or "") or None
        self.pending += 1
        self.host.loop.post(lambda: self._ring(target, caller_id))

    def _ring(self, target: OutboundTarget, caller_id: str | None) -> None:
        self.pending -= 1
        trunk = trunk_host(self.settings)
        outbound = OutboundCall(self, target.call_id, target.line_id)
        if trunk is None:
            log.error("outbound call %s: no trunk configured (AMPARO_SIP_TRUNK)", target.call_id)
            outbound.leg_ended(None, 0)
            return
        uri = f"sip:{target.number}@{trunk}"
        leg = self.host.new_leg(uri, outbound, neutral=True, caller_id=caller_id)
        if leg is None:
            outbound.leg_ended(None, 0)
            return
        outbound.leg = borrowed(leg)
        self.ringing[target.call_id] = outbound
        self.host.log_event(target.call_id, "dialled", {})

    def cancel(self, call_id: str) -> None:
        """Command ``cancel`` (pjsua2 thread): end the leg if it is still ringing."""
        outbound = self.ringing.get(call_id)
        if outbound is None or outbound.leg is None:
            return
        log.info("outbound call %s: still ringing; cancelled", call_id)
        outbound.leg.end()

    def answered(self, outbound: OutboundCall, leg: Leg) -> None:
        self.ringing.pop(outbound.call_id, None)
        session = IvrSession(self.host, leg, line_id=outbound.line_id)  # takes the leg's callbacks
        call_id = session.call_id = outbound.call_id
        session.opened = True  # the check-in job opened it before it rang
        self.host.stats["answered"] += 1
        at = time.time()

        def work() -> TurnResult:
            turn = self.host.switchboard.answered(call_id, at)
            return turn, self.host.plan(turn)

        self.host.take_turn(work, session)
        self.host.session_identified(session)
        if leg.media is not None:
            session.leg_media(leg, leg.media)

    def unanswered(self, outbound: OutboundCall, status: int) -> None:
        """Nobody answered (busy, declined, no answer, a failure): the attempt is concluded now
        so the ladder goes on, and the call is over."""
        self.ringing.pop(outbound.call_id, None)
        call_id, at, reason = outbound.call_id, time.time(), unanswered_reason(status)
        log.info("outbound call %s: not answered (%s, status %s)", call_id, reason, status)
        self.host.log_event(call_id, "unanswered", {"status": status, "reason": reason})

        def work() -> None:
            commands.release_call(self.live, call_id, self.process_id)
            if self._unanswered is not None:
                self._unanswered(call_id, reason, at)
            hangup = CallEvent(EventKind.HANGUP, call_id, at, channel=Channel.SIP)
            self.host.switchboard.handle(hangup, idempotency_key=f"sip:{call_id}:unanswered")

        self.host.submit(work, None)


class OutboundCall:
    """An outbound leg ringing; once answered it becomes an ordinary IVR session."""

    def __init__(self, desk: OutboundDesk, call_id: str, line_id: str | None) -> None:
        self.desk = desk
        self.call_id = call_id
        self.line_id = line_id
        self.leg: Leg | None = None

    def leg_confirmed(self, leg: Leg) -> None:
        self.desk.answered(self, leg)

    def leg_media(self, leg: Leg, media: Any) -> None:
        """Early media before the answer: nothing to play yet."""

    def leg_digit(self, leg: Leg, digit: str) -> None:
        """Keys before the answer are ignored."""

    def leg_ended(self, leg: Leg | None, status: int) -> None:
        self.desk.unanswered(self, status)
