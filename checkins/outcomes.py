"""What happens after an attempt ends: the retry ladder, a call at another safe time, the
cover-script path, and handing her over to people.

An attempt is concluded once: the first of the IVR's outcome, the ring timeout, or the edge's
"no answer" report wins (a conditional UPDATE on ``outcome IS NULL``), so racing reports never
schedule two follow-ups.

"Someone else answered twice" means: this answered call went unverified (wrong or no PIN,
cover script) and so did the previous call to her that a person answered, whatever its slot or
purpose, with no verified answer in between. Unanswered calls in between do not break the run.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from checkins import progress
from checkins.context import CheckinContext
from checkins.handover import AfterCommit, open_escalation, open_task
from checkins.policy import ANSWERED, FROM_IVR, MEANINGS, Meaning, Outcome, Purpose
from checkins.schedule import LadderEnd, idempotency_key, next_attempt_on
from checkins.scheduling import schedule_attempt
from checkins.targets import AttemptTarget, load_target, urgent_team_for
from checkins.windows import next_safe_moment, window_end
from store.records import CheckinAttempt

log = logging.getLogger(__name__)

#: After this many "not now" / cover-script follow-ups of one slot, a caseworker calls her.
MAX_FOLLOW_UPS = 4
NOTICE_SLOT = "notice"


def attempt_key(attempt: CheckinAttempt, slot: str, attempt_no: int) -> str:
    if attempt.purpose == Purpose.NOTIFICATION.value:
        return f"notice:{attempt.notification_id}:{attempt.beneficiary_id}:{slot}:{attempt_no}"
    return idempotency_key(str(attempt.plan_id), slot, attempt_no)


def on_call_outcome(ctx: CheckinContext, call_id: str, ivr_outcome: str) -> bool:
    """The switchboard's outcome sink: an IVR outcome of an outbound call concludes its
    attempt (other calls and outcomes are ignored). True when it concluded one."""
    outcome = FROM_IVR.get(ivr_outcome)
    if outcome is None:
        return False
    with ctx.sessions() as db:
        attempt_id = db.scalar(
            select(CheckinAttempt.id).where(CheckinAttempt.call_id == call_id).limit(1)
        )
    if attempt_id is None:
        return False
    return conclude(ctx, attempt_id, outcome)


def conclude(
    ctx: CheckinContext, attempt_id: str, outcome: Outcome, at: datetime | None = None
) -> bool:
    """Record ``outcome`` unless the attempt already has one, and act on it."""
    at = at or ctx.clock.now()
    after = AfterCommit()
    with ctx.sessions() as db, db.begin():
        concluded = db.execute(
            update(CheckinAttempt)
            .where(CheckinAttempt.id == attempt_id, CheckinAttempt.outcome.is_(None))
            .values(outcome=outcome.value, ended_at=at)
        )
        if concluded.rowcount != 1:  # type: ignore[attr-defined]
            return False
        attempt = db.get(CheckinAttempt, attempt_id)
        target = load_target(db, attempt) if attempt is not None else None
        if attempt is not None and target is not None:
            _follow_up(db, after, ctx, attempt, target, outcome, at)
    log.info("attempt %s concluded: %s", attempt_id, outcome.value)
    after.run()
    return True


def _follow_up(
    db: Session,
    after: AfterCommit,
    ctx: CheckinContext,
    attempt: CheckinAttempt,
    target: AttemptTarget,
    outcome: Outcome,
    at: datetime,
) -> None:
    meaning = MEANINGS[outcome]
    if meaning in {Meaning.SETTLED, Meaning.LATER} and attempt.notification_id:
        notice, person = attempt.notification_id, target.beneficiary_id
        after.add(lambda: progress.reached(ctx.live, notice, person))
    if meaning in {Meaning.SETTLED, Meaning.CLOSED}:
        return
    if meaning is Meaning.UNREACHED:
        when = None
        if outcome not in {Outcome.NO_NUMBER, Outcome.OUTSIDE_WINDOW}:
            when = _next_on_ladder(db, attempt, target)
        if when is not None:
            _new_attempt(
                db, after, ctx, attempt, target, attempt.slot, attempt.attempt_no + 1, when
            )
        else:
            _ladder_end(db, after, ctx, attempt, target, at)
        return
    if meaning is Meaning.UNVERIFIED and _answered_by_someone_else_before(db, attempt):
        open_escalation(
            db,
            after,
            ctx,
            escalation_id=f"unverified:{attempt.id}",
            team_id=urgent_team_for(db, target.line_id),
            reason="checkin_unverified_twice",
            at=at,
            alert=_alert(attempt),
        )
        _count_unreached(after, ctx, attempt)
        return
    if target.policy.immediate:
        return  # the urgent team already has a proximity alert
    _follow_up_slot(db, after, ctx, attempt, target, at)


def _alert(attempt: CheckinAttempt) -> dict[str, Any]:
    return {
        "beneficiary_id": attempt.beneficiary_id,
        "attempt_id": attempt.id,
        "plan_id": attempt.plan_id,
        "notification_id": attempt.notification_id,
        "slot": attempt.slot,
        "attempts": attempt.attempt_no,
    }


def _count_unreached(after: AfterCommit, ctx: CheckinContext, attempt: CheckinAttempt) -> None:
    if attempt.notification_id:
        notice = attempt.notification_id
        after.add(lambda: progress.count(ctx.live, notice, "not_reached"))


def _first_of_slot(db: Session, attempt: CheckinAttempt) -> datetime:
    first = db.scalar(
        select(CheckinAttempt).where(
            CheckinAttempt.beneficiary_id == attempt.beneficiary_id,
            CheckinAttempt.idempotency_key == attempt_key(attempt, attempt.slot, 1),
        )
    )
    if first is None:
        return attempt.started_at or attempt.scheduled_at
    return first.started_at or first.scheduled_at


def _next_on_ladder(db: Session, attempt: CheckinAttempt, target: AttemptTarget) -> datetime | None:
    first = _first_of_slot(db, attempt)
    number = attempt.attempt_no + 1
    ladder = target.policy.ladder
    if target.policy.immediate:
        if number > len(ladder.offsets):
            return None
        return first + ladder.offsets[number - 1]
    return next_attempt_on(ladder, target.windows, target.tz, first, number)


def _new_attempt(
    db: Session,
    after: AfterCommit,
    ctx: CheckinContext,
    attempt: CheckinAttempt,
    target: AttemptTarget,
    slot: str,
    attempt_no: int,
    when: datetime,
) -> None:
    follow = CheckinAttempt(
        plan_id=attempt.plan_id,
        beneficiary_id=attempt.beneficiary_id,
        purpose=attempt.purpose,
        notification_id=attempt.notification_id,
        slot=slot,
        attempt_no=attempt_no,
        scheduled_at=when,
        idempotency_key=attempt_key(attempt, slot, attempt_no),
    )
    try:
        with db.begin_nested():
            db.add(follow)
    except IntegrityError:
        return  # already created by an earlier run of this conclusion
    follow_id, queue = follow.id, target.queue
    after.add(lambda: schedule_attempt(ctx, follow_id, when, queue))


def _ladder_end(
    db: Session,
    after: AfterCommit,
    ctx: CheckinContext,
    attempt: CheckinAttempt,
    target: AttemptTarget,
    at: datetime,
) -> None:
    _count_unreached(after, ctx, attempt)
    then = target.policy.then
    checkin = target.purpose is Purpose.CHECKIN
    if then is LadderEnd.URGENT_TEAM:
        open_escalation(
            db,
            after,
            ctx,
            escalation_id=f"checkin:{attempt.id}",
            team_id=urgent_team_for(db, target.line_id),
            reason="checkin_unanswered" if checkin else "notice_unanswered",
            at=at,
            alert=_alert(attempt),
        )
    elif then is LadderEnd.CASEWORKER:
        owner = attempt.plan_id if checkin else attempt.notification_id
        open_task(
            db,
            after,
            ctx,
            beneficiary_id=target.beneficiary_id,
            kind="checkin_unreached" if checkin else "notice_unreached",
            source_key=f"slot:{owner}:{target.beneficiary_id}:{attempt.slot}",
            detail=_alert(attempt),
            at=at,
        )


def _answered_by_someone_else_before(db: Session, attempt: CheckinAttempt) -> bool:
    previous = db.scalar(
        select(CheckinAttempt.outcome)
        .where(
            CheckinAttempt.beneficiary_id == attempt.beneficiary_id,
            CheckinAttempt.id != attempt.id,
            CheckinAttempt.outcome.in_([outcome.value for outcome in ANSWERED]),
        )
        .order_by(CheckinAttempt.ended_at.desc())
        .limit(1)
    )
    return previous == Outcome.NOT_VERIFIED.value


def _follow_up_slot(
    db: Session,
    after: AfterCommit,
    ctx: CheckinContext,
    attempt: CheckinAttempt,
    target: AttemptTarget,
    at: datetime,
) -> None:
    """A new slot at the first safe moment after the window she was called in."""
    base, _, count = attempt.slot.partition("+")
    number = int(count or 0) + 1
    closes = window_end(target.windows, target.tz, at) or at
    when = next_safe_moment(target.windows, target.tz, closes)
    if number > MAX_FOLLOW_UPS or when is None:
        _ladder_end_to_caseworker(db, after, ctx, attempt, target, at)
        return
    _new_attempt(db, after, ctx, attempt, target, f"{base}+{number}", 1, when)


def _ladder_end_to_caseworker(
    db: Session,
    after: AfterCommit,
    ctx: CheckinContext,
    attempt: CheckinAttempt,
    target: AttemptTarget,
    at: datetime,
) -> None:
    _count_unreached(after, ctx, attempt)
    open_task(
        db,
        after,
        ctx,
        beneficiary_id=target.beneficiary_id,
        kind="checkin_follow_up",
        source_key=(
            f"follow:{attempt.plan_id or attempt.notification_id}:"
            f"{target.beneficiary_id}:{attempt.slot}"
        ),
        detail=_alert(attempt),
        at=at,
    )
