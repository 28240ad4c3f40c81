"""The OpenAPI 3.1 document of every ``/api/`` route, served at ``/api/openapi.json``.

Built from the same constants the services check with (risk levels, alarm and notification
types, the serial's pattern), so the document cannot name a value the API refuses. A test
checks that every ``/api/`` rule of the app is here and that real answers match these schemas.
"""

from __future__ import annotations

from typing import Any

from checkins.devices import SERIAL
from checkins.notifications import SCOPES
from checkins.policy import NotificationKind
from checkins.progress import FIELDS
from checkins.provisioning import EXTERNAL_REF, OPTIONAL_TEXT
from locales import SUPPORTED_LOCALES
from store.vocabulary import AlarmType, RiskLevel

JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _answer(description: str, schema: str, **headers: Any) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "description": description,
        "content": {JSON: {"schema": _ref(schema)}},
    }
    if headers:
        answer["headers"] = headers
    return answer


def _errors(*codes: str) -> dict[str, Any]:
    meaning = {
        "400": "malformed request (`error_id` says what)",
        "401": "not authenticated",
        "403": "authenticated, but without the scope or role this route needs",
        "404": "no such record",
        "409": "conflicts with what is stored (nothing was written)",
        "503": "the database did not take the write; nothing was stored: send it again",
    }
    retry = {"Retry-After": {"schema": {"type": "string"}, "description": "seconds"}}
    return {
        code: _answer(meaning[code], "Error", **(retry if code == "503" else {})) for code in codes
    }


def _body(schema: str) -> dict[str, Any]:
    return {"required": True, "content": {JSON: {"schema": _ref(schema)}}}


def _serial_parameter() -> dict[str, Any]:
    return {
        "name": "serial",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "pattern": SERIAL.pattern},
    }


def _door_schemas() -> dict[str, Any]:
    """The device alarm and notification doors' bodies and answers, and every error."""
    return {
        "Error": {
            "type": "object",
            "required": ["error_id", "message"],
            "properties": {"error_id": {"type": "string"}, "message": {"type": "string"}},
        },
        "AlarmReceipt": {
            "type": "object",
            "required": ["alarm_id", "status"],
            "properties": {
                "alarm_id": {"type": "string"},
                "status": {"const": "received"},
                "warnings": {"type": "array", "items": {"type": "string"}},
            },
            "additionalProperties": False,
        },
        "Alarm": {
            "type": "object",
            "required": ["alarm_id"],
            "properties": {
                "device_id": {"type": "string"},
                "alarm_id": {"type": "string", "pattern": r"^[A-Za-z0-9_.:\-]{1,64}$"},
                "type": {"enum": [kind.value for kind in AlarmType]},
                "location": {"type": "object"},
                "battery": {"type": "number", "minimum": 0, "maximum": 100},
            },
        },
        "Notification": {
            "type": "object",
            "required": ["id", "type"],
            "properties": {
                "id": {"type": "string"},
                "type": {"enum": [kind.value for kind in NotificationKind]},
                "beneficiaries": {"type": "array", "items": {"type": "string"}},
                "data": {"type": "object"},
            },
        },
        "NotificationReceipt": {
            "type": "object",
            "required": [
                "notification_id",
                "id",
                "type",
                "accepted",
                "unknown_references",
                "duplicate",
            ],
            "properties": {
                "notification_id": {"type": "string"},
                "id": {"type": "string"},
                "type": {"enum": [kind.value for kind in NotificationKind]},
                "accepted": {"type": "integer"},
                "unknown_references": {"type": "array", "items": {"type": "string"}},
                "duplicate": {"type": "boolean"},
            },
            "additionalProperties": False,
        },
        "Progress": {
            "type": "object",
            "required": ["notification_id", "kind", *FIELDS],
            "properties": {
                "notification_id": {"type": "string"},
                "kind": {"type": ["string", "null"]},
                **{name: {"type": "integer"} for name in FIELDS},
            },
            "additionalProperties": False,
        },
    }


def _provisioning_schemas() -> dict[str, Any]:
    text = {"type": ["string", "null"]}
    return {
        "Beneficiary": {
            "type": "object",
            "required": ["external_ref", "line", "name", "phones"],
            "properties": {
                "external_ref": {"type": "string", "pattern": EXTERNAL_REF.pattern},
                "line": {"type": "string", "description": "the line's number, any format"},
                "name": {"type": "string", "minLength": 1},
                "phones": {
                    "type": "array",
                    "minItems": 1,
                    "items": {"type": "string"},
                    "description": "the first is her primary number, the others safe ones",
                },
                "locale": {"enum": list(SUPPORTED_LOCALES)},
                "risk_level": {"enum": [level.value for level in RiskLevel]},
                **{name: {**text, "maxLength": limit} for name, limit in OPTIONAL_TEXT.items()},
            },
            "additionalProperties": False,
        },
        "BeneficiaryId": {
            "type": "object",
            "required": ["id"],
            "properties": {"id": {"type": "string"}},
            "additionalProperties": False,
        },
        "NewDevice": {
            "type": "object",
            "required": ["serial", "beneficiary_id", "number"],
            "properties": {
                "serial": {"type": "string", "pattern": SERIAL.pattern},
                "beneficiary_id": {"type": "string"},
                "number": {"type": "string", "description": "the device's own phone number"},
            },
            "additionalProperties": False,
        },
        "DeviceSecret": {
            "type": "object",
            "required": ["serial", "secret"],
            "properties": {"serial": {"type": "string"}, "secret": {"type": "string"}},
            "additionalProperties": False,
        },
        "DeviceRevoked": {
            "type": "object",
            "required": ["serial", "revoked"],
            "properties": {"serial": {"type": "string"}, "revoked": {"const": True}},
            "additionalProperties": False,
        },
    }


def _key_security(scope: str) -> list[dict[str, list[str]]]:
    return [{"systemKey": [scope]}]


def _door_paths() -> dict[str, Any]:
    return {
        "/api/devices/alarm": {
            "post": {
                "summary": "A device's alarm, signed with its secret (docs/devices.md)",
                "security": [{"deviceSignature": []}],
                "requestBody": _body("Alarm"),
                "responses": {
                    "202": _answer("stored; the urgent team is rung", "AlarmReceipt"),
                    "200": _answer("this alarm was already received", "AlarmReceipt"),
                    **_errors("400", "401", "503"),
                },
            }
        },
        "/api/notifications": {
            "post": {
                "summary": "A notification from an external system",
                "security": _key_security("notifications"),
                "requestBody": _body("Notification"),
                "responses": {
                    "202": _answer("stored; calls follow", "NotificationReceipt"),
                    "200": _answer("this id was already received", "NotificationReceipt"),
                    **_errors("400", "401", "403", "503"),
                },
            }
        },
        "/api/notifications/{notification_id}/progress": {
            "get": {
                "summary": "A notification's progress (supervisors and admins, signed in)",
                "security": [{"consoleSession": []}],
                "parameters": [
                    {
                        "name": "notification_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {
                    "200": _answer("its counters", "Progress"),
                    **_errors("401", "403", "404"),
                },
            }
        },
        "/api/openapi.json": {
            "get": {
                "summary": "This document",
                "security": [],
                "responses": {
                    "200": {
                        "description": "the OpenAPI document",
                        "content": {JSON: {"schema": {"type": "object"}}},
                    }
                },
            }
        },
    }


def _provisioning_paths() -> dict[str, Any]:
    key_errors = ("400", "401", "403")
    return {
        "/api/beneficiaries": {
            "post": {
                "summary": "Register a beneficiary, or update one this system registered",
                "security": _key_security("provisioning"),
                "requestBody": _body("Beneficiary"),
                "responses": {
                    "201": _answer("registered", "BeneficiaryId"),
                    "200": _answer("this external_ref was known: updated", "BeneficiaryId"),
                    **_errors(*key_errors, "409", "503"),
                },
            }
        },
        "/api/devices": {
            "post": {
                "summary": "Register her panic-button device; its secret is shown only here",
                "security": _key_security("provisioning"),
                "requestBody": _body("NewDevice"),
                "responses": {
                    "201": _answer("registered", "DeviceSecret"),
                    **_errors(*key_errors, "404", "409", "503"),
                },
            }
        },
        "/api/devices/{serial}/rotate": {
            "post": {
                "summary": "A new secret for the device; the old one stops working",
                "security": _key_security("provisioning"),
                "parameters": [_serial_parameter()],
                "responses": {
                    "200": _answer("the new secret, shown only here", "DeviceSecret"),
                    **_errors(*key_errors, "404", "409", "503"),
                },
            }
        },
        "/api/devices/{serial}": {
            "delete": {
                "summary": "Revoke the device: its alarms are refused and kept for audit",
                "security": _key_security("provisioning"),
                "parameters": [_serial_parameter()],
                "responses": {
                    "200": _answer("revoked (again is no change)", "DeviceRevoked"),
                    **_errors(*key_errors, "404", "503"),
                },
            }
        },
    }


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Amparo integration API",
            "version": "1",
            "description": (
                "Doors for devices and external systems. Errors answer "
                "{error_id, message}. A system's key carries scopes: " + ", ".join(SCOPES) + "."
            ),
        },
        "paths": {**_door_paths(), **_provisioning_paths()},
        "components": {
            "schemas": {**_door_schemas(), **_provisioning_schemas()},
            "securitySchemes": {
                "systemKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "a key from `amparo systems add NAME --scope ...`",
                },
                "deviceSignature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Amparo-Signature",
                    "description": "HMAC-SHA256 of `<timestamp>.<body>`, with X-Amparo-Device "
                    "and X-Amparo-Timestamp",
                },
                "consoleSession": {"type": "apiKey", "in": "cookie", "name": "amparo_session"},
            },
        },
    }
