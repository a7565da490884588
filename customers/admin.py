"""The lifecycle rules page: admins set the phase thresholds their business needs."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import IntegerField
from wtforms.validators import InputRequired, NumberRange

from customers.lifecycle import RULE_FIELDS, current_rules, phase_counts, update_rules
from customers.models import PHASES
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
