"""GDPR export and erasure: everything about a customer out as JSON; after erasure nothing personal is left in
any table, pending mail is cancelled, and the NPS report gives the same numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import JSON, String, Text, cast, func, or_, select

from customers.description import add_contact, update_description
from customers.models import Customer
from feedback import services as cases
from integrations.models import WebhookEndpoint
from kundenpuls.audit import AuditEvent
from kundenpuls.extensions import db as _db
from kundenpuls.models import User
from messaging.models import OutboxMessage
from messaging.outbox import dispatch_due
from surveys.jobs import create_due_invitations, purge_old_comments, queue_reminders
from surveys.models import Invitation, Response
from surveys.services import submit_answer
from tests.conftest import csrf_token, purchase_payload
from tests.feedback_helpers import make_user, sign_in

NAME, EMAIL, EXTERNAL = "Jürgen Weißhaupt", "j.weisshaupt@example.org", "KD-JW-4711"
COMMENT = "Jürgen hier: die Lieferung kam nie, Tel. 0171 5550123"
NEEDLES = ("jürgen", "weißhaupt", "weisshaupt", "kd-jw-4711", "0171 5550123", "lieferung kam nie", "lager in hof")


def personal_hits(session) -> list[str]:
    """Every text column of every table searched for the customer's name, address, id and words."""
    hits = []
    for table in _db.metadata.sorted_tables:
        for column in table.columns:
            if not isinstance(column.type, String | Text | JSON):
                continue
            text = func.lower(cast(column, Text()))
            found = session.scalar(
                select(func.count()).select_from(table).where(or_(*(text.contains(n) for n in NEEDLES)))
            )
            if found:
                hits.append(f"{table.name}.{column.name}")
    return hits


@pytest.fixture
def story(session, api, smtp):
    """One customer with everything: purchases, a detractor answer with a comment, a case with a note and a reply,
    a description and a contact, an alert mail, a webhook event, a cancellation with a reason."""
    now = datetime.now(UTC)
    admin = make_user(session, "admin@example.com", "admin")
    make_user(session, "chefin@example.com", "manager")
    session.add(
        WebhookEndpoint(url="http://127.0.0.1:9/hook", secret="whsec_MTIz", events=",detractor.created,",
                        active=True, created_at=now)
    )  # fmt: skip
    session.commit()
    for n, days in ((1, 40), (2, 3)):
        payload = purchase_payload(
            f"JW-{n}", EXTERNAL, EMAIL, now - timedelta(days=days, hours=1), customer={"name": NAME}, amount=120
        )
        assert api.post("/api/v1/purchases", payload).status_code == 201
    other = purchase_payload("O-9", "C-9", "anna@example.com", now - timedelta(days=3, hours=1))
    assert api.post("/api/v1/purchases", other).status_code == 201
    create_due_invitations(session, now)
    session.commit()
    invitations = session.scalars(select(Invitation).order_by(Invitation.id)).all()
    mine = next(i for i in invitations if i.customer.external_id == EXTERNAL)
    submit_answer(session, mine.token, 2, COMMENT, now)
    anna = next(i for i in invitations if i.customer.external_id == "C-9")
    submit_answer(session, anna.token, 9, None, now)
    session.commit()
    customer = session.scalars(select(Customer).where(Customer.external_id == EXTERNAL)).one()
    case = customer_case(session, customer)
    cases.add_note(session, case, admin, "Jürgen rief an, Lager in Hof prüft", "contact", now)
    cases.send_reply(session, case, admin, "Ihre Lieferung, Herr Weißhaupt", "Lieber Jürgen, Ersatz kommt.", "k1", now)
    update_description(session, customer.id, {"industry": "Lager in Hof"}, admin.id, now)
    add_contact(session, customer.id, {"name": NAME, "role": "user", "email": EMAIL}, admin.id, now)
    session.commit()
    dispatch_due(session, now)
    cancelled = api.post(
        "/api/v1/cancellations",
        {"customer_external_id": EXTERNAL, "cancelled_at": now.isoformat(), "reason": "Jürgen zieht um"},
    )
    assert cancelled.status_code == 201
    return customer, now


def customer_case(session, customer):
    from feedback.models import Case

    return session.scalars(select(Case).where(Case.customer_id == customer.id)).one()


def nps(api, now) -> dict:
    day = now.date()
    return api.get(f"/api/v1/nps?from={day - timedelta(days=31)}&to={day}&interval=month").json


def test_export_holds_everything_about_the_customer(session, api, story):
    customer, now = story
    export = api.get(f"/api/v1/customers/{EXTERNAL}/export")
    assert export.status_code == 200 and export.mimetype == "application/json"
    data = export.json
    assert data["customer"]["name"] == NAME and data["customer"]["email"] == EMAIL
    assert sorted(p["order_id"] for p in data["purchases"]) == ["JW-1", "JW-2"]
    assert [r["comment"] for r in data["responses"]] == [COMMENT]
    assert data["cancellations"][0]["reason"] == "Jürgen zieht um"
    assert data["description"]["industry"] == "Lager in Hof"
    assert data["contacts"][0]["email"] == EMAIL
    [case] = data["cases"]
    assert "Jürgen rief an, Lager in Hof prüft" in [event["note"] for event in case["timeline"]]
    assert any(m["kind"] == "case_reply" and m["recipient"] == EMAIL for m in data["mails"])
    assert data["lifecycle_history"][-1]["to_phase"] == "churned"
    assert all("token" not in invitation for invitation in data["invitations"])
    assert "Anna" not in export.text  # nobody else's data
    assert api.get("/api/v1/customers/KD-unknown/export").status_code == 404


def test_erasure_leaves_no_personal_data_and_the_report_unchanged(session, api, story, client):
    customer, now = story
    before = nps(api, now)
    assert personal_hits(session)  # the search does find the data while it is there
    reminder_due = now + timedelta(days=5)
    queue_reminders(session, reminder_due)  # Anna's reminder is queued; the erased customer answered already

    erased = api.delete(f"/api/v1/customers/{EXTERNAL}")
    assert erased.status_code == 200 and erased.json["erased"] is True
    assert erased.json["rows"]["comments"] == 1

    assert personal_hits(session) == []
    assert nps(api, now) == before
    session.expire_all()
    stub = session.get(Customer, customer.id)
    assert (stub.name, stub.email, stub.external_id) == (None, None, f"erased-{customer.id}")
    [response] = session.scalars(select(Response).where(Response.customer_id == customer.id)).all()
    assert (response.score, response.comment) == (2, None)
    mine = select(OutboxMessage).where(OutboxMessage.customer_id == customer.id)
    assert all(m.status in ("sent", "cancelled") and m.raw == "" for m in session.scalars(mine))
    assert session.scalars(mine.where(OutboxMessage.kind == "invitation", OutboxMessage.status == "cancelled")).all()
    audit = session.scalars(select(AuditEvent).where(AuditEvent.action == "erased")).one()
    assert audit.entity_id == customer.id and audit.note == "API key test shop"

    assert api.delete(f"/api/v1/customers/{EXTERNAL}").status_code == 404
    assert api.get(f"/api/v1/customers/{EXTERNAL}/export").status_code == 404
    assert api.get(f"/api/v1/customers/{EXTERNAL}").status_code == 404
    assert api.get(f"/api/v1/customers/erased-{customer.id}").status_code == 404  # the stub is nobody's record
    problem = api.delete("/api/v1/customers/nobody")
    assert problem.status_code == 404 and problem.mimetype == "application/problem+json"
    assert client.delete("/api/v1/customers/C-9").status_code == 401  # no key


def test_staff_export_and_erase_on_the_customer_page(session, client, story):
    customer, now = story
    sign_in(client, session.scalars(select(User).where(User.email == "admin@example.com")).one())
    page = client.get(f"/customers/{customer.id}")
    assert "Download all data (JSON)" in page.text and "Erase customer" in page.text
    download = client.get(f"/customers/{customer.id}/export.json")
    assert download.json["customer"]["external_id"] == EXTERNAL
    assert "attachment" in download.headers["Content-Disposition"]
    token = csrf_token(page.text)
    wrong = client.post(
        f"/customers/{customer.id}/erase", data={"csrf_token": token, "confirm": "KD"}, follow_redirects=True
    )
    assert "external id exactly to confirm" in wrong.text
    assert session.get(Customer, customer.id).erased_at is None
    done = client.post(
        f"/customers/{customer.id}/erase", data={"csrf_token": token, "confirm": EXTERNAL}, follow_redirects=True
    )
    assert "Erased on" in done.text and "Erase customer" not in done.text
    assert personal_hits(session) == []


def test_managers_may_export_but_not_erase(session, client, story):
    customer, now = story
    sign_in(client, session.scalars(select(User).where(User.email == "chefin@example.com")).one())
    assert client.get(f"/customers/{customer.id}/export.json").status_code == 200
    page = client.get(f"/customers/{customer.id}")
    assert "Erase customer" not in page.text
    assert client.post(f"/customers/{customer.id}/erase", data={"csrf_token": csrf_token(page.text)}).status_code == 403


def test_old_comments_are_erased_after_the_retention_period(session, app, story):
    customer, now = story
    night = now.replace(hour=3, minute=5)  # the daily sweep's slot
    assert purge_old_comments(session, night + timedelta(days=400)) is None  # off by default
    app.config["COMMENT_RETENTION_MONTHS"] = 6
    assert purge_old_comments(session, night + timedelta(days=150))["comments"] == 0
    assert purge_old_comments(session, night + timedelta(days=190, hours=9)) is None  # only once a day
    later = purge_old_comments(session, night + timedelta(days=190))
    assert later["comments"] == 1 and later["mail_texts"] >= 1
    session.expire_all()
    response = session.scalars(select(Response).where(Response.customer_id == customer.id)).one()
    assert (response.score, response.comment) == (2, None)


def test_an_erased_customer_s_links_are_dead_and_nothing_personal_can_be_written_to_the_stub(session, api, client, buy):
    """Before: the survey link still stored a comment, opened a case and mailed managers, and the purchases API
    wrote a new name and email onto the stub."""
    from feedback.models import Case
    from surveys.forms import answer_form_token

    now = datetime.now(UTC)
    buy("O-1", EXTERNAL, EMAIL, purchased_at=now - timedelta(days=3, hours=1), name=NAME)
    buy("O-2", EXTERNAL, EMAIL, purchased_at=now - timedelta(days=2), name=NAME)
    create_due_invitations(session, now)
    session.commit()
    tokens = list(session.scalars(select(Invitation.token)))
    assert tokens
    assert client.get(f"/s/{tokens[0]}").status_code == 200
    customer = session.scalars(select(Customer).where(Customer.external_id == EXTERNAL)).one()
    assert api.delete(f"/api/v1/customers/{EXTERNAL}").status_code == 200

    for token in tokens:
        assert client.get(f"/s/{token}").status_code == 404
        answer = client.post(
            f"/s/{token}", data={"score": "1", "comment": COMMENT, "csrf_token": answer_form_token(token)}
        )
        assert answer.status_code == 404
        assert client.get(f"/u/{token}").status_code == 404
        assert client.post(f"/u/{token}").status_code == 404
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Response)) == 0
    assert session.scalar(select(func.count()).select_from(Case)) == 0
    assert set(session.scalars(select(Invitation.status))) <= {"erased", "answered", "expired"}

    stub = f"erased-{customer.id}"
    again = api.post(
        "/api/v1/purchases", purchase_payload("O-3", stub, EMAIL, now - timedelta(hours=1), customer={"name": NAME})
    )
    assert again.status_code == 409 and again.mimetype == "application/problem+json", again.json
    cancelled = api.post("/api/v1/cancellations", {"customer_external_id": stub, "cancelled_at": now.isoformat()})
    assert cancelled.status_code == 409, cancelled.json
    session.expire_all()
    assert (session.get(Customer, customer.id).name, session.get(Customer, customer.id).email) == (None, None)
    assert personal_hits(session) == []
