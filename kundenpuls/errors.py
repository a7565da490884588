"""Error responses: problem+json under /api/, friendly pages everywhere else."""

from __future__ import annotations

import logging

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from kundenpuls.dbpool import connection_lost
from kundenpuls.extensions import db
from kundenpuls.problems import Problem, problem_response

log = logging.getLogger(__name__)


def _wants_problem() -> bool:
    return request.path.startswith("/api/")


def register_errorhandlers(app: Flask) -> None:
    @app.errorhandler(Problem)
    def handle_problem(exc: Problem):
        db.session.rollback()
        return problem_response(exc.status, exc.title, exc.detail, exc.errors)

    @app.errorhandler(CSRFError)
    def handle_csrf(exc: CSRFError):
        db.session.rollback()
        if _wants_problem():
            return problem_response(400, "CSRF token missing or invalid", exc.description)
        return render_template("errors/error.html", status=400, kind="csrf"), 400

    @app.errorhandler(HTTPException)
    def handle_http(exc: HTTPException):
        db.session.rollback()
        if _wants_problem():
            return problem_response(exc.code or 500, exc.name, exc.description)
        return render_template("errors/error.html", status=exc.code, kind=str(exc.code)), exc.code

    @app.errorhandler(DBAPIError)
    def handle_database_error(exc: DBAPIError):
        if not connection_lost(exc):
            return handle_unexpected(exc)
        log.warning("database connection lost on %s %s: %s", request.method, request.path, exc.orig)
        db.session.rollback()
        headers = {"Retry-After": "5"}
        if _wants_problem():
            response = problem_response(503, "Service Unavailable", "The database is not reachable; retry shortly.")
            response.headers.update(headers)
            return response
        return render_template("errors/error.html", status=503, kind="503"), 503, headers

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        db.session.rollback()
        if _wants_problem():
            return problem_response(500, "Internal Server Error", "The error was logged.")
        return render_template("errors/error.html", status=500, kind="500"), 500
