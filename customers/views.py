"""The ingest API: shops and ERPs send purchases and cancellations here, and ask for a customer's data or its
erasure."""

from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, g, jsonify
from pydantic import ValidationError
from sqlalchemy import select

from customers.bulk import CREATED, ERASED, MAX_BATCH, Contact, erased_problem, store_purchases
from customers.models import Cancellation, Customer, Purchase
from customers.one_purchase import store_one
from customers.privacy import erase_customer, export_customer
from customers.schemas import CancellationIn, PurchaseIn
from customers.services import CustomerErased, record_cancellation
from kundenpuls.apiauth import authenticate, key_proven, require_api_key, require_api_key_in_statement
from kundenpuls.extensions import csrf, db
from kundenpuls.inputs import error_list, json_body
from kundenpuls.problems import Problem, problem_body
from kundenpuls.timeutil import utcnow

bp = Blueprint("customers_api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

_SOME = "Some fields are missing or invalid."


def _money(value) -> str | None:
    """As the Numeric(12, 2) column stores it, whether the row was read back or not."""
    return None if value is None else str(Decimal(value).quantize(Decimal("0.01")))


def purchase_json(purchase: Purchase | PurchaseIn, purchase_id: int, customer: Contact) -> dict:
    """The stored purchase, or one just stored (its values as sent, with the id the INSERT returned)."""
    return {
        "id": purchase_id,
        "order_id": purchase.order_id,
        "customer": {
            "external_id": customer.external_id,
            "email": customer.email,
            "name": customer.name,
            "locale": customer.locale,
        },
        "amount": _money(purchase.amount),
        "margin": _money(purchase.margin),
        "currency": purchase.currency,
        "category": purchase.category,
        "purchased_at": purchase.purchased_at.isoformat(),
    }


@bp.post("/purchases")
@require_api_key_in_statement
def create_purchase():
    now = utcnow()
    try:
        data = PurchaseIn.model_validate(json_body(), context={"now": now})
    except ValidationError as exc:
        raise Problem(422, "Invalid purchase", _SOME, error_list(exc)) from None
    outcome = store_one(db.session, data, now, g.api_key_hash)
    if outcome is None:
        authenticate()
        outcome = store_purchases(db.session, [data], now)[0]
    else:
        key_proven()
    if outcome.status == ERASED:
        raise _erased(data.customer.external_id)
    if outcome.status == CREATED:
        body = purchase_json(data, outcome.purchase_id, outcome.customer)
    else:
        stored = db.session.get(Purchase, outcome.purchase_id)
        body = purchase_json(stored, stored.id, stored.customer)
    db.session.commit()  # the body is made before: reading the row after the commit could fail, and a 503 would
    return jsonify(body), outcome.status  # tell the shop to retry a purchase that is stored


@bp.post("/purchases/batch")
@require_api_key
def create_purchases():
    """Up to MAX_BATCH purchases at once: one result per item, in order; valid items are stored even when others
    fail, with the single call's idempotency (an order id sent again is "200 same order")."""
    now = utcnow()
    items = json_body("batch").get("purchases")
    if not isinstance(items, list):
        raise Problem(422, "Invalid batch", 'The body must be {"purchases": [...]}, a list of purchases.')
    if len(items) > MAX_BATCH:
        raise Problem(
            413,
            "Batch too large",
            f"The batch holds {len(items)} purchases; send at most {MAX_BATCH} per request.",
            extensions={"max_items": MAX_BATCH},
        )
    valid, results = [], []
    for index, item in enumerate(items):
        order_id = item.get("order_id") if isinstance(item, dict) else None
        results.append({"order_id": order_id if isinstance(order_id, str) else None})
        try:
            valid.append((index, PurchaseIn.model_validate(item, context={"now": now})))
        except ValidationError as exc:
            problem = problem_body(422, "Invalid purchase", _SOME, error_list(exc))
            results[index].update(status=422, problem=problem)
    outcomes = store_purchases(db.session, [data for _, data in valid], now)
    for (index, data), outcome in zip(valid, outcomes, strict=True):
        results[index].update(order_id=data.order_id, status=outcome.status)
        if outcome.problem:
            results[index]["problem"] = outcome.problem
    db.session.commit()
    return jsonify({"results": results})


def _erased(external_id: str) -> Problem:
    """The batch answer's per-item problem, raised for the whole request."""
    body = erased_problem(external_id)
    return Problem(body["status"], body["title"], body["detail"])


def cancellation_json(cancellation: Cancellation, customer: Customer) -> dict:
    return {
        "id": cancellation.id,
        "customer_external_id": customer.external_id,
        "cancelled_at": cancellation.cancelled_at.isoformat(),
        "reason": cancellation.reason,
        "received_at": cancellation.received_at.isoformat(),
        "lifecycle_phase": customer.lifecycle_phase,
    }


@bp.post("/cancellations")
@require_api_key
def create_cancellation():
    """The shop reports a cancellation: the customer is churned and gets the churn-reason survey."""
    now = utcnow()
    try:
        data = CancellationIn.model_validate(json_body("cancellation"), context={"now": now})
    except ValidationError as exc:
        raise Problem(422, "Invalid cancellation", _SOME, error_list(exc)) from None
    customer = db.session.scalars(
        select(Customer).where(Customer.external_id == data.customer_external_id)
    ).one_or_none()
    if customer is None:
        raise Problem(
            404,
            "Unknown customer",
            f"No customer has the external id {data.customer_external_id!r}. "
            "Send a purchase or import the customer first.",
        )
    try:
        cancellation, created = record_cancellation(db.session, customer, data, now)
    except CustomerErased as exc:
        raise _erased(exc.external_id) from None
    db.session.flush()
    body = cancellation_json(cancellation, customer)  # before the commit, as for purchases
    db.session.commit()
    return jsonify(body), 201 if created else 200


def _customer(external_id: str) -> Customer:
    customer = db.session.scalars(
        select(Customer).where(Customer.external_id == external_id, Customer.erased_at.is_(None))
    ).one_or_none()
    if customer is None:
        raise Problem(404, "Unknown customer", f"No customer has the external id {external_id!r}.")
    return customer


@bp.get("/customers/<external_id>/export")
@require_api_key
def export(external_id: str):
    """Everything stored about the customer (GDPR Art. 15 and 20), as one JSON document."""
    customer = _customer(external_id)
    response = jsonify(export_customer(db.session, customer, utcnow()))
    response.headers["Content-Disposition"] = f'attachment; filename="customer-{customer.id}.json"'
    return response


@bp.delete("/customers/<external_id>")
@require_api_key
def erase(external_id: str):
    """Erase the customer (GDPR Art. 17): personal data and free text go, scores stay as anonymous rows."""
    customer = _customer(external_id)
    counts = erase_customer(db.session, customer, None, utcnow(), via=f"API key {g.api_key.name}")
    db.session.commit()
    return jsonify({"erased": True, "rows": counts})
