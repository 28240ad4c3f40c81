"""HTTP errors answer ``{error_id, message}`` with their status; redirects pass through."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask, abort, redirect
from werkzeug.exceptions import HTTPException

from web import errors
from web.bodies import MalformedBody


@pytest.fixture
def app() -> Flask:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = 16

    @app.get("/refused")
    def refused() -> Any:
        abort(400, description="missing or wrong CSRF token")

    @app.get("/gone")
    def gone() -> Any:
        abort(410)

    @app.get("/malformed")
    def malformed() -> Any:
        raise MalformedBody("request.not_an_object", "expected a JSON object")

    @app.post("/upload")
    def upload() -> Any:
        from flask import request

        return {"size": len(request.get_data())}

    @app.get("/moved")
    def moved() -> Any:
        return redirect("/elsewhere")

    @app.get("/folder/")
    def folder() -> Any:
        return "folder"

    errors.install(app)
    return app


def test_given_an_abort_with_a_description_then_its_name_and_description_answer(
    app: Flask,
) -> None:
    answer = app.test_client().get("/refused")

    assert answer.status_code == 400
    assert answer.json == {"error_id": "bad_request", "message": "missing or wrong CSRF token"}


@pytest.mark.parametrize(
    ("method", "path", "status", "error_id"),
    [
        ("get", "/nowhere", 404, "not_found"),
        ("post", "/refused", 405, "method_not_allowed"),
        ("get", "/gone", 410, "gone"),
    ],
)
def test_given_a_werkzeug_error_then_json_with_an_error_id_from_its_name(
    app: Flask, method: str, path: str, status: int, error_id: str
) -> None:
    answer = getattr(app.test_client(), method)(path)

    assert answer.status_code == status
    assert answer.is_json
    assert (answer.json or {})["error_id"] == error_id
    assert (answer.json or {})["message"]


def test_given_a_too_large_body_then_413_as_json(app: Flask) -> None:
    answer = app.test_client().post("/upload", data=b"x" * 64)

    assert answer.status_code == 413
    assert (answer.json or {})["error_id"] == "request_entity_too_large"


def test_given_an_error_with_its_own_error_id_then_that_id_answers(app: Flask) -> None:
    answer = app.test_client().get("/malformed")

    assert answer.status_code == 400
    assert answer.json == {"error_id": "request.not_an_object", "message": "expected a JSON object"}


def test_given_a_redirect_then_it_is_not_turned_into_an_error(app: Flask) -> None:
    client = app.test_client()

    assert client.get("/moved").status_code == 302
    slash = client.get("/folder")
    assert slash.status_code == 308
    assert slash.headers["Location"].endswith("/folder/")


def test_error_body_of_an_unnamed_exception_still_has_an_error_id() -> None:
    body = errors.error_body(HTTPException(description="something"))

    assert body == {"error_id": "unknown_error", "message": "something"}
