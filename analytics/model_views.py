"""The purchase-behaviour models in the API: GET /api/v1/models/latest and
GET /api/v1/customers/<external_id>/outlook?days=N."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from sqlalchemy import select

from analytics import outlook
from analytics.purchase_models import customer_outlook, fit_json, latest_good, outlook_json
from customers.models import Customer
from kundenpuls.apiauth import require_api_key
from kundenpuls.extensions import csrf, db
from kundenpuls.inputs import whole_number
from kundenpuls.problems import Problem

api = Blueprint("models_api", __name__, url_prefix="/api/v1")
csrf.exempt(api)

MAX_DAYS = 3650


def _no_fit() -> Problem:
    return Problem(404, "No purchase model yet", "No good fit of the purchase-behaviour models exists yet: the "
                   "nightly fit makes one, or `flask model fit`.")  # fmt: skip


@api.get("/models/latest")
@require_api_key
def latest_model():
    record = latest_good(db.session)
    if record is None:
        raise _no_fit()
    return jsonify(fit_json(record))


@api.get("/customers/<external_id>/outlook")
@require_api_key
def outlook_api(external_id: str):
    try:
        days = whole_number(request.args.get("days", str(outlook.HORIZON_DAYS)), 1, MAX_DAYS)
    except ValueError:
        raise Problem(422, "Invalid days", f"days must be a whole number from 1 to {MAX_DAYS}.",
                      [{"field": "days", "message": f"a whole number from 1 to {MAX_DAYS}"}]) from None  # fmt: skip
    found = select(Customer.id).where(Customer.external_id == external_id, Customer.erased_at.is_(None))
    customer_id = db.session.scalar(found)
    if customer_id is None:
        raise Problem(404, "Unknown customer", f"No customer has the external id {external_id!r}.")
    view = customer_outlook(db.session, customer_id, days)
    if view is None:
        if latest_good(db.session) is None:
            raise _no_fit()
        raise Problem(404, "No outlook for this customer", "The customer had no purchase by the latest fit's "
                      "calibration day, so the models say nothing about them yet.")  # fmt: skip
    return jsonify(outlook_json(view))
