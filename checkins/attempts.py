"""Placing one attempt's call, and noticing when nobody answers.

Never twice: a run claims the attempt (``started_at``) with a conditional UPDATE before
anything else; the call is opened and its id stored on the attempt *before* the phone rings,
so a run that finds a call id never dials again, whatever happened to the run before it (a
worker killed after dialing leaves at most one ringing phone; one killed between the two
steps loses that attempt, which the ring timeout then counts as unanswered so the ladder goes
on). A run that finds a claim with no call opened, older than the lease, knows its worker died
before dialing and dials.

A late run re-checks everything: the plan is still on, the slot not already settled, and it
is still inside one of her safe windows (a proximity alert excepted).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import exists, or_, select, update
from sqlalchemy.orm import Session

from checkins import progress
from checkins.context import CheckinContext
from checkins.errors import AttemptBusy
from checkins.outcomes import conclude
from checkins.policy import MEANINGS, UNANSWERED_REASONS, Meaning, Outcome
from checkins.scheduling import attempt_job_id, schedule_attempt, schedule_ring_timeout
from checkins.targets import AttemptTarget, load_target, phone_number
from checkins.windows import is_inside, next_safe_moment
from store.records import CallEvent, CheckinAttempt

log = logging.getLogger(__name__)

_SETTLING = [
    outcome.value for outcome, meaning in MEANINGS.items() if meaning is not Meaning.UNREACHED
]


class RunResult(StrEnum):
    DIALED = "dialed"
    ALREADY_DIALED = "already_dialed"
    CONCLUDED = "concluded"
    DEFERRED = "deferred"
    RATE_LIMITED = "rate_limited"
    UNKNOWN = "unknown"


def run_attempt(ctx: CheckinContext, attempt_id: str) -> RunResult:
    now = ctx.clock.now()
    with ctx.sessions() as db:
        attempt = db.get(CheckinAttempt, attempt_id)
        if attempt is None:
            return RunResult.UNKNOWN
        if attempt.outcome is not None:
            return RunResult.CONCLUDED
        target = load_target(db, attempt)
        if attempt.call_id is not None:
            queue = target.queue if target else "checkins"
            schedule_ring_timeout(ctx, attempt_id, _ring_deadline(ctx, attempt, now), queue)
            return RunResult.ALREADY_DIALED
        if target is None:
            conclude(ctx, attempt_id, Outcome.CANCELLED, now)
            return RunResult.CONCLUDED
        settled = _slot_settled(db, attempt)
        number = phone_number(db, target.beneficiary_id)
        attempt_no, scheduled_at = attempt.attempt_no, attempt.scheduled_at
    if not target.plan_active:
        conclude(ctx, attempt_id, Outcome.CANCELLED, now)
        return RunResult.CONCLUDED
    if settled:
        conclude(ctx, attempt_id, Outcome.SUPERSEDED, now)
        return RunResult.CONCLUDED
    if number is None or target.line_id is None:
        conclude(ctx, attempt_id, Outcome.NO_NUMBER, now)
        return RunResult.CONCLUDED
    if not target.policy.immediate and not is_inside(target.windows, target.tz, now):
        return _too_late_or_early(ctx, attempt_id, target, attempt_no, scheduled_at, now)
    reservation = ctx.rate_limit.reserve(ctx.dial_max_wait_s)
    if not reservation.granted:
        later = now + timedelta(seconds=reservation.wait_s)
        schedule_attempt(
            ctx, attempt_id, later, target.queue, job_id=attempt_job_id(attempt_id, later) + "-rl"
        )
        return RunResult.RATE_LIMITED
    # The turn is reserved now; the claim and the call's opening happen while waiting for it,
    # so the dial itself keeps to the rate as closely as the database allows.
    turn = time.monotonic() + reservation.wait_s
    return _dial(ctx, attempt_id, target, number, attempt_no, now, turn)


def _slot_settled(db: Session, attempt: CheckinAttempt) -> bool:
    """Another attempt of the same slot already reached her (or humans have her)."""
    same_owner = (
        CheckinAttempt.notification_id == attempt.notification_id
        if attempt.notification_id
        else CheckinAttempt.plan_id == attempt.plan_id
    )
    return bool(
        db.scalar(
            select(
                exists().where(
                    same_owner,
                    CheckinAttempt.beneficiary_id == attempt.beneficiary_id,
                    CheckinAttempt.slot == attempt.slot,
                    CheckinAttempt.id != attempt.id,
                    CheckinAttempt.outcome.in_(_SETTLING),
                )
            )
        )
    )


def _too_late_or_early(
    ctx: CheckinContext,
    attempt_id: str,
    target: AttemptTarget,
    attempt_no: int,
    scheduled_at: datetime,
    now: datetime,
) -> RunResult:
    """Outside her windows: a retry of a same-window ladder ends it; anything else moves to
    the next safe moment."""
    if target.policy.ladder.same_window_only and attempt_no > 1:
        conclude(ctx, attempt_id, Outcome.OUTSIDE_WINDOW, now)
        return RunResult.CONCLUDED
    later = next_safe_moment(target.windows, target.tz, now)
    if later is None:
        conclude(ctx, attempt_id, Outcome.OUTSIDE_WINDOW, now)
        return RunResult.CONCLUDED
    with ctx.sessions() as db, db.begin():
        moved = db.execute(
            update(CheckinAttempt)
            .where(
                CheckinAttempt.id == attempt_id,
                CheckinAttempt.scheduled_at == scheduled_at,
                CheckinAttempt.started_at.is_(None),
            )
            .values(scheduled_at=later)
        )
    if moved.rowcount == 1:  # type: ignore[attr-defined]
        # Its own id differs from the running job's, even when the window opens this second.
        moved_id = attempt_job_id(attempt_id, later) + "-moved"
        schedule_attempt(ctx, attempt_id, later, target.queue, job_id=moved_id)
    log.info("attempt %s outside her windows; moved to the next safe moment", attempt_id)
    return RunResult.DEFERRED


def _dial(
    ctx: CheckinContext,
    attempt_id: str,
    target: AttemptTarget,
    number: str,
    attempt_no: int,
    now: datetime,
    turn: float,
) -> RunResult:
    with ctx.sessions() as db, db.begin():
        claimed = db.execute(
            update(CheckinAttempt)
            .where(
                CheckinAttempt.id == attempt_id,
                CheckinAttempt.outcome.is_(None),
                CheckinAttempt.call_id.is_(None),
                or_(
                    CheckinAttempt.started_at.is_(None),
                    CheckinAttempt.started_at < now - ctx.claim_lease,
                ),
            )
            .values(started_at=now)
        )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        with ctx.sessions() as db:
            attempt = db.get(CheckinAttempt, attempt_id)
            if attempt is None or attempt.outcome is not None:
                return RunResult.CONCLUDED
            if attempt.call_id is not None:
                return RunResult.ALREADY_DIALED
        raise AttemptBusy(f"attempt {attempt_id} is claimed by another run")
    assert target.line_id is not None
    call_id = ctx.calls.open_outbound(
        line_id=target.line_id,
        beneficiary_id=target.beneficiary_id,
        to_number=number,
        channel=ctx.dialer.channel,
        at=now.timestamp(),
    )
    with ctx.sessions() as db, db.begin():
        opened = db.execute(
            update(CheckinAttempt)
            .where(CheckinAttempt.id == attempt_id, CheckinAttempt.call_id.is_(None))
            .values(call_id=call_id)
        )
    if opened.rowcount != 1:  # type: ignore[attr-defined]
        return RunResult.ALREADY_DIALED
    schedule_ring_timeout(ctx, attempt_id, now + ctx.ring_timeout, target.queue)
    time.sleep(max(0.0, turn - time.monotonic()))
    ctx.dialer.place_call(call_id, number, ctx.caller_id)
    with ctx.sessions() as db, db.begin():
        db.execute(
            update(CheckinAttempt).where(CheckinAttempt.id == attempt_id).values(dialed_at=now)
        )
        notification_id = db.scalar(
            select(CheckinAttempt.notification_id).where(CheckinAttempt.id == attempt_id)
        )
    if notification_id and attempt_no == 1:
        progress.count(ctx.live, notification_id, "called")
    log.info("attempt %s: call %s placed", attempt_id, call_id)
    return RunResult.DIALED


def _ring_deadline(ctx: CheckinContext, attempt: CheckinAttempt, now: datetime) -> datetime:
    started = attempt.dialed_at or attempt.started_at or now
    return max(started + ctx.ring_timeout, now)


def answered(ctx: CheckinContext, call_id: str) -> bool:
    """Did anyone (or anything) pick up? The switchboard logs ``answered``/``machine``."""
    with ctx.sessions() as db:
        return bool(
            db.scalar(
                select(
                    exists().where(
                        CallEvent.call_id == call_id, CallEvent.kind.in_(["answered", "machine"])
                    )
                )
            )
        )


def ring_timeout(ctx: CheckinContext, attempt_id: str) -> str:
    """Nobody picked up in time: stop the ringing and let the ladder go on."""
    with ctx.sessions() as db:
        attempt = db.get(CheckinAttempt, attempt_id)
        if attempt is None or attempt.outcome is not None:
            return "concluded"
        call_id = attempt.call_id
    if call_id is None:
        return "not_dialed"
    if answered(ctx, call_id):
        return "answered"
    try:
        ctx.dialer.cancel(call_id)
    except Exception:
        log.exception("attempt %s: could not cancel call %s", attempt_id, call_id)
    conclude(ctx, attempt_id, Outcome.NO_ANSWER)
    return "no_answer"


def report_unanswered(
    ctx: CheckinContext, call_id: str, reason: str, at: datetime | None = None
) -> bool:
    """The edge learnt early that nobody will answer (Twilio ``no-answer``, ``busy``,
    ``failed``, ``canceled``; SIP 486/480/408...). True when it concluded an attempt."""
    outcome = UNANSWERED_REASONS.get(reason, Outcome.NO_ANSWER)
    with ctx.sessions() as db:
        attempt_id = db.scalar(
            select(CheckinAttempt.id).where(CheckinAttempt.call_id == call_id).limit(1)
        )
    if attempt_id is None or answered(ctx, call_id):
        return False
    return conclude(ctx, attempt_id, outcome, at)
