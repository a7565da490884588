"""Webhooks through the delivery outbox to a real HTTP receiver on loopback, and the detractor alert mail."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from feedback import services as cases
from integrations.delivery import deliver_due
from integrations.events import forget_endpoints
from integrations.models import AlertSettings, WebhookDelivery, WebhookEndpoint
from kundenpuls.audit import AuditEvent
from messaging.outbox import dispatch_due
from tests.conftest import csrf_token
from tests.feedback_helpers import answered, make_user, sign_in
from tests.webhook_receiver import Receiver, signature_ok

ALL_EVENTS = ["response.created", "detractor.created", "case.opened", "case.resolved", "customer.churned"]


@pytest.fixture
def receiver():
    running = Receiver().start()
    yield running
    running.stop()


@pytest.fixture
def admin_client(client, session):
    sign_in(client, make_user(session, "admin@example.com", "admin"))
    return client


def register(admin_client, url: str, events: list[str], active: bool = True):
    token = csrf_token(admin_client.get("/settings/webhooks").text)
    data = {"csrf_token": token, "url": url, "description": "CRM", "events": events}
    if active:
        data["active"] = "y"
    return admin_client.post("/settings/webhooks", data=data)


def test_events_arrive_signed_once_each(admin_client, session, receiver, api):
    page = register(admin_client, receiver.url, ALL_EVENTS)
    assert page.status_code == 302
    endpoint = session.scalars(select(WebhookEndpoint)).one()
    assert endpoint.secret in admin_client.get(page.headers["Location"]).text  # shown to the admin to copy

    now = datetime.now(UTC)
    case = answered(session, 1, 3, "Zu langsam", amount=500, now=now)
    answered(session, 2, 10, now=now)  # a promoter: response.created only
    agent = make_user(session, "agent@example.com", "agent")
    cases.set_root_cause(session, case, "delivery", agent, now, None)
    cases.change_status(session, case, "resolved", agent, now, None)
    session.commit()
    cancelled = api.post("/api/v1/cancellations", {"customer_external_id": "C-2", "cancelled_at": now.isoformat()})
    assert cancelled.status_code == 201

    counts = deliver_due(session, datetime.now(UTC))  # the cancellation was queued at the API's clock
    assert counts.delivered == 6 and counts.retried == 0
    assert deliver_due(session, now + timedelta(hours=1)).delivered == 0  # nothing twice
    events = receiver.accepted()
    assert sorted(e["type"] for e in events) == sorted([*ALL_EVENTS, "response.created"])
    assert len({e["id"] for e in events}) == 6
    for request in receiver.requests:
        assert signature_ok(endpoint.secret, request)
        assert abs(int(request["headers"]["webhook-timestamp"]) - time.time()) < 60
        assert request["headers"]["webhook-id"] == json.loads(request["body"])["id"]
        assert request["headers"]["Content-Type"] == "application/json"
    detractor = next(e for e in events if e["type"] == "detractor.created")
    assert detractor["data"]["score"] == 3 and detractor["data"]["comment"] == "Zu langsam"
    assert detractor["data"]["customer_external_id"] == "C-1"
    resolved = next(e for e in events if e["type"] == "case.resolved")
    assert resolved["data"]["case_id"] == case.id and resolved["data"]["root_cause"] == "delivery"
    assert resolved["data"]["url"].endswith(f"/cases/{case.id}")
    churned = next(e for e in events if e["type"] == "customer.churned")
    assert churned["data"]["customer_external_id"] == "C-2"

    # A tampered body does not pass the receiver's check.
    forged = dict(receiver.requests[0], body=receiver.requests[0]["body"].replace(b'"C-', b'"X-'))
    assert not signature_ok(endpoint.secret, forged)


def test_a_failing_receiver_gets_retries_then_the_admin_resends(admin_client, session, receiver):
    register(admin_client, receiver.url, ["detractor.created"])
    receiver.answers.extend([500, 503])
    now = datetime.now(UTC)
    answered(session, 1, 0, now=now)

    assert deliver_due(session, now).retried == 1
    delivery = session.scalars(select(WebhookDelivery)).one()
    assert (delivery.status, delivery.attempts, delivery.last_status) == ("pending", 1, 500)
    assert deliver_due(session, now + timedelta(seconds=30)).retried == 0  # the backoff holds it back
    assert deliver_due(session, now + timedelta(minutes=1)).retried == 1  # 503
    assert deliver_due(session, now + timedelta(minutes=3)).delivered == 1
    assert len(receiver.requests) == 3 and len(receiver.accepted()) == 1
    assert len({r["headers"]["webhook-id"] for r in receiver.requests}) == 1  # the same event each time

    page = admin_client.get(f"/settings/webhooks/{delivery.endpoint_id}")
    assert 'data-status="delivered"' in page.text and "HTTP 503" not in page.text
    failed = admin_client.get(f"/settings/webhooks/{delivery.endpoint_id}?status=failed")
    assert "Nothing delivered yet." in failed.text

    token = csrf_token(page.text)
    admin_client.post(f"/settings/webhooks/deliveries/{delivery.id}/resend", data={"csrf_token": token})
    assert deliver_due(session, now + timedelta(minutes=4)).delivered == 1
    assert len(receiver.accepted()) == 2
    resent = session.scalars(select(AuditEvent).where(AuditEvent.entity == "webhook", AuditEvent.action == "resent"))
    assert resent.one().note == receiver.accepted()[1]["id"]


def test_a_receiver_that_never_answers_ends_as_failed_and_is_visible(admin_client, session, app, receiver):
    app.config["WEBHOOK_MAX_ATTEMPTS"] = 2
    register(admin_client, receiver.url, ["response.created"])
    receiver.stop()  # nobody listens: connection refused
    now = datetime.now(UTC)
    answered(session, 1, 8, now=now)
    assert deliver_due(session, now).retried == 1
    assert deliver_due(session, now + timedelta(minutes=1)).failed == 1
    delivery = session.scalars(select(WebhookDelivery)).one()
    assert delivery.status == "failed" and delivery.last_error.startswith("no answer")
    page = admin_client.get(f"/settings/webhooks/{delivery.endpoint_id}?status=failed")
    assert f'data-delivery="{delivery.id}"' in page.text and "Resend" in page.text
    overview = admin_client.get("/settings/webhooks")
    assert "0 / 0 / 1" in overview.text


def test_a_switched_off_endpoint_gets_nothing(admin_client, session, receiver):
    register(admin_client, receiver.url, ["response.created"], active=False)
    answered(session, 1, 8)
    assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0
    endpoint = session.scalars(select(WebhookEndpoint)).one()
    # Switched off after an event was queued (or while another process still had it cached): cancelled, not sent.
    endpoint.active = True
    session.commit()
    forget_endpoints()
    answered(session, 2, 8)
    endpoint.active = False
    session.commit()
    assert deliver_due(session, datetime.now(UTC)).cancelled == 1
    assert receiver.requests == []


def test_bad_endpoint_input_is_explained(admin_client, session, app):
    assert "full http:// or https:// address" in register(admin_client, "ftp://example.com/x", ["case.opened"]).text
    assert "Choose at least one event" in register(admin_client, "https://crm.example.com/hook", []).text
    assert "Leave credentials out" in register(admin_client, "https://u:p@crm.example.com/", ["case.opened"]).text
    app.config["WEBHOOK_ALLOW_HTTP"] = False
    page = register(admin_client, "http://crm.example.com/hook", ["case.opened"])
    assert page.status_code == 422 and "full https:// address" in page.text
    assert session.scalar(select(func.count()).select_from(WebhookEndpoint)) == 0


def test_agents_and_managers_cannot_manage_webhooks(client, session):
    sign_in(client, make_user(session, "chefin@example.com", "manager"))
    assert client.get("/settings/webhooks").status_code == 403


def test_the_detractor_alert_mails_the_team(admin_client, session, smtp):
    make_user(session, "chefin@example.com", "manager")
    page = admin_client.get("/settings/webhooks")
    assert "chefin@example.com" in page.text  # the default: every manager
    bad = admin_client.post(
        "/settings/alerts",
        data={"csrf_token": csrf_token(page.text), "detractor_alerts": "y", "recipients": "team@example.com, kaputt"},
    )
    assert bad.status_code == 422 and "kaputt is not an email address" in bad.text
    admin_client.post(
        "/settings/alerts",
        data={"csrf_token": csrf_token(page.text), "detractor_alerts": "y", "recipients": "service@example.com"},
    )
    settings = session.scalars(select(AlertSettings)).one()
    assert (settings.to_managers, settings.recipients) == (False, "service@example.com")

    now = datetime.now(UTC)
    case = answered(session, 1, 2, "Nie wieder", now=now)
    answered(session, 2, 7, now=now)  # a passive: no alert
    dispatch_due(session, now)
    [alert] = smtp.by_recipient("service@example.com")
    assert alert["Subject"] == "Detractor: score 2 from Anna Becker"
    text = alert.get_body(("plain",)).get_content()
    assert "Nie wieder" in text and f"/cases/{case.id}" in text
    assert smtp.by_recipient("chefin@example.com") == []

    admin_client.post("/settings/alerts", data={"csrf_token": csrf_token(page.text), "recipients": ""})
    answered(session, 3, 1, now=now)
    dispatch_due(session, now)
    assert len(smtp.by_recipient("service@example.com")) == 1
