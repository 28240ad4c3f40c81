"""The IVR's actions that reach routing: enqueue, escalate, and the end of the call.

What the caller hears or is connected to (say, play, gather, dial, record, locale) is the
edge's to render; this is the one dispatch over the action set in the middle floor.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import assert_never

from sqlalchemy.orm import Session, sessionmaker

from calls.directory import LineInfo
from calls.escalations import close_call_escalations
from calls.records import CallRecords
from ivr_flows.actions import (
    Action,
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
from ivr_flows.state import CallFlag
from ivr_flows.triage import TOP_PRIORITY
from routing import CallRequest, Router
from routing.state import CallStatus
from store.live_state import key
from store.records import Escalation
from store.vocabulary import CallRecordStatus, RiskLevel

log = logging.getLogger(__name__)


@dataclass
class RoutingDispatch:
    sessions: sessionmaker[Session]
    router: Router
    records: CallRecords

    def route(self, call_id: str, line: LineInfo, actions: Sequence[Action], at: float) -> None:
        for action in actions:
            match action:
                case Enqueue():
                    self.enqueue(
                        call_id,
                        line,
                        action.queue,
                        action.risk,
                        action.priority,
                        action.flags,
                        action.locale,
                        at,
                    )
                case Escalate():
                    self._escalate(call_id, line, action, at)
                case Hangup():
                    self.records.update(call_id, status=CallRecordStatus.ENDED, ended_at=at)
                case Join():
                    # An urgent-team member's alert call is now her conversation with the woman.
                    self.records.update(call_id, status=CallRecordStatus.JOINED)
                case Say() | Play() | Gather() | Dial() | Record() | SetLocale():
                    pass  # what the caller hears or is connected to: the edge renders it
                case _:
                    assert_never(action)

    def enqueue(
        self,
        call_id: str,
        line: LineInfo,
        queue: str,
        risk: RiskLevel,
        priority: int,
        flags: frozenset[CallFlag],
        locale: str,
        at: float,
    ) -> None:
        meta = self.records.live.hgetall(key("call", call_id))
        self.router.enqueue(
            CallRequest(
                call_id=call_id,
                queue=line.queue_id(queue),
                risk=risk,
                priority=self._routing_priority(priority),
                language=None if CallFlag.INTERPRETER in flags else locale,
                flags=frozenset(flag.value for flag in flags),
                line_id=line.line_id,
                callback_eligible=bool(meta.get("callback_eligible")),
            ),
            at,
        )
        self.records.update(
            call_id,
            status=CallRecordStatus.QUEUED,
            risk_level=risk.value,
            priority=priority,
            flags=sorted(flag.value for flag in flags),
            locale=locale,
        )

    def _routing_priority(self, ivr_priority: int) -> int | None:
        """The IVR ranks priority on its own small scale; routing counts seconds of head start.
        A top-priority IVR outcome (any "yes" on the screen, or no answer) waits like a severe
        call; otherwise routing's default for the risk level applies."""
        if ivr_priority >= TOP_PRIORITY:
            return self.router.config.priority_by_risk[RiskLevel.EXTREMO]
        return None

    def _escalate(self, call_id: str, line: LineInfo, action: Escalate, at: float) -> None:
        escalation_id = f"call:{call_id}"
        if line.urgent_team_id is not None:
            self.router.escalate(escalation_id, line.urgent_team_id, action.reason, at, call_id)
            with self.sessions() as db, db.begin():
                if db.get(Escalation, escalation_id) is None:
                    db.add(
                        Escalation(
                            id=escalation_id,
                            call_id=call_id,
                            team_id=line.urgent_team_id,
                            reason=action.reason,
                            opened_at=datetime.fromtimestamp(at, UTC),
                        )
                    )
        else:
            log.error("call %s: line has no urgent team; queued at top priority", call_id)
        if action.connect_caller:
            self.enqueue(
                call_id,
                line,
                "general",
                action.risk,
                action.priority,
                action.flags,
                action.locale,
                at,
            )
        else:
            self.records.update(call_id, risk_level=action.risk.value, priority=action.priority)

    def caller_left(self, call_id: str, at: float) -> None:
        """She hung up: routing lets her go, and her row ends as routing saw her leave (an
        overflowed call stays overflowed, not abandoned, when she hangs up after the
        overflow number). Routing holds her under her newest leg: the call id, or the id she
        was queued again under after a transfer or a dropped agent."""
        leg = self.records.live.hget(key("call", call_id), "leg")
        left = self.router.hangup(str(leg) if leg else call_id, at)
        overflowed = left.result.get("call_status") == CallStatus.OVERFLOWED
        if overflowed or left.result.get("call_status") == CallStatus.COMPLETED:
            # She reached a person (an agent, or the overflow number): the rings that only
            # sought one for her stop. A caller who left before anyone keeps hers.
            close_call_escalations(self.sessions, self.router, call_id, "call_ended", at)
        self.records.update(
            call_id,
            ended_at=at,
            unanswered=CallRecordStatus.OVERFLOWED if overflowed else CallRecordStatus.ABANDONED,
        )
