"""What an attacker tries from outside: redirects to another site, the product as a port scanner, formulas in CSV
files, and inputs that used to end in a 500."""

from __future__ import annotations

import pytest

from kundenpuls.redirects import local_path
from tests.conftest import csrf_token
from tests.feedback_helpers import PASSWORD, make_user

OFFSITE = [
    "////evil.com",
    "//evil.com",
    "///evil.com/x",
    "/\\evil.com",
    "\\\\evil.com",
    "/\t/evil.com",
    "/%0a/evil.com".replace("%0a", "\n"),
    "https://evil.com/",
    "javascript:alert(1)",
    "evil.com",
]


@pytest.mark.parametrize("target", OFFSITE)
def test_no_next_or_back_parameter_leads_off_the_site(target):
    assert local_path(target) is None


@pytest.mark.parametrize("target", ["/queue", "/cases/7?tab=notes", "/customers/3#suggestions"])
def test_a_path_on_the_site_is_kept(target):
    assert local_path(target) == target


@pytest.mark.parametrize("target", OFFSITE[:6])
def test_sign_in_with_an_offsite_next_lands_on_the_home_page(session, client, target):
    user = make_user(session, "agentin@example.com", "agent")
    token = csrf_token(client.get("/login").text)
    answer = client.post("/login", query_string={"next": target}, data={"email": user.email, "password": PASSWORD,
                                                                         "csrf_token": token})  # fmt: skip
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/", answer.headers["Location"]


def test_sign_in_keeps_a_next_on_the_site(session, client):
    user = make_user(session, "agentin@example.com", "agent")
    token = csrf_token(client.get("/login").text)
    data = {"email": user.email, "password": PASSWORD, "csrf_token": token}
    answer = client.post("/login", query_string={"next": "/queue?owner=me"}, data=data)
    assert answer.headers["Location"] == "/queue?owner=me"


PRIVATE_URLS = [
    "http://127.0.0.1:6379/",
    "http://169.254.169.254/latest/meta-data/",
    "https://10.0.0.1/",
    "http://0x7f000001/",
    "http://2130706433/",
    "http://[::1]:8080/",
    "http://[::ffff:127.0.0.1]/",
    "http://localhost:5432/",
    "http://192.168.1.1/",
    "http://100.64.0.1/",
    "http://224.0.0.1/",
    "http://0.0.0.0:22/",
]


@pytest.fixture
def admin_client(client, session):
    from tests.feedback_helpers import sign_in

    sign_in(client, make_user(session, "admin@example.com", "admin"))
    return client


@pytest.fixture
def receiver():
    from tests.webhook_receiver import Receiver

    running = Receiver().start()
    yield running
    running.stop()


def register(admin_client, url: str):
    token = csrf_token(admin_client.get("/settings/webhooks").text)
    return admin_client.post(
        "/settings/webhooks", data={"csrf_token": token, "url": url, "events": ["response.created"], "active": "y"}
    )


@pytest.mark.parametrize("url", PRIVATE_URLS)
def test_a_webhook_to_a_private_address_is_refused_in_production(admin_client, session, app, url):
    from integrations.models import WebhookEndpoint

    app.config["WEBHOOK_BLOCK_PRIVATE"] = True
    page = register(admin_client, url)
    assert page.status_code == 422 and "private network" in page.text, url
    assert session.query(WebhookEndpoint).count() == 0


def test_a_named_private_host_may_be_allowed(admin_client, session, app, receiver):
    from sqlalchemy import select

    from integrations.delivery import deliver_due
    from integrations.models import WebhookDelivery
    from tests.feedback_helpers import answered

    app.config["WEBHOOK_BLOCK_PRIVATE"] = True
    url = receiver.url.replace("127.0.0.1", "localhost")
    assert register(admin_client, url).status_code == 422
    app.config["WEBHOOK_PRIVATE_HOSTS"] = "crm.intern, localhost"
    assert register(admin_client, url).status_code == 302
    answered(session, 1, 9)
    from datetime import UTC, datetime

    assert deliver_due(session, datetime.now(UTC)).delivered == 1
    assert len(receiver.requests) == 1
    assert session.scalars(select(WebhookDelivery.status)).one() == "delivered"


def test_a_name_that_turns_private_after_it_was_saved_gets_nothing(admin_client, session, app, receiver, monkeypatch):
    """DNS rebinding: the name resolved to a public address when it was checked, and to loopback when the sender
    connects. The socket's own peer address is checked before anything is sent."""
    from datetime import UTC, datetime

    from sqlalchemy import select

    from integrations import outbound
    from integrations.delivery import deliver_due
    from integrations.models import WebhookDelivery
    from tests.feedback_helpers import answered

    app.config["WEBHOOK_BLOCK_PRIVATE"] = True
    monkeypatch.setattr(outbound, "resolve", lambda host, port: ["93.184.216.34"])  # public when checked
    assert register(admin_client, receiver.url.replace("127.0.0.1", "localhost")).status_code == 302
    answered(session, 1, 9)
    counts = deliver_due(session, datetime.now(UTC))
    assert counts.delivered == 0 and receiver.requests == []
    delivery = session.scalars(select(WebhookDelivery)).one()
    assert "not public" in delivery.last_error
    monkeypatch.undo()
    # Now the name resolves to loopback at the check as well: refused for good, not retried for a day.
    delivery.status, delivery.next_attempt_at = "pending", datetime.now(UTC)
    session.commit()
    assert deliver_due(session, datetime.now(UTC)).failed == 1
    assert receiver.requests == []


def test_sign_in_spends_the_same_work_on_an_unknown_address(session, client, monkeypatch):
    """The answer time must not tell which addresses have an account: an unknown address is checked against a
    password hash too."""
    from kundenpuls import models

    checks = []
    real = models.check_password_hash
    monkeypatch.setattr(models, "check_password_hash", lambda h, p: checks.append(h) or real(h, p))
    make_user(session, "agentin@example.com", "agent")
    for email in ("agentin@example.com", "niemand@example.com"):
        token = csrf_token(client.get("/login").text)
        answer = client.post("/login", data={"email": email, "password": "falsch-falsch-falsch", "csrf_token": token})
        assert answer.status_code == 401
    assert len(checks) == 2 and all(h.startswith("scrypt:") for h in checks)


def test_the_dev_mailbox_is_not_for_agents(session, client):
    from tests.feedback_helpers import sign_in

    sign_in(client, make_user(session, "agentin@example.com", "agent"))
    assert client.get("/mailbox").status_code == 403
    assert client.get("/mailbox/1").status_code == 403


def test_the_dev_mailbox_is_for_admins_and_never_in_production(session, client, app):
    from tests.feedback_helpers import sign_in

    sign_in(client, make_user(session, "admin@example.com", "admin"))
    assert client.get("/mailbox").status_code == 200
    app.config["KUNDENPULS_ENV"] = "production"
    assert client.get("/mailbox").status_code == 404


def test_an_agent_cannot_settle_a_manager_s_measure(session, client, app):
    from sqlalchemy import select

    from retention.models import RetentionRule, Suggestion
    from tests.feedback_helpers import sign_in
    from tests.retention.test_retention_pages import a_detractor

    a_detractor(session)
    high = session.scalars(select(RetentionRule).where(RetentionRule.name == "High-value detractor")).one()
    assert high.owner_role == "manager"
    suggestion = session.scalars(select(Suggestion).where(Suggestion.rule_id == high.id)).one()
    sign_in(client, make_user(session, "agentin@example.com", "agent"))
    token = csrf_token(client.get(f"/customers/{suggestion.customer_id}").text)
    assert client.post(f"/suggestions/{suggestion.id}/done", data={"csrf_token": token}).status_code == 403
    dismissed = client.post(f"/suggestions/{suggestion.id}/dismiss", data={"csrf_token": token, "reason": "nö"})
    assert dismissed.status_code == 403
    session.expire_all()
    assert session.get(Suggestion, suggestion.id).status == "open"


def test_a_manager_settles_a_manager_s_measure(session, client):
    from sqlalchemy import select

    from retention.models import RetentionRule, Suggestion
    from tests.feedback_helpers import sign_in
    from tests.retention.test_retention_pages import a_detractor

    a_detractor(session)
    high = session.scalars(select(RetentionRule).where(RetentionRule.name == "High-value detractor")).one()
    suggestion = session.scalars(select(Suggestion).where(Suggestion.rule_id == high.id)).one()
    sign_in(client, make_user(session, "chefin@example.com", "manager"))
    token = csrf_token(client.get(f"/customers/{suggestion.customer_id}").text)
    answer = client.post(f"/suggestions/{suggestion.id}/dismiss", data={"csrf_token": token, "reason": "Erledigt"})
    assert answer.status_code == 302
    session.expire_all()
    assert session.get(Suggestion, suggestion.id).status == "dismissed"


def test_staff_pages_exports_and_api_answers_are_never_cached(session, client, api):
    from tests.feedback_helpers import sign_in

    sign_in(client, make_user(session, "chefin@example.com", "manager"))
    for path in ("/queue", "/cases/export.csv", "/reports/nps", "/reports/nps.csv"):
        assert client.get(path).headers.get("Cache-Control") == "no-store", path
    assert api.get("/api/v1/customers/nobody").headers.get("Cache-Control") == "no-store"
    with client.get("/static/app.css") as static:
        assert "no-store" not in (static.headers.get("Cache-Control") or "")


def test_a_401_names_the_bearer_scheme(client):
    answer = client.get("/api/v1/customers/C-1")
    assert answer.status_code == 401 and answer.headers["WWW-Authenticate"] == 'Bearer realm="kundenpuls"'
    wrong = client.get("/api/v1/customers/C-1", headers={"Authorization": "Bearer kp_wrong"})
    assert wrong.status_code == 401 and 'error="invalid_token"' in wrong.headers["WWW-Authenticate"]
