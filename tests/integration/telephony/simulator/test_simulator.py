"""The simulator: a whole call as a caller lives it, and a check-in call she answers."""

from __future__ import annotations

import re

from flask.testing import FlaskClient
from sqlalchemy import func, select

from app import create_app
from routing import views
from runtime import Runtime
from store.records import Call, Escalation
from store.vocabulary import Channel
from telephony.simulator.phone import PhoneStatus
from tests.harness.hotline import Hotline, staff_line
from tests.harness.signin import sign_in

LOW_RISK = ("1", "1", "2", "2", "2", "2")


def test_a_caller_hears_prompts_in_her_language_and_waits_on_hold(
    runtime: Runtime, hotline: Hotline
) -> None:
    phones = runtime.simulator
    staff_line(runtime.router, hotline, "ana")
    call = phones.dial(hotline.line_number, "+44 7700 900123")
    assert call.status is PhoneStatus.WAITING_FOR_KEYS
    assert call.heard(), "the caller hears a greeting"
    for key in ("2", "1", "2", "2", "2", "2"):  # English, then a low-risk screen
        call = phones.press(call.call_id, key)
    assert call.status is PhoneStatus.ON_HOLD
    assert call.locale == "en"
    waiting = views.waiting_calls(runtime.redis, 10**10)
    assert any(group.language == "en" for group in waiting)


def test_hanging_up_on_hold_abandons_the_call(runtime: Runtime, hotline: Hotline) -> None:
    phones = runtime.simulator
    staff_line(runtime.router, hotline, "ana")
    call = phones.dial(hotline.line_number, None)
    for key in LOW_RISK:
        call = phones.press(call.call_id, key)
    assert phones.hang_up(call.call_id).status is PhoneStatus.ENDED
    assert not views.waiting_calls(runtime.redis, 10**10)


def test_a_check_in_answered_with_the_duress_code_sounds_normal_and_alerts_the_team(
    runtime: Runtime, hotline: Hotline
) -> None:
    board, phones = runtime.switchboard, runtime.simulator

    def check_in(code: str) -> tuple[list[str], str]:
        call_id = board.open_outbound(
            line_id=hotline.line_id,
            beneficiary_id=hotline.beneficiary_id,
            to_number=hotline.beneficiary_number,
            channel=Channel.SIMULATOR,
            at=1_800_000_000.0,
        )
        phones.place_call(call_id, hotline.beneficiary_number)
        assert call_id in phones.ringing()
        call = phones.answer(call_id)
        assert call.secret_input
        call = phones.press(call_id, code + "#")
        return call.heard(), call_id

    normal, normal_id = check_in("2468")
    duress, duress_id = check_in("24687")
    assert normal == duress  # she hears exactly the same words
    with runtime.sessions() as db:
        alerts = db.scalars(select(Escalation.call_id)).all()
    assert duress_id in alerts and normal_id not in alerts


def test_nobody_signed_out_can_place_calls_or_press_a_panic_button(
    runtime: Runtime, hotline: Hotline
) -> None:
    client: FlaskClient = create_app(runtime=runtime).test_client()
    client.get("/login")
    with client.session_transaction() as session:
        headers = {"X-CSRF-Token": session["csrf"]}
    with runtime.sessions() as db:
        calls_before = db.scalar(select(func.count()).select_from(Call))
    placed = client.post(
        "/simulator/api/calls", json={"line": hotline.line_number}, headers=headers
    )
    assert placed.status_code == 401
    assert placed.json == {"error_id": "auth.sign_in_required", "message": "sign in first"}
    panic = client.post(
        "/simulator/api/devices/ANY/panic", json={"latitude": 1, "longitude": 1}, headers=headers
    )
    assert panic.status_code == 401
    assert client.get("/simulator").headers["Location"].startswith("/login?next=/simulator")
    with runtime.sessions() as db:
        assert db.scalar(select(func.count()).select_from(Call)) == calls_before


def test_the_simulator_api_needs_the_csrf_token_and_validates_keys(
    runtime: Runtime, hotline: Hotline
) -> None:
    client: FlaskClient = create_app(runtime=runtime).test_client()
    sign_in(client, runtime.sessions, hotline.agents["ana"])
    assert (
        client.post("/simulator/api/calls", json={"line": hotline.line_number}).status_code == 400
    )
    with client.session_transaction() as session:
        token = session["csrf"]
    headers = {"X-CSRF-Token": token}
    started = client.post(
        "/simulator/api/calls", json={"line": hotline.line_number}, headers=headers
    )
    assert started.status_code == 200
    call_id = (started.json or {})["call_id"]
    assert re.fullmatch(r"[0-9a-f]{32}", call_id)
    bad = client.post(
        f"/simulator/api/calls/{call_id}/keys", json={"digits": "1; drop"}, headers=headers
    )
    assert bad.status_code == 400
    ok = client.post(f"/simulator/api/calls/{call_id}/keys", json={"digits": "1"}, headers=headers)
    assert ok.status_code == 200
    assert client.get("/simulator/api/calls/nope").status_code == 404


def test_with_nobody_signed_in_a_caller_is_put_through_to_the_backup_number(
    runtime: Runtime, hotline: Hotline
) -> None:
    phones = runtime.simulator
    call = phones.dial(hotline.line_number, None)
    for key in LOW_RISK:
        call = phones.press(call.call_id, key)
    assert call.status is PhoneStatus.TRANSFERRED
    assert "+34900000002" in call.lines[-1].text


def test_a_silent_caller_who_presses_nothing_times_out_of_each_menu_to_a_person(
    runtime: Runtime, hotline: Hotline
) -> None:
    """As on Twilio and SIP, an unanswered menu is silence once its timeout passes: the
    caller never stays in the language menu for as long as she presses nothing."""
    phones = runtime.simulator
    staff_line(runtime.router, hotline, "ana")
    call = phones.dial(hotline.line_number, None, now=1_800_000_000.0)
    assert call.status is PhoneStatus.WAITING_FOR_KEYS and call.timeout_s
    at = 1_800_000_000.0
    assert phones.current(call.call_id, now=at + call.timeout_s - 1).steps == call.steps
    for _ in range(10):
        if call.status is not PhoneStatus.WAITING_FOR_KEYS:
            break
        assert call.timeout_s and call.waiting_since is not None
        at = call.waiting_since + call.timeout_s
        call = phones.current(call.call_id, now=at)
    assert call.status is PhoneStatus.ON_HOLD
    with runtime.sessions() as db:
        row = db.get(Call, call.call_id)
        assert row is not None and "silent" in (row.flags or []) and row.status == "queued"
