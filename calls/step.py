"""One IVR step of a call: log the event (once, whatever the retries), step the flow, hand
what reaches routing to the dispatch, and report the flow's outcomes."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import redis
from sqlalchemy.orm import Session, sessionmaker

from calls.directory import LineInfo
from calls.dispatch import RoutingDispatch
from calls.records import CALL_META_TTL_S
from calls.turn import CallTurn
from checkins.pins import check_pin
from ivr_flows import load_builtin
from ivr_flows.actions import Action, action_from_dict
from ivr_flows.definition import Flow
from ivr_flows.events import CallEvent, EventKind
from ivr_flows.session import advance
from ivr_flows.session import load as load_session
from ivr_flows.state import Outcome
from store.call_log import CallLog
from store.live_state import key
from store.models import Beneficiary
from store.records import Call

log = logging.getLogger(__name__)

OutcomeSink = Callable[[str, Outcome, dict[str, Any]], None]


@dataclass
class IvrSteps:
    sessions: sessionmaker[Session]
    live: redis.Redis
    call_log: CallLog
    dispatch: RoutingDispatch
    outcome_sinks: list[OutcomeSink] = field(default_factory=list)
    _flows: dict[str, Flow] = field(default_factory=dict, init=False)

    def flow(self, name: str) -> Flow:
        if name not in self._flows:
            self._flows[name] = load_builtin(name)
        return self._flows[name]

    def step(
        self,
        call_id: str,
        line: LineInfo,
        flow_name: str,
        event: CallEvent,
        idempotency_key: str | None,
    ) -> CallTurn:
        appended = self.call_log.append(
            call_id,
            event.kind.value,
            event.log_fields(),
            at=event.at,
            idempotency_key=idempotency_key,
        )
        if appended is None:
            return CallTurn(call_id, line, self._last_actions(call_id))
        state, actions, outcomes = advance(self.live, self.flow(flow_name), event)
        self.dispatch.route(call_id, line, actions, event.at)
        for outcome in outcomes:
            data = {"risk": state.risk.value, "flow": flow_name, "locale": state.locale}
            self._outcome(call_id, outcome, data)
        self.live.set(
            key("call", call_id, "last_actions"),
            json.dumps([action.to_dict() for action in actions]),
            ex=CALL_META_TTL_S,
        )
        return CallTurn(call_id, line, actions, fallback=Outcome.FALLBACK in outcomes)

    def checked_pin(self, flow_name: str, event: CallEvent) -> CallEvent:
        """Digits typed at a PIN prompt become only the result of the comparison."""
        if event.kind is not EventKind.DIGITS or not event.digits:
            return event
        state = load_session(self.live, event.call_id)
        if state is None or state.current is None:
            return event
        if not self.flow(flow_name).state(state.current).is_pin:
            return event
        with self.sessions() as db:
            call = db.get(Call, event.call_id)
            owner = (
                db.get(Beneficiary, call.beneficiary_id) if call and call.beneficiary_id else None
            )
            result = check_pin(
                owner.pin_hash if owner else None,
                owner.duress_digit_hash if owner else None,
                event.digits,
            )
        return replace(event, digits=None, pin_result=result)

    def _last_actions(self, call_id: str) -> tuple[Action, ...]:
        """A retried event answers what its first delivery answered."""
        raw = self.live.get(key("call", call_id, "last_actions"))
        if not raw:
            return ()
        return tuple(action_from_dict(item) for item in json.loads(str(raw)))

    def _outcome(self, call_id: str, outcome: Outcome, data: dict[str, Any]) -> None:
        self.call_log.append(call_id, "outcome", {"outcome": outcome.value, **data})
        for sink in self.outcome_sinks:
            try:
                sink(call_id, outcome, data)
            except Exception:
                log.exception("call %s: outcome %s not handed over", call_id, outcome.value)
