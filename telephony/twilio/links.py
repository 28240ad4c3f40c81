"""Every URL Twilio is told to request, built from ``AMPARO_PUBLIC_BASE_URL``.

URLs are absolute because Twilio signs the exact URL it requests and the app sits behind
proxies: the signature is checked against the public base URL plus the path and query, so the
URLs handed out here are the ones checked on the way back.

Query strings carry ids and switches only (``call`` id, ``line`` id, ``turn`` number,
``locale``), never a phone number or anything a caller typed. They are covered by Twilio's
signature, so a view may trust them.

Status and recording callbacks only report, and Twilio sends each one once unless the URL asks
for retries: their URLs end in Twilio's connection overrides (:data:`CALLBACK_OVERRIDES`, a
fragment Twilio reads and never sends), so a callback that meets a 5xx, a refused connection
or a timeout is sent again. See the README, "Twilio".
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from urllib.parse import urlencode

VOICE = "/twilio/voice"
INCOMING = f"{VOICE}/incoming"
STEP = f"{VOICE}/step"
STATUS = f"{VOICE}/status"
RECORDING = f"{VOICE}/recording"
QUEUE_WAIT = f"{VOICE}/queue-wait"
QUEUE_RESULT = f"{VOICE}/queue-result"
FALLBACK = f"{VOICE}/fallback"
DIAL_RESULT = f"{VOICE}/dial-result"
OUTBOUND_ANSWERED = f"{VOICE}/outbound-answered"
BRIDGE_ENDED = f"{VOICE}/bridge-ended"
KEYS = f"{VOICE}/keys"
TRANSFER_ANSWERED = f"{VOICE}/transfer-answered"
INTERPRETER_ANSWERED = f"{VOICE}/interpreter-answered"
ANNOUNCEMENT = f"{VOICE}/announcement"
HOLD_MEDIA = "/twilio/media/hold.wav"

#: Twilio's connection overrides on callback URLs: up to 5 retries (``rc``) on any failure
#: (``rp=all``: 5xx, refused or slow connections; a 4xx is retried too, harmlessly), 2 s to
#: connect (``ct``), 5 s to answer (``rt``), 15 s for all attempts (``tt``, Twilio's maximum).
CALLBACK_OVERRIDES = "#rc=5&rp=all&ct=2000&rt=5000&tt=15000"


class HoldMode(StrEnum):
    """What a caller on hold hears.

    ``standard``: her place in the queue, then music. ``urgent``: "stay on the line, we are
    connecting you", then music. ``quiet``: nothing at all, for silent callers, device
    alarms, duress and callers who cannot talk safely, where any sound could tell an
    aggressor that help was called.
    """

    STANDARD = "standard"
    URGENT = "urgent"
    QUIET = "quiet"


class Leg(StrEnum):
    """Which leg of a call a status callback is about."""

    CALLER = "caller"
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    INTERPRETER = "interpreter"
    TRANSFER = "transfer"


@dataclass(frozen=True)
class Links:
    """URLs for one call. ``turn`` is the number of the request being answered (0 for the
    call's first webhook); a gather's answer comes back as turn ``turn + 1``, which makes
    ``CallSid + turn`` the idempotency key of that answer."""

    base: str
    call_id: str | None = None
    line_id: str | None = None
    turn: int = 0

    def for_call(self, call_id: str | None, line_id: str | None, turn: int = 0) -> Links:
        return replace(self, call_id=call_id, line_id=line_id, turn=turn)

    def _url(self, path: str, **query: object) -> str:
        params: dict[str, object] = {"call": self.call_id, "line": self.line_id, **query}
        pairs = [
            (name, "1" if value is True else str(value))
            for name, value in params.items()
            if value is not None and value is not False and value != ""
        ]
        return f"{self.base}{path}" + (f"?{urlencode(pairs)}" if pairs else "")

    def step(self, *, silence: bool = False) -> str:
        return self._url(STEP, turn=self.turn + 1, silence=silence)

    def queue_wait(self, locale: str, mode: HoldMode) -> str:
        return self._url(QUEUE_WAIT, locale=locale, mode=mode.value)

    def queue_result(self) -> str:
        return self._url(QUEUE_RESULT)

    def dial_result(self, target: str, attempt: int) -> str:
        return self._url(DIAL_RESULT, target=target, attempt=attempt)

    def fallback(self) -> str:
        return self._url(FALLBACK)

    def status(self, leg: Leg = Leg.CALLER) -> str:
        leg_name = None if leg is Leg.CALLER else leg.value
        return self._url(STATUS, leg=leg_name) + CALLBACK_OVERRIDES

    def recording(self) -> str:
        return self._url(RECORDING) + CALLBACK_OVERRIDES

    def outbound_answered(self) -> str:
        return self._url(OUTBOUND_ANSWERED)

    def bridge_ended(self) -> str:
        return self._url(BRIDGE_ENDED)

    def transfer_answered(self) -> str:
        """Fetched by Twilio when the service of a cold transfer answers."""
        return self._url(TRANSFER_ANSWERED)

    def interpreter_answered(self) -> str:
        """Fetched by Twilio when the interpreter answers: she joins, caller and agent hear
        that she does."""
        return self._url(INTERPRETER_ANSWERED)

    def announcement(self, prompt: str) -> str:
        """A notice everyone in her conference hears (``ivr_flows.announcements``)."""
        return self._url(ANNOUNCEMENT, prompt=prompt)

    def keys(self, sent: int) -> str:
        """The announcement that plays the ``sent``-th keys the agent sent (the keys stay in
        Redis: a URL never carries what was typed)."""
        return self._url(KEYS, sent=sent)

    def hold_media(self) -> str:
        return f"{self.base}{HOLD_MEDIA}"
