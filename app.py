"""The web application: ``create_app`` and its blueprints, built on the composition root
(``runtime.py``)."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from agent_console.console import content_policy, register_console
from agent_console.health import health_blueprint
from checkins.http import checkins_api
from checkins.operations_page import operations_blueprint
from checkins.provisioning_http import provisioning_api
from recordings_policy.http import recordings_blueprint
from routing import views as routing_views
from runtime import Runtime, build_runtime
from settings import Settings, load_settings
from store import database, live_state, metrics
from telephony.simulator.http import simulator_api
from telephony.simulator.page import simulator_page
from telephony.sip import commands as sip_commands
from telephony.sip.http import browser_phone_blueprint
from telephony.twilio.http import twilio_blueprint
from web import errors as web_errors
from web import headers as web_headers
from web.metrics import metrics_blueprint, time_webhooks


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> Flask:
    """Build the web application on ``runtime`` (built from ``settings``, by default the
    ``AMPARO_*`` environment, when not given)."""
    if runtime is None:
        runtime = build_runtime(settings or load_settings())
    settings = runtime.settings
    app = Flask(
        __name__,
        template_folder="agent_console/templates",
        static_folder="agent_console/static",
    )
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
        SESSION_COOKIE_NAME="amparo_session",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
    )
    app.extensions["amparo"] = runtime
    if settings.trusted_proxies:
        # Behind the load balancer every request comes from it: trust exactly this many hops
        # of X-Forwarded-For/-Proto, so sign-in limits and the audit see the person's address.
        hops = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

    app.register_blueprint(
        health_blueprint(
            {
                "database": lambda: database.answers(runtime.engine),
                "redis": lambda: live_state.answers(runtime.redis),
                "routing": runtime.routing_ready,
            },
            {"timekeeper": runtime.timekeeper_running},
        )
    )
    app.register_blueprint(
        metrics_blueprint(
            settings.metrics_token,
            lambda: runtime.redis,
            (routing_views.metric_readings, sip_commands.metric_readings, metrics.job_readings),
        )
    )
    time_webhooks(app, lambda: runtime.redis)
    register_console(app, runtime.console_ports)

    if settings.simulator_enabled:
        app.register_blueprint(simulator_api(lambda: runtime.simulator))
        app.register_blueprint(
            simulator_page(lambda: runtime.simulator, runtime.sessions, settings.default_locale)
        )

    app.register_blueprint(
        recordings_blueprint(
            runtime.recordings.archive, runtime.recordings.access, runtime.recordings.tokens
        )
    )
    app.register_blueprint(
        twilio_blueprint(runtime.twilio_edge, runtime.twilio_signatures, runtime.voice_tokens)
    )
    if runtime.browser_phones is not None:
        app.register_blueprint(browser_phone_blueprint(runtime.browser_phones))
    app.register_blueprint(checkins_api(lambda: runtime.checkins))
    app.register_blueprint(provisioning_api(lambda: runtime.checkins))
    app.register_blueprint(
        operations_blueprint(lambda: runtime.checkins.jobs, lambda: runtime.redis, runtime.sessions)
    )
    if settings.twilio_auth_token:
        from telephony.twilio.sms import twilio_sms_blueprint

        app.register_blueprint(
            twilio_sms_blueprint(
                lambda: runtime.checkins, settings.twilio_auth_token, settings.public_base_url
            )
        )

    web_errors.install(app)
    web_headers.install(
        app,
        content_policy(settings.twilio_account_sid is not None, settings.webrtc_ws_url),
        https=settings.public_base_url.startswith("https://"),
    )
    return app
