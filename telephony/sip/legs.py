"""A pjsua2 call leg that hands its callbacks to a plain Python listener.

pjsua2 delivers call callbacks on the pjsua2 thread (see ``loop.py``). The subclass of
``pj.Call`` stays thin: it translates states and keys into listener calls, so the IVR session,
an agent's leg and a supervisor's leg share one leg type and the logic lives apart from SWIG.
"""

from __future__ import annotations

import logging
import re
import weakref
from collections.abc import Callable
from typing import Any, Protocol, cast

import pjsua2 as pj

from settings import Settings

log = logging.getLogger(__name__)

_URI_USER = re.compile(r"sips?:([^@;>]+)@")
_URI_HOST = re.compile(r"sips?:(?:[^@;>]+@)?([^;>]+)")


def uri_user(uri: str) -> str | None:
    """The user part of a SIP URI (the dialled or calling number)."""
    match = _URI_USER.search(uri)
    return match.group(1) if match else None


def uri_host(uri: str) -> str | None:
    match = _URI_HOST.search(uri)
    return match.group(1) if match else None


def trunk_host(settings: Settings) -> str | None:
    """Where numbers are dialled: ``AMPARO_SIP_TRUNK``, else the registrar's host, else None."""
    if settings.sip_trunk:
        return settings.sip_trunk
    return uri_host(settings.sip_registrar) if settings.sip_registrar else None


def trunk_uri(number: str, trunk: str | None) -> str | None:
    """``number`` (digits and ``+`` kept) at the trunk; None without a trunk."""
    digits = "".join(ch for ch in number if ch.isdigit() or ch == "+")
    return f"sip:{digits}@{trunk}" if trunk else None


def borrowed(leg: Leg) -> Leg:
    """A weak reference to ``leg`` for everything but the engine's set of live legs.

    pjsua2's ``Call`` destructor hangs up "its" call slot and detaches it from its Python object,
    and pjsua reuses slots: a Leg object that outlived its call (kept by a timer, a bridge, a
    session) would, when finally freed, hang up and orphan whichever new call got the slot.
    So the engine holds the only strong reference and drops it inside the DISCONNECTED
    callback, where pjsua2 allows the Call to be deleted; everyone else borrows.
    """
    if isinstance(leg, weakref.ProxyType):
        return leg
    return cast(Leg, weakref.proxy(leg))


def call_param(status: int = 0, headers: dict[str, str] | None = None) -> Any:
    """A CallOpParam without a real-time text stream: pjproject 2.17 adds one per call by
    default, with its own clock thread whose stop blocks the event loop at every hangup."""
    param = pj.CallOpParam(True)
    param.opt.textCount = 0
    if status:
        param.statusCode = status
    for name, value in (headers or {}).items():
        header = pj.SipHeader()
        header.hName = name
        header.hValue = value
        param.txOption.headers.append(header)
    return param


class LegListener(Protocol):
    def leg_confirmed(self, leg: Leg) -> None: ...

    def leg_media(self, leg: Leg, media: Any) -> None: ...

    def leg_digit(self, leg: Leg, digit: str) -> None: ...

    def leg_ended(self, leg: Leg, status: int) -> None: ...


class Leg(pj.Call):  # type: ignore[misc]
    """One SIP dialog; ``listener`` decides what it means."""

    def __init__(self, account: Any, call_index: int = pj.PJSUA_INVALID_ID) -> None:
        super().__init__(account, call_index)
        self.listener: LegListener | None = None
        self.confirmed = False
        self.ended = False
        self.media: Any = None
        self.status = 0
        self.sip_call_id = ""
        self.on_gone: Callable[[Leg], None] = lambda leg: None

    # pjsua2 calls these from C++ (SWIG directors): an exception escaping one would unwind
    # through pjsua and abort the process, so every callback body is guarded.

    def onCallState(self, prm: Any) -> None:
        try:
            self._state()
        except Exception:
            log.exception("call state callback failed")

    def onCallMediaState(self, prm: Any) -> None:
        try:
            self._media_state()
        except Exception:
            log.exception("media state callback failed")

    def onDtmfDigit(self, prm: Any) -> None:
        # RFC 2833 telephone-events and SIP INFO (application/dtmf-relay) both land here.
        try:
            log.debug("key received by %s", "SIP INFO" if prm.method == 1 else "RFC 2833")
            if self.listener is not None and not self.ended:
                for digit in str(prm.digit):
                    self.listener.leg_digit(self, digit)
        except Exception:
            log.exception("key callback failed")

    def _state(self) -> None:
        info = self.getInfo()
        self.sip_call_id = self.sip_call_id or str(info.callIdString)
        if info.state == pj.PJSIP_INV_STATE_CONFIRMED and not self.confirmed:
            self.confirmed = True
            if self.listener is not None:
                self.listener.leg_confirmed(self)
        elif info.state == pj.PJSIP_INV_STATE_DISCONNECTED and not self.ended:
            self.ended = True
            self.status = int(info.lastStatusCode)
            self.media = None
            try:
                if self.listener is not None:
                    self.listener.leg_ended(self, self.status)
            finally:
                self.on_gone(self)

    def _media_state(self) -> None:
        if self.ended:
            return
        info = self.getInfo()
        for index, media in enumerate(info.media):
            if media.type == pj.PJMEDIA_TYPE_AUDIO and media.status in (
                pj.PJSUA_CALL_MEDIA_ACTIVE,
                pj.PJSUA_CALL_MEDIA_REMOTE_HOLD,
            ):
                audio = self.getAudioMedia(index)
                first = self.media is None
                self.media = audio
                if self.listener is not None and first:
                    self.listener.leg_media(self, audio)
                return

    def end(self, status: int = 0) -> None:
        """Hang up (or refuse) unless already over; never raises."""
        try:
            if self.ended:
                return
        except ReferenceError:  # a borrowed leg whose call is over and gone
            return
        try:
            self.hangup(call_param(status))
        except pj.Error as exc:
            log.warning("hangup refused: %s", exc.reason)
