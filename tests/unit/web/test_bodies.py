"""Reading a JSON object body: a body that is not one answers 400 with an error_id, never 500."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask, jsonify

from web import errors
from web.bodies import json_object


@pytest.fixture
def app() -> Flask:
    app = Flask(__name__)

    @app.post("/strict")
    def strict() -> Any:
        return jsonify(json_object())

    @app.post("/lenient")
    def lenient() -> Any:
        body = json_object(or_form=True)
        return jsonify(mode=str(body.get("mode") or ""), fields=sorted(body))

    errors.install(app)
    return app


def test_given_a_json_object_then_the_view_reads_its_fields(app: Flask) -> None:
    answer = app.test_client().post("/strict", json={"state": "available", "n": 2})

    assert answer.status_code == 200
    assert answer.json == {"state": "available", "n": 2}


@pytest.mark.parametrize(
    ("raw", "content_type", "error_id"),
    [
        (b"", "application/json", "request.body_missing"),
        (b"", None, "request.body_missing"),
        (b"{not json", "application/json", "request.invalid_json"),
        (b'["listen"]', "application/json", "request.not_an_object"),
        (b'"listen"', "application/json", "request.not_an_object"),
        (b"null", "application/json", "request.not_an_object"),
        (b"mode=listen", "application/x-www-form-urlencoded", "request.not_json"),
    ],
)
def test_given_a_body_that_is_not_a_json_object_then_400_with_its_error_id(
    app: Flask, raw: bytes, content_type: str | None, error_id: str
) -> None:
    answer = app.test_client().post("/strict", data=raw, content_type=content_type)

    assert answer.status_code == 400
    assert answer.json is not None
    assert answer.json["error_id"] == error_id
    assert answer.json["message"]


def test_given_a_form_post_where_forms_are_read_then_its_fields_are_the_body(app: Flask) -> None:
    answer = app.test_client().post("/lenient", data={"mode": "whisper"})

    assert answer.status_code == 200
    assert answer.json == {"mode": "whisper", "fields": ["mode"]}


@pytest.mark.parametrize(
    ("raw", "content_type"), [(b"", "application/json"), (b"", None), (b"null", "application/json")]
)
def test_given_no_fields_where_forms_are_read_then_the_body_is_empty(
    app: Flask, raw: bytes, content_type: str | None
) -> None:
    answer = app.test_client().post("/lenient", data=raw, content_type=content_type)

    assert answer.status_code == 200
    assert answer.json == {"mode": "", "fields": []}


@pytest.mark.parametrize(
    ("raw", "error_id"),
    [
        (b'["whisper"]', "request.not_an_object"),
        (b"[]", "request.not_an_object"),
        (b"{broken", "request.invalid_json"),
    ],
)
def test_given_json_that_is_not_an_object_where_forms_are_read_then_still_400(
    app: Flask, raw: bytes, error_id: str
) -> None:
    answer = app.test_client().post("/lenient", data=raw, content_type="application/json")

    assert answer.status_code == 400
    assert (answer.json or {}).get("error_id") == error_id
