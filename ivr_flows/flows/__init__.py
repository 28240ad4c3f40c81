"""Built-in flows (JSON files in this directory) and the loader for any flow file.

Loading is the only way a flow enters the engine, and it always validates: the JSON Schema,
the semantic safety rules and, unless turned off, that every prompt key exists in the English
prompts catalog.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path

from ivr_flows.definition import Flow
from ivr_flows.errors import FlowInvalid, FlowProblem
from ivr_flows.validation import validate_document
from locales import SUPPORTED_LOCALES
from locales.prompts import message_ids

BUILTIN_FLOWS = (
    "inbound_triage",
    "device_alarm",
    "checkin_outbound",
    "urgent_member_alert",
    "urgent_number_alert",
    "callback_outbound",
)
MAX_FLOW_BYTES = 512 * 1024


def known_message_ids() -> frozenset[str]:
    """Prompt keys with an English text: a flow may only speak these."""
    return message_ids()


def check_text(
    name: str, text: str, *, check_messages: bool = True
) -> tuple[Flow | None, list[FlowProblem]]:
    """Parse and validate flow JSON; the flow is returned only when there is no problem."""
    if len(text.encode("utf-8")) > MAX_FLOW_BYTES:
        return None, [FlowProblem("flow.too_large", f"larger than {MAX_FLOW_BYTES} bytes")]
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, [FlowProblem("flow.not_json", f"not JSON: {exc}")]
    return validate_document(
        name,
        document,
        known_message_ids=known_message_ids() if check_messages else None,
        known_locales=SUPPORTED_LOCALES,
    )


def load(path: str | Path, *, check_messages: bool = True) -> Flow:
    """Load and validate the flow file at ``path``; raise FlowInvalid listing every problem."""
    file = Path(path)
    flow, problems = check_text(
        file.stem, file.read_text(encoding="utf-8"), check_messages=check_messages
    )
    if flow is None:
        raise FlowInvalid(str(file), problems)
    return flow


def builtin_path(name: str) -> Path:
    if name not in BUILTIN_FLOWS:
        raise KeyError(f"no built-in flow {name!r}")
    return Path(str(resources.files("ivr_flows.flows").joinpath(f"{name}.json")))


@cache
def load_builtin(name: str) -> Flow:
    """A built-in flow by name (validated once per process; flows are immutable)."""
    return load(builtin_path(name))
