"""``amparo config`` run as the command line runs it: the ``amparo`` group, settings from the
environment (the test session's database and data key), output as an operator reads it."""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli import cli


@dataclass(frozen=True)
class Issued:
    """What ``amparo config apply`` printed once for one new account."""

    password: str | None
    totp_secret: str | None


def issued(output: str) -> dict[str, Issued]:
    found: dict[str, Issued] = {}
    for block in re.finditer(
        r"^  (?P<login>\S+) \(\w+\)\n(?:    password:    (?P<password>\S+)\n)?"
        r"(?:    TOTP secret: (?P<totp>\S+)\n)?",
        output,
        re.MULTILINE,
    ):
        found[block["login"]] = Issued(block["password"], block["totp"])
    return found


@dataclass
class ConfigCommand:
    env: dict[str, str]
    directory: Path

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(cli, ["config", *args], env=self.env, catch_exceptions=False)

    def apply(self, text: str, *options: str) -> Result:
        path = self.directory / f"hotline-{secrets.token_hex(3)}.toml"
        path.write_text(text, encoding="utf-8")
        return self.run("apply", *options, str(path))


@pytest.fixture
def amparo_config(
    tmp_path: Path, database_url: str, redis_url: str, data_key: bytes
) -> ConfigCommand:
    env = {
        "AMPARO_DATA_DIR": str(tmp_path / "data"),
        "AMPARO_DATABASE_URL": database_url,
        "AMPARO_REDIS_URL": redis_url,
        "AMPARO_DATA_KEY": base64.urlsafe_b64encode(data_key).decode(),
        "AMPARO_SECRET_KEY": secrets.token_urlsafe(32),
    }
    return ConfigCommand(env, tmp_path)


@dataclass(frozen=True)
class Names:
    """Keys of one test's hotline, unique in the session's shared database."""

    tag: str
    number: str
    overflow: str
    urgent: str
    team: str

    def login(self, name: str) -> str:
        return f"{name}-{self.tag}"


@pytest.fixture
def names() -> Names:
    tag = secrets.token_hex(3)
    digits = "".join(secrets.choice("0123456789") for _ in range(6))
    return Names(
        tag=tag,
        number=f"+34 93 1{digits[:2]} {digits[2:]}",
        overflow=f"+3493{digits}1",
        urgent=f"+3493{digits}2",
        team=f"Guardia {tag}",
    )


def hotline_file(names: Names, **changes: str) -> str:
    """A line with two queues, a two-tier team, three agents and a supervisor (fictional)."""
    values = {
        "ana_languages": '["es", "en"]',
        "general_widen": "60",
        "team_members": (
            f'{{ login = "{names.login("urgente")}", tier = 1 }}, '
            f'{{ login = "{names.login("reserva")}", tier = 2 }}'
        ),
        "extra": "",
        **changes,
    }
    return f"""
[[lines]]
name = "Línea {names.tag}"
number = "{names.number}"
default_locale = "es"
jurisdiction = "ES"
flow = "inbound_triage"
overflow_number = "{names.overflow}"
urgent_number = "{names.urgent}"

  [[lines.queues]]
  name = "general"
  widen_after_s = {values["general_widen"]}

  [[lines.queues]]
  name = "legal"
  specialty = "legal"

[[teams]]
name = "{names.team}"
line = "{names.number}"
tier_delays_s = [30, 45]
members = [{values["team_members"]}]

[[agents]]
login = "{names.login("ana")}"
display_name = "Ana Ficticia"
role = "agent"
languages = {values["ana_languages"]}
specialties = ["legal"]
sip_uri = "sip:ana@pbx.example.org"
on_call_number = "+34 600 000 111"

[[agents]]
login = "{names.login("urgente")}"
display_name = "Urgente Ficticia"
role = "agent"
languages = ["es"]

[[agents]]
login = "{names.login("reserva")}"
display_name = "Reserva Ficticia"
role = "agent"
languages = ["es", "fr"]

[[agents]]
login = "{names.login("jefa")}"
display_name = "Jefa Ficticia"
role = "supervisor"
languages = ["es"]
{values["extra"]}
"""


@pytest.fixture(autouse=True)
def _whole_database_exported(empty_database: None) -> None:
    """An export holds the whole database: what earlier tests left must not count."""
