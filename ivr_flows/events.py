"""Normalized call events: what every adapter (Twilio, SIP, simulator) turns its input into.

The engine never reads a clock: the time of an event travels in ``at`` (epoch seconds), so a
call's event log replays to exactly the same state. Personal data (phone numbers, what was
said, a location) may travel in an event because the durable log needs it, but it is kept out
of ``repr`` and out of :meth:`CallEvent.log_fields`, and the engine never copies it into the
call state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from ivr_flows.errors import EventInvalid
from store.vocabulary import AlarmType, Channel, RiskLevel

_E = TypeVar("_E", bound=StrEnum)


class EventKind(StrEnum):
    STARTED = "started"
    DIGITS = "digits"
    SPEECH = "speech"
    SILENCE = "silence"
    HANGUP = "hangup"
    ALARM = "alarm"
    ANSWERED = "answered"  # outbound: a person (or something) picked up
    MACHINE = "machine"  # outbound: an answering machine picked up


class PinResult(StrEnum):
    """The outcome of a PIN comparison made by the check-in service, never by the engine.

    The engine is pure and must not hash or hold a PIN: the adapter passes the digits of a
    ``secret`` gather to the check-in service, which answers with one of these values, and only
    that value travels in the event.
    """

    OK = "ok"
    WRONG = "wrong"
    DURESS = "duress"


class TakeResult(StrEnum):
    """What acknowledging an escalation gave an urgent-team member who pressed the key on an
    alert call (decided by routing, never by the engine): connect her to the woman's live call,
    dial the woman (an alarm without a call), or tell her someone else took it."""

    JOIN = "join"
    DIAL = "dial"
    ALREADY_TAKEN = "already_taken"


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float
    accuracy_m: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"latitude": self.latitude, "longitude": self.longitude}
        if self.accuracy_m is not None:
            data["accuracy_m"] = self.accuracy_m
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Location:
        accuracy = data.get("accuracy_m")
        return cls(
            latitude=float(data["latitude"]),
            longitude=float(data["longitude"]),
            accuracy_m=None if accuracy is None else float(accuracy),
        )


@dataclass(frozen=True)
class CallerContext:
    """What the service knows about the caller before the flow starts (ids and flags only).

    ``stored_risk`` is the known beneficiary's current level: the IVR may raise it, never lower
    it. ``number_locale_hint`` comes from ``locales.selection.locale_hint_for_number``.
    """

    line_locale: str = "es"
    beneficiary_id: str | None = None
    stored_risk: RiskLevel | None = None
    preferred_locale: str | None = None
    number_locale_hint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"line_locale": self.line_locale}
        for name in ("beneficiary_id", "preferred_locale", "number_locale_hint"):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        if self.stored_risk is not None:
            data["stored_risk"] = self.stored_risk.value
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CallerContext:
        stored = data.get("stored_risk")
        return cls(
            line_locale=str(data.get("line_locale", "es")),
            beneficiary_id=_optional_str(data.get("beneficiary_id")),
            stored_risk=None if stored is None else RiskLevel(stored),
            preferred_locale=_optional_str(data.get("preferred_locale")),
            number_locale_hint=_optional_str(data.get("number_locale_hint")),
        )


@dataclass(frozen=True)
class RecordingDecision:
    """What ``recordings_policy`` decided for this call, handed to the flow at the start.

    ``notice_message_id`` is the prompt to play (None: no notice needed); with
    ``consent_required`` the caller is asked and recording starts only after a "yes".
    """

    record: bool = False
    policy: str = "default"
    notice_message_id: str | None = None
    consent_required: bool = False
    pause_during: tuple[str, ...] = ()
    """Moments the recording pauses for (``recordings_policy.SensitiveMoment`` values)."""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "record": self.record,
            "policy": self.policy,
            "consent_required": self.consent_required,
        }
        if self.pause_during:
            data["pause_during"] = list(self.pause_during)
        if self.notice_message_id is not None:
            data["notice_message_id"] = self.notice_message_id
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RecordingDecision:
        return cls(
            record=bool(data.get("record", False)),
            policy=str(data.get("policy", "default")),
            notice_message_id=_optional_str(data.get("notice_message_id")),
            consent_required=bool(data.get("consent_required", False)),
            pause_during=tuple(str(moment) for moment in data.get("pause_during", ())),
        )


@dataclass(frozen=True)
class CallEvent:
    """One thing that happened on a call, in the words every channel shares."""

    kind: EventKind
    call_id: str
    at: float
    digits: str | None = field(default=None, repr=False)
    speech: str | None = field(default=None, repr=False)
    from_number: str | None = field(default=None, repr=False)
    to_number: str | None = field(default=None, repr=False)
    channel: Channel | None = None
    caller: CallerContext | None = None
    recording: RecordingDecision | None = None
    alarm_type: AlarmType | None = None
    location: Location | None = field(default=None, repr=False)
    pin_result: PinResult | None = None
    take_result: TakeResult | None = None
    callback_offer: bool = False
    """The line offers callbacks now (a surge, and her number is known): a standard triage
    result goes to the flow's ``standard_callback_offer`` transition when it has one."""

    def __post_init__(self) -> None:
        if not self.call_id:
            raise EventInvalid("a call event needs a call_id")

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind.value, "call_id": self.call_id, "at": self.at}
        for name in ("digits", "speech", "from_number", "to_number"):
            value = getattr(self, name)
            if value is not None:
                data[name] = value
        for name in ("channel", "alarm_type", "pin_result", "take_result"):
            enum_value = getattr(self, name)
            if enum_value is not None:
                data[name] = enum_value.value
        for name in ("caller", "recording", "location"):
            nested = getattr(self, name)
            if nested is not None:
                data[name] = nested.to_dict()
        if self.callback_offer:
            data["callback_offer"] = True
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CallEvent:
        try:
            return cls(
                kind=EventKind(data["kind"]),
                call_id=str(data["call_id"]),
                at=float(data["at"]),
                digits=_optional_str(data.get("digits")),
                speech=_optional_str(data.get("speech")),
                from_number=_optional_str(data.get("from_number")),
                to_number=_optional_str(data.get("to_number")),
                channel=_optional_enum(Channel, data.get("channel")),
                caller=(CallerContext.from_dict(data["caller"]) if data.get("caller") else None),
                recording=(
                    RecordingDecision.from_dict(data["recording"])
                    if data.get("recording")
                    else None
                ),
                alarm_type=_optional_enum(AlarmType, data.get("alarm_type")),
                location=Location.from_dict(data["location"]) if data.get("location") else None,
                pin_result=_optional_enum(PinResult, data.get("pin_result")),
                take_result=_optional_enum(TakeResult, data.get("take_result")),
                callback_offer=bool(data.get("callback_offer", False)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise EventInvalid(f"unreadable call event: {exc}") from exc

    def log_fields(self) -> dict[str, Any]:
        """Fields safe to log: kind, ids, time and flags; never numbers, digits or places."""
        fields: dict[str, Any] = {"kind": self.kind.value, "call_id": self.call_id, "at": self.at}
        if self.channel is not None:
            fields["channel"] = self.channel.value
        if self.alarm_type is not None:
            fields["alarm_type"] = self.alarm_type.value
        if self.digits is not None:
            fields["digit_count"] = len(self.digits)
        if self.pin_result is not None:
            fields["pin_checked"] = True
        if self.take_result is not None:
            fields["take_result"] = self.take_result.value
        return fields


def _optional_str(value: object) -> str | None:
    return None if value is None else str(value)


def _optional_enum(enum: type[_E], value: object) -> _E | None:
    return None if value is None else enum(str(value))
