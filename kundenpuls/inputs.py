"""Checks for what arrives from outside, in one place: whole numbers, the NUL character, JSON nesting.

Each of these once reached the database or the standard library unchecked and ended in a 500: `str.isdigit`
accepts `²` and `٣` (which `int()` then refuses), Flask's `int` converter and `type=int` accept numbers beyond the
database's integer columns, PostgreSQL refuses text with a NUL character, and Python's JSON parser recurses once per
nesting level.
"""

from __future__ import annotations

import re

from flask import Flask, request
from flask.json.provider import DefaultJSONProvider
from pydantic import ValidationError
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

from kundenpuls.problems import Problem

# The largest value of the INTEGER columns every id and count is stored in (PostgreSQL and SQLite alike).
DB_INT_MAX = 2**31 - 1
_DIGITS = re.compile(r"[0-9]{1,10}")


def whole_number(text: str | None, low: int = 0, high: int = DB_INT_MAX) -> int:
    """`text` as an int from `low` to `high`, ASCII digits only; ValueError otherwise."""
    if text is None or not _DIGITS.fullmatch(text):
        raise ValueError(f"expected a whole number from {low} to {high}")
    value = int(text)
    if not low <= value <= high:
        raise ValueError(f"expected a whole number from {low} to {high}")
    return value


def query_int(text: str) -> int:
    """For `request.args.get(name, type=query_int)`: a bad or out-of-range value counts as absent."""
    return whole_number(text)


class DatabaseIdConverter(IntegerConverter):
    """`<int:...>` in routes: a number beyond the id columns is no page (404), not a database error."""

    def __init__(self, map, *args, **kwargs) -> None:  # noqa: A002 (Werkzeug's signature)
        kwargs.setdefault("max", DB_INT_MAX)
        super().__init__(map, *args, **kwargs)


class CheckedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, where a document nested too deep for the parser (100,000 brackets) is malformed input, as the
    parser's ValueError would be, not a RecursionError (the C parser checks its depth and unwinds cleanly)."""

    def loads(self, s, **kwargs):
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deep") from None


class NulCharacter(BadRequest):
    description = "Text may not contain the NUL character (U+0000)."


FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


def _refuse_nul() -> None:
    """No text with a NUL character gets in: the path, the query, form fields or a JSON body (also one sent as
    text/plain, as the web widget does to spare the browser a CORS preflight)."""
    if "\x00" in request.path:
        raise NulCharacter()
    form = request.method in ("POST", "PUT", "PATCH") and request.mimetype in FORM_TYPES
    for values in (request.args, request.form if form else {}):
        for value in values.values() if hasattr(values, "values") else ():
            if "\x00" in value:
                raise NulCharacter()
    if request.content_length and (request.is_json or request.mimetype == "text/plain"):
        body = request.get_data(cache=True)
        if b"\x00" in body or b"\\u0000" in body:
            raise NulCharacter()


def register_input_checks(app: Flask) -> None:
    """Before blueprints are registered: the route converter must be in place when their rules compile."""
    app.json = CheckedJSONProvider(app)
    app.url_map.converters["int"] = DatabaseIdConverter
    app.before_request(_refuse_nul)


def json_body(what: str = "purchase") -> dict:
    """The request's JSON object, or a 400/415 problem that says what is wrong."""
    if not request.is_json:
        raise Problem(415, "Unsupported Media Type", "Send the body as application/json.")
    body = request.get_json(silent=True)
    if body is None:
        raise Problem(400, "Malformed JSON", "The request body is not valid JSON.")
    if not isinstance(body, dict):
        raise Problem(422, f"Invalid {what}", "The body must be a JSON object.")
    return body


def error_list(exc: ValidationError) -> list[dict[str, str]]:
    """Pydantic's errors as [{field, message}], with dotted field paths."""
    errors = []
    for err in exc.errors(include_url=False):
        field = ".".join(str(part) for part in err["loc"]) or "(body)"
        message = err["msg"].removeprefix("Value error, ")
        errors.append({"field": field, "message": message})
    return errors
