"""rq entry points for check-ins, alarms and notifications (thin: ids in, a service call, a
short result out), and the periodic work the worker's timekeeper runs.

The worker installs the context once (``install``) before it starts; jobs run in rq's work
horse, which inherits it. The planner (every 5 minutes) is an rq job scheduled with
``enqueue_at`` for its slot under a job id named after the slot (``unique=True``); the first
thing a run does is schedule the next one, and the timekeeper (``store.timekeeper``) calls
:func:`schedule_periodic` every few seconds, so a lost chain heals without a restart (Redis
lost its data, a job left in no queue) and however many workers run, each slot runs once.
The sweep of stored alarms and notifications (:func:`sweep`) is no rq job at all: the
timekeeper runs it every few seconds, so an alarm never waits for a scheduler. (rq 3.0's
``CronScheduler`` enqueues with pickle, which our JSON workers refuse; see
``recordings_policy.jobs``.)
"""

from __future__ import annotations

import logging
import os
from datetime import UTC, datetime, timedelta

from rq import get_current_job
from rq.exceptions import DuplicateJobError

from checkins import alarms, attempts, notifications, planner
from checkins.context import CheckinContext
from store import audit_chain
from store.live_state import job_queue

log = logging.getLogger(__name__)

PLAN_EVERY = timedelta(minutes=5)
SEAL_EVERY = timedelta(minutes=1)
#: An alarm younger than this is left to the request that stored it (it escalates at once).
SWEEP_GRACE = timedelta(seconds=3)
PERIODIC_QUEUE = "maintenance"

_installed: CheckinContext | None = None
_fork_hook_registered = False


def install(context: CheckinContext) -> None:
    global _installed, _fork_hook_registered
    _installed = context
    if not _fork_hook_registered:
        os.register_at_fork(after_in_child=_forget_inherited_connections)
        _fork_hook_registered = True


def installed() -> CheckinContext:
    if _installed is None:
        raise RuntimeError("check-in jobs are not installed (amparo worker installs them)")
    return _installed


def _forget_inherited_connections() -> None:
    """A forked work horse must not reuse the parent's pooled database connections."""
    if _installed is not None and _installed.engine is not None:
        _installed.engine.dispose(close=False)


# -- calls ----------------------------------------------------------------------------------


def run_attempt(attempt_id: str) -> str:
    return attempts.run_attempt(installed(), attempt_id).value


def ring_timeout(attempt_id: str) -> str:
    return attempts.ring_timeout(installed(), attempt_id)


def fan_out_notification(notification_id: str) -> int:
    return notifications.fan_out(installed(), notification_id)


def escalate_alarm(alarm_id: str) -> bool:
    return alarms.escalate(installed(), alarm_id)


# -- periodic -------------------------------------------------------------------------------


def plan_checkins(every_seconds: int = int(PLAN_EVERY.total_seconds())) -> dict[str, int]:
    """Plan the slots due soon, and re-schedule attempts whose job was lost."""
    context = installed()
    _reschedule(context, plan_checkins, "checkins-plan", every_seconds)
    report = planner.plan_due(context, horizon=timedelta(seconds=every_seconds * 3))
    again = planner.reconcile(context, horizon=timedelta(seconds=every_seconds * 3))
    return {
        "planned": report.planned,
        "without_window": report.without_window,
        "rescheduled": again,
    }


def sweep(context: CheckinContext) -> dict[str, int]:
    """Escalate stored alarms whose escalation did not start, re-assert open ladders, and fan
    out notifications whose fan-out was never queued (run by the timekeeper, not by rq)."""
    report = alarms.sweep(context, grace=SWEEP_GRACE)
    fanned = notifications.sweep(context)
    return {"alarms": report.alarms, "ladders": report.ladders, "notifications": fanned}


def seal_audit_trail(every_seconds: int = int(SEAL_EVERY.total_seconds())) -> int:
    """Add the audit entries written since the last run to the hash chain (``store.audit_chain``).
    It runs with the check-in periodic jobs because the worker that runs them is the one
    process sure to be up."""
    context = installed()
    _reschedule(context, seal_audit_trail, "audit-seal", every_seconds)
    return audit_chain.seal(context.sessions)


def _reschedule(context: CheckinContext, func: object, name: str, every_seconds: int) -> None:
    job = get_current_job()
    if job is not None:
        schedule_slot(context, func, name, timedelta(seconds=every_seconds))


def next_slot(now: datetime, every: timedelta) -> datetime:
    step = int(every.total_seconds())
    if step < 10:
        raise ValueError("periodic jobs run at most every 10 seconds")
    return datetime.fromtimestamp((int(now.timestamp()) // step + 1) * step, UTC)


def schedule_slot(context: CheckinContext, func: object, name: str, every: timedelta) -> str | None:
    """Schedule ``func`` for the next slot; its job id, or None when it already was."""
    slot = next_slot(context.clock.now(), every)
    job_id = f"{name}-{slot:%Y%m%dT%H%M%S}"
    step = int(every.total_seconds())
    try:
        job_queue(context.jobs, PERIODIC_QUEUE).enqueue_at(
            slot,
            func,
            step,
            job_id=job_id,
            unique=True,
            result_ttl=2 * step,
            failure_ttl=int(timedelta(days=7).total_seconds()),
            job_timeout=max(step, 300),
        )
    except DuplicateJobError:
        return None
    return job_id


def schedule_periodic(context: CheckinContext) -> list[str]:
    """Called by the timekeeper every few seconds: the planner and the audit trail's seal,
    each once per slot (stored alarms are swept by the timekeeper itself)."""
    scheduled = [
        schedule_slot(context, plan_checkins, "checkins-plan", PLAN_EVERY),
        schedule_slot(context, seal_audit_trail, "audit-seal", SEAL_EVERY),
    ]
    return [job_id for job_id in scheduled if job_id]
