"""What a status or recording callback says, read and checked before anything is touched.

Twilio's callbacks only report; a signed one that cannot be read is bad input, refused with
its ``error_id`` (:class:`MalformedCallback`), never a 503, which tells Twilio "we are down,
retry". The checks are on the shapes Twilio documents: ``CallSid`` is ``CA`` and 32 hex digits,
``CallStatus`` one of the call statuses, ``SequenceNumber`` a count, ``RecordingSid`` ``RE``
and 32 hex digits; and on the query we signed ourselves (``call``, ``leg``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from telephony.twilio.errors import MalformedCallback
from telephony.twilio.links import Leg

CALL_STATUSES = frozenset(
    {
        "queued",
        "initiated",
        "ringing",
        "in-progress",
        "completed",
        "busy",
        "no-answer",
        "failed",
        "canceled",
    }
)
CALL_ENDED = frozenset({"completed", "busy", "no-answer", "failed", "canceled"})
NOT_ANSWERED = frozenset({"busy", "no-answer", "failed", "canceled"})
_CALL_SID = re.compile(r"^CA[0-9a-fA-F]{32}$")
_RECORDING_SID = re.compile(r"^RE[0-9a-fA-F]{32}$")
_CALL_ID = re.compile(r"^[0-9A-Za-z_.:-]{1,64}$")
_SEQUENCE = re.compile(r"^[0-9]{1,9}$")


@dataclass(frozen=True)
class StatusReport:
    call_sid: str
    status: str
    #: Twilio's ``SequenceNumber``, -1 when it sent none.
    sequence: int
    leg: Leg
    #: Our call id from the callback URL, when the URL carries one.
    call_id: str | None
    answered_by: str | None


@dataclass(frozen=True)
class RecordingReport:
    call_sid: str
    status: str
    recording_sid: str | None
    call_id: str | None


def call_sid(form: Mapping[str, str]) -> str:
    sid = form.get("CallSid", "")
    if not sid:
        raise MalformedCallback("twilio.call_sid_missing", "CallSid is required")
    if not _CALL_SID.match(sid):
        raise MalformedCallback("twilio.call_sid_invalid", "CallSid is not a Twilio call SID")
    return sid


def _call_id(args: Mapping[str, str]) -> str | None:
    call_id = args.get("call") or None
    if call_id is not None and not _CALL_ID.match(call_id):
        raise MalformedCallback("twilio.call_invalid", "the call parameter is not a call id")
    return call_id


def status_report(form: Mapping[str, str], args: Mapping[str, str]) -> StatusReport:
    """A call status callback's facts.

    Raises:
        MalformedCallback: something Twilio never sends.
    """
    sid = call_sid(form)
    status = form.get("CallStatus", "")
    if status not in CALL_STATUSES:
        raise MalformedCallback("twilio.call_status_invalid", "CallStatus is not a call status")
    raw_sequence = form.get("SequenceNumber") or ""
    if raw_sequence and not _SEQUENCE.match(raw_sequence):
        raise MalformedCallback("twilio.sequence_invalid", "SequenceNumber is not a count")
    try:
        leg = Leg(args.get("leg") or Leg.CALLER.value)
    except ValueError:
        raise MalformedCallback("twilio.leg_invalid", "the leg parameter is unknown") from None
    return StatusReport(
        call_sid=sid,
        status=status,
        sequence=int(raw_sequence) if raw_sequence else -1,
        leg=leg,
        call_id=_call_id(args),
        answered_by=form.get("AnsweredBy") or None,
    )


def recording_report(form: Mapping[str, str], args: Mapping[str, str]) -> RecordingReport:
    """A recording status callback's facts.

    Raises:
        MalformedCallback: something Twilio never sends.
    """
    sid = call_sid(form)
    recording_sid = form.get("RecordingSid") or None
    if recording_sid is not None and not _RECORDING_SID.match(recording_sid):
        raise MalformedCallback(
            "twilio.recording_sid_invalid", "RecordingSid is not a Twilio recording SID"
        )
    return RecordingReport(
        call_sid=sid,
        status=form.get("RecordingStatus", ""),
        recording_sid=recording_sid,
        call_id=_call_id(args),
    )
