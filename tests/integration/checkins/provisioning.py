"""Helpers for the provisioning tests: systems with scopes, and requests as a system sends."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from checkins import notifications
from store.alarms import ExternalSystem
from tests.harness.hotline import Hotline


def system_key(sessions: sessionmaker[Session], *scopes: str) -> str:
    """A new system's key; with no scopes named, the default (notifications)."""
    name = f"sys-{time.monotonic_ns()}"
    if scopes:
        _, key = notifications.add_system(sessions, name, scopes)
    else:
        _, key = notifications.add_system(sessions, name)
    return key


def system_id_of(sessions: sessionmaker[Session], key: str) -> str:
    return notifications.authenticate(sessions, key, "provisioning")


def system_named(sessions: sessionmaker[Session], name: str) -> ExternalSystem:
    with sessions() as db:
        found = db.scalar(select(ExternalSystem).where(ExternalSystem.name == name))
        assert found is not None
        return found


def call(client: FlaskClient, method: str, path: str, key: str | None, body: Any = None) -> Any:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    if body is None:
        return client.open(path, method=method, headers=headers)
    data = body if isinstance(body, bytes | str) else json.dumps(body)
    headers["Content-Type"] = "application/json"
    return client.open(path, method=method, headers=headers, data=data)


def spanish_mobile() -> str:
    return "+346" + "".join(secrets.choice("0123456789") for _ in range(8))


def beneficiary_body(hotline: Hotline, **fields: Any) -> dict[str, Any]:
    """A full request for a new woman on the hotline's line (its number in national form)."""
    body: dict[str, Any] = {
        "external_ref": f"VG-{secrets.token_hex(4)}",
        "line": hotline.line_number.removeprefix("+34"),
        "name": "Zenobia Quintanilla-Ortuño",
        "phones": [spanish_mobile(), spanish_mobile()],
        "locale": "ro",
        "risk_level": "alto",
        "municipality": "Villaficticia de Abajo",
        "address": "Calle Inventada 12, 3º B",
        "safety_plan": "Palabra clave con su hermana; salir por la puerta trasera.",
    }
    body.update(fields)
    return body
