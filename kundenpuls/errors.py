"""Error responses: problem+json under /api/, friendly pages everywhere else."""

from __future__ import annotations

import logging

from flask import Flask, current_app, g, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError
from werkzeug.exceptions import HTTPException

from kundenpuls.dbpool import database_unreachable
from kundenpuls.extensions import db
from kundenpuls.observability import loggable_path
from kundenpuls.problems import Problem, problem_response

log = logging.getLogger(__name__)


def _wants_problem() -> bool:
    return request.path.startswith("/api/")


def _page(status: int, kind: str):
    """An error page that needs no database: the signed-in user is not loaded for it (Flask-Login's template
    context would load it, and fail again while the database is away)."""
    if "_login_user" not in g:
        g._login_user = current_app.login_manager.anonymous_user()
    return render_template("errors/error.html", status=status, kind=kind)


def _unavailable():
    """503 with Retry-After: the database is away; nothing was written (the transaction was rolled back)."""
    headers = {"Retry-After": "5"}
    if _wants_problem():
        response = problem_response(503, "Service Unavailable", "The database is not reachable; retry shortly.")
        response.headers.update(headers)
        return response
    return _page(503, "503"), 503, headers


def register_errorhandlers(app: Flask) -> None:
    @app.errorhandler(Problem)
    def handle_problem(exc: Problem):
        _rollback_quietly()
        response = problem_response(exc.status, exc.title, exc.detail, exc.errors, exc.extensions)
        response.headers.update(exc.headers)
        return response

    @app.errorhandler(CSRFError)
    def handle_csrf(exc: CSRFError):
        _rollback_quietly()
        if _wants_problem():
            return problem_response(400, "CSRF token missing or invalid", exc.description)
        return _page(400, "csrf"), 400

    @app.errorhandler(HTTPException)
    def handle_http(exc: HTTPException):
        _rollback_quietly()
        if _wants_problem():
            return problem_response(exc.code or 500, exc.name, exc.description)
        return _page(exc.code or 500, str(exc.code)), exc.code

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception):
        """Every other error: 503 when the database could not be reached (refused, reset, killed mid-request),
        else a logged 500."""
        _rollback_quietly()
        if isinstance(exc, DataError):  # a value the column cannot hold (an integer out of range, a bad encoding)
            log.warning("refused a value on %s %s: %s", request.method, loggable_path(), type(exc.orig).__name__)
            if _wants_problem():
                return problem_response(400, "Bad Request", "A value is out of range or malformed.")
            return _page(400, "400"), 400
        if database_unreachable(exc, db.engine.dialect.loaded_dbapi):
            log.warning("database unreachable on %s %s: %s", request.method, loggable_path(), type(exc).__name__)
            return _unavailable()
        log.exception("unhandled error on %s %s", request.method, loggable_path())
        if _wants_problem():
            return problem_response(500, "Internal Server Error", "The error was logged.")
        return _page(500, "500"), 500


def _rollback_quietly() -> None:
    """Roll the request's transaction back; with the connection gone there may be nothing left to roll back."""
    try:
        db.session.rollback()
    except Exception as exc:  # a dead connection cannot roll back, and the server already has
        log.info("rollback after an error failed too: %s", type(exc).__name__)
