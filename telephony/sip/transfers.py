"""A cold transfer of a SIP caller to an outside number, that never leaves her in silence.

The agent asks for it in the console (command ``transfer_out``). The caller goes on hold (the
hold loop) while the number is called through the trunk with the neutral caller ID; the agent
stays on her leg. When the number answers, the agent's leg is released and the caller is
joined to the number (``sip_transferred_out``); the agent's console is told. When it does not
answer (busy, no answer, refused, no trunk), the caller comes back to the agent at once
(``sip_transfer_failed``) and the agent's console is told, so she can try another way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from telephony.sip.bridge import Bridge
from telephony.sip.legs import Leg

log = logging.getLogger(__name__)

TRANSFER_PERSON = "number:transfer"


class OutsideTransfer(Bridge):
    """The outside number's leg: a bridge of its own once answered, replacing the agent's.
    ``told(ok)`` reaches the agent's console (True: she was put through; False: back with
    the agent)."""

    def __init__(
        self, host: Any, session: Any, agent_side: Bridge, told: Callable[[bool], None]
    ) -> None:
        super().__init__(host, session, None, TRANSFER_PERSON)  # type: ignore[arg-type]
        self.agent_side = agent_side
        self.told = told

    def leg_media(self, leg: Leg, media: Any) -> None:
        if self.connected:
            return  # a re-INVITE: the links stand
        if self.session.ended or self.agent_side.caller_gone:
            leg.end()
            return
        self.agent_side.transfer = None  # answered: not ended with the agent's side
        self.agent_side.release()  # the agent's leg ends; the caller is on the hold loop
        super().leg_media(leg, media)
        self.host.log_event(self.call_id, "transferred_out", {"by": self.agent_side.person_id})
        self.told(True)

    def leg_ended(self, leg: Leg, status: int) -> None:
        if self.connected:
            super().leg_ended(leg, status)
            return
        self.failed(status)

    def failed(self, status: int) -> None:
        """Not answered: the caller is back with the agent, who is told."""
        log.warning("call %s: transfer unanswered (%s); back to the agent", self.call_id, status)
        self.host.log_event(self.call_id, "transfer_failed", {"status": status})
        self.agent_side.transfer = None
        if not self.agent_side.released and not self.session.ended:
            self.agent_side.hold(False)  # (an agent who hung up meanwhile left her on hold)
        self.told(False)
