"""The OpenAPI document at /api/openapi.json: well formed, naming every /api/ route of the app,
and every route's real answers (status and JSON body) match its documented responses."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from app import create_app
from checkins.context import CheckinContext
from runtime import Runtime
from store.clock import ManualClock
from store.models import Beneficiary
from tests.harness.hotline import Hotline
from tests.harness.signin import sign_in
from tests.integration.checkins.helpers import alarm_body, signed_headers
from tests.integration.checkins.provisioning import (
    beneficiary_body,
    call,
    spanish_mobile,
    system_key,
)

METHODS = {"get", "post", "put", "patch", "delete"}
DOCUMENT_URI = "urn:amparo:openapi"

# The shape an OpenAPI 3.1 document must have, as far as this API uses it.
OPENAPI_SHAPE: dict[str, Any] = {
    "type": "object",
    "required": ["openapi", "info", "paths", "components"],
    "properties": {
        "openapi": {"type": "string", "pattern": r"^3\.1\.\d+$"},
        "info": {
            "type": "object",
            "required": ["title", "version"],
            "properties": {"title": {"type": "string"}, "version": {"type": "string"}},
        },
        "paths": {
            "type": "object",
            "propertyNames": {"pattern": "^/"},
            "additionalProperties": {
                "type": "object",
                "propertyNames": {"enum": sorted(METHODS)},
                "additionalProperties": {"$ref": "#/$defs/operation"},
            },
        },
        "components": {
            "type": "object",
            "properties": {
                "schemas": {"type": "object"},
                "securitySchemes": {
                    "type": "object",
                    "additionalProperties": {"type": "object", "required": ["type"]},
                },
            },
        },
    },
    "$defs": {
        "operation": {
            "type": "object",
            "required": ["responses"],
            "properties": {
                "parameters": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["name", "in"],
                        "properties": {"in": {"enum": ["path", "query", "header", "cookie"]}},
                    },
                },
                "security": {"type": "array"},
                "responses": {
                    "type": "object",
                    "minProperties": 1,
                    "propertyNames": {"pattern": "^[1-5][0-9][0-9]$"},
                    "additionalProperties": {
                        "type": "object",
                        "required": ["description", "content"],
                        "properties": {
                            "content": {
                                "type": "object",
                                "required": ["application/json"],
                                "additionalProperties": {
                                    "type": "object",
                                    "required": ["schema"],
                                },
                            }
                        },
                    },
                },
            },
        }
    },
}


@pytest.fixture
def app(runtime: Runtime, ctx: CheckinContext) -> Flask:
    return create_app(runtime=runtime)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def document_of(client: FlaskClient) -> dict[str, Any]:
    answer = client.get("/api/openapi.json")
    assert answer.status_code == 200
    document = answer.json
    assert isinstance(document, dict)
    return document


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for name, value in node.items():
            if name == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from refs(item)


def test_the_document_is_a_well_formed_openapi_3_1_document(client: FlaskClient) -> None:
    document = document_of(client)
    Draft202012Validator(OPENAPI_SHAPE).validate(document)
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    schemes = set(document["components"]["securitySchemes"])
    for path, operations in document["paths"].items():
        for placeholder in re.findall(r"{(\w+)}", path):
            for operation in operations.values():
                named = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
                assert placeholder in named, (path, placeholder)
        for operation in operations.values():
            for requirement in operation.get("security", []):
                assert set(requirement) <= schemes
    for ref in refs(document):
        assert ref.startswith("#/components/schemas/"), ref
        assert ref.rsplit("/", 1)[1] in document["components"]["schemas"], ref


def test_every_api_rule_of_the_app_is_in_the_document(app: Flask, client: FlaskClient) -> None:
    document = document_of(client)
    routes = {
        (re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule), method.lower())
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/")
        for method in rule.methods or ()
        if method not in ("HEAD", "OPTIONS")
    }
    documented = {
        (path, method) for path, operations in document["paths"].items() for method in operations
    }
    assert routes and routes <= documented, routes - documented
    assert documented <= routes, documented - routes


@dataclass
class Answers:
    """Real answers, each with the documented path it came from."""

    client: FlaskClient
    found: list[tuple[str, str, Any]] = field(default_factory=list)

    def send(self, method: str, template: str, url: str, key: str | None, body: Any = None) -> Any:
        answer = call(self.client, method, url, key, body)
        self.found.append((template, method.lower(), answer))
        return answer


def beneficiary_answers(answers: Answers, hotline: Hotline, key: str, notifier: str) -> None:
    body = beneficiary_body(hotline, risk_level="alto")
    path = "/api/beneficiaries"
    for sender, sent in (
        (key, body),
        (key, body),
        (key, {**body, "risk_level": "bajo"}),
        (key, {**body, "phones": ["x"]}),
        (None, body),
        (notifier, body),
    ):
        answers.send("POST", path, path, sender, sent)


def device_answers(
    answers: Answers, clock: ManualClock, hotline: Hotline, key: str, notifier: str
) -> None:
    serial = f"OA-{time.monotonic_ns()}"
    device = {
        "serial": serial,
        "beneficiary_id": hotline.beneficiary_id,
        "number": spanish_mobile(),
    }
    unknown = {**device, "serial": serial + "x", "beneficiary_id": "0" * 32}
    for sender, sent in ((key, device), (key, device), (key, {}), (key, unknown), (None, device)):
        answers.send("POST", "/api/devices", "/api/devices", sender, sent)
    rotate, revoke = "/api/devices/{serial}/rotate", "/api/devices/{serial}"
    rotated = answers.send("POST", rotate, f"/api/devices/{serial}/rotate", key)
    answers.send("POST", rotate, "/api/devices/NOPE/rotate", key)
    answers.send("POST", rotate, "/api/devices/a%20b/rotate", notifier)
    answers.send("POST", rotate, "/api/devices/a%20b/rotate", key)
    alarm = alarm_body("OA-1", serial)
    headers = signed_headers(serial, rotated.json["secret"], alarm, clock.now().timestamp())
    for signed in (headers, headers, {**headers, "X-Amparo-Signature": "0"}):
        answer = answers.client.post("/api/devices/alarm", data=alarm, headers=signed)
        answers.found.append(("/api/devices/alarm", "post", answer))
    answers.send("DELETE", revoke, f"/api/devices/{serial}", key)
    answers.send("DELETE", revoke, "/api/devices/NOPE", key)
    answers.send("POST", rotate, f"/api/devices/{serial}/rotate", key)


def notification_answers(
    answers: Answers, ctx: CheckinContext, hotline: Hotline, key: str, notifier: str
) -> None:
    with ctx.sessions() as db:
        person = db.get(Beneficiary, hotline.beneficiary_id)
        assert person is not None
        reference = person.reference
    notice: dict[str, Any] = {
        "id": f"oa-{time.monotonic_ns()}",
        "type": "order_expiring",
        "beneficiaries": [reference],
    }
    path = "/api/notifications"
    first = answers.send("POST", path, path, notifier, notice)
    for sender, sent in ((notifier, notice), (notifier, {"id": 1}), (None, notice), (key, notice)):
        answers.send("POST", path, path, sender, sent)
    progress = "/api/notifications/{notification_id}/progress"
    client = answers.client
    answers.found.append((progress, "get", client.get("/api/notifications/none/progress")))
    sign_in(client, ctx.sessions, hotline.agents["boss"])
    answers.found.append((progress, "get", client.get("/api/notifications/none/progress")))
    url = f"/api/notifications/{first.json['notification_id']}/progress"
    answers.found.append((progress, "get", client.get(url)))


def real_answers(
    client: FlaskClient, ctx: CheckinContext, clock: ManualClock, hotline: Hotline
) -> list[tuple[str, str, Any]]:
    """``(path template, method, answer)`` for each documented answer a test can provoke."""
    key = system_key(ctx.sessions, "provisioning")
    notifier = system_key(ctx.sessions, "notifications")
    answers = Answers(client)
    beneficiary_answers(answers, hotline, key, notifier)
    device_answers(answers, clock, hotline, key, notifier)
    notification_answers(answers, ctx, hotline, key, notifier)
    answers.send("GET", "/api/openapi.json", "/api/openapi.json", None)
    return answers.found


def test_every_routes_real_answers_match_the_documented_responses(
    client: FlaskClient, ctx: CheckinContext, clock: ManualClock, hotline: Hotline
) -> None:
    document = document_of(client)
    registry: Registry[Any] = Registry().with_resource(
        DOCUMENT_URI, Resource.from_contents(document, default_specification=DRAFT202012)
    )
    seen: dict[tuple[str, str], set[int]] = {}
    for path, method, answer in real_answers(client, ctx, clock, hotline):
        responses = document["paths"][path][method]["responses"]
        assert str(answer.status_code) in responses, (path, method, answer.status_code, answer.json)
        schema = responses[str(answer.status_code)]["content"]["application/json"]["schema"]
        rooted = {"$ref": DOCUMENT_URI + schema["$ref"]} if "$ref" in schema else schema
        Draft202012Validator(rooted, registry=registry).validate(answer.json)
        seen.setdefault((path, method), set()).add(answer.status_code)
    documented = {
        (path, method) for path, operations in document["paths"].items() for method in operations
    }
    assert set(seen) == documented
    assert seen[("/api/beneficiaries", "post")] == {200, 201, 400, 401, 403, 409}
    assert seen[("/api/devices", "post")] == {201, 400, 401, 404, 409}
    assert seen[("/api/devices/{serial}/rotate", "post")] == {200, 400, 403, 404, 409}
    assert seen[("/api/devices/{serial}", "delete")] == {200, 404}
    assert seen[("/api/devices/alarm", "post")] == {200, 202, 401}
    assert seen[("/api/notifications", "post")] == {200, 202, 400, 401, 403}
    assert seen[("/api/notifications/{notification_id}/progress", "get")] >= {200, 401, 404}
