"""``amparo locales ...``: keep the catalogs in step with code and flows.

Workflow after changing a prompt key or a UI string: ``extract`` -> ``update`` -> translate the
new entries in every ``.po`` -> ``compile`` -> ``check``.
"""

from __future__ import annotations

import click

from locales import PROMPTS_DOMAIN, UI_DOMAIN
from locales.catalogs import check_catalogs, compile_catalogs, update, write_template
from locales.voices import voice_warnings

_DOMAINS = (PROMPTS_DOMAIN, UI_DOMAIN)


@click.group("locales")
def locales_cli() -> None:
    """Prompt and console translations."""


@locales_cli.command("extract")
def extract_command() -> None:
    """Write locales/<domain>.pot from code and flow files."""
    for domain in _DOMAINS:
        click.echo(f"wrote {write_template(domain)}")


@locales_cli.command("update")
def update_command() -> None:
    """Merge the templates into every language's catalog."""
    for domain in _DOMAINS:
        for path in update(domain):
            click.echo(f"updated {path}")


@locales_cli.command("compile")
def compile_command() -> None:
    """Compile every catalog to .mo."""
    for path in compile_catalogs(_DOMAINS):
        click.echo(f"compiled {path}")


@locales_cli.command("check")
def check_command() -> None:
    """Fail on missing, fuzzy, untranslated or placeholder-mismatched entries."""
    problems = check_catalogs(_DOMAINS)
    for problem in problems:
        click.echo(str(problem), err=True)
    for warning in voice_warnings():
        click.echo(f"note: {warning}")
    if problems:
        raise SystemExit(1)
    click.echo("catalogs complete")
