"""``amparo sip``: the switchboard reached over SIP.

Threads of one process:

* ``amparo-sip`` drives pjsua2 (see ``loop.py``): SIP, media control, timers. Nothing on it
  blocks on I/O;
* ``amparo-sip-worker-*`` (``AMPARO_SIP_WORKERS``) run the switchboard (database, Redis, IVR),
  PIN checks, prompt rendering and recording archiving, and post results back to the loop;
  each caller's turn is watched (``turns.py``);
* ``amparo-sip-commands`` listens on this process's Redis channel and hands what arrives to
  ``call_control.py`` (bridge, monitor, redirect, cancel);
* ``amparo-sip-presence`` refreshes this process's heartbeat (``presence.py``) and takes
  outbound calls (check-ins, notifications) from the shared queue while there is room
  (``outbound_calls.py``);
* the main thread waits for SIGTERM/SIGINT and then drains (see ``cli.py``).

``SipService`` is the host every part talks back to (``calls.SessionHost`` and the protocols of
the other modules): it owns the engine, the worker pool, the calls held here, and the ways of
connecting a caller to a person or a number.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pjsua2 as pj
import redis
from sqlalchemy.orm import Session, sessionmaker

from calls.overflow import OverflowBook
from calls.switchboard import Switchboard
from calls.turn import CallTurn
from ivr_flows.actions import Dial
from ivr_flows.flows import BUILTIN_FLOWS, builtin_path
from settings import Settings
from store.call_log import CallLog
from store.vocabulary import Channel
from telephony.sip import commands
from telephony.sip.bridge import Bridge
from telephony.sip.call_control import CallControl
from telephony.sip.calls import AgentDropped, IvrSession, TurnResult, recording_file
from telephony.sip.endpoint import SipEngine, SipTls
from telephony.sip.legs import (
    Leg,
    LegListener,
    borrowed,
    call_param,
    trunk_host,
    trunk_uri,
    uri_host,
    uri_user,
)
from telephony.sip.media import Step, plan_turn
from telephony.sip.outbound_calls import OutboundDesk, Unanswered
from telephony.sip.presence import Presence
from telephony.sip.prompts import PromptLibrary, flow_prompts
from telephony.sip.turns import TurnWatchdog
from telephony.sip.workers import SipWorkers

log = logging.getLogger(__name__)

T = TypeVar("T")


class SipService:
    def __init__(
        self,
        settings: Settings,
        *,
        switchboard: Switchboard,
        sessions: sessionmaker[Session],
        live: redis.Redis,
        call_log: CallLog,
        archive: Callable[[], Any] | None = None,
        unanswered: Unanswered | None = None,
        agent_dropped: AgentDropped | None = None,
    ) -> None:
        assert settings.sip_listen is not None
        self.settings = settings
        self.switchboard = switchboard
        self.sessions = sessions
        self.live = live
        self.call_log = call_log
        self._archive = archive
        self.agent_dropped = agent_dropped
        self.process_id = settings.sip_process_id or f"{socket.gethostname()}:{settings.sip_listen}"
        self.engine = engine_for(settings, settings.sip_listen)
        self.loop = self.engine.loop
        self.prompts = PromptLibrary(settings.data_dir / "sip" / "prompts")
        self.recordings_dir = settings.data_dir / "sip" / "recordings"
        self.recordings_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.recordings_dir, 0o700)
        self.workers = SipWorkers(settings.sip_workers)  # turns never queue behind the rest
        self.turns = TurnWatchdog(self.loop, self.workers.turns)
        self.book = OverflowBook(settings.fallback_number)
        self.hold_loop: Any = None
        self.calls: dict[str, IvrSession] = {}
        self.stats = {"answered": 0, "ended": 0}
        self._stopping = threading.Event()
        self.outbound = OutboundDesk(
            self,
            settings=settings,
            sessions=sessions,
            live=live,
            process_id=self.process_id,
            stopping=self._stopping,
            unanswered=unanswered,
        )
        control = CallControl(
            self,
            sessions,
            self.outbound.cancel,
            live,
            settings.webrtc_registrar,
            trunk_host(settings),
        )
        self._listener = commands.CommandListener(live, self.process_id, control.handle)
        self.presence = Presence(
            live,
            self.process_id,
            settings,
            self.engine,
            self.stats,
            self.calls,
            take_outbound=self.outbound.take_next,
            on_beat=self._refresh_book,
            stopping=self._stopping,
        )
        self.engine.accept = self._incoming
        self.engine.on_started = self._on_started
        self.engine.on_stopping = self._on_stopping

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        locales = sorted({self.settings.default_locale, "es", "en"})
        files = [builtin_path(name) for name in BUILTIN_FLOWS]
        rendered = self.prompts.prerender(flow_prompts(files, locales))
        self.book.load(self.sessions)
        self.prompts.hold()
        log.info("SIP prompts ready (%s checked or rendered)", rendered)
        self.engine.start()
        self._listener.start()
        self.presence.start()
        log.info("amparo sip %s ready", self.process_id)

    def stop(self, drain_s: float = 0.0, hurry: Callable[[], bool] = lambda: False) -> None:
        """Refuse new calls (503), wait up to ``drain_s`` for calls to end (or until ``hurry``
        says so), then end the rest."""
        self._stopping.set()
        self.engine.admit_extra = lambda: False
        deadline = time.monotonic() + drain_s
        while self.calls and time.monotonic() < deadline and self.engine.running and not hurry():
            time.sleep(0.2)
        if self.calls:
            log.warning("stopping with %s calls up: ending them", len(self.calls))
        self.engine.stop()
        self.engine.join(30)
        self._listener.stop()
        self.workers.shutdown()
        self.presence.forget()

    def _on_started(self) -> None:
        player = pj.AudioMediaPlayer()
        player.createPlayer(str(self.prompts.hold()), 0)  # loops
        self.hold_loop = player

    def _on_stopping(self) -> None:
        self.engine.hang_up_everything()
        self.calls.clear()
        self.hold_loop = None

    def _refresh_book(self) -> None:
        # On a worker: a database that hangs must not stop the heartbeat.
        self.submit(lambda: self.book.refresh_if_stale(self.sessions), None)

    # -- work off the pjsua2 thread ----------------------------------------------------------

    def submit(self, work: Callable[[], T], then: Callable[[T], None] | None) -> None:
        """Run ``work`` on a worker; ``then(result)`` runs back on the pjsua2 thread. A caller's
        turn goes through :meth:`take_turn` instead, which never drops it."""

        def done(future: Future[T]) -> None:
            try:
                result = future.result()
            except Exception:
                log.exception("SIP worker job failed")
                return
            if then is not None:
                self.loop.post(lambda: then(result))

        self.workers.side_job(work, done)

    def take_turn(self, work: Callable[[], TurnResult], session: IvrSession) -> None:
        """Compute a turn for ``session`` on a worker, watched (``turns.py``): its steps in
        time, else the line's overflow. Each line a turn names goes into the overflow book."""

        def remembered() -> TurnResult:
            turn, steps = work()
            if turn.line is not None and not turn.fallback:
                self.book.remember(turn.line)
            return turn, steps

        self.turns.start(remembered, session)

    def plan(self, turn: CallTurn) -> list[Step]:
        return plan_turn(turn, self.prompts)

    def log_event(self, call_id: str, kind: str, data: dict[str, Any]) -> None:
        if not call_id:
            return  # the switchboard never opened the call: nothing to append to
        at = time.time()
        self.workers.write_log(
            call_id, lambda: self.call_log.append(call_id, f"sip_{kind}", data, at=at)
        )

    def recording_path(self, call_id: str) -> Path:
        return recording_file(self.recordings_dir, call_id)

    def legs_in_use(self) -> int:
        return self.engine.legs_in_use()

    # -- calls (pjsua2 thread) ---------------------------------------------------------------

    def _incoming(self, leg: Leg) -> None:
        info = leg.getInfo()
        to_number = uri_user(str(info.localUri))
        from_number = uri_user(str(info.remoteUri))
        external_id = str(info.callIdString)
        session = IvrSession(self, leg, dialled=to_number)
        self.stats["answered"] += 1
        leg.answer(call_param(200))
        at = time.time()

        def work() -> TurnResult:
            turn = self.switchboard.start(
                channel=Channel.SIP,
                external_id=external_id,
                to_number=to_number,
                from_number=from_number,
                at=at,
            )
            return turn, self.plan(turn)

        self.take_turn(work, session)

    def session_identified(self, session: IvrSession) -> None:
        self.calls[session.call_id] = session
        call_id = session.call_id
        self.submit(lambda: commands.claim_call(self.live, call_id, self.process_id), None)

    def session_ended(self, session: IvrSession, recording: Path | None) -> None:
        self.stats["ended"] += 1
        call_id = session.call_id
        if not call_id:
            return
        self.calls.pop(call_id, None)
        self.submit(lambda: commands.release_call(self.live, call_id, self.process_id), None)
        if recording is not None:
            self.submit(lambda: self._archive_recording(call_id, recording), None)

    def waiting(self, session: IvrSession) -> None:
        """The caller is on the hold loop until a person is bridged (command ``bridge``); a
        callback that played a notice first is put through now."""
        call_id = session.call_id
        self.submit(lambda: self.switchboard.caller_waiting(call_id, time.time()), None)

    def _archive_recording(self, call_id: str, path: Path) -> None:
        if self._archive is None or not path.is_file():
            return
        if not wav_finished(path):
            log.error("call %s: recording not closed in time; sealing it as it is", call_id)
        self._archive().store_local_file(call_id, path, datetime.now(UTC))
        log.info("call %s: recording sealed", call_id)

    # -- people and numbers (pjsua2 thread) --------------------------------------------------

    def new_leg(
        self, uri: str, listener: LegListener, neutral: bool = False, caller_id: str | None = None
    ) -> Leg | None:
        """An outgoing leg; ``neutral`` hides who calls (check-ins, numbers through the trunk):
        the From shows ``caller_id`` or ``AMPARO_SIP_CALLER_ID`` only, never the service."""
        account = self.engine.account
        if account is None:
            return None
        leg = Leg(account)
        leg.listener = listener
        self.engine.track(leg)
        param = call_param()
        if neutral:
            host = uri_host(uri) or "invalid"
            shown = caller_id or self.settings.sip_caller_id
            param.txOption.localUri = f"<sip:{shown}@{host}>"
        try:
            leg.makeCall(uri, param)
        except pj.Error as exc:
            log.error("outgoing leg refused: %s", exc.reason)
            self.engine.legs.discard(leg)
            return None
        return leg

    def bridge_to(self, session: IvrSession, uri: str, person_id: str) -> None:
        if session.bridge is not None and session.bridge.on_hold and not session.ended:
            session.bridge.release()  # transferred while on hold: the next person takes her
        if session.ended or session.bridge is not None:
            log.warning("call %s: already bridged or over; %s not called", session.label, person_id)
            return
        bridge = Bridge(self, session, None, person_id)  # type: ignore[arg-type]
        leg = self.new_leg(uri, bridge, neutral=person_id.startswith("number:"))
        if leg is None:
            self.log_event(session.call_id, "bridge_failed", {"to": person_id, "status": 0})
            session.unbridged()
            session.person_unanswered(person_id)
            return
        bridge.person = borrowed(leg)
        session.bridge = bridge

    def join(self, session: IvrSession, call_id: str | None) -> None:
        """An urgent-team member took the woman's live call from the alert on her phone.

        When this process holds the woman's call, the member's leg is bridged to her at once
        (either hanging up ends the other). Otherwise the process holding it is asked to call
        the member's on-call number through the trunk, and the alert call ends."""
        her = self.calls.get(call_id) if call_id else None
        if her is None or her.ended or her.bridge is not None:
            if call_id and commands.request_member_join(self.live, call_id, session.call_id):
                log.info("call %s: the member is called back by its SIP process", session.label)
            else:
                log.error("call %s: the live call to join is gone", session.label)
            session.leg.end()
            return
        member_side = Bridge(self, session, borrowed(her.leg), f"caller:{her.call_id}")
        member_side.connected = True
        session.bridged(member_side)
        her_side = Bridge(self, her, borrowed(session.leg), f"member:{session.call_id}")
        her.bridge = her_side
        if session.leg.media is not None:
            her_side.leg_media(session.leg, session.leg.media)

    def call_member(self, call_id: str, member_id: str, number: str | None) -> None:
        """Command ``join_member``: a member took this call from an alert call another
        process holds; she is called through the trunk and bridged like an agent."""
        session = self.calls.get(call_id)
        trunk = trunk_host(self.settings)
        if session is None or session.ended or not number or not trunk:
            log.error("call %s: the urgent-team member cannot be called back", call_id)
            return
        self.bridge_to(session, str(trunk_uri(number, trunk)), f"member:{member_id}")

    def dial_out(self, session: IvrSession, number: str | None, reason: str) -> None:
        """Overflow or fallback: a leg to ``number`` through the trunk, bridged; without a trunk,
        a blind transfer (REFER) back to whoever sent us the call.

        Without a number (a failed turn, a line the switchboard could not read) her line's
        overflow number is found as Twilio's fallback finds it: the overflow book, else the
        line read from the database, else ``AMPARO_FALLBACK_NUMBER``."""
        number = number or self.book.number_for(line_id=session.line_id, dialled=session.dialled)
        if number is not None:
            self._send_to_number(session, number, reason)
            return
        call_id, dialled = session.call_id, session.dialled

        def read_line() -> str | None:
            turn = self.switchboard.fallback_turn(call_id or "unknown", dialled)
            return turn.dial_number(Dial("fallback")) or self.book.fallback_number

        self.submit(read_line, lambda found: self._send_to_number(session, found, reason))

    def _send_to_number(self, session: IvrSession, number: str | None, reason: str) -> None:
        if session.ended:
            return
        if number is None:
            log.error("call %s: nothing to dial (%s); caller kept on hold", session.label, reason)
            session.unbridged()
            return
        uri = trunk_uri(number, trunk_host(self.settings))
        if uri:
            self.bridge_to(session, uri, f"number:{reason}")
            return
        try:
            source = uri_host(str(session.leg.getInfo().remoteUri)) or "invalid"
            session.leg.xfer(str(trunk_uri(number, source)), call_param())
            self.log_event(session.call_id, "transferred", {"reason": reason})
        except (pj.Error, ReferenceError) as exc:
            log.error(
                "call %s: transfer refused (%s); caller kept on hold",
                session.label,
                type(exc).__name__,
            )
            session.unbridged()


def engine_for(settings: Settings, listen: str) -> SipEngine:
    tls = None
    if settings.sip_tls_listen and settings.sip_tls_cert and settings.sip_tls_key:
        tls = SipTls(
            settings.sip_tls_listen,
            settings.sip_tls_cert,
            settings.sip_tls_key,
            settings.sip_tls_ca,
        )
    return SipEngine(
        listen,
        max_legs=settings.sip_max_calls,
        rtp_port=settings.sip_rtp_port,
        registrar=settings.sip_registrar,
        user=settings.sip_user,
        password=settings.sip_password,
        tls=tls,
        srtp=settings.sip_srtp,
    )


def wav_finished(path: Path, timeout_s: float = 5.0) -> bool:
    """Wait until pjmedia has closed the recorder's WAV (its RIFF size is written then).

    pjmedia 2.17 removes conference ports asynchronously, on the media clock: the file is
    finalised a few frames after the recorder object is dropped, not at once.
    """
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with path.open("rb") as handle:
            header = handle.read(8)
        if len(header) == 8 and header[:4] == b"RIFF" and int.from_bytes(header[4:], "little"):
            return True
        time.sleep(0.05)
    return False
