"""The urgent team's side of the console: the rings waiting on a person, answering one, and
the case she then gets (her file, where she is with a map link, the nearest resources).

Who may answer is the middle's rule (:func:`calls.escalations.authorize_answer`): a refusal is
audited there and answered 403 here. The location goes out only in the JSON body of an
authorized request, never in a URL of ours or a log line.
"""

from __future__ import annotations

from typing import Any

from agent_console.ports import ConsoleError, ConsolePorts
from calls.errors import EscalationForbidden, UnknownEscalation
from calls.escalation_cases import EscalationCase, open_case
from calls.escalations import EscalationAbout, authorize_answer, mark_acknowledged
from checkins.alarm_locations import AlarmLocation
from routing import views
from routing.channels import base_call_id
from routing.errors import RoutingError
from store.models import Line, Team

MAP_ZOOM = 17


def map_link(latitude: float, longitude: float) -> str:
    """OpenStreetMap centred on the fix, with a marker."""
    lat, lon = f"{latitude:.6f}", f"{longitude:.6f}"
    return f"https://www.openstreetmap.org/?mlat={lat}&mlon={lon}#map={MAP_ZOOM}/{lat}/{lon}"


class EscalationDesk:
    def __init__(self, ports: ConsolePorts) -> None:
        self._ports = ports

    def rings(self, agent_id: str) -> list[dict[str, Any]]:
        """The escalations ringing ``agent_id`` now, oldest first."""
        rings = views.rings_for(self._ports.live, agent_id)
        lines: dict[str, str | None] = {}
        with self._ports.sessions() as db:
            for team_id in {ring.team_id for ring in rings}:
                team = db.get(Team, team_id)
                line = db.get(Line, team.line_id) if team and team.line_id else None
                lines[team_id] = line.name if line else None
        return [
            {
                "id": ring.escalation_id,
                "call_id": base_call_id(ring.call_id) if ring.call_id else None,
                "reason": ring.reason,
                "line": lines.get(ring.team_id),
                "since": ring.since,
            }
            for ring in rings
        ]

    def acknowledge(self, escalation_id: str, agent_id: str, role: str) -> dict[str, Any]:
        """She answers the ring: the ladder stops for everyone and she gets the case, and the
        woman's call too when it is still waiting and she is free (``call_offered``: the offer
        reaches her console as any offer does)."""
        escalation = self._authorized(escalation_id, agent_id, role, "acknowledge")
        now = self._ports.clock()
        try:
            transition = self._ports.router().acknowledge(
                escalation_id, agent_id, now, offer_call=True
            )
        except RoutingError as exc:
            raise ConsoleError(exc.error_id, exc.message, 400) from exc
        mark_acknowledged(self._ports.sessions, agent_id, now, escalation_id=escalation_id)
        case = open_case(self._ports.sessions, escalation, agent_id, now)
        return {
            "status": transition.status,
            "call_offered": bool(transition.result.get("call_offered")),
            "case": self._case_view(case, now),
        }

    def case(self, escalation_id: str, agent_id: str, role: str) -> dict[str, Any]:
        escalation = self._authorized(escalation_id, agent_id, role, "read_case")
        now = self._ports.clock()
        return self._case_view(open_case(self._ports.sessions, escalation, agent_id, now), now)

    def _authorized(
        self, escalation_id: str, agent_id: str, role: str, act: str
    ) -> EscalationAbout:
        try:
            return authorize_answer(
                self._ports.sessions, self._ports.live, escalation_id, agent_id, role, act
            )
        except UnknownEscalation as exc:
            raise ConsoleError(exc.error_id, exc.message, 404) from exc
        except EscalationForbidden as exc:
            raise ConsoleError(exc.error_id, exc.message, 403) from exc

    def _case_view(self, case: EscalationCase, now: float) -> dict[str, Any]:
        alarm, file = case.alarm, case.file
        location = alarm.location if alarm is not None else None
        return {
            "escalation_id": case.escalation.escalation_id,
            "reason": case.escalation.reason,
            "alarm_type": alarm.alarm_type if alarm is not None else None,
            "beneficiary": None
            if file is None
            else {
                "reference": file.reference,
                "full_name": file.full_name,
                "phones": [{"kind": p.kind, "number": p.number} for p in file.phones],
                "address": file.address,
                "municipality": file.municipality,
                "risk": file.risk,
                "safety_plan": file.safety_plan,
            },
            "location": None if location is None else _location_view(location, now),
            "resources": [item.to_dict() for item in case.resources.items],
            "resources_basis": case.resources.basis,
        }


def _location_view(location: AlarmLocation, now: float) -> dict[str, Any]:
    return {
        "latitude": location.latitude,
        "longitude": location.longitude,
        "accuracy_m": location.accuracy_m,
        "age_s": None if location.fixed_at is None else round(max(0.0, now - location.fixed_at)),
        "map_url": map_link(location.latitude, location.longitude),
    }
