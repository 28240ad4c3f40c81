"""Calls entering and leaving the queues, and the callback tasks abandoned calls leave behind."""

from __future__ import annotations

from typing import Any

from routing.channels import is_personal_skill
from routing.config import RouterConfig, check_identifier
from routing.context import RoutingContext
from routing.offers import observe_time_to_human
from routing.priority import base_priority
from routing.state import (
    ANY_LANGUAGE,
    OUTBOUND_MAX_WAIT_S,
    CallbackTask,
    CallRequest,
    Transition,
    as_list_field,
    routing_key,
)
from store.vocabulary import RiskLevel


def escalation_spec_for_call(
    config: RouterConfig, queue_id: str, call_id: str, risk: RiskLevel, reason: str
) -> dict[str, Any] | None:
    """Severe calls in a queue with an urgent team start its ladder in the same transition."""
    team_id = config.queue(queue_id).urgent_team
    if team_id is None or risk.rank < config.severe_risk.rank:
        return None
    team = config.teams[team_id]
    return team.ladder_spec(f"call:{call_id}", reason, call_id)


SILENT_FLAG = "silent"


def is_urgent(config: RouterConfig, risk: RiskLevel, flags: frozenset[str]) -> bool:
    """Risk before language: only lower risks wait for a speaker or a specialist. A silent
    caller's language is at best a guess from her number, so it never holds her either."""
    return risk.rank >= config.urgent_risk.rank or SILENT_FLAG in flags


def enqueue(ctx: RoutingContext, request: CallRequest, now: float) -> Transition:
    """Queue a call (idempotent on ``call_id``) and offer it at once if someone can take it.

    Returns status ``enqueued`` (``result["call_status"]`` is ``waiting`` or ``offered``) or
    ``duplicate`` for a call already known, whatever its state.
    """
    check_identifier(request.call_id, "call id")
    check_identifier(request.queue, "queue")
    check_identifier(request.line_id, "line id")
    for skill in (*request.specialties, *request.flags):
        check_identifier(skill, "specialty or flag")
    if request.language is not None:
        check_identifier(request.language, "language")
    queue = ctx.config.queue(request.queue)
    priority = base_priority(request.risk, request.priority, ctx.config.priority_by_risk)
    language = request.language or ANY_LANGUAGE
    urgent = is_urgent(ctx.config, request.risk, request.flags)
    args = {
        "call": request.call_id,
        "queue": request.queue,
        "lang": ANY_LANGUAGE if urgent else language,
        "req_lang": language,
        "specs": as_list_field(
            {s for s in request.specialties if is_personal_skill(s)}
            if urgent
            else request.specialties
        ),
        "req_specs": as_list_field(request.specialties),
        "flags": as_list_field(request.flags),
        "line": request.line_id,
        "callback": request.callback_eligible and not request.outbound,
        "risk": request.risk.value,
        "risk_rank": request.risk.rank,
        "priority": priority,
        "rate": queue.ageing_points_per_second,
        "widen": [
            [step.after_seconds, step.drop_language, step.drop_specialties]
            for step in queue.widening
        ],
        "max_wait": OUTBOUND_MAX_WAIT_S if request.outbound else queue.max_wait_seconds,
        "unstaffed_overflow": queue.overflow_when_unstaffed and not request.outbound,
        "escalation": False
        if request.outbound
        else escalation_spec_for_call(
            ctx.config, request.queue, request.call_id, request.risk, "severe_call"
        )
        or False,
    }
    return ctx.transition("enqueue", now, args)


def raise_priority(
    ctx: RoutingContext,
    call_id: str,
    now: float,
    *,
    risk: RiskLevel | None = None,
    priority: int | None = None,
    flags: frozenset[str] = frozenset(),
    reason: str = "risk_raised",
) -> Transition:
    """Raise a waiting call's risk, priority or flags (a duress digit, a raised screen).

    Never lowers anything. Reaching the severe risk in a queue with an urgent team starts the
    ladder in the same transition; reaching ``urgent_risk`` (or the silent flag) stops the call
    waiting for her language or a specialist.
    """
    queue_id = ctx.client.hget(routing_key("call", call_id), "queue")
    queue_name = queue_id.decode() if isinstance(queue_id, bytes) else str(queue_id or "")
    new_risk = risk or RiskLevel.NO_APRECIADO
    from_risk = ctx.config.priority_by_risk[new_risk] if risk is not None else 0
    for flag in flags:
        check_identifier(flag, "flag")
    spec = (
        escalation_spec_for_call(ctx.config, queue_name, call_id, risk, reason)
        if risk is not None and queue_name
        else None
    )
    args = {
        "call": call_id,
        "risk": new_risk.value,
        "risk_rank": new_risk.rank if risk is not None else -1,
        "priority": max(priority or 0, from_risk),
        "flags": as_list_field(flags),
        "escalation": spec or False,
        "urgent_rank": ctx.config.urgent_risk.rank,
    }
    return ctx.transition("raise_priority", now, args)


def take(ctx: RoutingContext, call_id: str, member_id: str, now: float) -> Transition:
    """An urgent-team member took the call outside the console: it leaves the queues
    (``taken``), or answers ``not_waiting`` when a person already has it or it ended."""
    transition = ctx.transition("take", now, {"call": call_id, "member": member_id})
    for event in transition.of_kind("taken_by_team"):
        observe_time_to_human(ctx, event)
    return transition


def hangup(ctx: RoutingContext, call_id: str, now: float) -> Transition:
    """The call is over: abandoned if nobody had it, completed (agent to wrap-up) if answered.

    Idempotent: a second hang-up answers ``already_ended``.
    """
    return ctx.transition("hangup", now, {"call": call_id})


def waiting_count(ctx: RoutingContext) -> int:
    """Callers waiting in every queue (agents serve every line: a surge is centre-wide)."""
    return int(ctx.client.zcard(routing_key("waiting")))


def pending_callbacks(ctx: RoutingContext, limit: int = 100) -> list[CallbackTask]:
    """Callback tasks, oldest first, for the check-in side to consume."""
    ids = ctx.client.zrange(routing_key("callbacks"), 0, limit - 1)
    pipe = ctx.client.pipeline(transaction=False)
    for call_id in ids:
        pipe.hgetall(routing_key("callback", _text(call_id)))
    tasks = []
    for raw in pipe.execute():
        row = {_text(k): _text(v) for k, v in raw.items()}
        if not row:
            continue
        tasks.append(
            CallbackTask(
                call_id=row["call"],
                line_id=row["line"],
                queue=row["queue"],
                language=None if row["language"] == ANY_LANGUAGE else row["language"],
                risk=RiskLevel(row["risk"]),
                abandoned_at=float(row["abandoned_at"]),
                waited=float(row["waited"]),
            )
        )
    return tasks


def resolve_callback(ctx: RoutingContext, call_id: str) -> bool:
    """Remove a callback task once the check-in side has taken it over (durably)."""
    pipe = ctx.client.pipeline(transaction=True)
    pipe.zrem(routing_key("callbacks"), call_id)
    pipe.delete(routing_key("callback", call_id))
    removed, _ = pipe.execute()
    return bool(removed)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
