"""Every edge handles the closed action set in one dispatch that mypy checks for exhaustiveness.

The proof is the failure it promises: a new member of ``Action`` (here ``Transfer``, given to
mypy in place of ``ivr_flows/actions.py`` with ``--shadow-file``) must be reported at the
``assert_never`` of each edge, and nowhere else.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
ACTIONS = "ivr_flows/actions.py"
EDGES = frozenset(
    {
        "telephony/twilio/twiml.py",
        "telephony/twilio/services.py",
        "telephony/simulator/phone.py",
        "telephony/sip/media.py",
        "calls/dispatch.py",
    }
)
UNION = re.compile(r"^Action: TypeAlias = \(\n(?P<members>[^)]+?)\n\)$", re.MULTILINE)
NEW_MEMBER = '''

@dataclass(frozen=True)
class Transfer:
    """A member no edge handles yet."""

    kind: ClassVar[str] = "transfer"
    to: str

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.kind, "to": self.to}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Transfer:
        return cls(to=str(data["to"]))


'''
ERROR = re.compile(r"^(?P<path>[\w/.]+\.py):\d+: error: (?P<message>.*)$")


def _actions_with_a_new_member() -> str:
    source = (ROOT / ACTIONS).read_text()
    union = UNION.search(source)
    assert union is not None, "the Action union changed shape; update this test's UNION"
    members = union["members"].strip()
    new_union = NEW_MEMBER.lstrip("\n") + f"Action: TypeAlias = (\n    {members} | Transfer\n)"
    return source[: union.start()] + new_union + source[union.end() :]


@pytest.mark.slow
def test_given_a_new_action_then_mypy_fails_at_the_dispatch_of_every_edge(
    tmp_path: Path,
) -> None:
    shadow = tmp_path / "actions.py"
    shadow.write_text(_actions_with_a_new_member())
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            "pyproject.toml",
            "--cache-dir",
            str(tmp_path / "mypy-cache"),
            "--shadow-file",
            ACTIONS,
            str(shadow),
            ACTIONS,
            *sorted(EDGES),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    errors = [match for line in result.stdout.splitlines() if (match := ERROR.match(line))]
    assert result.returncode == 1, result.stdout + result.stderr
    unhandled = {
        error["path"]
        for error in errors
        if 'assert_never" has incompatible type "Transfer"' in error["message"]
    }
    assert unhandled == EDGES, result.stdout
    assert len(errors) == len(EDGES), result.stdout  # nothing else broke: only the dispatches
