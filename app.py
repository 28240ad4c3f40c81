"""Composition root: ``create_app(settings)`` and the ``amparo`` command line.

This is the only module that reads the environment and wires adapters (database, Redis, the
telephony edges) to the domain packages.
"""

from __future__ import annotations

import logging
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import click
from flask import Flask
from redis import Redis
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from agent_console.console import register_console
from agent_console.health import health_blueprint
from agent_console.ports import ConsolePorts
from checkins.context import CheckinContext
from checkins.http import checkins_api
from checkins.operations_page import operations_blueprint
from ivr_flows.events import RecordingDecision
from recordings_policy.http import recordings_blueprint
from recordings_policy.policy import decide as decide_recording
from routing import Router
from settings import ConfigurationError, Settings, load_settings
from store import crypto, database, live_state, migrate
from store.call_log import CallLog
from store.embedded_redis import EmbeddedRedis
from store.vocabulary import Channel, Direction
from telephony.directory import LineInfo
from telephony.simulator.bridge import SimulatedBridge
from telephony.simulator.http import simulator_api
from telephony.simulator.page import simulator_page
from telephony.simulator.phone import SimulatedPhones
from telephony.sip.commands import SipBridge, SipRedirector
from telephony.switchboard import Switchboard
from telephony.twilio.assembly import twilio_blueprint_for, twilio_bridge, twilio_redirectors
from web import errors as web_errors
from wiring import (
    LazyDialer,
    RedisNotifier,
    RoutingAlerts,
    RoutingCallLog,
    TelephonyControl,
    agent_profiles,
    outbound_dialer,
    router_config_from_store,
)

log = logging.getLogger("amparo")


@dataclass
class Runtime:
    """The process's connections, built once from settings and shared by every part."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    redis: Redis
    redis_url: str
    call_log: CallLog
    embedded_redis: EmbeddedRedis | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    def jobs_connection(self) -> Redis:
        """A non-decoding client for rq on the same Redis."""
        return live_state.connect(self.redis_url, decode_responses=False)

    def recordings(self) -> Any:
        """The recordings archive, access control and stream tokens (built once)."""
        if "recordings" not in self.extras:
            from recordings_policy.assembly import assemble

            self.extras["recordings"] = assemble(
                self.settings.data_dir,
                self.sessions,
                self.redis,
                self.settings.data_key,
                self.settings.previous_data_keys,
            )
        return self.extras["recordings"]

    def router(self) -> Router:
        """The router on this process's Redis, configured from the lines and teams stored."""
        if "router" not in self.extras:
            config = router_config_from_store(self.sessions)
            bridge = twilio_bridge(self)
            self.extras["control"] = TelephonyControl(
                self.redis,
                redirectors=twilio_redirectors(self),
                bridges={Channel.TWILIO.value: bridge} if bridge is not None else {},
            )
            # Overflow of a SIP call: published to the SIP process that holds it.
            self.extras["control"].redirectors["sip"] = SipRedirector(self.redis)
            self.extras["control"].bridges["sip"] = SipBridge(self.redis)
            built = Router(
                self.redis,
                config,
                RoutingCallLog(self.call_log),
                RedisNotifier(self.redis),
                self.extras["control"],
            )
            now = time.time()
            for profile in agent_profiles(self.sessions, config):
                built.register_agent(profile, now)
            self.extras["router"] = built
        router: Router = self.extras["router"]
        return router

    def telephony_control(self) -> TelephonyControl:
        self.router()
        control: TelephonyControl = self.extras["control"]
        return control

    def switchboard(self) -> Switchboard:
        """The switchboard every telephony edge of this process shares."""
        if "switchboard" not in self.extras:
            self.extras["switchboard"] = Switchboard(
                sessions=self.sessions,
                live=self.redis,
                router=self.router(),
                call_log=self.call_log,
                recording_policy=recording_decision,
                outcome_sinks=[self._checkin_outcome],
            )
        switchboard: Switchboard = self.extras["switchboard"]
        return switchboard

    def checkins(self) -> CheckinContext:
        """Check-ins, alarms and notifications of this process (built once)."""
        if "checkins" not in self.extras:
            from checkins.assembly import build_context

            self.extras["checkins"] = build_context(
                sessions=self.sessions,
                live=self.redis,
                jobs=self.jobs_connection(),
                dialer=LazyDialer(lambda: outbound_dialer(self.settings, self.simulator, self)),
                calls=self.switchboard(),
                alerts=RoutingAlerts(self.router(), RedisNotifier(self.redis)),
                outbound_cps=self.settings.outbound_cps,
                ring_timeout_s=self.settings.checkin_ring_timeout_s,
                caller_id=self.settings.checkin_caller_id,
                engine=self.engine,
            )
        context: CheckinContext = self.extras["checkins"]
        return context

    def _checkin_outcome(self, call_id: str, outcome: Any, _data: dict[str, Any]) -> None:
        from checkins.outcomes import on_call_outcome

        on_call_outcome(self.checkins(), call_id, str(outcome.value))

    def simulator(self) -> SimulatedPhones:
        """The simulated phones (also routing's redirector for simulated calls)."""
        if "simulator" not in self.extras:
            phones = SimulatedPhones(self.redis, self.switchboard())
            self.telephony_control().redirectors[Channel.SIMULATOR.value] = phones
            self.telephony_control().bridges[Channel.SIMULATOR.value] = SimulatedBridge(phones)
            self.extras["simulator"] = phones
        simulator: SimulatedPhones = self.extras["simulator"]
        return simulator

    def call_control(self) -> TelephonyControl:
        """The telephony control with every bridge this process can reach registered."""
        if self.settings.simulator_enabled:
            self.simulator()
        return self.telephony_control()

    def console_ports(self) -> ConsolePorts:
        return ConsolePorts(
            sessions=self.sessions,
            live=self.redis,
            call_log=self.call_log,
            router=self.router,
            control=self.call_control,
            simulator=self.simulator if self.settings.simulator_enabled else None,
            twilio_enabled=self.settings.twilio_account_sid is not None,
            default_locale=self.settings.default_locale,
        )

    def close(self) -> None:
        self.redis.close()
        self.engine.dispose()
        if self.embedded_redis is not None:
            self.embedded_redis.stop()


def recording_decision(line: LineInfo, direction: Direction) -> RecordingDecision:
    """Ask the recording policy about a call on ``line`` (the IVR never decides it alone)."""
    decision = decide_recording(line.name, direction.value, line.jurisdiction)
    return RecordingDecision(
        record=decision.record,
        policy=f"{line.jurisdiction}:{direction.value}",
        notice_message_id=decision.notice_message_id,
        consent_required=decision.consent_required,
    )


def build_runtime(settings: Settings) -> Runtime:
    """Connect to the database and Redis (starting the embedded Redis when none is configured)."""
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    crypto.configure(crypto.cipher_from_keys(settings.data_key, settings.previous_data_keys))
    embedded = None
    if settings.redis_url is None:
        embedded = EmbeddedRedis(settings.data_dir / "redis").start()
        redis_url = embedded.url
    else:
        redis_url = settings.redis_url
    engine = database.make_engine(settings.database_url)
    sessions = database.session_factory(engine)
    return Runtime(
        settings=settings,
        engine=engine,
        sessions=sessions,
        redis=live_state.connect(redis_url),
        redis_url=redis_url,
        call_log=CallLog(sessions),
        embedded_redis=embedded,
    )


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> Flask:
    """Build the web application; ``settings`` default to the ``AMPARO_*`` environment."""
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

    app.register_blueprint(
        health_blueprint(
            {
                "database": lambda: database.answers(runtime.engine),
                "redis": lambda: live_state.answers(runtime.redis),
            }
        )
    )
    register_console(app, runtime.console_ports())

    if settings.simulator_enabled:
        app.register_blueprint(simulator_api(runtime.simulator))
        app.register_blueprint(
            simulator_page(runtime.simulator, runtime.sessions, settings.default_locale)
        )

    recordings = runtime.recordings()
    app.register_blueprint(
        recordings_blueprint(recordings.archive, recordings.access, recordings.tokens)
    )

    app.register_blueprint(twilio_blueprint_for(runtime))
    app.register_blueprint(checkins_api(runtime.checkins))
    app.register_blueprint(
        operations_blueprint(
            lambda: runtime.checkins().jobs, lambda: runtime.redis, runtime.sessions
        )
    )
    if settings.twilio_auth_token:
        from telephony.twilio.sms import twilio_sms_blueprint

        app.register_blueprint(
            twilio_sms_blueprint(
                runtime.checkins, settings.twilio_auth_token, settings.public_base_url
            )
        )

    web_errors.install(app)
    return app


# ---------------------------------------------------------------------------------------------
# Command line


def _settings_or_exit() -> Settings:
    try:
        return load_settings()
    except ConfigurationError as exc:
        click.echo(f"amparo: configuration error: {exc}", err=True)
        sys.exit(2)


@click.group()
def cli() -> None:
    """Amparo: telephony and IVR contact centre for gender-violence victim hotlines."""


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION."""
    settings = _settings_or_exit()
    crypto.configure(crypto.cipher_from_keys(settings.data_key, settings.previous_data_keys))
    engine = database.make_engine(settings.database_url)
    migrate.upgrade(engine, revision)
    engine.dispose()
    click.echo(f"database upgraded to {revision}")


@cli.command("seed-demo")
def seed_demo_command() -> None:
    """Create fictional demo lines, agents, a team and beneficiaries (idempotent)."""
    from store.demo import seed_demo

    settings = _settings_or_exit()
    crypto.configure(crypto.cipher_from_keys(settings.data_key, settings.previous_data_keys))
    engine = database.make_engine(settings.database_url)
    migrate.upgrade(engine)
    created = seed_demo(database.session_factory(engine), settings.data_dir)
    engine.dispose()
    click.echo(f"demo data ready ({len(created)} new logins)")
    if created:
        click.echo(f"demo logins written to {settings.data_dir / 'demo-logins.txt'}")


@cli.group()
def keys() -> None:
    """Encryption keys."""


@keys.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt every personal field under AMPARO_DATA_KEY (old keys in
    AMPARO_DATA_KEY_PREVIOUS) and recompute lookup hashes."""
    from store.rotation import rotate

    settings = _settings_or_exit()
    crypto.configure(crypto.cipher_from_keys(settings.data_key, settings.previous_data_keys))
    engine = database.make_engine(settings.database_url)
    report = rotate(engine)
    engine.dispose()
    click.echo(
        f"re-encrypted {report.fields_rewritten} fields, "
        f"recomputed {report.hashes_rewritten} lookup hashes"
    )


@keys.command("rewrap-recordings")
def keys_rewrap_recordings() -> None:
    """Re-wrap every recording key under AMPARO_DATA_KEY; the audio is not re-encrypted."""
    from recordings_policy.rotation import rewrap_all
    from recordings_policy.vault import MasterKeys

    settings = _settings_or_exit()
    crypto.configure(crypto.cipher_from_keys(settings.data_key, settings.previous_data_keys))
    engine = database.make_engine(settings.database_url)
    try:
        report = rewrap_all(
            database.session_factory(engine),
            MasterKeys(current=settings.data_key, previous=settings.previous_data_keys),
        )
    finally:
        engine.dispose()
    click.echo(
        f"re-wrapped {report.rewrapped} recording keys, {report.already_current} already "
        f"current, {len(report.unreadable)} unreadable (master key not configured)"
    )
    if report.unreadable:
        sys.exit(1)


@cli.command("check")
def check() -> None:
    """Print the configuration (without secrets) and whether the database and Redis answer."""
    settings = _settings_or_exit()
    for name, value in settings.describe().items():
        click.echo(f"{name:32} {value}")
    from ivr_flows.cli import check_file
    from ivr_flows.flows import BUILTIN_FLOWS, builtin_path
    from locales.catalogs import check_catalogs
    from locales.voices import voice_warnings
    from telephony.sip.engine import describe, engine_info

    click.echo(f"{'sip engine':32} {describe(engine_info())}")
    for warning in voice_warnings():
        click.echo(f"{'voice':32} {warning}")
    catalog_problems = check_catalogs()
    click.echo(
        f"{'prompt catalogs':32} "
        + (f"{len(catalog_problems)} problems" if catalog_problems else "complete")
    )
    flow_problems = sum(len(check_file(builtin_path(name))) for name in BUILTIN_FLOWS)
    click.echo(
        f"{'built-in flows':32} " + (f"{flow_problems} problems" if flow_problems else "valid")
    )
    runtime = build_runtime(settings)
    try:
        db_ok = database.answers(runtime.engine)
        redis_ok = live_state.answers(runtime.redis)
        click.echo(f"{'database':32} {'answers' if db_ok else 'DOWN'}")
        click.echo(f"{'redis':32} {'answers' if redis_ok else 'DOWN'}")
        if redis_ok:
            from telephony.sip.commands import live_processes

            for process in live_processes(runtime.redis):
                click.echo(
                    f"{'sip process':32} {process.get('process_id', '?')}: "
                    f"{process.get('legs', '?')}/{process.get('max_calls', '?')} legs, "
                    f"trunk registration {process.get('registration', '?')}"
                )
    finally:
        runtime.close()
    if not (db_ok and redis_ok) or catalog_problems or flow_problems:
        sys.exit(1)


def _open_database() -> tuple[sessionmaker[Session], Any]:
    settings = _settings_or_exit()
    crypto.configure(crypto.cipher_from_keys(settings.data_key, settings.previous_data_keys))
    engine = database.make_engine(settings.database_url)
    return database.session_factory(engine), engine.dispose


def _leave_routing(agent_ids: list[str]) -> list[tuple[str, str | None]]:
    """``amparo config apply`` deactivated these accounts: they get no more offers."""
    from wiring import leave_routing

    runtime = build_runtime(_settings_or_exit())
    try:
        router = runtime.router()
        return [leave_routing(router, agent_id, time.time()) for agent_id in agent_ids]
    finally:
        runtime.close()


def _register_commands() -> None:
    from checkins.cli import systems_cli
    from hotline_config.cli import config_cli
    from ivr_flows.cli import flows
    from locales.cli import locales_cli
    from runner import run, web, worker
    from telephony.sip.cli import sip

    for command in (
        run,
        web,
        worker,
        flows,
        locales_cli,
        systems_cli(_open_database),
        config_cli(_open_database, _leave_routing),
        sip,
    ):
        cli.add_command(command)


_register_commands()


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
