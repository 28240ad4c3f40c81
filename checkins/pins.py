"""Checking the keypad code a beneficiary enters on a check-in call.

She proves it is her by entering her PIN. Entering her PIN followed by her duress digit says
"I am not free to speak": the call must sound exactly like a normal check-in while the urgent
team is alerted. Only the result of the comparison ever reaches the IVR and the logs.
"""

from __future__ import annotations

from ivr_flows.events import PinResult
from store.credentials import verify_secret


def check_pin(pin_hash: str | None, duress_digit_hash: str | None, entered: str) -> PinResult:
    digits = entered.strip().rstrip("#")
    if not digits.isdigit() or pin_hash is None:
        return PinResult.WRONG
    if verify_secret(pin_hash, digits):
        return PinResult.OK
    if (
        len(digits) > 1
        and duress_digit_hash is not None
        and verify_secret(pin_hash, digits[:-1])
        and verify_secret(duress_digit_hash, digits[-1])
    ):
        return PinResult.DURESS
    return PinResult.WRONG
