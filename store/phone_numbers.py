"""Phone numbers: normalized to E.164 on the way in, found by keyed hash, never stored in clear."""

from __future__ import annotations

import phonenumbers

from store import crypto


class InvalidPhoneNumber(ValueError):
    error_id = "invalid_phone_number"


def to_e164(raw: str, default_region: str | None = None) -> str:
    """Normalize ``raw`` (national or international form) to E.164, or raise InvalidPhoneNumber."""
    try:
        parsed = phonenumbers.parse(raw, default_region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumber("not a phone number") from exc
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidPhoneNumber("not a possible phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def lookup_hash(e164: str) -> str:
    return crypto.active().lookup_hash(e164)
