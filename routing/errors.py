"""Routing errors. Each carries a stable ``error_id``; none knows about HTTP.

Races that are part of normal life (two agents clicking "accept", a webhook retried) are not
errors: they come back as a :class:`routing.state.Transition` whose ``ok`` is false.
Exceptions are for calls that can never succeed: bad configuration, bad identifiers, an agent
who was never registered.
"""

from __future__ import annotations


class RoutingError(Exception):
    error_id = "routing.error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigurationInvalid(RoutingError):
    error_id = "routing.bad_config"


class InvalidIdentifier(RoutingError):
    """Ids and skill names become parts of Redis keys and bucket names."""

    error_id = "routing.bad_identifier"


class UnknownAgent(RoutingError):
    error_id = "routing.unknown_agent"


class InvalidAgentState(RoutingError):
    error_id = "routing.invalid_agent_state"


class UnknownTeam(RoutingError):
    error_id = "routing.unknown_team"
