"""The inbound triage flow, step by step, as a caller would live it."""

from __future__ import annotations

import json
from dataclasses import replace

from ivr_flows import load_builtin, step
from ivr_flows.actions import (
    Action,
    Dial,
    Enqueue,
    Escalate,
    Gather,
    Hangup,
    Record,
    Say,
    SetLocale,
)
from ivr_flows.events import CallEvent, EventKind, RecordingDecision
from ivr_flows.state import CallFlag, Outcome
from ivr_flows.triage import TOP_PRIORITY
from store.vocabulary import RiskLevel
from tests.unit.ivr_flows.ivr_calls import Call, context, escalations, spoken, terminal, to_screen


def test_greets_in_the_known_beneficiarys_preferred_language() -> None:
    call = Call.of("inbound_triage")
    actions = call.start(context(preferred="fr", hint="ar", line_locale="es"))
    assert actions[0] == SetLocale("fr")
    assert ("triage.welcome", "fr") in spoken(actions)


def test_greets_in_the_language_of_the_callers_number_when_she_is_not_known() -> None:
    call = Call.of("inbound_triage")
    actions = call.start(context(line_locale="es"), from_number="+40721000000")
    assert actions[0] == SetLocale("ro")


def test_greets_in_the_line_language_when_nothing_else_is_known() -> None:
    call = Call.of("inbound_triage")
    actions = call.start(context(line_locale="ca"))
    assert actions[0] == SetLocale("ca")


def test_offers_the_language_menu_with_each_option_in_its_own_language() -> None:
    call = Call.of("inbound_triage")
    actions = call.start(context(preferred="es"))
    gather = actions[-1]
    assert isinstance(gather, Gather) and gather.num_digits == 1
    options = [
        p for p in gather.prompts if isinstance(p, Say) and p.message_id == "language.option"
    ]
    assert [(p.locale, p.params["digit"]) for p in options[:3]] == [
        ("es", "1"),
        ("en", "2"),
        ("fr", "3"),
    ]
    assert ("language.other", "en") in spoken(actions)


def test_choosing_a_language_switches_every_later_prompt() -> None:
    call = Call.of("inbound_triage")
    call.start(context(preferred="es"))
    actions = call.press("4")
    assert actions[0] == SetLocale("ar")
    assert spoken(actions) == [("triage.safe_to_talk", "ar")]
    assert call.current.locale == "ar"


def test_the_second_language_page_offers_the_rest() -> None:
    call = Call.of("inbound_triage")
    call.start()
    call.press("9")
    actions = call.press("3")
    assert actions[0] == SetLocale("eu")


def test_zero_on_the_language_menu_reaches_a_human_with_an_interpreter_flag() -> None:
    call = Call.of("inbound_triage")
    call.start()
    end = terminal(call.press("0"))
    assert isinstance(end, Enqueue)
    assert CallFlag.INTERPRETER in end.flags
    assert Outcome.INTERPRETER_REQUESTED in call.current.outcomes


def test_silence_on_the_language_menu_is_a_silent_call_for_the_urgent_team() -> None:
    call = Call.of("inbound_triage")
    call.start()
    actions = call.silence()
    end = terminal(actions)
    assert isinstance(end, Escalate) and end.connect_caller
    assert CallFlag.SILENT in end.flags
    assert end.risk is RiskLevel.EXTREMO
    assert not any(isinstance(action, Hangup) for action in actions)


def test_recording_notice_plays_and_recording_starts_when_the_policy_asks() -> None:
    call = Call.of("inbound_triage")
    call.start(
        recording=RecordingDecision(
            record=True, policy="line", notice_message_id="recording.notice"
        )
    )
    actions = call.press("1")
    assert [type(a) for a in actions] == [SetLocale, Say, Record, Gather]
    assert actions[1] == Say("recording.notice", "es")
    assert actions[2] == Record("line")


def test_no_recording_and_no_notice_when_the_policy_says_so() -> None:
    call = Call.of("inbound_triage")
    call.start(recording=RecordingDecision(record=False))
    actions = call.press("2")
    assert not any(isinstance(a, Record) for a in actions)
    assert spoken(actions) == [("triage.safe_to_talk", "en")]


def test_consent_is_asked_and_recording_starts_only_after_yes() -> None:
    call = Call.of("inbound_triage")
    call.start(recording=RecordingDecision(record=True, policy="consent", consent_required=True))
    actions = call.press("1")
    assert spoken(actions) == [("recording.notice_consent", "es")]
    actions = call.press("1")
    assert actions[0] == Record("consent")
    assert spoken(actions) == [("triage.safe_to_talk", "es")]


def test_declining_consent_means_no_recording_and_a_flag_for_the_agent() -> None:
    call = Call.of("inbound_triage")
    call.start(recording=RecordingDecision(record=True, policy="consent", consent_required=True))
    call.press("1")
    actions = call.press("2")
    assert not any(isinstance(a, Record) for a in call.heard)
    assert ("recording.declined", "es") in spoken(actions)
    assert CallFlag.RECORDING_DECLINED in call.current.flags


def test_an_invalid_key_repeats_the_question_after_a_short_notice() -> None:
    call = Call.of("inbound_triage")
    to_screen(call)
    actions = call.press("7")
    assert spoken(actions) == [("common.invalid_key", "es"), ("triage.safe_to_talk", "es")]
    assert call.current.current == "q_safe_to_talk"


def test_three_invalid_keys_in_a_row_reach_a_human() -> None:
    call = Call.of("inbound_triage")
    to_screen(call)
    call.press("7")
    call.press("8")
    end = terminal(call.press("5"))
    assert isinstance(end, Enqueue)
    assert CallFlag.REPEATED_INVALID in end.flags


def test_speech_instead_of_a_key_is_treated_as_an_invalid_key() -> None:
    call = Call.of("inbound_triage")
    to_screen(call)
    actions = call.send(EventKind.SPEECH, speech="help")
    assert spoken(actions)[0] == ("common.invalid_key", "es")


def test_silence_on_a_question_counts_as_yes_and_escalates_as_a_silent_call() -> None:
    call = Call.of("inbound_triage")
    to_screen(call)
    call.press("1")
    end = terminal(call.silence())
    assert isinstance(end, Escalate)
    assert end.team == "urgent" and end.reason == "silent_call"
    assert end.risk is RiskLevel.EXTREMO and end.priority == TOP_PRIORITY
    assert dict(end.screen) == {"safe_to_talk": "yes", "danger_now": "no_answer"}
    assert Outcome.SILENT_CALL in call.current.outcomes


def test_zero_mid_screen_reaches_a_human_with_the_answers_so_far() -> None:
    call = Call.of("inbound_triage")
    to_screen(call)
    call.press("2")  # not safe to talk
    end = terminal(call.press("0"))
    assert isinstance(end, Enqueue)
    assert end.priority == TOP_PRIORITY and end.risk is RiskLevel.ALTO
    assert {CallFlag.ASKED_FOR_HUMAN, CallFlag.CANNOT_TALK} <= end.flags


def test_a_severe_answer_escalates_at_once_without_further_questions() -> None:
    call = Call.of("inbound_triage")
    to_screen(call)
    call.press("1")
    call.press("2")  # no danger now
    end = terminal(call.press("1"))  # injured
    assert isinstance(end, Escalate) and end.connect_caller
    assert end.risk is RiskLevel.EXTREMO
    assert "weapon_or_threat" not in end.screen
    assert ("triage.connecting_urgent", "es") in spoken(call.heard)


def test_a_known_beneficiarys_stored_risk_is_never_lowered_by_the_screen() -> None:
    call = Call.of("inbound_triage")
    call.start(context(stored=RiskLevel.ALTO, beneficiary="b-17"))
    call.press("1")
    for key in ("1", "2", "2", "2"):
        call.press(key)
    end = terminal(call.press("2"))
    assert isinstance(end, Enqueue)
    assert end.risk is RiskLevel.ALTO and end.priority == 40
    assert CallFlag.KNOWN_BENEFICIARY in end.flags


def test_a_caller_already_at_extreme_risk_goes_to_the_urgent_team() -> None:
    call = Call.of("inbound_triage")
    call.start(context(stored=RiskLevel.EXTREMO))
    call.press("1")
    for key in ("1", "2", "2", "2"):
        call.press(key)
    assert isinstance(terminal(call.press("2")), Escalate)


def test_hanging_up_after_a_positive_answer_still_alerts_the_urgent_team() -> None:
    call = Call.of("inbound_triage")
    to_screen(call)
    call.press("2")  # not safe to talk
    actions = call.hang_up()
    [alert] = escalations(actions)
    assert not alert.connect_caller and alert.reason == "hung_up_at_risk"
    assert call.current.ended and Outcome.CALLER_HUNG_UP in call.current.outcomes


def test_hanging_up_with_nothing_positive_ends_quietly() -> None:
    call = Call.of("inbound_triage")
    to_screen(call)
    call.press("1")
    assert call.hang_up() == ()
    assert call.current.ended


def test_events_after_the_end_change_nothing() -> None:
    call = Call.of("inbound_triage")
    call.start()
    call.press("0")
    ended = call.current
    assert call.press("1") == ()
    assert call.silence() == ()
    assert call.current.ended and call.current.outcomes == ended.outcomes


def test_a_duplicate_started_event_is_ignored() -> None:
    call = Call.of("inbound_triage")
    call.start()
    assert call.start() == ()
    assert call.current.current == "language_menu"


def test_input_for_a_lost_session_goes_to_the_fallback_route() -> None:
    flow = load_builtin("inbound_triage")
    state, actions = step(flow, None, CallEvent(EventKind.DIGITS, "lost", 10.0, digits="1"))
    assert actions == (Dial("fallback", "ivr_fallback"),)
    assert state.ended and state.outcomes == (Outcome.FALLBACK,)


def test_a_broken_flow_sends_the_caller_to_the_fallback_route_not_silence() -> None:
    flow = load_builtin("inbound_triage")
    states = dict(flow.states)
    del states["q_safe_to_talk"]
    broken = replace(flow, states=states)
    call = Call(broken)
    call.start()
    assert terminal(call.press("1")) == Dial("fallback", "ivr_fallback")


def test_a_state_from_another_call_is_never_used() -> None:
    call = Call.of("inbound_triage")
    call.start()
    other = CallEvent(EventKind.DIGITS, "someone-else", 99.0, digits="1")
    _state, actions = step(call.flow, call.current, other)
    assert isinstance(terminal(actions), Dial)


def test_the_state_keeps_no_phone_number_and_no_typed_digits() -> None:
    call = Call.of("inbound_triage")
    call.start(from_number="+34600111222")
    call.press("1")
    stored = json.dumps(call.current.to_dict())
    assert "600111222" not in stored
    assert "+34" not in stored
    event = call.log[0]
    assert "600111222" not in repr(event)
    assert "from_number" not in event.log_fields()


def _calm_screen(call: Call, *, callback_offer: bool) -> tuple[Action, ...]:
    to_screen(call)
    for key in ("1", "2", "2", "2"):
        call.press(key)
    return call.send(EventKind.DIGITS, digits="2", callback_offer=callback_offer)


def test_in_a_surge_a_calm_caller_is_offered_a_callback_and_2_ends_the_call_with_a_promise() -> (
    None
):
    call = Call.of("inbound_triage")
    offer = _calm_screen(call, callback_offer=True)
    assert isinstance(offer[-1], Gather)
    assert ("callback.offer", "es") in spoken(offer)
    end = terminal(call.press("2"))
    assert isinstance(end, Hangup) and end.reason == "callback_requested"
    assert ("callback.confirmed", "es") in spoken(call.heard)
    assert call.current.outcomes == (Outcome.CALLBACK_REQUESTED,)


def test_at_the_callback_offer_silence_or_another_key_keeps_her_in_the_queue() -> None:
    for answer in ("silence", "1", "0"):
        call = Call.of("inbound_triage")
        _calm_screen(call, callback_offer=True)
        actions = call.silence() if answer == "silence" else call.press(answer)
        assert isinstance(terminal(actions), Enqueue), answer


def test_without_a_surge_or_with_a_positive_answer_no_callback_is_offered() -> None:
    call = Call.of("inbound_triage")
    assert isinstance(terminal(_calm_screen(call, callback_offer=False)), Enqueue)
    call = Call.of("inbound_triage")
    to_screen(call)
    for key in ("1", "2", "2", "2"):
        call.press(key)
    severe = terminal(call.send(EventKind.DIGITS, digits="1", callback_offer=True))
    assert isinstance(severe, Enqueue | Escalate)
