"""The five-field customer description: kept by staff on the customer page (audited), shown there and in the API,
with revenue and margin per offer computed from the purchases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from customers.models import Customer, CustomerContact, Purchase
from kundenpuls.audit import AuditEvent
from tests.conftest import csrf_token
from tests.feedback_helpers import make_user, sign_in

EN = {"Accept-Language": "en"}


def test_staff_describe_a_customer_and_the_api_returns_the_five_fields(session, client, api, buy):
    now = datetime.now(UTC)
    buy("O-1", "C-1", purchased_at=now - timedelta(days=30), name="Autohaus Becker GmbH")
    buy("O-2", "C-1", purchased_at=now - timedelta(days=20))
    customer = session.scalars(select(Customer).where(Customer.external_id == "C-1")).one()
    session.add(
        Purchase(order_id="O-3", customer_id=customer.id, amount=Decimal("500"), margin=Decimal("120"),
                 category="Werkstatt", purchased_at=now - timedelta(days=10), created_at=now)
    )  # fmt: skip
    session.commit()
    sign_in(client, make_user(session, "agent@example.com", "agent"))
    page = client.get(f"/customers/{customer.id}", headers=EN).text
    token = csrf_token(page)
    saved = client.post(
        f"/customers/{customer.id}/description",
        data={"csrf_token": token, "legal_form": "GmbH", "company_group": "Becker Gruppe", "industry": "Autohandel",
              "what_they_value": "Fast workshop appointments", "needs": "Fleet of 40 cars, renews 10 a year",
              "credit_rating": "A-", "payment_terms": "30 days net"},
    )  # fmt: skip
    assert saved.status_code == 302
    client.post(
        f"/customers/{customer.id}/contacts",
        data={"csrf_token": token, "name": "Jana Becker", "role": "decider", "job_title": "CEO",
              "email": "jana@becker.example"},
    )  # fmt: skip
    client.post(f"/customers/{customer.id}/contacts", data={"csrf_token": token, "name": "Olaf Kraus", "role": "buyer"})
    bad = client.post(f"/customers/{customer.id}/contacts", data={"csrf_token": token, "name": "X", "role": "boss"})
    assert bad.status_code == 302 and session.query(CustomerContact).count() == 2
    page = client.get(f"/customers/{customer.id}", headers=EN).text
    assert "GmbH · Becker Gruppe · Autohandel" in page and "Fast workshop appointments" in page
    assert "Jana Becker</strong> · decider · CEO" in page and "Olaf Kraus</strong> · buyer (purchasing)" in page
    assert "Werkstatt: €500.00 (margin €120.00)" in page and "Haushalt: €119.80" in page
    trail = session.scalars(
        select(AuditEvent).where(AuditEvent.entity == "customer_description").order_by(AuditEvent.id)
    ).all()
    assert [e.action for e in trail] == ["changed", "contact_added", "contact_added"]
    assert trail[0].after["industry"] == "Autohandel"

    body = api.get("/api/v1/customers/C-1").json["description"]
    assert body["company"] == {"legal_form": "GmbH", "group": "Becker Gruppe", "industry": "Autohandel",
                               "business_units": None}  # fmt: skip
    assert [(p["name"], p["role"]) for p in body["buying_centre"]] == [
        ("Jana Becker", "decider"),
        ("Olaf Kraus", "buyer"),
    ]
    assert body["what_they_value"] == "Fast workshop appointments"
    assert body["needs"]["text"].startswith("Fleet of 40")
    assert body["finance"]["revenue_by_offer"][0] == {
        "category": "Werkstatt",
        "revenue_12m": 500.0,
        "margin_12m": 120.0,
    }
    assert body["finance"]["payment_terms"] == "30 days net"

    jana = session.scalars(select(CustomerContact).where(CustomerContact.name == "Jana Becker")).one()
    client.post(f"/customers/{customer.id}/contacts/{jana.id}/delete", data={"csrf_token": token})
    assert session.query(CustomerContact).count() == 1
    assert (
        client.post(f"/customers/{customer.id + 1}/contacts/{jana.id}/delete", data={"csrf_token": token}).status_code
        == 404
    )
