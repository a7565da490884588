"""/reports/contacts: the five contact reasons and central problems customers bring most, per segment."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, render_template, request

from analytics.contacts import contact_report
from analytics.params import BadParameters, parse
from customers.models import PHASES
from feedback.forms import ROOT_CAUSE_LABELS
from kundenpuls.auth import role_required
from kundenpuls.extensions import db
from kundenpuls.timeutil import utcnow

bp = Blueprint("contacts", __name__)


@bp.get("/reports/contacts")
@role_required("manager")
def contacts_page():
    try:
        start, end, _interval, filters = parse(request.args, utcnow().date())
    except BadParameters as exc:
        return render_template("analytics/contacts.html", errors=exc.errors, args=request.args, phases=PHASES), 422
    if "from" not in request.args:
        start = (end - timedelta(days=180)).replace(day=1)
    report = contact_report(db.session, start, end, filters.segment, filters.phase)
    return render_template(
        "analytics/contacts.html", errors=None, args=request.args, phases=PHASES, report=report,
        cause_labels=ROOT_CAUSE_LABELS,
    )  # fmt: skip
