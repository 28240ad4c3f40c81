"""Routing's names outside Redis scripts: the pub/sub channels every web process relays to its
browsers, an agent's personal skill, and a transferred leg's call id."""

from __future__ import annotations

import json

from store.live_state import key

SUPERVISOR_CHANNEL = key("events", "supervisors")
SUPERVISOR_FEED = key("events", "supervisors", "recent")
ESCALATION_CHANNEL = key("events", "escalations")
"""Every console listens here to stop showing a ring someone else has acknowledged."""
BOARD_CHANGED = json.dumps({"kind": "board_changed"})
"""A hint on the supervisors' channel that the wallboard should re-read routing's views."""


def agent_channel(agent_id: str) -> str:
    return key("events", "agent", agent_id)


PERSONAL_SKILL_PREFIX = "agent_"


def personal_skill(agent_id: str) -> str:
    """Every agent also holds a skill of her own, so a call transferred to her by name is a
    call that needs that skill (and widens to anyone if she does not take it)."""
    return f"{PERSONAL_SKILL_PREFIX}{agent_id}"


def is_personal_skill(skill: str) -> bool:
    return skill.startswith(PERSONAL_SKILL_PREFIX)


def base_call_id(routing_call_id: str) -> str:
    """A call transferred from the console goes back to routing as ``<call id>.t<n>`` (routing
    never re-queues a call id it has seen); its events belong to the call itself."""
    return routing_call_id.partition(".")[0]
