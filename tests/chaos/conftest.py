"""Fixtures for the chaos suite: Prism (Twilio's REST API mock) once per session."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.harness.postgres import postgres_bin
from tests.harness.prism import PrismMock, prism_mock, unavailable_reason


@pytest.fixture(scope="session")
def prism(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrismMock]:
    reason = unavailable_reason()
    if reason is None and postgres_bin() is None:
        reason = "no PostgreSQL server binaries (/usr/lib/postgresql/*/bin)"
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"the chaos suite needs it in CI: {reason}")
        pytest.skip(reason)
    with prism_mock(tmp_path_factory.mktemp("prism-chaos")) as mock:
        yield mock
