"""The line's resources on the caller card for every call whose municipality is known (not
only alarms), and the referrals an agent records from it."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from runtime import Runtime
from store.models import Beneficiary, Resource
from store.records import AuditEntry, Referral
from telephony.simulator.phone import PhoneStatus
from tests.harness.hotline import Hotline
from tests.integration.agent_console.console_helpers import Account, SignedIn, sign_in

LOW_RISK = ("1", "1", "2", "2", "2", "2")


def _answered(runtime: Runtime, hotline: Hotline, agent: SignedIn, number: str | None) -> str:
    assert agent.post("/console/api/state", {"state": "available"}).status_code == 200
    call = runtime.simulator.dial(hotline.line_number, number)
    for digit in LOW_RISK:
        call = runtime.simulator.press(call.call_id, digit)
    assert call.status is PhoneStatus.ON_HOLD
    assert agent.post(f"/console/api/offers/{call.call_id}/accept").status_code == 200
    return call.call_id


def _lives_in(db_sessions: sessionmaker[Session], hotline: Hotline, municipality: str) -> None:
    with db_sessions() as db, db.begin():
        owner = db.get(Beneficiary, hotline.beneficiary_id)
        assert owner is not None
        owner.municipality = municipality


def test_a_registered_caller_without_an_alarm_sees_the_resources_of_her_municipality(
    runtime: Runtime, hotline: Hotline, agent: SignedIn, db_sessions: sessionmaker[Session]
) -> None:
    _lives_in(db_sessions, hotline, "barcelona")
    call_id = _answered(runtime, hotline, agent, hotline.beneficiary_number)
    card = agent.get(f"/console/api/calls/{call_id}/card").json
    assert card["alarm"] is None
    found = card["resources"]
    assert (found["basis"], found["municipality"]) == ("municipality", "barcelona")
    assert {item["municipality"] for item in found["items"]} == {"Barcelona"}
    assert {item["kind"] for item in found["items"]} == {"police", "shelter", "health"}
    with db_sessions() as db:
        viewed = db.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "beneficiary_municipality_viewed",
                AuditEntry.subject_id == hotline.beneficiary_id,
            )
        ).all()
    assert [entry.detail for entry in viewed] == [{"call_id": call_id}]


def test_a_caller_whose_municipality_is_unknown_gets_no_resources(
    runtime: Runtime, hotline: Hotline, agent: SignedIn
) -> None:
    call_id = _answered(runtime, hotline, agent, None)
    card = agent.get(f"/console/api/calls/{call_id}/card").json
    assert (card["resources"], card["referrals"]) == (None, [])


def test_a_referral_records_which_resource_she_was_referred_to_once(
    app: Flask,
    runtime: Runtime,
    hotline: Hotline,
    agent: SignedIn,
    accounts: dict[str, Account],
    db_sessions: sessionmaker[Session],
) -> None:
    _lives_in(db_sessions, hotline, "Madrid")
    call_id = _answered(runtime, hotline, agent, hotline.beneficiary_number)
    items = agent.get(f"/console/api/calls/{call_id}/card").json["resources"]["items"]
    cavi = next(item for item in items if item["kind"] == "cavi")
    url = f"/console/api/calls/{call_id}/referrals"
    first = agent.post(url, {"resource_id": cavi["id"]})
    assert first.status_code == 200, first.json
    again = agent.post(url, {"resource_id": cavi["id"]})
    assert [r["resource_id"] for r in again.json["referrals"]] == [cavi["id"]]
    assert again.json["referrals"][0]["kind"] == "cavi"
    with db_sessions() as db:
        rows = db.scalars(select(Referral).where(Referral.call_id == call_id)).all()
        retired = Resource(line_id=None, name="x", kind="legal", municipality="y", active=False)
        db.add(retired)
        db.commit()
        retired_id = retired.id
    assert [(r.resource_id, r.agent_id) for r in rows] == [(cavi["id"], agent.account.agent_id)]
    card = agent.get(f"/console/api/calls/{call_id}/card").json
    assert [r["name"] for r in card["referrals"]] == [cavi["name"]]
    assert agent.post(url, {"resource_id": "nope"}).status_code == 404
    assert agent.post(url, {"resource_id": retired_id}).status_code == 404
    assert agent.post(url, {}).status_code == 400
    other = sign_in(app, accounts["farah"])
    assert other.post(url, {"resource_id": cavi["id"]}).status_code == 403
