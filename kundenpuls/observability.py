"""Request ids, structured JSON logs and Prometheus metrics: what an operator needs to run several hosts.

Metrics about the work in the database (mail queued, sent and failed, the age of the mail queue, webhook
deliveries, open cases) are read from the database at scrape time, so every web host reports the same shared
truth, whichever process did the work. Request counters live per process; under gunicorn they are summed over
the workers through prometheus_client's multiprocess mode (gunicorn.conf.py sets PROMETHEUS_MULTIPROC_DIR).
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
import uuid

from flask import Flask, Response, current_app, g, has_request_context, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from kundenpuls.extensions import db

REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
access_log = logging.getLogger("kundenpuls.access")

REQUESTS = Counter("kundenpuls_http_requests", "HTTP requests answered", ["method", "endpoint", "status"])
LATENCY = Histogram(
    "kundenpuls_http_request_duration_seconds",
    "Time to answer a request",
    ["endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


class StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a record comes (like logging's last resort), not to the stream
    of the moment the app was made: test runners and process managers swap it."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


class RequestIdFilter(logging.Filter):
    """Every log record carries the request id of the request it was written in ("-" outside requests)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


# Lines of a database error that quote the data: PostgreSQL's DETAIL (`Key (email)=(anna@example.com) already
# exists`) and SQLAlchemy's parameter list (hidden in production anyway by hide_parameters).
_QUOTING_DATA = re.compile(r"^\s*(DETAIL:|\[parameters:).*$", re.MULTILINE)


class _NoDataInTracebacks:
    """A formatter mixin for production: tracebacks keep the statement and the error, not the values."""

    def formatException(self, ei) -> str:  # noqa: N802 (logging's name)
        return _QUOTING_DATA.sub(r"\1 [withheld]", super().formatException(ei))


def configure_logging(app: Flask) -> None:
    """JSON lines (LOG_FORMAT=json, the production default) or readable text, both with the request id."""
    handler = StderrHandler()
    handler.addFilter(RequestIdFilter())
    if app.config["LOG_FORMAT"] == "json":
        from pythonjsonlogger.json import JsonFormatter

        class Formatter(_NoDataInTracebacks, JsonFormatter):
            pass

        handler.setFormatter(
            Formatter(
                "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
                rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"))
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "kundenpuls", False)]:
        root.removeHandler(old)
    handler.kundenpuls = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(app.config["LOG_LEVEL"])


def register_request_hooks(app: Flask) -> None:
    @app.before_request
    def start_request() -> None:
        incoming = request.headers.get("X-Request-ID", "")
        g.request_id = incoming if REQUEST_ID.match(incoming) else uuid.uuid4().hex
        g.started = time.perf_counter()

    @app.after_request
    def finish_request(response: Response) -> Response:
        response.headers["X-Request-ID"] = g.get("request_id", "")
        endpoint = request.url_rule.rule if request.url_rule is not None else "unmatched"
        seconds = time.perf_counter() - g.get("started", time.perf_counter())
        REQUESTS.labels(request.method, endpoint, str(response.status_code)).inc()
        LATENCY.labels(endpoint).observe(seconds)
        if app.config["ACCESS_LOG"]:
            access_log.info(
                "request",
                extra={
                    "method": request.method,
                    "path": loggable_path(),
                    "status": response.status_code,
                    "duration_ms": round(seconds * 1000, 1),
                    "remote": request.remote_addr,
                },
            )
        return response


# Collectors of gauges read from the database at scrape time, added by the application (app/metrics.py): the core
# knows no feature package's tables.
_GAUGES: list = []


def add_gauges(collector) -> None:
    if collector not in _GAUGES:
        _GAUGES.append(collector)


def metrics_response() -> Response:
    """The process's (or, under gunicorn, all workers') request metrics and the database gauges."""
    token = current_app.config["METRICS_TOKEN"]
    if token and request.headers.get("Authorization") != f"Bearer {token}":
        return Response("metrics need the bearer token\n", status=401, mimetype="text/plain")
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        processes = CollectorRegistry()
        multiprocess.MultiProcessCollector(processes)
        body = generate_latest(processes)
    else:
        body = generate_latest(REGISTRY)
    shared = CollectorRegistry()
    for collector in _GAUGES:
        shared.register(collector)
    try:
        body += generate_latest(shared)
    except SQLAlchemyError:
        db.session.rollback()
        body += b"# database unreachable: no database gauges\n"
    return Response(body, mimetype=CONTENT_TYPE_LATEST)


_SECRET_PATH = re.compile(r"^/(s|u)/[^/]+")


def loggable_path() -> str:
    """The request's path with survey and unsubscribe tokens left out: a token in a log file is a working link to a
    customer's survey, and erasure cannot reach log files."""
    rule = request.url_rule.rule if request.url_rule is not None else ""
    if "<token>" in rule:
        return rule
    return _SECRET_PATH.sub(r"/\1/<token>", request.path)
