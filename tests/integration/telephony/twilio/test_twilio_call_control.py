"""The console's call control on a Twilio call, end to end: the agent accepts in the console,
the real ``twilio`` client talks to Prism (Twilio's own OpenAPI spec), and Twilio's requests
back (the announcement of keys) are played by the webhook driver. Every action the card shows
is answered, never 409."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs
from xml.etree import ElementTree

from flask.testing import FlaskClient
from sqlalchemy import select, update

from app import create_app
from calls.control import OPTIONAL_ACTIONS, supervisor_field
from calls.switchboard import call_id_for
from routing.channels import agent_channel
from runtime import Runtime
from store.live_state import key
from store.models import Interpreter, Line
from store.records import AuditEntry, Call, CallEvent
from store.vocabulary import Channel
from tests.harness.hotline import Hotline
from tests.harness.prism import PrismMock
from tests.harness.signin import sign_in
from tests.harness.twilio_driver import ACCOUNT_SID, FlaskTransport, TwilioDriver
from tests.integration.telephony.twilio.conftest import (
    ACCOUNT,
    PUBLIC_BASE_URL,
    REJECTED,
    NotingHttpClient,
    queued_call,
)


class Console:
    def __init__(self, client: FlaskClient, csrf: str) -> None:
        self.client = client
        self.csrf = csrf

    def post(self, url: str, body: dict[str, Any] | None = None) -> Any:
        return self.client.post(url, json=body or {}, headers={"X-CSRF-Token": self.csrf})

    def get(self, url: str) -> Any:
        return self.client.get(url, headers={"Accept": "application/json"}).json


def accepted_call(runtime: Runtime, hotline: Hotline) -> tuple[Console, str, str]:
    """Ana, available in her console, accepts a caller queued over Twilio."""
    client = create_app(runtime=runtime).test_client()
    console = Console(client, sign_in(client, runtime.sessions, hotline.agents["ana"]))
    assert console.post("/console/api/state", {"state": "available"}).status_code == 200
    call_id, sid = queued_call(runtime, hotline)
    assert console.get("/console/api/me")["offer"]["call"] == call_id
    accepted = console.post(f"/console/api/offers/{call_id}/accept")
    assert accepted.json == {"call_id": call_id, "bridged": True}
    return console, call_id, sid


def test_the_agent_mutes_herself_and_sends_keys_to_her_leg_from_the_console(
    rest_runtime: tuple[Runtime, NotingHttpClient], hotline: Hotline, prism: PrismMock
) -> None:
    runtime, http = rest_runtime
    console, call_id, sid = accepted_call(runtime, hotline)
    card = console.get(f"/console/api/calls/{call_id}/card")
    assert card["call"]["actions"] == list(OPTIONAL_ACTIONS)
    conference = runtime.twilio_calls.get(call_id, "conference")
    assert conference
    participants = f"{ACCOUNT}/Conferences/{conference}/Participants"

    assert console.post(f"/console/api/calls/{call_id}/mute", {"on": True}).json == {"muted": True}
    method, path, form, status = http.sent[-1]
    assert (method, path, status) == ("POST", f"{participants}/agent.json", 200)
    assert form == {"Muted": ["true"]}
    assert console.post(f"/console/api/calls/{call_id}/mute", {"on": False}).status_code == 200
    assert http.sent[-1][2] == {"Muted": ["false"]}

    assert console.post(f"/console/api/calls/{call_id}/dtmf", {"digits": "12#"}).status_code == 200
    method, path, form, status = http.sent[-1]
    assert (method, path, status) == ("POST", f"{participants}/{sid}.json", 200)
    assert form["AnnounceMethod"] == ["POST"]
    announcement = form["AnnounceUrl"][0]
    assert announcement.startswith(f"{PUBLIC_BASE_URL}/twilio/voice/keys?")
    query = parse_qs(announcement.split("?", 1)[1])
    assert query == {"call": [call_id], "line": [hotline.line_id], "sent": ["1"]}  # ids only

    # Twilio fetches the announcement (signed) and plays it to her participant alone.
    phone = TwilioDriver(FlaskTransport(create_app(runtime=runtime).test_client()), PUBLIC_BASE_URL)
    played = phone.post(announcement, {"AccountSid": ACCOUNT_SID, "CallSid": sid})
    assert played.status == 200
    plays = ElementTree.fromstring(played.body).findall("Play")  # noqa: S314 (our renderer's)
    assert [play.get("digits") for play in plays] == ["12#"]
    assert phone.post(announcement, {"AccountSid": ACCOUNT_SID, "CallSid": sid}).body == (
        played.body
    ), "a retried fetch plays the same keys"
    unsigned = create_app(runtime=runtime).test_client().post(announcement.split(".org", 1)[1])
    assert unsigned.status_code == 403

    sent = len(http.sent)
    bad = console.post(f"/console/api/calls/{call_id}/dtmf", {"digits": "12x"})
    assert (bad.status_code, bad.json["error_id"]) == (400, "console.bad_keys")
    assert len(http.sent) == sent, "nothing reaches Twilio"

    with runtime.sessions() as db:
        events = [
            (e.kind, e.data)
            for e in db.scalars(
                select(CallEvent).where(CallEvent.call_id == call_id).order_by(CallEvent.seq)
            )
        ]
    kinds = [kind for kind, _ in events]
    assert kinds.index("muted") < kinds.index("unmuted") < kinds.index("keys_sent")
    assert ("keys_sent", {"agent_id": hotline.agents["ana"], "count": 3}) in events
    assert all("12#" not in str(data) for _, data in events)
    assert all(status < 300 for *_rest, status in http.sent)
    assert REJECTED not in prism.log()


def test_every_action_the_card_shows_on_a_twilio_call_is_answered(
    rest_runtime: tuple[Runtime, NotingHttpClient], hotline: Hotline, prism: PrismMock
) -> None:
    runtime, _http = rest_runtime
    console, call_id, _sid = accepted_call(runtime, hotline)
    bodies: dict[str, tuple[str, dict[str, Any]]] = {
        "hold": ("hold", {"on": True}),
        "mute": ("mute", {"on": True}),
        "send_dtmf": ("dtmf", {"digits": "5"}),
        "add_interpreter": ("interpreter", {"language": "ar"}),
        "remove_interpreter": ("interpreter/remove", {}),
        "transfer_out": ("transfer", {"number": "+34910000001"}),
        "warm_transfer": ("transfer", {"number": "+34910000001", "warm": True}),
    }
    for action in console.get(f"/console/api/calls/{call_id}/card")["call"]["actions"]:
        route, body = bodies[action]
        answer = console.post(f"/console/api/calls/{call_id}/{route}", body)
        # add_interpreter: 404 when the line has no interpreter for the language, never 409
        assert answer.status_code != 409, (action, answer.json)
        assert answer.status_code in (200, 404), (action, answer.json)


def leg_status(
    runtime: Runtime, call_id: str, leg_name: str, leg: str, status: str, sequence: int
) -> None:
    """Twilio's status callback for one of the call's legs (``agent``, ``transfer``)."""
    phone = TwilioDriver(FlaskTransport(create_app(runtime=runtime).test_client()), PUBLIC_BASE_URL)
    url = f"{PUBLIC_BASE_URL}/twilio/voice/status?call={call_id}&leg={leg_name}"
    params = {
        "AccountSid": ACCOUNT_SID,
        "CallSid": leg,
        "CallStatus": status,
        "SequenceNumber": str(sequence),
    }
    assert phone.post(url, params).status == 200


def agent_leg_ended(runtime: Runtime, call_id: str, leg: str, sequence: int) -> None:
    """Twilio's status callback: the agent's participant call completed."""
    leg_status(runtime, call_id, "agent", leg, "completed", sequence)


def test_an_agent_leg_that_drops_mid_call_puts_the_caller_first_in_her_queue_on_hold(
    rest_runtime: tuple[Runtime, NotingHttpClient], hotline: Hotline, prism: PrismMock
) -> None:
    runtime, http = rest_runtime
    _ana, call_id, sid = accepted_call(runtime, hotline)
    waiting_before, _ = queued_call(runtime, hotline)  # nobody free: she waits
    conference = runtime.twilio_calls.get(call_id, "conference")
    agent_leg = runtime.twilio_calls.get(call_id, "agent_leg")
    assert conference and agent_leg

    agent_leg_ended(runtime, call_id, agent_leg, 3)  # Ana's softphone dropped
    method, path, form, status = http.sent[-1]
    assert (method, path, status) == (
        "POST",
        f"{ACCOUNT}/Conferences/{conference}/Participants/{sid}.json",
        200,
    )
    assert form["Hold"] == ["true"], "she hears the hold music, never silence"
    with runtime.sessions() as db:
        row = db.get(Call, call_id)
        assert row is not None and row.ended_at is None
        assert (row.status, row.agent_id) == ("queued", None) and "reoffer" in row.flags
        kinds = [e.kind for e in db.scalars(select(CallEvent).where(CallEvent.call_id == call_id))]
    assert "agent_dropped" in kinds
    sent = len(http.sent)
    agent_leg_ended(runtime, call_id, agent_leg, 4)  # a late or repeated callback
    assert len(http.sent) == sent

    # The next free agent is offered her first, ahead of the caller who was already waiting.
    client = create_app(runtime=runtime).test_client()
    farah = Console(client, sign_in(client, runtime.sessions, hotline.agents["farah"]))
    assert farah.post("/console/api/state", {"state": "available"}).status_code == 200
    offer = farah.get("/console/api/me")["offer"]
    assert offer["call"] == f"{call_id}.r1" != waiting_before
    assert "reoffer" in offer["flags"]
    accepted = farah.post(f"/console/api/offers/{call_id}.r1/accept")
    assert accepted.json == {"call_id": call_id, "bridged": True}
    redirect = [s for s in http.sent[sent:] if s[1] == f"{ACCOUNT}/Calls/{sid}.json"]
    assert redirect and f">{call_id}</Conference>" in redirect[-1][2]["Twiml"][0]

    # Ended from the console, her leg's end is not a drop: nothing is queued again.
    ended = farah.post(
        f"/console/api/calls/{call_id}/end", {"disposition": "support_given", "notes": ""}
    )
    assert ended.status_code == 200, ended.json
    second_leg = runtime.twilio_calls.get(call_id, "agent_leg")
    assert second_leg
    sent = len(http.sent)
    agent_leg_ended(runtime, call_id, second_leg, 5)
    assert len(http.sent) == sent
    with runtime.sessions() as db:
        row = db.get(Call, call_id)
        assert row is not None and row.status == "completed"
    assert REJECTED not in prism.log()


def test_a_supervisor_listens_then_whispers_then_barges_with_one_leg_and_rejoins_after_leaving(
    rest_runtime: tuple[Runtime, NotingHttpClient], hotline: Hotline, prism: PrismMock
) -> None:
    runtime, http = rest_runtime
    _ana, call_id, _sid = accepted_call(runtime, hotline)
    conference = runtime.twilio_calls.get(call_id, "conference")
    agent_leg = runtime.twilio_calls.get(call_id, "agent_leg")
    boss_id = hotline.agents["boss"]
    client = create_app(runtime=runtime).test_client()
    boss = Console(client, sign_in(client, runtime.sessions, boss_id))
    participants = f"{ACCOUNT}/Conferences/{conference}/Participants"
    created = f"{ACCOUNT}/Conferences/{call_id}/Participants.json"

    def supervise(mode: str) -> tuple[str, str, dict[str, list[str]], int]:
        answer = boss.post(f"/supervisor/api/calls/{call_id}/supervise", {"mode": mode})
        assert answer.status_code == 200, answer.json
        return http.sent[-1]

    method, path, form, status = supervise("listen")
    assert (method, path, status) == ("POST", created, 201)
    assert form["To"] == [f"client:{boss_id}"] and form["Muted"] == ["true"]
    _m, path, form, status = supervise("whisper")  # the same leg, now coaching Ana
    assert (path, status) == (f"{participants}/supervisor-{boss_id}.json", 200)
    assert form["Coaching"] == ["true"] and form["CallSidToCoach"] == [agent_leg]
    _m, path, form, _s = supervise("barge")
    assert path.endswith(f"/supervisor-{boss_id}.json")
    assert form["Muted"] == ["false"] and form["Coaching"] == ["false"]
    assert (
        sum(
            1
            for sent in http.sent
            if sent[1] == created and sent[2]["To"][0] != (f"client:{hotline.agents['ana']}")
        )
        == 1
    ), "she is dialled once"

    # Her softphone leaves; the next mode dials her in again.
    leg = runtime.twilio_calls.get(call_id, f"supervisor_{boss_id}")
    assert leg
    phone = TwilioDriver(FlaskTransport(create_app(runtime=runtime).test_client()), PUBLIC_BASE_URL)
    url = f"{PUBLIC_BASE_URL}/twilio/voice/status?call={call_id}&leg=supervisor"
    params = {"AccountSid": ACCOUNT_SID, "CallSid": leg, "CallStatus": "completed"}
    assert phone.post(url, {**params, "SequenceNumber": "3"}).status == 200
    live_call = runtime.redis.hgetall(key("call", call_id))
    assert supervisor_field(boss_id) not in live_call, "the board no longer shows her mode"
    _m, path, form, status = supervise("listen")
    assert (path, status) == (created, 201) and form["Muted"] == ["true"]
    with runtime.sessions() as db:
        audited = db.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.subject_id == call_id, AuditEntry.actor_id == boss_id)
            .order_by(AuditEntry.id)
        ).all()
    assert audited == ["call_listen", "call_whisper", "call_barge", "call_listen"]
    assert REJECTED not in prism.log()


def test_the_board_shows_the_supervisors_mode_and_leave_ends_her_leg_only(
    rest_runtime: tuple[Runtime, NotingHttpClient], hotline: Hotline, prism: PrismMock
) -> None:
    runtime, http = rest_runtime
    _ana, call_id, _sid = accepted_call(runtime, hotline)
    boss_id = hotline.agents["boss"]
    client = create_app(runtime=runtime).test_client()
    boss = Console(client, sign_in(client, runtime.sessions, boss_id))

    def my_mode() -> str | None:
        board = boss.get("/supervisor/api/board")
        [call] = [c for c in board["live_calls"] if c["call_id"] == call_id]
        return call["supervisors"].get(boss_id)  # type: ignore[no-any-return]

    assert my_mode() is None
    joined = boss.post(f"/supervisor/api/calls/{call_id}/supervise", {"mode": "whisper"})
    assert joined.status_code == 200, joined.json
    assert my_mode() == "whisper"
    page = client.get("/supervisor/board").get_data(as_text=True)
    assert 'data-mode="whisper" aria-pressed="true"' in page and 'data-mode="leave"' in page
    leg = runtime.twilio_calls.get(call_id, f"supervisor_{boss_id}")
    sent = len(http.sent)

    left = boss.post(f"/supervisor/api/calls/{call_id}/leave", {})
    assert left.status_code == 200, left.json
    assert [(m, p, f.get("Status")) for m, p, f, _ in http.sent[sent:]] == [
        ("POST", f"{ACCOUNT}/Calls/{leg}.json", ["completed"])
    ], "only her leg ends: caller and agent go on"
    assert my_mode() is None
    assert 'data-mode="leave"' not in client.get("/supervisor/board").get_data(as_text=True)
    assert boss.post(f"/supervisor/api/calls/{call_id}/leave", {}).status_code == 200
    assert len(http.sent) == sent + 1, "leaving twice does nothing more"
    assert REJECTED not in prism.log()


SERVICE = "+34900123456"


def test_a_cold_transfer_holds_her_puts_her_through_when_answered_and_back_when_busy(
    rest_runtime: tuple[Runtime, NotingHttpClient], hotline: Hotline, prism: PrismMock
) -> None:
    runtime, http = rest_runtime
    console, call_id, sid = accepted_call(runtime, hotline)
    conference = runtime.twilio_calls.get(call_id, "conference")
    agent_leg = runtime.twilio_calls.get(call_id, "agent_leg")
    participant = f"{ACCOUNT}/Conferences/{conference}/Participants/{sid}.json"
    told = runtime.redis.pubsub(ignore_subscribe_messages=True)
    told.subscribe(agent_channel(hotline.agents["ana"]))

    def transfer() -> tuple[str, list[tuple[str, str, dict[str, list[str]], int]]]:
        sent = len(http.sent)
        answer = console.post(f"/console/api/calls/{call_id}/transfer", {"number": SERVICE})
        assert answer.status_code == 200, answer.json
        leg = runtime.twilio_calls.get(call_id, "transfer")
        assert leg
        return leg, http.sent[sent:]

    def told_kind() -> str:
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            message = told.get_message(timeout=0.5)  # None too for a skipped subscribe reply
            if message is not None:
                return str(json.loads(message["data"])["kind"])
        raise AssertionError("the agent was not told")

    # Busy: she is held while it rings, then back with Ana; Ana is told; nobody hung up.
    leg, placed = transfer()
    assert (placed[0][1], placed[0][2].get("Hold")) == (participant, ["true"])
    _m, path, form, status = placed[1]
    assert (path, status, form["To"]) == (f"{ACCOUNT}/Calls.json", 201, [SERVICE])
    assert "/twilio/voice/transfer-answered" in form["Url"][0] and "Twiml" not in form
    assert "leg=transfer" in form["StatusCallback"][0]
    sent = len(http.sent)
    leg_status(runtime, call_id, "transfer", leg, "busy", 1)
    assert [(p, f.get("Hold")) for _m, p, f, _s in http.sent[sent:]] == [(participant, ["false"])]
    assert told_kind() == "transfer_failed"

    # Answered (Twilio asks for its document): she leaves hold, Ana's leg ends, Ana is told,
    # and the service joins her conference. Ana's leg ending re-offers nothing.
    leg, placed = transfer()
    phone = TwilioDriver(FlaskTransport(create_app(runtime=runtime).test_client()), PUBLIC_BASE_URL)
    sent = len(http.sent)
    joined = phone.post(placed[1][2]["Url"][0], {"AccountSid": ACCOUNT_SID, "CallSid": leg})
    assert joined.status == 200
    conference_joined = ElementTree.fromstring(joined.body).find("Dial/Conference")  # noqa: S314
    assert conference_joined is not None and conference_joined.text == call_id
    # Her line's policy records, and pauses while an outside service is on the call: the
    # recording skips the rest of her call with the service.
    recording = f"{ACCOUNT}/Conferences/{conference}/Recordings/Twilio.CURRENT.json"
    assert [(p, f.get("Hold"), f.get("Status")) for _m, p, f, _s in http.sent[sent:]] == [
        (recording, None, ["paused"]),
        (participant, ["false"], None),
        (f"{ACCOUNT}/Calls/{agent_leg}.json", None, ["completed"]),
    ]
    assert http.sent[sent][2]["PauseBehavior"] == ["skip"] and http.sent[sent][3] < 300
    assert told_kind() == "transferred_out"
    stale = phone.post(placed[1][2]["Url"][0], {"AccountSid": ACCOUNT_SID, "CallSid": leg})
    assert "<Hangup" in stale.body, "asked again: nobody waits for it"
    sent = len(http.sent)
    agent_leg_ended(runtime, call_id, str(agent_leg), 9)
    assert len(http.sent) == sent, "a released agent is not a dropped one"

    # The service hangs up: her call ends, as with any person.
    leg_status(runtime, call_id, "transfer", leg, "completed", 10)  # Prism: one sid for all legs
    _m, path, form, _s = http.sent[-1]
    assert (path, form["Status"]) == (f"{ACCOUNT}/Calls/{sid}.json", ["completed"])
    with runtime.sessions() as db:
        kinds = [e.kind for e in db.scalars(select(CallEvent).where(CallEvent.call_id == call_id))]
        assert SERVICE not in str(
            [e.data for e in db.scalars(select(CallEvent).where(CallEvent.call_id == call_id))]
        )
    assert kinds.count("transfer_out_requested") == 2
    assert "transfer_failed" in kinds and "transferred_out" in kinds
    assert REJECTED not in prism.log()


def test_a_line_with_interpreter_on_accept_dials_the_interpreter_into_her_conference(
    rest_runtime: tuple[Runtime, NotingHttpClient], hotline: Hotline, prism: PrismMock
) -> None:
    """She pressed 0 ("another language") at the language menu; the line conferences its
    any-language interpreting service as Ana accepts, with the service's PIN."""
    runtime, http = rest_runtime
    with runtime.sessions() as db, db.begin():
        db.execute(
            update(Line).where(Line.id == hotline.line_id).values(interpreter_on_accept=True)
        )
        db.add(Interpreter(line_id=hotline.line_id, language="mul", target=SERVICE, dtmf="77#"))
    client = create_app(runtime=runtime).test_client()
    console = Console(client, sign_in(client, runtime.sessions, hotline.agents["ana"]))
    assert console.post("/console/api/state", {"state": "available"}).status_code == 200
    phone = TwilioDriver(FlaskTransport(create_app(runtime=runtime).test_client()), PUBLIC_BASE_URL)
    call = phone.call(hotline.line_number, "+34699000999").press("0")
    assert call.where == "queued"
    call_id = call_id_for(Channel.TWILIO, call.sid)

    accepted = console.post(f"/console/api/offers/{call_id}/accept")

    assert accepted.json == {
        "call_id": call_id,
        "bridged": True,
        "interpreter": {"language": "mul", "calling": True},
    }
    dialled = [
        form
        for method, path, form, status in http.sent
        if method == "POST" and path.endswith("/Calls.json") and status < 300
    ]
    assert [(form["To"], form["SendDigits"]) for form in dialled] == [([SERVICE], ["77#"])]
    with runtime.sessions() as db:
        added = db.scalars(
            select(CallEvent.data).where(
                CallEvent.call_id == call_id, CallEvent.kind == "interpreter_added"
            )
        ).all()
    assert added == [{"agent_id": hotline.agents["ana"], "language": "mul"}]

    # She answers (Twilio asks for her document): she joins the conference, and everyone in
    # it hears the notice, said in the call's locale.
    interpreter_leg = runtime.twilio_calls.get(call_id, "interpreter")
    assert interpreter_leg and "/twilio/voice/interpreter-answered" in dialled[0]["Url"][0]
    sent = len(http.sent)
    joined = phone.post(
        dialled[0]["Url"][0], {"AccountSid": ACCOUNT_SID, "CallSid": interpreter_leg}
    )
    assert joined.status == 200
    conference_joined = ElementTree.fromstring(joined.body).find("Dial/Conference")  # noqa: S314
    assert conference_joined is not None and conference_joined.text == call_id
    conference = runtime.twilio_calls.get(call_id, "conference")
    announced = [
        form
        for method, path, form, status in http.sent[sent:]
        if path == f"{ACCOUNT}/Conferences/{conference}.json" and status < 300
    ]
    assert len(announced) == 1 and "/twilio/voice/announcement" in announced[0]["AnnounceUrl"][0]
    said = phone.post(
        announced[0]["AnnounceUrl"][0], {"AccountSid": ACCOUNT_SID, "CallSid": call.sid}
    )
    say = ElementTree.fromstring(said.body).find("Say")  # noqa: S314
    assert say is not None and say.text == "Se une a la llamada un servicio de interpretación."
    # A stale answer (not her interpreter's leg) is hung up, and nothing is announced.
    stale = phone.post(
        dialled[0]["Url"][0], {"AccountSid": ACCOUNT_SID, "CallSid": "CA" + "0" * 32}
    )
    assert ElementTree.fromstring(stale.body).find("Hangup") is not None  # noqa: S314


def test_a_warm_transfer_consults_the_service_then_takes_her_back_or_hands_her_over(
    rest_runtime: tuple[Runtime, NotingHttpClient], hotline: Hotline, prism: PrismMock
) -> None:
    runtime, http = rest_runtime
    console, call_id, sid = accepted_call(runtime, hotline)
    conference = runtime.twilio_calls.get(call_id, "conference")
    agent_leg = runtime.twilio_calls.get(call_id, "agent_leg")
    participant = f"{ACCOUNT}/Conferences/{conference}/Participants/{sid}.json"
    told = runtime.redis.pubsub(ignore_subscribe_messages=True)
    told.subscribe(agent_channel(hotline.agents["ana"]))
    phone = TwilioDriver(FlaskTransport(create_app(runtime=runtime).test_client()), PUBLIC_BASE_URL)
    url = f"/console/api/calls/{call_id}/transfer"
    recording = f"{ACCOUNT}/Conferences/{conference}/Recordings/Twilio.CURRENT.json"

    def consult() -> str:
        """Warm: she is held while it rings; when it answers it joins her conference and
        Ana talks with it, while she stays on hold. Returns the service's leg."""
        sent = len(http.sent)
        answer = console.post(url, {"number": SERVICE, "warm": True})
        assert answer.json == {"transfer": "ringing", "warm": True}
        placed = http.sent[sent:]
        assert (placed[0][1], placed[0][2].get("Hold")) == (participant, ["true"])
        leg = runtime.twilio_calls.get(call_id, "transfer")
        assert leg
        early = console.post(f"{url}/complete")
        assert (early.status_code, early.json["error_id"]) == (409, "console.transfer_not_answered")
        sent = len(http.sent)
        joined = phone.post(placed[1][2]["Url"][0], {"AccountSid": ACCOUNT_SID, "CallSid": leg})
        conference_joined = ElementTree.fromstring(joined.body).find("Dial/Conference")  # noqa: S314
        assert conference_joined is not None and conference_joined.text == call_id
        # She stays on hold, and Ana on the call; her recording pauses while the service is on.
        assert [(p, f["Status"]) for _m, p, f, _s in http.sent[sent:]] == [(recording, ["paused"])]
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            message = told.get_message(timeout=0.5)
            if message is not None:
                assert json.loads(message["data"])["kind"] == "transfer_consulting"
                return leg
        raise AssertionError("Ana was not told")

    # Taken back: the service's leg ends and she leaves hold; its status callback then
    # changes nothing.
    leg = consult()
    sent = len(http.sent)
    assert console.post(f"{url}/cancel").json == {"transfer": "cancelled"}
    assert [(p, f.get("Status"), f.get("Hold")) for _m, p, f, _s in http.sent[sent:]] == [
        (f"{ACCOUNT}/Calls/{leg}.json", ["completed"], None),
        (recording, ["in-progress"], None),
        (participant, None, ["false"]),
    ]
    sent = len(http.sent)
    leg_status(runtime, call_id, "transfer", leg, "completed", 5)
    assert http.sent[sent:] == []

    # Handed over: she leaves hold and Ana's leg ends (the recording stays paused).
    leg = consult()
    sent = len(http.sent)
    assert console.post(f"{url}/complete").json == {"transfer": "completed"}
    assert [(p, f.get("Hold"), f.get("Status")) for _m, p, f, _s in http.sent[sent:]] == [
        (participant, ["false"], None),
        (f"{ACCOUNT}/Calls/{agent_leg}.json", None, ["completed"]),
    ]
    with runtime.sessions() as db:
        kinds = [e.kind for e in db.scalars(select(CallEvent).where(CallEvent.call_id == call_id))]
    assert kinds.count("transfer_consulting") == 2
    assert "transfer_cancelled" in kinds and "transfer_completed" in kinds
    assert REJECTED not in prism.log()
