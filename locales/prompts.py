"""Runtime lookup of prompt and UI text from the compiled catalogs.

Adapters call :func:`prompt_text` to turn a ``Say(message_id, locale, params)`` into words for
``<Say>`` or espeak-ng. A missing translation falls back to English, and a missing parameter
is left as written: a caller hears something rather than an error.
"""

from __future__ import annotations

import gettext
import string
from collections.abc import Mapping
from functools import cache

from babel.messages.mofile import read_mo
from babel.support import Translations

from locales import LOCALES_DIR, PROMPTS_DOMAIN, SOURCE_LOCALE, UI_DOMAIN


@cache
def translations(domain: str, locale: str) -> gettext.NullTranslations:
    """Compiled catalog of ``domain`` for ``locale`` (an empty one when it does not exist)."""
    path = LOCALES_DIR / locale / "LC_MESSAGES" / f"{domain}.mo"
    if not path.is_file():
        return gettext.NullTranslations()
    with path.open("rb") as handle:
        return Translations(handle, domain=domain)


class _KeepMissing(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def _lookup(domain: str, message_id: str, locale: str) -> str:
    for candidate in (locale, SOURCE_LOCALE):
        text = translations(domain, candidate).gettext(message_id)
        if text != message_id:
            return text
    return message_id


def prompt_text(message_id: str, locale: str, params: Mapping[str, str] | None = None) -> str:
    """The words of prompt ``message_id`` in ``locale`` with ``params`` filled in."""
    text = _lookup(PROMPTS_DOMAIN, message_id, locale)
    try:
        return string.Formatter().vformat(text, (), _KeepMissing(params or {}))
    except (ValueError, IndexError):
        return text


def ui_text(message_id: str, locale: str) -> str:
    """A console string in ``locale`` (English when missing)."""
    return _lookup(UI_DOMAIN, message_id, locale)


def placeholders(text: str) -> frozenset[str]:
    """Names of ``{placeholders}`` in ``text``; raises ValueError on malformed braces."""
    names = set()
    for _literal, field_name, _spec, _conversion in string.Formatter().parse(text):
        if field_name is not None:
            names.add(field_name)
    return frozenset(names)


@cache
def message_ids(domain: str = PROMPTS_DOMAIN) -> frozenset[str]:
    """Keys that have an English text in the compiled ``domain`` catalog."""
    path = LOCALES_DIR / SOURCE_LOCALE / "LC_MESSAGES" / f"{domain}.mo"
    if not path.is_file():
        return frozenset()
    with path.open("rb") as handle:
        catalog = read_mo(handle)
    return frozenset(str(m.id) for m in catalog if isinstance(m.id, str) and m.id and m.string)
