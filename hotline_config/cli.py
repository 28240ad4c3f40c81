"""``amparo config``: apply a hotline file to the store, or export the store as one."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import click
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from hotline_config.apply import Action, ApplyReport, ConfigRejected, apply_document
from hotline_config.document import read_document
from hotline_config.export import export_text
from hotline_config.fields import Problem

RESTART_NOTICE = (
    "Routing reads lines, queues, teams and agents' languages and specialties when a process "
    "starts: restart the amparo web, worker and sip processes (or amparo run) to use them. "
    "New accounts can sign in now."
)


def config_cli(
    sessions_of: Callable[[], tuple[sessionmaker[Session], Callable[[], None]]],
    leave_routing: Callable[[list[str]], list[tuple[str, str | None]]] | None = None,
) -> click.Group:
    """``sessions_of`` opens the database (configuring field encryption) only when a command
    runs, so ``amparo --help`` needs no configuration. ``leave_routing(agent_ids)`` takes the
    accounts the file deactivates out of routing (``routing.deactivation.leave_routing``),
    returning each one's routing state and the state pending after her call."""

    @click.group("config")
    def config() -> None:
        """The hotline's lines, queues, urgent teams and agents, as a TOML file."""

    @config.command("apply")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
    def apply(file: Path, dry_run: bool) -> None:
        """Create or update what FILE declares (idempotent; one transaction; deletes nothing).

        New accounts' passwords, and supervisors' and admins' TOTP secrets, are printed once.
        """
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise click.ClickException(f"cannot read {file}: {type(exc).__name__}") from exc
        document, problems = read_document(text, str(file))
        if problems:
            _reject(problems)
        sessions, close = sessions_of()
        try:
            report = apply_document(sessions, document, dry_run=dry_run)
        except ConfigRejected as exc:
            _reject(exc.problems)
        except SQLAlchemyError as exc:
            raise click.ClickException(
                f"the database failed ({type(exc).__name__}); nothing was applied. "
                "Is its schema current (amparo db upgrade)?"
            ) from exc
        finally:
            close()
        _print_report(report)
        if report.deactivated and not report.dry_run and leave_routing is not None:
            _out_of_routing(report.deactivated, leave_routing)

    @config.command("export")
    def export() -> None:
        """Print the stored configuration as a file `amparo config apply` reads (no secrets)."""
        sessions, close = sessions_of()
        try:
            click.echo(export_text(sessions), nl=False)
        finally:
            close()

    return config


def _out_of_routing(
    deactivated: dict[str, str],
    leave_routing: Callable[[list[str]], list[tuple[str, str | None]]],
) -> None:
    """Deactivated accounts get no more offers: offline in routing now, or after the call
    they are on (never cut off)."""
    logins = sorted(deactivated)
    try:
        outcomes = leave_routing([deactivated[login] for login in logins])
    except Exception as exc:  # Redis down, misconfigured: the accounts are still deactivated
        click.echo(f"warning: routing not reached ({type(exc).__name__})", err=True)
        outcomes = [("unknown", None)] * len(logins)
    for login, (state, after_call) in zip(logins, outcomes, strict=True):
        if after_call:
            click.echo(f"agent {login}: on a call; {after_call} in routing when it ends")
        elif state == "unknown":
            click.echo(
                f"warning: agent {login} may still get offers: routing was not reached; "
                "use Deactivate on /admin once Redis answers",
                err=True,
            )
        else:
            click.echo(f"agent {login}: {state} in routing")


def _reject(problems: list[Problem]) -> None:
    for problem in problems:
        click.echo(f"error: {problem}", err=True)
    click.echo(f"{len(problems)} problem(s); nothing was applied.", err=True)
    sys.exit(1)


def _print_report(report: ApplyReport) -> None:
    would = "would be " if report.dry_run else ""
    for change in report.changes:
        if change.action is Action.UNCHANGED:
            continue
        fields = f" ({', '.join(change.fields)})" if change.fields else ""
        click.echo(f"{change.kind} {change.key}: {would}{change.action.value}{fields}")
    kept = ", ".join(f"{count} {kind}" for kind, count in report.kept.items())
    click.echo(
        f"{report.count(Action.CREATED)} {would}created, {report.count(Action.UPDATED)} "
        f"{would}updated, {report.count(Action.UNCHANGED)} unchanged; "
        f"stored but not in the file (kept as they are): {kept}"
    )
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    if report.dry_run:
        click.echo("Dry run: nothing was written.")
        return
    if report.credentials:
        click.echo(
            "\nNew sign-in secrets, shown this once and stored only as hashes or encrypted. "
            "Hand each to its person privately:"
        )
        for credential in report.credentials:
            click.echo(f"  {credential.login} ({credential.role})")
            if credential.password:
                click.echo(f"    password:    {credential.password}")
            if credential.totp_secret:
                click.echo(f"    TOTP secret: {credential.totp_secret}")
                click.echo(f"    {credential.otpauth_uri}")
    if any(c.action is not Action.UNCHANGED and c.kind != "resource" for c in report.changes):
        click.echo("\n" + RESTART_NOTICE)
