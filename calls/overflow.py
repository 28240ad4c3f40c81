"""Where a caller goes when everything else fails, known without the database or Redis.

Safety rule 1 needs a number to dial at the very moment the database or Redis is down, so each
process keeps a small book of line numbers -> overflow and urgent numbers: loaded when the
process starts, refreshed now and then, and updated from every line a successful turn touched.
It is a cache that no other process needs (each web worker and each SIP process fills its own);
the last resort is ``AMPARO_FALLBACK_NUMBER``. Every channel's fallback reads it: Twilio's
fail-safe documents and the SIP turn watchdog.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from calls.directory import LineInfo
from store.models import Line
from store.phone_numbers import InvalidPhoneNumber, to_e164

log = logging.getLogger(__name__)

REFRESH_EVERY_S = 300.0


@dataclass(frozen=True)
class LineNumbers:
    line_id: str
    number: str
    overflow: str
    urgent: str


class OverflowBook:
    """Line number or line id -> the numbers a caller of that line may be sent to."""

    def __init__(
        self,
        fallback_number: str | None,
        *,
        refresh_every_s: float = REFRESH_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.fallback_number = fallback_number
        self._by_number: dict[str, LineNumbers] = {}
        self._by_id: dict[str, LineNumbers] = {}
        self._lock = threading.Lock()
        self._refresh_every_s = refresh_every_s
        self._clock = clock
        self._last_attempt: float | None = None

    def load(self, sessions: sessionmaker[Session]) -> bool:
        """Read every line; False (and the book unchanged) when the database does not answer."""
        self._last_attempt = self._clock()
        try:
            with sessions() as db:
                rows = [
                    LineNumbers(line.id, line.number, line.overflow_number, line.urgent_number)
                    for line in db.scalars(select(Line))
                ]
        except Exception as exc:
            log.warning("overflow book not refreshed: %s", type(exc).__name__)
            return False
        with self._lock:
            self._by_number = {_key(row.number): row for row in rows}
            self._by_id = {row.line_id: row for row in rows}
        return True

    def refresh_if_stale(self, sessions: sessionmaker[Session]) -> None:
        last = self._last_attempt
        if last is None or self._clock() - last >= self._refresh_every_s:
            self.load(sessions)

    def remember(self, line: LineInfo) -> None:
        row = LineNumbers(line.line_id, line.number, line.overflow_number, line.urgent_number)
        with self._lock:
            self._by_number[_key(line.number)] = row
            self._by_id[line.line_id] = row

    def lookup(self, *, line_id: str | None = None, dialled: str | None = None) -> LineNumbers:
        """The line's numbers; raises LookupError when the book does not know the line."""
        with self._lock:
            row = self._by_id.get(line_id or "") or self._by_number.get(_key(dialled))
            if row is None and len(self._by_id) == 1:
                row = next(iter(self._by_id.values()))  # one line: every call is for it
        if row is None:
            raise LookupError("line not in the overflow book")
        return row

    def candidates(
        self, *, line_id: str | None = None, dialled: str | None = None, target: str = "fallback"
    ) -> list[str]:
        """Numbers to try in order: the target's, the line's other number, the static fallback."""
        numbers: list[str] = []
        try:
            row = self.lookup(line_id=line_id, dialled=dialled)
        except LookupError:
            pass
        else:
            if target == "urgent":
                numbers += [row.urgent, row.overflow]
            else:
                numbers += [row.overflow, row.urgent]
        if self.fallback_number:
            numbers.append(self.fallback_number)
        return list(dict.fromkeys(number for number in numbers if number))

    def number_for(
        self, *, line_id: str | None = None, dialled: str | None = None, target: str = "fallback"
    ) -> str | None:
        found = self.candidates(line_id=line_id, dialled=dialled, target=target)
        return found[0] if found else None


def _key(number: str | None) -> str:
    if not number:
        return ""
    try:
        return to_e164(number)
    except InvalidPhoneNumber:
        return number.strip()
