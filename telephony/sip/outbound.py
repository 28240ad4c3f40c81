"""Outbound calls through the trunk: the check-ins and notification calls of the check-in jobs.

A check-in job (on any worker) opens the call in the switchboard, then asks the SIP edge to
ring it (``telephony.sip.dialer.SipDialer``). The request names the call only; whichever SIP
process has room takes it from the shared queue, reads the number from the call's row
(decrypted only here, never logged, never in Redis), claims the call and rings it through the
trunk showing the neutral caller id. When she answers, the switchboard's ``answered`` runs the
flow's first step and the call is an ordinary IVR session (PIN, menu, a person or a polite
end). When the trunk says nobody will answer (busy, no answer, failure), the attempt is
concluded at once (``checkins.attempts.report_unanswered``) so the ladder goes on; a phone
still ringing when the ring timeout passes is cancelled (command ``cancel``).

A request taken too late (no SIP process was up while it waited, or it was cancelled
meanwhile) is dropped: the ring timeout has already counted that attempt as unanswered and the
ladder has moved on, so ringing her now would be a second, unexpected call.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from checkins.targets import phone_number
from store.records import Call
from store.vocabulary import Direction

log = logging.getLogger(__name__)

#: What a final SIP status of an unanswered outbound leg means to the check-in ladder
#: (``checkins.policy.UNANSWERED_REASONS``); any other failure is ``failed``.
UNANSWERED_STATUS = {
    486: "busy",  # Busy Here
    600: "busy",  # Busy Everywhere
    603: "busy",  # Decline: she (or her phone) refused the call
    480: "no-answer",  # Temporarily Unavailable
    408: "no-answer",  # Request Timeout: it rang out
    487: "canceled",  # Request Terminated: we cancelled it (ring timeout, shutdown)
}
OUTBOUND_DIRECTIONS = frozenset(
    {Direction.CHECKIN.value, Direction.TEAM_ALERT.value, Direction.CALLBACK.value}
)


def unanswered_reason(status: int) -> str:
    return UNANSWERED_STATUS.get(status, "failed")


@dataclass(frozen=True)
class OutboundTarget:
    call_id: str
    number: str  # decrypted: only ever put in the INVITE's Request-URI
    line_id: str | None = None  # whose overflow number she is sent to if a turn fails


def outbound_target(
    sessions: sessionmaker[Session], call_id: str, now: datetime, max_age_s: float
) -> OutboundTarget | None:
    """The number of an opened outbound call, or None when it must not be rung (unknown,
    not outbound, already over, or older than ``max_age_s``)."""
    with sessions() as db:
        call = db.get(Call, call_id)
        if call is None or call.direction not in OUTBOUND_DIRECTIONS:
            log.error("outbound request for call %s: no such outbound call; dropped", call_id)
            return None
        if call.ended_at is not None or call.status != "ivr":
            log.info("outbound call %s is over (%s); not dialled", call_id, call.status)
            return None
        started = call.started_at
        if started.tzinfo is None:
            started = started.replace(tzinfo=UTC)
        if (now - started).total_seconds() > max_age_s:
            log.warning("outbound call %s waited too long for a SIP process; dropped", call_id)
            return None
        number = call.caller_number
        if not number and call.beneficiary_id:
            number = phone_number(db, call.beneficiary_id)
        if not number:
            log.error("outbound call %s has no number to dial", call_id)
            return None
        return OutboundTarget(call_id, number, call.line_id)
