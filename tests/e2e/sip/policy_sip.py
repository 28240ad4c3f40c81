"""``amparo sip`` under a recording policy read from a file rather than the shipped one. Run as
a child process (through ``SipProcess``), configured by the same ``AMPARO_*`` environment:

    python -m tests.e2e.sip.policy_sip <policy.json>
"""

from __future__ import annotations

import sys
from pathlib import Path

import runtime
from cli import cli
from recordings_policy.policy import Policy


def main(path: str) -> None:
    setattr(runtime, "decide_recording", Policy.from_file(Path(path)).decide)  # noqa: B010
    cli(["sip"])


if __name__ == "__main__":
    main(sys.argv[1])
