"""The console's language: the agent's own choice, else the browser's, else the line default
(:func:`web.language.ui_locale`).

Texts come from the ``messages`` catalogs (``locales/<lang>/LC_MESSAGES/messages.po``) by stable
key; templates call ``_("console.key")`` and the scripts receive the keys they need as JSON.
Callers' data is shown with ``dir="auto"`` whatever the console's language, so a name or a
safety plan written in Arabic reads right to left inside a Spanish page.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Blueprint, Flask, abort, jsonify, redirect, request, session
from werkzeug.wrappers import Response

from agent_console.beneficiaries import PHONE_KIND_TEXT
from agent_console.texts import (
    AFTER_CALL_TEXT,
    ALARM_TEXT,
    DISPOSITION_TEXT,
    ESCALATION_REASON_TEXT,
    RESOURCE_TEXT,
    STATE_TEXT,
)
from locales import UI_LOCALES
from locales.markers import N_
from locales.prompts import ui_text
from locales.ui_strings import FLAGS, RISK
from locales.voices import text_direction
from web.bodies import json_object
from web.csrf import check_csrf
from web.language import ui_locale
from web.targets import local_target

SCRIPT_MESSAGES = (
    N_("console.offer.incoming"),
    N_("console.offer.accept"),
    N_("console.offer.reject"),
    N_("console.offer.withdrawn"),
    N_("console.state.changed"),
    N_("console.error.generic"),
    N_("console.error.no_bridge"),
    N_("console.error.offer_gone"),
    N_("console.error.agent_unavailable"),
    N_("console.escalation.ringing"),
    N_("console.escalation.acknowledged"),
    N_("console.call.ended"),
    N_("console.call.on_hold"),
    N_("console.call.connected"),
    N_("console.call.muted"),
    N_("console.call.unmuted"),
    N_("console.call.keys_sent"),
    N_("console.softphone.ready"),
    N_("console.softphone.voice_unavailable"),
    N_("console.softphone.simulated"),
    N_("console.events.reconnecting"),
    N_("console.events.connected"),
    N_("console.risk.reason_required"),
    N_("console.saved"),
    N_("console.escalation.sent"),
    N_("console.call.transferred"),
    N_("console.call.interpreter_added"),
    N_("console.call.interpreter_removed"),
    N_("console.place.dialing"),
    N_("console.place.not_dialled"),
    N_("console.place.cancelled"),
    N_("console.place.answered_first"),
    N_("console.call.interpreter_calling"),
    N_("console.call.interpreter_not_called"),
    N_("console.call.interpreter_failed"),
    N_("console.call.transfer_ringing"),
    N_("console.call.transferred_out"),
    N_("console.call.transfer_failed"),
    N_("console.call.transfer_consulting"),
    N_("console.call.transfer_returned"),
    N_("console.card.loading"),
    N_("console.card.refer"),
    N_("console.card.referred"),
    N_("console.card.resources_nearest"),
    N_("console.card.resources_in"),
    N_("console.case.no_location"),
    N_("console.error.not_your_escalation"),
    N_("console.callback.dialing"),
    N_("console.callback.outside_window"),
    N_("console.callback.not_dialled"),
    N_("console.language"),
    N_("console.flags"),
    N_("console.escalation.acknowledge"),
    N_("console.escalation.ringing_for"),
    N_("console.escalation.same_call"),
    N_("console.call.caller_gone"),
    N_("console.call.wrap_up_left"),
)


def script_texts(locale: str) -> dict[str, str]:
    return {message_id: ui_text(message_id, locale) for message_id in SCRIPT_MESSAGES}


def labels(locale: str) -> dict[str, dict[str, str]]:
    """Names of the console's vocabulary for its scripts."""
    groups: dict[str, Mapping[str, str]] = {
        "state": STATE_TEXT,
        "after_call": AFTER_CALL_TEXT,
        "risk": RISK,
        "flag": FLAGS,
        "alarm": ALARM_TEXT,
        "resource": RESOURCE_TEXT,
        "disposition": DISPOSITION_TEXT,
        "reason": ESCALATION_REASON_TEXT,
        "phone_kind": PHONE_KIND_TEXT,
    }
    return {
        name: {item: ui_text(message_id, locale) for item, message_id in texts.items()}
        for name, texts in groups.items()
    }


def language_blueprint(default_locale: str) -> Blueprint:
    """Template helpers (``_``, ``lang``, ``direction``) and ``POST /console/language``."""
    bp = Blueprint("language", __name__)

    @bp.app_context_processor
    def _inject() -> dict[str, Any]:
        locale = ui_locale(default_locale)
        return {
            "_": lambda message_id: ui_text(message_id, locale),
            "lang": locale,
            "direction": text_direction(locale),
            "ui_locales": UI_LOCALES,
            "script_texts": lambda: script_texts(locale),
            "labels": lambda: labels(locale),
        }

    @bp.post("/console/language")
    def choose() -> Response | tuple[Response, int]:
        check_csrf()
        locale = json_object(or_form=True).get("locale")
        if locale not in UI_LOCALES:
            abort(400, description=f"language must be one of {', '.join(UI_LOCALES)}")
        session["locale"] = locale
        if request.is_json:
            return jsonify(locale=locale), 200
        return redirect(local_target(request.form.get("next"), "/console"))

    return bp


def install(app: Flask, default_locale: str) -> None:
    app.register_blueprint(language_blueprint(default_locale))
