"""Words of the domain shared by every package: risk levels, roles, alarm types, resource kinds,
channels."""

from __future__ import annotations

from enum import StrEnum


class RiskLevel(StrEnum):
    """VioGén risk levels, in increasing order of danger."""

    NO_APRECIADO = "no_apreciado"
    BAJO = "bajo"
    MEDIO = "medio"
    ALTO = "alto"
    EXTREMO = "extremo"

    @property
    def rank(self) -> int:
        return _RISK_ORDER.index(self)

    def raised_to(self, other: RiskLevel) -> RiskLevel:
        """The higher of the two: automation may only raise risk, never lower it."""
        return other if other.rank > self.rank else self

    @classmethod
    def highest(cls, *levels: RiskLevel | None) -> RiskLevel:
        present = [level for level in levels if level is not None]
        return max(present, key=lambda level: level.rank, default=cls.NO_APRECIADO)


_RISK_ORDER = list(RiskLevel)


class AgentRole(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class AlarmType(StrEnum):
    """ATENPRO device alarm types."""

    PREALARM = "prealarm"
    ASSAULT = "assault"
    MEDICAL = "medical"
    PSYCHOSOCIAL = "psychosocial"


class ResourceKind(StrEnum):
    """The services a caller is referred to (``cavi``: a centre for integral care of victims)."""

    POLICE = "police"
    HEALTH = "health"
    SHELTER = "shelter"
    CAVI = "cavi"
    LEGAL = "legal"
    PSYCHOLOGICAL = "psychological"


class Channel(StrEnum):
    TWILIO = "twilio"
    SIP = "sip"
    SIMULATOR = "simulator"


class CallRecordStatus(StrEnum):
    """Where a call stands in its durable row (``calls.status``), as reports count it."""

    IVR = "ivr"
    QUEUED = "queued"
    ON_CALL = "on_call"
    #: A human answered and the call ended (with its disposition).
    COMPLETED = "completed"
    #: The IVR ended it (a hang-up action: a cover script, a wrong number...).
    ENDED = "ended"
    #: She hung up before a human answered (in the IVR or on hold).
    ABANDONED = "abandoned"
    #: Routing sent her to the line's overflow number (nobody could take her in time).
    OVERFLOWED = "overflowed"
    #: An urgent-team member's alert call that became her conversation with the woman.
    JOINED = "joined"


class Direction(StrEnum):
    INBOUND = "inbound"
    CHECKIN = "checkin"
    ALARM = "alarm"
    TEAM_ALERT = "team_alert"  # an urgent-team member or service phoned about an escalation
    CALLBACK = "callback"  # a caller phoned back by an agent (see calls.callbacks)
