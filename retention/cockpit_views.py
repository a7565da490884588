"""The Kunden-Cockpit pages: the value x lifecycle x satisfaction matrix, a cell's customers, the staff customer
page, and the customer record in the API (GET /api/v1/customers/<external_id>)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, url_for
from flask_babel import force_locale
from sqlalchemy import select

from analytics.chart import nps_point, sparkline
from analytics.labels import NPS_LABELS, PORTFOLIO_LABELS
from analytics.queries import segment_months
from customers.models import BUYING_ROLE_LABELS, CAUSE_LABELS, PHASES, Customer
from customers.staff import ContactForm, DescriptionForm, PotentialForm
from customers.values import current_value_settings
from feedback.forms import STATUS_LABELS
from kundenpuls.apiauth import require_api_key
from kundenpuls.auth import role_required
from kundenpuls.extensions import csrf, db
from kundenpuls.inputs import query_int
from kundenpuls.problems import Problem
from kundenpuls.timeutil import utcnow
from retention.answers import waiting
from retention.cockpit import PAGE_SIZE as CELL_PAGE_SIZE
from retention.cockpit import PORTFOLIO, SATISFACTION, VALUE_CLASSES, cell_customers, heat_bands, portfolio
from retention.cockpit import matrix as cockpit_matrix
from retention.customer import customer_json, customer_profile
from retention.refresh import last_run
from retention.strategies import DIRECTIONS, SERVICE_LEVELS, strategy_for
from retention.views import bp, suggestion_context
from surveys.kinds import NPS
from surveys.models import surveys_of_kind

# The API's customer record (segment, suggestions, latest answer) lives with the customer page it mirrors.
api = Blueprint("retention_api", __name__, url_prefix="/api/v1")
csrf.exempt(api)


@bp.get("/customers/<int:customer_id>")
@role_required("agent")
def customer_page(customer_id: int):
    customer = db.get_or_404(Customer, customer_id)
    profile = customer_profile(db.session, customer, utcnow())
    return render_template(
        "retention/customer.html",
        profile=profile,
        status_labels=STATUS_LABELS,
        cause_labels=CAUSE_LABELS,
        nps_labels=NPS_LABELS,
        nps_surveys=surveys_of_kind(db.session, NPS),
        potential_form=PotentialForm(formdata=None, potential=customer.potential_value),
        description_form=DescriptionForm(formdata=None, obj=profile.description),
        contact_form=ContactForm(formdata=None),
        buying_roles=BUYING_ROLE_LABELS,
        directions=DIRECTIONS,
        levels=SERVICE_LEVELS,
        group_labels=PORTFOLIO_LABELS,
        **suggestion_context(),
    )


@api.get("/customers/<external_id>")
@require_api_key
def customer_api(external_id: str):
    # An erased customer's anonymous stub (external id "erased-<n>") is not a customer any more.
    found = select(Customer).where(Customer.external_id == external_id, Customer.erased_at.is_(None))
    customer = db.session.scalars(found).one_or_none()
    if customer is None:
        raise Problem(404, "Unknown customer", f"No customer has the external id {external_id!r}.")
    profile = customer_profile(db.session, customer, utcnow())
    with force_locale("en"):
        return jsonify(customer_json(profile))


@bp.get("/cockpit")
@role_required("manager")
def cockpit():
    settings = current_value_settings(db.session)
    trends = {
        cell: sparkline([nps_point(start, figure) for start, figure in months], "NPS", -100, 100)
        for cell, months in segment_months(db.session, utcnow().date()).items()
    }
    return render_template(
        "retention/cockpit.html",
        cells=cockpit_matrix(db.session),
        last_run=last_run(db.session),
        waiting=waiting(db.session),
        groups=portfolio(db.session, settings.portfolio_value_min, settings.portfolio_potential_min),
        settings=settings,
        group_labels=PORTFOLIO_LABELS,
        classes=VALUE_CLASSES,
        phases=PHASES,
        satisfaction=SATISFACTION,
        nps_labels=NPS_LABELS,
        heat_bands=heat_bands(),
        nps_surveys=surveys_of_kind(db.session, NPS),
        trends=trends,
        min_answers=current_app.config["NPS_MIN_ANSWERS"],
    )


@bp.get("/cockpit/customers")
@role_required("manager")
def cockpit_customers():
    value_class, phase = request.args.get("value_class") or None, request.args.get("phase") or None
    group = request.args.get("portfolio") or None
    satisfaction = request.args.get("satisfaction") or None
    if not request.args:  # a bare address (bookmarked, typed): the cockpit is where a cell or group is chosen
        return redirect(url_for("retention.cockpit"))
    # A cell, or a whole value class (the home page's at-risk and detractor counts link there).
    cell = value_class in VALUE_CLASSES and (phase in PHASES or phase is None) and group is None
    in_group = group in PORTFOLIO and value_class is None and phase is None
    if not (cell or in_group) or satisfaction not in (None, *SATISFACTION):
        return render_template("retention/cockpit_cell.html", error=True, rows=[], total=0, args=request.args), 422
    page = max(request.args.get("page", 1, type=query_int), 1)
    settings = current_value_settings(db.session)
    portfolio_group = (group, settings.portfolio_value_min, settings.portfolio_potential_min) if group else None
    at_risk = request.args.get("at_risk") == "1"
    rows, total = cell_customers(db.session, value_class, phase, satisfaction, page, portfolio_group, at_risk)
    strategy = strategy_for(db.session, value_class, phase, satisfaction) if cell and phase and satisfaction else None
    return render_template(
        "retention/cockpit_cell.html",
        strategy=strategy,
        directions=DIRECTIONS,
        levels=SERVICE_LEVELS,
        error=False,
        rows=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // CELL_PAGE_SIZE)),
        value_class=value_class,
        phase=phase,
        group=group,
        group_labels=PORTFOLIO_LABELS,
        satisfaction=satisfaction,
        at_risk=at_risk,
        nps_labels=NPS_LABELS,
        args=request.args,
    )
