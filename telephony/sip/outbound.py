"""Outbound check-in calls through the trunk, and the PIN check of check-in calls.

A check-in is queued by id (``commands.request_checkin``); the SIP process that takes it reads
the beneficiary's number from the database (decrypted only here, never logged, never in Redis),
calls it through the trunk with the neutral caller id, and once someone answers opens the call
in the switchboard with the ``checkin_outbound`` flow and an ``answered`` event. From there the
call is an ordinary IVR session: PIN (a duress code alerts the urgent team silently), then the
menu, a person or a polite end.

PIN rule: the beneficiary's PIN is accepted as ``ok``; the PIN followed by her duress digit is
``duress`` (said aloud by nobody, and the call goes on sounding normal); anything else is
``wrong``. Only that result reaches the IVR engine.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from ivr_flows.events import CallerContext, CallEvent, EventKind, PinResult
from store.credentials import verify_secret
from store.live_state import key
from store.models import Beneficiary
from store.records import Call
from store.vocabulary import Channel, Direction, RiskLevel
from telephony.switchboard import CALL_META_TTL_S, CallTurn, Switchboard, call_id_for

log = logging.getLogger(__name__)

CHECKIN_FLOW = "checkin_outbound"


@dataclass(frozen=True)
class CheckinTarget:
    call_id: str
    beneficiary_id: str
    line_id: str
    number: str  # decrypted: only ever put in the INVITE's Request-URI


def checkin_target(
    sessions: sessionmaker[Session], beneficiary_id: str, attempt_key: str
) -> CheckinTarget | None:
    with sessions() as db:
        beneficiary = db.get(Beneficiary, beneficiary_id)
        if beneficiary is None or not beneficiary.phones or beneficiary.line_id is None:
            log.error("check-in %s: beneficiary has no number or line", attempt_key)
            return None
        return CheckinTarget(
            call_id=call_id_for(Channel.SIP, f"checkin:{attempt_key}"),
            beneficiary_id=beneficiary.id,
            line_id=beneficiary.line_id,
            number=beneficiary.phones[0].number,
        )


def open_checkin(board: Switchboard, target: CheckinTarget, at: float) -> CallTurn:
    """The callee answered: open the call and run the flow's first step."""
    line = None
    try:
        line = board.directory.line(target.line_id)
        if line is None:
            raise LookupError("line of the check-in is gone")
        with board.sessions() as db:
            beneficiary = db.get(Beneficiary, target.beneficiary_id)
            stored_risk = RiskLevel(beneficiary.risk_level) if beneficiary else None
            preferred = beneficiary.preferred_locale if beneficiary else None
        board.call_log.ensure_call(
            Call(
                id=target.call_id,
                line_id=line.line_id,
                direction=Direction.CHECKIN.value,
                channel=Channel.SIP.value,
                external_id=f"{Channel.SIP.value}:checkin:{target.call_id}",
                beneficiary_id=target.beneficiary_id,
                flow=CHECKIN_FLOW,
                status="ivr",
                started_at=datetime.fromtimestamp(at, UTC),
            )
        )
        meta = {"line_id": line.line_id, "flow": CHECKIN_FLOW, "channel": Channel.SIP.value}
        board.live.hset(key("call", target.call_id), mapping=meta)  # type: ignore[arg-type]
        board.live.expire(key("call", target.call_id), CALL_META_TTL_S)
        event = CallEvent(
            kind=EventKind.ANSWERED,
            call_id=target.call_id,
            at=at,
            channel=Channel.SIP,
            caller=CallerContext(
                line_locale=line.default_locale,
                beneficiary_id=target.beneficiary_id,
                stored_risk=stored_risk,
                preferred_locale=preferred,
            ),
            recording=board.recording_policy(line, Direction.CHECKIN),
        )
        return board._step(target.call_id, line, CHECKIN_FLOW, event, f"{target.call_id}:answered")
    except Exception:
        log.exception("check-in call %s: could not open; hanging up politely", target.call_id)
        from ivr_flows.actions import Hangup

        return CallTurn(target.call_id, line, (Hangup("internal_error"),), True)


def check_pin(sessions: sessionmaker[Session], call_id: str, digits: str) -> PinResult:
    """Compare keyed digits with the beneficiary's PIN (and PIN + duress digit)."""
    with sessions() as db:
        call = db.get(Call, call_id)
        beneficiary = (
            db.get(Beneficiary, call.beneficiary_id) if call and call.beneficiary_id else None
        )
        if beneficiary is None or not beneficiary.pin_hash:
            return PinResult.WRONG
        pin_hash, duress_hash = beneficiary.pin_hash, beneficiary.duress_digit_hash
    if verify_secret(pin_hash, digits):
        return PinResult.OK
    duress = len(digits) > 1 and verify_secret(pin_hash, digits[:-1])
    if duress and verify_secret(duress_hash, digits[-1]):
        return PinResult.DURESS
    return PinResult.WRONG
