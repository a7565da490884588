"""POST /api/v1/purchases: what a shop integration sees."""

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from customers.models import Customer, Purchase
from tests.conftest import purchase_payload


def count(session, model):
    return session.scalar(select(func.count()).select_from(model))


def test_new_purchase_is_created_with_its_customer(api, session):
    response = api.post("/api/v1/purchases", purchase_payload(customer={"locale": "de-DE"}))
    assert response.status_code == 201
    body = response.get_json()
    assert body["order_id"] == "O-1"
    assert body["amount"] == "59.90"
    assert body["customer"] == {
        "external_id": "C-1",
        "email": "anna@example.com",
        "name": "Anna Becker",
        "locale": "de",
    }
    customer = session.scalars(select(Customer)).one()
    assert customer.purchases[0].purchased_at == datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def test_same_order_again_is_200_and_stores_nothing_new(api, session):
    assert api.post("/api/v1/purchases", purchase_payload()).status_code == 201
    again = api.post("/api/v1/purchases", purchase_payload(amount=1000))
    assert again.status_code == 200
    assert again.get_json()["amount"] == "59.90"
    assert count(session, Purchase) == 1


def test_second_purchase_updates_contact_data(api, session):
    api.post("/api/v1/purchases", purchase_payload())
    api.post(
        "/api/v1/purchases", purchase_payload(order_id="O-2", customer={"email": "anna.b@example.org", "locale": "en"})
    )
    customer = session.scalars(select(Customer)).one()
    assert (customer.email, customer.locale, len(customer.purchases)) == ("anna.b@example.org", "en", 2)


def _problem(response, status):
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status and body["title"]
    return body


def test_validation_errors_name_every_field_and_store_nothing(api, session):
    payload = purchase_payload(amount=-5, purchased_at=datetime.now(UTC) + timedelta(days=3))
    payload["customer"].update(email="not-an-address", locale="fr")
    body = _problem(api.post("/api/v1/purchases", payload), 422)
    fields = {error["field"]: error["message"] for error in body["errors"]}
    assert set(fields) == {"amount", "purchased_at", "customer.email", "customer.locale"}
    assert "future" in fields["purchased_at"]
    assert "fr" in fields["customer.locale"]
    assert count(session, Customer) == 0 and count(session, Purchase) == 0


def test_missing_fields_and_bad_dates(api, session):
    body = _problem(api.post("/api/v1/purchases", {"order_id": "X", "purchased_at": "yesterday"}), 422)
    fields = {error["field"] for error in body["errors"]}
    assert {"customer", "amount", "purchased_at"} <= fields
    assert count(session, Purchase) == 0


def test_malformed_json_and_wrong_content_type(api, client, api_key):
    headers = {"Authorization": f"Bearer {api_key}"}
    _problem(client.post("/api/v1/purchases", data="{not json", content_type="application/json", headers=headers), 400)
    _problem(client.post("/api/v1/purchases", data="order_id=1", headers=headers), 415)
    _problem(api.post("/api/v1/purchases", [1, 2]), 422)


def test_wrong_or_missing_api_key_is_401(client, session):
    _problem(client.post("/api/v1/purchases", json=purchase_payload()), 401)
    _problem(
        client.post("/api/v1/purchases", json=purchase_payload(), headers={"Authorization": "Bearer kp_wrong"}), 401
    )
    assert count(session, Purchase) == 0


def test_unknown_api_path_is_problem_json(api):
    _problem(api.get("/api/v1/nothing-here"), 404)
