"""The Twilio parts one process needs, built once from its runtime (called by app.py).

* :func:`twilio_blueprint_for` -- the webhooks, hold media and the softphone token route;
  registered always (with no auth token every webhook is refused with 403);
* :func:`twilio_redirectors` -- routing's overflow redirector for Twilio calls, when the REST
  API is configured;
* :func:`twilio_voice` / :func:`twilio_bridge` -- the REST client (outbound check-in calls)
  and the agent/supervisor bridge, None when Twilio is off.

``runtime`` is ``app.Runtime`` (typed loosely: this module must not import the composition
root). Everything is cached in ``runtime.extras`` so each process builds it once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis
from flask import Blueprint

from checkins.attempts import report_unanswered
from recordings_policy.jobs import enqueue_twilio_recording
from telephony.overflow import OverflowBook
from telephony.twilio.bridge import TwilioBridge, TwilioRedirector
from telephony.twilio.calls import TwilioCalls
from telephony.twilio.client import TwilioVoice
from telephony.twilio.http import twilio_blueprint
from telephony.twilio.links import Links
from telephony.twilio.rate_limit import OutboundPacer
from telephony.twilio.recordings import rest_client
from telephony.twilio.services import TwilioEdge
from telephony.twilio.signatures import SignatureCheck
from telephony.twilio.tokens import VoiceTokens

EXTRA = "twilio"


@dataclass
class TwilioParts:
    links: Links
    calls: TwilioCalls
    book: OverflowBook
    voice: TwilioVoice | None
    bridge: TwilioBridge | None
    redirector: TwilioRedirector | None
    jobs: redis.Redis | None = None


def twilio_parts(runtime: Any) -> TwilioParts:
    if EXTRA not in runtime.extras:
        settings = runtime.settings
        links = Links(settings.public_base_url)
        calls = TwilioCalls(runtime.redis, runtime.sessions)
        book = OverflowBook(settings.fallback_number)
        book.load(runtime.sessions)
        client = rest_client(settings)
        voice = bridge = redirector = None
        if client is not None:
            voice = TwilioVoice(
                client,
                links,
                calls,
                pacer=OutboundPacer(runtime.redis, settings.twilio_cps),
                neutral_caller_id=settings.twilio_neutral_caller_id,
            )
            bridge = TwilioBridge(voice, calls, links, book)
            redirector = TwilioRedirector(voice, calls, links)
        runtime.extras[EXTRA] = TwilioParts(links, calls, book, voice, bridge, redirector)
    parts: TwilioParts = runtime.extras[EXTRA]
    return parts


def twilio_voice(runtime: Any) -> TwilioVoice | None:
    return twilio_parts(runtime).voice


def twilio_bridge(runtime: Any) -> TwilioBridge | None:
    return twilio_parts(runtime).bridge


def twilio_redirectors(runtime: Any) -> dict[str, Any]:
    """``{"twilio": redirector}`` for ``TelephonyControl.redirectors`` (empty when off)."""
    redirector = twilio_parts(runtime).redirector
    return {"twilio": redirector} if redirector is not None else {}


def twilio_blueprint_for(runtime: Any) -> Blueprint:
    parts = twilio_parts(runtime)
    settings = runtime.settings

    def enqueue_recording(recording_id: str) -> bool:
        if parts.jobs is None:
            parts.jobs = runtime.jobs_connection()
        return enqueue_twilio_recording(parts.jobs, recording_id)

    def accept_recording(call_id: str, recording_sid: str, at: Any) -> str:
        archive = runtime.recordings().archive
        recording_id: str = archive.accept_twilio_recording(call_id, recording_sid, at)
        return recording_id

    edge = TwilioEdge(
        links=parts.links,
        book=parts.book,
        calls=parts.calls,
        live=runtime.redis,
        sessions=runtime.sessions,
        call_log=runtime.call_log,
        switchboard=runtime.switchboard,
        accept_recording=accept_recording,
        enqueue_recording=enqueue_recording,
        bridge=lambda: parts.bridge,
        unanswered=lambda call_id, reason, at: report_unanswered(
            runtime.checkins(), call_id, reason, at
        ),
    )
    signatures = SignatureCheck(settings.twilio_auth_token, settings.public_base_url)
    tokens = VoiceTokens(
        account_sid=settings.twilio_account_sid,
        api_key=settings.twilio_api_key,
        api_secret=settings.twilio_api_secret,
        twiml_app_sid=settings.twilio_twiml_app_sid,
    )
    return twilio_blueprint(edge, signatures, tokens)
