"""Risk from the keypad screen and from device alarms; the one place priority is defined.

The screen follows the Lethality Assessment Program's short form (DESIGN.md, domain notes):
can you talk safely now? danger now or aggressor near? injured? weapon or threat to kill?
children at risk? A "yes" (for the first question, a "no") is a positive answer; no answer at
all counts as positive. Deeper assessment (DASH, VPR) is a human's job.

Rules (automation only ever raises):

* a positive answer to danger now, injured or weapon/threat -> ``extremo``;
* a positive answer to safe-to-talk or children-at-risk -> at least ``alto``;
* the result is raised to the known beneficiary's stored level, never lowered below it;
* ``extremo`` is *severe*: the call escalates to the urgent team at once;
* ``extremo`` or any positive answer gives ``TOP_PRIORITY``; otherwise priority comes from
  the risk level (:data:`PRIORITY_BY_RISK`).

Routing orders calls by priority, higher first.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum

from ivr_flows.state import CallFlag
from store.vocabulary import AlarmType, RiskLevel


class Question(StrEnum):
    SAFE_TO_TALK = "safe_to_talk"
    DANGER_NOW = "danger_now"
    INJURED = "injured"
    WEAPON_OR_THREAT = "weapon_or_threat"
    CHILDREN_AT_RISK = "children_at_risk"


class Answer(StrEnum):
    YES = "yes"
    NO = "no"
    NO_ANSWER = "no_answer"


class Severity(StrEnum):
    """Which way the call goes after the screen; also the triage state's transition events."""

    SEVERE = "severe"  # escalate to the urgent team
    PRIORITY = "priority"  # queue at top priority
    STANDARD = "standard"  # queue by risk


SEVERE_QUESTIONS = frozenset({Question.DANGER_NOW, Question.INJURED, Question.WEAPON_OR_THREAT})

TOP_PRIORITY = 100
PRIORITY_BY_RISK: Mapping[RiskLevel, int] = {
    RiskLevel.NO_APRECIADO: 10,
    RiskLevel.BAJO: 20,
    RiskLevel.MEDIO: 30,
    RiskLevel.ALTO: 40,
    RiskLevel.EXTREMO: TOP_PRIORITY,
}

RISK_BY_ALARM: Mapping[AlarmType, RiskLevel] = {
    AlarmType.PREALARM: RiskLevel.EXTREMO,
    AlarmType.ASSAULT: RiskLevel.EXTREMO,
    AlarmType.MEDICAL: RiskLevel.ALTO,
    AlarmType.PSYCHOSOCIAL: RiskLevel.MEDIO,
}


def is_positive(question: Question, answer: Answer) -> bool:
    """A positive answer points to danger; silence is treated as positive."""
    if answer is Answer.NO_ANSWER:
        return True
    if question is Question.SAFE_TO_TALK:
        return answer is Answer.NO
    return answer is Answer.YES


def priority_for(risk: RiskLevel, *, positive_screen: bool = False) -> int:
    """Queue priority of a call at ``risk``; any positive screen answer means top priority."""
    if positive_screen:
        return TOP_PRIORITY
    return PRIORITY_BY_RISK[risk]


@dataclass(frozen=True)
class Assessment:
    risk: RiskLevel
    priority: int
    severity: Severity
    flags: frozenset[CallFlag]


def parse_answers(pairs: Iterable[tuple[str, str]]) -> dict[Question, Answer]:
    """Known (question, answer) pairs from a call state; anything else is ignored."""
    parsed: dict[Question, Answer] = {}
    for question, answer in pairs:
        if question in Question.__members__.values() and answer in Answer.__members__.values():
            parsed[Question(question)] = Answer(answer)
    return parsed


def assess(
    answers: Mapping[Question, Answer],
    *,
    current: RiskLevel = RiskLevel.NO_APRECIADO,
    stored: RiskLevel | None = None,
) -> Assessment:
    """Risk, priority and route from the answers so far; never below ``current`` or ``stored``.

    Unasked questions are unknown, not positive: a caller who presses 0 before the screen ends
    reaches a human at the level known so far.
    """
    positive = {q for q, a in answers.items() if is_positive(q, a)}
    found = RiskLevel.NO_APRECIADO
    if positive & SEVERE_QUESTIONS:
        found = RiskLevel.EXTREMO
    elif positive:
        found = RiskLevel.ALTO
    risk = RiskLevel.highest(current, stored, found)
    flags: set[CallFlag] = set()
    if Question.SAFE_TO_TALK in positive:
        flags.add(CallFlag.CANNOT_TALK)
    if Answer.NO_ANSWER in answers.values():
        flags.add(CallFlag.SILENT)
    if risk is RiskLevel.EXTREMO:
        severity = Severity.SEVERE
    elif positive:
        severity = Severity.PRIORITY
    else:
        severity = Severity.STANDARD
    priority = priority_for(risk, positive_screen=bool(positive))
    return Assessment(risk=risk, priority=priority, severity=severity, flags=frozenset(flags))


def risk_for_alarm(alarm: AlarmType | None) -> RiskLevel:
    """Risk implied by a device alarm; an alarm of unknown type is treated as an assault."""
    if alarm is None:
        return RiskLevel.EXTREMO
    return RISK_BY_ALARM[alarm]
