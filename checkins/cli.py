"""``amparo systems``: the external systems allowed to send notifications."""

from __future__ import annotations

from collections.abc import Callable

import click
from sqlalchemy.orm import Session, sessionmaker

from checkins.errors import CheckinError
from checkins.notifications import add_system


def systems_cli(
    sessions_of: Callable[[], tuple[sessionmaker[Session], Callable[[], None]]],
) -> click.Group:
    """``sessions_of`` opens the database (and returns how to close it) only when a command
    runs, so ``amparo --help`` needs no configuration."""

    @click.group("systems")
    def systems() -> None:
        """External systems that send notifications (VioGén, courts...)."""

    @systems.command("add")
    @click.argument("name")
    def add(name: str) -> None:
        """Register NAME and print its API key (shown once, never stored in clear)."""
        sessions, close = sessions_of()
        try:
            system_id, api_key = add_system(sessions, name)
        except CheckinError as exc:
            raise click.ClickException(exc.message) from exc
        finally:
            close()
        click.echo(f"system {name} added (id {system_id})")
        click.echo(f"API key (shown once; send it as 'Authorization: Bearer <key>'):\n{api_key}")

    return systems
