"""Device alarms and check-in calls: no menu for alarms, a silent duress path, a cover script."""

from __future__ import annotations

from ivr_flows.actions import Action, Enqueue, Escalate, Gather, Hangup, Record, Say, SetLocale
from ivr_flows.events import EventKind, Location, PinResult, RecordingDecision
from ivr_flows.state import CallFlag, Outcome
from ivr_flows.triage import TOP_PRIORITY
from locales.prompts import prompt_text
from store.vocabulary import AlarmType, RiskLevel
from tests.unit.ivr_flows.ivr_calls import Call, context, escalations, spoken, terminal

SPOT = Location(latitude=40.4168, longitude=-3.7038, accuracy_m=12.0)


def test_a_device_alarm_goes_straight_to_the_urgent_team_with_type_and_location() -> None:
    call = Call.of("device_alarm")
    actions = call.alarm(AlarmType.ASSAULT, SPOT, context(preferred="ro"))
    assert actions[0] == SetLocale("ro")
    end = terminal(actions)
    assert isinstance(end, Escalate) and end.connect_caller and end.team == "urgent"
    assert end.alarm_type is AlarmType.ASSAULT and end.location == SPOT
    assert end.risk is RiskLevel.EXTREMO and end.priority == TOP_PRIORITY
    assert CallFlag.DEVICE_ALARM in end.flags
    assert not any(isinstance(a, Gather | Say) for a in actions), "no menu, no prompt"


def test_a_medical_alarm_never_lowers_a_stored_extreme_risk() -> None:
    call = Call.of("device_alarm")
    end = terminal(call.alarm(AlarmType.MEDICAL, None, context(stored=RiskLevel.EXTREMO)))
    assert isinstance(end, Escalate) and end.risk is RiskLevel.EXTREMO


def test_a_medical_alarm_raises_an_unknown_caller_to_high() -> None:
    call = Call.of("device_alarm")
    end = terminal(call.alarm(AlarmType.MEDICAL))
    assert isinstance(end, Escalate) and end.risk is RiskLevel.ALTO


def test_an_alarm_of_unknown_type_is_treated_as_an_assault() -> None:
    call = Call.of("device_alarm")
    end = terminal(call.alarm(None))
    assert isinstance(end, Escalate) and end.risk is RiskLevel.EXTREMO


def test_an_answering_machine_gets_no_message_at_all() -> None:
    call = Call.of("checkin_outbound")
    call.send(EventKind.MACHINE)
    assert call.heard == [Hangup("answering_machine")]
    assert call.current.outcomes == (Outcome.MACHINE,)


def _verified(call: Call, result: PinResult | None = PinResult.OK) -> tuple[Action, ...]:
    actions = call.answer(context(preferred="es"))
    gather = actions[-1]
    assert isinstance(gather, Gather) and gather.secret and gather.finish_on_key == "#"
    assert ("checkin.greeting", "es") in spoken(actions)
    return tuple(call.pin(result))


def test_right_code_then_1_puts_her_through_to_a_person() -> None:
    call = Call.of("checkin_outbound")
    actions = _verified(call)
    assert spoken(actions) == [("checkin.menu", "es")]
    end = terminal(call.press("1"))
    assert isinstance(end, Enqueue) and end.queue == "checkins"
    assert Outcome.TALK_NOW in call.current.outcomes


def test_2_not_now_ends_kindly_and_asks_for_another_time() -> None:
    call = Call.of("checkin_outbound")
    _verified(call)
    end = terminal(call.press("2"))
    assert end == Hangup("call_later")
    assert call.current.outcomes == (Outcome.CALL_LATER,)


def test_9_i_need_help_now_escalates_at_extreme_risk() -> None:
    call = Call.of("checkin_outbound")
    _verified(call)
    end = terminal(call.press("9"))
    assert isinstance(end, Escalate) and end.connect_caller and end.risk is RiskLevel.EXTREMO
    assert call.current.outcomes == (Outcome.HELP_NOW,)


def test_the_duress_code_escalates_silently_while_the_call_sounds_normal() -> None:
    normal = Call.of("checkin_outbound")
    _verified(normal, PinResult.OK)
    normal.press("2")
    duress = Call.of("checkin_outbound")
    _verified(duress, PinResult.DURESS)
    duress.press("2")

    [alert] = escalations(duress.heard)
    assert not alert.connect_caller
    assert CallFlag.DURESS in alert.flags and alert.risk is RiskLevel.EXTREMO
    audible = [a for a in duress.heard if not isinstance(a, Escalate)]
    assert audible == normal.heard, "whoever listens hears exactly a normal check-in"
    assert duress.current.outcomes == (Outcome.DURESS, Outcome.CALL_LATER)


def test_after_a_duress_code_an_agent_sees_the_duress_flag() -> None:
    call = Call.of("checkin_outbound")
    _verified(call, PinResult.DURESS)
    end = terminal(call.press("1"))
    assert isinstance(end, Enqueue) and CallFlag.DURESS in end.flags


def test_one_wrong_code_asks_again() -> None:
    call = Call.of("checkin_outbound")
    actions = _verified(call, PinResult.WRONG)
    assert spoken(actions) == [("checkin.enter_code_again", "es")]
    assert spoken(call.pin(PinResult.OK)) == [("checkin.menu", "es")]


def test_a_wrong_or_unknown_person_hears_the_neutral_cover_script() -> None:
    call = Call.of("checkin_outbound")
    _verified(call, PinResult.WRONG)
    actions = call.pin(PinResult.WRONG)
    assert spoken(actions) == [("checkin.cover", "es")]
    assert terminal(actions) == Hangup("not_verified")
    assert not escalations(call.heard)
    assert Outcome.NOT_VERIFIED in call.current.outcomes


def test_digits_without_a_verification_result_are_never_accepted_as_a_pin() -> None:
    call = Call.of("checkin_outbound")
    actions = _verified(call, None)
    assert spoken(actions) == [("checkin.enter_code_again", "es")]


def test_silence_at_the_code_prompt_is_never_hung_up_on() -> None:
    call = Call.of("checkin_outbound")
    call.answer()
    call.silence()
    end = terminal(call.silence())
    assert isinstance(end, Enqueue)
    assert {CallFlag.SILENT, CallFlag.UNVERIFIED} <= end.flags


def test_silence_after_the_code_is_a_silent_call_for_the_urgent_team() -> None:
    call = Call.of("checkin_outbound")
    _verified(call)
    end = terminal(call.silence())
    assert isinstance(end, Escalate) and CallFlag.SILENT in end.flags


def test_what_the_person_who_answers_hears_never_names_the_service() -> None:
    unverified_ids = {"checkin.greeting", "checkin.enter_code", "checkin.enter_code_again"}
    unverified_ids |= {"checkin.cover", "checkin.hold"}
    forbidden: tuple[str, ...] = (
        "amparo",
        "016",
        "atenpro",
        "violencia",
        "violence",
        "víctima",
        "victim",
    )
    forbidden += ("maltrat", "abuse", "agresor", "aggressor", "hotline", "ayuda")
    for locale in ("es", "en", "fr", "ca", "gl", "eu", "pt"):
        for message_id in unverified_ids:
            text = prompt_text(message_id, locale).lower()
            assert not any(word in text for word in forbidden), (locale, message_id, text)


def test_hanging_up_after_a_duress_code_does_not_alert_the_team_twice() -> None:
    call = Call.of("checkin_outbound")
    _verified(call, PinResult.DURESS)
    assert call.hang_up() == ()
    assert len(escalations(call.heard)) == 1


def _phoned_back(recording: RecordingDecision | None) -> tuple[Call, tuple[Action, ...]]:
    call = Call.of("callback_outbound")
    return call, call.send(EventKind.ANSWERED, caller=context(), recording=recording)


def test_a_callback_the_policy_does_not_record_puts_her_through_with_no_notice() -> None:
    _call, actions = _phoned_back(RecordingDecision(record=False))
    assert isinstance(terminal(actions), Enqueue)
    assert not any(isinstance(action, Record) for action in actions)
    assert "recording.notice" not in {message for message, _ in spoken(actions)}


def test_a_callback_the_policy_records_plays_the_notice_then_records_then_puts_her_through() -> (
    None
):
    decision = RecordingDecision(
        record=True, policy="ES:callback", notice_message_id="recording.notice"
    )
    _call, actions = _phoned_back(decision)
    notice = actions.index(Say("recording.notice", "es"))
    assert actions[notice + 1] == Record("ES:callback")
    assert isinstance(terminal(actions), Enqueue)


def test_a_callback_asking_consent_records_only_after_1_and_puts_her_through_either_way() -> None:
    decision = RecordingDecision(
        record=True,
        policy="PE:callback",
        notice_message_id="recording.notice_consent",
        consent_required=True,
    )
    call, actions = _phoned_back(decision)
    assert spoken(actions)[-1] == ("recording.notice_consent", "es")
    assert not any(isinstance(action, Record) for action in actions)
    yes = call.press("1")
    assert Record("PE:callback") in yes and isinstance(terminal(yes), Enqueue)

    for answer in (Call.silence, lambda c: c.press("2")):
        again, _ = _phoned_back(decision)
        after = answer(again)
        assert not any(isinstance(action, Record) for action in again.heard)
        assert isinstance(terminal(after), Enqueue)
