"""The ingest API: shops and ERPs send purchases here."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from pydantic import ValidationError

from customers.models import Purchase
from customers.schemas import PurchaseIn, error_list
from customers.services import record_purchase
from kundenpuls.apiauth import require_api_key
from kundenpuls.extensions import csrf, db
from kundenpuls.problems import Problem
from kundenpuls.timeutil import utcnow

bp = Blueprint("customers_api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)


def json_body() -> dict:
    """The request's JSON object, or a 400/415 problem that says what is wrong."""
    if not request.is_json:
        raise Problem(415, "Unsupported Media Type", "Send the body as application/json.")
    body = request.get_json(silent=True)
    if body is None:
        raise Problem(400, "Malformed JSON", "The request body is not valid JSON.")
    if not isinstance(body, dict):
        raise Problem(422, "Invalid purchase", "The body must be a JSON object.")
    return body


def purchase_json(purchase: Purchase) -> dict:
    return {
        "id": purchase.id,
        "order_id": purchase.order_id,
        "customer": {
            "external_id": purchase.customer.external_id,
            "email": purchase.customer.email,
            "name": purchase.customer.name,
            "locale": purchase.customer.locale,
        },
        "amount": str(purchase.amount),
        "margin": None if purchase.margin is None else str(purchase.margin),
        "currency": purchase.currency,
        "category": purchase.category,
        "purchased_at": purchase.purchased_at.isoformat(),
    }


@bp.post("/purchases")
@require_api_key
def create_purchase():
    now = utcnow()
    try:
        data = PurchaseIn.model_validate(json_body(), context={"now": now})
    except ValidationError as exc:
        raise Problem(422, "Invalid purchase", "Some fields are missing or invalid.", error_list(exc)) from None
    purchase, created = record_purchase(db.session, data, now)
    db.session.commit()
    return jsonify(purchase_json(purchase)), 201 if created else 200
