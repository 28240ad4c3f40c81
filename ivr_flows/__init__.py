"""IVR flows as validated data and the pure engine that runs them.

Public entry points::

    from ivr_flows import load_builtin, step
    flow = load_builtin("inbound_triage")
    state, actions = step(flow, None, started_event)

See ``events`` (what comes in), ``actions`` (what goes out), ``engine`` (the step function),
``flows`` (loading and the built-in flows), ``session`` (state in Redis, replay).
"""

from __future__ import annotations

from ivr_flows.engine import step
from ivr_flows.flows import BUILTIN_FLOWS, load, load_builtin

__all__ = ["BUILTIN_FLOWS", "load", "load_builtin", "step"]
