"""An agent's call from the console, over the JSON API, with a simulated caller on the line."""

from __future__ import annotations

import json
import time

import redis
from flask import Flask
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session, sessionmaker

from calls.control import OPTIONAL_ACTIONS
from routing import AgentState, views
from routing.channels import ESCALATION_CHANNEL, agent_channel
from runtime import Runtime
from store.live_state import key
from store.models import Beneficiary, Line, Resource
from store.records import AuditEntry, Call, CallEvent, CheckinPlan, Escalation
from telephony.simulator.phone import PhoneStatus
from tests.harness.hotline import Hotline
from tests.integration.agent_console.console_helpers import Account, SignedIn, sign_in

LOW_RISK = ("1", "1", "2", "2", "2", "2")
SEVERE = ("1", "1", "1")


def _caller(
    runtime: Runtime, hotline: Hotline, keys: tuple[str, ...], number: str | None = None
) -> str:
    phones = runtime.simulator
    call = phones.dial(hotline.line_number, number)
    for digit in keys:
        call = phones.press(call.call_id, digit)
    assert call.status is PhoneStatus.ON_HOLD
    return call.call_id


def _next_message(listener: redis.client.PubSub, kind: str | None = None) -> dict[str, object]:
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        message = listener.get_message(timeout=0.5)
        if message is not None and message["type"] == "message":
            body = dict(json.loads(message["data"]))
            if kind is None or body.get("kind") == kind:
                return body
    raise AssertionError("nothing published")


def _available(who: SignedIn) -> None:
    response = who.post("/console/api/state", {"state": "available"})
    assert response.status_code == 200, response.json
    assert response.json["state"] in ("available", "offered")


def _offered(who: SignedIn) -> str:
    me = who.get("/console/api/me").json
    assert me["state"] == "offered", me
    return str(me["offer"]["call"])


def _answer(runtime: Runtime, hotline: Hotline, agent: SignedIn, number: str | None = None) -> str:
    _available(agent)
    call_id = _caller(runtime, hotline, LOW_RISK, number)
    assert _offered(agent) == call_id
    accepted = agent.post(f"/console/api/offers/{call_id}/accept")
    assert accepted.status_code == 200, accepted.json
    assert accepted.json == {"call_id": call_id, "bridged": True}
    return call_id


def test_an_offered_call_accepted_connects_the_caller_and_opens_the_call(
    runtime: Runtime, hotline: Hotline, agent: SignedIn, db_sessions: sessionmaker[Session]
) -> None:
    call_id = _answer(runtime, hotline, agent)
    assert runtime.simulator.get(call_id).status is PhoneStatus.CONNECTED
    with db_sessions() as db:
        call = db.get(Call, call_id)
        assert call is not None
        assert (call.status, call.agent_id) == ("on_call", agent.account.agent_id)
        assert call.answered_at is not None
    me = agent.get("/console/api/me").json
    assert (me["state"], me["call_id"]) == ("on_call", call_id)
    phone = agent.get(f"/console/api/calls/{call_id}/phone").json
    assert phone["status"] == "connected"


def test_the_card_shows_the_screen_answers_and_the_file_opens_only_on_demand_audited(
    runtime: Runtime, hotline: Hotline, agent: SignedIn, db_sessions: sessionmaker[Session]
) -> None:
    call_id = _answer(runtime, hotline, agent, hotline.beneficiary_number)
    card = agent.get(f"/console/api/calls/{call_id}/card").json
    assert card["call"]["risk"]
    assert [a["answer"] for a in card["ivr_answers"]] == ["yes", "no", "no", "no", "no"]
    assert card["beneficiary"]["reference"].startswith("T-")
    assert "Test Beneficiary" not in json.dumps(card), "no decrypted field on the card"
    file = agent.post(f"/console/api/calls/{call_id}/file")
    assert file.status_code == 200
    assert file.json["full_name"] == "Test Beneficiary"
    with db_sessions() as db:
        entry = db.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "beneficiary_file_viewed",
                AuditEntry.subject_id == hotline.beneficiary_id,
            )
        )
        assert entry is not None
        assert (entry.actor_id, entry.detail["call_id"]) == (agent.account.agent_id, call_id)


def test_another_agent_can_neither_read_nor_end_the_call(
    runtime: Runtime, hotline: Hotline, agent: SignedIn, accounts: dict[str, Account], app: Flask
) -> None:
    call_id = _answer(runtime, hotline, agent, hotline.beneficiary_number)
    other = sign_in(app, accounts["farah"])
    assert other.get(f"/console/api/calls/{call_id}/card").status_code == 403
    assert other.post(f"/console/api/calls/{call_id}/file").status_code == 403
    ended = other.post(f"/console/api/calls/{call_id}/end", {"disposition": "information"})
    assert (ended.status_code, ended.json["error_id"]) == (409, "console.not_your_call")


def test_ending_saves_disposition_and_encrypted_notes_and_lowering_risk_needs_a_reason(
    runtime: Runtime, hotline: Hotline, agent: SignedIn, db_sessions: sessionmaker[Session]
) -> None:
    call_id = _answer(runtime, hotline, agent, hotline.beneficiary_number)
    lower = {"disposition": "support_given", "notes": "Habló con calma.", "risk": "bajo"}
    refused = agent.post(f"/console/api/calls/{call_id}/end", lower)
    assert (refused.status_code, refused.json["error_id"]) == (400, "console.risk_reason_required")
    ended = agent.post(
        f"/console/api/calls/{call_id}/end", {**lower, "risk_reason": "Ya no convive con él."}
    )
    assert ended.status_code == 200, ended.json
    with db_sessions() as db:
        call = db.get(Call, call_id)
        assert call is not None
        assert (call.status, call.disposition, call.risk_level) == (
            "completed",
            "support_given",
            "bajo",
        )
        assert call.notes == "Habló con calma."
        raw = db.execute(text("SELECT notes FROM calls WHERE id = :id"), {"id": call_id}).scalar()
        assert raw and "calma" not in raw
        owner = db.get(Beneficiary, hotline.beneficiary_id)
        assert owner is not None and owner.risk_level == "bajo"
        lowered = db.scalar(
            select(AuditEntry).where(
                AuditEntry.action == "risk_lowered", AuditEntry.subject_id == hotline.beneficiary_id
            )
        )
        assert lowered is not None and lowered.reason == "Ya no convive con él."
        assert lowered.detail == {"from": "medio", "to": "bajo", "call_id": call_id}
    assert agent.get("/console/api/me").json["state"] == "wrap_up"
    assert runtime.simulator.get(call_id).status is PhoneStatus.ENDED


def test_raising_risk_needs_no_reason(
    runtime: Runtime, hotline: Hotline, agent: SignedIn, db_sessions: sessionmaker[Session]
) -> None:
    call_id = _answer(runtime, hotline, agent, hotline.beneficiary_number)
    ended = agent.post(
        f"/console/api/calls/{call_id}/end", {"disposition": "referred", "risk": "alto"}
    )
    assert ended.status_code == 200
    with db_sessions() as db:
        owner = db.get(Beneficiary, hotline.beneficiary_id)
        assert owner is not None and owner.risk_level == "alto"
        lowered = select(AuditEntry).where(
            AuditEntry.action == "risk_lowered", AuditEntry.subject_id == hotline.beneficiary_id
        )
        assert db.scalar(lowered) is None


def test_a_severe_caller_rings_the_urgent_team_and_accepting_her_closes_it_unacknowledged(
    runtime: Runtime,
    hotline: Hotline,
    agent: SignedIn,
    redis_client: redis.Redis,
    db_sessions: sessionmaker[Session],
) -> None:
    listener = redis_client.pubsub(ignore_subscribe_messages=True)
    listener.subscribe(agent_channel(hotline.agents["urgent1"]), ESCALATION_CHANNEL)
    _available(agent)
    call_id = _caller(runtime, hotline, SEVERE)
    assert _next_message(listener)["kind"] == "escalation_ring"
    assert [e.call_id for e in views.open_escalations(redis_client, 10**10)] == [call_id]
    assert agent.post(f"/console/api/offers/{call_id}/accept").status_code == 200
    assert views.open_escalations(redis_client, 10**10) == []
    with db_sessions() as db:
        row = db.scalar(select(Escalation).where(Escalation.call_id == call_id))
        assert row is not None and (row.acknowledged_by, row.acknowledged_at) == (None, None)
        assert row.closed_reason == "answered" and row.closed_at is not None
    stopped = _next_message(listener, kind="escalation_stopped")
    assert stopped["escalation_id"] == f"call:{call_id}"
    listener.close()


def test_an_urgent_team_member_acknowledges_a_ring_from_her_console(
    runtime: Runtime,
    hotline: Hotline,
    app: Flask,
    accounts: dict[str, Account],
    redis_client: redis.Redis,
) -> None:
    call_id = _caller(runtime, hotline, SEVERE)
    member = sign_in(app, accounts["urgent1"])
    everyone = redis_client.pubsub(ignore_subscribe_messages=True)
    everyone.subscribe(ESCALATION_CHANNEL)
    done = member.post("/console/api/escalations/acknowledge", {"escalation_id": f"call:{call_id}"})
    assert done.status_code == 200 and done.json["status"] == "acknowledged"
    stopped = _next_message(everyone)
    assert stopped == {"kind": "escalation_stopped", "escalation_id": f"call:{call_id}"}
    everyone.close()
    assert views.open_escalations(redis_client, 10**10) == []
    again = member.post("/console/api/escalations/acknowledge", {"escalation_id": "nope"})
    assert again.status_code == 404


def test_a_rejected_offer_goes_to_the_next_agent(
    runtime: Runtime, hotline: Hotline, agent: SignedIn, app: Flask, accounts: dict[str, Account]
) -> None:
    other = sign_in(app, accounts["farah"])
    _available(agent)
    call_id = _caller(runtime, hotline, LOW_RISK)
    assert _offered(agent) == call_id
    _available(other)
    assert agent.post(f"/console/api/offers/{call_id}/reject").status_code == 200
    assert _offered(other) == call_id
    late = agent.post(f"/console/api/offers/{call_id}/accept")
    assert (late.status_code, late.json["error_id"]) == (409, "console.offer_gone")


def test_transfer_to_a_named_agent_reoffers_the_caller_to_her(
    runtime: Runtime,
    hotline: Hotline,
    agent: SignedIn,
    app: Flask,
    accounts: dict[str, Account],
    db_sessions: sessionmaker[Session],
) -> None:
    call_id = _answer(runtime, hotline, agent)
    # Signed out: nobody would answer her, so she stays with this agent (on no hold).
    runtime.router.set_agent_state(accounts["farah"].agent_id, AgentState.OFFLINE, time.time())
    refused = agent.post(
        f"/console/api/calls/{call_id}/transfer", {"agent_id": accounts["farah"].agent_id}
    )
    assert (refused.status_code, refused.json["error_id"]) == (409, "console.agent_unavailable")
    with db_sessions() as db:
        kept = db.get(Call, call_id)
        assert kept is not None and kept.agent_id == agent.account.agent_id
    other = sign_in(app, accounts["farah"])
    _available(other)
    targets = agent.get(f"/console/api/calls/{call_id}/transfer-targets").json
    assert "general" in targets["queues"]
    assert other.account.agent_id in [a["id"] for a in targets["agents"]]
    moved = agent.post(
        f"/console/api/calls/{call_id}/transfer", {"agent_id": other.account.agent_id}
    )
    assert moved.status_code == 200, moved.json
    leg = moved.json["leg"]
    assert leg == f"{call_id}.t1"
    assert _offered(other) == leg
    assert other.post(f"/console/api/offers/{leg}/accept").json["call_id"] == call_id
    with db_sessions() as db:
        call = db.get(Call, call_id)
        assert call is not None and call.agent_id == other.account.agent_id
    ended = other.post(f"/console/api/calls/{call_id}/end", {"disposition": "information"})
    assert ended.status_code == 200
    assert other.get("/console/api/me").json["state"] == "wrap_up"


def test_hold_interpreter_escalation_and_checkin_plan_from_the_call(
    runtime: Runtime,
    hotline: Hotline,
    agent: SignedIn,
    redis_client: redis.Redis,
    db_sessions: sessionmaker[Session],
) -> None:
    call_id = _answer(runtime, hotline, agent, hotline.beneficiary_number)
    card = agent.get(f"/console/api/calls/{call_id}/card").json
    assert card["call"]["actions"] == [
        "hold",
        "add_interpreter",
        "remove_interpreter",
        "mute",
        "send_dtmf",
        "transfer_out",
        "warm_transfer",
    ]
    assert agent.post(f"/console/api/calls/{call_id}/hold", {"on": True}).status_code == 200
    assert runtime.simulator.get(call_id).status is PhoneStatus.ON_HOLD
    assert agent.post(f"/console/api/calls/{call_id}/hold", {"on": False}).status_code == 200
    added = agent.post(f"/console/api/calls/{call_id}/interpreter", {"language": "ar"})
    assert added.status_code == 200
    assert any(
        "interpreter" in line
        for line in runtime.simulator.get(call_id).heard()
        + [line.text for line in runtime.simulator.get(call_id).lines]
    )
    escalated = agent.post(f"/console/api/calls/{call_id}/escalate")
    assert escalated.status_code == 200
    escalation_id = escalated.json["escalation_id"]
    assert escalation_id in [e.escalation_id for e in views.open_escalations(redis_client, 10**10)]
    plan = agent.post(
        f"/console/api/calls/{call_id}/checkin-plan", {"cadence_days": 7, "active": True}
    )
    assert plan.status_code == 200 and plan.json["cadence_days"] == 7
    assert (
        agent.post(f"/console/api/calls/{call_id}/checkin-plan", {"cadence_days": 2}).status_code
        == 400
    )
    with db_sessions() as db:
        stored = db.scalar(
            select(CheckinPlan).where(CheckinPlan.beneficiary_id == hotline.beneficiary_id)
        )
        assert stored is not None and stored.cadence_days == 7
        call = db.get(Call, call_id)
        assert call is not None and "interpreter" in call.flags
        changed = select(AuditEntry).where(
            AuditEntry.action == "checkin_plan_changed",
            AuditEntry.subject_id == hotline.beneficiary_id,
        )
        assert db.scalar(changed) is not None


def test_the_agent_mutes_herself_and_sends_keys_and_the_simulated_caller_notices(
    runtime: Runtime,
    hotline: Hotline,
    agent: SignedIn,
    db_sessions: sessionmaker[Session],
) -> None:
    call_id = _answer(runtime, hotline, agent)
    muted = agent.post(f"/console/api/calls/{call_id}/mute", {"on": True})
    assert muted.status_code == 200 and muted.json == {"muted": True}
    assert agent.post(f"/console/api/calls/{call_id}/mute", {"on": False}).status_code == 200
    assert agent.post(f"/console/api/calls/{call_id}/dtmf", {"digits": "4*2#"}).status_code == 200
    bad = agent.post(f"/console/api/calls/{call_id}/dtmf", {"digits": "4;2"})
    assert (bad.status_code, bad.json["error_id"]) == (400, "console.bad_keys")
    too_many = agent.post(f"/console/api/calls/{call_id}/dtmf", {"digits": "1" * 33})
    assert too_many.status_code == 400

    phone = runtime.simulator.get(call_id)
    lines = [line.text for line in phone.lines]
    assert "[the agent's microphone is off]" in lines
    assert lines.index("[the agent's microphone is off]") < lines.index(
        "[the agent's microphone is on]"
    )
    assert "[keypad tones: 4*2#]" in lines and phone.status is PhoneStatus.CONNECTED
    with db_sessions() as db:
        events = db.execute(
            text("SELECT kind, data FROM call_events WHERE call_id = :c ORDER BY seq"),
            {"c": call_id},
        ).all()
    kinds = [kind for kind, _ in events]
    assert kinds.index("muted") < kinds.index("unmuted") < kinds.index("keys_sent")
    assert all("4*2#" not in str(data) for _, data in events)


def test_a_call_on_a_channel_without_a_bridge_is_refused_before_it_is_accepted(
    runtime: Runtime,
    hotline: Hotline,
    agent: SignedIn,
    db_sessions: sessionmaker[Session],
    redis_client: redis.Redis,
) -> None:
    _available(agent)
    call_id = _caller(runtime, hotline, LOW_RISK)
    with db_sessions() as db, db.begin():
        call = db.get(Call, call_id)
        assert call is not None
        call.channel = "twilio"
    redis_client.hset(key("call", call_id), "channel", "twilio")
    refused = agent.post(f"/console/api/offers/{call_id}/accept")
    assert (refused.status_code, refused.json["error_id"]) == (409, "console.no_bridge")
    assert _offered(agent) == call_id, "the offer stands; it times out to the next agent"


def test_a_supervisor_listens_to_a_live_call_and_it_is_audited(
    runtime: Runtime,
    hotline: Hotline,
    agent: SignedIn,
    supervisor: SignedIn,
    db_sessions: sessionmaker[Session],
) -> None:
    call_id = _answer(runtime, hotline, agent)
    board = supervisor.get("/supervisor/api/board").json
    assert call_id in [item["call_id"] for item in board["live_calls"]]
    heard_before = len(runtime.simulator.get(call_id).lines)
    listened = supervisor.post(f"/supervisor/api/calls/{call_id}/supervise", {"mode": "listen"})
    assert listened.status_code == 200
    assert len(runtime.simulator.get(call_id).lines) == heard_before, "silent to the caller"
    joined = supervisor.post(f"/supervisor/api/calls/{call_id}/supervise", {"mode": "barge"})
    assert joined.status_code == 200
    assert runtime.simulator.get(call_id).lines[-1].kind == "supervisor"
    assert (
        supervisor.post(f"/supervisor/api/calls/{call_id}/supervise", {"mode": "shout"}).status_code
        == 400
    )
    assert (
        agent.post(f"/supervisor/api/calls/{call_id}/supervise", {"mode": "listen"}).status_code
        == 403
    )
    with db_sessions() as db:
        listen = select(AuditEntry).where(
            AuditEntry.action == "call_listen", AuditEntry.subject_id == call_id
        )
        assert db.scalar(listen) is not None


def test_a_severe_caller_in_arabic_goes_to_the_free_agent_at_once_marked_as_needing_an_interpreter(
    runtime: Runtime, hotline: Hotline, agent: SignedIn, db_sessions: sessionmaker[Session]
) -> None:
    _available(agent)
    call_id = _caller(runtime, hotline, ("4", *SEVERE[1:]))
    me = agent.get("/console/api/me").json
    assert me["offer"]["call"] == call_id
    assert (me["offer"]["language"], me["offer"]["interpreter_needed"]) == ("ar", "ar")
    assert agent.post(f"/console/api/offers/{call_id}/accept").status_code == 200
    card = agent.get(f"/console/api/calls/{call_id}/card").json
    assert card["call"]["interpreter_needed"] == "ar"
    assert "interpreter_needed" in [flag["id"] for flag in card["call"]["flags"]]


def test_a_warm_transfer_consults_then_hands_her_over_or_takes_her_back(
    runtime: Runtime, hotline: Hotline, agent: SignedIn, db_sessions: sessionmaker[Session]
) -> None:
    call_id = _answer(runtime, hotline, agent, hotline.beneficiary_number)
    body = {"number": "+34910000001", "warm": True}
    started = agent.post(f"/console/api/calls/{call_id}/transfer", body)
    assert started.json == {"transfer": "ringing", "warm": True}
    assert agent.post(f"/console/api/calls/{call_id}/transfer/cancel").status_code == 200
    assert agent.post(f"/console/api/calls/{call_id}/transfer", body).status_code == 200
    assert agent.post(f"/console/api/calls/{call_id}/transfer/complete").status_code == 200
    heard = [line.text for line in runtime.simulator.get(call_id).lines]
    consult = "[on hold while the agent speaks with a service]"
    assert heard[heard.index(consult) :][:4] == [
        consult,
        "[the agent is back with you]",
        consult,
        "[put through to another service]",
    ]
    with db_sessions() as db:
        kinds = list(
            db.scalars(
                select(CallEvent.kind)
                .where(CallEvent.call_id == call_id, CallEvent.kind.like("transfer_%"))
                .order_by(CallEvent.seq)
            )
        )
    assert kinds == [
        "transfer_out_requested",
        "transfer_cancelled",
        "transfer_out_requested",
        "transfer_completed",
    ]


def _interpreter_on_accept(db_sessions: sessionmaker[Session], hotline: Hotline) -> None:
    with db_sessions() as db, db.begin():
        db.execute(
            update(Line).where(Line.id == hotline.line_id).values(interpreter_on_accept=True)
        )


def _interpreter_events(db_sessions: sessionmaker[Session], call_id: str) -> list[object]:
    with db_sessions() as db:
        return [
            event.data
            for event in db.scalars(
                select(CallEvent).where(
                    CallEvent.call_id == call_id, CallEvent.kind == "interpreter_added"
                )
            )
        ]


def test_a_line_with_interpreter_on_accept_calls_her_language_in_as_the_agent_accepts(
    runtime: Runtime, hotline: Hotline, agent: SignedIn, db_sessions: sessionmaker[Session]
) -> None:
    """Risk before language gave a severe Arabic speaker to an agent who does not speak it:
    the interpreter for Arabic is called in with no click."""
    _interpreter_on_accept(db_sessions, hotline)
    _available(agent)
    call_id = _caller(runtime, hotline, ("4", *SEVERE[1:]))
    accepted = agent.post(f"/console/api/offers/{call_id}/accept")
    assert accepted.status_code == 200, accepted.json
    assert accepted.json == {
        "call_id": call_id,
        "bridged": True,
        "interpreter": {"language": "ar", "calling": True},
    }
    assert "[an interpreter (ar) joined the call]" in [
        line.text for line in runtime.simulator.get(call_id).lines
    ]
    assert _interpreter_events(db_sessions, call_id) == [
        {"agent_id": agent.account.agent_id, "language": "ar"}
    ]


def test_a_caller_who_chose_another_language_gets_the_any_language_interpreter_on_accept(
    runtime: Runtime, hotline: Hotline, agent: SignedIn, db_sessions: sessionmaker[Session]
) -> None:
    _interpreter_on_accept(db_sessions, hotline)
    _available(agent)
    call_id = _caller(runtime, hotline, ("0",))
    accepted = agent.post(f"/console/api/offers/{call_id}/accept")
    assert accepted.status_code == 200, accepted.json
    assert accepted.json["interpreter"] == {"language": "mul", "calling": True}


def test_without_the_line_setting_accepting_calls_no_interpreter(
    runtime: Runtime, hotline: Hotline, agent: SignedIn, db_sessions: sessionmaker[Session]
) -> None:
    _available(agent)
    call_id = _caller(runtime, hotline, ("0",))
    accepted = agent.post(f"/console/api/offers/{call_id}/accept")
    assert accepted.json == {"call_id": call_id, "bridged": True}
    assert _interpreter_events(db_sessions, call_id) == []


def test_a_silent_caller_goes_to_the_free_agent_whatever_her_number_suggests(
    runtime: Runtime, hotline: Hotline, agent: SignedIn
) -> None:
    _available(agent)
    phones = runtime.simulator
    call = phones.dial(hotline.line_number, "+212612345678")
    while call.status is not PhoneStatus.ON_HOLD:
        call = phones.stay_silent(call.call_id)
    assert _offered(agent) == call.call_id
    assert agent.get("/console/api/me").json["offer"]["language"] == "ar", "guessed, not waited for"


def test_the_card_offers_only_what_the_calls_channel_can_do(
    runtime: Runtime,
    hotline: Hotline,
    agent: SignedIn,
    db_sessions: sessionmaker[Session],
    redis_client: redis.Redis,
) -> None:
    """A SIP call: the console shows every call-control action SIP offers, and none of them is
    answered 409 (an interpreter for a language nobody interprets is a 404); with no SIP
    process holding the call, each is a 502 to try again, never a false success."""
    call_id = _answer(runtime, hotline, agent, hotline.beneficiary_number)
    with db_sessions() as db, db.begin():
        call = db.get(Call, call_id)
        assert call is not None
        call.channel = "sip"
    redis_client.hset(key("call", call_id), "channel", "sip")
    card = agent.get(f"/console/api/calls/{call_id}/card").json
    offered = set(card["call"]["actions"])
    assert offered == set(OPTIONAL_ACTIONS)
    # No SIP process holds this call: each action says "try again"; none claims it was done.
    for route, body in (
        ("hold", {"on": True}),
        ("mute", {"on": True}),
        ("dtmf", {"digits": "1"}),
        ("transfer", {"number": "+34910000001"}),
        ("transfer", {"number": "+34910000001", "warm": True}),
        ("transfer/cancel", {}),
        ("transfer", {"queue": "general"}),
    ):
        answer = agent.post(f"/console/api/calls/{call_id}/{route}", body)
        assert (answer.status_code, answer.json["error_id"]) == (502, "console.bridge_failed")
    added = agent.post(f"/console/api/calls/{call_id}/interpreter", {"language": "ar"})
    assert added.status_code == 404 and added.json["error_id"] == "console.no_interpreter"
    early = agent.post(f"/console/api/calls/{call_id}/transfer/complete")
    assert (early.status_code, early.json["error_id"]) == (409, "console.transfer_not_answered")


def test_the_wallboard_counts_calls_with_an_interpreter_until_she_is_removed(
    runtime: Runtime, hotline: Hotline, agent: SignedIn, supervisor: SignedIn
) -> None:
    call_id = _answer(runtime, hotline, agent, hotline.beneficiary_number)

    def on_board() -> tuple[int, list[str | None]]:
        board = supervisor.get("/supervisor/api/board").json
        calls = [c["interpreter"] for c in board["live_calls"] if c["call_id"] == call_id]
        return board["with_interpreter"], calls

    assert on_board() == (0, [None])
    added = agent.post(f"/console/api/calls/{call_id}/interpreter", {"language": "ar"})
    assert added.status_code == 200
    assert on_board() == (1, ["ar"])
    page = supervisor.client.get("/supervisor/board").get_data(as_text=True)
    assert 'lang="ar"' in page
    removed = agent.post(f"/console/api/calls/{call_id}/interpreter/remove")
    assert removed.status_code == 200
    assert on_board() == (0, [None])


def test_a_cold_transfer_goes_to_a_resource_or_a_number_and_bad_targets_lose_nothing(
    runtime: Runtime, hotline: Hotline, agent: SignedIn, db_sessions: sessionmaker[Session]
) -> None:
    with db_sessions() as db, db.begin():
        police = Resource(
            line_id=hotline.line_id,
            name="Policía Local",
            kind="police",
            municipality="Madrid",
            phone="+34915551234",
        )
        unreachable = Resource(
            line_id=hotline.line_id, name="Sin teléfono", kind="legal", municipality="Madrid"
        )
        db.add_all([police, unreachable])
    call_id = _answer(runtime, hotline, agent)
    targets = agent.get(f"/console/api/calls/{call_id}/transfer-targets").json
    assert {"id": police.id, "name": "Policía Local", "kind": "police"} in targets["resources"]
    assert all(r["id"] != unreachable.id for r in targets["resources"]), "no number to call"
    assert "+34915551234" not in json.dumps(targets), "the console never needs the number"

    url = f"/console/api/calls/{call_id}/transfer"
    for body, error_id in (
        ({"number": "915551234"}, "console.bad_number"),
        ({"resource_id": unreachable.id}, "console.unknown_resource"),
        ({"resource_id": police.id, "number": "+34915551234"}, "console.bad_transfer"),
    ):
        refused = agent.post(url, body)
        assert (refused.status_code, refused.json["error_id"]) == (400, error_id), body
    phone = runtime.simulator.get(call_id)
    assert phone.status is PhoneStatus.CONNECTED, "a refused transfer leaves her with the agent"

    assert agent.post(url, {"resource_id": police.id}).json == {
        "transfer": "ringing",
        "warm": False,
    }
    assert agent.post(url, {"number": "+34 600 000 001"}).status_code == 200
    lines = [line.text for line in runtime.simulator.get(call_id).lines]
    assert lines.count("[put through to another service]") == 2
    with db_sessions() as db:
        asked = db.scalars(
            select(CallEvent.data).where(
                CallEvent.call_id == call_id, CallEvent.kind == "transfer_out_requested"
            )
        ).all()
    assert [data["resource_id"] for data in asked] == [police.id, None]
    assert "600000001" not in json.dumps(asked) and "915551234" not in json.dumps(asked)
