"""Twilio's webhooks and the agents' softphone token, as a Flask blueprint.

Each view is thin: check ``X-Twilio-Signature`` (403 and nothing stored when it is missing or
wrong), parse the request, call one ``TwilioEdge`` method, return TwiML. Any exception inside a
voice view still answers valid TwiML that dials the line's overflow number (safety rule 1);
the incident is logged with the call id and the exception's type only, never its message
(database errors quote their parameters). A callback that only reports (status, recording)
answers 503 when we cannot take it (Twilio retries) and 400 ``{error_id, message}`` when it
cannot be read (a retry would not help).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps

from flask import Blueprint, Response, abort, g, jsonify, request

from telephony.twilio import links as paths
from telephony.twilio import twiml
from telephony.twilio.errors import MalformedCallback
from telephony.twilio.media import MEDIA
from telephony.twilio.services import TwilioEdge
from telephony.twilio.signatures import SignatureCheck
from telephony.twilio.tokens import VoiceTokens
from telephony.twilio.webhooks import Webhook
from web.csrf import check_csrf
from web.guard import login_required

log = logging.getLogger(__name__)

IDEMPOTENCY_HEADER = "I-Twilio-Idempotency-Token"
VOICE_TOKEN_PATH = "/console/api/voice-token"  # noqa: S105 (a URL path, not a secret)

Handler = Callable[[Webhook], str]
Recovery = Callable[[Webhook], str]


def _xml(body: str, status: int = 200) -> Response:
    return Response(body, status=status, mimetype="text/xml")


def _webhook() -> Webhook:
    if request.is_json:
        body = request.get_json(silent=True)
        items = body.items() if isinstance(body, dict) else ()
        form = {str(k): str(v) for k, v in items if isinstance(v, str | int | float)}
    else:
        form = request.form.to_dict()
    return Webhook(
        form=form,
        args=request.args.to_dict(),
        idempotency_token=request.headers.get(IDEMPOTENCY_HEADER),
    )


def _incident(hook: Webhook, exc: Exception) -> None:
    try:
        call_id: str | None = hook.call_id
    except ValueError:
        call_id = None
    log.error(
        "twilio %s: call %s: %s; caller sent to the safe path",
        request.path,
        call_id,
        type(exc).__name__,
    )


def _refused(exc: MalformedCallback) -> Response:
    """A callback no retry can mend: 400 with its error id, so Twilio does not retry it."""
    log.warning("twilio %s: refused (%s)", request.path, exc.error_id)
    response = jsonify(error_id=exc.error_id, message=exc.message)
    response.status_code = 400
    return response


def twilio_blueprint(
    edge: TwilioEdge, signatures: SignatureCheck, tokens: VoiceTokens
) -> Blueprint:
    bp = Blueprint("twilio", __name__)

    def signed(recover: Recovery | None) -> Callable[[Handler], Callable[[], Response]]:
        """Validate, run ``handler``; on failure answer ``recover``'s document (voice
        webhooks) or 503 so Twilio retries (callbacks that only report; a callback that
        cannot be read gets 400 and its error id: retrying it cannot help)."""

        def decorate(handler: Handler) -> Callable[[], Response]:
            @wraps(handler)
            def view() -> Response:
                if not signatures.valid(request):
                    abort(403, description="missing or invalid Twilio signature")
                hook = _webhook()
                try:
                    return _xml(handler(hook))
                except Exception as exc:
                    if recover is None and isinstance(exc, MalformedCallback):
                        return _refused(exc)
                    _incident(hook, exc)
                    if recover is None:
                        return _xml(twiml.empty_document(), status=503)
                    try:
                        return _xml(recover(hook))
                    except Exception as again:
                        _incident(hook, again)
                        last_resort = edge.book.fallback_number
                        return _xml(twiml.dial_document(edge.links, last_resort, target="fallback"))

            return view

        return decorate

    def report(handler: Callable[[Webhook], None]) -> Handler:
        def run(hook: Webhook) -> str:
            handler(hook)
            return twiml.empty_document()

        return run

    def dial_overflow(hook: Webhook) -> str:
        return edge.fallback_document(hook)

    def leave_queue(_hook: Webhook) -> str:
        return twiml.leave_queue_document()

    def hang_up_the_service(_hook: Webhook) -> str:
        # Its leg's end is then reported as a pending transfer's: she is back with her agent.
        return twiml.hangup_document()

    def join_her_conference(hook: Webhook) -> str:
        return twiml.join_conference_document(hook.call_id)  # she interprets, unannounced

    def play_nothing(_hook: Webhook) -> str:
        return twiml.empty_document()  # an announcement that fails leaves her in the call

    routes: list[tuple[str, Handler, Recovery | None]] = [
        (paths.INCOMING, edge.incoming, dial_overflow),
        (paths.STEP, edge.step, dial_overflow),
        (paths.OUTBOUND_ANSWERED, edge.outbound_answered, dial_overflow),
        (paths.QUEUE_WAIT, edge.queue_wait, leave_queue),
        (paths.QUEUE_RESULT, edge.queue_result, dial_overflow),
        (paths.DIAL_RESULT, edge.dial_result, dial_overflow),
        (paths.BRIDGE_ENDED, edge.bridge_ended, dial_overflow),
        (paths.FALLBACK, edge.twilio_fallback, dial_overflow),
        (paths.KEYS, edge.legs.keys, play_nothing),
        (paths.TRANSFER_ANSWERED, edge.legs.transfer_answered, hang_up_the_service),
        (paths.INTERPRETER_ANSWERED, edge.legs.interpreter_answered, join_her_conference),
        (paths.ANNOUNCEMENT, edge.legs.announcement, play_nothing),
        (paths.STATUS, report(edge.status), None),
        (paths.RECORDING, report(edge.recording), None),
    ]
    for path, handler, recover in routes:
        endpoint = path.rsplit("/", 1)[-1].replace("-", "_")
        bp.add_url_rule(path, endpoint, signed(recover)(handler), methods=["POST"])

    @bp.get("/twilio/media/<name>")
    def media(name: str) -> Response:
        make = MEDIA.get(name)
        if make is None:
            abort(404)
        response = Response(make(), mimetype="audio/wav")
        response.headers["Cache-Control"] = "public, max-age=86400"
        return response

    @bp.post(VOICE_TOKEN_PATH)
    @login_required()
    def voice_token() -> tuple[Response, int] | Response:
        check_csrf()
        if not tokens.configured:
            body = {
                "error_id": "twilio_not_configured",
                "message": "Twilio softphone is not configured on this server",
            }
            return jsonify(body), 503
        issued = tokens.issue(str(g.agent_id))
        response = jsonify(
            token=issued.token, identity=issued.identity, expires_in=issued.expires_in
        )
        response.headers["Cache-Control"] = "no-store"
        return response

    return bp
