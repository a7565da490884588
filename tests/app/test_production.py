"""Production settings an operator relies on: headers, cookies, health, readiness, metrics, logs with request ids."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app import create_app
from kundenpuls.extensions import db as _db
from messaging.mail import queue_mail
from tests.conftest import csrf_token
from tests.feedback_helpers import answered

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


@pytest.fixture
def production(monkeypatch, database_url):
    monkeypatch.setenv("KUNDENPULS_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "s" * 48)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("KUNDENPULS_ALLOW_SQLITE", "1")
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    yield app
    with app.app_context():
        _db.engine.dispose()  # its pooled connections, before the garbage collector finds them open


def test_production_sends_strict_headers_and_secure_cookies(production):
    client = production.test_client()
    page = client.get("/login")
    assert page.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    token = csrf_token(page.text)
    answer = client.post("/login", data={"csrf_token": token, "email": "x@example.com", "password": "nope"})
    cookies = answer.headers.getlist("Set-Cookie")
    assert cookies and all("Secure" in c and "HttpOnly" in c for c in cookies)


def test_no_page_has_inline_scripts_or_styles():
    """The CSP allows no inline code, so no page template may carry any (mail templates are not pages)."""
    offenders = []
    for path in TEMPLATES.rglob("*.html"):
        if path.parent.name == "emails":
            continue
        text = path.read_text()
        if re.search(r"<script(?![^>]*\bsrc=)", text) or re.search(r"\son[a-z]+=|\sstyle=", text):
            offenders.append(path.name)
    assert offenders == []


def test_health_and_readiness(client):
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json["database"] == "ok"


def test_readiness_fails_while_the_database_is_away():
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://postgres@127.0.0.1:1/kundenpuls", "SECRET_KEY": "x"}
    )
    client = app.test_client()
    assert client.get("/healthz").status_code == 200  # the process is fine: no restart
    down = client.get("/readyz")
    assert down.status_code == 503 and down.json["status"] == "unavailable" and down.headers["Retry-After"] == "5"


def test_metrics_count_requests_and_read_the_queues(client, session, app):
    client.get("/healthz")
    client.get("/healthz")
    now = datetime.now(UTC)
    queue_mail(session, "metrics-test", "digest", "chefin@example.com", "Woche", "Text", now)
    session.commit()
    answered(session, 1, 9, now=now)  # stored; the scheduler has not applied it yet
    text = client.get("/metrics").text
    assert re.search(r'kundenpuls_http_requests_total\{endpoint="/healthz",method="GET",status="200"\} [2-9]', text)
    assert 'kundenpuls_mail_messages{status="pending"} 2.0' in text  # the digest and the survey invitation
    assert "kundenpuls_mail_queue_age_seconds" in text and "kundenpuls_open_cases 0.0" in text
    assert "kundenpuls_answers_waiting 1.0" in text and "kundenpuls_answers_failed 0.0" in text
    app.config["METRICS_TOKEN"] = "geheim"
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer geheim"}).status_code == 200


def test_request_ids_are_kept_or_made(client):
    assert client.get("/healthz", headers={"X-Request-ID": "lb-42.a"}).headers["X-Request-ID"] == "lb-42.a"
    made = client.get("/healthz", headers={"X-Request-ID": "bad id <script>"}).headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)


def test_production_logs_are_json_lines_with_the_request_id(production, capsys):
    production.config["LOG_FORMAT"] = "json"
    from kundenpuls.observability import configure_logging

    configure_logging(production)  # bound to the stream this test captures
    production.test_client().get("/healthz", headers={"X-Request-ID": "trace-7"})
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    access = [line for line in lines if line.get("logger") == "kundenpuls.access"]
    assert access and access[-1]["request_id"] == "trace-7"
    assert access[-1]["path"] == "/healthz" and access[-1]["status"] == 200 and "duration_ms" in access[-1]


def test_production_logs_carry_no_survey_token_and_no_bound_values(production, capsys, session, buy):
    """A token in a log is a working link to a customer's survey; a bound value is personal data that erasure
    cannot reach."""
    from sqlalchemy import text

    from tests.messaging.test_claims import invite

    production.config["LOG_FORMAT"] = "json"
    from kundenpuls.observability import configure_logging

    configure_logging(production)

    @production.get("/boom-with-values")
    def boom():
        from flask import request

        _db.session.execute(text("INSERT INTO api_keys (name) VALUES (:secret)"), {"secret": request.args["v"]})

    invite(session, buy, 1)
    token = session.scalar(text("SELECT token FROM invitations"))
    client = production.test_client()
    client.get(f"/s/{token}")
    client.get("/s/no-such-token-123")
    client.post(f"/u/{token}x")

    with production.app_context():
        assert _db.engine.hide_parameters
    assert client.get("/boom-with-values?v=anna@example.com").status_code == 500
    err = capsys.readouterr().err
    assert token not in err and "no-such-token-123" not in err
    assert "anna@example.com" not in err, [line for line in err.splitlines() if "anna@" in line]
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    paths = {line["path"] for line in lines if line.get("logger") == "kundenpuls.access"}
    assert {"/s/<token>", "/u/<token>"} <= paths
