"""The state of one call in its flow: small, JSON-serializable, free of personal data.

It lives in Redis under the call id between events (see ``ivr_flows.session``) and is rebuilt
exactly by replaying the call's event log through the engine. It holds ids and flags only:
never a phone number, digits typed, a PIN or a location.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from ivr_flows.errors import StateInvalid
from store.vocabulary import RiskLevel


class CallFlag(StrEnum):
    """Facts about a call that routing and the agent's console must see."""

    SILENT = "silent"  # no input: possible danger, treat as yes
    INTERPRETER = "interpreter"  # the caller asked for another language
    DURESS = "duress"  # the duress code was entered: act without the caller's line showing it
    DEVICE_ALARM = "device_alarm"
    CANNOT_TALK = "cannot_talk"  # not safe to talk: the agent asks yes/no questions
    ASKED_FOR_HUMAN = "asked_for_human"  # pressed 0
    KNOWN_BENEFICIARY = "known_beneficiary"
    UNVERIFIED = "unverified"  # outbound call where the PIN was not confirmed
    CHECKIN = "checkin"
    RECORDING_DECLINED = "recording_declined"
    REPEATED_INVALID = "repeated_invalid"  # kept pressing keys that are not options
    CALLBACK = "callback"  # an agent phoned her back (a callback task)


class Outcome(StrEnum):
    """Results of a call that jobs act on (check-in rescheduling, alerts, statistics)."""

    QUEUED = "queued"
    ESCALATED = "escalated"
    SILENT_CALL = "silent_call"
    INTERPRETER_REQUESTED = "interpreter_requested"
    TALK_NOW = "talk_now"
    CALL_LATER = "call_later"
    HELP_NOW = "help_now"
    DURESS = "duress"
    NOT_VERIFIED = "not_verified"
    MACHINE = "machine"
    NO_INPUT = "no_input"
    CALLER_HUNG_UP = "caller_hung_up"
    COMPLETED = "completed"  # the flow itself ended the call (an explicit, safe end)
    FALLBACK = "fallback"
    CALLBACK_REQUESTED = "callback_requested"  # she pressed 2 to be called back (a surge)


@dataclass(frozen=True)
class CallState:
    """Where a call stands in its flow.

    ``current`` names the gather the call waits at (None before start and after the end).
    ``answers`` holds the keypad screen as (question, answer) pairs. ``risk`` and
    ``priority`` only ever go up; ``outcomes`` is the ordered list of results reached;
    ``escalated`` records that the urgent team was already alerted (never alert twice).
    """

    call_id: str
    flow: str
    locale: str
    current: str | None = None
    ended: bool = False
    risk: RiskLevel = RiskLevel.NO_APRECIADO
    stored_risk: RiskLevel | None = None
    priority: int = 0
    flags: frozenset[CallFlag] = frozenset()
    answers: tuple[tuple[str, str], ...] = ()
    outcomes: tuple[Outcome, ...] = ()
    invalid_count: int = 0
    escalated: bool = False
    recording_policy: str | None = None
    recording_notice: str | None = None
    recording_consent_required: bool = False
    recording_started: bool = False
    recording_pauses: tuple[str, ...] = ()
    events_seen: int = 0
    started_at: float | None = None
    last_event_at: float | None = None

    @property
    def answer_map(self) -> dict[str, str]:
        return dict(self.answers)

    def to_dict(self) -> dict[str, Any]:
        return {
            "call_id": self.call_id,
            "flow": self.flow,
            "locale": self.locale,
            "current": self.current,
            "ended": self.ended,
            "risk": self.risk.value,
            "stored_risk": None if self.stored_risk is None else self.stored_risk.value,
            "priority": self.priority,
            "flags": sorted(flag.value for flag in self.flags),
            "answers": [list(pair) for pair in self.answers],
            "outcomes": [outcome.value for outcome in self.outcomes],
            "invalid_count": self.invalid_count,
            "escalated": self.escalated,
            "recording_policy": self.recording_policy,
            "recording_notice": self.recording_notice,
            "recording_consent_required": self.recording_consent_required,
            "recording_started": self.recording_started,
            "recording_pauses": list(self.recording_pauses),
            "events_seen": self.events_seen,
            "started_at": self.started_at,
            "last_event_at": self.last_event_at,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CallState:
        try:
            stored = data.get("stored_risk")
            return cls(
                call_id=str(data["call_id"]),
                flow=str(data["flow"]),
                locale=str(data["locale"]),
                current=None if data.get("current") is None else str(data["current"]),
                ended=bool(data.get("ended", False)),
                risk=RiskLevel(data.get("risk", RiskLevel.NO_APRECIADO.value)),
                stored_risk=None if stored is None else RiskLevel(stored),
                priority=int(data.get("priority", 0)),
                flags=frozenset(CallFlag(flag) for flag in data.get("flags", ())),
                answers=tuple((str(q), str(a)) for q, a in data.get("answers", ())),
                outcomes=tuple(Outcome(outcome) for outcome in data.get("outcomes", ())),
                invalid_count=int(data.get("invalid_count", 0)),
                escalated=bool(data.get("escalated", False)),
                recording_policy=data.get("recording_policy"),
                recording_notice=data.get("recording_notice"),
                recording_consent_required=bool(data.get("recording_consent_required", False)),
                recording_started=bool(data.get("recording_started", False)),
                recording_pauses=tuple(str(m) for m in data.get("recording_pauses", ())),
                events_seen=int(data.get("events_seen", 0)),
                started_at=_optional_float(data.get("started_at")),
                last_event_at=_optional_float(data.get("last_event_at")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise StateInvalid(f"unreadable call state: {exc}") from exc


def _optional_float(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, int | float | str):
        return float(value)
    raise TypeError(f"not a number: {type(value).__name__}")


def new_outcomes(before: CallState | None, after: CallState) -> tuple[Outcome, ...]:
    """Outcomes one step reached: each is an event for jobs (check-in rescheduling, alerts)."""
    seen = len(before.outcomes) if before is not None else 0
    return after.outcomes[seen:]
