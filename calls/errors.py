"""Errors of the call rules: a stable ``error_id`` and a message, no HTTP status (each edge
maps them)."""

from __future__ import annotations


class CallRuleError(Exception):
    """A request about a call that the rules refuse."""

    def __init__(self, error_id: str, message: str) -> None:
        super().__init__(message)
        self.error_id = error_id
        self.message = message


class InvalidOutcome(CallRuleError):
    """The outcome given for a call is not one the rules accept (bad input)."""


class EscalationRefused(CallRuleError):
    """The urgent team cannot be rung about this call now."""


class UnknownEscalation(CallRuleError):
    """No escalation has this id (never opened, or ended and forgotten by routing)."""


class EscalationForbidden(CallRuleError):
    """The person may not answer this escalation nor read its case."""


class UnknownResource(CallRuleError):
    """No active resource of the call's line has this id."""


class NotRinging(CallRuleError):
    """The agent's call is not ringing any more: answered first, or already over."""
