"""How a call ends: the disposition, the notes and the risk the person saw.

Safety rule 3: automation only raises risk, and only a person lowers it. An outcome below what
the call and the beneficiary's file already hold needs a reason and leaves an audit entry
(``risk_lowered``); raising is free.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy.orm import Session

from calls.errors import InvalidOutcome
from store import audit
from store.models import Beneficiary
from store.records import Call
from store.vocabulary import CallRecordStatus, RiskLevel

MAX_NOTES = 8000
MAX_REASON = 500


class Disposition(StrEnum):
    """What came of a call, in the order a person is offered them."""

    SUPPORT_GIVEN = "support_given"
    INFORMATION = "information"
    REFERRED = "referred"
    URGENT_RESPONSE = "urgent_response"
    CALLBACK_AGREED = "callback_agreed"
    SILENT_NO_CONTACT = "silent_no_contact"
    CALLER_HUNG_UP = "caller_hung_up"
    WRONG_NUMBER = "wrong_number"
    TEST_CALL = "test_call"


@dataclass(frozen=True)
class CallOutcome:
    disposition: Disposition
    notes: str
    risk: RiskLevel | None
    risk_reason: str | None

    @classmethod
    def checked(
        cls, disposition: str, notes: str, risk: str | None, risk_reason: str | None
    ) -> CallOutcome:
        """The outcome as a person gave it, or ``InvalidOutcome`` saying what is wrong."""
        try:
            chosen_disposition = Disposition(disposition)
        except ValueError as exc:
            raise InvalidOutcome("console.bad_disposition", "unknown disposition") from exc
        if len(notes) > MAX_NOTES:
            raise InvalidOutcome("console.notes_too_long", "notes are too long")
        try:
            chosen_risk = RiskLevel(risk) if risk else None
        except ValueError as exc:
            raise InvalidOutcome("console.bad_risk", "unknown risk level") from exc
        reason = (risk_reason or "").strip()[:MAX_REASON] or None
        return cls(chosen_disposition, notes, chosen_risk, reason)


def settle(db: Session, call: Call, outcome: CallOutcome, agent_id: str, at: datetime) -> RiskLevel:
    """Write ``outcome`` onto the call and the beneficiary's file in ``db`` (the caller's
    transaction) and return the risk level that stands."""
    owner = db.get(Beneficiary, call.beneficiary_id) if call.beneficiary_id else None
    baseline = RiskLevel.highest(
        RiskLevel(call.risk_level) if call.risk_level else None,
        RiskLevel(owner.risk_level) if owner else None,
    )
    final = outcome.risk or baseline
    if final.rank < baseline.rank:
        if outcome.risk_reason is None:
            raise InvalidOutcome("console.risk_reason_required", "lowering risk needs a reason")
        audit.record(
            db,
            actor_type="agent",
            actor_id=agent_id,
            action="risk_lowered",
            subject_type="beneficiary" if owner else "call",
            subject_id=owner.id if owner else call.id,
            reason=outcome.risk_reason,
            detail={"from": baseline.value, "to": final.value, "call_id": call.id},
        )
    call.risk_level = final.value
    if owner is not None:
        owner.risk_level = final
        owner.risk_reviewed_at = at
    call.disposition = outcome.disposition.value
    call.notes = outcome.notes or None
    call.status = CallRecordStatus.COMPLETED
    call.ended_at = call.ended_at or at
    return final
