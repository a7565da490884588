"""RFC 9457 problem details for the API."""

from __future__ import annotations

from flask import Response, jsonify


class Problem(Exception):
    """Raise in API code; the error handler turns it into application/problem+json."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        errors: list | None = None,
        headers: dict[str, str] | None = None,
        extensions: dict | None = None,
    ) -> None:
        super().__init__(title)
        self.status, self.title, self.detail, self.errors = status, title, detail, errors
        self.headers, self.extensions = headers or {}, extensions or {}


def problem_body(
    status: int, title: str, detail: str | None = None, errors: list | None = None, extensions: dict | None = None
) -> dict:
    """The problem+json object; also one item's outcome inside a batch answer."""
    body: dict = {**(extensions or {}), "type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    return body


def problem_response(
    status: int, title: str, detail: str | None = None, errors: list | None = None, extensions: dict | None = None
) -> Response:
    """`extensions`: RFC 9457 extension members a client can branch on (e.g. a 409's `reason`)."""
    response = jsonify(problem_body(status, title, detail, errors, extensions))
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response
