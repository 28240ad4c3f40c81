"""What an edge must do now for a call: the actions of one turn."""

from __future__ import annotations

from dataclasses import dataclass

from calls.directory import LineInfo
from ivr_flows.actions import Action, Dial


@dataclass(frozen=True)
class CallTurn:
    """What the adapter must do now for ``call_id``."""

    call_id: str
    line: LineInfo | None
    actions: tuple[Action, ...]
    fallback: bool = False

    def dial_number(self, action: Dial) -> str | None:
        return self.line.target_number(action.target) if self.line else None
