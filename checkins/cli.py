"""``amparo systems``: the external systems allowed to use the integration API;
``amparo devices``: panic-button devices."""

from __future__ import annotations

from collections.abc import Callable

import click
from sqlalchemy.orm import Session, sessionmaker

from checkins import devices
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


def devices_cli(
    sessions_of: Callable[[], tuple[sessionmaker[Session], Callable[[], None]]],
) -> click.Group:
    """``amparo devices``: the same acts as the API's, audited as done from the command line."""
    actor = devices.Actor("cli", None)

    def run(act: Callable[[sessionmaker[Session]], devices.IssuedSecret | bool]) -> object:
        sessions, close = sessions_of()
        try:
            return act(sessions)
        except CheckinError as exc:
            raise click.ClickException(f"{exc.error_id}: {exc.message}") from exc
        finally:
            close()

    def show(issued: object) -> None:
        assert isinstance(issued, devices.IssuedSecret)
        click.echo(f"device {issued.serial}: secret (shown once; put it on the device):")
        click.echo(issued.secret)

    @click.group("devices")
    def group() -> None:
        """Panic-button devices: register, rotate a secret, revoke, list."""

    @group.command("add")
    @click.argument("serial")
    @click.option("--beneficiary", "beneficiary_id", required=True, help="her id")
    @click.option("--number", required=True, help="the device's own phone number")
    def add_device(serial: str, beneficiary_id: str, number: str) -> None:
        """Register SERIAL for a beneficiary and print its secret once."""
        show(run(lambda s: devices.add(s, actor, serial, beneficiary_id, number)))

    @group.command("rotate")
    @click.argument("serial")
    def rotate(serial: str) -> None:
        """Give SERIAL a new secret (printed once); the old one stops working."""
        show(run(lambda s: devices.rotate(s, actor, serial)))

    @group.command("revoke")
    @click.argument("serial")
    def revoke(serial: str) -> None:
        """Revoke SERIAL: its alarms are refused (and kept for audit)."""
        changed = run(lambda s: devices.revoke(s, actor, serial))
        click.echo(f"device {serial} " + ("revoked" if changed else "was already revoked"))

    @group.command("list")
    def list_devices() -> None:
        """Serial, beneficiary id, state and date of every device (no numbers, no secrets)."""
        sessions, close = sessions_of()
        try:
            rows = devices.summaries(sessions)
        finally:
            close()
        for row in rows:
            state = "active" if row.active else "revoked"
            click.echo(f"{row.serial}\t{row.beneficiary_id}\t{state}\t{row.created_at:%Y-%m-%d}")

    return group
