"""Pages of the retention side of the cockpit: rules (read by managers, edited by admins) with their outcome,
the suggestions to work, segment strategies, and segment movements."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import BooleanField, IntegerField, SelectChoice, SelectField, SelectMultipleField, StringField
from wtforms.validators import Optional
from wtforms.widgets import CheckboxInput, ListWidget

from analytics.labels import NPS_LABELS, PORTFOLIO_LABELS
from analytics.params import BadParameters, parse
from customers.models import PHASES, phase_label
from feedback.forms import ROOT_CAUSE_LABELS
from kundenpuls import audit
from kundenpuls.auth import role_required
from kundenpuls.csvfile import csv_download
from kundenpuls.extensions import db
from kundenpuls.inputs import query_int
from kundenpuls.models import ROLE_LABELS, User
from kundenpuls.redirects import local_path
from kundenpuls.timeutil import utcnow
from retention import rules as rule_service
from retention import strategies as strategy_service
from retention import suggestions as suggestion_service
from retention.cockpit import PAGE_SIZE as CELL_PAGE_SIZE
from retention.cockpit import SATISFACTION, VALUE_CLASSES
from retention.models import RetentionRule, Suggestion
from retention.movements import movements
from retention.outcomes import rule_outcomes
from surveys.models import ChurnReason

bp = Blueprint("retention", __name__)  # cockpit_views.py adds the cockpit and the customer page


class CheckboxesField(SelectMultipleField):
    """Several values as a list of checkboxes: readable at a glance, no ctrl-click."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def reason_labels() -> dict[str, str]:
    locale = str(get_locale())
    labels = {key: str(label) for key, label in ROOT_CAUSE_LABELS.items()}
    for reason in db.session.scalars(select(ChurnReason)):
        labels[reason.key] = reason.label(locale)
    return labels


def _dimension_choices() -> dict[str, list[SelectChoice]]:
    allowed = rule_service.allowed_values(db.session)
    words = {
        "value_class": {v: v for v in allowed["value_class"]},
        "phase": {p: phase_label(p) for p in PHASES},
        "satisfaction": NPS_LABELS,
        "portfolio": PORTFOLIO_LABELS,
        "reason": reason_labels(),
        "score_trend": rule_service.TREND_WORDS,
        "purchase_trend": rule_service.TREND_WORDS,
        "churn_risk": rule_service.RISK_WORDS,
        "alive_band": rule_service.ALIVE_WORDS,
        "clv_class": {v: v for v in allowed["clv_class"]},
        "bought": {},
        "not_bought": {},
    }
    return {
        dimension: [SelectChoice(value, str(words[dimension].get(value, value))) for value in allowed[dimension]]
        for dimension in rule_service.DIMENSIONS
    }


class RuleForm(FlaskForm):
    name = StringField(_l("Name"))
    name_de = StringField(_l("Name on German pages (optional)"))
    active = BooleanField(_l("Active"))
    position = IntegerField(_l("Order (lower first)"), validators=[Optional()])
    value_class = CheckboxesField(rule_service.DIMENSION_LABELS["value_class"], validate_choice=False)
    phase = CheckboxesField(rule_service.DIMENSION_LABELS["phase"], validate_choice=False)
    satisfaction = CheckboxesField(rule_service.DIMENSION_LABELS["satisfaction"], validate_choice=False)
    portfolio = CheckboxesField(rule_service.DIMENSION_LABELS["portfolio"], validate_choice=False)
    reason = CheckboxesField(rule_service.DIMENSION_LABELS["reason"], validate_choice=False)
    score_trend = CheckboxesField(rule_service.DIMENSION_LABELS["score_trend"], validate_choice=False)
    purchase_trend = CheckboxesField(rule_service.DIMENSION_LABELS["purchase_trend"], validate_choice=False)
    churn_risk = CheckboxesField(rule_service.DIMENSION_LABELS["churn_risk"], validate_choice=False)
    alive_band = CheckboxesField(rule_service.DIMENSION_LABELS["alive_band"], validate_choice=False)
    clv_class = CheckboxesField(rule_service.DIMENSION_LABELS["clv_class"], validate_choice=False)
    bought = CheckboxesField(rule_service.DIMENSION_LABELS["bought"], validate_choice=False)
    not_bought = CheckboxesField(rule_service.DIMENSION_LABELS["not_bought"], validate_choice=False)
    offer_category = SelectField(_l("Measure type: offer a category (optional)"), validate_choice=False)
    measure_en = StringField(_l("Measure (English)"))
    measure_de = StringField(_l("Measure (German)"))
    owner_role = SelectField(
        _l("Owner role"), choices=[SelectChoice(role, ROLE_LABELS[role]) for role in rule_service.OWNER_ROLES]
    )
    due_days = IntegerField(_l("Due within working days"), validators=[Optional()])
    repeat_after_days = IntegerField(_l("Suggest again to the same customer after days"), validators=[Optional()])

    def fill_choices(self) -> None:
        for dimension, choices in _dimension_choices().items():
            getattr(self, dimension).choices = choices
        self.offer_category.choices = [SelectChoice("", _("No offer (a task)")), *self.not_bought.choices]

    def values(self) -> dict:
        return {
            "name": self.name.data,
            "name_de": self.name_de.data,
            "active": self.active.data,
            "position": self.position.data,
            "conditions": {d: getattr(self, d).data for d in rule_service.DIMENSIONS if getattr(self, d).data},
            "measure_de": self.measure_de.data,
            "measure_en": self.measure_en.data,
            "owner_role": self.owner_role.data,
            "due_days": self.due_days.data,
            "repeat_after_days": self.repeat_after_days.data,
            "offer_category": self.offer_category.data,
        }


@bp.get("/cockpit/rules")
@role_required("manager")
def rules():
    now = utcnow()
    locale = str(get_locale())
    labels = reason_labels()
    outcomes = rule_outcomes(db.session, now)
    sentences = {o.rule.id: rule_service.sentence(o.rule, locale, reason_labels=labels) for o in outcomes}
    return render_template(
        "retention/rules.html", outcomes=outcomes, sentences=sentences, outcome_days=suggestion_service.OUTCOME_DAYS
    )


def _rule_page(form: RuleForm, rule: RetentionRule | None, code: int = 200):
    history = audit.trail(db.session, "retention_rule", rule.id)[-10:] if rule else []
    return render_template("retention/rule_edit.html", form=form, rule=rule, history=history), code


@bp.route("/cockpit/rules/new", methods=["GET", "POST"])
@bp.route("/cockpit/rules/<int:rule_id>", methods=["GET", "POST"])
@role_required("admin")
def rule_edit(rule_id: int | None = None):
    rule = db.get_or_404(RetentionRule, rule_id) if rule_id is not None else None
    if request.method == "GET":
        if rule is None:
            form = RuleForm(formdata=None, active=True, position=100, due_days=3, repeat_after_days=90)
        else:
            form = RuleForm(formdata=None, obj=rule)
            for dimension in rule_service.DIMENSIONS:
                getattr(form, dimension).data = rule.conditions.get(dimension, [])
        form.fill_choices()
        return _rule_page(form, rule)
    form = RuleForm()
    form.fill_choices()
    valid = form.validate_on_submit()
    try:
        rule_service.validate(db.session, form.values())
    except rule_service.InvalidRule as invalid:
        valid = False
        for field, message in invalid.errors.items():
            target = getattr(form, field, None) if field != "conditions" else None
            if target is None:
                form.form_errors.append(message)
            elif not target.errors:
                target.errors.append(message)
    if not valid:
        return _rule_page(form, rule, 422)
    saved = rule_service.save_rule(db.session, rule, form.values(), current_user.id, utcnow())
    db.session.commit()
    flash(_("Rule saved. It applies from the next refresh and to every new answer."), "info")
    return redirect(url_for("retention.rule_edit", rule_id=saved.id))


SUGGESTION_LABELS = {
    "open": _l("open"),
    "accepted": _l("accepted"),
    "dismissed": _l("dismissed"),
    "done": _l("done"),
    "lapsed": _l("lapsed"),
}
PAGE_SIZE = 50


@bp.get("/suggestions")
@role_required("agent")
def suggestion_list():
    """Open suggestions, newest first; filter by rule and by the role that owns the measure."""
    rule_id = request.args.get("rule", type=query_int)
    role = request.args.get("role") or None
    page = max(1, request.args.get("page", 1, type=query_int) or 1)
    rows, total = suggestion_service.open_suggestions(db.session, rule_id, role, page, PAGE_SIZE)
    return render_template(
        "retention/suggestions.html",
        rows=rows,
        total=total,
        page=page,
        pages=max(1, -(-total // CELL_PAGE_SIZE)),
        rules=db.session.scalars(select(RetentionRule).order_by(RetentionRule.position)).all(),
        rule_id=rule_id,
        role=role,
        owner_roles=[(r, ROLE_LABELS[r]) for r in rule_service.OWNER_ROLES],
        **suggestion_context(),
    )


def suggestion_context() -> dict:
    """What the suggestion macro needs: labels, the owners to choose from, and the sentence renderer."""
    locale = str(get_locale())
    labels = reason_labels()
    users = db.session.scalars(select(User).where(User.active.is_(True)).order_by(User.email)).all()
    return {
        "suggestion_labels": SUGGESTION_LABELS,
        "owners": users,
        "why": lambda s: rule_service.sentence(s.rule, locale, s, s.conditions, labels),
    }


def _back(suggestion: Suggestion):
    target = local_path(request.form.get("next"))
    return redirect(target or url_for("retention.customer_page", customer_id=suggestion.customer_id))


def _act(suggestion: Suggestion, action):
    """Run one settling action, which returns what to tell the user; someone quicker, or a refused input, gets a
    message and changes nothing."""
    try:
        done = action()
    except suggestion_service.SuggestionConflict:
        db.session.rollback()
        flash(_("Someone settled this suggestion already."), "error")
        return _back(suggestion)
    except ValueError:
        db.session.rollback()
        flash(_("Say why the measure is not worth doing (at most 500 characters)."), "error")
        return _back(suggestion)
    db.session.commit()
    flash(done, "info")
    return _back(suggestion)


@bp.post("/suggestions/<int:suggestion_id>/accept")
@role_required("agent")
def suggestion_accept(suggestion_id: int):
    suggestion = db.get_or_404(Suggestion, suggestion_id)
    owner_id = request.form.get("owner_id", type=query_int)
    owner = db.session.get(User, owner_id) if owner_id else current_user
    if owner is None or not owner.active:
        abort(422)
    if not owner.has_role(suggestion.rule.owner_role):
        role = rule_service.owner_role_label(suggestion.rule.owner_role)
        flash(_("This measure needs an owner with the role %(role)s.", role=role), "error")
        return _back(suggestion)

    def accept() -> str:
        case = suggestion_service.accept(db.session, suggestion, owner, current_user, str(get_locale()), utcnow())
        return _("Accepted: case %(id)s is in the queue.", id=case.id)

    return _act(suggestion, accept)


def _settled_by_owner_role(suggestion_id: int) -> Suggestion:
    """A measure is dismissed or marked done by someone with the role its rule gives it (a manager's measure
    not by an agent)."""
    suggestion = db.get_or_404(Suggestion, suggestion_id)
    if not current_user.has_role(suggestion.rule.owner_role):
        abort(403)
    return suggestion


@bp.post("/suggestions/<int:suggestion_id>/dismiss")
@role_required("agent")
def suggestion_dismiss(suggestion_id: int):
    suggestion = _settled_by_owner_role(suggestion_id)
    reason = request.form.get("reason", "")

    def dismiss() -> str:
        suggestion_service.dismiss(db.session, suggestion, reason, current_user, utcnow())
        return _("Dismissed.")

    return _act(suggestion, dismiss)


@bp.post("/suggestions/<int:suggestion_id>/done")
@role_required("agent")
def suggestion_done(suggestion_id: int):
    suggestion = _settled_by_owner_role(suggestion_id)

    def done() -> str:
        suggestion_service.mark_done(db.session, suggestion, current_user, utcnow())
        return _("Marked as done.")

    return _act(suggestion, done)


@bp.get("/cockpit/strategies")
@role_required("manager")
def strategies():
    return _strategies_page()


def _strategies_page(code: int = 200):
    history = audit.trail(db.session, "segment_strategies", 1)[-10:]
    return (
        render_template(
            "retention/strategies.html",
            strategies=strategy_service.all_strategies(db.session),
            directions=strategy_service.DIRECTIONS,
            levels=strategy_service.SERVICE_LEVELS,
            classes=VALUE_CLASSES,
            phases=PHASES,
            satisfaction=SATISFACTION,
            nps_labels=NPS_LABELS,
            history=history,
        ),
        code,
    )


@bp.post("/cockpit/strategies")
@role_required("admin")
def strategies_save():
    wanted = {}
    for key in ((value_class, phase, sat) for value_class in VALUE_CLASSES for phase in PHASES for sat in SATISFACTION):
        name = "-".join(key)
        direction, level = request.form.get(f"{name}-direction"), request.form.get(f"{name}-level")
        if direction is None and level is None:
            continue
        wanted[key] = (direction, level)
    try:
        changed = strategy_service.update_strategies(db.session, wanted, current_user.id, utcnow())
    except ValueError:
        db.session.rollback()
        flash(_("Choose a direction and a service level from the lists."), "error")
        return _strategies_page(422)
    db.session.commit()
    flash(_("Saved: %(n)s segments changed.", n=changed), "info")
    return redirect(url_for("retention.strategies"))


@bp.get("/cockpit/movements")
@role_required("manager")
def movements_page():
    try:
        start, end, _interval, _filters = parse(request.args, utcnow().date())
    except BadParameters as exc:
        return render_template("retention/movements.html", rows=[], errors=exc.errors, args=request.args), 422
    rows = movements(db.session, start, end)
    months: dict[str, dict[str, int]] = {}
    for row in rows:
        summary = months.setdefault(row.month, {"better": 0, "worse": 0, "sideways": 0})
        summary[row.direction] += row.customers
    if request.args.get("format") == "csv":
        return _movements_csv(rows, start, end)
    return render_template(
        "retention/movements.html",
        rows=rows,
        months=months,
        errors=None,
        args=request.args,
        start=start,
        end=end,
        nps_labels=NPS_LABELS,
    )


MOVEMENT_COLUMNS = (
    "month", "from_value_class", "from_phase", "from_satisfaction", "to_value_class", "to_phase", "to_satisfaction",
    "customers", "direction",
)  # fmt: skip


def _movements_csv(rows, start, end):
    table = [[row.month, *row.source, *row.target, row.customers, row.direction] for row in rows]
    return csv_download([MOVEMENT_COLUMNS, *table], f"segment-movements-{start}-{end}.csv")
