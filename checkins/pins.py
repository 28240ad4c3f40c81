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


PIN_LENGTHS = range(4, 9)
"""A PIN has 4 to 8 digits: the check-in flow gathers at most 8 (``num_digits``)."""


def secret_problem(pin: str, duress_digit: str) -> str | None:
    """Why a new PIN and duress digit cannot be stored, or None when they can.

    Returns ``"pin_format"`` (not 4 to 8 digits) or ``"duress_format"`` (not one digit, or the
    PIN's own last digit: a key pressed twice by accident at the end of her PIN would then
    raise a silent duress alert, and :func:`check_pin` could not tell the two apart).
    """
    if not (pin.isascii() and pin.isdigit() and len(pin) in PIN_LENGTHS):
        return "pin_format"
    if not (duress_digit.isascii() and duress_digit.isdigit() and len(duress_digit) == 1):
        return "duress_format"
    if duress_digit == pin[-1]:
        return "duress_format"
    return None
