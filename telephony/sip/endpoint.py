"""The pjsua2 Endpoint of one ``amparo sip`` process: its thread, transports, account and the
admission control that keeps it from ever being overrun.

One Endpoint per process (pjsua2 allows no more), a null audio device (no sound card: the
conference bridge is clocked by pjmedia's null port) and an 8 kHz media clock, so G.711 calls
are mixed without resampling. UDP and TCP transports listen on ``AMPARO_SIP_LISTEN``, and a TLS
transport on ``AMPARO_SIP_TLS_LISTEN`` with the certificate of the settings; with
``AMPARO_SIP_REGISTRAR`` the account registers to a trunk, otherwise it answers whatever is sent
to the listening address (behind Kamailio or a carrier's SBC). ``AMPARO_SIP_SRTP`` offers or
requires SRTP with SDES keys, which travel only over TLS (``srtpSecureSignaling``): keys in a
clear-text SDP would protect nothing.

Admission control: pjmedia aborts the whole process when the conference bridge runs out of
ports, and pjsua answers 486 Busy when its call table is full (a proxy treats that as final and
the caller hears busy). So a new INVITE is refused with **503 and Retry-After** once the legs in
use reach ``AMPARO_SIP_MAX_CALLS`` (default 480 of the 512 compiled, leaving room for agents'
and supervisors' legs, which are never refused): a proxy then tries the next process.
"""

from __future__ import annotations

import logging
import resource
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pjsua2 as pj

from telephony.sip.legs import Leg, call_param
from telephony.sip.loop import PjLoop

log = logging.getLogger(__name__)

SRTP_USE = {
    "off": 0,
    "optional": 1,
    "mandatory": 2,
}  # pjmedia_srtp_use: disabled/optional/mandatory


@dataclass(frozen=True)
class SipTls:
    """A TLS transport: where it listens, its certificate and key (PEM), and the CA list peers'
    certificates are checked against (without one they are not checked)."""

    listen: str
    cert: Path
    key: Path
    ca: Path | None = None


RETRY_AFTER_S = 5
LOG_LEVEL = 1


def raise_open_files_limit() -> int:
    """Every call holds RTP and RTCP sockets and a player's file: lift the soft limit to the hard
    one so hundreds of calls do not fail on ``EMFILE``."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


class AdmittingAccount(pj.Account):  # type: ignore[misc]
    """The SIP account; every incoming INVITE passes :meth:`onIncomingCall`."""

    def __init__(
        self,
        admit: Callable[[], bool],
        accept: Callable[[Leg], None],
        track: Callable[[Leg], None],
    ) -> None:
        super().__init__()
        self._admit = admit
        self._accept = accept
        self._track = track
        self.refused = 0
        #: What the trunk's registrar last said: "not configured", "pending", "registered",
        #: "unregistered" or "failed <code>" (shown in the process's heartbeat).
        self.registration = "not configured"

    def onIncomingCall(self, prm: Any) -> None:
        # Called from C++: nothing may escape (it would abort the process).
        leg = Leg(self, prm.callId)
        self._track(leg)
        try:
            if not self._admit():
                self.refused += 1
                refuse(leg)
                return
            self._accept(leg)
        except Exception:
            log.exception("incoming call failed; refused with 503")
            refuse(leg)

    def onRegState(self, prm: Any) -> None:
        try:
            code = int(prm.code)
            if 200 <= code < 300:
                self.registration = "registered" if int(prm.expiration) > 0 else "unregistered"
                log.info("trunk registration: %s %s (%s)", code, prm.reason, self.registration)
            else:
                self.registration = f"failed {code}"
                log.error(
                    "trunk registration failed: %s %s; calls from the trunk may not arrive",
                    code,
                    prm.reason,
                )
        except Exception:
            log.exception("registration callback failed")


class SipEngine:
    """Owns the pjsua2 thread. ``start`` returns once the transports listen (or raises)."""

    def __init__(
        self,
        listen: str,
        *,
        max_legs: int,
        rtp_port: int = 0,
        registrar: str | None = None,
        user: str | None = None,
        password: str | None = None,
        tls: SipTls | None = None,
        srtp: str = "off",
    ) -> None:
        host, _, port = listen.rpartition(":")
        self.tls = tls
        self.srtp = srtp
        self.host = host
        self.port = int(port)
        self.max_legs = max_legs
        self.rtp_port = rtp_port
        self.registrar = registrar
        self.user = user
        self.password = password
        self.loop = PjLoop()
        self.legs: set[Leg] = set()
        self.endpoint: Any = None
        self.account: AdmittingAccount | None = None
        self._started = threading.Event()
        self._stopping = threading.Event()
        self._failure: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="amparo-sip", daemon=True)
        self.on_started: Callable[[], None] = lambda: None
        self.on_stopping: Callable[[], None] = lambda: None
        self.accept: Callable[[Leg], None] = refuse
        self.admit_extra: Callable[[], bool] = lambda: True

    # -- lifecycle (any thread) --------------------------------------------------------------

    def start(self, timeout: float = 30.0) -> None:
        self._thread.start()
        if not self._started.wait(timeout) or self._failure is not None:
            raise RuntimeError(f"SIP engine did not start: {self._failure}")

    def stop(self) -> None:
        self._stopping.set()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def legs_in_use(self) -> int:
        return len(self.legs)

    def track(self, leg: Leg) -> None:
        """Hold ``leg`` (the only strong reference, see ``legs.borrowed``) until its
        DISCONNECTED callback, which drops it so the Call is deleted before pjsua can give its
        slot to a new call."""
        self.legs.add(leg)
        leg.on_gone = self.legs.discard

    # -- pjsua2 thread -----------------------------------------------------------------------

    def _admit(self) -> bool:
        # The leg being decided on is already in ``legs``.
        return (
            not self._stopping.is_set() and len(self.legs) <= self.max_legs and self.admit_extra()
        )

    def _run(self) -> None:
        try:
            self._create()
        except BaseException as exc:
            self._failure = exc
            self._started.set()
            log.exception("SIP engine failed to start")
            self._destroy()
            return
        self._started.set()
        try:
            self.on_started()
            while not self._stopping.is_set():
                self.loop.run_once(self.endpoint.libHandleEvents)
            self.on_stopping()
        except BaseException:
            log.exception("SIP engine loop failed")
        finally:
            self._destroy()

    def _create(self) -> None:
        raise_open_files_limit()
        self.loop.thread_id = threading.get_ident()
        endpoint = pj.Endpoint()
        endpoint.libCreate()
        self.endpoint = endpoint
        config = pj.EpConfig()
        config.uaConfig.maxCalls = 100_000  # clamped by pjsua to the compiled PJSUA_MAX_CALLS
        config.uaConfig.threadCnt = 0
        config.uaConfig.mainThreadOnly = True
        config.uaConfig.userAgent = "Amparo"
        config.logConfig.level = LOG_LEVEL
        config.logConfig.consoleLevel = LOG_LEVEL
        config.medConfig.clockRate = 8000
        config.medConfig.sndClockRate = 8000
        config.medConfig.channelCount = 1
        config.medConfig.noVad = True
        config.medConfig.ecTailLen = 0  # no echo canceller: nothing here has a loudspeaker
        endpoint.libInit(config)
        endpoint.audDevManager().setNullDev()
        transport = pj.TransportConfig()
        transport.boundAddress = self.host
        transport.port = self.port
        endpoint.transportCreate(pj.PJSIP_TRANSPORT_UDP, transport)
        endpoint.transportCreate(pj.PJSIP_TRANSPORT_TCP, transport)
        if self.tls is not None:
            endpoint.transportCreate(pj.PJSIP_TRANSPORT_TLS, self._tls_config(self.tls))
        endpoint.libStart()
        for codec in endpoint.codecEnum2():
            # G.711 first: what carriers and SIPp speak, and no transcoding at 8 kHz.
            priority = {"PCMA/8000/1": 250, "PCMU/8000/1": 254}.get(codec.codecId, 0)
            if codec.codecId.startswith(("telephone-event", "PCM")):
                priority = max(priority, 200)
            endpoint.codecSetPriority(codec.codecId, priority)
        account = AdmittingAccount(self._admit, lambda leg: self.accept(leg), self.track)
        if self.registrar:
            account.registration = "pending"
        account.create(self._account_config(), True)
        self.account = account
        log.info(
            "SIP engine listening on %s:%s (UDP, TCP)%s, SRTP %s, %s legs at most",
            self.host,
            self.port,
            f" and {self.tls.listen} (TLS)" if self.tls else "",
            self.srtp,
            self.max_legs,
        )

    @staticmethod
    def _tls_config(tls: SipTls) -> Any:
        host, _, port = tls.listen.rpartition(":")
        config = pj.TransportConfig()
        config.boundAddress = host
        config.port = int(port)
        config.tlsConfig.certFile = str(tls.cert)
        config.tlsConfig.privKeyFile = str(tls.key)
        if tls.ca is not None:
            config.tlsConfig.CaListFile = str(tls.ca)
            config.tlsConfig.verifyServer = True
        return config

    def _account_config(self) -> Any:
        config = pj.AccountConfig()
        user = self.user or "amparo"
        if self.registrar:
            domain = self.registrar.split(":", 1)[1]
            config.idUri = f"sip:{user}@{domain}"
            config.regConfig.registrarUri = self.registrar
            config.regConfig.timeoutSec = 300
            if self.user and self.password:
                credential = pj.AuthCredInfo("digest", "*", self.user, 0, self.password)
                config.sipConfig.authCreds.append(credential)
        else:
            config.idUri = f"sip:{user}@{self.host}:{self.port}"
        config.mediaConfig.transportConfig.boundAddress = self.host
        config.mediaConfig.transportConfig.port = self.rtp_port
        config.mediaConfig.transportConfig.portRange = (
            4 * (self.max_legs + 64) if self.rtp_port else 0
        )
        config.callConfig.timerUse = pj.PJSUA_SIP_TIMER_OPTIONAL
        config.mediaConfig.srtpUse = SRTP_USE[self.srtp]
        config.mediaConfig.srtpSecureSignaling = 1 if self.srtp != "off" else 0
        return config

    def hang_up_everything(self, seconds: float = 3.0) -> None:
        """End every leg and pump events until they are gone (pjsua2 thread)."""
        for leg in list(self.legs):
            leg.end()
        deadline = threading.Event()
        timer = threading.Timer(seconds, deadline.set)
        timer.start()
        try:
            while any(not leg.ended for leg in self.legs) and not deadline.is_set():
                self.loop.run_once(self.endpoint.libHandleEvents)
        finally:
            timer.cancel()

    def _destroy(self) -> None:
        endpoint = self.endpoint
        if endpoint is None:
            return
        try:
            if self.legs:
                self.hang_up_everything()
            self.loop.drain()
            # A Call object must never outlive libDestroy: its destructor calls into pjsua.
            self.legs.clear()
            if self.account is not None:
                self.account.shutdown()
                self.account = None
            endpoint.libDestroy()
        except Exception:
            log.exception("SIP engine shutdown failed")
        self.endpoint = None


def refuse_headers() -> dict[str, str]:
    return {"Retry-After": str(RETRY_AFTER_S)}


def refuse(leg: Leg) -> None:
    """Answer an INVITE we cannot serve: 503 with Retry-After (never 486, never silence)."""
    try:
        # A final answer (not hangup): pjsua adds the headers only to answers it sends.
        leg.answer(call_param(503, refuse_headers()))
    except pj.Error as exc:
        log.warning("503 not sent: %s", exc.reason)
