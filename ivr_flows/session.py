"""Engine state per call in Redis, and replay of a call's event log.

The state is JSON under ``amparo:ivr:<call_id>`` with a TTL refreshed on every save, so an
abandoned session disappears by itself. Any process can take the next event of any call.
:func:`advance` loads, steps and saves under WATCH, so two deliveries of events of the same
call (a webhook retry racing the original) never interleave.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import NamedTuple

import redis

from ivr_flows.actions import Action
from ivr_flows.definition import Flow
from ivr_flows.engine import step
from ivr_flows.events import CallEvent
from ivr_flows.state import CallState, Outcome, new_outcomes
from store.live_state import key

SESSION_TTL_S = 4 * 3600
_MAX_RETRIES = 5


def session_key(call_id: str) -> str:
    return key("ivr", call_id)


def save(conn: redis.Redis, state: CallState, *, ttl_s: int = SESSION_TTL_S) -> None:
    conn.set(session_key(state.call_id), json.dumps(state.to_dict()), ex=ttl_s)


def load(conn: redis.Redis, call_id: str) -> CallState | None:
    raw = conn.get(session_key(call_id))
    if raw is None:
        return None
    text = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
    return CallState.from_dict(json.loads(text))


def delete(conn: redis.Redis, call_id: str) -> None:
    conn.delete(session_key(call_id))


class Advanced(NamedTuple):
    state: CallState
    actions: tuple[Action, ...]
    outcomes: tuple[Outcome, ...]  # reached by this event: hand each to the jobs that act on it


def advance(
    conn: redis.Redis, flow: Flow, event: CallEvent, *, ttl_s: int = SESSION_TTL_S
) -> Advanced:
    """Apply ``event`` to the stored session of its call and store the result atomically.

    The caller (the telephony service) appends the event to the durable log *before* calling
    this, so a lost session can always be rebuilt with :func:`replay`.
    """
    name = session_key(event.call_id)
    for _ in range(_MAX_RETRIES):
        with conn.pipeline() as pipe:
            try:
                pipe.watch(name)  # type: ignore[no-untyped-call]
                raw = pipe.get(name)
                state = None
                if raw is not None:
                    text = raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
                    state = CallState.from_dict(json.loads(text))
                new_state, actions = step(flow, state, event)
                pipe.multi()
                pipe.set(name, json.dumps(new_state.to_dict()), ex=ttl_s)
                pipe.execute()
                return Advanced(new_state, actions, new_outcomes(state, new_state))
            except redis.WatchError:
                continue
    raise redis.WatchError(f"session of call {event.call_id} kept changing")


def replay(flow: Flow, events: Iterable[CallEvent]) -> CallState | None:
    """The state a call's event log leads to; equal to what live stepping produced."""
    state: CallState | None = None
    for event in events:
        state, _actions = step(flow, state, event)
    return state
