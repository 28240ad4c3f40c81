"""Where callback tasks come from: a caller from a safe number who abandoned the queue
(routing's task, stored here before routing forgets it), and a caller who pressed 2 at the
callback offer of a surge (the flow's ``callback_requested`` outcome)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ivr_flows.state import Outcome
from routing import Router
from store.call_log import CallLog
from store.callbacks import Callback, CallbackStatus
from store.models import Beneficiary
from store.records import Call
from store.vocabulary import RiskLevel

log = logging.getLogger(__name__)

REQUESTED_QUEUE = "general"
"""The flow's queue a requested callback is offered in (per line, like the caller's call)."""


def _when(at: float) -> datetime:
    return datetime.fromtimestamp(at, UTC)


@dataclass
class CallbackIntake:
    sessions: sessionmaker[Session]
    call_log: CallLog
    router: Callable[[], Router]

    def take_over(self, now: float) -> int:
        """Routing's callback tasks become durable rows; only then does routing drop them."""
        taken = 0
        for task in self.router().pending_callbacks():
            try:
                new = self._store(
                    task.call_id, "abandoned", task.queue, task.language, task.risk, now
                )
            except IntegrityError:
                continue  # another worker stored it at the same moment; it resolves it
            taken += new
            self.router().resolve_callback(task.call_id)
        return taken

    def requested(self, call_id: str, outcome: Outcome, data: dict[str, Any]) -> None:
        """An outcome sink: she pressed 2 at the callback offer (the call ends with a promise
        that she is called back)."""
        if outcome is not Outcome.CALLBACK_REQUESTED:
            return
        with self.sessions() as db:
            call = db.get(Call, call_id)
            line_id = call.line_id if call is not None else None
        if line_id is None:
            log.error("call %s: a callback was asked for on no line", call_id)
            return
        risk = RiskLevel(str(data.get("risk") or RiskLevel.NO_APRECIADO.value))
        locale = str(data["locale"]) if data.get("locale") else None
        with suppress(IntegrityError):  # the same outcome handed over twice: stored once
            self._store(call_id, "requested", f"{line_id}.{REQUESTED_QUEUE}", locale, risk, None)

    def _store(
        self,
        call_id: str,
        reason: str,
        queue: str,
        language: str | None,
        risk: RiskLevel,
        now: float | None,
    ) -> bool:
        """Store the task once; whether it is new (not when she left no number)."""
        with self.sessions() as db, db.begin():
            known = db.scalar(select(Callback.id).where(Callback.source_call_id == call_id))
            source = db.get(Call, call_id)
            if known is not None or source is None or not source.caller_number:
                callback_id, new = known, False
            else:
                at = _when(now) if now is not None else datetime.now(UTC)
                owner = (
                    db.get(Beneficiary, source.beneficiary_id) if source.beneficiary_id else None
                )
                stored = RiskLevel(owner.risk_level) if owner is not None else None
                callback = Callback(
                    source_call_id=call_id,
                    reason=reason,
                    line_id=source.line_id,
                    beneficiary_id=source.beneficiary_id,
                    number=source.caller_number,
                    queue=queue,
                    language=language,
                    risk_level=RiskLevel.highest(risk, stored).value,
                    status=CallbackStatus.PENDING,
                    attempts=0,
                    created_at=at,
                    due_at=at,
                )
                db.add(callback)
                db.flush()
                callback_id, new = callback.id, True
        if callback_id is None:
            log.error("callback for call %s: the call has no number; dropped", call_id)
            return False
        self.call_log.append(
            call_id,
            "callback_scheduled",
            {"callback_id": callback_id, "reason": reason},
            at=now,
            idempotency_key=f"callback:{callback_id}:scheduled",
        )
        return new
