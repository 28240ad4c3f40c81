"""A dialer chosen on first use (``checkins.ports.OutboundDialer``)."""

from __future__ import annotations

from collections.abc import Callable

from checkins.ports import OutboundDialer
from store.vocabulary import Channel


class LazyDialer:
    """Chooses the outbound edge on first use, so a web process that only records the
    outcomes of check-in calls never needs the dialer's module."""

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
