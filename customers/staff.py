"""Staff edits to a customer's own figures (the customer page itself is in analytics, which reads everything)."""

from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, flash, redirect, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import DecimalField
from wtforms.validators import NumberRange, Optional

from customers.models import Customer
from customers.services import set_potential
from kundenpuls.auth import role_required
from kundenpuls.extensions import db
from kundenpuls.timeutil import utcnow

bp = Blueprint("customer_staff", __name__)


class PotentialForm(FlaskForm):
    potential = DecimalField(
        _l("Potential per year (€)"),
        places=2,
        validators=[Optional(), NumberRange(min=Decimal("0"), max=Decimal("9999999999.99"))],
    )


@bp.post("/customers/<int:customer_id>/potential")
@role_required("manager")
def potential(customer_id: int):
    customer = db.get_or_404(Customer, customer_id)
    form = PotentialForm()
    if not form.validate_on_submit():
        for errors in form.errors.values():
            for error in errors:
                flash(error, "error")
        return redirect(url_for("analytics.customer_page", customer_id=customer.id))
    set_potential(db.session, customer, form.potential.data, current_user.id, utcnow())
    db.session.commit()
    flash(_("Potential saved."), "info")
    return redirect(url_for("analytics.customer_page", customer_id=customer.id))
