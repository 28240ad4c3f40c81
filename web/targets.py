"""Where a page may send a browser next (``next=`` after sign-in, after choosing a language).

Only a path of this site: ``/`` and then printable ASCII with no space, no control character
and no backslash, checked both as received and once percent-decoded, and parsed to have no
scheme and no host. Anything else (``//evil.example``, ``/\\evil``, ``/%09/evil.example`` which
Werkzeug would turn into ``//evil.example``, a newline that would break the header) is
replaced by the default: a bad ``next`` never sends her elsewhere, and never fails the sign-in.
"""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

MAX_TARGET_LENGTH = 1024


def _path_only(value: str) -> bool:
    if not value.startswith("/") or value.startswith("//") or "\\" in value:
        return False
    parts = urlsplit(value)
    return not parts.scheme and not parts.netloc


def same_site_path(raw: object) -> str | None:
    """``raw`` when it is a path of this site, else None.

    As received: visible ASCII only (no space, no control character). Once percent-decoded
    (what a careless reader downstream might see): printable, and still a path only.
    """
    if not isinstance(raw, str) or not raw or len(raw) > MAX_TARGET_LENGTH:
        return None
    if not all("!" <= char <= "~" for char in raw) or not _path_only(raw):
        return None
    decoded = unquote(raw)
    if not decoded.isprintable() or not _path_only(decoded):
        return None
    return raw


def local_target(raw: object, default: str) -> str:
    """``raw`` when it is a path of this site, else ``default``."""
    return same_site_path(raw) or default
