"""A test driver that plays Twilio: signed webhooks in, TwiML out, followed verb by verb.

It sends the parameters Twilio really sends (``AccountSid``, ``CallSid``, ``From``, ``To``,
``Called``, ``Caller``, ``CallStatus``, ``Direction``, ``ApiVersion``, ``FromCountry``...), signs
each request with ``X-Twilio-Signature`` over the URL it requests, adds an
``I-Twilio-Idempotency-Token``, and executes the returned TwiML the way Twilio does: ``Say`` and
``Play`` are heard, ``Gather`` waits for the test to ``press`` digits or stay ``silent``,
``Redirect`` is followed, ``Enqueue`` puts the caller on hold (``hold`` fetches the wait
document), ``Dial`` rings a number or joins a conference, ``Hangup`` ends the call, and a document
that simply ends hangs up (which the tests treat as a safety failure). A non-2xx answer or
unreadable TwiML makes it request the fallback URL, as Twilio would.

It drives a Flask test client (fast, for tests) or a real server over HTTP (the benchmark).
"""

from __future__ import annotations

import secrets
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qs, urljoin, urlsplit

import phonenumbers
from twilio.request_validator import RequestValidator

ACCOUNT_SID = "AC" + "5e1f7a9c" * 4
AUTH_TOKEN = "driver-auth-token-for-tests-only"
API_VERSION = "2010-04-01"
VOICE = "/twilio/voice"
MAX_REDIRECTS = 25


class Transport(Protocol):
    def post(self, url: str, data: Mapping[str, str], headers: Mapping[str, str]) -> Reply: ...


@dataclass(frozen=True)
class Reply:
    status: int
    body: str


class FlaskTransport:
    """Requests through ``app.test_client()``: the URL's path and query reach the app."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def post(self, url: str, data: Mapping[str, str], headers: Mapping[str, str]) -> Reply:
        parts = urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        response = self.client.post(
            target,
            data=dict(data),
            headers=dict(headers),
            base_url=f"{parts.scheme}://{parts.netloc}",
        )
        reply = Reply(response.status_code, response.get_data(as_text=True))
        response.close()  # as a WSGI server does once the answer is sent
        return reply


class HttpTransport:
    """Requests over HTTP to a running server (keep-alive session per thread)."""

    def __init__(self, timeout: float = 20.0) -> None:
        import requests

        self.session = requests.Session()
        self.timeout = timeout

    def post(self, url: str, data: Mapping[str, str], headers: Mapping[str, str]) -> Reply:
        """A refused connection or a timeout is a failed request for Twilio (error 11200,
        then the fallback URL), answered here as a 502 with no body."""
        import requests

        try:
            response = self.session.post(
                url, data=dict(data), headers=dict(headers), timeout=self.timeout
            )
        except (requests.ConnectionError, requests.Timeout):
            return Reply(502, "")
        return Reply(response.status_code, response.text)


@dataclass(frozen=True)
class Heard:
    """Something the caller heard: spoken ``text`` (with its language and voice), a played
    ``url``, or a pause."""

    kind: str
    text: str = ""
    language: str = ""
    voice: str = ""
    url: str = ""


@dataclass
class Exchange:
    url: str
    params: dict[str, str]
    reply: Reply


def _country(number: str) -> str:
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(number)) or ""
    except phonenumbers.NumberParseException:
        return ""


class TwilioDriver:
    """Twilio for one account, sending to one application at ``base_url``."""

    def __init__(
        self,
        transport: Transport,
        base_url: str,
        *,
        auth_token: str = AUTH_TOKEN,
        account_sid: str = ACCOUNT_SID,
    ) -> None:
        self.transport = transport
        self.base_url = base_url.rstrip("/")
        self.validator = RequestValidator(auth_token)
        self.account_sid = account_sid
        self.exchanges: list[Exchange] = []

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def sign(self, url: str, params: Mapping[str, str]) -> str:
        return str(self.validator.compute_signature(url, dict(params)))

    def post(
        self,
        url: str,
        params: Mapping[str, str],
        *,
        signature: str | None = None,
        token: str | None = None,
        sign: bool = True,
    ) -> Reply:
        headers = {
            "User-Agent": "TwilioProxy/1.1",
            "I-Twilio-Idempotency-Token": token or f"{self.account_sid}-{uuid.uuid4()}",
        }
        if sign:
            headers["X-Twilio-Signature"] = signature or self.sign(url, params)
        reply = self.transport.post(url, params, headers)
        self.exchanges.append(Exchange(url, dict(params), reply))
        return reply

    def call(
        self,
        to: str,
        from_: str,
        *,
        voice_url: str | None = None,
        status_url: str | None = None,
        fallback_url: str | None = None,
    ) -> DrivenCall:
        """An inbound call from ``from_`` to our number ``to``: Twilio requests the voice URL."""
        call = DrivenCall(
            self,
            to=to,
            from_=from_,
            status_url=status_url or self.url(f"{VOICE}/status"),
            fallback_url=fallback_url or self.url(f"{VOICE}/fallback"),
        )
        call.request(voice_url or self.url(f"{VOICE}/incoming"), status="ringing")
        return call

    def answer_outbound(
        self, call_sid: str, url: str, *, to: str, from_: str, answered_by: str = "human"
    ) -> DrivenCall:
        """An outbound call we placed was answered: Twilio requests its ``url``."""
        call = DrivenCall(
            self,
            to=to,
            from_=from_,
            direction="outbound-api",
            sid=call_sid,
            status_url=None,
            fallback_url=None,
        )
        call.request(url, extra={"AnsweredBy": answered_by})
        return call


OVERRIDE_RETRY_WAIT_S = 1.0


def _override_retries(url: str) -> int:
    """Twilio's connection overrides on a callback URL (``#rc=5&rp=all...``): how many times a
    failed callback (a 5xx: ``rp=all``) is sent again, with the same idempotency token."""
    overrides = parse_qs(urlsplit(url).fragment)
    if "all" not in overrides.get("rp", []):
        return 0
    return int(overrides.get("rc", ["0"])[0])


@dataclass
class DrivenCall:
    driver: TwilioDriver
    to: str
    from_: str
    status_url: str | None
    fallback_url: str | None
    direction: str = "inbound"
    sid: str = field(default_factory=lambda: "CA" + secrets.token_hex(16))
    heard: list[Heard] = field(default_factory=list)
    where: str = "ringing"
    """``gather``, ``queued``, ``dialing``, ``conference``, ``ended`` (a ``Hangup``),
    ``hung_up`` (the caller left), or ``fell_through`` (the document ended: Twilio hangs up)."""
    queue: str | None = None
    dialled: list[str] = field(default_factory=list)
    conference: str | None = None
    fallback_used: int = 0
    pending: ET.Element | None = None
    rest: list[ET.Element] = field(default_factory=list)
    sequence: int = 0
    last: tuple[str, dict[str, str], str] | None = None

    # -- what the test does -------------------------------------------------------------------

    def press(self, digits: str) -> DrivenCall:
        gather = self._expect("gather")
        self.request(
            self._action(gather), extra={"Digits": digits, "FinishedOnKey": "", "msg": "Gather End"}
        )
        return self

    def silent(self) -> DrivenCall:
        """Press nothing until the gather times out."""
        gather = self._expect("gather")
        if gather.get("actionOnEmptyResult") == "true":
            self.request(self._action(gather), extra={"msg": "Gather End"})
        else:
            self._execute(self.rest)  # Twilio goes on with the verbs after the Gather
        return self

    def hold(self, times: int = 1, queue_time: int = 30) -> DrivenCall:
        """Twilio requests the queue's wait URL ``times`` times while the caller waits."""
        for round_ in range(times):
            enqueue = self._expect("queued")
            wait_url = self._absolute(enqueue.get("waitUrl") or "")
            extra = {
                "QueueSid": "QU" + "0" * 32,
                "QueuePosition": "1",
                "QueueTime": str(queue_time * (round_ + 1)),
                "AvgQueueTime": "20",
                "CurrentQueueSize": "1",
                "MaxQueueSize": "100",
            }
            reply = self.driver.post(wait_url, self._params("in-progress", extra))
            root = self._parse(reply)
            if root is None:
                return self
            for verb in root:
                if verb.tag == "Leave":
                    self._queue_action("leave")
                    return self
                if verb.tag == "Hangup":
                    self.where = "ended"
                    return self
                self._hear(verb)
        return self

    def redirected(self) -> DrivenCall:
        """Our REST update moved the live call (an agent took her, or routing's overflow):
        Twilio ends the queue's ``Enqueue`` with ``QueueResult=redirected``."""
        self._queue_action("redirected")
        return self

    def dial_ended(self, status: str = "no-answer") -> DrivenCall:
        """The ``<Dial>`` ends with ``DialCallStatus`` (no-answer, busy, failed, completed)."""
        dial = self._expect("dialing", "conference")
        self.where = "in-progress"
        extra = {"DialCallStatus": status, "DialCallSid": "CA" + secrets.token_hex(16)}
        if status == "completed":
            extra["DialCallDuration"] = "42"
        self.request(self._action(dial), extra=extra)
        return self

    def hangup(self) -> DrivenCall:
        """The caller hangs up: the queue's action (if queued), then the status callback."""
        if self.where == "queued" and self.pending is not None:
            self.driver.post(
                self._action(self.pending),
                self._params("completed", {"QueueResult": "hangup", "QueueTime": "12"}),
            )
        self.where = "hung_up"
        self.pending = None
        self.send_status("completed")
        return self

    def send_status(self, status: str, sequence: int | None = None) -> Reply | None:
        if not self.status_url:
            return None
        if sequence is None:
            self.sequence += 1
            sequence = self.sequence
        extra = {
            "SequenceNumber": str(sequence),
            "CallbackSource": "call-progress-events",
            "Timestamp": "Tue, 01 Jan 2030 00:00:00 +0000",
        }
        if status == "completed":
            extra.update(CallDuration="35", Duration="1")
        params = self._params(status, extra)
        token = f"{self.driver.account_sid}-{uuid.uuid4()}"
        reply = self.driver.post(self.status_url, params, token=token)
        for _ in range(_override_retries(self.status_url)):
            if reply.status < 500:
                break
            time.sleep(OVERRIDE_RETRY_WAIT_S)
            reply = self.driver.post(self.status_url, params, token=token)
        return reply

    def retry_last(self) -> Reply:
        """Twilio retries the last request: same URL, parameters and idempotency token."""
        assert self.last is not None
        url, params, token = self.last
        return self.driver.post(url, params, token=token)

    # -- what the caller heard ----------------------------------------------------------------

    def said(self, language: str | None = None) -> list[str]:
        return [
            h.text
            for h in self.heard
            if h.kind == "say" and (language is None or h.language == language)
        ]

    def languages(self) -> set[str]:
        return {h.language for h in self.heard if h.kind == "say"}

    # -- Twilio's side -------------------------------------------------------------------------

    def _params(self, status: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        params = {
            "AccountSid": self.driver.account_sid,
            "ApiVersion": API_VERSION,
            "CallSid": self.sid,
            "CallStatus": status,
            "Direction": self.direction,
            "From": self.from_,
            "Caller": self.from_,
            "FromCountry": _country(self.from_),
            "FromCity": "",
            "FromState": "",
            "FromZip": "",
            "CallerCountry": _country(self.from_),
            "To": self.to,
            "Called": self.to,
            "ToCountry": _country(self.to),
            "ToCity": "",
            "ToState": "",
            "ToZip": "",
            "CalledCountry": _country(self.to),
        }
        params.update(extra or {})
        return params

    def request(
        self, url: str, *, status: str = "in-progress", extra: Mapping[str, str] | None = None
    ) -> None:
        """Request ``url`` as Twilio would and execute the TwiML it answers."""
        params = self._params(status, extra)
        token = f"{self.driver.account_sid}-{uuid.uuid4()}"
        self.last = (url, params, token)
        reply = self.driver.post(url, params, token=token)
        root = self._parse(reply)
        if root is None:
            return
        self._execute(list(root))

    def _parse(self, reply: Reply) -> ET.Element | None:
        try:
            ok = 200 <= reply.status < 300
            # Our own application's answer under test, not untrusted input.
            root = ET.fromstring(reply.body) if ok else None  # noqa: S314
        except ET.ParseError:
            root = None
        if root is None or root.tag != "Response":
            self._use_fallback(reply)
            return None
        return root

    def _use_fallback(self, reply: Reply) -> None:
        if not self.fallback_url or self.fallback_used > 3:
            self.where = "fell_through"
            return
        self.fallback_used += 1
        code = "11200" if reply.status >= 300 else "12100"
        self.request(self.fallback_url, extra={"ErrorCode": code, "ErrorUrl": "hidden"})

    def _execute(self, verbs: list[ET.Element], depth: int = 0) -> None:
        if depth > MAX_REDIRECTS:
            raise RuntimeError("redirect loop")
        for index, verb in enumerate(verbs):
            tag = verb.tag
            if tag in {"Say", "Play", "Pause"}:
                self._hear(verb)
            elif tag == "Gather":
                for prompt in verb:
                    self._hear(prompt)
                self.where, self.pending, self.rest = "gather", verb, verbs[index + 1 :]
                return
            elif tag == "Redirect":
                self.request(self._absolute(verb.text or ""))
                return
            elif tag == "Enqueue":
                self.where, self.pending, self.queue = "queued", verb, (verb.text or "")
                return
            elif tag == "Dial":
                self.pending = verb
                conference = verb.find("Conference")
                if conference is not None:
                    self.where, self.conference = "conference", conference.text
                else:
                    self.where = "dialing"
                    self.dialled.extend(
                        (n.text or "") for n in verb if n.tag in {"Number", "Client"}
                    )
                    if verb.text and verb.text.strip():
                        self.dialled.append(verb.text.strip())
                return
            elif tag == "Hangup":
                self.where, self.pending = "ended", None
                return
            elif tag == "Record":
                self.where, self.pending = "recording", verb
                return
            else:
                raise AssertionError(f"unexpected TwiML verb {tag}")
        self.where, self.pending = "fell_through", None

    def _hear(self, verb: ET.Element) -> None:
        if verb.tag == "Say":
            self.heard.append(
                Heard(
                    "say",
                    text=verb.text or "",
                    language=verb.get("language", ""),
                    voice=verb.get("voice", ""),
                )
            )
        elif verb.tag == "Play":
            self.heard.append(Heard("play", url=verb.text or ""))
        elif verb.tag == "Pause":
            self.heard.append(Heard("pause"))

    def _queue_action(self, result: str) -> None:
        enqueue = self._expect("queued")
        self.where = "in-progress"
        self.request(self._action(enqueue), extra={"QueueResult": result, "QueueTime": "60"})

    def _expect(self, *where: str) -> ET.Element:
        assert self.where in where and self.pending is not None, (
            f"the call is {self.where}, not {' or '.join(where)}"
        )
        return self.pending

    def _action(self, verb: ET.Element) -> str:
        return self._absolute(verb.get("action") or "")

    def _absolute(self, url: str) -> str:
        assert url, "a verb without a URL"
        return urljoin(self.driver.base_url + "/", url)
