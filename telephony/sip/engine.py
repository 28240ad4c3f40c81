"""The SIP engine: pjsua2 built from ``third_party/pjproject/`` with Amparo's raised limits.

Why this module exists: every pjsua2 wheel on PyPI is compiled with ``PJSUA_MAX_CALLS 4``, so a
fifth concurrent caller gets 486 Busy whatever ``UaConfig.maxCalls`` says. Amparo builds its own
(``make sip-engine``), and the wheel carries a small ``amparo_pjsua2_build`` module recording the
limits read back from the compiled headers. This module tells ``amparo check`` and ``amparo sip``
whether that engine is installed and how many calls it can hold, without creating an Endpoint:
there may be only one per process and it starts threads and opens sockets.

Nothing here is imported by ``amparo run`` unless SIP is configured, so a machine that never
built the engine still runs the web console, the workers and the simulator.
"""

from __future__ import annotations

import importlib
from typing import TypedDict

PJSUA2_MODULE = "pjsua2"
BUILD_RECORD_MODULE = "amparo_pjsua2_build"
BUILD_HINT = "run `make sip-engine` (or `make test`) to build it from third_party/pjproject"


class EngineInfo(TypedDict):
    """What ``amparo check`` prints about the engine; ``reason`` says why it is unavailable."""

    available: bool
    version: str | None
    max_calls: int | None
    max_conf_ports: int | None
    build_key: str | None
    reason: str | None


class EngineUnavailable(RuntimeError):
    """The SIP engine cannot serve: not installed, not Amparo's build, or too small."""

    error_id = "sip.engine_unavailable"


def _unavailable(reason: str) -> EngineInfo:
    return EngineInfo(
        available=False,
        version=None,
        max_calls=None,
        max_conf_ports=None,
        build_key=None,
        reason=reason,
    )


def engine_info() -> EngineInfo:
    """Describe the installed engine.

    Returns:
        ``available`` True only for Amparo's build of pjsua2 (a stock PyPI build would refuse
        the fifth call), with its pjproject version, compiled call capacity
        (``PJSUA_MAX_CALLS``), conference bridge size and build key; otherwise ``available``
        False and ``reason``.
    """
    try:
        importlib.import_module(PJSUA2_MODULE)
    except ImportError as exc:
        return _unavailable(f"pjsua2 cannot be imported ({exc}); {BUILD_HINT}")
    try:
        build = importlib.import_module(BUILD_RECORD_MODULE)
    except ImportError:
        return _unavailable(
            "the installed pjsua2 is not Amparo's build (PyPI builds hold only 4 concurrent "
            f"calls); {BUILD_HINT}"
        )
    return EngineInfo(
        available=True,
        version=str(build.PJ_VERSION),
        max_calls=int(build.MAX_CALLS),
        max_conf_ports=int(build.MAX_CONF_PORTS),
        build_key=str(build.BUILD_KEY),
        reason=None,
    )


def require_engine(min_calls: int = 1) -> EngineInfo:
    """Return the engine's description, or raise if ``amparo sip`` cannot run on it.

    Args:
        min_calls: the concurrent calls this process is configured to accept; an engine
            compiled for fewer would turn the rest away with 486 Busy.

    Raises:
        EngineUnavailable: not installed, not Amparo's build, or compiled for fewer calls.
    """
    info = engine_info()
    if not info["available"]:
        raise EngineUnavailable(info["reason"])
    capacity = info["max_calls"] or 0
    if capacity < min_calls:
        raise EngineUnavailable(
            f"the SIP engine holds {capacity} concurrent calls, {min_calls} are configured"
        )
    return info


def describe(info: EngineInfo) -> str:
    """One line for ``amparo check``."""
    if not info["available"]:
        return f"SIP engine: unavailable: {info['reason']}"
    return (
        f"SIP engine: pjsua2 {info['version']}, {info['max_calls']} concurrent calls, "
        f"{info['max_conf_ports']} conference ports (build {info['build_key']})"
    )
