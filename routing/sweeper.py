"""The sweeper: one function any number of processes may call at once, every second or so.

It fires due timers (missed offers -> next agent, and break after the second miss in a row;
skill widening; overflow; retries after a decline cool-down; end of wrap-up; ladder steps) and
redelivers events whose process died before handing them on. A process dying between two steps
therefore never loses a call: at worst the call's offer times out and it is offered again.
"""

from __future__ import annotations

from routing.context import RoutingContext
from routing.lua import wire_time
from routing.state import RoutingEvent, SweepReport, routing_key

BATCH = 50
MAX_BATCHES = 40


def sweep(ctx: RoutingContext, now: float) -> SweepReport:
    fired = 0
    events: list[RoutingEvent] = []
    for _ in range(MAX_BATCHES):
        reply = ctx.runner.run("sweep", now, {"limit": BATCH})
        ctx.delivery.deliver(reply.events)
        events.extend(reply.events)
        fired += int(reply.result.get("fired", 0))
        if not reply.result.get("left"):
            break
    redelivered = ctx.delivery.redeliver(ctx.runner, now)
    return SweepReport(fired=fired, redelivered=redelivered, events=tuple(events))


def next_due(ctx: RoutingContext) -> float | None:
    """When the sweeper next has something to do (for simulations and adaptive scheduling)."""
    head = ctx.client.zrange(routing_key("timers"), 0, 0, withscores=True)
    outbox = ctx.client.zrange(routing_key("outbox"), 0, 0, withscores=True)
    times = [float(score) for _, score in (*head, *outbox)]
    return min(times) if times else None


def due_now(ctx: RoutingContext, now: float) -> int:
    return int(ctx.client.zcount(routing_key("timers"), "-inf", wire_time(now)))
