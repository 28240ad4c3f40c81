"""The REST side with the real ``twilio`` client against Prism (Twilio's own OpenAPI spec):
outbound check-in calls, routing's overflow redirect, the agent bridge with supervisor
coaching, recordings deleted at Twilio."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs

import pytest
import redis

from app import create_app
from calls.control import INTERPRETER_FIELD
from calls.interpreters import NoInterpreter
from routing import AgentState
from routing.channels import agent_channel
from routing.state import routing_key
from runtime import Runtime
from store.live_state import key
from store.models import Interpreter
from store.records import Call
from store.vocabulary import Channel
from telephony.twilio.client import SupervisorMode
from telephony.twilio.dialer import TwilioDialer
from telephony.twilio.links import CALLBACK_OVERRIDES
from tests.harness.hotline import Hotline
from tests.harness.prism import REPO, PrismMock
from tests.harness.twilio_driver import ACCOUNT_SID, FlaskTransport, TwilioDriver
from tests.integration.telephony.twilio.conftest import (
    ACCOUNT,
    NEUTRAL_CALLER_ID,
    PUBLIC_BASE_URL,
    REJECTED,
    NotingHttpClient,
    queued_call,
)


def test_a_checkin_call_shows_the_neutral_number_and_detects_machines(
    rest_runtime: tuple[Runtime, NotingHttpClient], hotline: Hotline, prism: PrismMock
) -> None:
    runtime, http = rest_runtime
    voice = runtime.twilio_voice
    assert voice is not None
    sid = voice.place_checkin_call("c0ffee" * 5 + "00", hotline.beneficiary_number)
    method, path, form, status = http.sent[-1]
    assert (method, path, status) == ("POST", f"{ACCOUNT}/Calls.json", 201)
    assert form["From"] == [NEUTRAL_CALLER_ID] and form["To"] == [hotline.beneficiary_number]
    assert form["MachineDetection"] == ["Enable"]
    assert form["Url"] == [
        f"{PUBLIC_BASE_URL}/twilio/voice/outbound-answered?call={'c0ffee' * 5}00"
    ]
    assert form["StatusCallback"] == [
        f"{PUBLIC_BASE_URL}/twilio/voice/status?call={'c0ffee' * 5}00{CALLBACK_OVERRIDES}"
    ]
    assert "StatusCallbackEvent" not in form  # the default: the final status only
    assert sid.startswith("CA")
    assert runtime.twilio_calls.sid_for("c0ffee" * 5 + "00") == sid
    assert REJECTED not in prism.log()


def test_routing_overflow_redirects_the_waiting_caller_to_the_number(
    rest_runtime: tuple[Runtime, NotingHttpClient], hotline: Hotline, prism: PrismMock
) -> None:
    runtime, http = rest_runtime
    call_id, sid = queued_call(runtime, hotline)
    runtime.control.overflow(call_id, "+34900000002")
    method, path, form, status = http.sent[-1]
    assert (method, path, status) == ("POST", f"{ACCOUNT}/Calls/{sid}.json", 200)
    assert "<Dial" in form["Twiml"][0] and "+34900000002</Number>" in form["Twiml"][0]
    assert 'record="record-from-answer-dual"' in form["Twiml"][0]
    assert REJECTED not in prism.log()


def test_the_bridge_puts_caller_and_agent_in_a_conference_and_a_supervisor_coaches(
    rest_runtime: tuple[Runtime, NotingHttpClient], hotline: Hotline, prism: PrismMock
) -> None:
    runtime, http = rest_runtime
    call_id, sid = queued_call(runtime, hotline)
    bridge = runtime.twilio_bridge
    assert bridge is not None
    agent_leg = bridge.connect(call_id, hotline.agents["ana"])

    redirect, agent = http.sent[-2:]
    assert redirect[:2] == ("POST", f"{ACCOUNT}/Calls/{sid}.json")
    assert f">{call_id}</Conference>" in redirect[2]["Twiml"][0]
    assert agent[:2] == ("POST", f"{ACCOUNT}/Conferences/{call_id}/Participants.json")
    assert agent[2]["To"] == [f"client:{hotline.agents['ana']}"]
    assert agent[2]["EndConferenceOnExit"] == ["false"] and agent[2]["Label"] == ["agent"]
    assert agent[3] == 201

    bridge.join_supervisor(call_id, hotline.agents["boss"], SupervisorMode.WHISPER)
    coach = http.sent[-1]
    assert coach[2]["Coaching"] == ["true"] and coach[2]["CallSidToCoach"] == [agent_leg]
    assert coach[2]["To"] == [f"client:{hotline.agents['boss']}"] and coach[3] == 201

    bridge.set_supervisor_mode(call_id, hotline.agents["boss"], SupervisorMode.LISTEN)
    listen = http.sent[-1]
    assert listen[1].endswith(f"/Participants/supervisor-{hotline.agents['boss']}.json")
    assert listen[2]["Muted"] == ["true"] and listen[2]["Coaching"] == ["false"]
    bridge.set_supervisor_mode(call_id, hotline.agents["boss"], SupervisorMode.BARGE)
    barge = http.sent[-1]
    assert barge[2]["Muted"] == ["false"] and barge[2]["Coaching"] == ["false"]
    assert all(status < 300 for *_rest, status in http.sent)
    assert REJECTED not in prism.log()


def test_an_agent_leg_that_rings_out_sends_the_caller_to_the_overflow_number(
    rest_runtime: tuple[Runtime, NotingHttpClient], hotline: Hotline
) -> None:
    runtime, http = rest_runtime
    call_id, sid = queued_call(runtime, hotline)
    bridge = runtime.twilio_bridge
    assert bridge is not None
    agent_leg = bridge.connect(call_id, hotline.agents["ana"])
    phone = TwilioDriver(FlaskTransport(create_app(runtime=runtime).test_client()), PUBLIC_BASE_URL)
    url = f"{PUBLIC_BASE_URL}/twilio/voice/status?call={call_id}&leg=agent"
    params = {
        "AccountSid": ACCOUNT_SID,
        "CallSid": agent_leg,
        "CallStatus": "no-answer",
        "SequenceNumber": "2",
    }
    assert phone.post(url, params).status == 200
    method, path, form, _status = http.sent[-1]
    assert (method, path) == ("POST", f"{ACCOUNT}/Calls/{sid}.json")
    assert "+34900000002</Number>" in form["Twiml"][0]


def test_a_recording_is_deleted_at_twilio(
    rest_runtime: tuple[Runtime, NotingHttpClient], prism: PrismMock
) -> None:
    runtime, http = rest_runtime
    voice = runtime.twilio_voice
    assert voice is not None
    voice.recordings.client.http_client = http
    voice.recordings.delete("RE" + "f0" * 16)
    assert http.sent[-1][:2] == ("DELETE", f"{ACCOUNT}/Recordings/RE{'f0' * 16}.json")
    assert http.sent[-1][3] == 204
    assert REJECTED not in prism.log()


def _form(body: str) -> dict[str, list[str]]:
    return parse_qs(body)


def test_outbound_calls_from_two_processes_keep_to_the_accounts_calls_per_second(
    prism: PrismMock, redis_url: str, redis_client: redis.Redis, tmp_path: Path
) -> None:
    cps, per_process = 4.0, 6
    outputs = [tmp_path / f"worker{n}.txt" for n in range(2)]
    workers = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.integration.telephony.twilio.cps_caller",
                prism.url,
                redis_url,
                str(per_process),
                str(cps),
                str(out),
            ],
            cwd=REPO,
        )
        for out in outputs
    ]
    for worker in workers:
        assert worker.wait(120) == 0
    placed = sorted(
        (float(stamp), sid)
        for out in outputs
        for stamp, sid in (line.split() for line in out.read_text().splitlines())
    )
    assert len(placed) == 2 * per_process, "every call was placed: queued, never dropped"
    assert all(sid.startswith("CA") for _stamp, sid in placed)
    times = [stamp for stamp, _sid in placed]
    interval = 1 / cps
    assert times[-1] - times[0] >= (len(times) - 1) * interval - 0.1
    for start in times:  # no one-second window holds more than the budget (+1 for jitter)
        assert sum(1 for t in times if start <= t < start + 1.0) <= cps + 1


def test_check_ins_dial_through_twilio_when_it_is_configured_and_can_cancel_the_ringing(
    rest_runtime: tuple[Runtime, NotingHttpClient], hotline: Hotline, prism: PrismMock
) -> None:
    runtime, http = rest_runtime
    dialer = runtime.outbound_dialer
    assert isinstance(dialer, TwilioDialer) and dialer.channel is Channel.TWILIO
    call_id = runtime.switchboard.open_outbound(
        line_id=hotline.line_id,
        beneficiary_id=hotline.beneficiary_id,
        to_number=hotline.beneficiary_number,
        channel=Channel.TWILIO,
        at=1_800_000_000.0,
    )
    sid = dialer.place_call(call_id, hotline.beneficiary_number, None)
    assert http.sent[-1][3] == 201 and sid.startswith("CA")
    dialer.cancel(call_id)
    method, path, form, _status = http.sent[-1]
    assert (method, path) == ("POST", f"{ACCOUNT}/Calls/{sid}.json")
    assert form["Status"] == ["canceled"]
    assert REJECTED not in prism.log()


def test_hold_puts_the_caller_on_hold_in_her_conference_and_takes_her_back(
    rest_runtime: tuple[Runtime, NotingHttpClient], hotline: Hotline, prism: PrismMock
) -> None:
    runtime, http = rest_runtime
    call_id, sid = queued_call(runtime, hotline)
    bridge = runtime.twilio_bridge
    assert bridge is not None
    bridge.connect(call_id, hotline.agents["ana"])
    conference = runtime.twilio_calls.get(call_id, "conference")
    assert conference

    bridge.hold(call_id, True)
    method, path, form, status = http.sent[-1]
    assert (method, path, status) == (
        "POST",
        f"{ACCOUNT}/Conferences/{conference}/Participants/{sid}.json",
        200,
    )
    assert form["Hold"] == ["true"] and form["HoldMethod"] == ["GET"]
    assert form["HoldUrl"][0].startswith(PUBLIC_BASE_URL)

    bridge.hold(call_id, False)
    _method, _path, form, status = http.sent[-1]
    assert form["Hold"] == ["false"] and "HoldUrl" not in form and status == 200
    assert REJECTED not in prism.log()


def test_an_interpreter_is_dialled_into_her_conference_with_its_pin_and_can_leave(
    rest_runtime: tuple[Runtime, NotingHttpClient],
    hotline: Hotline,
    prism: PrismMock,
    redis_client: redis.Redis,
) -> None:
    runtime, http = rest_runtime
    with runtime.sessions() as db, db.begin():
        db.add(
            Interpreter(
                line_id=hotline.line_id, language="ar", target="+34910555001", dtmf="ww4321#"
            )
        )
    call_id, _sid = queued_call(runtime, hotline)
    bridge = runtime.twilio_bridge
    assert bridge is not None
    bridge.connect(call_id, hotline.agents["ana"])

    bridge.add_interpreter(call_id, "ar-MA")
    method, path, form, status = http.sent[-1]
    assert (method, path, status) == ("POST", f"{ACCOUNT}/Calls.json", 201)
    assert form["To"] == ["+34910555001"] and form["SendDigits"] == ["ww4321#"]
    # Her document is asked for when she answers: it joins the conference and announces her.
    assert "/twilio/voice/interpreter-answered" in form["Url"][0] and "Twiml" not in form
    assert "leg=interpreter#rc=" in form["StatusCallback"][0]
    leg = runtime.twilio_calls.get(call_id, "interpreter")
    assert leg
    redis_client.hset(key("call", call_id), INTERPRETER_FIELD, "ar-MA")  # as the console does

    # Its leg never answers: caller and agent stay as they are, the agent is told.
    listener = redis_client.pubsub()
    listener.subscribe(agent_channel(hotline.agents["ana"]))
    listener.get_message(timeout=1)
    phone = TwilioDriver(FlaskTransport(create_app(runtime=runtime).test_client()), PUBLIC_BASE_URL)
    url = f"{PUBLIC_BASE_URL}/twilio/voice/status?call={call_id}&leg=interpreter"
    params = {
        "AccountSid": ACCOUNT_SID,
        "CallSid": leg,
        "CallStatus": "busy",
        "SequenceNumber": "1",
    }
    sent_before = len(http.sent)
    assert phone.post(url, params).status == 200
    assert len(http.sent) == sent_before, "nothing is done to her call or the agent's"
    told = listener.get_message(timeout=2)
    assert told is not None and "interpreter_failed" in str(told["data"])
    assert not redis_client.hexists(key("call", call_id), INTERPRETER_FIELD), "off the wallboard"

    bridge.remove_interpreter(call_id)
    method, path, form, status = http.sent[-1]
    assert (method, path) == ("POST", f"{ACCOUNT}/Calls/{leg}.json")
    assert form["Status"] == ["completed"]
    with pytest.raises(NoInterpreter):
        bridge.add_interpreter(call_id, "xh")


def test_a_call_twilio_says_is_over_is_closed_and_leaves_routing(
    rest_runtime: tuple[Runtime, NotingHttpClient], hotline: Hotline, prism: PrismMock
) -> None:
    """Its status callback was lost; Twilio's call resource (Prism answers ``completed``)
    says it ended."""
    runtime, http = rest_runtime
    for agent in hotline.agents.values():  # in, but taking no call: she waits
        runtime.router.set_agent_state(agent, AgentState.BREAK, time.time())
    call_id, sid = queued_call(runtime, hotline)
    assert runtime.redis.hget(routing_key("call", call_id), "status") == "waiting"
    reconciler = runtime.reconciler
    reconciler.settle = timedelta(0)
    assert reconciler.run() >= 1
    assert ("GET", f"{ACCOUNT}/Calls/{sid}.json", 200) in [
        (method, path, status) for method, path, _form, status in http.sent
    ]
    with runtime.sessions() as db:
        row = db.get(Call, call_id)
        assert row is not None and row.ended_at is not None and row.status == "abandoned"
    assert runtime.redis.hget(routing_key("call", call_id), "status") == "abandoned"
    assert REJECTED not in prism.log()
