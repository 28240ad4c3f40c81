"""Languages of the line: babel catalogs for prompts and the console, and language selection.

Two gettext domains live under ``locales/<lang>/LC_MESSAGES/``: ``prompts`` (what callers hear)
and ``messages`` (the console's UI). Message ids are stable keys (``triage.safe_to_talk``); the
``en`` catalog holds the English wording.
"""

from __future__ import annotations

from pathlib import Path

from settings import SUPPORTED_LOCALES

LOCALES_DIR = Path(__file__).resolve().parent
PROMPTS_DOMAIN = "prompts"
UI_DOMAIN = "messages"
SOURCE_LOCALE = "en"
UI_LOCALES = ("es", "en")

__all__ = [
    "LOCALES_DIR",
    "PROMPTS_DOMAIN",
    "SOURCE_LOCALE",
    "SUPPORTED_LOCALES",
    "UI_DOMAIN",
    "UI_LOCALES",
]
