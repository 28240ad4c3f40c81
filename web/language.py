"""The language of the pages a person reads: her choice in this session, else her browser's,
else the configured default (callers' languages are chosen elsewhere, in
:mod:`locales.selection`)."""

from __future__ import annotations

from flask import request, session

from locales import UI_LOCALES


def ui_locale(default: str) -> str:
    """es or en: the agent's choice in this session, the browser's preference, the default."""
    chosen = session.get("locale")
    if chosen in UI_LOCALES:
        return str(chosen)
    best = request.accept_languages.best_match(UI_LOCALES)
    if best:
        return best
    return default if default in UI_LOCALES else UI_LOCALES[0]
