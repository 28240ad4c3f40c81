"""The composition root: a typed ``Runtime`` whose cached properties build each part once.

This is the only module that wires adapters to ports. Everything is built on first use, so a
web process starts (and says it is not ready) while the database or Redis is still down, and a
process builds only the parts it uses. Parts that need each other at call time, not at build
time (the switchboard reporting check-in outcomes, the simulator's phones stepping through the
switchboard), are handed a callable, never a half-built part.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, assert_never

from redis import Redis, RedisError
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from agent_console.ports import ConsolePorts
from calls.callbacks import Callbacks
from calls.control import CallBridge, CallRedirector, TelephonyControl
from calls.directory import LineInfo
from calls.interpreters import interpreter_for
from calls.journal_replay import JournalReplay
from calls.overflow import OverflowBook
from calls.reconciler import CallPresence, Reconciler
from calls.reoffer import AgentDrops
from calls.routing_rebuild import RoutingRebuild
from calls.switchboard import Switchboard
from calls.urgent_calls import UrgentCalls
from checkins.alerts import RoutingAlerts
from checkins.attempts import report_unanswered
from checkins.context import CheckinContext
from checkins.errors import DialerNotConfigured
from checkins.lazy_ports import LazyCallOpener, LazyDialer
from checkins.outcomes import on_call_outcome
from checkins.ports import OutboundDialer
from ivr_flows.events import RecordingDecision
from ivr_flows.state import Outcome
from recordings_policy.access import AccessTokens, RecordingAccess
from recordings_policy.jobs import enqueue_twilio_recording
from recordings_policy.parts import RecordingParts
from recordings_policy.policy import decide as decide_recording
from recordings_policy.services import RecordingArchive
from recordings_policy.vault import MasterKeys
from routing import Router, RouterConfig
from routing.adapters import RedisNotifier, RoutingCallLog
from routing.stored_config import agent_profiles, router_config_from_store
from settings import Settings
from store import crypto, database, live_state, timekeeper
from store.call_journal import CallJournal
from store.call_log import CallLog
from store.embedded_redis import EmbeddedRedis
from store.lease import is_held
from store.vocabulary import Channel, Direction
from telephony.simulator.bridge import SimulatedBridge
from telephony.simulator.phone import SimulatedPhones
from telephony.sip.browser_phones import BrowserPhoneRegistrar
from telephony.sip.call_presence import SipCallPresence
from telephony.sip.commands import SipBridge, SipRedirector
from telephony.sip.dialer import SipDialer
from telephony.twilio.bridge import TwilioBridge, TwilioRedirector
from telephony.twilio.calls import TwilioCalls
from telephony.twilio.client import TwilioVoice
from telephony.twilio.dialer import TwilioDialer
from telephony.twilio.links import Links
from telephony.twilio.rate_limit import OutboundPacer
from telephony.twilio.recordings import rest_client
from telephony.twilio.services import TwilioEdge
from telephony.twilio.signatures import SignatureCheck
from telephony.twilio.tokens import VoiceTokens
from web.stream_worker import STREAM_THREADS

log = logging.getLogger("amparo")

EVENT_STREAM_CONNECTIONS = STREAM_THREADS
"""One pub/sub connection per stream a web process serves at once."""


def outbound_channel(settings: Settings) -> Channel:
    """The edge that rings beneficiaries for check-ins and notifications: Twilio when it is
    configured, else SIP when ``AMPARO_SIP_LISTEN`` is set, else the simulator."""
    if settings.twilio_account_sid:
        return Channel.TWILIO
    if settings.sip_listen:
        return Channel.SIP
    return Channel.SIMULATOR


def recording_decision(line: LineInfo, direction: Direction) -> RecordingDecision:
    """Ask the recording policy about a call on ``line`` (the IVR never decides it alone)."""
    decision = decide_recording(line.name, direction.value, line.jurisdiction)
    return RecordingDecision(
        record=decision.record,
        policy=f"{line.jurisdiction}:{direction.value}",
        notice_message_id=decision.notice_message_id,
        consent_required=decision.consent_required,
        pause_during=decision.pause_during,
    )


class Runtime:
    """One process's parts, built from its settings and connections."""

    def __init__(
        self,
        settings: Settings,
        *,
        engine: Engine,
        redis: Redis,
        redis_url: str,
        embedded_redis: EmbeddedRedis | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.redis = redis
        self.redis_url = redis_url
        self.embedded_redis = embedded_redis

    # -- connections and records ---------------------------------------------------------------

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return database.session_factory(self.engine)

    @cached_property
    def call_log(self) -> CallLog:
        return CallLog(self.sessions)

    @cached_property
    def jobs(self) -> Redis:
        """A non-decoding client for rq on the same Redis."""
        return live_state.connect(
            self.redis_url, decode_responses=False, sentinels=self.settings.redis_sentinels
        )

    # -- recordings ----------------------------------------------------------------------------

    @cached_property
    def recordings(self) -> RecordingParts:
        """The archive under ``<data_dir>/recordings``, keys wrapped by the master data key;
        access control and stream tokens."""
        keys = MasterKeys(current=self.settings.data_key, previous=self.settings.previous_data_keys)
        archive = RecordingArchive.under(self.settings.data_dir, self.sessions, keys)
        return RecordingParts(
            archive=archive,
            access=RecordingAccess(self.sessions, archive.storage, keys),
            tokens=AccessTokens(self.redis),
            keys=keys,
        )

    # -- routing and call control --------------------------------------------------------------

    @cached_property
    def notifier(self) -> RedisNotifier:
        return RedisNotifier(self.redis)

    @cached_property
    def control(self) -> TelephonyControl:
        """Routing's call control with every edge this process can reach."""
        redirectors: dict[str, CallRedirector] = {Channel.SIP.value: SipRedirector(self.redis)}
        sip = SipBridge(
            self.redis,
            interpreters=lambda line_id, language: interpreter_for(
                self.sessions, line_id, language
            ),
        )
        bridges: dict[str, CallBridge] = {Channel.SIP.value: sip}
        if self.twilio_bridge is not None and self.twilio_redirector is not None:
            redirectors[Channel.TWILIO.value] = self.twilio_redirector
            bridges[Channel.TWILIO.value] = self.twilio_bridge
        if self.simulator_reachable:
            redirectors[Channel.SIMULATOR.value] = self.simulator
            bridges[Channel.SIMULATOR.value] = SimulatedBridge(self.simulator)
        return TelephonyControl(
            self.redis,
            redirectors=redirectors,
            bridges=bridges,
            urgent=lambda: self.urgent_calls,
            callbacks=lambda: self.callbacks,
        )

    @cached_property
    def agent_drops(self) -> AgentDrops:
        """Sends a caller whose agent's leg dropped back to the front of her queue."""
        return AgentDrops(self.sessions, lambda: self.router, self.redis, self.call_log)

    @cached_property
    def router(self) -> Router:
        """The router on this process's Redis, configured from the lines and teams stored,
        with every active agent registered."""
        config: RouterConfig = router_config_from_store(self.sessions)
        router = Router(
            self.redis, config, RoutingCallLog(self.call_log), self.notifier, self.control
        )
        now = time.time()
        for profile in agent_profiles(self.sessions, config):
            router.register_agent(profile, now)
        return router

    @cached_property
    def routing_rebuild(self) -> RoutingRebuild:
        """Routing's state built again from the database when Redis lost it."""
        return RoutingRebuild(
            self.sessions,
            self.router,
            self.switchboard.dispatch,
            self.switchboard.directory,
            time.time,
        )

    def timekeeper_running(self) -> bool:
        """Some worker's timekeeper holds its lease (False too when Redis does not answer)."""
        try:
            return is_held(self.redis, timekeeper.LEASE)
        except (RedisError, OSError):
            return False

    def routing_ready(self) -> bool:
        """Routing's state is in Redis, rebuilt now if it was lost; False when it is missing
        and cannot be rebuilt (Redis or the database down)."""
        try:
            self.routing_rebuild.ensure()
        except Exception as exc:
            log.warning("routing state missing and not rebuilt (%s)", type(exc).__name__)
            return False
        return True

    @cached_property
    def switchboard(self) -> Switchboard:
        """The switchboard every telephony edge of this process shares."""
        return Switchboard(
            sessions=self.sessions,
            live=self.redis,
            router=self.router,
            call_log=self.call_log,
            recording_policy=recording_decision,
            outcome_sinks=[self._checkin_outcome, self.callbacks.intake.requested],
            urgent=self.urgent_calls,
            callbacks=self.callbacks,
            journal=self.call_journal,
        )

    @cached_property
    def call_journal(self) -> CallJournal:
        """Calls the database could not take, in Redis or ``<data dir>/journal``."""
        return CallJournal(self.redis, self.settings.data_dir / "journal")

    @cached_property
    def journal_replay(self) -> JournalReplay:
        board = self.switchboard
        return JournalReplay(
            self.call_journal,
            self.sessions,
            board.directory,
            board.records,
            board.dispatch,
            self.call_log,
        )

    @cached_property
    def urgent_calls(self) -> UrgentCalls:
        """Urgent-team members phoned off the console, and the line's urgent service."""
        return UrgentCalls(
            sessions=self.sessions,
            live=self.redis,
            call_log=self.call_log,
            dialer=self.dialer,
            router=lambda: self.router,
            clock=time.time,
            caller_id=self.settings.checkin_caller_id,
        )

    @cached_property
    def callbacks(self) -> Callbacks:
        """Callback tasks: taken from routing, offered to agents, dialled from the console."""
        return Callbacks(
            sessions=self.sessions,
            live=self.redis,
            call_log=self.call_log,
            router=lambda: self.router,
            dialer=self.dialer,
            bridge=lambda call_id: self.control.bridge_for(call_id),
            clock=time.time,
            caller_id=self.settings.checkin_caller_id,
        )

    @cached_property
    def reconciler(self) -> Reconciler:
        """Closes inbound calls the channels say are over (Twilio's REST, the SIP processes'
        heartbeats, the simulator)."""
        presences: dict[Channel, CallPresence] = {Channel.SIP: SipCallPresence(self.redis)}
        if self.twilio_voice is not None:
            presences[Channel.TWILIO] = self.twilio_voice
        if self.simulator_reachable:
            presences[Channel.SIMULATOR] = self.simulator
        return Reconciler(
            self.sessions,
            lambda event, key: self.switchboard.handle(event, idempotency_key=key),
            presences,
        )

    def _checkin_outcome(self, call_id: str, outcome: Outcome, _data: dict[str, Any]) -> None:
        on_call_outcome(self.checkins, call_id, str(outcome.value))

    # -- check-ins, alarms, notifications ------------------------------------------------------

    @cached_property
    def dialer(self) -> OutboundDialer:
        """The outbound edge, chosen on first use: a web process that only records outcomes
        never builds it."""
        return LazyDialer(lambda: self.outbound_dialer)

    @cached_property
    def outbound_dialer(self) -> OutboundDialer:
        """The edge ``outbound_channel`` names, built now."""
        channel = outbound_channel(self.settings)
        match channel:
            case Channel.TWILIO:
                if self.twilio_voice is None:
                    raise DialerNotConfigured(
                        "Twilio (AMPARO_TWILIO_ACCOUNT_SID) is configured without its REST "
                        "credentials; check-in calls cannot be placed"
                    )
                return TwilioDialer(self.twilio_voice, self.twilio_calls)
            case Channel.SIP:
                return SipDialer(self.redis)
            case Channel.SIMULATOR:
                return self.simulator
            case _:
                assert_never(channel)

    @cached_property
    def checkins(self) -> CheckinContext:
        """Check-ins, alarms and notifications of this process."""
        return CheckinContext(
            sessions=self.sessions,
            jobs=self.jobs,
            live=self.redis,
            dialer=self.dialer,
            calls=LazyCallOpener(lambda: self.switchboard),
            alerts=RoutingAlerts(lambda: self.router, self.notifier),
            ring_timeout=timedelta(seconds=self.settings.checkin_ring_timeout_s),
            caller_id=self.settings.checkin_caller_id,
            outbound_cps=self.settings.outbound_cps,
            engine=self.engine,
        )

    def report_unanswered(self, call_id: str, reason: str, at: datetime) -> bool:
        """An edge's word that nobody will answer an outbound call (check-in ladders)."""
        return report_unanswered(self.checkins, call_id, reason, at)

    # -- the simulator -------------------------------------------------------------------------

    @property
    def simulator_reachable(self) -> bool:
        """The simulator carries calls when it is on, or when it is the outbound edge."""
        return (
            self.settings.simulator_enabled or outbound_channel(self.settings) is Channel.SIMULATOR
        )

    @cached_property
    def simulator(self) -> SimulatedPhones:
        return SimulatedPhones(self.redis, lambda: self.switchboard)

    # -- Twilio --------------------------------------------------------------------------------

    @cached_property
    def twilio_links(self) -> Links:
        return Links(self.settings.public_base_url)

    @cached_property
    def twilio_calls(self) -> TwilioCalls:
        return TwilioCalls(self.redis, self.sessions)

    @cached_property
    def twilio_book(self) -> OverflowBook:
        book = OverflowBook(self.settings.fallback_number)
        book.load(self.sessions)
        return book

    @cached_property
    def twilio_voice(self) -> TwilioVoice | None:
        """The REST client (outbound calls, live-call changes); None when Twilio is off."""
        client = rest_client(self.settings)
        if client is None:
            return None
        return TwilioVoice(
            client,
            self.twilio_links,
            self.twilio_calls,
            pacer=OutboundPacer(self.redis, self.settings.twilio_cps),
            neutral_caller_id=self.settings.twilio_neutral_caller_id,
        )

    @cached_property
    def twilio_bridge(self) -> TwilioBridge | None:
        if self.twilio_voice is None:
            return None
        return TwilioBridge(
            self.twilio_voice,
            self.twilio_calls,
            self.twilio_links,
            self.twilio_book,
            interpreters=lambda line_id, language: interpreter_for(
                self.sessions, line_id, language
            ),
            agent_dropped=self.agent_drops.agent_dropped,
        )

    @cached_property
    def twilio_redirector(self) -> TwilioRedirector | None:
        if self.twilio_voice is None:
            return None
        return TwilioRedirector(self.twilio_voice, self.twilio_calls, self.twilio_links)

    @cached_property
    def twilio_edge(self) -> TwilioEdge:
        """The webhooks' services (with no auth token every webhook is refused with 403)."""
        return TwilioEdge(
            links=self.twilio_links,
            book=self.twilio_book,
            calls=self.twilio_calls,
            live=self.redis,
            sessions=self.sessions,
            call_log=self.call_log,
            switchboard=lambda: self.switchboard,
            accept_recording=lambda call_id, sid, at: (
                self.recordings.archive.accept_twilio_recording(call_id, sid, at)
            ),
            enqueue_recording=lambda recording_id: enqueue_twilio_recording(
                self.jobs, recording_id
            ),
            bridge=lambda: self.twilio_bridge,
            unanswered=self.report_unanswered,
        )

    @cached_property
    def twilio_signatures(self) -> SignatureCheck:
        return SignatureCheck(self.settings.twilio_auth_token, self.settings.public_base_url)

    @cached_property
    def voice_tokens(self) -> VoiceTokens:
        settings = self.settings
        return VoiceTokens(
            account_sid=settings.twilio_account_sid,
            api_key=settings.twilio_api_key,
            api_secret=settings.twilio_api_secret,
            twiml_app_sid=settings.twilio_twiml_app_sid,
        )

    @cached_property
    def browser_phones(self) -> BrowserPhoneRegistrar | None:
        """Credentials for agents' browsers on Kamailio's registrar (SIP mode), when set."""
        settings = self.settings
        if settings.webrtc_ws_url is None or settings.webrtc_secret is None:
            return None
        return BrowserPhoneRegistrar(
            settings.webrtc_ws_url, settings.webrtc_secret, settings.webrtc_credential_ttl_s
        )

    # -- the console ---------------------------------------------------------------------------

    @cached_property
    def event_streams(self) -> Redis:
        """The consoles' event streams' own client: each open stream holds a pub/sub
        connection while it is open, so streams take none of the shared pool's connections
        (100 by default) that webhooks and pages need."""
        return live_state.connect(
            self.redis_url,
            max_connections=EVENT_STREAM_CONNECTIONS,
            sentinels=self.settings.redis_sentinels,
        )

    @cached_property
    def console_ports(self) -> ConsolePorts:
        """Routing and call control are reached on first use: the console starts while Redis
        or the database is down."""
        simulator: Callable[[], SimulatedPhones] | None = None
        if self.settings.simulator_enabled:
            simulator = lambda: self.simulator  # noqa: E731
        return ConsolePorts(
            sessions=self.sessions,
            live=self.redis,
            streams=self.event_streams,
            call_log=self.call_log,
            router=lambda: self.router,
            control=lambda: self.control,
            simulator=simulator,
            callbacks=lambda: self.callbacks,
            twilio_enabled=self.settings.twilio_account_sid is not None,
            browser_phone=self.settings.webrtc_enabled,
            default_locale=self.settings.default_locale,
            file_access_after_call=timedelta(minutes=self.settings.file_access_after_call_min),
            sign_in_per_minute=self.settings.sign_in_per_minute,
            restore_presence=lambda agent_id, state: self.routing_rebuild.restore_presence(
                agent_id, state
            ),
        )

    def close(self) -> None:
        self.redis.close()
        if "event_streams" in self.__dict__:
            self.event_streams.close()
        if "jobs" in self.__dict__:
            self.jobs.close()
        self.engine.dispose()
        if self.embedded_redis is not None:
            self.embedded_redis.stop()


def configure_encryption(settings: Settings) -> None:
    """Personal fields are encrypted with ``AMPARO_DATA_KEY`` (older keys still decrypt)."""
    crypto.configure(crypto.cipher_from_keys(settings.data_key, settings.previous_data_keys))


def configure_process(settings: Settings) -> None:
    """Logging and field encryption, once per process, before any part is built."""
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    configure_encryption(settings)


def build_runtime(settings: Settings) -> Runtime:
    """Connect to the database and Redis (starting the embedded Redis when none is configured)."""
    configure_process(settings)
    embedded = None
    if settings.redis_url is None:
        embedded = EmbeddedRedis(settings.data_dir / "redis").start()
        redis_url = embedded.url
    else:
        redis_url = settings.redis_url
    return Runtime(
        settings,
        engine=database.make_engine(settings.database_url),
        redis=live_state.connect(redis_url, sentinels=settings.redis_sentinels),
        redis_url=redis_url,
        embedded_redis=embedded,
    )
