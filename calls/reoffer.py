"""An agent's leg that drops mid-call: the caller goes back to the front of her queue.

The agent's phone or softphone left the call while the call was still hers (the console never
ended it): the caller stays on the line, on the hold audio, and is queued again under a new
routing id (``<call id>.r<n>``) with the ``reoffer`` flag and the top priority of her queue, so
she is the next caller offered. A call already ended, transferred or with another agent is
left alone, so a leg that ends after the console's end (or a late callback) changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import redis
from sqlalchemy.orm import Session, sessionmaker

from routing import CallRequest, Router
from routing.channels import base_call_id
from routing.state import routing_key
from store.call_log import CallLog
from store.live_state import key
from store.records import Call
from store.vocabulary import CallRecordStatus, RiskLevel

log = logging.getLogger(__name__)

REOFFER_FLAG = "reoffer"
HEAD_START_S = 3600
"""Her head start in her queue's ageing: she goes before every caller there who has not waited
an hour more than her, whatever their risk."""


@dataclass
class AgentDrops:
    sessions: sessionmaker[Session]
    router: Callable[[], Router]
    live: redis.Redis
    call_log: CallLog

    def agent_dropped(self, call_id: str, agent_id: str, at: float) -> str | None:
        """Queue her again at the front when ``agent_id`` still had her call; return the new
        routing id (None when the call was not hers any more: nothing is done)."""
        call_id = base_call_id(call_id)
        leg = str(self.live.hget(key("call", call_id), "leg") or call_id)
        router = self.router()
        queue = self.live.hget(routing_key("call", leg), "queue")
        with self.sessions() as db, db.begin():
            row = db.get(Call, call_id, with_for_update=True)
            if row is None or row.status != CallRecordStatus.ON_CALL or row.agent_id != agent_id:
                return None
            if not queue or str(queue) not in router.config.queues:
                log.error("call %s: the dropped call's queue is unknown", call_id)
                return None
            row.status = CallRecordStatus.QUEUED
            row.agent_id = None
            row.flags = sorted({*(row.flags or []), REOFFER_FLAG})
            risk = RiskLevel(row.risk_level or RiskLevel.NO_APRECIADO)
            flags = frozenset(row.flags)
            line_id = row.line_id or "default"
            locale = row.locale
        number = self.live.hincrby(key("call", call_id), "reoffers", 1)
        reoffer = f"{call_id}.r{number}"
        self.call_log.append(
            call_id, "agent_dropped", {"agent_id": agent_id, "leg": reoffer}, at=at
        )
        router.hangup(leg, at)
        self.live.hset(key("call", call_id), "leg", reoffer)
        router.enqueue(
            CallRequest(
                call_id=reoffer,
                queue=str(queue),
                risk=risk,
                priority=_front(router, str(queue)),
                language=None if "interpreter" in flags else locale,
                flags=flags,
                line_id=line_id,
            ),
            at,
        )
        log.warning("call %s: the agent's leg dropped; the caller is offered again", call_id)
        return reoffer


def _front(router: Router, queue: str) -> int:
    top = max(router.config.priority_by_risk.values())
    return int(top + router.config.queue(queue).ageing_points_per_second * HEAD_START_S) + 1
