"""A babel extractor for IVR flow files, so extraction covers flows as well as code.

Use it in a babel mapping (``[amparo_flow: ivr_flows/flows/*.json]``, registered under the
``babel.extractors`` entry point) or pass :func:`extract_flow_messages` to
``babel.messages.extract`` directly, as ``locales.catalogs`` does.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping
from typing import IO, Any

_ID_KEYS = frozenset({"message_id", "invalid_message"})


def _ids(value: object) -> Iterator[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            if key in _ID_KEYS and isinstance(item, str):
                yield item
            else:
                yield from _ids(item)
    elif isinstance(value, list):
        for item in value:
            yield from _ids(item)


def extract_flow_messages(
    fileobj: IO[bytes],
    keywords: Mapping[str, Any],
    comment_tags: Collection[str],
    options: Mapping[str, Any],
) -> Iterator[tuple[int, str | None, str, list[str]]]:
    """Yield ``(lineno, funcname, message, comments)`` for every prompt key in a flow file."""
    text = fileobj.read().decode("utf-8")
    document = json.loads(text)
    lines = text.splitlines()
    states = document.get("states", []) if isinstance(document, dict) else []
    for state in states:
        if not isinstance(state, dict):
            continue
        name = str(state.get("name", "?"))
        for message_id in _ids(state.get("properties", {})):
            needle = f'"{message_id}"'
            lineno = next((i + 1 for i, line in enumerate(lines) if needle in line), 0)
            yield lineno, None, message_id, [f"flow state: {name}"]
