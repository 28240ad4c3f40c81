"""Ports resolved on first use (``checkins.ports``), so a process builds the check-in context
without touching what stands behind them: a web process that only records the outcomes of
check-in calls never needs the dialer's module, and an alarm is stored and answered while
Redis (where the switchboard's router lives) is down."""

from __future__ import annotations

from collections.abc import Callable

from checkins.ports import CallOpener, OutboundDialer
from store.vocabulary import Channel


class LazyDialer:
    """Chooses the outbound edge on first use."""

    def __init__(self, choose: Callable[[], OutboundDialer]) -> None:
        self._choose = choose
        self._dialer: OutboundDialer | None = None

    def _edge(self) -> OutboundDialer:
        if self._dialer is None:
            self._dialer = self._choose()
        return self._dialer

    @property
    def channel(self) -> Channel:
        return self._edge().channel

    def place_call(self, call_id: str, to_number: str, caller_id: str | None) -> str:
        return self._edge().place_call(call_id, to_number, caller_id)

    def cancel(self, call_id: str) -> None:
        self._edge().cancel(call_id)


class LazyCallOpener:
    """Opens outbound calls through the switchboard, reached on each use."""

    def __init__(self, switchboard: Callable[[], CallOpener]) -> None:
        self._switchboard = switchboard

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
    ) -> str:
        return self._switchboard().open_outbound(
            line_id=line_id,
            beneficiary_id=beneficiary_id,
            to_number=to_number,
            channel=channel,
            at=at,
            call_id=call_id,
            flow_name=flow_name,
        )
