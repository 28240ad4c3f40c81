"""Reading a request's JSON object body, with one clear 400 for a body that is not one.

A view reads its fields with :func:`json_object` and never sees anything but a ``dict``: a body
that is missing, is not valid JSON or is JSON but not an object answers 400
``{error_id, message}`` (through :mod:`web.errors`), never a 500 from a ``.get`` on a list.
"""

from __future__ import annotations

from typing import Any

from flask import request
from werkzeug.exceptions import BadRequest


class MalformedBody(BadRequest):
    """A body the view cannot read; answered 400 with its own ``error_id``."""

    def __init__(self, error_id: str, message: str) -> None:
        super().__init__(description=message)
        self.error_id = error_id


def json_object(*, or_form: bool = False) -> dict[str, Any]:
    """The request's body as a JSON object.

    Args:
        or_form: a body that is not JSON (a plain form post, or no body at all) gives its form
            fields instead, so a page's form and its script share one view.

    Raises:
        MalformedBody: no body (without ``or_form``), a JSON body that does not parse, or JSON
            that is not an object.
    """
    if not request.is_json:
        if or_form:
            return request.form.to_dict()
        if not request.get_data(cache=True):
            raise MalformedBody("request.body_missing", "expected a JSON object body")
        raise MalformedBody("request.not_json", "expected a JSON object (application/json)")
    if not request.get_data(cache=True):
        if or_form:
            return {}
        raise MalformedBody("request.body_missing", "expected a JSON object body")
    try:
        data = request.get_json()
    except BadRequest:
        raise MalformedBody("request.invalid_json", "the body is not valid JSON") from None
    if data is None and or_form:
        return {}  # JSON null: no fields, as an empty form
    if not isinstance(data, dict):
        raise MalformedBody("request.not_an_object", "expected a JSON object")
    return data
