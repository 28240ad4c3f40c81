"""A day of synthetic hotline traffic, routed by the REAL router in simulated time, beside
first-in-first-out baselines run on the same engine with the same callers and agents.

Assumptions (printed with the results; change them with the flags):
- ~650 calls a day, diurnal profile, one surge hour (21:00-22:00) at 3x its usual rate;
- risk mix 35% no apreciado, 30% bajo, 20% medio, 10% alto, 5% extremo; 8% need legal advice;
- languages 82% es, 4% en, 4% ar, 3% ro, 2% fr, 2% pt, 2% uk, 1% zh (nobody speaks uk or zh:
  only widening with an interpreter reaches them);
- 17 agents in three shifts (3 at night, 6 by day, 8 in the evening), all speak Spanish, some
  English, French, Arabic, Romanian or Portuguese, three are legal specialists;
- talk time lognormal, mean about 8 minutes; wrap-up 60 s; agents answer an offer in 2-6 s,
  miss 4% of offers (15 s timeout) and reject 1%; an agent sent on break comes back after 120 s;
- callers hang up after an exponential patience, mean 4 minutes; overflow after 10 minutes;
- the urgent team (2 members, then a supervisor after 60 s) is off the console, so the ladder
  phones them (as the product does for a member who is not signed in); each answers with
  probability 0.5 after 10-40 s and presses 1, which takes the woman's call: she is talking to
  that member and leaves the queue. Only the full router policy rings it;
- callbacks (``calls.callbacks``): 70% of alto/extremo callers (most are registered victims:
  VioGén cases, ATENPRO devices) and 20% of the others call from a known safe number, so their
  call is ``callback_eligible``. When one abandons, the worker (a round every 10 s) takes the
  task from routing and routes it as the product does (an outbound request with her risk,
  offered to agents like a call); the agent who accepts rings her; she answers with
  probability 0.8 after 5-20 s, else the try rings out after 30 s and she is due again 15 min
  later, 3 tries in all. Her safe call windows are assumed open. Callbacks still open when the
  day's last shift ends are worked by the next night's shift (without that night's own calls).
  A woman reached by a callback counts as reached, and still as abandoned.

Policies: ``router`` (risk priority + ageing + widening + urgent ladder), ``fifo`` (flat
priority, same widening), ``fifo-no-widening`` (flat priority, strict skills). All three keep
the router's rules for urgent calls (risk before language, wrap-up yields to extremo): they
follow the callers' risk, not their priority.

    python bench/surge_sim.py [--days 5] [--seed 7] [--safe-severe 0.7] [--safe-other 0.2]
    python bench/surge_sim.py --quick
"""

from __future__ import annotations

import argparse
import heapq
import math
import os
import random
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import redis

from bench.surge_model import (
    DAY_START,
    CallbackAssumptions,
    Caller,
    Outcome,
    Task,
    callbacks_report,
    callers_for_day,
    patience_floor,
    report,
    with_safe_numbers,
)
from calls.callbacks import CALLBACK_FLAG, MAX_TRIES, RETRY_AFTER
from routing import (
    AgentProfile,
    CallRequest,
    EscalationTeam,
    EscalationTier,
    QueueConfig,
    Router,
    RouterConfig,
    WideningStep,
)
from routing.state import PREFIX
from store.embedded_redis import EmbeddedRedis
from store.live_state import connect
from store.vocabulary import RiskLevel

WORKER_ROUND_S = 10.0  # calls.callbacks.work_forever
ROUTE_LIMIT = 50  # Callbacks.route_due
# (languages, legal, shift start hour, shift end hour)
STAFF = [({"es"}, False, 0, 8), ({"es", "en"}, True, 0, 8), ({"es", "ar"}, False, 0, 8),
         ({"es"}, False, 8, 16), ({"es"}, False, 8, 16), ({"es", "en"}, False, 8, 16),
         ({"es", "fr"}, True, 8, 16), ({"es", "ro"}, False, 8, 16),
         ({"es", "ar"}, False, 8, 16),
         ({"es"}, False, 16, 24), ({"es"}, False, 16, 24), ({"es"}, False, 16, 24),
         ({"es", "en"}, True, 16, 24), ({"es", "ar"}, False, 16, 24),
         ({"es", "pt"}, False, 16, 24), ({"es", "ro"}, False, 16, 24),
         ({"es", "en", "fr"}, False, 16, 24)]  # fmt: skip
TEAM = EscalationTeam(
    "urgent",
    (EscalationTier(("u1", "u2"), 60.0), EscalationTier(("supervisor",), 60.0)),
)


def policies() -> dict[str, RouterConfig]:
    widening = (WideningStep(60, drop_language=True), WideningStep(120, drop_specialties=True))
    common: dict[str, Any] = {"wrap_up_seconds": 60.0, "offer_timeout_seconds": 15.0}
    flat = {level: 0 for level in RiskLevel}
    return {
        "router": RouterConfig(
            queues={"main": QueueConfig("main", widening, 600.0, urgent_team="urgent")},
            teams={"urgent": TEAM},
            **common,
        ),
        "fifo": RouterConfig(
            queues={"main": QueueConfig("main", widening, 600.0)}, priority_by_risk=flat, **common
        ),
        "fifo-no-widening": RouterConfig(
            queues={"main": QueueConfig("main", (), 600.0)}, priority_by_risk=flat, **common
        ),
    }


class DaySimulation:
    """One day: a heap of timed events; the router's ports schedule the humans' reactions."""

    def __init__(
        self,
        client: redis.Redis,
        config: RouterConfig,
        callers: list[Caller],
        seed: int,
        assumptions: CallbackAssumptions,
    ) -> None:
        self.seed = seed
        self.assume = assumptions
        self.tasks: dict[str, Task] = {}
        self.attempts: dict[str, Task] = {}
        self.rounds: set[float] = set()
        self.heap: list[tuple[float, int, str, tuple[Any, ...]]] = []
        self.seq = 0
        self.now = callers[0].arrival if callers else DAY_START
        self.outcomes = {c.call_id: Outcome(c) for c in callers}
        self.leaving: set[str] = set()
        self.on_shift: set[str] = set()
        self.sweep_at: float | None = None
        self.escalation_calls: dict[str, str] = {}
        self.router = Router(client, config, self, self, self)
        day_start = DAY_START + 86400 * math.floor((self.now - DAY_START) / 86400)
        for index, (languages, legal, start, end) in enumerate(STAFF):
            agent_id = f"agent-{index}"
            specialties = frozenset({"legal"}) if legal else frozenset()
            self.router.register_agent(
                AgentProfile(agent_id, frozenset(languages), specialties, frozenset({"main"})),
                day_start,
            )
            self.at(day_start + start * 3600, "shift_start", agent_id)
            self.at(day_start + end * 3600, "shift_end", agent_id)
            if start == 0:  # the next night's shift works the callbacks left open
                self.at(day_start + 86400 + start * 3600, "shift_start", agent_id)
                self.at(day_start + 86400 + end * 3600, "shift_end", agent_id)
        self.worker_until = day_start + 86400 + max(end for *_, s, end in STAFF if s == 0) * 3600
        for caller in callers:
            self.at(caller.arrival, "arrive", caller)
            self.at(caller.arrival + caller.patience, "give_up", caller.call_id)

    # ports ---------------------------------------------------------------------------------
    def append(self, call_id: str, kind: str, data: dict[str, Any], at: float) -> None:
        outcome = self.outcomes.get(call_id)
        if outcome is None:
            return
        if kind == "answered":
            outcome.answered_at = at
        elif kind == "abandoned":
            outcome.abandoned_at = at
        elif kind == "overflowed":
            outcome.overflowed_at = at
        elif kind == "escalation_started":
            self.escalation_calls[str(data["escalation"])] = call_id
        elif kind == "taken_by_team":
            outcome.taken_at = at
        elif kind == "offered" and "interpreter" in str(data.get("flags", "")):
            outcome.interpreter = True
        elif kind == "callback_task_created":
            self.wake_worker(at)

    def offer_made(self, agent_id: str, call_id: str, expires_at: float, details: Any) -> None:
        if agent_id in self.leaving:
            self.at(self.now, "leave", agent_id)
            return
        draw = self.rng("offer", call_id, agent_id, details.get("attempt"))
        roll = draw.random()
        if roll < 0.04:
            return
        action = "reject" if roll < 0.05 else "accept"
        self.at(self.now + draw.uniform(2, 6), action, (call_id, agent_id))

    def offer_withdrawn(self, agent_id: str, call_id: str, reason: str) -> None:
        return None

    def notify_supervisors(self, kind: str, data: dict[str, Any]) -> None:
        if kind == "agent_sent_to_break":
            self.at(self.now + 120, "back_from_break", data["agent_id"])

    def ring(self, member_id: str, escalation_id: str, subject_id: str, tier: int) -> None:
        return None  # nobody of the team is at a console here: the ladder phones them

    def stop_ringing(self, escalation_id: str) -> None:
        return None

    def call_member(self, member_id: str, escalation_id: str) -> None:
        draw = self.rng("ring", escalation_id, member_id, self.now)
        if draw.random() < 0.5:
            self.at(self.now + draw.uniform(10, 40), "take", (escalation_id, member_id))

    def dial_urgent_number(self, escalation_id: str) -> None:
        return None

    def overflow(self, call_id: str, target: str) -> None:
        """No agent took a callback task in ``OUTBOUND_MAX_WAIT_S``: due again at once
        (``Callbacks.expired``; the try does not count)."""
        task = self.attempts.pop(call_id, None)
        if task is not None and task.status == "routed":
            task.status, task.due_at = "pending", self.now
            self.wake_worker(self.now)

    # engine --------------------------------------------------------------------------------
    def rng(self, *parts: Any) -> random.Random:
        """Common random numbers: the same offer gets the same answer under every policy."""
        return random.Random(":".join(str(p) for p in (self.seed, *parts)))

    def at(self, when: float, kind: str, payload: Any) -> None:
        self.seq += 1
        heapq.heappush(self.heap, (when, self.seq, kind, (payload,)))

    def run(self) -> list[Outcome]:
        while self.heap:
            when, _, kind, (payload,) = heapq.heappop(self.heap)
            self.now = max(self.now, when)
            if kind == "sweep":
                if self.sweep_at != when:
                    continue
                self.sweep_at = None
                self.router.sweep(self.now)
            else:
                getattr(self, "on_" + kind)(payload)
            due = self.router.next_due()
            if due is not None and (self.sweep_at is None or due < self.sweep_at):
                self.sweep_at = max(due, self.now)
                self.at(self.sweep_at, "sweep", None)
        for task in self.tasks.values():
            task.outcome.callback, task.outcome.callback_tries = task.status, task.tries
        return list(self.outcomes.values())

    def on_arrive(self, caller: Caller) -> None:
        self.router.enqueue(
            CallRequest(
                call_id=caller.call_id,
                queue="main",
                risk=caller.risk,
                language=caller.language,
                specialties=frozenset({"legal"}) if caller.legal else frozenset(),
                callback_eligible=caller.safe_number,
            ),
            self.now,
        )

    def on_give_up(self, call_id: str) -> None:
        outcome = self.outcomes[call_id]
        if outcome.human_at is None and outcome.overflowed_at is None:
            self.router.hangup(call_id, self.now)

    def on_accept(self, offer: tuple[str, str]) -> None:
        call_id, agent_id = offer
        task = self.attempts.get(call_id)
        if self.router.accept(call_id, agent_id, self.now).status != "answered":
            return
        if task is not None:
            self.dial(task, agent_id)
        else:
            # A person has her: the console closes her ladder (calls.escalations).
            self.router.close_escalation(f"call:{call_id}", "answered", self.now)
            self.at(self.now + self.outcomes[call_id].caller.talk, "talk_over", (call_id, agent_id))

    # callbacks (calls.callbacks.Callbacks, one worker) ---------------------------------------
    def wake_worker(self, at: float) -> None:
        """The worker's next round at or after ``at`` (its rounds fall every 10 s; rounds
        with nothing to do are skipped)."""
        when = math.ceil(at / WORKER_ROUND_S) * WORKER_ROUND_S
        if when not in self.rounds:
            self.rounds.add(when)
            self.at(when, "callback_round", None)

    def on_callback_round(self, _: None) -> None:
        """``take_over`` then ``route_due``; tasks are taken over but no longer routed once the
        simulated shifts are over."""
        self.rounds.discard(self.now)
        pending = self.router.pending_callbacks()
        for found in pending:
            source = self.outcomes.get(found.call_id)
            if source is not None and found.call_id not in self.tasks:
                self.tasks[found.call_id] = Task(
                    source, found.risk, found.language, found.queue, found.line_id, self.now
                )
            self.router.resolve_callback(found.call_id)
        if len(pending) == 100:
            self.wake_worker(self.now + WORKER_ROUND_S)
        if self.now >= self.worker_until:
            return
        due = sorted(
            (t for t in self.tasks.values() if t.status == "pending" and t.due_at <= self.now),
            key=lambda t: t.due_at,
        )
        for task in due[:ROUTE_LIMIT]:
            task.routed += 1
            task.status, task.attempt = "routed", f"{task.outcome.caller.call_id}-cb{task.routed}"
            self.attempts[task.attempt] = task
            self.router.enqueue(
                CallRequest(
                    call_id=task.attempt,
                    queue=task.queue,
                    risk=task.risk,
                    language=task.language,
                    flags=frozenset({CALLBACK_FLAG}),
                    line_id=task.line_id,
                    outbound=True,
                ),
                self.now,
            )
        if len(due) > ROUTE_LIMIT:
            self.wake_worker(self.now + WORKER_ROUND_S)

    def dial(self, task: Task, agent_id: str) -> None:
        """The agent accepted the task: her phone rings (``Callbacks.dial``)."""
        task.status, task.agent, task.tries = "dialing", agent_id, task.tries + 1
        draw = self.rng("callback", task.outcome.caller.call_id, task.tries)
        if draw.random() < self.assume.answer:
            self.at(self.now + draw.uniform(*self.assume.answer_after), "callback_answered", task)
        else:
            self.at(self.now + self.assume.ring_out, "callback_unanswered", task)

    def on_callback_answered(self, task: Task) -> None:
        """She picked up: she is put through to the agent (``Callbacks.answered``)."""
        task.status = "reached"
        task.outcome.callback_reached_at = self.now
        self.attempts.pop(task.attempt, None)
        talk = task.outcome.caller.talk
        self.at(self.now + talk, "talk_over", (task.attempt, task.agent))

    def on_callback_unanswered(self, task: Task) -> None:
        """The try rang out: it counts (``Callbacks.ended``), and the agent's call ends."""
        self.attempts.pop(task.attempt, None)
        if task.tries >= MAX_TRIES:
            task.status = "failed"
        else:
            task.status, task.due_at = "pending", self.now + RETRY_AFTER.total_seconds()
            self.wake_worker(task.due_at)
        self.on_talk_over((task.attempt, task.agent))

    def on_reject(self, offer: tuple[str, str]) -> None:
        self.router.reject(*offer, self.now)

    def on_talk_over(self, ended: tuple[str, str]) -> None:
        call_id, agent_id = ended
        self.router.hangup(call_id, self.now)
        if agent_id in self.leaving:
            self.on_leave(agent_id)

    def on_shift_start(self, agent_id: str) -> None:
        self.on_shift.add(agent_id)
        self.leaving.discard(agent_id)
        self.router.set_agent_state(agent_id, "available", self.now)

    def on_shift_end(self, agent_id: str) -> None:
        self.on_shift.discard(agent_id)
        self.leaving.add(agent_id)
        self.on_leave(agent_id)

    def on_leave(self, agent_id: str) -> None:
        if self.router.set_agent_state(agent_id, "offline", self.now).ok:
            self.leaving.discard(agent_id)

    def on_back_from_break(self, agent_id: str) -> None:
        if agent_id in self.on_shift:
            self.router.set_agent_state(agent_id, "available", self.now)

    def on_take(self, alert: tuple[str, str]) -> None:
        """She pressed 1 on the alert call: the first to answer acknowledges and, while the
        woman is still waiting, is put through to her (``calls.urgent_calls.checked_take``)."""
        escalation_id, member_id = alert
        transition = self.router.acknowledge(escalation_id, member_id, self.now)
        first = transition.status == "acknowledged" or (
            transition.status == "already_acknowledged"
            and transition.result.get("acknowledged_by") == member_id
        )
        call_id = self.escalation_calls.get(escalation_id)
        if first and call_id is not None:
            self.router.take(call_id, member_id, self.now)


@contextmanager
def redis_server(url: str | None) -> Iterator[redis.Redis]:
    if url:
        yield connect(url)
        return
    with tempfile.TemporaryDirectory() as directory:
        server = EmbeddedRedis(Path(directory)).start()
        try:
            yield connect(server.url)
        finally:
            server.stop()


def clear_routing_keys(client: redis.Redis) -> None:
    keys = list(client.scan_iter(match=PREFIX + ":*", count=1000))
    for start in range(0, len(keys), 1000):
        client.delete(*keys[start : start + 1000])


def run(
    url: str | None,
    days: int,
    per_day: float,
    hours: int,
    seed: int,
    assumptions: CallbackAssumptions | None = None,
) -> dict[str, list[Outcome]]:
    assumptions = assumptions or CallbackAssumptions()
    results: dict[str, list[Outcome]] = {}
    with redis_server(url) as client:
        day_callers = [
            with_safe_numbers(
                callers_for_day(random.Random(f"{seed}:{day}"), day, per_day, hours),
                random.Random(f"{seed}:{day}:safe"),
                assumptions,
            )
            for day in range(days)
        ]
        for name, config in policies().items():
            results[name] = []
            for day, callers in enumerate(day_callers):
                clear_routing_keys(client)
                simulation = DaySimulation(client, config, callers, seed + day, assumptions)
                results[name] += simulation.run()
        clear_routing_keys(client)
    report(results, days, sum(len(c) for c in day_callers), len(STAFF))
    callbacks_report(results, assumptions)
    patience_floor(results)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=5)
    parser.add_argument("--calls-per-day", type=float, default=650.0)
    parser.add_argument("--hours", type=int, default=24, help="simulate only the first N hours")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="one day (CI smoke)")
    parser.add_argument("--redis-url", default=os.environ.get("AMPARO_BENCH_REDIS_URL"))
    defaults = CallbackAssumptions()
    parser.add_argument(
        "--safe-severe",
        type=float,
        default=defaults.safe_severe,
        help="share of alto/extremo callers from a known safe number (0: no callbacks)",
    )
    parser.add_argument(
        "--safe-other",
        type=float,
        default=defaults.safe_other,
        help="share of lower-risk callers from a known safe number",
    )
    parser.add_argument(
        "--answer", type=float, default=defaults.answer, help="she answers a callback try"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.days = 1
    assumptions = replace(
        defaults, safe_severe=args.safe_severe, safe_other=args.safe_other, answer=args.answer
    )
    run(args.redis_url, args.days, args.calls_per_day, args.hours, args.seed, assumptions)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
