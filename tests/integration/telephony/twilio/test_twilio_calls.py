"""Whole calls through the Twilio webhooks, driven as Twilio drives them, in three languages."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from calls.switchboard import call_id_for
from locales.prompts import prompt_text
from locales.voices import voice_for
from routing import views
from runtime import Runtime
from store.records import Call, Escalation
from store.records import CallEvent as StoredEvent
from store.vocabulary import Channel
from telephony.twilio import hold
from tests.harness.hotline import Hotline
from tests.harness.twilio_driver import DrivenCall, TwilioDriver

LANGUAGE_KEYS = {"es": "1", "en": "2", "ar": "4"}
CALLER = "+34 699 000 111"
LANGUAGES = pytest.mark.parametrize("locale", sorted(LANGUAGE_KEYS))


def dial_in(phone: TwilioDriver, hotline: Hotline) -> DrivenCall:
    call = phone.call(hotline.line_number, "+34699000111")
    assert call.where == "gather"
    return call


def choose(call: DrivenCall, locale: str) -> DrivenCall:
    call.press(LANGUAGE_KEYS[locale])
    assert call.where == "gather"
    return call


def call_id(call: DrivenCall) -> str:
    return call_id_for(Channel.TWILIO, call.sid)


def event_kinds(runtime: Runtime, call: DrivenCall) -> list[str]:
    with runtime.sessions() as db:
        rows = db.scalars(
            select(StoredEvent)
            .where(StoredEvent.call_id == call_id(call))
            .order_by(StoredEvent.seq)
        )
        return [row.kind for row in rows]


@LANGUAGES
def test_a_low_risk_caller_is_queued_and_hears_her_place_in_her_language(
    phone: TwilioDriver, hotline: Hotline, runtime: Runtime, locale: str
) -> None:
    call = choose(dial_in(phone, hotline), locale)
    for key in ("1", "2", "2", "2", "2"):
        call.press(key)
    assert call.where == "queued"
    voice = voice_for(locale)
    assert prompt_text("triage.safe_to_talk", locale) in call.said(voice.twilio_language)
    assert prompt_text("triage.connecting", locale) in call.said(voice.twilio_language)
    call.hold(times=2)
    assert call.said(voice.twilio_language).count(prompt_text("queue.next", locale)) == 2
    assert any(h.kind == "play" and h.url.endswith("/twilio/media/hold.wav") for h in call.heard)
    assert call.where == "queued"
    with runtime.sessions() as db:
        row = db.get(Call, call_id(call))
        assert row is not None and row.status == "queued" and row.locale == locale


@LANGUAGES
def test_a_severe_caller_is_escalated_to_the_urgent_team_and_held_with_the_urgent_message(
    phone: TwilioDriver, hotline: Hotline, runtime: Runtime, locale: str
) -> None:
    call = choose(dial_in(phone, hotline), locale)
    call.press("1").press("1")  # safe to talk: yes; danger now: yes
    assert call.where == "queued"
    urgent = prompt_text("triage.connecting_urgent", locale)
    assert urgent in call.said(voice_for(locale).twilio_language)
    call.hold()
    assert call.said()[-1] == urgent and call.where == "queued"
    with runtime.sessions() as db:
        escalation = db.scalars(select(Escalation).where(Escalation.call_id == call_id(call))).one()
        assert escalation.team_id == hotline.team_id
        row = db.get(Call, call_id(call))
        assert row is not None and row.status == "queued" and row.risk_level == "extremo"
    waiting = views.waiting_calls(runtime.redis, 0.0)
    assert any(group.waiting for group in waiting)


@LANGUAGES
def test_a_silent_caller_is_routed_to_a_human_in_silence_and_never_hung_up_on(
    phone: TwilioDriver, hotline: Hotline, runtime: Runtime, locale: str
) -> None:
    call = choose(dial_in(phone, hotline), locale)
    call.silent()
    assert call.where == "queued"
    spoken = len(call.said())
    call.hold(times=5, queue_time=40)
    assert call.where == "queued"
    assert len(call.said()) == spoken, "nothing is said to a silent caller on hold"
    assert call.heard[-1].kind == "pause"
    with runtime.sessions() as db:
        row = db.get(Call, call_id(call))
        assert row is not None and "silent" in row.flags and row.status == "queued"
    kinds = event_kinds(runtime, call)
    assert "silence" in kinds and "hangup" not in kinds


def test_a_caller_silent_at_the_first_menu_reaches_a_human(
    phone: TwilioDriver, hotline: Hotline
) -> None:
    call = dial_in(phone, hotline).silent()
    assert call.where == "queued"


@LANGUAGES
def test_pressing_zero_reaches_a_human(
    phone: TwilioDriver, hotline: Hotline, runtime: Runtime, locale: str
) -> None:
    call = choose(dial_in(phone, hotline), locale).press("0")
    assert call.where == "queued"
    with runtime.sessions() as db:
        row = db.get(Call, call_id(call))
        assert row is not None and "asked_for_human" in row.flags


def test_zero_at_the_language_menu_asks_for_an_interpreter(
    phone: TwilioDriver, hotline: Hotline, runtime: Runtime
) -> None:
    call = dial_in(phone, hotline).press("0")
    assert call.where == "queued"
    with runtime.sessions() as db:
        row = db.get(Call, call_id(call))
        assert row is not None and "interpreter" in row.flags


@LANGUAGES
def test_a_hang_up_in_the_ivr_ends_the_call_with_its_events_logged(
    phone: TwilioDriver, hotline: Hotline, runtime: Runtime, locale: str
) -> None:
    call = choose(dial_in(phone, hotline), locale).press("1")
    call.hangup()
    kinds = event_kinds(runtime, call)
    assert kinds[:3] == ["started", "digits", "digits"]
    assert kinds[-3:] == ["carrier_status", "hangup", "outcome"]
    with runtime.sessions() as db:
        row = db.get(Call, call_id(call))
        assert row is not None and row.ended_at is not None
        # She hung up before reaching a human: an abandoned call, with every event kept.
        assert row.status == "abandoned"
        outcome = db.scalars(
            select(StoredEvent).where(StoredEvent.call_id == row.id, StoredEvent.kind == "outcome")
        ).one()
        assert outcome.data["outcome"] == "caller_hung_up"


def test_a_hang_up_on_hold_is_an_abandoned_call_for_routing_and_the_log(
    phone: TwilioDriver, hotline: Hotline, runtime: Runtime
) -> None:
    call = choose(dial_in(phone, hotline), "es").press("0")
    assert call.where == "queued"
    call.hangup()
    with runtime.sessions() as db:
        row = db.get(Call, call_id(call))
        assert row is not None and row.status == "abandoned" and row.ended_at is not None
    kinds = event_kinds(runtime, call)
    assert kinds.count("hangup") == 1, "queue result and status callback hang up once"
    assert hold.routing_status(runtime.redis, call_id(call)) == "abandoned"


def test_a_call_from_a_panic_button_device_is_held_in_silence(
    phone: TwilioDriver, hotline: Hotline
) -> None:
    call = phone.call(hotline.line_number, hotline.device_number)
    assert call.where == "queued" and call.said() == []
    call.hold()
    assert [h.kind for h in call.heard] == ["pause"]
