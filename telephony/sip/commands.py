"""Telling the SIP process that holds a call what to do with it, from any process.

Several ``amparo sip`` processes (on several machines) share one Redis. A call's media lives
in exactly one of them, so a decision taken elsewhere (an agent accepts in the web console,
routing's sweeper overflows a call, a supervisor starts listening) must reach that process:

* ``amparo:sip:call:<call_id>`` names the owning process (set when the call is opened, removed
  when it ends, with a TTL so a killed process leaves nothing behind for long);
* each process subscribes to ``amparo:sip:<process_id>:commands`` and executes what arrives
  there for calls it holds;
* outbound calls (check-ins, notifications) are not bound to a process until one takes them:
  they wait in the list ``amparo:sip:outbound`` and whichever process has room takes the next
  one (and then owns it, so a ``cancel`` reaches it).

Messages carry ids only (call, agent, supervisor), never a victim's number.
Every ``request_*`` returns False when no live process holds the call, so the caller (the
console) can say so instead of waiting.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis

from calls.control import TRANSFER_CONSULTING_FIELD, TransferNotAnswered
from calls.interpreters import InterpreterLine, NoInterpreter
from store import metrics
from store.live_state import key

log = logging.getLogger(__name__)

OWNER_TTL_S = 6 * 3600
PROCESS_TTL_S = 15
OUTBOUND_QUEUE = key("sip", "outbound")


def owner_key(call_id: str) -> str:
    return key("sip", "call", call_id)


def command_channel(process_id: str) -> str:
    return key("sip", process_id, "commands")


def process_key(process_id: str) -> str:
    return key("sip", "process", process_id)


def claim_call(client: redis.Redis, call_id: str, process_id: str) -> None:
    client.set(owner_key(call_id), process_id, ex=OWNER_TTL_S)


def release_call(client: redis.Redis, call_id: str, process_id: str) -> None:
    if client.get(owner_key(call_id)) == process_id:
        client.delete(owner_key(call_id))


def owner_of(client: redis.Redis, call_id: str) -> str | None:
    owner = client.get(owner_key(call_id))
    return None if owner is None else str(owner)


def _send(client: redis.Redis, call_id: str, message: dict[str, Any]) -> bool:
    owner = owner_of(client, call_id)
    if owner is None:
        log.warning("call %s: no SIP process holds it; %s not sent", call_id, message["op"])
        return False
    delivered = int(client.publish(command_channel(owner), json.dumps(message)))
    if not delivered:
        log.warning("call %s: SIP process %s is not listening", call_id, owner)
    return delivered > 0


def request_bridge(client: redis.Redis, call_id: str, agent_id: str) -> bool:
    """The agent accepted: call their SIP URI and join them to the caller."""
    return _send(client, call_id, {"op": "bridge", "call_id": call_id, "agent_id": agent_id})


def request_member_join(client: redis.Redis, call_id: str, alert_call_id: str) -> bool:
    """An urgent-team member took the call from the alert call ``alert_call_id``: call her
    on-call number and join her to the caller."""
    message = {"op": "join_member", "call_id": call_id, "alert_call": alert_call_id}
    return _send(client, call_id, message)


def request_monitor(client: redis.Redis, call_id: str, supervisor_id: str, mode: str) -> bool:
    """A supervisor joins (or changes mode): ``listen``, ``whisper`` or ``barge``."""
    message = {"op": "monitor", "call_id": call_id, "supervisor_id": supervisor_id, "mode": mode}
    return _send(client, call_id, message)


def request_monitor_off(client: redis.Redis, call_id: str, supervisor_id: str) -> bool:
    """The supervisor leaves the call: her leg ends; caller and agent go on."""
    message = {"op": "monitor_off", "call_id": call_id, "supervisor_id": supervisor_id}
    return _send(client, call_id, message)


def request_redirect(client: redis.Redis, call_id: str, number: str) -> bool:
    """Send the caller to a configured number (a line's overflow) through the trunk."""
    return _send(client, call_id, {"op": "redirect", "call_id": call_id, "number": number})


def request_end(client: redis.Redis, call_id: str) -> bool:
    """The agent ended the call in the console: a BYE to the caller, the agent and any
    supervisor; the caller's hang-up then closes the call in the switchboard."""
    return _send(client, call_id, {"op": "end", "call_id": call_id})


def request_hold(client: redis.Redis, call_id: str, on: bool) -> bool:
    """Put a bridged caller on the hold loop, apart from the agent (``on``), or join them
    again."""
    return _send(client, call_id, {"op": "hold", "call_id": call_id, "on": on})


def request_mute(client: redis.Redis, call_id: str, on: bool) -> bool:
    """Mute the agent's leg towards the caller (``on``), or unmute it."""
    return _send(client, call_id, {"op": "mute", "call_id": call_id, "on": on})


DTMF_KEYS = frozenset("0123456789*#ABCD")
MAX_DTMF = 32


def request_dtmf(client: redis.Redis, call_id: str, digits: str) -> bool:
    """Send ``digits`` as RFC 2833 telephone-events on the caller's leg. The digits may be an
    account PIN (an interpreter service's): they travel in the command only, never in a log.

    Raises:
        ValueError: ``digits`` is empty, too long, or holds a character no keypad has.
    """
    digits = digits.upper()
    if not digits or len(digits) > MAX_DTMF or not set(digits) <= DTMF_KEYS:
        raise ValueError("DTMF digits must be 1 to 32 of 0-9 * # A-D")
    return _send(client, call_id, {"op": "dtmf", "call_id": call_id, "digits": digits})


def request_interpreter(client: redis.Redis, call_id: str, interpreter: InterpreterLine) -> bool:
    """Conference the interpreting service into a bridged call (its digits, an account PIN,
    travel in the command only, never in a log)."""
    message = {
        "op": "interpreter",
        "call_id": call_id,
        "language": interpreter.language,
        "target": interpreter.target,
        "digits": interpreter.dtmf or "",
    }
    return _send(client, call_id, message)


def request_transfer_out(
    client: redis.Redis, call_id: str, number: str, *, warm: bool = False
) -> bool:
    """A transfer of the caller to an outside number through the trunk; she comes back to the
    agent if it does not answer. ``warm``: the agent consults it first (``transfer_complete``
    or ``transfer_cancel`` follows)."""
    message = {"op": "transfer_out", "call_id": call_id, "number": number, "warm": warm}
    return _send(client, call_id, message)


def request_transfer_end(client: redis.Redis, call_id: str, *, complete: bool) -> bool:
    """After consulting: hand the caller over to the service, or take her back."""
    op = "transfer_complete" if complete else "transfer_cancel"
    return _send(client, call_id, {"op": op, "call_id": call_id})


def request_interpreter_off(client: redis.Redis, call_id: str) -> bool:
    """The interpreter's leg ends; caller and agent stay connected."""
    return _send(client, call_id, {"op": "interpreter_off", "call_id": call_id})


def request_dial(client: redis.Redis, call_id: str, caller_id: str | None = None) -> bool:
    """Ask whichever SIP process has room to ring an outbound call the switchboard opened
    (``telephony.sip.outbound``). Once per call however often it is asked; False when it was
    already asked. ``caller_id`` is the service's neutral number, never hers."""
    if not client.set(key("sip", "dial", call_id), "1", nx=True, ex=OWNER_TTL_S):
        return False
    message = {"op": "dial", "call_id": call_id, "caller_id": caller_id or ""}
    client.rpush(OUTBOUND_QUEUE, json.dumps(message))
    return True


def request_cancel(client: redis.Redis, call_id: str) -> bool:
    """Stop an outbound call still ringing (or not taken yet): the flag stops a process that
    takes the request later, the command the process ringing it now. True when a process
    holding the call was told."""
    client.set(cancel_key(call_id), "1", ex=OWNER_TTL_S)
    if owner_of(client, call_id) is None:
        return False
    return _send(client, call_id, {"op": "cancel", "call_id": call_id})


def cancel_key(call_id: str) -> str:
    return key("sip", "cancelled", call_id)


def cancelled(client: redis.Redis, call_id: str) -> bool:
    return bool(client.exists(cancel_key(call_id)))


@dataclass
class SipRedirector:
    """Routing's overflow for SIP calls (``TelephonyControl.redirectors["sip"]``)."""

    client: redis.Redis

    def redirect_to_number(self, call_id: str, number: str) -> None:
        request_redirect(self.client, call_id, number)


class NotHeld(RuntimeError):
    """No live SIP process holds the call: the command went nowhere."""


def _no_interpreters(_line_id: str | None, language: str) -> InterpreterLine:
    raise NoInterpreter(f"no interpreter for {language!r} is configured")


@dataclass
class SipBridge:
    """The console's bridge for SIP calls (``TelephonyControl.bridges["sip"]``): commands go to
    the SIP process that holds the call. ``interpreters`` finds a line's interpreter for a
    language (``calls.interpreters.interpreter_for``)."""

    client: redis.Redis
    interpreters: Callable[[str | None, str], InterpreterLine] = _no_interpreters

    def connect(self, call_id: str, agent_id: str) -> bool:
        return request_bridge(self.client, call_id, agent_id)

    def end(self, call_id: str) -> None:
        """The agent ended the call in the console: the process holding it sends a BYE to
        both legs. Hanging up her own phone does the same (``bridge.py``)."""
        request_end(self.client, call_id)

    def hold(self, call_id: str, on: bool) -> None:
        """Hold (``on``): the caller hears the hold loop and nothing of the agent, and the
        agent nothing of her; resume joins them again. Neither leg is hung up. Raises
        :class:`NotHeld` when no SIP process holds the call now (the console says so)."""
        if not request_hold(self.client, call_id, on):
            raise NotHeld(call_id)

    def mute(self, call_id: str, on: bool) -> None:
        """The agent's microphone: muted, the caller hears nothing of her (the agent still
        hears the caller); unmuted, she is heard again. Raises :class:`NotHeld` as hold."""
        if not request_mute(self.client, call_id, on):
            raise NotHeld(call_id)

    def send_dtmf(self, call_id: str, digits: str) -> None:
        """Keys on the caller's leg (RFC 2833), e.g. to drive a service she was joined to.
        Raises :class:`NotHeld` as hold."""
        if not request_dtmf(self.client, call_id, digits):
            raise NotHeld(call_id)

    def supervise(self, call_id: str, supervisor_id: str, mode: str) -> None:
        request_monitor(self.client, call_id, supervisor_id, mode)

    def stop_supervising(self, call_id: str, supervisor_id: str) -> None:
        """A call no SIP process holds any more has no supervisor leg to end."""
        request_monitor_off(self.client, call_id, supervisor_id)

    def add_interpreter(self, call_id: str, language: str) -> None:
        """The line's interpreter for ``language`` is called and joined to caller and agent.
        Raises ``calls.interpreters.NoInterpreter`` when none is configured, and
        :class:`NotHeld` when no SIP process holds the call now."""
        line_id = self.client.hget(key("call", call_id), "line_id")
        interpreter = self.interpreters(str(line_id) if line_id else None, language)
        if not request_interpreter(self.client, call_id, interpreter):
            raise NotHeld(call_id)

    def transfer_out(self, call_id: str, number: str) -> None:
        """Raises :class:`NotHeld` when no SIP process holds the call now."""
        if not request_transfer_out(self.client, call_id, number):
            raise NotHeld(call_id)

    def warm_transfer(self, call_id: str, number: str) -> None:
        """The service is rung and, once it answers, talks with the agent while the caller
        waits on hold. Raises :class:`NotHeld` when no SIP process holds the call now."""
        if not request_transfer_out(self.client, call_id, number, warm=True):
            raise NotHeld(call_id)

    def complete_transfer(self, call_id: str) -> None:
        """Raises :class:`calls.control.TransferNotAnswered` before the service answered."""
        if not self.client.hget(key("call", call_id), TRANSFER_CONSULTING_FIELD):
            raise TransferNotAnswered(call_id)
        if not request_transfer_end(self.client, call_id, complete=True):
            raise NotHeld(call_id)

    def cancel_transfer(self, call_id: str) -> None:
        if not request_transfer_end(self.client, call_id, complete=False):
            raise NotHeld(call_id)

    def remove_interpreter(self, call_id: str) -> None:
        if not request_interpreter_off(self.client, call_id):
            raise NotHeld(call_id)


PROCESSES = key("sip", "processes")
"""Sorted set of SIP process ids by last heartbeat: finding the live ones reads this, never a
scan of the keyspace (the check-in dialer asks on every call it queues)."""


def beat(client: redis.Redis, process_id: str, heartbeat: dict[str, str], now: float) -> None:
    """Publish one SIP process's heartbeat (expires unless refreshed)."""
    pipe = client.pipeline(transaction=False)
    pipe.hset(process_key(process_id), mapping=heartbeat)  # type: ignore[arg-type]
    pipe.expire(process_key(process_id), PROCESS_TTL_S)
    pipe.zadd(PROCESSES, {process_id: now})
    pipe.execute()


def forget_process(client: redis.Redis, process_id: str) -> None:
    client.delete(process_key(process_id))
    client.zrem(PROCESSES, process_id)


def live_processes(client: redis.Redis, now: float | None = None) -> list[dict[str, str]]:
    """Heartbeats of the SIP processes alive now (for ``amparo check`` and the dialer)."""
    now = time.time() if now is None else now
    client.zremrangebyscore(PROCESSES, "-inf", now - PROCESS_TTL_S)
    out = []
    for process_id in client.zrange(PROCESSES, 0, -1):
        data = client.hgetall(process_key(str(process_id)))
        if data:
            out.append({str(k): str(v) for k, v in data.items()})
    return out


class CommandListener:
    """Subscribes to this process's channel and hands each command to ``handle`` (on the
    listener's thread: ``handle`` must only post to the pjsua2 loop)."""

    def __init__(
        self, client: redis.Redis, process_id: str, handle: Callable[[dict[str, Any]], None]
    ) -> None:
        self._client = client
        self._channel = command_channel(process_id)
        self._handle = handle
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="amparo-sip-commands", daemon=True)

    def start(self) -> CommandListener:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(3)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                pubsub = self._client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self._channel)
                while not self._stop.is_set():
                    message = pubsub.get_message(timeout=0.5)
                    if message is None:
                        continue
                    try:
                        self._handle(json.loads(message["data"]))
                    except (ValueError, KeyError, TypeError):
                        log.error("unreadable SIP command ignored")
                pubsub.close()
            except redis.RedisError:
                log.exception("SIP command channel lost; reconnecting")
                time.sleep(1)


def metric_readings(client: redis.Redis, now: float) -> list[metrics.Reading]:
    """Legs in use and legs admitted by each live SIP process, from its heartbeat."""
    readings = []
    for process in live_processes(client, now):
        labels = (process.get("process_id", ""),)
        readings.append(metrics.Reading(metrics.SIP_CALLS, labels, float(process.get("legs") or 0)))
        readings.append(
            metrics.Reading(metrics.SIP_CAPACITY, labels, float(process.get("max_calls") or 0))
        )
    return readings
