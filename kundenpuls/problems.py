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
    ) -> None:
        super().__init__(title)
        self.status, self.title, self.detail, self.errors = status, title, detail, errors
        self.headers = headers or {}


def problem_response(status: int, title: str, detail: str | None = None, errors: list | None = None) -> Response:
    body: dict = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response
