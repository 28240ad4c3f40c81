"""``amparo fallback``: Twilio's fallback URL served by a process that outlives the web tier.

Twilio requests a number's fallback URL when its voice URL cannot be reached or answers
nonsense. If ``/twilio/voice/fallback`` lives on the dead web tier too, the caller hears
Twilio's error and is cut off. This responder is meant for a second host (or beside the load
balancer): it needs no database, no Redis, no keys and no other Amparo process, only a book of
line number -> numbers to ring, read once at start from the hotline file (``amparo config
apply``'s TOML, its ``overflow_number`` and ``urgent_number``) and ``AMPARO_FALLBACK_NUMBER``
for any other number.

Every request under ``/twilio/voice/`` answers TwiML that dials the called line's overflow
number; when that dial ends unanswered (``/twilio/voice/dial-result``) the next number in the
book is dialled, round and round, until a person answers or the caller hangs up (safety rule 1:
never an error, never silence). After a conversation, the call ends. Documents come from the
same renderer as the web tier's (:mod:`telephony.twilio.twiml`), with relative URLs, which
Twilio resolves against the URL it requested, so the responder works behind any proxy.

Requests are not signature-checked: the responder acts on nothing and tells nothing but the
line's public overflow numbers, and a signature mismatch (a proxy rewriting the URL) must never
cost a caller her call. Logs carry no phone number.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from telephony.twilio import twiml
from telephony.twilio.links import DIAL_RESULT, VOICE, Links

log = logging.getLogger("amparo.fallback")

ANSWERED = frozenset({"completed", "answered"})
MAX_BODY = 64 * 1024


@dataclass(frozen=True)
class FallbackBook:
    """Line number (E.164) -> the numbers to ring in turn; ``default`` for any other."""

    lines: Mapping[str, Sequence[str]]
    default: str | None

    def candidates(self, dialled: str | None) -> list[str]:
        numbers = list(self.lines.get(dialled or "", ()))
        if self.default and self.default not in numbers:
            numbers.append(self.default)
        return numbers


def answer(book: FallbackBook, path: str, form: Mapping[str, str]) -> str:
    """The TwiML for one request: a dial of the next number, or the end after a
    conversation."""
    attempt = 0
    if path == DIAL_RESULT:
        if form.get("DialCallStatus") in ANSWERED:
            return twiml.hangup_document()
        attempt = _int(form.get("attempt")) + 1
    candidates = book.candidates(form.get("To"))
    number = candidates[attempt % len(candidates)] if candidates else None
    return twiml.dial_document(Links(base=""), number, target="fallback", attempt=attempt)


def _int(value: str | None) -> int:
    try:
        return max(0, int(value or 0))
    except ValueError:
        return 0


class FallbackHandler(BaseHTTPRequestHandler):
    book: FallbackBook
    server_version = "amparo-fallback"

    def do_POST(self) -> None:
        self._respond()

    def do_GET(self) -> None:
        self._respond()

    def _respond(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/healthz":
            self._send(200, "text/plain", "alive\n")
            return
        if not url.path.startswith(VOICE + "/"):
            self._send(404, "text/plain", "not found\n")
            return
        form = dict(parse_qsl(url.query))
        try:
            length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY)
            form.update(parse_qsl(self.rfile.read(length).decode("utf-8", "replace")))
            document = answer(self.book, url.path, form)
        except Exception:
            log.exception("fallback: answering with the default number")
            document = answer(self.book, VOICE + "/fallback", {})
        log.warning("fallback: a call on %s was answered by the fallback responder", url.path)
        self._send(200, "text/xml", document)

    def _send(self, status: int, mimetype: str, body: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", f"{mimetype}; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        """The standard library's access log would print query strings; ours says less."""


def serve(book: FallbackBook, host: str, port: int) -> None:
    """Answer until interrupted."""
    handler = type("BookedFallbackHandler", (FallbackHandler,), {"book": book})
    with ThreadingHTTPServer((host, port), handler) as server:
        server.daemon_threads = True
        server.serve_forever()
