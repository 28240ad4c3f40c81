"""What check-ins, alarms and notifications need from the rest of the system.

app.py wires them: ``OutboundDialer`` to a telephony edge (Twilio, SIP or the simulator),
``CallOpener`` to the switchboard, ``Alerts`` to routing's ladders and the supervisors' feed.
"""

from __future__ import annotations

from typing import Any, Protocol

from store.vocabulary import Channel


class OutboundDialer(Protocol):
    """A telephony edge that rings a phone for a call the switchboard already opened.

    The edge reports what happens through the switchboard (``answered(call_id, at,
    machine=...)`` and the call's events) and, when it learns early that nobody will answer
    (busy, failed, no answer), through ``checkins.attempts.report_unanswered``.
    """

    @property
    def channel(self) -> Channel: ...

    def place_call(self, call_id: str, to_number: str, caller_id: str | None) -> str:
        """Start ringing ``to_number`` showing ``caller_id`` (a neutral number; None: the
        edge's default); return the edge's id for the call."""
        ...

    def cancel(self, call_id: str) -> None:
        """Stop ringing a call nobody answered (no-op when it ended or was answered)."""
        ...


class CallOpener(Protocol):
    def open_outbound(
        self,
        *,
        line_id: str,
        beneficiary_id: str,
        to_number: str,
        channel: Channel,
        at: float,
        call_id: str | None = None,
        flow_name: str = "checkin_outbound",
    ) -> str: ...


class Alerts(Protocol):
    def escalate(
        self, escalation_id: str, team_id: str, reason: str, now: float, call_id: str | None = None
    ) -> Any:
        """Start the team's ladder; idempotent on ``escalation_id``."""
        ...

    def notify_supervisors(self, kind: str, data: dict[str, Any]) -> None: ...
