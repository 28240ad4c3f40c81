"""What this SIP process does with a call it holds when another process asks.

Commands arrive on the process's Redis channel (``commands.py``: the protocol and its listener):

* ``bridge``: an agent accepted the call in the console: her SIP phone (her ``sip_uri``, else
  her browser registered with Kamailio when ``AMPARO_WEBRTC_REGISTRAR`` is set) is called and
  joined to the caller; an agent with no SIP address counts as unanswered (the caller goes to
  the line's overflow number);
* ``monitor``: a supervisor joins a connected call, or changes mode (listen, whisper, barge);
  ``monitor_off``: she leaves it;
* ``redirect``: routing overflowed the call: the caller, unless already with a person, is sent
  to the number through the trunk (or handed back with REFER);
* ``cancel``: an outbound call still ringing is ended;
* ``join_member``: an urgent-team member took the call from an alert call another process
  holds: her on-call number is called through the trunk and joined to the caller;
* ``end``: the agent ended the call in the console: a BYE to every leg of a call connected
  to a person (``bridge.py``); the caller's hang-up closes the call in the switchboard as any
  hang-up does. A caller not with a person is never hung up by it;
* ``hold``: the caller goes to the hold loop, apart from the agent, or back to her; a call
  that is not with a person here is left as it is;
* ``mute``: the agent's leg stops reaching the caller (she is not hung up, and the agent
  still hears her), or reaches her again;
* ``dtmf``: keys sent on the caller's leg as RFC 2833 telephone-events (never logged);
* ``interpreter`` / ``interpreter_off``: an interpreter is called and conferenced into a call
  with an agent, or leaves it (``interpreters.py``);
* ``transfer_out``: a cold transfer of the caller to an outside number (``transfers.py``).

The listener's thread only reads the message; database reads run on the worker pool and every
pjsua2 operation on the pjsua2 thread.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pjsua2 as pj
import redis
from sqlalchemy.orm import Session, sessionmaker

from calls.control import INTERPRETER_FIELD, TRANSFER_CONSULTING_FIELD, supervisor_field
from ivr_flows.announcements import INTERPRETER_JOINING
from locales import SOURCE_LOCALE
from routing.channels import agent_channel
from store.live_state import key
from store.models import Agent
from store.records import Call
from telephony.sip.bridge import MonitorMode, SupervisorLeg
from telephony.sip.browser_phones import registered_contact
from telephony.sip.calls import IvrSession
from telephony.sip.interpreters import InterpreterLeg
from telephony.sip.legs import Leg, LegListener, borrowed, trunk_uri
from telephony.sip.loop import PjLoop
from telephony.sip.prompts import PromptLibrary
from telephony.sip.transfers import OutsideTransfer

log = logging.getLogger(__name__)

T = TypeVar("T")
INTERPRETER_WAITS_FOR_AGENT_S = 60.0
"""An interpreter asked for while the agent's phone still rings is called once she answers."""
AGENT_POLL_S = 0.5


class ControlHost(Protocol):
    """What acting on a held call needs from the SIP service (``service.SipService``)."""

    calls: dict[str, IvrSession]
    loop: PjLoop
    prompts: PromptLibrary

    def submit(self, work: Callable[[], T], then: Callable[[T], None] | None) -> None: ...

    def log_event(self, call_id: str, kind: str, data: dict[str, Any]) -> None: ...

    def new_leg(
        self, uri: str, listener: LegListener, neutral: bool = False, caller_id: str | None = None
    ) -> Leg | None: ...

    def bridge_to(self, session: IvrSession, uri: str, person_id: str) -> None: ...

    def dial_out(self, session: IvrSession, number: str | None, reason: str) -> None: ...

    def call_member(self, call_id: str, member_id: str, number: str | None) -> None: ...


class CallControl:
    """Executes the commands of other processes on the calls held here."""

    def __init__(
        self,
        host: ControlHost,
        sessions: sessionmaker[Session],
        cancel_outbound: Callable[[str], None],
        live: redis.Redis,
        browser_registrar: str | None = None,
        trunk: str | None = None,
    ) -> None:
        self.host = host
        self.trunk = trunk
        self.sessions = sessions
        self.live = live
        self.browser_registrar = browser_registrar
        self._cancel_outbound = cancel_outbound

    def handle(self, message: dict[str, Any]) -> None:
        """One command (listener thread): hand it to the worker pool or the pjsua2 thread."""
        op = message.get("op")
        call_id = str(message.get("call_id", ""))
        if op == "bridge":
            agent_id = str(message["agent_id"])
            self.host.submit(
                lambda: self._sip_uri(agent_id),
                lambda uri: self._bridge_agent(call_id, agent_id, uri),
            )
        elif op == "monitor":
            supervisor_id = str(message["supervisor_id"])
            mode = MonitorMode(str(message.get("mode", "listen")))
            self.host.submit(
                lambda: self._sip_uri(supervisor_id),
                lambda uri: self._monitor(call_id, supervisor_id, mode, uri),
            )
        elif op == "monitor_off":
            supervisor_id = str(message["supervisor_id"])
            self.host.loop.post(lambda: self._stop_monitor(call_id, supervisor_id))
        elif op == "join_member":
            alert_call = str(message["alert_call"])
            self.host.submit(
                lambda: self._on_call_number(alert_call),
                lambda found: self.host.call_member(call_id, found[0], found[1]),
            )
        elif op == "redirect":
            number = str(message["number"])
            self.host.loop.post(lambda: self._redirect(call_id, number))
        elif op == "cancel":
            self.host.loop.post(lambda: self._cancel_outbound(call_id))
        elif op == "end":
            self.host.loop.post(lambda: self._end(call_id))
        elif op == "hold":
            on = bool(message["on"])
            self.host.loop.post(lambda: self._hold(call_id, on))
        elif op == "mute":
            muted = bool(message["on"])
            self.host.loop.post(lambda: self._mute(call_id, muted))
        elif op == "dtmf":
            digits = str(message["digits"])
            self.host.loop.post(lambda: self._dtmf(call_id, digits))
        elif op == "interpreter":
            language, target = str(message["language"]), str(message["target"])
            pin = str(message.get("digits") or "") or None
            self.host.loop.post(lambda: self._add_interpreter(call_id, language, target, pin))
        elif op == "transfer_out":
            number, warm = str(message["number"]), bool(message.get("warm"))
            self.host.loop.post(lambda: self._transfer_out(call_id, number, warm))
        elif op in ("transfer_complete", "transfer_cancel"):
            self.host.loop.post(lambda: self._warm_transfer(call_id, op == "transfer_complete"))
        elif op == "interpreter_off":
            self.host.loop.post(lambda: self._remove_interpreter(call_id))
        else:
            log.error("unknown SIP command %r ignored", op)

    def _sip_uri(self, agent_id: str) -> str | None:
        """Her fixed SIP phone, else (with ``AMPARO_WEBRTC_REGISTRAR``) her browser registered
        with Kamailio."""
        with self.sessions() as db:
            agent = db.get(Agent, agent_id)
            if agent is None:
                return None
            if agent.sip_uri:
                return agent.sip_uri
        if self.browser_registrar is not None:
            return registered_contact(agent_id, self.browser_registrar)
        return None

    def _on_call_number(self, alert_call: str) -> tuple[str, str | None]:
        """Who took the call on ``alert_call`` (its live meta), and her on-call number."""
        member_id = str(self.live.hget(key("call", alert_call), "member") or "")
        with self.sessions() as db:
            member = db.get(Agent, member_id) if member_id else None
            return member_id, member.on_call_number if member is not None else None

    def _bridge_agent(self, call_id: str, agent_id: str, uri: str | None) -> None:
        session = self.host.calls.get(call_id)
        if session is None:
            log.warning("call %s: not held here any more; agent not called", call_id)
            return
        if not uri:
            log.error("call %s: agent %s has no SIP address", call_id, agent_id)
            self.host.log_event(call_id, "bridge_failed", {"to": agent_id, "status": 0})
            session.person_unanswered(agent_id)
            return
        self.host.bridge_to(session, uri, agent_id)

    def _monitor(
        self, call_id: str, supervisor_id: str, mode: MonitorMode, uri: str | None
    ) -> None:
        session = self.host.calls.get(call_id)
        bridge = session.bridge if session else None
        if bridge is None or not bridge.connected or not uri:
            log.warning("call %s: nothing to monitor (or no SIP address)", call_id)
            return
        if bridge.change_mode(supervisor_id, mode):
            return

        def gone() -> None:  # Redis off the pjsua2 thread
            field = supervisor_field(supervisor_id)
            self.host.submit(lambda: self.live.hdel(key("call", call_id), field), None)

        supervisor = SupervisorLeg(bridge, None, supervisor_id, mode, gone)  # type: ignore[arg-type]
        leg = self.host.new_leg(uri, supervisor)
        if leg is not None:
            supervisor.leg = borrowed(leg)
            bridge.add_supervisor(supervisor)

    def _stop_monitor(self, call_id: str, supervisor_id: str) -> None:
        session = self.host.calls.get(call_id)
        bridge = session.bridge if session is not None else None
        supervisor = bridge.supervisors.get(supervisor_id) if bridge is not None else None
        if supervisor is None:
            log.info("call %s: that supervisor is not on the call here", call_id)
            return
        log.info("call %s: supervisor leaves", call_id)
        self.host.log_event(call_id, "supervisor_left", {"supervisor_id": supervisor_id})
        supervisor.leg.end()

    def _redirect(self, call_id: str, number: str) -> None:
        session = self.host.calls.get(call_id)
        if session is None or session.ended:
            return
        bridge = session.bridge
        if bridge is not None and bridge.connected and not bridge.on_hold:
            log.info("call %s: already with a person; overflow ignored", call_id)
            return
        # On hold she was transferred (queued again): the queue's overflow applies, and the
        # person who held her is released once the number is bridged (``bridge_to``).
        session.steps.clear()
        session.gather = None
        self.host.dial_out(session, number, "overflow")

    def _end(self, call_id: str) -> None:
        """Only a call connected to a person is ended. A caller still waiting, on her way to
        the overflow number after the agent's phone failed, or already with that number was
        never with the agent who ends her call in the console: she stays where she is."""
        session = self.host.calls.get(call_id)
        if session is None or session.ended:
            log.info("call %s: not held here or already over; nothing to end", call_id)
            return
        bridge = session.bridge
        if bridge is None or not bridge.connected or bridge.person_id.startswith("number:"):
            log.warning("call %s: not with a person here; end ignored, caller kept", call_id)
            return
        bridge.end_from_console()

    def _hold(self, call_id: str, on: bool) -> None:
        session = self.host.calls.get(call_id)
        bridge = session.bridge if session is not None and not session.ended else None
        if bridge is None or not bridge.connected:
            word = "hold" if on else "resume"
            log.warning("call %s: not with a person here; %s ignored", call_id, word)
            return
        bridge.hold(on)

    def _mute(self, call_id: str, on: bool) -> None:
        session = self.host.calls.get(call_id)
        bridge = session.bridge if session is not None and not session.ended else None
        if bridge is None or not bridge.connected:
            word = "mute" if on else "unmute"
            log.warning("call %s: not with a person here; %s ignored", call_id, word)
            return
        bridge.mute(on)

    def _add_interpreter(
        self, call_id: str, language: str, target: str, digits: str | None, waited: float = 0.0
    ) -> None:
        """A SIP URI is called as it is; a number through the trunk, with the neutral caller
        ID. Her leg failing leaves caller and agent as they are, and the agent is told. Asked
        for as the agent accepts (the line's ``interpreter_on_accept``), it waits for the
        agent's phone to be answered, up to ``INTERPRETER_WAITS_FOR_AGENT_S``."""
        session = self.host.calls.get(call_id)
        bridge = session.bridge if session is not None and not session.ended else None
        agent_ringing = (
            session is not None
            and not session.ended
            and (bridge is None or (not bridge.connected and not bridge.ending))
        )
        if agent_ringing and waited < INTERPRETER_WAITS_FOR_AGENT_S:
            self.host.loop.call_later(
                AGENT_POLL_S,
                lambda: self._add_interpreter(
                    call_id, language, target, digits, waited + AGENT_POLL_S
                ),
            )
            return
        if bridge is None or not bridge.connected or ":" in bridge.person_id:
            log.warning("call %s: not with an agent here; interpreter not called", call_id)
            self.host.submit(lambda: self.live.hdel(key("call", call_id), INTERPRETER_FIELD), None)
            return
        if bridge.interpreter is not None:
            log.info("call %s: an interpreter is on the call already; ignored", call_id)
            return
        agent_id = bridge.person_id

        def gone(status: int | None) -> None:
            def tell() -> None:  # Redis on a worker, off the pjsua2 thread
                self.live.hdel(key("call", call_id), INTERPRETER_FIELD)
                if status is not None:
                    message = {"kind": "interpreter_failed", "call_id": call_id}
                    self.live.publish(agent_channel(agent_id), json.dumps(message))

            self.host.submit(tell, None)

        is_sip = target.startswith(("sip:", "sips:"))
        uri = target if is_sip else trunk_uri(target, self.trunk)

        def announce() -> None:  # rendered on a worker, played back on the pjsua2 thread
            self.host.submit(
                lambda: self._prompt(call_id, INTERPRETER_JOINING),
                lambda path: bridge.announce(INTERPRETER_JOINING, path),
            )

        interpreter = InterpreterLeg(
            bridge,
            None,  # type: ignore[arg-type]
            language,
            digits,
            gone,
            announce,
        )
        leg = self.host.new_leg(uri, interpreter, neutral=not is_sip) if uri else None
        if leg is None:
            log.error("call %s: the interpreter cannot be called (no trunk or refused)", call_id)
            interpreter.leg_ended(None, 0)  # type: ignore[arg-type]
            return
        interpreter.leg = borrowed(leg)
        bridge.interpreter = interpreter
        self.host.log_event(call_id, "interpreter_called", {"language": language})

    def _prompt(self, call_id: str, message_id: str) -> Path:
        """``message_id`` rendered in the call's locale (worker)."""
        with self.sessions() as db:
            call = db.get(Call, call_id)
            locale = call.locale if call is not None and call.locale else SOURCE_LOCALE
        return self.host.prompts.file_for(message_id, locale, {})

    def _warm_transfer(self, call_id: str, complete: bool) -> None:
        session = self.host.calls.get(call_id)
        bridge = session.bridge if session is not None and not session.ended else None
        transfer = bridge.transfer if bridge is not None else None
        if not isinstance(transfer, OutsideTransfer) or not transfer.warm:
            log.warning("call %s: no warm transfer here; ignored", call_id)
        elif not complete:
            transfer.cancel()  # ringing or consulted: she is back with her agent
        elif transfer.consulting is None:
            log.warning("call %s: the service has not answered; not handed over", call_id)
        else:
            transfer.complete()

    def _transfer_out(self, call_id: str, number: str, warm: bool = False) -> None:
        """The caller on hold while the number rings; answered, she is joined to it and the
        agent's leg released; not answered, she is back with the agent. Either way the
        agent's console is told."""
        session = self.host.calls.get(call_id)
        bridge = session.bridge if session is not None and not session.ended else None
        if session is None or bridge is None or not bridge.connected or ":" in bridge.person_id:
            log.warning("call %s: not with an agent here; transfer not made", call_id)
            return
        if bridge.transfer is not None:
            log.info("call %s: a transfer is ringing already; ignored", call_id)
            return
        agent_id = bridge.person_id

        def told(kind: str) -> None:
            message = json.dumps({"kind": kind, "call_id": call_id})
            live_call = key("call", call_id)

            def tell() -> None:  # Redis on a worker, off the pjsua2 thread
                if kind == "transfer_consulting":
                    self.live.hset(live_call, TRANSFER_CONSULTING_FIELD, "1")
                else:
                    self.live.hdel(live_call, TRANSFER_CONSULTING_FIELD)
                self.live.publish(agent_channel(agent_id), message)

            self.host.submit(tell, None)

        transfer = OutsideTransfer(self.host, session, bridge, told, warm)
        bridge.hold(True)
        uri = trunk_uri(number, self.trunk)
        leg = self.host.new_leg(uri, transfer, neutral=True) if uri else None
        if leg is None:
            transfer.failed(0)
            return
        transfer.person = borrowed(leg)
        bridge.transfer = transfer
        self.host.log_event(call_id, "transfer_ringing", {"by": agent_id})

    def _remove_interpreter(self, call_id: str) -> None:
        session = self.host.calls.get(call_id)
        bridge = session.bridge if session is not None and not session.ended else None
        if bridge is None or bridge.interpreter is None:
            log.info("call %s: no interpreter on the call here; nothing to remove", call_id)
            return
        bridge.interpreter.remove()

    def _dtmf(self, call_id: str, digits: str) -> None:
        session = self.host.calls.get(call_id)
        if session is None or session.ended:
            log.warning("call %s: not held here or over; keys not sent", call_id)
            return
        try:
            session.leg.dialDtmf(digits)
        except (pj.Error, ReferenceError) as exc:
            log.error("call %s: keys not sent (%s)", call_id, type(exc).__name__)
            return
        log.info("call %s: %s keys sent to the caller", call_id, len(digits))
        self.host.log_event(call_id, "keys_sent", {"count": len(digits)})
