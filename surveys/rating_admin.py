"""Admin page for the rating grid's attributes: list, add, rename, retire and offer again (audited)."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from wtforms import IntegerField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange

from kundenpuls import audit
from kundenpuls.auth import role_required
from kundenpuls.extensions import db
from kundenpuls.timeutil import utcnow
from surveys.follow_up_settings import choice_key
from surveys.rating_grid import MAX_ATTRIBUTES, RatingAttribute, active_attributes

bp = Blueprint("rating_admin", __name__, url_prefix="/surveys/attributes")


class AttributeForm(FlaskForm):
    label_de = StringField(_l("German label"), validators=[DataRequired(), Length(max=120)])
    label_en = StringField(_l("English label"), validators=[DataRequired(), Length(max=120)])
    position = IntegerField(_l("Order"), validators=[InputRequired(), NumberRange(min=0, max=10000)], default=100)


def _page(form: AttributeForm, code: int = 200):
    attributes = db.session.scalars(
        select(RatingAttribute).order_by(RatingAttribute.retired_at.is_not(None), RatingAttribute.position)
    ).all()
    return render_template("surveys/admin_attributes.html", attributes=attributes, form=form), code


@bp.get("")
@role_required("admin")
def attributes():
    return _page(AttributeForm(formdata=None))


@bp.post("")
@role_required("admin")
def attribute_create():
    form = AttributeForm()
    if not form.validate_on_submit():
        return _page(form, 422)
    if len(active_attributes(db.session)) >= MAX_ATTRIBUTES:
        form.label_en.errors.append(_("At most %(n)s attributes are asked; retire one first.", n=MAX_ATTRIBUTES))
        return _page(form, 422)
    taken = set(db.session.scalars(select(RatingAttribute.key)))
    attribute = RatingAttribute(
        key=choice_key(form.label_en.data, taken),
        label_de=form.label_de.data.strip(),
        label_en=form.label_en.data.strip(),
        position=form.position.data,
    )
    db.session.add(attribute)
    db.session.flush()
    audit.record(db.session, "rating_attribute", attribute.id, "created", current_user.id, utcnow(),
                 after={"key": attribute.key, "de": attribute.label_de, "en": attribute.label_en})  # fmt: skip
    db.session.commit()
    flash(_("Attribute added. Surveys with the rating grid ask it from now on."), "info")
    return redirect(url_for(".attributes"))


@bp.post("/<int:attribute_id>/retire")
@role_required("admin")
def attribute_retire(attribute_id: int):
    attribute = db.get_or_404(RatingAttribute, attribute_id)
    retire = request.form.get("retire") == "1"
    if not retire and len(active_attributes(db.session)) >= MAX_ATTRIBUTES:
        flash(_("At most %(n)s attributes are asked; retire one first.", n=MAX_ATTRIBUTES), "error")
        return redirect(url_for(".attributes"))
    before = attribute.retired_at
    attribute.retired_at = utcnow() if retire else None
    audit.record(db.session, "rating_attribute", attribute.id, "retired" if retire else "offered again",
                 current_user.id, utcnow(), before={"retired_at": str(before)})  # fmt: skip
    db.session.commit()
    flash(_("Retired: no longer asked; earlier ratings keep it.") if retire else _("Asked again."), "info")
    return redirect(url_for(".attributes"))
