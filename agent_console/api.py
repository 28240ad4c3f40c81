"""The console's JSON API (``/console/api``): thin views over :mod:`agent_console.calls` and
:mod:`agent_console.caller_card`. Every write checks the CSRF token (``X-CSRF-Token``) and every
route the role; errors answer ``{error_id, message}``."""

from __future__ import annotations

import re

from flask import Blueprint, Response, g, jsonify
from sqlalchemy import select

from agent_console import placing, transfers
from agent_console.caller_card import CallerCards, may_see_call
from agent_console.calls import CallDesk
from agent_console.escalation_desk import EscalationDesk
from agent_console.ports import ConsoleError, ConsolePorts
from routing.state import routing_key
from store.models import Agent, Resource
from store.records import Call
from store.vocabulary import AgentRole, Channel
from web.bodies import json_object
from web.csrf import check_csrf
from web.guard import login_required
from web.language import ui_locale

CONSOLE_ROLES = ("agent", "supervisor", "admin")


LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$")


def _flag(value: object) -> bool:
    return value is True or str(value).lower() in {"1", "true", "yes", "on"}


def console_api(ports: ConsolePorts) -> Blueprint:
    bp = Blueprint("console_api", __name__, url_prefix="/console/api")
    desk = CallDesk(ports)
    cards = CallerCards(ports)
    escalations = EscalationDesk(ports)

    @bp.errorhandler(ConsoleError)
    def _console_error(exc: ConsoleError) -> tuple[Response, int]:
        return jsonify(error_id=exc.error_id, message=exc.message), exc.status

    @bp.get("/me")
    @login_required(*CONSOLE_ROLES)
    def me() -> Response:
        presence = desk.presence(g.agent_id)
        return jsonify(agent_id=g.agent_id, role=g.role, now=ports.clock(), **presence)

    @bp.post("/state")
    @login_required(*CONSOLE_ROLES)
    def set_state() -> Response:
        check_csrf()
        state = str(json_object(or_form=True).get("state") or "")
        return jsonify(desk.set_state(g.agent_id, state))

    @bp.post("/presence")
    @login_required(*CONSOLE_ROLES)
    def presence_heartbeat() -> Response:
        """The open console says, every few seconds, the presence it shows."""
        check_csrf()
        state = str(json_object(or_form=True).get("state") or "")
        restored = ports.restore_presence(g.agent_id, state) if ports.restore_presence else False
        return jsonify(restored=restored)

    @bp.post("/offers/<routing_call_id>/accept")
    @login_required(*CONSOLE_ROLES)
    def accept(routing_call_id: str) -> Response:
        check_csrf()
        return jsonify(desk.accept(routing_call_id, g.agent_id))

    @bp.post("/offers/<routing_call_id>/reject")
    @login_required(*CONSOLE_ROLES)
    def reject(routing_call_id: str) -> Response:
        check_csrf()
        desk.reject(routing_call_id, g.agent_id)
        return jsonify(rejected=routing_call_id)

    @bp.get("/calls/<call_id>/card")
    @login_required(*CONSOLE_ROLES)
    def card(call_id: str) -> Response:
        return jsonify(cards.card(call_id, g.agent_id, g.role, ui_locale(ports.default_locale)))

    @bp.post("/calls/<call_id>/file")
    @login_required(*CONSOLE_ROLES)
    def open_file(call_id: str) -> Response:
        check_csrf()
        response = jsonify(cards.open_file(call_id, g.agent_id, g.role))
        response.headers["Cache-Control"] = "no-store, private"
        return response

    @bp.get("/calls/<call_id>/phone")
    @login_required(*CONSOLE_ROLES)
    def phone(call_id: str) -> Response:
        """The simulated call as the caller lives it: the softphone of simulator mode."""
        with ports.sessions() as db:
            call = db.get(Call, call_id)
        if call is None:
            raise ConsoleError("console.unknown_call", "no such call", 404)
        if not may_see_call(call, g.agent_id, g.role):
            raise ConsoleError("console.not_your_call", "this call is not yours", 403)
        if call.channel != Channel.SIMULATOR.value or ports.simulator is None:
            raise ConsoleError("console.not_simulated", "not a simulated call", 409)
        return jsonify(call_id=call_id, **ports.simulator().transcript(call_id))

    @bp.post("/calls/<call_id>/hold")
    @login_required(*CONSOLE_ROLES)
    def hold(call_id: str) -> Response:
        check_csrf()
        on = _flag(json_object(or_form=True).get("on", True))
        desk.hold(call_id, g.agent_id, on)
        return jsonify(on_hold=on)

    @bp.post("/hang-up")
    @login_required(*CONSOLE_ROLES)
    def hang_up() -> Response:
        check_csrf()
        return jsonify(call_id=desk.hang_up(g.agent_id))

    @bp.post("/calls/<call_id>/mute")
    @login_required(*CONSOLE_ROLES)
    def mute(call_id: str) -> Response:
        check_csrf()
        on = _flag(json_object(or_form=True).get("on", True))
        desk.mute(call_id, g.agent_id, on)
        return jsonify(muted=on)

    @bp.post("/calls/<call_id>/dtmf")
    @login_required(*CONSOLE_ROLES)
    def send_dtmf(call_id: str) -> Response:
        check_csrf()
        digits = str(json_object(or_form=True).get("digits") or "").strip()
        desk.send_dtmf(call_id, g.agent_id, digits)
        return jsonify(sent=len(digits))

    @bp.post("/calls/<call_id>/transfer")
    @login_required(*CONSOLE_ROLES)
    def transfer(call_id: str) -> Response:
        check_csrf()
        body = json_object(or_form=True)
        queue = str(body["queue"]) if body.get("queue") else None
        to_agent = str(body["agent_id"]) if body.get("agent_id") else None
        resource_id = str(body["resource_id"]) if body.get("resource_id") else None
        number = str(body["number"]).replace(" ", "") if body.get("number") else None
        if resource_id is not None or number is not None:
            warm = _flag(body.get("warm"))
            transfers.transfer_out(desk, call_id, g.agent_id, resource_id, number, warm=warm)
            return jsonify(transfer="ringing", warm=warm)
        return jsonify(leg=transfers.transfer(desk, call_id, g.agent_id, queue, to_agent))

    @bp.post("/calls/<call_id>/transfer/complete")
    @login_required(*CONSOLE_ROLES)
    def complete_transfer(call_id: str) -> Response:
        check_csrf()
        transfers.end_warm_transfer(desk, call_id, g.agent_id, complete=True)
        return jsonify(transfer="completed")

    @bp.post("/calls/<call_id>/transfer/cancel")
    @login_required(*CONSOLE_ROLES)
    def cancel_transfer(call_id: str) -> Response:
        check_csrf()
        transfers.end_warm_transfer(desk, call_id, g.agent_id, complete=False)
        return jsonify(transfer="cancelled")

    @bp.post("/outbound")
    @login_required(*CONSOLE_ROLES)
    def place_call() -> Response:
        """She calls a woman back, a service or a number (``placing.py``)."""
        check_csrf()
        return jsonify(placing.place_call(desk, ports, g.agent_id, json_object(or_form=True)))

    @bp.post("/calls/<call_id>/cancel")
    @login_required(*CONSOLE_ROLES)
    def cancel_call(call_id: str) -> Response:
        """Her placed call, or a callback she took, stops ringing (``placing.py``)."""
        check_csrf()
        return jsonify(placing.cancel_call(ports, g.agent_id, call_id))

    @bp.get("/outbound-targets")
    @login_required(*CONSOLE_ROLES)
    def outbound_targets() -> Response:
        """The services she may call (their numbers stay here)."""
        with ports.sessions() as db:
            rows = db.scalars(
                select(Resource)
                .where(Resource.active, Resource.phone.is_not(None))
                .order_by(Resource.kind, Resource.name)
            )
            resources = [{"id": row.id, "name": row.name, "kind": row.kind} for row in rows]
        return jsonify(resources=resources)

    @bp.get("/calls/<call_id>/transfer-targets")
    @login_required(*CONSOLE_ROLES)
    def transfer_targets(call_id: str) -> Response:
        with ports.sessions() as db:
            call = db.get(Call, call_id)
            if call is None:
                raise ConsoleError("console.unknown_call", "no such call", 404)
            if call.agent_id != g.agent_id:
                raise ConsoleError("console.not_your_call", "this call is not yours", 403)
            people = db.scalars(
                select(Agent).where(
                    Agent.active, Agent.id != g.agent_id, Agent.role != AgentRole.ADMIN
                )
            )
            agents = [{"id": agent.id, "name": agent.display_name} for agent in people]
            outside = db.scalars(
                select(Resource)
                .where(
                    Resource.active,
                    Resource.phone.is_not(None),
                    (Resource.line_id == call.line_id) | Resource.line_id.is_(None),
                )
                .order_by(Resource.kind, Resource.name)
            )
            # Services a caller may be put through to (a cold transfer): their numbers stay here.
            resources = [{"id": row.id, "name": row.name, "kind": row.kind} for row in outside]
        for item in agents:
            state = ports.live.hget(routing_key("agent", item["id"]), "state")
            item["state"] = (state.decode() if isinstance(state, bytes) else state) or "offline"
        prefix = f"{call.line_id}."
        # The line's general queue first: a transfer's usual target, and the select's default.
        queues = sorted(
            (
                queue_id.removeprefix(prefix)
                for queue_id in ports.router().config.queues
                if queue_id.startswith(prefix)
            ),
            key=lambda name: (name != "general", name),
        )
        agents.sort(key=lambda item: (item["state"] == "offline", item["name"]))
        return jsonify(queues=queues, agents=agents, resources=resources)

    @bp.post("/calls/<call_id>/escalate")
    @login_required(*CONSOLE_ROLES)
    def escalate(call_id: str) -> Response:
        check_csrf()
        return jsonify(escalation_id=desk.escalate(call_id, g.agent_id))

    @bp.post("/calls/<call_id>/interpreter")
    @login_required(*CONSOLE_ROLES)
    def interpreter(call_id: str) -> Response:
        check_csrf()
        language = str(json_object(or_form=True).get("language") or "").strip()
        if not LANGUAGE_TAG.match(language):
            raise ConsoleError(
                "console.bad_language", "give a language tag such as 'ar' or 'ur-PK'", 400
            )
        desk.add_interpreter(call_id, g.agent_id, language)
        return jsonify(interpreter=language)

    @bp.post("/calls/<call_id>/interpreter/remove")
    @login_required(*CONSOLE_ROLES)
    def remove_interpreter(call_id: str) -> Response:
        check_csrf()
        desk.remove_interpreter(call_id, g.agent_id)
        return jsonify(interpreter=None)

    @bp.post("/calls/<call_id>/end")
    @login_required(*CONSOLE_ROLES)
    def end(call_id: str) -> Response:
        check_csrf()
        body = json_object(or_form=True)
        result = desk.end(
            call_id,
            g.agent_id,
            disposition=str(body.get("disposition") or ""),
            notes=str(body.get("notes") or ""),
            risk=str(body["risk"]) if body.get("risk") else None,
            risk_reason=str(body.get("risk_reason") or ""),
        )
        return jsonify(result)

    @bp.post("/calls/<call_id>/checkin-plan")
    @login_required(*CONSOLE_ROLES)
    def checkin_plan(call_id: str) -> Response:
        check_csrf()
        body = json_object(or_form=True)
        try:
            cadence = int(body.get("cadence_days") or 0)
        except (TypeError, ValueError) as exc:
            raise ConsoleError("console.bad_cadence", "cadence must be a number", 400) from exc
        active = _flag(body.get("active", True))
        return jsonify(cards.set_checkin_plan(call_id, g.agent_id, g.role, cadence, active))

    @bp.post("/calls/<call_id>/referrals")
    @login_required(*CONSOLE_ROLES)
    def refer(call_id: str) -> Response:
        check_csrf()
        resource_id = json_object(or_form=True).get("resource_id")
        if not isinstance(resource_id, str) or not resource_id:
            raise ConsoleError("console.bad_resource", "give the resource_id", 400)
        return jsonify(referrals=cards.refer(call_id, g.agent_id, g.role, resource_id))

    @bp.post("/escalations/acknowledge")
    @login_required(*CONSOLE_ROLES)
    def acknowledge() -> Response:
        check_csrf()
        escalation_id = str(json_object(or_form=True).get("escalation_id") or "")
        if not escalation_id:
            raise ConsoleError("console.bad_escalation", "escalation_id is required", 400)
        response = jsonify(escalations.acknowledge(escalation_id, g.agent_id, g.role))
        response.headers["Cache-Control"] = "no-store, private"
        return response

    @bp.get("/escalations")
    @login_required(*CONSOLE_ROLES)
    def ringing() -> Response:
        return jsonify(escalations=escalations.rings(g.agent_id), now=ports.clock())

    @bp.get("/escalations/<escalation_id>")
    @login_required(*CONSOLE_ROLES)
    def escalation_case(escalation_id: str) -> Response:
        response = jsonify(escalations.case(escalation_id, g.agent_id, g.role))
        response.headers["Cache-Control"] = "no-store, private"
        return response

    return bp
