"""``amparo flows check [FILE...]``: validate flow files before they reach a live line.

Wire it with ``cli.add_command(flows)`` in app.py.
"""

from __future__ import annotations

from pathlib import Path

import click

from ivr_flows.errors import FlowProblem
from ivr_flows.flows import BUILTIN_FLOWS, builtin_path, check_text


def check_file(path: Path) -> list[FlowProblem]:
    """Every problem of the flow file at ``path`` (empty when it is valid)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return [FlowProblem("flow.unreadable", f"cannot read: {exc}")]
    _flow, problems = check_text(path.stem, text)
    return problems


def format_problem(path: Path | str, problem: FlowProblem) -> str:
    where = f"state {problem.state}: " if problem.state else ""
    return f"{path}: {where}{problem.message} [{problem.error_id}]"


@click.group("flows")
def flows() -> None:
    """IVR flow files."""


@flows.command("check")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path, dir_okay=False))
def check(files: tuple[Path, ...]) -> None:
    """Validate FILES (default: the built-in flows); print each problem and exit 1 if any."""
    paths = list(files) or [builtin_path(name) for name in BUILTIN_FLOWS]
    failed = 0
    for path in paths:
        problems = check_file(path)
        for problem in problems:
            click.echo(format_problem(path, problem), err=True)
        if problems:
            failed += 1
        else:
            click.echo(f"{path}: ok")
    if failed:
        raise SystemExit(1)
