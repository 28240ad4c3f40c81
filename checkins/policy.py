"""Who is called how: check-in slots and the calls notifications ask for, and what each
outcome of a call means for the attempt.

Check-ins follow the beneficiary's risk (``checkins.schedule``). A notification has its own
policy: a proximity alert calls at once whatever the hour and alerts the urgent team in the
same breath; an aggressor's release calls at the next safe moment with the high-risk ladder;
an expiring order or an outage is information, with a short ladder.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from checkins.schedule import LADDERS, LadderEnd, RetryLadder
from store.vocabulary import RiskLevel


class Purpose(StrEnum):
    CHECKIN = "checkin"
    NOTIFICATION = "notification"


class NotificationKind(StrEnum):
    AGGRESSOR_RELEASED = "aggressor_released"
    ORDER_EXPIRING = "order_expiring"
    PROXIMITY_ALERT = "proximity_alert"
    OUTAGE = "outage"


@dataclass(frozen=True)
class ContactPolicy:
    ladder: RetryLadder
    #: Call now, inside a safe window or not (the danger is now; the urgent team is on it).
    immediate: bool
    #: Start the urgent team's ladder as soon as the notification arrives.
    escalate_at_once: bool
    #: rq queue: workers take ``urgent`` before ``default`` before ``checkins``.
    queue: str
    #: None: an unreached beneficiary is only counted (the information is not vital).
    then: LadderEnd | None


_HIGH = LADDERS[RiskLevel.ALTO]
NOTIFICATION_POLICIES: dict[NotificationKind, ContactPolicy] = {
    NotificationKind.PROXIMITY_ALERT: ContactPolicy(
        RetryLadder((timedelta(0), timedelta(minutes=5)), LadderEnd.URGENT_TEAM, False),
        immediate=True,
        escalate_at_once=True,
        queue="urgent",
        then=LadderEnd.URGENT_TEAM,
    ),
    NotificationKind.AGGRESSOR_RELEASED: ContactPolicy(
        _HIGH, immediate=False, escalate_at_once=False, queue="default", then=_HIGH.then
    ),
    NotificationKind.ORDER_EXPIRING: ContactPolicy(
        LADDERS[RiskLevel.MEDIO],
        immediate=False,
        escalate_at_once=False,
        queue="default",
        then=LadderEnd.CASEWORKER,
    ),
    NotificationKind.OUTAGE: ContactPolicy(
        RetryLadder((timedelta(0), timedelta(minutes=30)), LadderEnd.CASEWORKER, False),
        immediate=False,
        escalate_at_once=False,
        queue="default",
        then=None,
    ),
}

CHECKIN_QUEUE = "checkins"


class Outcome(StrEnum):
    """What an attempt ended with (stored in ``checkin_attempts.outcome``)."""

    TALK_NOW = "talk_now"
    CALL_LATER = "call_later"
    HELP_NOW = "help_now"
    DURESS = "duress"
    NOT_VERIFIED = "not_verified"
    FALLBACK = "fallback"
    MACHINE = "machine"
    NO_INPUT = "no_input"
    HUNG_UP = "caller_hung_up"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    FAILED = "failed"
    CANCELLED = "cancelled"  # the plan was switched off before the call
    SUPERSEDED = "superseded"  # another attempt of the slot already reached her
    OUTSIDE_WINDOW = "outside_window"  # ran too late for its window: the ladder ends
    NO_NUMBER = "no_number"


class Meaning(StrEnum):
    SETTLED = "settled"  # she was reached, or humans have her: nothing more for this slot
    UNREACHED = "unreached"  # the ladder goes on
    LATER = "later"  # she asked to be called at another safe time
    UNVERIFIED = "unverified"  # someone else answered
    CLOSED = "closed"  # nothing to do (cancelled, superseded)


MEANINGS: dict[Outcome, Meaning] = {
    Outcome.TALK_NOW: Meaning.SETTLED,
    Outcome.HELP_NOW: Meaning.SETTLED,
    Outcome.DURESS: Meaning.SETTLED,
    Outcome.FALLBACK: Meaning.SETTLED,
    Outcome.CALL_LATER: Meaning.LATER,
    Outcome.NOT_VERIFIED: Meaning.UNVERIFIED,
    Outcome.MACHINE: Meaning.UNREACHED,
    Outcome.NO_INPUT: Meaning.UNREACHED,
    Outcome.HUNG_UP: Meaning.UNREACHED,
    Outcome.NO_ANSWER: Meaning.UNREACHED,
    Outcome.BUSY: Meaning.UNREACHED,
    Outcome.FAILED: Meaning.UNREACHED,
    Outcome.OUTSIDE_WINDOW: Meaning.UNREACHED,
    Outcome.NO_NUMBER: Meaning.UNREACHED,
    Outcome.CANCELLED: Meaning.CLOSED,
    Outcome.SUPERSEDED: Meaning.CLOSED,
}

#: Outcomes that show a person picked up: "someone else answered twice" counts over these.
ANSWERED = frozenset(
    {
        Outcome.TALK_NOW,
        Outcome.HELP_NOW,
        Outcome.DURESS,
        Outcome.CALL_LATER,
        Outcome.NOT_VERIFIED,
    }
)

#: The IVR's outcomes (``ivr_flows.state.Outcome`` values) that conclude an attempt; the
#: first one wins (after the duress code, her later "not now" changes nothing).
FROM_IVR: dict[str, Outcome] = {
    "talk_now": Outcome.TALK_NOW,
    "call_later": Outcome.CALL_LATER,
    "help_now": Outcome.HELP_NOW,
    "duress": Outcome.DURESS,
    "not_verified": Outcome.NOT_VERIFIED,
    "machine": Outcome.MACHINE,
    "no_input": Outcome.NO_INPUT,
    "caller_hung_up": Outcome.HUNG_UP,
    "fallback": Outcome.FALLBACK,
}

#: Twilio call statuses (and the like from other edges) that mean nobody will answer.
UNANSWERED_REASONS: dict[str, Outcome] = {
    "no-answer": Outcome.NO_ANSWER,
    "no_answer": Outcome.NO_ANSWER,
    "busy": Outcome.BUSY,
    "failed": Outcome.FAILED,
    "canceled": Outcome.NO_ANSWER,
}


def checkin_policy(risk: RiskLevel) -> ContactPolicy:
    ladder = LADDERS[risk]
    return ContactPolicy(
        ladder, immediate=False, escalate_at_once=False, queue=CHECKIN_QUEUE, then=ladder.then
    )
