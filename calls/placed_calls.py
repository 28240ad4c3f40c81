"""Calls an agent places from her console: back to a woman (the number of a call she worked),
to a service of the line's directory, or to a number.

Each is a callback task (``calls.callbacks``, reason ``AGENT_PLACED``) routed to her alone by
her personal skill, which she accepts at once: her phone or softphone is then rung with the
woman's or service's call as for any callback, on the deployment's outbound channel with the
line's neutral caller ID, logged and recorded like a callback. The number stays on the server.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from calls.callback_rules import AGENT_PLACED
from calls.callbacks import CALLBACK_FLAG, Callbacks, _when
from calls.directory import LineInfo
from routing import CallRequest
from routing.channels import personal_skill
from store.base import new_id
from store.callbacks import Callback, CallbackStatus
from store.vocabulary import RiskLevel


@dataclass
class PlacedCalls:
    callbacks: Callbacks

    def place_for_agent(
        self,
        agent_id: str,
        line: LineInfo,
        number: str,
        beneficiary_id: str | None,
        risk: RiskLevel,
        now: float,
    ) -> str | None:
        """A call the agent places from her console (``AGENT_PLACED``): a task routed to her
        alone, which she then accepts like any task. One try: a call nobody answers is not
        tried again (she decides); a woman outside her safe windows is called back in the
        next one by whoever is free. Returns the attempt's call id (None: not routed)."""
        attempt_id = new_id()
        with self.callbacks.sessions() as db, db.begin():
            callback = Callback(
                source_call_id=attempt_id,
                reason=AGENT_PLACED,
                line_id=line.line_id,
                beneficiary_id=beneficiary_id,
                number=number,
                queue=line.queue_id("general"),
                risk_level=risk.value,
                status=CallbackStatus.ROUTED,
                attempt_call_id=attempt_id,
                agent_id=agent_id,
                due_at=_when(now),
            )
            db.add(callback)
            db.flush()
            callback_id = callback.id
        request = CallRequest(
            call_id=attempt_id,
            queue=line.queue_id("general"),
            risk=risk,
            specialties=frozenset({personal_skill(agent_id)}),
            flags=frozenset({CALLBACK_FLAG}),
            line_id=line.line_id,
            outbound=True,
        )
        if not self.callbacks.open_attempt(callback_id, request, number, beneficiary_id, now):
            return None
        return attempt_id

    def withdraw(self, call_id: str, outcome: str) -> None:
        """An agent's placed call she could not take after all: closed, never dialled."""
        now = self.callbacks.clock()
        self.callbacks.router().hangup(call_id, now)
        self.callbacks.records.update(call_id, status="ended", ended_at=now)
        with self.callbacks.sessions() as db:
            found = db.scalar(select(Callback.id).where(Callback.attempt_call_id == call_id))
        if found is not None:
            self.callbacks.close(found, CallbackStatus.FAILED, outcome, now)
