"""A cold transfer of a SIP caller to an outside number, that never leaves her in silence.

The agent asks for it in the console (command ``transfer_out``). The caller goes on hold (the
hold loop) while the number is called through the trunk with the neutral caller ID; the agent
stays on her leg. When the number answers, the agent's leg is released and the caller is
joined to the number (``sip_transferred_out``); the agent's console is told. When it does not
answer (busy, no answer, refused, no trunk), the caller comes back to the agent at once
(``sip_transfer_failed``) and the agent's console is told, so she can try another way.

A warm transfer (command ``transfer_out`` with ``warm``) consults first: once the number
answers, agent and service talk while the caller stays on the hold loop
(``sip_transfer_consulting``). ``transfer_complete`` then joins the caller to the service and
releases the agent, as above; ``transfer_cancel`` (or the service hanging up) ends the
service's leg and gives the caller back to her agent (``sip_transfer_returned``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from recordings_policy.policy import SensitiveMoment
from telephony.sip.bridge import Bridge
from telephony.sip.interpreters import link, unlink
from telephony.sip.legs import Leg

log = logging.getLogger(__name__)

TRANSFER_PERSON = "number:transfer"


class OutsideTransfer(Bridge):
    """The outside number's leg: a bridge of its own once answered, replacing the agent's.
    ``told(kind)`` reaches the agent's console: ``transferred_out``, ``transfer_failed``,
    ``transfer_consulting`` or ``transfer_returned``."""

    def __init__(
        self,
        host: Any,
        session: Any,
        agent_side: Bridge,
        told: Callable[[str], None],
        warm: bool = False,
    ) -> None:
        super().__init__(host, session, None, TRANSFER_PERSON)  # type: ignore[arg-type]
        self.agent_side = agent_side
        self.told = told
        self.warm = warm
        self.consulting: Any = None  # the service's media while agent and service talk
        self.returned = False

    def leg_media(self, leg: Leg, media: Any) -> None:
        if self.connected or self.consulting is not None:
            return  # a re-INVITE: the links stand
        if self.session.ended or self.agent_side.caller_gone:
            leg.end()
            return
        if self.warm:
            agent = self.agent_side.person.media
            if agent is None:
                leg.end()
                return
            self.consulting = media
            self._outside_service(True)
            link(agent, media)
            link(media, agent)
            self.host.log_event(self.call_id, "transfer_consulting", {})
            self.told("transfer_consulting")
            return
        self._put_through(leg, media)

    def complete(self) -> None:
        """The agent hands the caller over after consulting: she joins the service."""
        media = self.consulting
        if media is None or self.session.ended:
            return
        self.consulting = None
        agent = self.agent_side.person.media
        if agent is not None:
            unlink(agent, media)
            unlink(media, agent)
        self._put_through(self.person, media)

    def cancel(self) -> None:
        """The agent takes the caller back: the service's leg ends."""
        self.returned = True
        self.person.end()

    def _put_through(self, leg: Leg, media: Any) -> None:
        self._outside_service(True)
        self.agent_side.transfer = None  # answered: not ended with the agent's side
        self.agent_side.release()  # the agent's leg ends; the caller is on the hold loop
        super().leg_media(leg, media)
        self.host.log_event(self.call_id, "transferred_out", {"by": self.agent_side.person_id})
        self.told("transferred_out")

    def leg_ended(self, leg: Leg, status: int) -> None:
        if self.connected:
            super().leg_ended(leg, status)
            return
        self.failed(status)

    def _outside_service(self, on: bool) -> None:
        """Pause the call's recording while the service is on it, or resume it, when her
        policy pauses for an outside service."""
        if SensitiveMoment.OUTSIDE_SERVICE not in self.session.record_pauses:
            return
        agent = self.agent_side.person.media
        with_her = () if on or agent is None or self.agent_side.released else (agent,)
        if self.session.audio.pause_recording(on, with_her):
            kind = "recording_paused" if on else "recording_resumed"
            self.host.log_event(self.call_id, kind, {"moment": SensitiveMoment.OUTSIDE_SERVICE})

    def failed(self, status: int) -> None:
        """Not answered, or not handed over after consulting: the caller is back with the
        agent, who is told."""
        returned = self.returned or self.consulting is not None
        self.consulting = None
        if returned:
            log.info("call %s: transfer not made after consulting; back to the agent", self.call_id)
            self.host.log_event(self.call_id, "transfer_returned", {"status": status})
        else:
            log.warning(
                "call %s: transfer unanswered (%s); back to the agent", self.call_id, status
            )
            self.host.log_event(self.call_id, "transfer_failed", {"status": status})
        self.agent_side.transfer = None
        self._outside_service(False)
        if not self.agent_side.released and not self.session.ended:
            self.agent_side.hold(False)  # (an agent who hung up meanwhile left her on hold)
        self.told("transfer_returned" if returned else "transfer_failed")
