"""The ``amparo`` command line: every command, each building only what it needs."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

import click
from sqlalchemy.orm import Session, sessionmaker

from runtime import build_runtime, configure_encryption
from settings import ConfigurationError, Settings, load_settings
from store import database, live_state, migrate


def _settings_or_exit() -> Settings:
    try:
        return load_settings()
    except ConfigurationError as exc:
        click.echo(f"amparo: configuration error: {exc}", err=True)
        sys.exit(2)


@click.group()
def cli() -> None:
    """Amparo: telephony and IVR contact centre for gender-violence victim hotlines."""


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION."""
    settings = _settings_or_exit()
    configure_encryption(settings)
    engine = database.make_engine(settings.database_url)
    migrate.upgrade(engine, revision)
    engine.dispose()
    click.echo(f"database upgraded to {revision}")


@cli.command("seed-demo")
def seed_demo_command() -> None:
    """Create fictional demo lines, agents, a team and beneficiaries (idempotent)."""
    from store.demo import seed_demo

    settings = _settings_or_exit()
    configure_encryption(settings)
    engine = database.make_engine(settings.database_url)
    migrate.upgrade(engine)
    created = seed_demo(database.session_factory(engine), settings.data_dir)
    engine.dispose()
    click.echo(f"demo data ready ({len(created)} new logins)")
    if created:
        click.echo(f"demo logins written to {settings.data_dir / 'demo-logins.txt'}")


@cli.group()
def keys() -> None:
    """Encryption keys."""


@keys.command("rotate")
def keys_rotate() -> None:
    """Re-encrypt every personal field under AMPARO_DATA_KEY (old keys in
    AMPARO_DATA_KEY_PREVIOUS) and recompute lookup hashes."""
    from store.rotation import rotate

    settings = _settings_or_exit()
    configure_encryption(settings)
    engine = database.make_engine(settings.database_url)
    report = rotate(engine)
    engine.dispose()
    click.echo(
        f"re-encrypted {report.fields_rewritten} fields, "
        f"recomputed {report.hashes_rewritten} lookup hashes"
    )


@keys.command("rewrap-recordings")
def keys_rewrap_recordings() -> None:
    """Re-wrap every recording key under AMPARO_DATA_KEY; the audio is not re-encrypted."""
    from recordings_policy.rotation import rewrap_all
    from recordings_policy.vault import MasterKeys

    settings = _settings_or_exit()
    configure_encryption(settings)
    engine = database.make_engine(settings.database_url)
    try:
        report = rewrap_all(
            database.session_factory(engine),
            MasterKeys(current=settings.data_key, previous=settings.previous_data_keys),
        )
    finally:
        engine.dispose()
    click.echo(
        f"re-wrapped {report.rewrapped} recording keys, {report.already_current} already "
        f"current, {len(report.unreadable)} unreadable (master key not configured)"
    )
    if report.unreadable:
        sys.exit(1)


@cli.group()
def audit() -> None:
    """The tamper-evident audit trail."""


@audit.command("seal")
def audit_seal() -> None:
    """Add every audit entry not yet sealed to the hash chain (the worker does it every
    minute)."""
    from store import audit_chain

    sessions, close = _open_database()
    try:
        sealed = audit_chain.seal(sessions)
    finally:
        close()
    click.echo(f"sealed {sealed} audit entries")


@audit.command("verify")
def audit_verify() -> None:
    """Check the audit chain from its first entry; name the first entry that does not hold
    (exit 1)."""
    from store import audit_chain

    sessions, close = _open_database()
    try:
        report = audit_chain.verify(sessions)
    finally:
        close()
    click.echo(
        f"audit chain: {report.sealed} entries hold, {report.unsealed} not sealed yet "
        "(amparo audit seal)"
    )
    broken = report.first_broken
    if broken is not None:
        click.echo(
            f"first broken entry: id {broken.entry_id} (place {broken.seq} in the chain): "
            f"{broken.problem}",
            err=True,
        )
        sys.exit(1)


@cli.command("check")
def check() -> None:
    """Print the configuration (without secrets) and whether the database and Redis answer."""
    settings = _settings_or_exit()
    for name, value in settings.describe().items():
        click.echo(f"{name:32} {value}")
    for warning in settings.key_warnings():
        click.echo(f"{'keys':32} WARNING: {warning}")
    from ivr_flows.cli import check_file
    from ivr_flows.flows import BUILTIN_FLOWS, builtin_path
    from locales.catalogs import check_catalogs
    from locales.voices import voice_warnings
    from telephony.sip.engine import describe, engine_info

    click.echo(f"{'sip engine':32} {describe(engine_info())}")
    for warning in voice_warnings():
        click.echo(f"{'voice':32} {warning}")
    catalog_problems = check_catalogs()
    click.echo(
        f"{'prompt catalogs':32} "
        + (f"{len(catalog_problems)} problems" if catalog_problems else "complete")
    )
    flow_problems = sum(len(check_file(builtin_path(name))) for name in BUILTIN_FLOWS)
    click.echo(
        f"{'built-in flows':32} " + (f"{flow_problems} problems" if flow_problems else "valid")
    )
    runtime = build_runtime(settings)
    try:
        db_ok = database.answers(runtime.engine)
        redis_ok = live_state.answers(runtime.redis)
        click.echo(f"{'database':32} {'answers' if db_ok else 'DOWN'}")
        click.echo(f"{'redis':32} {'answers' if redis_ok else 'DOWN'}")
        if redis_ok:
            from telephony.sip.commands import live_processes

            for process in live_processes(runtime.redis):
                click.echo(
                    f"{'sip process':32} {process.get('process_id', '?')}: "
                    f"{process.get('legs', '?')}/{process.get('max_calls', '?')} legs, "
                    f"trunk registration {process.get('registration', '?')}"
                )
    finally:
        runtime.close()
    if not (db_ok and redis_ok) or catalog_problems or flow_problems:
        sys.exit(1)


def _open_database() -> tuple[sessionmaker[Session], Callable[[], None]]:
    settings = _settings_or_exit()
    configure_encryption(settings)
    engine = database.make_engine(settings.database_url)
    return database.session_factory(engine), engine.dispose


def _leave_routing(agent_ids: list[str]) -> list[tuple[str, str | None]]:
    """``amparo config apply`` deactivated these accounts: they get no more offers."""
    from routing.deactivation import leave_routing

    runtime = build_runtime(_settings_or_exit())
    try:
        router = runtime.router
        return [leave_routing(router, agent_id, time.time()) for agent_id in agent_ids]
    finally:
        runtime.close()


def _register_commands() -> None:
    from checkins.cli import devices_cli, systems_cli
    from hotline_config.cli import config_cli
    from ivr_flows.cli import flows
    from locales.cli import locales_cli
    from runner import fallback, run, sip, web, worker

    for command in (
        run,
        web,
        worker,
        flows,
        locales_cli,
        systems_cli(_open_database),
        devices_cli(_open_database),
        config_cli(_open_database, _leave_routing),
        sip,
        fallback,
    ):
        cli.add_command(command)


_register_commands()


def main() -> None:
    cli()


if __name__ == "__main__":
    main()
