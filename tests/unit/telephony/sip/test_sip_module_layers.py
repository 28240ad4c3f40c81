"""The modules of ``telephony.sip`` import one another in one direction only: no circle, not
even one hidden behind ``TYPE_CHECKING``. What a module needs from one above it is a Protocol
(``calls.SessionHost``, ``bridge.BridgeHost``)."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import telephony.sip

PACKAGE = "telephony.sip"


def imports_within_package() -> dict[str, set[str]]:
    root = Path(telephony.sip.__file__).parent
    modules = {path.stem for path in root.glob("*.py") if path.stem != "__init__"}
    graph: dict[str, set[str]] = {}
    for name in modules:
        tree = ast.parse((root / f"{name}.py").read_text())
        found: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module == PACKAGE:
                    found |= {alias.name for alias in node.names if alias.name in modules}
                elif node.module.startswith(f"{PACKAGE}."):
                    found.add(node.module.removeprefix(f"{PACKAGE}.").split(".")[0])
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith(f"{PACKAGE}."):
                        found.add(alias.name.removeprefix(f"{PACKAGE}.").split(".")[0])
        graph[name] = found - {name}
    return graph


def test_the_sip_modules_import_one_another_without_a_circle() -> None:
    graph = imports_within_package()
    try:
        order = list(TopologicalSorter(graph).static_order())
    except CycleError as circle:
        raise AssertionError(f"import circle in {PACKAGE}: {circle.args[1]}") from None
    assert order.index("bridge") < order.index("calls") < order.index("service")


def test_sessions_and_bridges_do_not_know_the_service() -> None:
    graph = imports_within_package()
    assert "service" not in graph["calls"] | graph["bridge"]
    assert "calls" not in graph["bridge"]
