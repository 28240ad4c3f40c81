"""Triage outcomes of the five-question keypad screen, through the real flow, in three languages."""

from __future__ import annotations

import pytest

from ivr_flows.actions import Action, Enqueue, Escalate
from ivr_flows.triage import TOP_PRIORITY, Answer, Question, Severity, assess
from store.vocabulary import RiskLevel
from tests.unit.ivr_flows.ivr_calls import Call, spoken, terminal

LANGUAGE_KEYS = {"es": "1", "en": "2", "ar": "4"}
QUESTIONS = ["safe_to_talk", "danger_now", "injured", "weapon_or_threat", "children_at_risk"]

# keys pressed in order ("." is silence) -> (route, risk, priority, questions asked)
TABLE = [
    ("12222", Enqueue, RiskLevel.NO_APRECIADO, 10, 5),
    ("22222", Enqueue, RiskLevel.ALTO, TOP_PRIORITY, 5),
    ("11", Escalate, RiskLevel.EXTREMO, TOP_PRIORITY, 2),
    ("121", Escalate, RiskLevel.EXTREMO, TOP_PRIORITY, 3),
    ("1221", Escalate, RiskLevel.EXTREMO, TOP_PRIORITY, 4),
    ("12221", Enqueue, RiskLevel.ALTO, TOP_PRIORITY, 5),
    ("22221", Enqueue, RiskLevel.ALTO, TOP_PRIORITY, 5),
    ("21", Escalate, RiskLevel.EXTREMO, TOP_PRIORITY, 2),
    ("1222.", Escalate, RiskLevel.EXTREMO, TOP_PRIORITY, 5),
    (".", Escalate, RiskLevel.EXTREMO, TOP_PRIORITY, 1),
]


@pytest.mark.parametrize("locale", sorted(LANGUAGE_KEYS))
@pytest.mark.parametrize(("keys", "route", "risk", "priority", "asked"), TABLE)
def test_screen_outcome(
    locale: str, keys: str, route: type, risk: RiskLevel, priority: int, asked: int
) -> None:
    call = Call.of("inbound_triage")
    call.start()
    call.press(LANGUAGE_KEYS[locale])
    actions: tuple[Action, ...] = ()
    for key in keys:
        actions = call.silence() if key == "." else call.press(key)
    end = terminal(actions)
    assert isinstance(end, route)
    assert isinstance(end, Enqueue | Escalate)
    assert end.risk is risk and end.priority == priority
    assert end.locale == locale
    questions = [
        mid for mid, _ in spoken(call.heard) if mid.startswith("triage.") and mid[7:] in QUESTIONS
    ]
    assert questions == [f"triage.{q}" for q in QUESTIONS[:asked]]
    assert {loc for mid, loc in spoken(call.heard) if mid in questions} == {locale}


@pytest.mark.parametrize(
    ("answers", "severity", "risk"),
    [
        ({}, Severity.STANDARD, RiskLevel.NO_APRECIADO),
        ({Question.SAFE_TO_TALK: Answer.YES}, Severity.STANDARD, RiskLevel.NO_APRECIADO),
        ({Question.SAFE_TO_TALK: Answer.NO}, Severity.PRIORITY, RiskLevel.ALTO),
        ({Question.DANGER_NOW: Answer.YES}, Severity.SEVERE, RiskLevel.EXTREMO),
        ({Question.INJURED: Answer.YES}, Severity.SEVERE, RiskLevel.EXTREMO),
        ({Question.WEAPON_OR_THREAT: Answer.YES}, Severity.SEVERE, RiskLevel.EXTREMO),
        ({Question.CHILDREN_AT_RISK: Answer.YES}, Severity.PRIORITY, RiskLevel.ALTO),
        ({Question.CHILDREN_AT_RISK: Answer.NO_ANSWER}, Severity.PRIORITY, RiskLevel.ALTO),
        ({Question.INJURED: Answer.NO_ANSWER}, Severity.SEVERE, RiskLevel.EXTREMO),
        (
            {q: Answer.NO for q in Question} | {Question.SAFE_TO_TALK: Answer.YES},
            Severity.STANDARD,
            RiskLevel.NO_APRECIADO,
        ),
    ],
)
def test_assessment_rules(
    answers: dict[Question, Answer], severity: Severity, risk: RiskLevel
) -> None:
    result = assess(answers)
    assert (result.severity, result.risk) == (severity, risk)


@pytest.mark.parametrize("stored", list(RiskLevel))
def test_assessment_never_goes_below_the_stored_level(stored: RiskLevel) -> None:
    result = assess({Question.SAFE_TO_TALK: Answer.YES}, stored=stored)
    assert result.risk.rank >= stored.rank
