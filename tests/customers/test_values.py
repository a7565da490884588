"""Customer value: ABC thresholds as settings, the simple CLV with its formula."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from customers.models import Customer
from customers.values import clv, current_value_settings, refresh_values, update_value_settings
from kundenpuls.audit import trail
from tests.conftest import csrf_token
from tests.feedback_helpers import make_user, sign_in

REVENUES = {"V-1": 500, "V-2": 200, "V-3": 150, "V-4": 100, "V-5": 50}  # 1,000 in all


def classes(session) -> dict[str, str]:
    return dict(
        session.execute(select(Customer.external_id, Customer.value_class).order_by(Customer.external_id)).all()
    )


def seed(session, buy):
    now = datetime.now(UTC)
    for n, (external_id, amount) in enumerate(REVENUES.items()):
        purchase = buy(f"VO-{n}", external_id, f"{external_id.lower()}@example.com", now - timedelta(days=10))
        purchase.amount, purchase.margin = Decimal(amount), Decimal(amount) / 4
    session.commit()
    refresh_values(session, now)
    session.commit()
    return now


def test_abc_thresholds_are_settings_and_a_change_reclassifies(session, buy, staff):
    now = seed(session, buy)
    # Shares before each customer: 0, 50, 70, 85, 95 % of revenue.
    assert classes(session) == {"V-1": "A", "V-2": "A", "V-3": "A", "V-4": "B", "V-5": "C"}
    values = {"a_share": 50, "b_share": 30, "retention_rate": Decimal("0.800"), "discount_rate": Decimal("0.100"),
              "portfolio_value_min": Decimal("1000.00"), "portfolio_potential_min": Decimal("2000.00")}  # fmt: skip
    assert update_value_settings(session, values, staff.id, now) == 5
    session.commit()
    assert classes(session) == {"V-1": "A", "V-2": "B", "V-3": "B", "V-4": "C", "V-5": "C"}
    [event] = trail(session, "value_settings", 1)
    assert (event.before, event.after) == ({"a_share": "80", "b_share": "15"}, {"a_share": "50", "b_share": "30"})
    assert update_value_settings(session, values, staff.id, now) is None  # nothing changed


def test_clv_is_margin_times_r_over_one_plus_d_minus_r():
    assert clv(Decimal("100"), Decimal("0.8"), Decimal("0.1")) == Decimal("266.67")
    assert clv(Decimal("100"), Decimal("0.5"), Decimal("0")) == Decimal("100.00")
    assert clv(None, Decimal("0.8"), Decimal("0.1")) is None


def test_settings_page_validates_and_the_customer_page_shows_the_formula(session, buy, client):
    seed(session, buy)
    admin = make_user(session, "admin@example.com", "admin")
    sign_in(client, admin)
    page = client.get("/settings/values", headers={"Accept-Language": "en"})
    assert page.status_code == 200 and 'data-table="classes"' in page.text
    token = csrf_token(page.text)
    bad = client.post(
        "/settings/values",
        data={
            "csrf_token": token,
            "a_share": "80",
            "b_share": "25",
            "retention_rate": "0.8",
            "discount_rate": "0.1",
            "portfolio_value_min": "1000",
            "portfolio_potential_min": "2000",
        },
        headers={"Accept-Language": "en"},
    )
    assert bad.status_code == 422 and "less than 100%" in bad.text
    ok = client.post(
        "/settings/values",
        data={
            "csrf_token": token,
            "a_share": "80",
            "b_share": "15",
            "retention_rate": "0.75",
            "discount_rate": "0.1",
            "portfolio_value_min": "1000",
            "portfolio_potential_min": "2000",
        },
    )
    assert ok.status_code == 302
    assert current_value_settings(session).retention_rate == Decimal("0.750")
    customer = session.scalars(select(Customer).where(Customer.external_id == "V-1")).one()
    text = client.get(f"/customers/{customer.id}", headers={"Accept-Language": "en"}).text
    # margin 125 x 0.75 / (1 + 0.10 - 0.75) = 267.86
    assert "€267.86" in text and "125.00 × 0.75 / (1 + 0.10 − 0.75)" in text
    agent = make_user(session, "agent2@example.com", "agent")
    client.post("/logout", data={"csrf_token": token})
    sign_in(client, agent)
    assert client.get("/settings/values").status_code == 403


def test_potential_is_imported_or_estimated_from_similar_customers(session, api, buy, tmp_path, runner):
    now = seed(session, buy)  # A: V-1..V-3, B: V-4, C: V-5
    csv_file = tmp_path / "customers.csv"
    csv_file.write_text(
        "external_id;email;potential\nV-1;v-1@example.com;1.500,00\nV-2;v-2@example.com;1000\nV-9;v9@example.com;-5\n",
        encoding="utf-8",
    )
    result = runner.invoke(args=["import", "customers", str(csv_file)])
    assert "3 rows: 0 created, 2 already known, 1 failed" in result.output, result.output
    body = api.post(
        "/api/v1/purchases",
        {"order_id": "VO-9", "customer": {"external_id": "V-5", "email": "v-5@example.com", "potential": 400},
         "amount": 1, "currency": "EUR", "purchased_at": (now - timedelta(days=1)).isoformat()},
    )  # fmt: skip
    assert body.status_code == 201, body.json
    refresh_values(session, now)
    session.commit()
    rows = {c.external_id: c for c in session.scalars(select(Customer))}
    assert (rows["V-1"].potential_value, rows["V-2"].potential_value) == (Decimal("1500.00"), Decimal("1000.00"))
    assert "V-9" not in rows  # the negative potential was refused, with its line in the report
    # Known ratios in class A: 1500/500 = 3 and 1000/200 = 5, on average 4; V-3 (A, revenue 150) gets 600.
    assert rows["V-3"].potential_estimate == Decimal("600.00")
    assert rows["V-1"].potential_estimate is None  # known: no estimate
    # V-5's new purchase (revenue 51 of 1,001) moved it from C into B: class B's ratio is its 400/51.
    assert (rows["V-4"].value_class, rows["V-5"].value_class) == ("B", "B")
    assert rows["V-4"].potential_estimate == (Decimal(100) * Decimal(400) / Decimal(51)).quantize(Decimal("0.01"))
    api_body = api.get("/api/v1/customers/V-3").get_json()
    assert api_body["value"]["potential"] is None and api_body["value"]["potential_estimate"] == 600.0


def test_a_manager_sets_the_potential_on_the_customer_page(session, buy, client):
    seed(session, buy)
    customer = session.scalars(select(Customer).where(Customer.external_id == "V-3")).one()
    customer_id = customer.id
    sign_in(client, make_user(session, "chefin@example.com", "manager"))
    page = client.get(f"/customers/{customer_id}", headers={"Accept-Language": "en"})
    token = csrf_token(page.text)
    bad = client.post(f"/customers/{customer_id}/potential", data={"csrf_token": token, "potential": "-3"})
    assert bad.status_code == 302
    assert "Number must be between 0" in client.get(f"/customers/{customer_id}", headers={"Accept-Language": "en"}).text
    assert (
        client.post(
            f"/customers/{customer_id}/potential", data={"csrf_token": token, "potential": "2500.00"}
        ).status_code
        == 302
    )
    session.expire_all()
    assert session.get(Customer, customer_id).potential_value == Decimal("2500.00")
    [event] = trail(session, "customer", customer_id)
    assert (event.before, event.after) == ({"potential": None}, {"potential": "2500.00"})
    assert "€2,500.00" in client.get(f"/customers/{customer_id}").text
