"""Domain errors of the IVR: each carries a stable ``error_id`` and no HTTP code."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FlowProblem:
    """One thing wrong with a flow file, named by the state it is found in (if any)."""

    error_id: str
    message: str
    state: str | None = None

    def __str__(self) -> str:
        where = f"state {self.state}: " if self.state else ""
        return f"{where}{self.message}"


class IvrError(Exception):
    error_id = "ivr.error"


class FlowInvalid(IvrError):
    """A flow file failed schema or semantic validation; ``problems`` lists every finding."""

    error_id = "ivr.flow_invalid"

    def __init__(self, source: str, problems: list[FlowProblem]) -> None:
        self.source = source
        self.problems = problems
        summary = "; ".join(str(problem) for problem in problems[:5])
        super().__init__(f"{source}: {len(problems)} problem(s): {summary}")


class EventInvalid(IvrError):
    """A call event could not be read from its serialized form."""

    error_id = "ivr.event_invalid"


class ActionInvalid(IvrError):
    """An action could not be read from its serialized form."""

    error_id = "ivr.action_invalid"


class StateInvalid(IvrError):
    """A stored call state could not be read from its serialized form."""

    error_id = "ivr.state_invalid"
