"""What an edge must do now for a call: the actions of one turn."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from calls.directory import LineInfo
from ivr_flows.actions import Action, Dial


@dataclass(frozen=True)
class CallTurn:
    """What the adapter must do now for ``call_id``."""

    call_id: str
    line: LineInfo | None
    actions: tuple[Action, ...]
    fallback: bool = False
    numbers: Mapping[str, str] = field(default_factory=dict, repr=False)
    """Numbers for dial targets that are no line's (the woman an urgent-team member took);
    looked up for this turn only, never stored with the actions."""
    join_call: str | None = None
    """The live call a ``Join`` puts this call's person into."""

    def dial_number(self, action: Dial) -> str | None:
        if action.target in self.numbers:
            return self.numbers[action.target]
        return self.line.target_number(action.target) if self.line else None
