"""Redirect targets: only paths of this site, whatever the encoding tricks."""

from __future__ import annotations

import pytest

from web.targets import local_target, same_site_path


@pytest.mark.parametrize(
    "raw",
    [
        "/console",
        "/supervisor?view=queues",
        "/console/api/calls/0a1b/card",
        "/a%20b",
    ],
)
def test_paths_of_this_site_are_kept(raw: str) -> None:
    assert same_site_path(raw) == raw


@pytest.mark.parametrize(
    "raw",
    [
        "//evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r\nSet-Cookie: x=1",
        "/ /evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/%2F/evil.example",
        "/%09/evil.example",
        "/%5Cevil.example",
        "https://evil.example/",
        "javascript:alert(1)",
        "evil.example",
        "/\u3000/evil.example",
        "/\x00",
        "",
        None,
        ["/console"],
        "/" + "a" * 2000,
    ],
)
def test_anything_else_is_replaced_by_the_default(raw: object) -> None:
    assert same_site_path(raw) is None
    assert local_target(raw, "/console") == "/console"
