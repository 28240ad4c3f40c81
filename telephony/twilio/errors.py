"""The Twilio edge's errors (no HTTP codes: ``http.py`` maps them)."""

from __future__ import annotations


class MalformedCallback(ValueError):
    """A signed callback that cannot be what Twilio sends (no ``CallSid``, a status Twilio
    never reports...). Retrying it cannot help, so it is refused, not answered 503."""

    def __init__(self, error_id: str, message: str) -> None:
        super().__init__(message)
        self.error_id = error_id
        self.message = message
