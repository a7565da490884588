"""The single purchase call's one-statement path (PostgreSQL) leaves what the general path leaves, in 4 round trips."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, func, select, update

from customers.bulk import store_purchases
from customers.lifecycle import current_rules
from customers.models import Customer, LifecycleChange, Purchase
from customers.privacy import erase_customer
from customers.schemas import PurchaseIn
from kundenpuls.apiauth import require_api_key_in_statement
from kundenpuls.models import ApiKey
from kundenpuls.problems import Problem
from tests.conftest import purchase_payload

NOW = datetime.now(UTC).replace(microsecond=0)


def _calls() -> list[tuple[dict, int]]:
    """A shop's calls and the status each gets: new and known customers, contact changes, a retry, purchases
    older than the recorded history (replayed), an erased customer ("erased-C-3": the id erasure gives it)."""
    return [
        (purchase_payload("O-1", "C-1", purchased_at=NOW - timedelta(days=10)), 201),
        (purchase_payload("O-2", "C-1", "anna.b@example.org", NOW - timedelta(days=2), customer={"name": None}), 201),
        (purchase_payload("O-1", "C-1", "other@example.org", NOW - timedelta(days=10)), 200),
        (purchase_payload("O-3", "C-2", purchased_at=NOW - timedelta(days=30), customer={"locale": "en"}), 201),
        (purchase_payload("O-4", "C-2", purchased_at=NOW - timedelta(days=800)), 201),
        (purchase_payload("O-5", "C-2", purchased_at=NOW - timedelta(days=400), customer={"potential": 900}), 201),
        (purchase_payload("O-6", "C-3", purchased_at=NOW - timedelta(days=3)), 201),
        ("erase C-3", None),
        (purchase_payload("O-7", "C-3", purchased_at=NOW - timedelta(days=1)), 201),  # back after erasure: new
        (purchase_payload("O-10", "erased-C-3", purchased_at=NOW - timedelta(days=1)), 409),
        (purchase_payload("O-8", "C-4", purchased_at=NOW - timedelta(days=1)), 201),
    ]


def _state(session):
    customers = session.execute(
        select(
            Customer.external_id, Customer.email, Customer.name, Customer.locale, Customer.potential_value,
            Customer.email_invalid_at, Customer.lifecycle_phase, Customer.phase_since, Customer.purchase_count,
            Customer.first_purchase_at, Customer.last_purchase_at, Customer.erased_at.is_(None),
        ).order_by(Customer.external_id)
    ).all()  # fmt: skip
    purchases = sorted(
        (order_id if not order_id.startswith("erased-") else "erased", *rest)  # erasure renames by row id
        for order_id, *rest in session.execute(
            select(Purchase.order_id, Customer.external_id, Purchase.amount, Purchase.purchased_at).join(Customer)
        )
    )
    history = session.execute(
        select(
            Customer.external_id, LifecycleChange.from_phase, LifecycleChange.to_phase, LifecycleChange.changed_at,
            LifecycleChange.cause,
        )
        .join(Customer, Customer.id == LifecycleChange.customer_id)
        .order_by(Customer.external_id, LifecycleChange.changed_at, LifecycleChange.to_phase)
    ).all()  # fmt: skip
    return customers, purchases, history


def _erase(session, external_id):
    customer = session.scalars(select(Customer).where(Customer.external_id == external_id)).one()
    erase_customer(session, customer, None, NOW)
    session.execute(update(Customer).where(Customer.id == customer.id).values(external_id=f"erased-{external_id}"))
    session.commit()


def test_single_calls_store_what_the_general_path_stores_in_four_round_trips(app, api, session, postgresql_only):
    current_rules(session)  # as the migrations leave a database (a test database starts without the rules row)
    session.commit()
    statements: list[str] = []
    engine = session.get_bind()

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    event.listen(engine, "begin", lambda conn: statements.append("BEGIN"))
    event.listen(engine, "commit", lambda conn: statements.append("COMMIT"))
    trips = []
    try:
        for payload, status in _calls():
            if status is None:
                _erase(session, payload.split()[1])
                continue
            statements.clear()
            response = api.post("/api/v1/purchases", payload)
            assert response.status_code == status, response.get_json()
            trips.append((payload["order_id"], status, len(statements)))
    finally:
        event.remove(engine, "before_cursor_execute", count)
    last = purchase_payload("O-9", "C-1", customer={"email": "x@example.org", "name": None})
    body = api.post("/api/v1/purchases", last).json
    assert body["customer"] == {"external_id": "C-1", "email": "x@example.org", "name": "Anna Becker", "locale": "de"}
    # New orders of customers who are not erased, with no history to replay: BEGIN, one statement for API key,
    # order, customer and purchase, the recompute, COMMIT.
    in_order = {"O-1", "O-2", "O-3", "O-6", "O-7", "O-8"}
    assert {order: n for order, status, n in trips if status == 201 and order in in_order} == dict.fromkeys(in_order, 4)
    session.expire_all()
    single = _state(session)
    for table in (LifecycleChange, Purchase, Customer):
        session.execute(table.__table__.delete())
    session.commit()
    for payload, status in _calls():
        if status is None:
            _erase(session, payload.split()[1])
            continue
        item = PurchaseIn.model_validate(payload)
        (outcome,) = store_purchases(session, [item], NOW)
        assert outcome.status == status
        session.commit()
    store_purchases(session, [PurchaseIn.model_validate(last)], NOW)
    session.commit()
    assert _state(session) == single
    assert len(single[2]) >= 6  # C-2's two-year history was replayed: potential, new, existing, inactive, ...


def test_a_new_address_clears_the_mark_of_an_undeliverable_one_and_the_same_address_keeps_it(api, session):
    api.post("/api/v1/purchases", purchase_payload("O-1"))
    session.execute(update(Customer).values(email_invalid_at=NOW, email_invalid_reason="550 no such user"))
    session.commit()
    api.post("/api/v1/purchases", purchase_payload("O-2", email="ANNA@example.com"))
    customer = session.scalars(select(Customer)).one()
    session.refresh(customer)
    assert (customer.email_invalid_at, customer.email_invalid_reason) == (NOW, "550 no such user")
    api.post("/api/v1/purchases", purchase_payload("O-3", email="anna.neu@example.com"))
    session.refresh(customer)
    assert (customer.email, customer.email_invalid_at, customer.email_invalid_reason) == (
        "anna.neu@example.com",
        None,
        None,
    )


def test_shops_sending_the_same_single_calls_at_once_store_each_order_once(
    app, session, api_key, concurrently, postgresql_only
):
    """Four senders send the same 30 orders of 5 customers, one call each, in different orders: every order is
    created once (the others hear "same order"), no call fails, and each customer's figures count its purchases."""
    from customers.one_purchase import store_one

    current_rules(session)
    session.commit()
    now = datetime.now(UTC)
    payloads = [purchase_payload(f"O-{i}", f"C-{i % 5}", purchased_at=now - timedelta(days=30 - i)) for i in range(30)]
    senders = iter(range(4))

    def send(worker_session):
        turn = next(senders)
        ordered = payloads[turn:] + payloads[:turn] if turn % 2 else payloads[::-1]
        statuses = {}
        for payload in ordered:
            item = PurchaseIn.model_validate(payload)
            outcome = store_one(worker_session, item, now, ApiKey.hash_key(api_key))
            outcome = outcome or store_purchases(worker_session, [item], now)[0]
            worker_session.commit()
            statuses[item.order_id] = outcome.status
        return [statuses[payload["order_id"]] for payload in payloads]

    results = concurrently(send, 4)
    assert len(results) == 4
    assert [sorted(statuses) for statuses in zip(*results, strict=True)] == [[200, 200, 200, 201]] * 30
    counted = session.execute(
        select(Customer.external_id, Customer.purchase_count, func.count(Purchase.id))
        .join(Purchase, Purchase.customer_id == Customer.id)
        .group_by(Customer.id)
        .order_by(Customer.external_id)
    ).all()
    assert counted == [(f"C-{n}", 6, 6) for n in range(5)]


def test_the_statement_checks_the_key_itself_an_unknown_or_revoked_key_gets_401_and_stores_nothing(
    client, session, api_key
):
    """The single call checks its key inside the statement that stores the purchase (no lookup of its own): a key
    that is unknown, or revoked a moment ago, must still store nothing and hear 401, and a stranger's malformed
    purchase hears 401 as well, not what the API expects of a purchase."""

    def post(key, payload):
        return client.post("/api/v1/purchases", json=payload, headers={"Authorization": f"Bearer {key}"})

    assert post(api_key, purchase_payload("O-1", "C-1")).status_code == 201
    unknown = post("kp_" + "x" * 40, purchase_payload("O-2", "C-2"))
    assert unknown.status_code == 401 and unknown.headers["WWW-Authenticate"].endswith('error="invalid_token"')
    assert post("kp_" + "x" * 40, {"order_id": "O-3"}).status_code == 401
    assert post("kp_" + "x" * 40, purchase_payload("O-1", "C-1")).status_code == 401  # a known order: the fallback
    session.execute(update(ApiKey).values(revoked_at=NOW))
    session.commit()
    revoked = post(api_key, purchase_payload("O-4", "C-1", customer={"name": "Someone Else"}))
    assert revoked.status_code == 401 and revoked.headers["Content-Type"] == "application/problem+json"
    assert post(api_key, {"order_id": "O-5"}).status_code == 401
    session.expire_all()
    assert session.scalars(select(Purchase.order_id)).all() == ["O-1"]
    assert session.scalars(select(Customer.external_id)).all() == ["C-1"]
    assert session.scalar(select(Customer.name).where(Customer.external_id == "C-1")) != "Someone Else"


def test_a_view_that_checks_the_key_in_its_statement_cannot_answer_without_checking_it(app, session, api_key):
    """The guard of `require_api_key_in_statement`: a view that neither proved nor looked up the key must not
    answer, and whatever a view raises before, an unknown key is told 401 first."""

    @require_api_key_in_statement
    def forgetful():
        return "stored"

    @require_api_key_in_statement
    def refusing():
        raise Problem(422, "Invalid purchase", "Some fields are missing or invalid.")

    with app.test_request_context(headers={"Authorization": f"Bearer {api_key}"}):
        with pytest.raises(RuntimeError, match="forgetful answered without checking the API key"):
            forgetful()
        with pytest.raises(Problem) as refused:
            refusing()
        assert refused.value.status == 422
    with app.test_request_context(headers={"Authorization": "Bearer kp_unknown"}):
        with pytest.raises(Problem) as refused:
            refusing()
        assert refused.value.status == 401
