"""``amparo systems``: the external systems allowed to use the integration API."""

from __future__ import annotations

from collections.abc import Callable

import click
from sqlalchemy.orm import Session, sessionmaker

from checkins.errors import CheckinError
from checkins.notifications import SCOPES, add_system


def systems_cli(
    sessions_of: Callable[[], tuple[sessionmaker[Session], Callable[[], None]]],
) -> click.Group:
    """``sessions_of`` opens the database (and returns how to close it) only when a command
    runs, so ``amparo --help`` needs no configuration."""

    @click.group("systems")
    def systems() -> None:
        """External systems that use the integration API (VioGén, courts, device operators)."""

    @systems.command("add")
    @click.argument("name")
    @click.option(
        "--scope",
        "scopes",
        multiple=True,
        type=click.Choice(SCOPES),
        default=("notifications",),
        show_default=True,
        help="what the key may do; repeat for several",
    )
    def add(name: str, scopes: tuple[str, ...]) -> None:
        """Register NAME and print its API key (shown once, never stored in clear)."""
        sessions, close = sessions_of()
        try:
            system_id, api_key = add_system(sessions, name, scopes)
        except CheckinError as exc:
            raise click.ClickException(exc.message) from exc
        finally:
            close()
        click.echo(f"system {name} added (id {system_id}, scopes {', '.join(scopes)})")
        click.echo(f"API key (shown once; send it as 'Authorization: Bearer <key>'):\n{api_key}")

    return systems
