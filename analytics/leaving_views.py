"""The page "Does dissatisfaction predict leaving?" (/reports/leaving) and its CSV (/reports/leaving.csv)."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Response, render_template, request
from flask_babel import gettext as _

from analytics.chart import legend_swatch, survival_chart
from analytics.leaving import MARKS, curve_rows, leaving_report
from analytics.params import BadParameters, parse
from kundenpuls.auth import role_required
from kundenpuls.csvfile import csv_download
from kundenpuls.extensions import db
from kundenpuls.inputs import whole_number
from kundenpuls.timeutil import utcnow

bp = Blueprint("leaving", __name__)

DEFAULT_DAYS = 90
CSV_COLUMNS = ("nps_class", "day", "at_risk", "left", "still_customer", "ci_low", "ci_high")


def _parameters():
    """Range (default: answers of the last two years), filters and N days for "bought again"."""
    today = utcnow().date()
    args = request.args.copy()
    if not args.get("from"):
        args["from"] = (today - timedelta(days=730)).isoformat()
    start, end, _interval, filters = parse(args, today)
    try:
        days = whole_number(request.args.get("days") or str(DEFAULT_DAYS), 1, 730)
    except ValueError:
        raise BadParameters([{"field": "days", "message": "days: a whole number from 1 to 730"}]) from None
    return start, end, filters, days


@bp.get("/reports/leaving")
@role_required("manager")
def leaving_page():
    try:
        start, end, filters, days = _parameters()
    except BadParameters as exc:
        return render_template("analytics/leaving.html", report=None, errors=exc.errors, args=request.args), 422
    report = leaving_report(db.session, start, end, filters, days, utcnow())
    labels = {"promoter": _("Promoters"), "passive": _("Passives"), "detractor": _("Detractors")}
    longest = max((float(c.curve.times[-1]) for c in report.classes if c.curve is not None and len(c.curve.times)),
                  default=365.0)  # fmt: skip
    chart = survival_chart({c.nps_class: c.curve for c in report.classes}, labels,
                           _("Share still a customer by days since the answer"), max(longest, 30.0))  # fmt: skip
    return render_template(
        "analytics/leaving.html", report=report, errors=None, args=request.args, chart=chart, labels=labels,
        marks=MARKS, swatch=legend_swatch, rows=curve_rows(report) if request.args.get("view") == "table" else None,
        query={key: value for key, value in request.args.items() if key != "view"},
    )  # fmt: skip


@bp.get("/reports/leaving.csv")
@role_required("manager")
def leaving_csv():
    try:
        start, end, filters, days = _parameters()
    except BadParameters as exc:
        return Response(str(exc) + "\n", status=422, mimetype="text/plain")
    report = leaving_report(db.session, start, end, filters, days, utcnow())
    rows = [[row[c] for c in CSV_COLUMNS] for row in curve_rows(report)]
    return csv_download([CSV_COLUMNS, *rows], f"leaving-{start}-{end}.csv")
