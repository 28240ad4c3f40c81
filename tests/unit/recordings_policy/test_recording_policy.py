"""The recording policy table: what is recorded, with which notice, under which consent."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from recordings_policy.errors import PolicyError
from recordings_policy.policy import SHIPPED_POLICY, Policy, RecordingDecision, decide
from store.vocabulary import Direction

ALL_SENSITIVE = ("pin_entry", "duress_digit", "safe_contact_number", "address", "outside_service")


@pytest.mark.parametrize(
    ("jurisdiction", "direction", "record", "notice", "consent", "retention"),
    [
        ("ES", "inbound", True, "recording.notice", False, 90),
        ("ES", "checkin", True, "recording.notice_consent", True, 90),
        ("ES", "alarm", True, None, False, 180),
        ("PE", "inbound", True, "recording.notice", False, 90),
        ("PE", "checkin", False, None, True, 90),
        ("PE", "alarm", True, None, False, 90),
        ("FR", "inbound", False, None, False, 90),
        ("FR", "checkin", False, None, True, 90),
        ("FR", "alarm", False, None, False, 90),
        ("es", "inbound", True, "recording.notice", False, 90),
    ],
)
def test_shipped_policy_table(
    jurisdiction: str,
    direction: str,
    record: bool,
    notice: str | None,
    consent: bool,
    retention: int,
) -> None:
    decision = decide(None, direction, jurisdiction)
    assert decision.record is record
    assert decision.notice_message_id == notice
    assert decision.consent_required is consent
    assert decision.retention_days == retention


@pytest.mark.parametrize("direction", ["inbound", "checkin"])
def test_every_sensitive_moment_pauses_recording_on_inbound_and_checkin_calls(
    direction: str,
) -> None:
    decision = decide(None, direction, "ES")
    assert decision.pause_during == ALL_SENSITIVE
    assert decision.pauses_for("pin_entry")


def test_alarm_calls_record_silently_only_with_a_written_waiver() -> None:
    decision = decide(None, Direction.ALARM, "ES")
    assert decision.record and decision.notice_message_id is None
    assert decision.notice_waiver and "aggressor" in decision.notice_waiver


@pytest.mark.parametrize(
    ("consent", "expected"),
    [(True, True), (False, False), (None, False)],
)
def test_a_checkin_call_is_recorded_only_after_the_keypad_consent(
    consent: bool | None, expected: bool
) -> None:
    decision = decide(None, Direction.CHECKIN, "ES")
    assert decision.may_record(consent) is expected
    assert decision.consent_digit == "1"


def test_inbound_recording_without_consent_requirement_starts_without_an_answer() -> None:
    assert decide(None, Direction.INBOUND, "ES").may_record(None) is True
    assert decide(None, Direction.INBOUND, "FR").may_record(True) is False


def _shipped() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(SHIPPED_POLICY.read_text(encoding="utf-8"))
    return data


def test_a_line_overrides_its_jurisdiction_field_by_field() -> None:
    data = _shipped()
    data["lines"]["Línea piloto"] = {"inbound": {"record": False}, "alarm": {"retention_days": 30}}
    policy = Policy.from_mapping(data)
    assert policy.decide("Línea piloto", "inbound", "ES").record is False
    alarm = policy.decide("Línea piloto", "alarm", "ES")
    assert (alarm.record, alarm.retention_days) == (True, 30)
    assert policy.decide("Otra línea", "inbound", "ES").record is True


def test_policy_data_recording_checkins_without_consent_is_refused_at_load() -> None:
    data = _shipped()
    data["jurisdictions"]["ES"]["checkin"]["consent_required"] = False
    with pytest.raises(PolicyError, match="without the victim's consent"):
        Policy.from_mapping(data)


def test_a_line_cannot_switch_off_consent_for_checkins_either() -> None:
    data = _shipped()
    data["lines"]["Línea piloto"] = {"checkin": {"consent_required": False}}
    with pytest.raises(PolicyError, match="Línea piloto"):
        Policy.from_mapping(data)


def test_checkin_consent_is_enforced_in_code_even_when_the_data_says_otherwise() -> None:
    data = _shipped()
    data["jurisdictions"]["ES"]["checkin"]["consent_required"] = False
    unchecked = Policy(data)  # skips load-time validation, as a hand-built policy would
    decision = unchecked.decide(None, Direction.CHECKIN, "ES")
    assert decision.consent_required is True
    assert decision.may_record(None) is False


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["jurisdictions"]["ES"]["alarm"].pop("notice_waiver"), "notice_waiver"),
        (lambda d: d["jurisdictions"]["ES"]["inbound"].update(notice=None), "without a notice"),
        (lambda d: d["jurisdictions"]["ES"]["inbound"].update(pause_during=["card"]), "card"),
        (lambda d: d["jurisdictions"]["ES"]["inbound"].update(retention_days=0), "minimum"),
        (lambda d: d["jurisdictions"].update(Spain={}), "Spain"),
        (lambda d: d["defaults"]["inbound"].pop("record"), "record"),
        (lambda d: d["jurisdictions"]["ES"]["inbound"].update(recrod=True), "recrod"),
    ],
)
def test_malformed_policy_data_fails_with_a_message_naming_the_problem(
    change: Any, message: str
) -> None:
    data = copy.deepcopy(_shipped())
    change(data)
    with pytest.raises(PolicyError, match=message):
        Policy.from_mapping(data)


def test_unknown_direction_is_an_error_not_a_silent_default() -> None:
    with pytest.raises(PolicyError, match="direction"):
        decide(None, "outbound", "ES")


def test_decision_is_plain_frozen_data() -> None:
    decision = decide(None, "inbound", "ES")
    assert isinstance(decision, RecordingDecision)
    with pytest.raises(AttributeError):
        decision.record = False  # type: ignore[misc]


def test_every_notice_the_policy_names_is_a_prompt_in_the_catalog() -> None:
    import json

    from locales.prompts import message_ids
    from recordings_policy.policy import SHIPPED_POLICY

    found: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            notice = node.get("notice")
            if isinstance(notice, str):
                found.add(notice)
            for value in node.values():
                walk(value)

    walk(json.loads(SHIPPED_POLICY.read_text()))
    assert found
    assert found <= message_ids()
