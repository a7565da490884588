"""Settings pages: the lifecycle rules and the value settings, which depend on the business."""

from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import DecimalField, IntegerField
from wtforms.validators import InputRequired, NumberRange, ValidationError

from customers.lifecycle import RULE_FIELDS, current_rules, phase_counts, update_rules
from customers.models import PHASES
from customers.values import VALUE_FIELDS, class_summary, current_value_settings, update_value_settings
from kundenpuls import audit
from kundenpuls.auth import role_required
from kundenpuls.extensions import db
from kundenpuls.timeutil import utcnow

bp = Blueprint("customer_admin", __name__, url_prefix="/settings")


class RulesForm(FlaskForm):
    new_until_purchases = IntegerField(
        _l("New customer until purchase number"), validators=[InputRequired(), NumberRange(min=1, max=1000)]
    )
    new_for_days = IntegerField(
        _l("… or until this many days after the first purchase"),
        validators=[InputRequired(), NumberRange(min=1, max=3650)],
    )
    inactive_after_days = IntegerField(
        _l("Inactive after this many days without a purchase"),
        validators=[InputRequired(), NumberRange(min=1, max=3650)],
    )


def _page(form: RulesForm, code: int = 200):
    rules = current_rules(db.session)
    counts = phase_counts(db.session)
    history = audit.trail(db.session, "lifecycle_rules", rules.id)[-10:]
    return (
        render_template(
            "customers/lifecycle_rules.html", form=form, rules=rules, counts=counts, phases=PHASES, history=history
        ),
        code,
    )


@bp.get("/lifecycle")
@role_required("admin")
def lifecycle():
    return _page(RulesForm(formdata=None, obj=current_rules(db.session)))


@bp.post("/lifecycle")
@role_required("admin")
def lifecycle_save():
    form = RulesForm()
    if not form.validate_on_submit():
        return _page(form, 422)
    recorded = update_rules(
        db.session, {name: getattr(form, name).data for name in RULE_FIELDS}, current_user.id, utcnow()
    )
    db.session.commit()
    if recorded is None:
        flash(_("Nothing changed."), "info")
    else:
        flash(_("Saved. Phases recomputed: %(n)s customers changed phase.", n=recorded), "info")
    return redirect(url_for("customer_admin.lifecycle"))


class ValueForm(FlaskForm):
    a_share = IntegerField(
        _l("A customers make this share of revenue (%)"), validators=[InputRequired(), NumberRange(min=1, max=98)]
    )
    b_share = IntegerField(
        _l("B customers make the next share of revenue (%)"), validators=[InputRequired(), NumberRange(min=1, max=98)]
    )
    retention_rate = DecimalField(
        _l("Retention rate r (share of customers who buy again next year)"),
        places=3,
        validators=[InputRequired(), NumberRange(min=Decimal("0.01"), max=Decimal("0.99"))],
    )
    discount_rate = DecimalField(
        _l("Discount rate d per year"),
        places=3,
        validators=[InputRequired(), NumberRange(min=Decimal("0"), max=Decimal("0.99"))],
    )

    portfolio_value_min = DecimalField(
        _l("Portfolio: high current value from this revenue per year (€)"),
        places=2,
        validators=[InputRequired(), NumberRange(min=Decimal("0"))],
    )
    portfolio_potential_min = DecimalField(
        _l("Portfolio: high potential from this demand per year (€)"),
        places=2,
        validators=[InputRequired(), NumberRange(min=Decimal("0"))],
    )

    def validate_b_share(self, field) -> None:
        if self.a_share.data is not None and field.data is not None and self.a_share.data + field.data >= 100:
            raise ValidationError(_("A and B together must leave a share for C (less than 100%)."))


def _values_page(form: ValueForm, code: int = 200):
    settings = current_value_settings(db.session)
    history = audit.trail(db.session, "value_settings", settings.id)[-10:]
    return (
        render_template(
            "customers/value_settings.html",
            form=form,
            settings=settings,
            classes=class_summary(db.session),
            history=history,
        ),
        code,
    )


@bp.get("/values")
@role_required("admin")
def values():
    return _values_page(ValueForm(formdata=None, obj=current_value_settings(db.session)))


@bp.post("/values")
@role_required("admin")
def values_save():
    form = ValueForm()
    if not form.validate_on_submit():
        return _values_page(form, 422)
    refreshed = update_value_settings(
        db.session, {name: getattr(form, name).data for name in VALUE_FIELDS}, current_user.id, utcnow()
    )
    db.session.commit()
    if refreshed is None:
        flash(_("Nothing changed."), "info")
    elif refreshed:
        flash(_("Saved. Value classes recomputed for %(n)s customers with revenue.", n=refreshed), "info")
    else:
        flash(_("Saved."), "info")
    return redirect(url_for("customer_admin.values"))
