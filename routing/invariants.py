"""The router's invariants, checked against Redis as it is.

Used by the stateful and concurrency tests after every step, and usable by an operator's
``check`` command on a quiet system: it reads every routing key, so it is not for hot paths.
"""

from __future__ import annotations

from collections import Counter

import redis

from routing.state import AFTER_CALL_STATES, AgentState, CallStatus, from_list_field, routing_key
from routing.views import read_rows

CALL_FIELDS = ["status", "queue", "lang", "specs", "bucket", "agent", "overflow_at"]
AGENT_FIELDS = ["state", "call", "langs", "specs", "queues", "after_call"]


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def find_violations(client: redis.Redis, now: float, *, work_conserving: bool = True) -> list[str]:
    """Every broken invariant, in words (empty when all hold):

    - a waiting call sits in exactly the bucket it names and has an overflow timer (it can be
      found by agents and will leave the queue one way or another);
    - an offered call has an offer timer and its agent is ``offered`` with that call;
    - an agent ``offered`` / ``on_call`` holds a call that is offered to / answered by them,
      and no call is held by two agents;
    - an agent is in the availability index exactly when ``available``, in the wrap-up index
      exactly when in ``wrap_up``, and staffs their queues exactly when not ``offline``;
    - a state asked for after a call is ``break`` or ``offline`` and is pending only while the
      agent is ``on_call`` or in ``wrap_up`` (so she is neither available nor offered a call
      until it is taken);
    - an open escalation always has its next step scheduled (it never silently stops);
    - with ``work_conserving``: no available agent qualifies for a waiting call they have not
      declined (nobody idles while someone they could help waits).
    """
    problems: list[str] = []
    timers = {_text(m) for m in client.zrange(routing_key("timers"), 0, -1)}
    waiting_ids = [_text(m) for m in client.zrange(routing_key("waiting"), 0, -1)]
    calls = dict(
        zip(
            waiting_ids,
            read_rows(client, [routing_key("call", c) for c in waiting_ids], CALL_FIELDS),
            strict=True,
        )
    )
    bucket_keys = sorted({_text(raw) for raw in client.scan_iter(match=routing_key("bucket", "*"))})
    pipe = client.pipeline(transaction=False)
    for bucket_key in bucket_keys:
        pipe.zrange(bucket_key, 0, -1)
    bucket_members = {
        bucket_key[len(routing_key("bucket", "")) :]: [_text(m) for m in members]
        for bucket_key, members in zip(bucket_keys, pipe.execute(), strict=True)
    }
    bucket_set = {_text(b) for b in client.smembers(routing_key("buckets"))}
    for name, members in bucket_members.items():
        if members and name not in bucket_set:
            problems.append(f"bucket {name} has calls but is not listed")
    placement = Counter(cid for members in bucket_members.values() for cid in members)

    for cid, row in calls.items():
        if row is None:
            problems.append(f"call {cid} is in the waiting index without a record")
            continue
        status = row["status"]
        if status == CallStatus.WAITING:
            if placement[cid] != 1 or cid not in bucket_members.get(row["bucket"], []):
                problems.append(f"waiting call {cid} is in {placement[cid]} buckets")
            if f"over|{cid}" not in timers:
                problems.append(f"waiting call {cid} has no overflow timer")
        elif status == CallStatus.OFFERED:
            if placement[cid]:
                problems.append(f"offered call {cid} is still in a bucket")
            if f"offer|{cid}" not in timers:
                problems.append(f"offered call {cid} has no offer timer")
        else:
            problems.append(f"call {cid} is {status} but still in the waiting index")
    for cid in placement:
        if cid not in calls:
            problems.append(f"call {cid} is in a bucket but not in the waiting index")

    agent_ids = sorted(_text(a) for a in client.smembers(routing_key("agents")))
    agents = dict(
        zip(
            agent_ids,
            read_rows(client, [routing_key("agent", a) for a in agent_ids], AGENT_FIELDS),
            strict=True,
        )
    )
    available_index = {_text(a) for a in client.zrange(routing_key("avail", "all"), 0, -1)}
    wrapping_index = {_text(a) for a in client.zrange(routing_key("wrapping"), 0, -1)}
    presence_prefix = routing_key("present", "")
    presence = {
        _text(raw)[len(presence_prefix) :]: {_text(m) for m in client.smembers(raw)}
        for raw in client.scan_iter(match=presence_prefix + "*")
    }
    holders: Counter[str] = Counter()
    held = [
        (aid, agent)
        for aid, agent in agents.items()
        if agent is not None and agent["state"] in (AgentState.OFFERED, AgentState.ON_CALL)
    ]
    held_calls = read_rows(
        client, [routing_key("call", agent["call"]) for _, agent in held], ["status", "agent"]
    )
    for (aid, agent), call in zip(held, held_calls, strict=True):
        cid, state = agent["call"], agent["state"]
        holders[cid] += 1
        expected = CallStatus.OFFERED if state == AgentState.OFFERED else CallStatus.ANSWERED
        if call is None or call["status"] != expected:
            problems.append(f"agent {aid} is {state} with call {cid} in {call and call['status']}")
        elif call["agent"] != aid:
            problems.append(f"agent {aid} holds call {cid} that names another agent")
    for aid, record in agents.items():
        if record is None:
            problems.append(f"agent {aid} is listed without a record")
            continue
        agent, state = record, record["state"]
        if (state == AgentState.AVAILABLE) != (aid in available_index):
            problems.append(f"agent {aid} is {state} but the availability index disagrees")
        if state not in (AgentState.OFFERED, AgentState.ON_CALL) and agent["call"]:
            problems.append(f"agent {aid} is {state} but still names call {agent['call']}")
        if state == AgentState.WRAP_UP and f"wrap|{aid}" not in timers:
            problems.append(f"agent {aid} is in wrap-up without an end")
        if (state == AgentState.WRAP_UP) != (aid in wrapping_index):
            problems.append(f"agent {aid} is {state} but the wrap-up index disagrees")
        pending = agent["after_call"]
        if pending and pending not in AFTER_CALL_STATES:
            problems.append(f"agent {aid} has an unknown state after the call: {pending}")
        if pending and state not in (AgentState.OFFERED, AgentState.ON_CALL, AgentState.WRAP_UP):
            problems.append(f"agent {aid} is {state} with {pending} still pending after a call")
        for queue in from_list_field(agent["queues"]):
            if (state != AgentState.OFFLINE) != (aid in presence.get(queue, set())):
                problems.append(f"agent {aid} is {state} but staffing of {queue} disagrees")
    for queue, staff in presence.items():
        for aid in staff:
            record = agents.get(aid)
            if record is None or queue not in from_list_field(record["queues"]):
                problems.append(f"agent {aid} staffs {queue} without serving it")
    for cid, count in holders.items():
        if count > 1:
            problems.append(f"call {cid} is held by {count} agents")
    for cid, row in calls.items():
        if row is not None and row["status"] == CallStatus.OFFERED:
            holder = agents.get(row["agent"])
            if holder is None or holder["call"] != cid or holder["state"] != AgentState.OFFERED:
                problems.append(f"offered call {cid} is not held by its agent {row['agent']}")

    open_ids = [_text(raw) for raw in client.zrange(routing_key("escalations"), 0, -1)]
    open_rows = read_rows(client, [routing_key("esc", eid) for eid in open_ids], ["status"])
    for eid, open_row in zip(open_ids, open_rows, strict=True):
        esc_status = None if open_row is None else open_row["status"]
        if esc_status != "active":
            problems.append(f"escalation {eid} is listed as open but is {esc_status}")
        elif f"ladder|{eid}" not in timers:
            problems.append(f"open escalation {eid} has no next step")

    if work_conserving:
        problems.extend(_idle_while_waiting(client, now, calls, agents))
    return problems


def _idle_while_waiting(
    client: redis.Redis,
    now: float,
    calls: dict[str, dict[str, str] | None],
    agents: dict[str, dict[str, str] | None],
) -> list[str]:
    pairs = []
    for aid, agent in agents.items():
        if agent is None or agent["state"] != AgentState.AVAILABLE:
            continue
        for cid, call in calls.items():
            if call is None or call["status"] != CallStatus.WAITING:
                continue
            if call["queue"] not in from_list_field(agent["queues"]):
                continue
            if call["lang"] != "*" and call["lang"] not in from_list_field(agent["langs"]):
                continue
            if not set(from_list_field(call["specs"])) <= set(from_list_field(agent["specs"])):
                continue
            pairs.append((aid, cid))
    pipe = client.pipeline(transaction=False)
    for aid, cid in pairs:
        pipe.zscore(routing_key("call", cid, "declined"), aid)
    return [
        f"agent {aid} is idle while call {cid} they could take waits"
        for (aid, cid), declined_until in zip(pairs, pipe.execute(), strict=True)
        if declined_until is None or float(declined_until) <= now
    ]
