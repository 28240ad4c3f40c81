"""Whether and how a call is recorded, as data.

The rules live in ``policies.json`` (shipped with the package) so that a data-protection officer
can read and change them without reading code. A rule is chosen per direction (inbound, check-in,
alarm) and jurisdiction, and a line may override any field::

    defaults[direction]  <-  jurisdictions[JURISDICTION][direction]  <-  lines[line name][direction]

Fields of a rule: ``record``; ``notice`` (message id of the prompt played before recording, the
consent request when consent is required); ``notice_waiver`` (why a recorded call plays no
notice: required then, so silence is always a written decision); ``consent_required`` (keypad
consent); ``pause_during`` (sensitive moments during which recording pauses); ``retention_days``.

The IVR asks this module; this module never calls the IVR. A jurisdiction with no rule gets the
defaults, which record nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from recordings_policy.errors import PolicyError
from store.vocabulary import Direction

SHIPPED_POLICY = Path(__file__).with_name("policies.json")
CONSENT_DIGIT = "1"


class SensitiveMoment(StrEnum):
    """Moments of a call during which recording pauses: keypad tones of a PIN can be decoded from
    audio, and a safe number or address in a recording widens the harm of any leak. An outside
    service on the call (a transfer's service, while the agent consults it and once she is put
    through) heard no notice of this line's: its part is not the hotline's to record."""

    PIN_ENTRY = "pin_entry"
    DURESS_DIGIT = "duress_digit"
    SAFE_CONTACT_NUMBER = "safe_contact_number"
    ADDRESS = "address"
    OUTSIDE_SERVICE = "outside_service"


_RULE_PROPERTIES: dict[str, Any] = {
    "record": {"type": "boolean"},
    "notice": {"type": ["string", "null"], "pattern": "^[a-z][a-z0-9_.]{0,63}$"},
    "notice_waiver": {"type": "string", "minLength": 20},
    "consent_required": {"type": "boolean"},
    "pause_during": {
        "type": "array",
        "items": {"enum": [moment.value for moment in SensitiveMoment]},
        "uniqueItems": True,
    },
    "retention_days": {"type": "integer", "minimum": 1, "maximum": 3650},
}
_PARTIAL_RULE = {"type": "object", "properties": _RULE_PROPERTIES, "additionalProperties": False}
_FULL_RULE = {
    **_PARTIAL_RULE,
    "required": ["record", "notice", "consent_required", "pause_during", "retention_days"],
}
_DIRECTIONS = [direction.value for direction in Direction]


def _per_direction(rule: Mapping[str, Any], *, required: bool) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": dict.fromkeys(_DIRECTIONS, rule),
        "required": _DIRECTIONS if required else [],
        "additionalProperties": False,
    }


POLICY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "format": {"const": 1},
        "defaults": _per_direction(_FULL_RULE, required=True),
        "jurisdictions": {
            "type": "object",
            "propertyNames": {"pattern": "^[A-Z]{2}$"},
            "additionalProperties": _per_direction(_PARTIAL_RULE, required=False),
        },
        "lines": {
            "type": "object",
            "additionalProperties": _per_direction(_PARTIAL_RULE, required=False),
        },
    },
    "required": ["format", "defaults", "jurisdictions", "lines"],
    "additionalProperties": False,
}


@dataclass(frozen=True)
class RecordingDecision:
    """What the IVR must do about recording one call."""

    record: bool
    notice_message_id: str | None
    consent_required: bool
    pause_during: tuple[str, ...]
    retention_days: int
    notice_waiver: str | None = None
    consent_digit: str = CONSENT_DIGIT

    def may_record(self, consent: bool | None) -> bool:
        """Whether recording may start, given the caller's keypad answer (``None``: no answer).

        No answer is never consent: a caller who cannot press a key is not recorded.
        """
        if not self.record:
            return False
        return consent is True if self.consent_required else True

    def pauses_for(self, moment: str) -> bool:
        return moment in self.pause_during


@dataclass(frozen=True)
class Policy:
    """The loaded, validated policy data."""

    data: Mapping[str, Any]

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Policy:
        """Validate ``data`` against the schema and every invariant, for every combination."""
        try:
            jsonschema.validate(data, POLICY_SCHEMA)
        except jsonschema.ValidationError as exc:
            where = "/".join(str(part) for part in exc.absolute_path) or "(top)"
            raise PolicyError(f"recording policy at {where}: {exc.message}") from exc
        policy = cls(data)
        lines: list[str | None] = [None, *data["lines"]]
        for jurisdiction in ["*", *data["jurisdictions"]]:
            for line in lines:
                for direction in Direction:
                    policy._check(policy._merged(line, direction, jurisdiction), direction, line)
        return policy

    @classmethod
    def from_file(cls, path: Path) -> Policy:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise PolicyError(f"cannot read recording policy {path}: {exc}") from exc
        return cls.from_mapping(data)

    def decide(
        self, line: str | None, direction: Direction | str, jurisdiction: str
    ) -> RecordingDecision:
        """The decision for a call on ``line`` (the line's name) under ``jurisdiction``."""
        try:
            direction = Direction(direction)
        except ValueError as exc:
            raise PolicyError(f"unknown call direction {direction!r}") from exc
        rule = self._merged(line, direction, jurisdiction.upper())
        consent_required = bool(rule["consent_required"])
        if direction is Direction.CHECKIN and rule["record"]:
            # Invariant kept in code as well as in the data: a check-in call reaches a victim at
            # home, where she may not be alone; she is recorded only if she agrees on the keypad.
            consent_required = True
        return RecordingDecision(
            record=bool(rule["record"]),
            notice_message_id=rule["notice"],
            consent_required=consent_required,
            pause_during=tuple(rule["pause_during"]),
            retention_days=int(rule["retention_days"]),
            notice_waiver=rule.get("notice_waiver"),
        )

    def _merged(self, line: str | None, direction: Direction, jurisdiction: str) -> dict[str, Any]:
        rule = dict(self.data["defaults"][direction.value])
        rule.update(self.data["jurisdictions"].get(jurisdiction, {}).get(direction.value, {}))
        if line is not None:
            rule.update(self.data["lines"].get(line, {}).get(direction.value, {}))
        return rule

    @staticmethod
    def _check(rule: Mapping[str, Any], direction: Direction, line: str | None) -> None:
        where = f"{direction.value} calls" + (f" on line {line!r}" if line else "")
        if rule["record"] and rule["notice"] is None and not rule.get("notice_waiver"):
            raise PolicyError(f"{where} are recorded without a notice and without notice_waiver")
        if direction is Direction.CHECKIN and rule["record"] and not rule["consent_required"]:
            raise PolicyError(f"{where} would be recorded without the victim's consent")
        if rule["record"] and rule["consent_required"] and rule["notice"] is None:
            raise PolicyError(f"{where} require consent but no notice asks for it")


@cache
def shipped_policy() -> Policy:
    return Policy.from_file(SHIPPED_POLICY)


def decide(line: str | None, direction: Direction | str, jurisdiction: str) -> RecordingDecision:
    """Decide with the shipped policy (``policies.json``)."""
    return shipped_policy().decide(line, direction, jurisdiction)
