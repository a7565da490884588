"""POST /api/v1/purchases/batch: a shop sends its orders in bulk and reads one result per order."""

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from customers.bulk import MAX_BATCH, store_purchases
from customers.models import Customer, LifecycleChange, Purchase
from customers.schemas import PurchaseIn
from tests.conftest import purchase_payload

BATCH = "/api/v1/purchases/batch"


def count(session, model):
    return session.scalar(select(func.count()).select_from(model))


def test_each_item_gets_its_result_in_order_and_valid_items_are_stored(api, session):
    assert api.post("/api/v1/purchases", purchase_payload(order_id="OLD")).status_code == 201
    bad = purchase_payload(order_id="BAD", amount=-1)
    bad["customer"]["email"] = "kein-at"
    items = [
        purchase_payload(order_id="N-1", external_id="C-7", email="berta@example.com"),
        bad,
        purchase_payload(order_id="OLD", amount=999),  # stored before: same order, left as it is
        purchase_payload(order_id="N-2", external_id="C-7", email="berta@example.com"),
        purchase_payload(order_id="N-1", external_id="C-7", amount=5),  # repeated within the batch
        "not an object",
    ]
    response = api.post(BATCH, {"purchases": items})
    assert response.status_code == 200
    results = response.get_json()["results"]
    assert [(r["order_id"], r["status"]) for r in results] == [
        ("N-1", 201),
        ("BAD", 422),
        ("OLD", 200),
        ("N-2", 201),
        ("N-1", 200),
        (None, 422),
    ]
    assert all("problem" not in r for r in results if r["status"] != 422)
    problem = results[1]["problem"]
    assert problem["status"] == 422 and problem["title"] == "Invalid purchase"
    assert {error["field"] for error in problem["errors"]} == {"amount", "customer.email"}
    assert results[5]["problem"]["errors"]
    stored = dict(session.execute(select(Purchase.order_id, Purchase.amount)).all())
    assert {order: str(amount) for order, amount in stored.items()} == {"OLD": "59.90", "N-1": "59.90", "N-2": "59.90"}
    # One recompute for the batch still counts both of Berta's purchases: her second one makes her "existing".
    berta = session.scalars(select(Customer).where(Customer.external_id == "C-7")).one()
    assert (berta.purchase_count, berta.lifecycle_phase) == (2, "existing")


def test_the_same_batch_again_stores_nothing_new(api, session):
    items = [purchase_payload(order_id=f"O-{i}", external_id=f"C-{i % 3}") for i in range(10)]
    first = api.post(BATCH, {"purchases": items}).get_json()["results"]
    again = api.post(BATCH, {"purchases": items}).get_json()["results"]
    assert [r["status"] for r in first] == [201] * 10
    assert [r["status"] for r in again] == [200] * 10
    assert (count(session, Purchase), count(session, Customer)) == (10, 3)


def test_contact_data_of_a_new_customer_comes_from_their_last_item(api, session):
    items = [
        purchase_payload(order_id="A", customer={"email": "alt@example.com", "name": "A. Becker", "locale": "de"}),
        purchase_payload(order_id="B", customer={"email": "neu@example.com", "name": None, "locale": "en"}),
    ]
    assert [r["status"] for r in api.post(BATCH, {"purchases": items}).get_json()["results"]] == [201, 201]
    customer = session.scalars(select(Customer)).one()
    assert (customer.email, customer.name, customer.locale) == ("neu@example.com", "A. Becker", "en")
    later = purchase_payload(order_id="C", customer={"email": "NEU@example.com", "locale": None})
    api.post(BATCH, {"purchases": [later]})
    session.refresh(customer)
    assert (customer.email, customer.locale, customer.purchase_count) == ("neu@example.com", "en", 3)


def test_an_erased_customer_gets_409_for_its_items_and_the_rest_is_stored(api, session):
    api.post("/api/v1/purchases", purchase_payload(order_id="O-1", external_id="C-gone"))
    assert api.delete("/api/v1/customers/C-gone").status_code == 200
    stub = session.scalars(select(Customer)).one().external_id
    items = [purchase_payload(order_id="O-2", external_id=stub), purchase_payload(order_id="O-3", external_id="C-2")]
    results = api.post(BATCH, {"purchases": items}).get_json()["results"]
    assert [(r["order_id"], r["status"]) for r in results] == [("O-2", 409), ("O-3", 201)]
    assert results[0]["problem"]["title"] == "Customer erased"
    assert count(session, Purchase) == 2
    assert session.scalars(select(Customer).where(Customer.external_id == stub)).one().email is None


def _problem(response, status):
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    return response.get_json()


def test_a_batch_too_large_or_not_a_list_is_refused_whole(api, session):
    items = [purchase_payload(order_id=f"O-{i}") for i in range(MAX_BATCH + 1)]
    body = _problem(api.post(BATCH, {"purchases": items}), 413)
    assert str(MAX_BATCH) in body["detail"] and body["max_items"] == MAX_BATCH
    _problem(api.post(BATCH, {"purchases": {"order_id": "O-1"}}), 422)
    _problem(api.post(BATCH, {"orders": []}), 422)
    _problem(api.post(BATCH, [purchase_payload()]), 422)
    assert count(session, Purchase) == 0
    assert api.post(BATCH, {"purchases": []}).get_json() == {"results": []}


def test_a_full_batch_is_stored(api, session):
    items = [purchase_payload(order_id=f"O-{i}", external_id=f"C-{i % 400}") for i in range(MAX_BATCH)]
    results = api.post(BATCH, {"purchases": items}).get_json()["results"]
    assert [r["status"] for r in results] == [201] * MAX_BATCH
    assert (count(session, Purchase), count(session, Customer)) == (MAX_BATCH, 400)


def test_a_batch_records_the_same_history_as_single_calls_in_any_order(session):
    """One recompute and replay per batch leaves each customer's phase history as purchase-by-purchase ingestion
    does, also for a year of history sent newest first."""
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    rng = random.Random(7)
    items = [
        PurchaseIn.model_validate(
            purchase_payload(
                order_id=f"O-{i}",
                external_id=f"C-{i % 5}",
                purchased_at=now - timedelta(days=rng.randrange(0, 900), hours=rng.randrange(24)),
            )
        )
        for i in range(40)
    ]

    def history():
        rows = session.execute(
            select(
                Customer.external_id, LifecycleChange.from_phase, LifecycleChange.to_phase, LifecycleChange.changed_at
            )
            .join(Customer, Customer.id == LifecycleChange.customer_id)
            .order_by(Customer.external_id, LifecycleChange.changed_at)
        ).all()
        phases = session.execute(select(Customer.external_id, Customer.lifecycle_phase, Customer.purchase_count))
        return rows, sorted(phases.all())

    for item in sorted(items, key=lambda item: item.purchased_at):
        store_purchases(session, [item], now)
    session.commit()
    one_by_one = history()
    session.execute(LifecycleChange.__table__.delete())
    session.execute(Purchase.__table__.delete())
    session.execute(Customer.__table__.delete())
    session.commit()
    store_purchases(session, sorted(items, key=lambda item: item.purchased_at, reverse=True), now)
    session.commit()
    assert history() == one_by_one
    assert len(one_by_one[0]) > 5


def test_two_shops_sending_the_same_orders_at_once_store_each_once(app, session, concurrently, postgresql_only):
    items = [purchase_payload(order_id=f"O-{i}", external_id=f"C-{i % 7}") for i in range(60)]
    now = datetime.now(UTC)

    senders = iter(range(4))

    def send(worker_session):
        # Half of the senders have the orders the other way round: they still wait for each other, never deadlock.
        ordered = items if next(senders) % 2 else items[::-1]
        outcomes = store_purchases(worker_session, [PurchaseIn.model_validate(item) for item in ordered], now)
        worker_session.commit()
        statuses = {outcome.order_id: outcome.status for outcome in outcomes}
        return [statuses[item["order_id"]] for item in items]

    results = concurrently(send, 4)
    assert len(results) == 4
    # Every order is created by exactly one of the four senders; the others hear "same order".
    assert [sorted(statuses) for statuses in zip(*results, strict=True)] == [[200, 200, 200, 201]] * 60
    assert (count(session, Purchase), count(session, Customer)) == (60, 7)
