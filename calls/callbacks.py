"""Callback tasks worked by agents: she is phoned back by a person, inside her safe windows.

A task is born when a caller from a safe number abandons the queue (routing's ``callbacks``
set, taken over here durably before routing forgets it). Its life:

1. ``pending`` until it is due and, when she is registered, inside one of her safe call
   windows (outside them ``due_at`` moves to the next safe moment; with none on file she is
   not called, and supervisors see the task overdue). A caller with no file is called at once.
2. ``routed``: an attempt opens a call (direction ``callback``) and routing offers it to agents
   by risk like a waiting call (``CallRequest.outbound``: no ladder, no overflow to a number).
3. ``dialing``: the agent accepted it in the console; her window is checked again and the
   deployment's outbound channel rings her with the neutral caller ID (flow
   ``callback_outbound``, which names nobody and leaves no voicemail).
4. ``reached`` when she answers: she is put through to the agent by the channel's bridge (the
   same path as an inbound caller). Unanswered (or a machine), the try counts; after
   ``MAX_TRIES`` the task is ``failed``, else it is due again after ``RETRY_AFTER``.

Every step is written (the task's status and ``outcome``, and call events) before the next is
taken. Supervisors see overdue and failed tasks (``calls.callback_rules``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import redis
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from calls.callback_intake import CallbackIntake
from calls.callback_rules import AGENT_PLACED, next_safe, overdue
from calls.directory import CallerInfo, Directory
from calls.records import CallRecords
from checkins.ports import OutboundDialer
from routing import CallRequest, Router
from routing.state import CALLBACK_TASK_FLAG
from store.base import new_id
from store.call_log import CallLog
from store.callbacks import Callback, CallbackStatus
from store.phone_numbers import lookup_hash
from store.records import Call
from store.vocabulary import Direction, RiskLevel

log = logging.getLogger(__name__)

CALLBACK_FLOW = "callback_outbound"
CALLBACK_FLAG = CALLBACK_TASK_FLAG
MAX_TRIES = 3
RETRY_AFTER = timedelta(minutes=15)
RING_TIMEOUT = timedelta(seconds=60)
"""An edge that never says "no answer" (the simulator; a lost status callback): the try ends."""
NO_WINDOW_SOON = timedelta(days=1)
"""When her windows leave no safe moment in the next two weeks: look again a day later."""


class AgentBridge(Protocol):
    def connect(self, call_id: str, agent_id: str) -> object: ...


def _when(at: float) -> datetime:
    return datetime.fromtimestamp(at, UTC)


@dataclass
class Callbacks:
    sessions: sessionmaker[Session]
    live: redis.Redis
    call_log: CallLog
    router: Callable[[], Router]
    dialer: OutboundDialer
    bridge: Callable[[str], AgentBridge | None]
    """The bridge of the edge carrying a call (the composition root's ``TelephonyControl``)."""
    clock: Callable[[], float]
    caller_id: str | None = None
    """The neutral number shown (None: the channel's default)."""

    def __post_init__(self) -> None:
        self.records = CallRecords(self.sessions, self.live, self.call_log)
        self._directory = Directory(self.sessions)
        self.intake = CallbackIntake(self.sessions, self.call_log, self.router)

    # -- tasks in -------------------------------------------------------------------------

    def work(self, now: float) -> dict[str, int]:
        """One round: take routing's new tasks over, end tries that rang out, route those due."""
        return {
            "taken": self.take_over(now),
            "rang_out": self.end_rung_out(now),
            "routed": self.route_due(now),
        }

    def take_over(self, now: float) -> int:
        """See :meth:`calls.callback_intake.CallbackIntake.take_over`."""
        return self.intake.take_over(now)

    def route_due(self, now: float, limit: int = 50) -> int:
        """Offer the due tasks to agents (each once, whatever the number of workers)."""
        routed = 0
        with self.sessions() as db:
            due = list(
                db.scalars(
                    select(Callback.id)
                    .where(Callback.status == CallbackStatus.PENDING)
                    .where(Callback.due_at <= _when(now))
                    .order_by(Callback.due_at)
                    .limit(limit)
                )
            )
        for callback_id in due:
            if self._route(callback_id, now):
                routed += 1
        return routed

    def _route(self, callback_id: str, now: float) -> bool:
        attempt_id = new_id()
        with self.sessions() as db, db.begin():
            callback = db.get(Callback, callback_id)
            if callback is None or callback.status != CallbackStatus.PENDING:
                return False
            safe_at = next_safe(db, callback, now)
            if safe_at is None or safe_at > _when(now):
                callback.due_at = safe_at or _when(now) + NO_WINDOW_SOON
                return False
            claimed = db.execute(
                update(Callback)
                .where(Callback.id == callback_id, Callback.status == CallbackStatus.PENDING)
                .values(status=CallbackStatus.ROUTED, attempt_call_id=attempt_id)
            )
            if getattr(claimed, "rowcount", 0) != 1:
                return False  # another worker took it
            number, line_id = callback.number, callback.line_id
            request = CallRequest(
                call_id=attempt_id,
                queue=callback.queue,
                risk=RiskLevel(callback.risk_level),
                language=callback.language,
                flags=frozenset({CALLBACK_FLAG}),
                line_id=line_id,
                outbound=True,
            )
            beneficiary_id = callback.beneficiary_id
        return self.open_attempt(callback_id, request, number, beneficiary_id, now)

    def open_attempt(
        self,
        callback_id: str,
        request: CallRequest,
        number: str | None,
        beneficiary_id: str | None,
        now: float,
    ) -> bool:
        """The attempt's call is opened and its task handed to routing."""
        attempt_id, line_id = request.call_id, request.line_id
        line = self._directory.line(line_id) if line_id else None
        if line is None or not number:
            log.error("callback %s: no line or number; not routed", callback_id)
            self.close(callback_id, CallbackStatus.FAILED, "unroutable", now)
            return False
        caller = CallerInfo(number, lookup_hash(number), beneficiary_id=beneficiary_id)
        channel = self.dialer.channel
        self.records.open(
            attempt_id,
            line,
            caller,
            channel,
            f"out-{attempt_id}",
            Direction.CALLBACK,
            CALLBACK_FLOW,
            now,
        )
        self.records.update(
            attempt_id,
            status="queued",
            risk_level=request.risk.value,
            flags=[CALLBACK_FLAG],
            locale=request.language,
        )
        self.call_log.append(attempt_id, "callback_routed", {"callback_id": callback_id}, at=now)
        try:
            self.router().enqueue(request, now)
        except Exception:
            log.exception("callback %s: routing refused the task; due again", callback_id)
            self._retry_later(attempt_id, "not_routed", now, count_try=False)
            return False
        return True

    def end_rung_out(self, now: float) -> int:
        """Tries still ringing ``RING_TIMEOUT`` after they were placed: stop ringing, count
        the try, free the agent."""
        with self.sessions() as db:
            stale = list(
                db.scalars(
                    select(Callback.attempt_call_id)
                    .where(Callback.status == CallbackStatus.DIALING)
                    .where(Callback.dialled_at <= _when(now) - RING_TIMEOUT)
                )
            )
        for call_id in stale:
            if call_id is None:
                continue
            self.dialer.cancel(call_id)
            self.ended(call_id, now, outcome="no_answer")
            self.router().hangup(call_id, now)
        return len(stale)

    # -- the agent took it ------------------------------------------------------------------

    def dial(self, call_id: str, agent_id: str) -> dict[str, Any]:
        """The agent accepted the task: ring her now, if it is safe now."""
        now = self.clock()
        with self.sessions() as db, db.begin():
            callback = db.scalar(select(Callback).where(Callback.attempt_call_id == call_id))
            if callback is None or callback.status != CallbackStatus.ROUTED:
                return {"call_id": call_id, "dialing": False, "error_id": "console.callback_gone"}
            safe_at = next_safe(db, callback, now)
            inside = safe_at is not None and safe_at <= _when(now)
            if inside:
                callback.status = CallbackStatus.DIALING
                callback.agent_id = agent_id
                callback.attempts += 1
                callback.dialled_at = _when(now)
                attempt = callback.attempts
            number, callback_id = callback.number, callback.id
        if not inside or not number:
            self.records.update(call_id, status="ended", ended_at=now)
            self.router().hangup(call_id, now)
            self._retry_later(call_id, "outside_window", now, count_try=False)
            return {
                "call_id": call_id,
                "dialing": False,
                "error_id": "console.callback_outside_window",
            }
        # Her call starts now (the task's wait for an agent was no call), and is rung like any
        # outbound call opened for the edge.
        self.records.update(call_id, status="ivr", started_at=_when(now))
        self.call_log.append(
            call_id,
            "callback_dialing",
            {"callback_id": callback_id, "attempt": attempt, "agent_id": agent_id},
            at=now,
        )
        try:
            self.dialer.place_call(call_id, number, self.caller_id)
        except Exception:
            log.exception("callback %s: the call could not be placed", callback_id)
            self.ended(call_id, now, outcome="dial_failed")
            self.router().hangup(call_id, now)
            return {"call_id": call_id, "dialing": False, "error_id": "console.dial_failed"}
        return {"call_id": call_id, "dialing": True}

    # -- what the switchboard hears on the attempt's call -------------------------------------

    def answered(
        self, call_id: str, at: float, *, machine: bool = False, put_through: bool = True
    ) -> bool:
        """She picked up: the task is reached and the call is the agent's; she is put through
        to her now, or (``put_through`` False: a recording notice first) by
        :meth:`put_through` once she waits. A machine hears nothing and the try counts (no
        identifying voicemail). False when this answer did not reach the task (a machine, a
        try already over: the agent cancelled it, or a repeated answer)."""
        if machine:
            self.ended(call_id, at, outcome="machine")
            return False
        with self.sessions() as db, db.begin():
            # Locked: an agent cancelling the ringing now (``calls.cancel_ringing``) waits for
            # this answer, or this answer for her cancel; one of them wins.
            callback = db.scalar(
                select(Callback).where(Callback.attempt_call_id == call_id).with_for_update()
            )
            if callback is None or callback.status != CallbackStatus.DIALING:
                return False
            callback.status = CallbackStatus.REACHED
            callback.outcome = "answered"
            callback.closed_at = _when(at)
            callback.number = None  # kept only while the task is open
            agent_id, risk = callback.agent_id, RiskLevel(callback.risk_level)
            call = db.get(Call, call_id)
            if call is not None:
                stored = RiskLevel(call.risk_level) if call.risk_level else None
                call.status = "on_call"
                call.agent_id = agent_id
                call.risk_level = RiskLevel.highest(risk, stored).value
                call.answered_at = call.answered_at or _when(at)
        self.call_log.append(call_id, "callback_answered", {"agent_id": agent_id}, at=at)
        if put_through:
            self.put_through(call_id, agent_id)
        return True

    def put_through(self, call_id: str, agent_id: str | None = None) -> None:
        """Bridge her answered call with its agent (by default the one the call is with, which
        is on a call again: the flow's hold after her consent queued it)."""
        if agent_id is None:
            with self.sessions() as db, db.begin():
                call = db.get(Call, call_id)
                if call is not None and call.ended_at is None and call.agent_id:
                    call.status = "on_call"
                    agent_id = call.agent_id
        bridge = self.bridge(call_id)
        if bridge is None or agent_id is None:
            log.error("call %s: answered callback with no bridge to the agent", call_id)
            return
        bridge.connect(call_id, agent_id)

    def ended(self, call_id: str, at: float, *, outcome: str = "no_answer") -> None:
        """The attempt's call ended before she was reached: the try counts (a call she was
        put through on is left alone: the agent ends it)."""
        with self.sessions() as db:
            found = db.scalar(select(Callback.id).where(Callback.attempt_call_id == call_id))
        if found is None:
            return
        self.records.update(call_id, status="ended", ended_at=at)
        self._retry_later(call_id, outcome, at, count_try=True)

    def expired(self, call_id: str) -> bool:
        """Routing gave up waiting for an agent to take the task (``OUTBOUND_MAX_WAIT_S``):
        it is due again at once. False when ``call_id`` is no callback task."""
        now = self.clock()
        with self.sessions() as db:
            found = db.scalar(select(Callback.id).where(Callback.attempt_call_id == call_id))
        if found is None:
            return False
        self.records.update(call_id, status="ended", ended_at=now)
        self._retry_later(call_id, "expired", now, count_try=False)
        return True

    # -- supervisors ------------------------------------------------------------------------

    def overdue(self, now: float, limit: int = 50) -> list[dict[str, Any]]:
        """See :func:`calls.callback_rules.overdue`."""
        return overdue(self.sessions, now, limit)

    # -- internals ------------------------------------------------------------------------

    def _retry_later(self, call_id: str, outcome: str, at: float, *, count_try: bool) -> None:
        with self.sessions() as db, db.begin():
            callback = db.scalar(select(Callback).where(Callback.attempt_call_id == call_id))
            if callback is None or callback.status not in (
                CallbackStatus.ROUTED,
                CallbackStatus.DIALING,
            ):
                return
            ended = end_try(callback, outcome, at, count_try=count_try)
        self.log_try(call_id, ended, at)

    def log_try(self, call_id: str, ended: dict[str, Any], at: float) -> None:
        """The call log's word on a try :func:`end_try` ended (ids and counts only)."""
        self.call_log.append(call_id, "callback_attempt_ended", ended, at=at)
        if ended["status"] == CallbackStatus.FAILED:
            log.warning(
                "callback %s: not reached after %d tries", ended["callback_id"], ended["attempts"]
            )

    def close(self, callback_id: str, status: CallbackStatus, outcome: str, at: float) -> None:
        with self.sessions() as db, db.begin():
            callback = db.get(Callback, callback_id)
            if callback is not None:
                callback.status, callback.outcome = status, outcome
                callback.closed_at, callback.number = _when(at), None


def end_try(callback: Callback, outcome: str, at: float, *, count_try: bool) -> dict[str, Any]:
    """The task's current try is over (in the caller's transaction): due again, or ``failed``
    once its tries are used up (one for a call an agent placed). Returns what is logged."""
    callback.outcome = outcome
    callback.attempt_call_id = None
    tries = 1 if callback.reason == AGENT_PLACED else MAX_TRIES
    if count_try and callback.attempts >= tries:
        callback.status = CallbackStatus.FAILED
        callback.closed_at = _when(at)
        callback.number = None
    else:
        callback.status = CallbackStatus.PENDING
        callback.due_at = _when(at) + (RETRY_AFTER if count_try else timedelta(0))
    return {
        "callback_id": callback.id,
        "attempts": callback.attempts,
        "outcome": outcome,
        "status": callback.status,
    }


def work_forever(
    callbacks: Callable[[], Callbacks],
    clock: Callable[[], float],
    stop: threading.Event,
    every_s: float = 10.0,
) -> None:
    """The worker's round of callback tasks; a failure is logged and retried next round."""
    while not stop.wait(every_s):
        try:
            callbacks().work(clock())
        except Exception:
            log.exception("callback round failed; retrying on the next")
