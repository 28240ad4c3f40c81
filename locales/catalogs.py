"""Catalog maintenance: extract keys from code and flows, update, compile and check catalogs.

``prompts`` keys come from ``ivr_flows`` (flow files and ``N_`` marks in code) and from the
telephony edges' own prompts (hold announcements); ``messages`` keys from
``locales/ui_strings.py``, ``agent_console`` (code and templates) and the simulator's page
(``telephony/simulator``). Compiled ``.mo`` files are committed next to their ``.po`` so
``make run`` needs no build step; :func:`check_catalogs` (run by the test suite) fails when one
is stale, when a key is missing or empty, when an entry is fuzzy, when placeholders differ from
English, or when a prompt was left in English.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po, write_po

from locales import (
    LOCALES_DIR,
    PROMPTS_DOMAIN,
    SOURCE_LOCALE,
    SUPPORTED_LOCALES,
    UI_DOMAIN,
    UI_LOCALES,
)
from locales.extract import extract_flow_messages
from locales.prompts import placeholders

ROOT = LOCALES_DIR.parent
_FIXED_DATE = datetime(2025, 1, 1, tzinfo=UTC)  # stable headers: no churn on re-extraction
_KEYWORDS: dict[str, Any] = {"N_": None, "_": None, "gettext": None, "lazy_gettext": None}

Method = str | Callable[..., Any]


@dataclass(frozen=True)
class _Source:
    directory: str
    method_map: Sequence[tuple[str, Method]]


_SOURCES: dict[str, tuple[_Source, ...]] = {
    PROMPTS_DOMAIN: (
        _Source("ivr_flows", (("flows/*.json", extract_flow_messages), ("**.py", "python"))),
        _Source("telephony", (("twilio/**.py", "python"),)),
    ),
    UI_DOMAIN: (
        _Source("locales", (("ui_strings.py", "python"),)),
        _Source("telephony", (("simulator/**.py", "python"),)),
        _Source(
            "agent_console",
            (("**.py", "python"), ("**/templates/**.html", "jinja2.ext:babel_extract")),
        ),
    ),
}


def domain_locales(domain: str) -> tuple[str, ...]:
    return tuple(SUPPORTED_LOCALES) if domain == PROMPTS_DOMAIN else UI_LOCALES


def po_path(domain: str, locale: str, base: Path = LOCALES_DIR) -> Path:
    return base / locale / "LC_MESSAGES" / f"{domain}.po"


def pot_path(domain: str, base: Path = LOCALES_DIR) -> Path:
    return base / f"{domain}.pot"


def _new_catalog(domain: str, locale: str | None = None) -> Catalog:
    return Catalog(
        locale=locale,
        domain=domain,
        header_comment=f"# Amparo {domain} catalog: stable keys, texts people read or hear.",
        project="amparo",
        version="1",
        copyright_holder="Amparo contributors",
        msgid_bugs_address="translations@amparo.invalid",
        last_translator="Amparo translators",
        language_team="Amparo translators",
        creation_date=_FIXED_DATE,
        revision_date=_FIXED_DATE,
        charset="utf-8",
        fuzzy=False,
    )


def extract(domain: str) -> Catalog:
    """A fresh template of ``domain`` from code and flow files."""
    catalog = _new_catalog(domain)
    for source in _SOURCES[domain]:
        directory = ROOT / source.directory
        if not directory.is_dir():
            continue
        method_map: Any = list(source.method_map)  # babel also takes callables as methods
        results = extract_from_dir(str(directory), method_map=method_map, keywords=_KEYWORDS)
        for filename, lineno, message, comments, _context in results:
            if not isinstance(message, str):
                continue
            location = (f"{source.directory}/{filename}", lineno)
            existing = catalog.get(message)
            if existing is None:
                catalog.add(message, locations=[location], auto_comments=comments)
            else:
                existing.locations.append(location)
    return catalog


def read_catalog(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle, locale=locale)


def _write_po(path: Path, catalog: Catalog) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    write_po(
        buffer,
        catalog,
        width=100,
        sort_output=True,
        include_previous=False,
        include_lineno=False,
    )
    path.write_bytes(buffer.getvalue())


def write_template(domain: str) -> Path:
    path = pot_path(domain)
    _write_po(path, extract(domain))
    return path


def update(domain: str) -> list[Path]:
    """Merge the template into every locale's catalog (new keys arrive empty, never fuzzy)."""
    template = read_catalog(pot_path(domain))
    written = []
    for locale in domain_locales(domain):
        path = po_path(domain, locale)
        catalog = read_catalog(path, locale) if path.exists() else _new_catalog(domain, locale)
        catalog.update(template, no_fuzzy_matching=True, update_creation_date=False)
        catalog.revision_date = _FIXED_DATE
        _write_po(path, catalog)
        written.append(path)
    return written


def compiled_bytes(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    return buffer.getvalue()


def compile_catalogs(domains: Iterable[str] = (PROMPTS_DOMAIN, UI_DOMAIN)) -> list[Path]:
    """Write every ``.mo`` from its ``.po``."""
    written = []
    for domain in domains:
        for locale in domain_locales(domain):
            path = po_path(domain, locale)
            if path.exists():
                mo = path.with_suffix(".mo")
                mo.write_bytes(compiled_bytes(read_catalog(path, locale)))
                written.append(mo)
    return written


@dataclass(frozen=True)
class CatalogProblem:
    error_id: str
    domain: str
    locale: str
    message_id: str | None
    message: str

    def __str__(self) -> str:
        key = f" {self.message_id}" if self.message_id else ""
        return f"{self.domain}/{self.locale}{key}: {self.message}"


def _mo_messages(path: Path) -> dict[str, str]:
    with path.open("rb") as handle:
        catalog = read_mo(handle)
    return {str(m.id): str(m.string) for m in catalog if m.id}


def check_catalogs(
    domains: Iterable[str] = (PROMPTS_DOMAIN, UI_DOMAIN), base: Path = LOCALES_DIR
) -> list[CatalogProblem]:
    """Every reason a catalog is not ready for callers or agents; empty when all is well."""
    problems: list[CatalogProblem] = []
    for domain in domains:
        problems.extend(_check_domain(domain, base))
    return problems


def _check_domain(domain: str, base: Path) -> list[CatalogProblem]:
    problems: list[CatalogProblem] = []

    def problem(error_id: str, locale: str, message_id: str | None, text: str) -> None:
        problems.append(CatalogProblem(error_id, domain, locale, message_id, text))

    expected = {str(m.id) for m in extract(domain) if m.id}
    template_path = pot_path(domain, base)
    if not template_path.exists():
        problem("locales.no_template", "-", None, f"{template_path.name} missing: run extract")
    else:
        in_template = {str(m.id) for m in read_catalog(template_path) if m.id}
        for key in sorted(expected - in_template):
            problem("locales.template_stale", "-", key, "used in code or flows, not in template")
    source_path = po_path(domain, SOURCE_LOCALE, base)
    source: dict[str, str] = {}
    if source_path.exists():
        source = {str(m.id): str(m.string) for m in read_catalog(source_path) if m.id}
    for locale in domain_locales(domain):
        path = po_path(domain, locale, base)
        if not path.exists():
            problem("locales.missing_catalog", locale, None, f"{path} does not exist")
            continue
        catalog = read_catalog(path, locale)
        for key in sorted(expected):
            entry = catalog.get(key)
            text = "" if entry is None else str(entry.string or "")
            if entry is None or not text.strip():
                problem("locales.missing", locale, key, "no translation")
                continue
            if entry.fuzzy:
                problem("locales.fuzzy", locale, key, "marked fuzzy: needs review")
            if text.strip() == key:
                problem("locales.key_as_text", locale, key, "the key was copied as the text")
            try:
                found = placeholders(text)
                wanted = placeholders(source.get(key, text))
            except ValueError as exc:
                problem("locales.bad_placeholder", locale, key, f"malformed braces: {exc}")
                continue
            if found != wanted:
                problem(
                    "locales.placeholder_mismatch",
                    locale,
                    key,
                    f"placeholders {sorted(found)} differ from English {sorted(wanted)}",
                )
            if (
                domain == PROMPTS_DOMAIN
                and locale != SOURCE_LOCALE
                and text.strip() == source.get(key, "").strip()
            ):
                problem("locales.untranslated", locale, key, "same text as English")
        mo = path.with_suffix(".mo")
        compiled = {str(m.id): str(m.string) for m in catalog if m.id and not m.fuzzy}
        if not mo.exists() or _mo_messages(mo) != compiled:
            problem("locales.stale_mo", locale, None, f"{mo.name} is missing or stale: compile")
    return problems
