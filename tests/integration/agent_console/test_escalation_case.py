"""The person who answers an escalation gets the case: who may answer (its team, the agent on
its call, supervisors and admins; anyone else 403, audited), what the case holds (her file,
where she is with a map link, the nearest resources), and every read of it audited."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import redis
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from routing import views
from routing.state import routing_key
from runtime import Runtime
from store.alarms import DeviceAlarm
from store.base import new_id, utcnow
from store.models import Beneficiary, Device
from store.records import AuditEntry, CheckinAttempt, Escalation
from telephony.simulator.phone import PhoneStatus
from tests.harness.hotline import Hotline
from tests.integration.agent_console.console_helpers import Account, SignedIn, sign_in
from tests.integration.checkins.helpers import alarm_body, signed_headers

SEVERE = ("1", "1", "1")
LOW_RISK = ("1", "1", "2", "2", "2", "2")


def _device_alarm(app: Flask, db_sessions: sessionmaker[Session], hotline: Hotline) -> str:
    """A signed alarm from her panic button, as the device sends it; the stored alarm's id."""
    with db_sessions() as db:
        device = db.get(Device, hotline.device_id)
        assert device is not None
        serial = device.serial
    body = alarm_body(f"A-{time.time_ns()}", serial)
    headers = signed_headers(serial, hotline.device_secret, body)
    answer = app.test_client().post("/api/devices/alarm", data=body, headers=headers)
    assert answer.status_code == 202, answer.get_data(as_text=True)
    with db_sessions() as db:
        return str(
            db.scalar(
                select(DeviceAlarm.id)
                .where(DeviceAlarm.beneficiary_id == hotline.beneficiary_id)
                .order_by(DeviceAlarm.received_at.desc())
            )
        )


def _her_file(db_sessions: sessionmaker[Session], hotline: Hotline) -> None:
    with db_sessions() as db, db.begin():
        owner = db.get(Beneficiary, hotline.beneficiary_id)
        assert owner is not None
        owner.address = "Calle Falsa 123, Madrid"
        owner.safety_plan = "Salir por la puerta del patio; llave con la vecina."
        owner.municipality = "Madrid"


def _audits(db_sessions: sessionmaker[Session], action: str, subject_id: str) -> list[AuditEntry]:
    with db_sessions() as db:
        return list(
            db.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == action, AuditEntry.subject_id == subject_id
                )
            )
        )


def _acknowledge(who: SignedIn, escalation_id: str) -> Any:
    return who.post("/console/api/escalations/acknowledge", {"escalation_id": escalation_id})


def _severe_caller(runtime: Runtime, hotline: Hotline) -> str:
    call = runtime.simulator.dial(hotline.line_number, None)
    for digit in SEVERE:
        call = runtime.simulator.press(call.call_id, digit)
    return call.call_id


@pytest.mark.parametrize("who", ["urgent1", "boss", "admin"])
def test_a_team_member_a_supervisor_and_an_admin_may_acknowledge_an_alarm(
    app: Flask,
    accounts: dict[str, Account],
    hotline: Hotline,
    db_sessions: sessionmaker[Session],
    redis_client: redis.Redis,
    who: str,
) -> None:
    alarm_id = _device_alarm(app, db_sessions, hotline)
    person = sign_in(app, accounts[who])
    done = _acknowledge(person, f"alarm:{alarm_id}")
    assert done.status_code == 200, done.json
    assert done.json["status"] == "acknowledged"
    assert done.json["case"]["escalation_id"] == f"alarm:{alarm_id}"
    open_ids = [e.escalation_id for e in views.open_escalations(redis_client, 10**10)]
    assert f"alarm:{alarm_id}" not in open_ids
    assert _audits(db_sessions, "escalation_refused", f"alarm:{alarm_id}") == []


def test_an_agent_outside_the_team_is_refused_403_audited_and_the_ladder_rings_on(
    app: Flask,
    agent: SignedIn,
    hotline: Hotline,
    db_sessions: sessionmaker[Session],
    redis_client: redis.Redis,
) -> None:
    alarm_id = _device_alarm(app, db_sessions, hotline)
    escalation_id = f"alarm:{alarm_id}"
    refused = _acknowledge(agent, escalation_id)
    assert (refused.status_code, refused.json["error_id"]) == (403, "console.not_your_escalation")
    assert "Test Beneficiary" not in refused.get_data(as_text=True)
    read = agent.get(f"/console/api/escalations/{escalation_id}")
    assert (read.status_code, read.json["error_id"]) == (403, "console.not_your_escalation")
    refusals = _audits(db_sessions, "escalation_refused", escalation_id)
    assert [(r.actor_id, r.detail["act"]) for r in refusals] == [
        (agent.account.agent_id, "acknowledge"),
        (agent.account.agent_id, "read_case"),
    ]
    assert escalation_id in [e.escalation_id for e in views.open_escalations(redis_client, 10**10)]
    assert _audits(db_sessions, "alarm_location_read", alarm_id) == []


def test_the_agent_on_the_call_may_acknowledge_the_escalation_she_asked_for(
    runtime: Runtime, hotline: Hotline, agent: SignedIn, app: Flask, accounts: dict[str, Account]
) -> None:
    assert agent.post("/console/api/state", {"state": "available"}).status_code == 200
    call = runtime.simulator.dial(hotline.line_number, hotline.beneficiary_number)
    for digit in LOW_RISK:
        call = runtime.simulator.press(call.call_id, digit)
    assert agent.post(f"/console/api/offers/{call.call_id}/accept").status_code == 200
    escalation_id = agent.post(f"/console/api/calls/{call.call_id}/escalate").json["escalation_id"]
    other = sign_in(app, accounts["farah"])
    assert _acknowledge(other, escalation_id).status_code == 403
    done = _acknowledge(agent, escalation_id)
    assert done.status_code == 200, done.json
    assert done.json["case"]["beneficiary"]["full_name"] == "Test Beneficiary"


def test_an_unknown_escalation_is_404(agent: SignedIn) -> None:
    assert _acknowledge(agent, "alarm:nope").status_code == 404
    assert agent.get("/console/api/escalations/alarm:nope").status_code == 404


def test_the_rings_list_shows_what_rings_the_person_now(
    runtime: Runtime,
    app: Flask,
    accounts: dict[str, Account],
    hotline: Hotline,
    db_sessions: sessionmaker[Session],
) -> None:
    call_id = _severe_caller(runtime, hotline)
    alarm_id = _device_alarm(app, db_sessions, hotline)
    member = sign_in(app, accounts["urgent1"])
    rings = member.get("/console/api/escalations").json["escalations"]
    mine = {ring["id"]: ring for ring in rings}
    assert {f"call:{call_id}", f"alarm:{alarm_id}"} <= set(mine)
    assert mine[f"alarm:{alarm_id}"]["reason"] == "device_alarm"
    assert mine[f"alarm:{alarm_id}"]["line"].startswith("Test line")
    assert mine[f"alarm:{alarm_id}"]["since"] > 0
    tier2 = sign_in(app, accounts["urgent2"])
    assert tier2.get("/console/api/escalations").json["escalations"] == [], "tier 2 not yet"
    outsider = sign_in(app, accounts["ana"])
    assert outsider.get("/console/api/escalations").json["escalations"] == []
    _acknowledge(member, f"alarm:{alarm_id}")
    after = [r["id"] for r in member.get("/console/api/escalations").json["escalations"]]
    assert f"alarm:{alarm_id}" not in after


def test_the_case_of_an_alarm_holds_her_file_location_map_link_and_nearest_resources(
    app: Flask,
    accounts: dict[str, Account],
    hotline: Hotline,
    db_sessions: sessionmaker[Session],
) -> None:
    _her_file(db_sessions, hotline)
    alarm_id = _device_alarm(app, db_sessions, hotline)
    member = sign_in(app, accounts["urgent1"])
    case = _acknowledge(member, f"alarm:{alarm_id}").json["case"]
    assert case["alarm_type"] == "assault" and case["reason"] == "device_alarm"
    her = case["beneficiary"]
    assert her["full_name"] == "Test Beneficiary" and her["risk"] == "medio"
    assert her["phones"] == [{"kind": "primary", "number": hotline.beneficiary_number}]
    assert her["address"] == "Calle Falsa 123, Madrid"
    assert her["safety_plan"].startswith("Salir por la puerta")
    where = case["location"]
    assert (where["latitude"], where["longitude"], where["accuracy_m"]) == (40.4168, -3.7038, 12.5)
    assert 0 <= where["age_s"] < 120
    assert where["map_url"] == (
        "https://www.openstreetmap.org/?mlat=40.416800&mlon=-3.703800#map=17/40.416800/-3.703800"
    )
    resources = case["resources"]
    assert resources and resources[0]["name"] == "Comisaría Centro (ficticia)"
    distances = [item["distance_km"] for item in resources]
    assert distances == sorted(distances)
    again = member.get(f"/console/api/escalations/alarm:{alarm_id}")
    assert again.status_code == 200
    assert {**again.json["location"], "age_s": None} == {**where, "age_s": None}
    assert again.json["location"]["age_s"] >= where["age_s"], "the age ticks on"
    assert "no-store" in again.headers["Cache-Control"]
    reads = _audits(db_sessions, "alarm_location_read", alarm_id)
    assert [r.actor_id for r in reads] == [member.account.agent_id] * 2
    assert reads[0].detail["escalation_id"] == f"alarm:{alarm_id}"
    files = _audits(db_sessions, "beneficiary_file_viewed", hotline.beneficiary_id)
    assert [f.detail.get("escalation_id") for f in files] == [f"alarm:{alarm_id}"] * 2


def _answered_call(runtime: Runtime, hotline: Hotline, agent: SignedIn) -> str:
    """Her phone calls the line (simulated) and the agent has her."""
    assert agent.post("/console/api/state", {"state": "available"}).status_code == 200
    call = runtime.simulator.dial(hotline.line_number, hotline.beneficiary_number)
    for digit in LOW_RISK:
        call = runtime.simulator.press(call.call_id, digit)
    assert call.status is PhoneStatus.ON_HOLD
    assert agent.post(f"/console/api/offers/{call.call_id}/accept").status_code == 200
    return call.call_id


def _alarm_received(db_sessions: sessionmaker[Session], alarm_id: str, minutes_ago: float) -> None:
    with db_sessions() as db, db.begin():
        alarm = db.get(DeviceAlarm, alarm_id)
        assert alarm is not None
        alarm.received_at = alarm.received_at.fromtimestamp(
            time.time() - minutes_ago * 60, alarm.received_at.tzinfo
        )


@pytest.mark.parametrize(("minutes_ago", "shown"), [(5, True), (31, False)])
def test_the_caller_card_shows_her_alarm_location_when_her_phone_calls_within_30_minutes(
    runtime: Runtime,
    app: Flask,
    hotline: Hotline,
    agent: SignedIn,
    db_sessions: sessionmaker[Session],
    minutes_ago: float,
    shown: bool,
) -> None:
    alarm_id = _device_alarm(app, db_sessions, hotline)
    _alarm_received(db_sessions, alarm_id, minutes_ago)
    call_id = _answered_call(runtime, hotline, agent)
    card = agent.get(f"/console/api/calls/{call_id}/card").json
    viewed = _audits(db_sessions, "alarm_location_viewed", call_id)
    if not shown:
        assert card["alarm"] is None
        assert "40.4168" not in json.dumps(card) and viewed == []
        return
    assert card["alarm"]["alarm_type"] == "assault"
    assert card["alarm"]["location"]["latitude"] == 40.4168
    assert card["alarm"]["location"]["map_url"].startswith("https://www.openstreetmap.org/?mlat=")
    assert card["resources"]["basis"] == "location"
    assert card["resources"]["items"][0]["kind"] == "police"
    assert [v.detail for v in viewed] == [{"alarm_id": alarm_id}]


def _stored_escalation(
    db_sessions: sessionmaker[Session], hotline: Hotline, escalation_id: str, reason: str
) -> None:
    with db_sessions() as db, db.begin():
        db.add(
            Escalation(id=escalation_id, team_id=hotline.team_id, reason=reason, opened_at=utcnow())
        )


def _attempt(
    db_sessions: sessionmaker[Session], hotline: Hotline, notification_id: str | None
) -> str:
    attempt_id = new_id()
    with db_sessions() as db, db.begin():
        db.add(
            CheckinAttempt(
                id=attempt_id,
                beneficiary_id=hotline.beneficiary_id,
                purpose="notification" if notification_id else "checkin",
                notification_id=notification_id,
                slot="s1",
                scheduled_at=utcnow(),
                idempotency_key=f"test:{attempt_id}",
            )
        )
    return attempt_id


@pytest.mark.parametrize("kind", ["checkin", "prox"])
def test_the_case_of_an_unanswered_checkin_or_a_proximity_notice_is_her_file_and_recent_alarm(
    app: Flask,
    hotline: Hotline,
    supervisor: SignedIn,
    agent: SignedIn,
    db_sessions: sessionmaker[Session],
    kind: str,
) -> None:
    _her_file(db_sessions, hotline)
    notification_id = new_id() if kind == "prox" else None
    attempt_id = _attempt(db_sessions, hotline, notification_id)
    escalation_id = (
        f"checkin:{attempt_id}"
        if kind == "checkin"
        else f"prox:{notification_id}:{hotline.beneficiary_id[:24]}"
    )
    _stored_escalation(db_sessions, hotline, escalation_id, f"{kind}_test")
    quiet = supervisor.get(f"/console/api/escalations/{escalation_id}")
    assert quiet.status_code == 200, quiet.json
    assert quiet.json["beneficiary"]["address"] == "Calle Falsa 123, Madrid"
    assert (quiet.json["alarm_type"], quiet.json["location"]) == (None, None)
    assert quiet.json["resources_basis"] == "municipality"
    assert quiet.json["resources"] and quiet.json["resources"][0]["distance_km"] is None
    assert {item["municipality"] for item in quiet.json["resources"]} == {"Madrid"}
    alarm_id = _device_alarm(app, db_sessions, hotline)
    recent = supervisor.get(f"/console/api/escalations/{escalation_id}").json
    assert recent["location"]["latitude"] == 40.4168
    assert recent["resources_basis"] == "location"
    assert recent["resources"][0]["distance_km"] is not None
    assert len(_audits(db_sessions, "alarm_location_read", alarm_id)) == 1
    assert agent.get(f"/console/api/escalations/{escalation_id}").status_code == 403


def test_a_supervisor_who_answers_a_severe_callers_ring_is_put_through_to_her_and_back_after(
    runtime: Runtime,
    hotline: Hotline,
    agent: SignedIn,
    supervisor: SignedIn,
    redis_client: redis.Redis,
) -> None:
    """Every agent is busy (here: on a break) and the woman waits: the supervisor at the
    wallboard answers the ring, and the woman is offered to her console at once."""
    assert agent.post("/console/api/state", {"state": "break"}).status_code == 200
    call_id = _severe_caller(runtime, hotline)
    assert runtime.simulator.get(call_id).status is PhoneStatus.ON_HOLD
    done = _acknowledge(supervisor, f"call:{call_id}")
    assert done.status_code == 200, done.json
    assert done.json["call_offered"] is True
    taken = supervisor.post(f"/console/api/offers/{call_id}/accept")
    assert taken.status_code == 200, taken.json
    assert runtime.simulator.get(call_id).status is PhoneStatus.CONNECTED
    boss = hotline.agents["boss"]
    assert _routing_state(redis_client, boss) == "on_call"
    ended = supervisor.post(
        f"/console/api/calls/{call_id}/end", {"disposition": "support_given", "risk": "extremo"}
    )
    assert ended.status_code == 200, ended.json
    runtime.router.sweep(time.time() + 3600)
    assert _routing_state(redis_client, boss) == "offline", "back at the wallboard"


def _routing_state(redis_client: redis.Redis, agent_id: str) -> str:
    return str(redis_client.hget(routing_key("agent", agent_id), "state"))
