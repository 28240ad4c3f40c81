"""What an agent does with a call from the console: presence, offers, and the call itself
(hold, mute, keys, transfer, escalate, interpreter, end with disposition, notes and risk).

Durable first (safety rule 4): the call row and the audit trail are written before routing
and the telephony edge are told. Routing holds the call under its routing id, which is the
call id, or ``<call id>.t<n>`` after a transfer (kept in the call's live hash as ``leg``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from agent_console.interpreting import INTERPRETER_NEEDED, wanted_on_accept
from agent_console.ports import ConsoleError, ConsolePorts
from calls.control import INTERPRETER_FIELD, CallBridge, keypad_digits
from calls.directory import Directory
from calls.errors import EscalationRefused, InvalidOutcome
from calls.escalations import close_call_escalations, request_escalation
from calls.interpreters import NoInterpreter
from calls.outcome import CallOutcome, settle
from routing import AgentProfile, AgentState
from routing.channels import base_call_id, personal_skill
from routing.errors import InvalidAgentState, UnknownAgent
from routing.state import after_call_state, routing_key
from store.callbacks import Callback, CallbackStatus
from store.live_state import key
from store.models import Agent
from store.records import Call
from store.vocabulary import CallRecordStatus, Direction

log = logging.getLogger(__name__)

LIVE_STATUSES = (CallRecordStatus.ON_CALL,)
E164 = re.compile(r"\+[1-9][0-9]{6,14}")


def _when(at: float) -> datetime:
    return datetime.fromtimestamp(at, UTC)


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class CallDesk:
    def __init__(self, ports: ConsolePorts) -> None:
        self.ports = ports
        self.directory = Directory(ports.sessions)

    # -- presence -------------------------------------------------------------------------

    def presence(self, agent_id: str) -> dict[str, Any]:
        """The agent's routing state (with the one she takes after her call, if she asked for
        one), her pending offer and her live call, for a page load."""
        live = self.ports.live
        row = live.hgetall(routing_key("agent", agent_id))
        state = _text(row.get("state", "offline")) if row else "offline"
        routing_call = _text(row.get("call", "")) if row else ""
        after_call = after_call_state(row.get("after_call")) if row else None
        result: dict[str, Any] = {
            "state": state,
            "after_call": after_call.value if after_call else None,
            "since": float(row.get("since") or 0) if row else None,
            "offer": None,
            "call_id": None,
        }
        if state == AgentState.OFFERED and routing_call:
            call = live.hgetall(routing_key("call", routing_call))
            result["offer"] = {
                "call": routing_call,
                "expires_at": float(call.get("offer_deadline") or 0),
                "risk": call.get("risk"),
                "queue": call.get("queue"),
                "language": call.get("req_lang"),
                "interpreter_needed": call.get("interpreter_needed") or None,
                "flags": call.get("flags", ""),
            }
        with self.ports.sessions() as db:
            current = db.execute(
                select(Call.id, Call.ended_at)
                .where(Call.agent_id == agent_id, Call.status.in_(LIVE_STATUSES))
                .order_by(Call.answered_at.desc())
                .limit(1)
            ).first()
            # A callback she took, or a call she placed, is hers while the far end rings.
            ringing = (
                None
                if current
                else db.scalar(
                    select(Callback.attempt_call_id).where(
                        Callback.agent_id == agent_id, Callback.status == CallbackStatus.DIALING
                    )
                )
            )
        # Her call stays hers until she saves its outcome; ``call_ended`` says the caller is
        # gone (hung up, or the line dropped), so nothing but the outcome is offered.
        result["call_id"] = current.id if current else ringing
        result["ringing"] = ringing is not None  # she may cancel it (``placing.cancel_call``)
        result["call_ended"] = bool(current and self._caller_gone(current.id, current.ended_at))
        wrap_until = row.get("wrap_until") if row and state == AgentState.WRAP_UP else None
        result["wrap_until"] = float(wrap_until) if wrap_until else None
        return result

    def _caller_gone(self, call_id: str, ended_at: datetime | None) -> bool:
        """Ended in its row, or already in routing (which knows first: the row is written
        just after routing lets her go)."""
        if ended_at is not None:
            return True
        return bool(
            self.ports.live.hget(routing_key("call", self.routing_leg(call_id)), "ended_at")
        )

    def set_state(self, agent_id: str, state: str) -> dict[str, str | None]:
        """Her presence now, and on a call the state she takes when it ends: ``break`` or
        ``offline`` asked for during a call waits for its end (the caller is never cut off),
        ``available`` cancels it. Answers ``{"state", "after_call"}``."""
        router = self.ports.router()
        now = self.ports.clock()
        try:
            transition = router.set_agent_state(agent_id, state, now)
        except UnknownAgent:
            router.register_agent(self._profile(agent_id), now)
            transition = router.set_agent_state(agent_id, state, now)
        except (InvalidAgentState, ValueError) as exc:
            raise ConsoleError("console.bad_state", str(exc), 400) from exc
        if not transition.ok:
            raise ConsoleError(f"console.{transition.status}", "presence not changed", 409)
        after_call = after_call_state(transition.result.get("after_call"))
        return {
            "state": str(transition.result.get("state", state)),
            "after_call": after_call.value if after_call else None,
        }

    def _profile(self, agent_id: str) -> AgentProfile:
        with self.ports.sessions() as db:
            agent = db.get(Agent, agent_id)
            if agent is None or not agent.active:
                raise ConsoleError("console.unknown_agent", "no such active agent", 404)
            return AgentProfile(
                agent_id=agent.id,
                languages=frozenset(agent.languages or ()),
                specialties=frozenset(agent.skills or ()) | {personal_skill(agent.id)},
                queues=frozenset(self.ports.router().config.queues),
            )

    # -- offers ---------------------------------------------------------------------------

    def accept(self, routing_call_id: str, agent_id: str) -> dict[str, Any]:
        call_id = base_call_id(routing_call_id)
        with self.ports.sessions() as db:
            call = db.get(Call, call_id)
            if call is None:
                raise ConsoleError("console.unknown_call", "no such call", 404)
            channel, dial_back = call.channel, call.direction == Direction.CALLBACK
        # A callback task has nobody on the line yet: she is rung once the agent has it.
        bridge = None if dial_back else self.bridge_of(call_id, channel)
        now = self.ports.clock()
        transition = self.ports.router().accept(routing_call_id, agent_id, now)
        if not transition.ok:
            raise ConsoleError("console.offer_gone", "the offer is no longer yours", 409)
        # A person has her now: the rings that sought one stop, and nobody is recorded as
        # having acknowledged them (she accepted a call, not the team's ring).
        close_call_escalations(self.ports.sessions, self.ports.router(), call_id, "answered", now)
        interpreter = transition.result.get("interpreter_needed")
        with self.ports.sessions() as db, db.begin():
            call = db.get(Call, call_id)
            assert call is not None
            call.status = CallRecordStatus.ON_CALL
            call.agent_id = agent_id
            if interpreter:
                # Risk before language: she shares no language with this agent. Bringing the
                # interpreter in is the console's "add interpreter" (by the call's locale).
                call.flags = sorted({*(call.flags or []), INTERPRETER_NEEDED})
            if call.answered_at is None and not dial_back:
                call.answered_at = _when(now)
            line = self.directory.line(call.line_id) if call.line_id else None
            language = None if dial_back else wanted_on_accept(call, line)
        self.ports.live.hset(key("call", call_id), "leg", routing_call_id)
        self.ports.call_log.append(
            call_id, "agent_connected", {"agent_id": agent_id, "leg": routing_call_id}, at=now
        )
        if bridge is None:
            return self._dial_back(call_id, agent_id)
        try:
            bridge.connect(call_id, agent_id)
        except Exception:
            log.exception("call %s: the edge could not connect the agent", call_id)
            return {"call_id": call_id, "bridged": False, "error_id": "console.bridge_failed"}
        if language is None:
            return {"call_id": call_id, "bridged": True}
        return {
            "call_id": call_id,
            "bridged": True,
            "interpreter": self._interpreter_on_accept(call_id, agent_id, language),
        }

    def _interpreter_on_accept(self, call_id: str, agent_id: str, language: str) -> dict[str, Any]:
        """The line's setting calls her interpreter in at once (``interpreting.py``). Caller and
        agent are connected whatever happens; the agent is told what did (her button stays)."""
        try:
            self.add_interpreter(call_id, agent_id, language)
        except ConsoleError as exc:
            return {"language": language, "calling": False, "error_id": exc.error_id}
        return {"language": language, "calling": True}

    def _dial_back(self, call_id: str, agent_id: str) -> dict[str, Any]:
        """A callback task the agent took: ``{"call_id", "dialing"}`` (and an ``error_id``
        when she is not rung: outside her safe windows, or the channel failed)."""
        if self.ports.callbacks is None:
            raise ConsoleError("console.no_dialer", "callbacks cannot be dialled here", 409)
        result = self.ports.callbacks().dial(call_id, agent_id)
        return {**result, "bridged": False}

    def reject(self, routing_call_id: str, agent_id: str) -> None:
        transition = self.ports.router().reject(routing_call_id, agent_id, self.ports.clock())
        if not transition.ok:
            raise ConsoleError("console.offer_gone", "the offer is no longer yours", 409)

    # -- the live call --------------------------------------------------------------------

    def owned_call(self, call_id: str, agent_id: str, *, caller_on_line: bool = False) -> Call:
        """Her call, still open; with ``caller_on_line``, only while the caller is there (hold,
        transfer and interpreters act on the line; the outcome and an escalation do not)."""
        with self.ports.sessions() as db:
            call = db.get(Call, call_id)
        if call is None:
            raise ConsoleError("console.unknown_call", "no such call", 404)
        if call.agent_id != agent_id or call.status not in LIVE_STATUSES:
            raise ConsoleError("console.not_your_call", "this call is not yours now", 409)
        if caller_on_line and call.ended_at is not None:
            raise ConsoleError("console.caller_gone", "the caller has hung up", 409)
        return call

    def bridge_of(self, call_id: str, channel: str | None) -> CallBridge:
        bridge = self.ports.control().bridge_for(call_id, channel)
        if bridge is None:
            raise ConsoleError(
                "console.no_bridge",
                f"calls on the {channel or 'unknown'} channel cannot be bridged from the console",
                409,
            )
        return bridge

    def routing_leg(self, call_id: str) -> str:
        leg = self.ports.live.hget(key("call", call_id), "leg")
        return _text(leg) if leg else call_id

    def edge_action(self, call_id: str, agent_id: str, action: str) -> Callable[..., object]:
        """The call's edge's ``action`` (one of ``OPTIONAL_ACTIONS``), for her own live call;
        409 only for an action the console does not show on this call (``call_actions``)."""
        call = self.owned_call(call_id, agent_id, caller_on_line=True)
        act: object = getattr(self.bridge_of(call_id, call.channel), action, None)
        if not callable(act):
            raise ConsoleError(f"console.bridge_cannot_{action}", "this channel cannot", 409)
        return act

    def hold(self, call_id: str, agent_id: str, on: bool) -> None:
        hold = self.edge_action(call_id, agent_id, "hold")
        on_the_edge(lambda: hold(call_id, on), call_id, "hold")
        self.ports.call_log.append(
            call_id, "held" if on else "resumed", {"agent_id": agent_id}, at=self.ports.clock()
        )

    def mute(self, call_id: str, agent_id: str, on: bool) -> None:
        """Her microphone off (the caller does not hear her) or on again."""
        mute = self.edge_action(call_id, agent_id, "mute")
        on_the_edge(lambda: mute(call_id, on), call_id, "mute")
        self.ports.call_log.append(
            call_id, "muted" if on else "unmuted", {"agent_id": agent_id}, at=self.ports.clock()
        )

    def send_dtmf(self, call_id: str, agent_id: str, digits: str) -> None:
        """Keys down the caller's leg (a service's menu, a PIN): logged by count only."""
        try:
            keys = keypad_digits(digits)
        except ValueError as exc:
            raise ConsoleError("console.bad_keys", str(exc), 400) from exc
        send = self.edge_action(call_id, agent_id, "send_dtmf")
        on_the_edge(lambda: send(call_id, keys), call_id, "send_dtmf")
        self.ports.call_log.append(
            call_id,
            "keys_sent",
            {"agent_id": agent_id, "count": len(keys)},
            at=self.ports.clock(),
        )

    def add_interpreter(self, call_id: str, agent_id: str, language: str) -> None:
        """The edge calls her in. The live call says so (the wallboard counts it) from before
        the edge is asked, so that her leg failing at once clears it after, not before."""
        add = self.edge_action(call_id, agent_id, "add_interpreter")
        live_call = key("call", call_id)
        self.ports.live.hset(live_call, INTERPRETER_FIELD, language)
        try:
            on_the_edge(lambda: add(call_id, language), call_id, "add_interpreter")
        except ConsoleError:
            self.ports.live.hdel(live_call, INTERPRETER_FIELD)
            raise
        with self.ports.sessions() as db, db.begin():
            row = db.get(Call, call_id)
            if row is not None:
                row.flags = sorted({*(row.flags or []), "interpreter"})
        self.ports.call_log.append(
            call_id,
            "interpreter_added",
            {"agent_id": agent_id, "language": language},
            at=self.ports.clock(),
        )

    def remove_interpreter(self, call_id: str, agent_id: str) -> None:
        remove = self.edge_action(call_id, agent_id, "remove_interpreter")
        on_the_edge(lambda: remove(call_id), call_id, "remove_interpreter")
        self.ports.live.hdel(key("call", call_id), INTERPRETER_FIELD)
        self.ports.call_log.append(
            call_id, "interpreter_removed", {"agent_id": agent_id}, at=self.ports.clock()
        )

    def escalate(self, call_id: str, agent_id: str) -> str:
        """Ring the line's urgent team about this call (the agent stays with the caller)."""
        call = self.owned_call(call_id, agent_id)
        line = self.directory.line(call.line_id) if call.line_id else None
        if line is None or line.urgent_team_id is None:
            raise ConsoleError("console.no_urgent_team", "the line has no urgent team", 409)
        try:
            escalation_id = request_escalation(
                self.ports.sessions,
                self.ports.router(),
                call_id,
                line.urgent_team_id,
                "agent_request",
                self.ports.clock(),
            )
        except EscalationRefused as exc:
            raise ConsoleError(exc.error_id, exc.message, 409) from exc
        self.ports.call_log.append(
            call_id, "escalated_by_agent", {"agent_id": agent_id, "escalation_id": escalation_id}
        )
        return escalation_id

    def end(
        self,
        call_id: str,
        agent_id: str,
        disposition: str,
        notes: str,
        risk: str | None,
        risk_reason: str | None,
    ) -> dict[str, Any]:
        """Save the outcome, then free the agent (wrap-up) and end the call at the edge.

        The outcome's rules (a lower risk needs a reason and is audited) are
        ``calls.outcome``'s.
        """
        try:
            outcome = CallOutcome.checked(disposition, notes, risk, risk_reason)
        except InvalidOutcome as exc:
            raise ConsoleError(exc.error_id, exc.message, 400) from exc
        now = self.ports.clock()
        call = self.owned_call(call_id, agent_id)
        with self.ports.sessions() as db, db.begin():
            row = db.get(Call, call_id)
            assert row is not None
            try:
                final = settle(db, row, outcome, agent_id, _when(now))
            except InvalidOutcome as exc:
                raise ConsoleError(exc.error_id, exc.message, 400) from exc
        self.ports.call_log.append(
            call_id,
            "ended_by_agent",
            {"agent_id": agent_id, "disposition": disposition, "risk": final.value},
            at=now,
        )
        self.ports.router().hangup(self.routing_leg(call_id), now)
        bridge = self.ports.control().bridge_for(call_id, call.channel)
        if bridge is not None:
            try:
                bridge.end(call_id)
            except Exception:
                log.exception("call %s: the edge could not end the call", call_id)
        return {"call_id": call_id, "risk": final.value, "disposition": disposition}

    def hang_up(self, agent_id: str) -> str:
        """Her phone's hang-up button: the edge ends her call with the caller on purpose (an
        agent leg that merely drops re-offers the caller instead); the outcome form follows."""
        with self.ports.sessions() as db:
            call_id = db.scalar(
                select(Call.id).where(
                    Call.agent_id == agent_id,
                    Call.status.in_(LIVE_STATUSES),
                    Call.ended_at.is_(None),
                )
            )
        if call_id is None:
            raise ConsoleError("console.no_call", "no call of yours to hang up", 409)
        call = self.owned_call(call_id, agent_id, caller_on_line=True)
        bridge = self.bridge_of(call_id, call.channel)
        on_the_edge(lambda: bridge.end(call_id), call_id, "hang_up")
        self.ports.call_log.append(
            call_id, "hung_up_by_agent", {"agent_id": agent_id}, at=self.ports.clock()
        )
        return call_id


def on_the_edge(act: Callable[[], object], call_id: str, action: str) -> None:
    """An action the call's edge refused or could not reach (Twilio REST, a SIP process): the
    agent is told to try again; the call itself is untouched."""
    try:
        act()
    except ConsoleError:
        raise
    except NoInterpreter as exc:
        raise ConsoleError(exc.error_id, str(exc), 404) from exc
    except Exception as exc:
        log.error("call %s: %s failed at the edge (%s)", call_id, action, type(exc).__name__)
        raise ConsoleError(
            "console.bridge_failed", "the call's line did not take it; try again", 502
        ) from exc
