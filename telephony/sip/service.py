"""``amparo sip``: the switchboard reached over SIP.

Threads of one process:

* ``amparo-sip`` drives pjsua2 (see ``loop.py``): SIP, media control, timers. Nothing on it
  blocks on I/O;
* ``amparo-sip-worker-*`` (``AMPARO_SIP_WORKERS``) run the switchboard (database, Redis, IVR),
  PIN checks, prompt rendering and recording archiving, and post results back to the loop;
* ``amparo-sip-commands`` listens on this process's Redis channel (bridge, monitor, redirect,
  cancel);
* ``amparo-sip-presence`` refreshes this process's heartbeat and takes outbound calls
  (check-ins, notifications) from the shared queue while there is room;
* the main thread waits for SIGTERM/SIGINT and then drains (see ``cli.py``).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pjsua2 as pj
import redis
from sqlalchemy.orm import Session, sessionmaker

from ivr_flows.actions import Dial
from ivr_flows.events import CallEvent, EventKind
from ivr_flows.flows import BUILTIN_FLOWS, builtin_path
from settings import Settings
from store.call_log import CallLog
from store.models import Agent
from store.vocabulary import Channel
from telephony.overflow import OverflowBook
from telephony.sip import commands
from telephony.sip.bridge import Bridge, MonitorMode, SupervisorLeg
from telephony.sip.calls import IvrSession, TurnResult, recording_file
from telephony.sip.endpoint import SipEngine
from telephony.sip.legs import Leg, borrowed, call_param, uri_host, uri_user
from telephony.sip.media import Step, plan_turn
from telephony.sip.outbound import OutboundTarget, outbound_target, unanswered_reason
from telephony.sip.prompts import PromptLibrary, flow_prompts
from telephony.sip.turns import TurnWatchdog
from telephony.switchboard import CallTurn, Switchboard

log = logging.getLogger(__name__)

T = TypeVar("T")
HEARTBEAT_S = 5.0


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
        unanswered: Callable[[str, str, float], Any] | None = None,
    ) -> None:
        assert settings.sip_listen is not None
        self.settings = settings
        self.switchboard = switchboard
        self.sessions = sessions
        self.live = live
        self.call_log = call_log
        self._archive = archive
        self._unanswered = unanswered
        self.process_id = settings.sip_process_id or f"{socket.gethostname()}:{settings.sip_listen}"
        self.engine = SipEngine(
            settings.sip_listen,
            max_legs=settings.sip_max_calls,
            rtp_port=settings.sip_rtp_port,
            registrar=settings.sip_registrar,
            user=settings.sip_user,
            password=settings.sip_password,
        )
        self.loop = self.engine.loop
        self.prompts = PromptLibrary(settings.data_dir / "sip" / "prompts")
        self.recordings_dir = settings.data_dir / "sip" / "recordings"
        self.recordings_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(self.recordings_dir, 0o700)
        self.executor = ThreadPoolExecutor(settings.sip_workers, "amparo-sip-worker")
        self.turns = TurnWatchdog(self.loop, self.executor)
        self.book = OverflowBook(settings.fallback_number)
        self.hold_loop: Any = None
        self.calls: dict[str, IvrSession] = {}
        self.ringing: dict[str, OutboundCall] = {}
        self.pending_outbound = 0
        self._stopping = threading.Event()
        self._listener = commands.CommandListener(live, self.process_id, self._command)
        self._presence = threading.Thread(
            target=self._presence_loop, name="amparo-sip-presence", daemon=True
        )
        self.engine.accept = self._incoming
        self.engine.on_started = self._on_started
        self.engine.on_stopping = self._on_stopping
        self.stats = {"answered": 0, "ended": 0}

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
        self._presence.start()
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
        self.executor.shutdown(wait=True, cancel_futures=False)
        with contextlib.suppress(redis.RedisError):
            commands.forget_process(self.live, self.process_id)

    def _on_started(self) -> None:
        player = pj.AudioMediaPlayer()
        player.createPlayer(str(self.prompts.hold()), 0)  # loops
        self.hold_loop = player

    def _on_stopping(self) -> None:
        self.engine.hang_up_everything()
        self.calls.clear()
        self.hold_loop = None

    # -- work off the pjsua2 thread ----------------------------------------------------------

    def submit(self, work: Callable[[], T], then: Callable[[T], None] | None) -> None:
        """Run ``work`` on a worker; ``then(result)`` runs back on the pjsua2 thread."""

        def done(future: Future[T]) -> None:
            try:
                result = future.result()
            except Exception:
                log.exception("SIP worker job failed")
                return
            if then is not None:
                self.loop.post(lambda: then(result))

        try:
            self.executor.submit(work).add_done_callback(done)
        except RuntimeError:
            log.error("SIP worker pool is closed; job dropped")

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
        self.submit(lambda: self.call_log.append(call_id, f"sip_{kind}", data, at=at), None)

    def recording_path(self, call_id: str) -> Path:
        return recording_file(self.recordings_dir, call_id)

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
        """The caller is on the hold loop until a person is bridged (command ``bridge``)."""

    def _archive_recording(self, call_id: str, path: Path) -> None:
        if self._archive is None or not path.is_file():
            return
        if not wav_finished(path):
            log.error("call %s: recording not closed in time; sealing it as it is", call_id)
        self._archive().store_local_file(call_id, path, datetime.now(UTC))
        log.info("call %s: recording sealed", call_id)

    def _new_leg(
        self, uri: str, listener: Any, neutral: bool = False, caller_id: str | None = None
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
        if session.ended or session.bridge is not None:
            log.warning(
                "call %s: already bridged or over; %s not called", session.call_id, person_id
            )
            return
        bridge = Bridge(self, session, None, person_id)  # type: ignore[arg-type]
        leg = self._new_leg(uri, bridge, neutral=person_id.startswith("number:"))
        if leg is None:
            self.log_event(session.call_id, "bridge_failed", {"to": person_id, "status": 0})
            session.unbridged()
            session.person_unanswered(person_id)
            return
        bridge.person = borrowed(leg)
        session.bridge = bridge

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
        trunk = self.settings.sip_trunk or (
            uri_host(self.settings.sip_registrar) if self.settings.sip_registrar else None
        )
        digits = "".join(ch for ch in number if ch.isdigit() or ch == "+")
        if trunk:
            self.bridge_to(session, f"sip:{digits}@{trunk}", f"number:{reason}")
            return
        try:
            source = uri_host(str(session.leg.getInfo().remoteUri)) or "invalid"
            session.leg.xfer(f"sip:{digits}@{source}", call_param())
            self.log_event(session.call_id, "transferred", {"reason": reason})
        except (pj.Error, ReferenceError) as exc:
            log.error(
                "call %s: transfer refused (%s); caller kept on hold",
                session.label,
                type(exc).__name__,
            )
            session.unbridged()

    # -- commands from other processes -------------------------------------------------------

    def _command(self, message: dict[str, Any]) -> None:
        op = message.get("op")
        call_id = str(message.get("call_id", ""))
        if op == "bridge":
            agent_id = str(message["agent_id"])
            self.submit(
                lambda: self._sip_uri(agent_id),
                lambda uri: self._bridge_agent(call_id, agent_id, uri),
            )
        elif op == "monitor":
            supervisor_id = str(message["supervisor_id"])
            mode = MonitorMode(str(message.get("mode", "listen")))
            self.submit(
                lambda: self._sip_uri(supervisor_id),
                lambda uri: self._monitor(call_id, supervisor_id, mode, uri),
            )
        elif op == "redirect":
            number = str(message["number"])
            self.loop.post(lambda: self._redirect(call_id, number))
        elif op == "cancel":
            self.loop.post(lambda: self._cancel_outbound(call_id))
        else:
            log.error("unknown SIP command %r ignored", op)

    def _sip_uri(self, agent_id: str) -> str | None:
        with self.sessions() as db:
            agent = db.get(Agent, agent_id)
            return agent.sip_uri if agent is not None else None

    def _bridge_agent(self, call_id: str, agent_id: str, uri: str | None) -> None:
        session = self.calls.get(call_id)
        if session is None:
            log.warning("call %s: not held here any more; agent not called", call_id)
            return
        if not uri:
            log.error("call %s: agent %s has no SIP address", call_id, agent_id)
            self.log_event(call_id, "bridge_failed", {"to": agent_id, "status": 0})
            session.person_unanswered(agent_id)
            return
        self.bridge_to(session, uri, agent_id)

    def _monitor(
        self, call_id: str, supervisor_id: str, mode: MonitorMode, uri: str | None
    ) -> None:
        session = self.calls.get(call_id)
        bridge = session.bridge if session else None
        if bridge is None or not bridge.connected or not uri:
            log.warning("call %s: nothing to monitor (or no SIP address)", call_id)
            return
        if bridge.change_mode(supervisor_id, mode):
            return
        supervisor = SupervisorLeg(bridge, None, supervisor_id, mode)  # type: ignore[arg-type]
        leg = self._new_leg(uri, supervisor)
        if leg is not None:
            supervisor.leg = borrowed(leg)
            bridge.add_supervisor(supervisor)

    def _redirect(self, call_id: str, number: str) -> None:
        session = self.calls.get(call_id)
        if session is None or session.ended:
            return
        if session.bridge is not None and session.bridge.connected:
            log.info("call %s: already with a person; overflow ignored", call_id)
            return
        session.steps.clear()
        session.gather = None
        self.dial_out(session, number, "overflow")

    # -- outbound check-ins ------------------------------------------------------------------

    def _room(self) -> bool:
        return (
            not self._stopping.is_set()
            and self.engine.legs_in_use() + self.pending_outbound < self.settings.sip_max_calls
        )

    def _presence_loop(self) -> None:
        last_beat = 0.0
        while not self._stopping.is_set():
            try:
                now = time.monotonic()
                if now - last_beat >= HEARTBEAT_S:
                    self._heartbeat()
                    last_beat = now
                    # On a worker: a database that hangs must not stop the heartbeat.
                    self.submit(lambda: self.book.refresh_if_stale(self.sessions), None)
                if not self._room():
                    time.sleep(0.5)
                    continue
                item = self.live.blpop([commands.OUTBOUND_QUEUE], timeout=1)
                if item is not None:
                    self._take_outbound(json.loads(item[1]))
            except redis.RedisError:
                log.exception("SIP presence: Redis unavailable; retrying")
                time.sleep(1)
            except (ValueError, KeyError):
                log.error("unreadable outbound request ignored")
            except Exception:
                # The database failed while taking a request: the heartbeat must go on. The
                # request is lost; its attempt ends at the ring timeout and the ladder goes on.
                log.exception("SIP presence: an outbound request could not be taken")
                time.sleep(1)

    def _sample(self) -> None:
        """Gauges read on the pjsua2 thread for the heartbeat (ports leak -> calls fail)."""
        endpoint = self.engine.endpoint
        if endpoint is not None:
            self.stats["bridge_ports"] = int(endpoint.mediaActivePorts())
        self.stats["legs"] = len(self.engine.legs)
        self.stats["calls"] = len(self.calls)

    def _heartbeat(self) -> None:
        self.loop.post(self._sample)
        commands.beat(
            self.live,
            self.process_id,
            {
                "process_id": self.process_id,
                "listen": str(self.settings.sip_listen),
                "legs": str(self.engine.legs_in_use()),
                "calls": str(self.stats.get("calls", 0)),
                "bridge_ports": str(self.stats.get("bridge_ports", 0)),
                "answered": str(self.stats["answered"]),
                "max_calls": str(self.settings.sip_max_calls),
                "registration": self.engine.account.registration
                if self.engine.account is not None
                else "not started",
                "at": str(time.time()),
            },
            time.time(),
        )

    def _take_outbound(self, request: dict[str, Any]) -> None:
        """An outbound call from the shared queue (presence thread): read its number, claim
        it, and ring it on the pjsua2 thread."""
        call_id = str(request["call_id"])
        if commands.cancelled(self.live, call_id):
            log.info("outbound call %s was cancelled before it was taken", call_id)
            return
        target = outbound_target(
            self.sessions, call_id, datetime.now(UTC), self.settings.checkin_ring_timeout_s
        )
        if target is None:
            return
        commands.claim_call(self.live, call_id, self.process_id)
        caller_id = str(request.get("caller_id") or "") or None
        self.pending_outbound += 1
        self.loop.post(lambda: self._dial_outbound(target, caller_id))

    def _dial_outbound(self, target: OutboundTarget, caller_id: str | None) -> None:
        self.pending_outbound -= 1
        trunk = self.settings.sip_trunk or (
            uri_host(self.settings.sip_registrar) if self.settings.sip_registrar else None
        )
        outbound = OutboundCall(self, target.call_id, target.line_id)
        if trunk is None:
            log.error("outbound call %s: no trunk configured (AMPARO_SIP_TRUNK)", target.call_id)
            outbound.leg_ended(None, 0)
            return
        leg = self._new_leg(
            f"sip:{target.number}@{trunk}", outbound, neutral=True, caller_id=caller_id
        )
        if leg is None:
            outbound.leg_ended(None, 0)
            return
        outbound.leg = borrowed(leg)
        self.ringing[target.call_id] = outbound
        self.log_event(target.call_id, "dialled", {})

    def _cancel_outbound(self, call_id: str) -> None:
        outbound = self.ringing.get(call_id)
        if outbound is None or outbound.leg is None:
            return
        log.info("outbound call %s: still ringing; cancelled", call_id)
        outbound.leg.end()

    def outbound_answered(self, outbound: OutboundCall, leg: Leg) -> None:
        self.ringing.pop(outbound.call_id, None)
        session = IvrSession(self, leg, line_id=outbound.line_id)  # takes the leg's callbacks
        call_id = session.call_id = outbound.call_id
        session.opened = True  # the check-in job opened it before it rang
        self.stats["answered"] += 1
        at = time.time()

        def work() -> TurnResult:
            turn = self.switchboard.answered(call_id, at)
            return turn, self.plan(turn)

        self.take_turn(work, session)
        self.session_identified(session)
        if leg.media is not None:
            session.leg_media(leg, leg.media)

    def outbound_unanswered(self, outbound: OutboundCall, status: int) -> None:
        """Nobody answered (busy, declined, no answer, a failure): the attempt is concluded now
        so the ladder goes on, and the call is over."""
        self.ringing.pop(outbound.call_id, None)
        call_id, at, reason = outbound.call_id, time.time(), unanswered_reason(status)
        log.info("outbound call %s: not answered (%s, status %s)", call_id, reason, status)
        self.log_event(call_id, "unanswered", {"status": status, "reason": reason})

        def work() -> None:
            commands.release_call(self.live, call_id, self.process_id)
            if self._unanswered is not None:
                self._unanswered(call_id, reason, at)
            hangup = CallEvent(EventKind.HANGUP, call_id, at, channel=Channel.SIP)
            self.switchboard.handle(hangup, idempotency_key=f"sip:{call_id}:unanswered")

        self.submit(work, None)


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


class OutboundCall:
    """An outbound leg ringing; once answered it becomes an ordinary IVR session."""

    def __init__(self, host: SipService, call_id: str, line_id: str | None) -> None:
        self.host = host
        self.call_id = call_id
        self.line_id = line_id
        self.leg: Leg | None = None

    def leg_confirmed(self, leg: Leg) -> None:
        self.host.outbound_answered(self, leg)

    def leg_media(self, leg: Leg, media: Any) -> None:
        """Early media before the answer: nothing to play yet."""

    def leg_digit(self, leg: Leg, digit: str) -> None:
        """Keys before the answer are ignored."""

    def leg_ended(self, leg: Leg | None, status: int) -> None:
        self.host.outbound_unanswered(self, status)
