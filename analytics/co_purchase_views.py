"""/reports/basket: what a segment buys together and what it moves on to (tables and CSV)."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Response, render_template, request

from analytics.co_purchase import MIN_SUPPORT, baskets, bought_together, moves
from analytics.params import BadParameters, parse
from customers.models import PHASES
from kundenpuls.auth import role_required
from kundenpuls.csvfile import csv_download
from kundenpuls.extensions import db
from kundenpuls.timeutil import utcnow

bp = Blueprint("basket", __name__)


def _params():
    start, end, _interval, filters = parse(request.args, utcnow().date())
    if "from" not in request.args:
        start = end - timedelta(days=365)
    raw = request.args.get("min_support") or ""
    try:
        support = float(raw) / 100 if raw else MIN_SUPPORT
    except ValueError:
        support = -1.0
    if not 0 <= support <= 1:
        raise BadParameters([{"field": "min_support", "message": "min_support: a percentage from 0 to 100"}])
    return start, end, filters.segment, filters.phase, support


@bp.get("/reports/basket")
@role_required("manager")
def basket_page():
    try:
        start, end, value_class, phase, support = _params()
    except BadParameters as exc:
        page = render_template("analytics/basket.html", errors=exc.errors, args=request.args, phases=PHASES)
        return page, 422
    found = baskets(db.session, start, end, value_class, phase)
    customers, pairs = bought_together(found, support)
    return render_template(
        "analytics/basket.html", errors=None, args=request.args, phases=PHASES, start=start, end=end,
        customers=customers, pairs=pairs, moves=moves(db.session, start, end, found, value_class, phase),
        support=support,
    )  # fmt: skip


@bp.get("/reports/basket.csv")
@role_required("manager")
def basket_csv():
    try:
        start, end, value_class, phase, support = _params()
    except BadParameters as exc:
        return Response(str(exc) + "\n", status=422, mimetype="text/plain")
    found = baskets(db.session, start, end, value_class, phase)
    if request.args.get("table") == "moves":
        rows = [[m.first, m.next, m.customers, round(m.share, 4), m.median_days]
                for m in moves(db.session, start, end, found, value_class, phase)]  # fmt: skip
        return csv_download([["first", "next", "customers", "share", "median_days"], *rows], "basket-moves.csv")
    _customers, pairs = bought_together(found, support)
    header = ["first", "second", "customers_both", "support", "confidence", "confidence_back", "lift"]
    rows = [[p.first, p.second, p.both, round(p.support, 4), round(p.confidence, 4), round(p.confidence_back, 4),
             round(p.lift, 3)] for p in pairs]  # fmt: skip
    return csv_download([header, *rows], "basket-pairs.csv")
