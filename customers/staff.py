"""Staff edits to a customer's own figures and description (the customer page itself is in analytics, which
reads everything)."""

from __future__ import annotations

import json
from decimal import Decimal

from flask import Blueprint, Response, abort, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import DecimalField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, Length, NumberRange, Optional

from customers.description import DESCRIPTION_FIELDS, MAX_TEXT, add_contact, remove_contact, update_description
from customers.models import BUYING_ROLE_LABELS, BUYING_ROLES, Customer, CustomerContact
from customers.privacy import erase_customer, export_customer
from customers.services import set_potential
from kundenpuls import audit
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
        return redirect(url_for("retention.customer_page", customer_id=customer.id))
    set_potential(db.session, customer, form.potential.data, current_user.id, utcnow())
    db.session.commit()
    flash(_("Potential saved."), "info")
    return redirect(url_for("retention.customer_page", customer_id=customer.id))


class DescriptionForm(FlaskForm):
    legal_form = StringField(_l("Legal form"), validators=[Optional(), Length(max=100)])
    company_group = StringField(_l("Group"), validators=[Optional(), Length(max=200)])
    industry = StringField(_l("Industry"), validators=[Optional(), Length(max=200)])
    business_units = TextAreaField(_l("Business units"), validators=[Optional(), Length(max=MAX_TEXT)])
    what_they_value = TextAreaField(
        _l("What fascinates them in our offer"), validators=[Optional(), Length(max=MAX_TEXT)]
    )
    needs = TextAreaField(_l("Needs, demand and potential"), validators=[Optional(), Length(max=MAX_TEXT)])
    credit_rating = StringField(_l("Credit rating"), validators=[Optional(), Length(max=50)])
    payment_terms = StringField(_l("Payment terms"), validators=[Optional(), Length(max=200)])
    pricing = TextAreaField(_l("Pricing and conditions"), validators=[Optional(), Length(max=MAX_TEXT)])


class ContactForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    role = SelectField(
        _l("Role in the buying centre"), choices=[SelectChoice(r, BUYING_ROLE_LABELS[r]) for r in BUYING_ROLES]
    )
    job_title = StringField(_l("Job title"), validators=[Optional(), Length(max=200)])
    email = StringField(_l("Email"), validators=[Optional(), Email(), Length(max=254)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=50)])
    note = StringField(_l("Note"), validators=[Optional(), Length(max=MAX_TEXT)])


def _back(customer: Customer, anchor: str = "description"):
    return redirect(url_for("retention.customer_page", customer_id=customer.id, _anchor=anchor))


def _flash_errors(form: FlaskForm) -> None:
    for name, errors in form.errors.items():
        label = getattr(form, name).label.text if hasattr(form, name) else name
        for error in errors:
            flash(f"{label}: {error}", "error")


@bp.post("/customers/<int:customer_id>/description")
@role_required("agent")
def description(customer_id: int):
    customer = db.get_or_404(Customer, customer_id)
    form = DescriptionForm()
    if not form.validate_on_submit():
        _flash_errors(form)
        return _back(customer)
    values = {name: getattr(form, name).data for name in DESCRIPTION_FIELDS}
    changed = update_description(db.session, customer.id, values, current_user.id, utcnow())
    db.session.commit()
    flash(_("Description saved.") if changed else _("Nothing changed."), "info")
    return _back(customer)


@bp.post("/customers/<int:customer_id>/contacts")
@role_required("agent")
def contact_add(customer_id: int):
    customer = db.get_or_404(Customer, customer_id)
    form = ContactForm()
    if not form.validate_on_submit():
        _flash_errors(form)
        return _back(customer)
    add_contact(db.session, customer.id, form.data, current_user.id, utcnow())
    db.session.commit()
    flash(_("Contact added."), "info")
    return _back(customer)


@bp.post("/customers/<int:customer_id>/contacts/<int:contact_id>/delete")
@role_required("agent")
def contact_remove(customer_id: int, contact_id: int):
    contact = db.get_or_404(CustomerContact, contact_id)
    if contact.customer_id != customer_id:
        abort(404)
    remove_contact(db.session, contact, current_user.id, utcnow())
    db.session.commit()
    flash(_("Contact removed."), "info")
    return redirect(url_for("retention.customer_page", customer_id=customer_id, _anchor="description"))


@bp.get("/customers/<int:customer_id>/export.json")
@role_required("manager")
def export(customer_id: int):
    """The same document as the API's export, as a download; the access itself is recorded."""
    customer = db.get_or_404(Customer, customer_id)
    now = utcnow()
    document = export_customer(db.session, customer, now)
    audit.record(db.session, "customer_access", customer.id, "exported", current_user.id, now)
    db.session.commit()
    response = Response(json.dumps(document, ensure_ascii=False, indent=2), mimetype="application/json")
    response.headers["Content-Disposition"] = f'attachment; filename="customer-{customer.id}.json"'
    return response


@bp.post("/customers/<int:customer_id>/erase")
@role_required("admin")
def erase(customer_id: int):
    customer = db.get_or_404(Customer, customer_id)
    if not FlaskForm().validate() or customer.erased_at is not None:
        abort(400)
    if (request.form.get("confirm") or "").strip() != customer.external_id:
        flash(_("Type the customer's external id exactly to confirm the erasure."), "error")
        return redirect(url_for("retention.customer_page", customer_id=customer.id))
    erase_customer(db.session, customer, current_user.id, utcnow())
    db.session.commit()
    flash(_("The customer's personal data is erased."), "info")
    return redirect(url_for("retention.customer_page", customer_id=customer_id))
