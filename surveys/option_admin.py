"""One admin page for any list kept as data (surveys.options): list, add, rename and reorder, retire and offer
again. Each list registers a blueprint made here with its own texts, in the manner of a plug-in registry: rating
attributes (surveys.rating_admin) and contact reasons (feedback.contact_reason_admin). Churn reasons keep their
own page, which edits their win-back measure too, over the same services."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import IntegerField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from kundenpuls.auth import role_required
from kundenpuls.extensions import db
from kundenpuls.timeutil import utcnow
from surveys.options import active_options, add_option, all_options, set_retired, update_option


@dataclass(frozen=True)
class OptionList:
    """What differs between the lists: the model, its audit name and the page's words."""

    model: type
    entity: str  # the audit trail's name for an entry
    title: str
    intro: str
    on_offer: str  # the state of an entry not retired ("asked", "offered")
    added: str  # said after adding
    limit: int | None = None  # at most this many on offer at once
    keep_one: bool = False  # at least one must stay on offer


class OptionForm(FlaskForm):
    label_de = StringField(_l("German label"), validators=[DataRequired(), Length(max=120)])
    label_en = StringField(_l("English label"), validators=[DataRequired(), Length(max=120)])
    position = IntegerField(_l("Order"), validators=[Optional(), NumberRange(min=0, max=10000)])

    def values(self) -> dict:
        return {"label_de": self.label_de.data.strip(), "label_en": self.label_en.data.strip(),
                "position": self.position.data}  # fmt: skip


def option_admin(name: str, url_prefix: str, spec: OptionList) -> Blueprint:
    """The blueprint of one list's admin page (admins only)."""
    bp = Blueprint(name, __name__, url_prefix=url_prefix)

    def page(new: OptionForm, code: int = 200, failed: tuple[int, OptionForm] | None = None):
        options = all_options(db.session, spec.model)
        forms = {o.id: OptionForm(formdata=None, obj=o, prefix=f"o{o.id}") for o in options}
        if failed is not None:
            forms[failed[0]] = failed[1]
        return render_template("surveys/admin_options.html", spec=spec, options=options, forms=forms, new=new,
                               endpoint=name), code  # fmt: skip

    def full() -> bool:
        return spec.limit is not None and len(active_options(db.session, spec.model)) >= spec.limit

    @bp.get("")
    @role_required("admin")
    def listing():
        return page(OptionForm(formdata=None, prefix="new"))

    @bp.post("")
    @role_required("admin")
    def create():
        form = OptionForm(prefix="new")
        if not form.validate_on_submit():
            return page(form, 422)
        if full():
            form.label_en.errors.append(_("At most %(n)s are on offer at once; retire one first.", n=spec.limit))
            return page(form, 422)
        add_option(db.session, spec.model, spec.entity, form.values(), current_user.id, utcnow())
        db.session.commit()
        flash(str(spec.added), "info")
        return redirect(url_for(".listing"))

    @bp.post("/<int:option_id>")
    @role_required("admin")
    def update(option_id: int):
        option = db.get_or_404(spec.model, option_id)
        form = OptionForm(prefix=f"o{option.id}")
        if not form.validate_on_submit():
            return page(OptionForm(formdata=None, prefix="new"), 422, (option.id, form))
        values = form.values()
        if values["position"] is None:
            values["position"] = option.position
        if update_option(db.session, option, spec.entity, values, current_user.id, utcnow()):
            db.session.commit()
            flash(_("Saved. Earlier answers and cases show the new wording."), "info")
        return redirect(url_for(".listing"))

    @bp.post("/<int:option_id>/retire")
    @role_required("admin")
    def retire(option_id: int):
        option = db.get_or_404(spec.model, option_id)
        retiring = request.form.get("retire") == "1"
        if retiring and spec.keep_one and len(active_options(db.session, spec.model)) <= 1:
            flash(_("At least one must stay on offer."), "error")
            return redirect(url_for(".listing"))
        if not retiring and option.retired_at is not None and full():
            flash(_("At most %(n)s are on offer at once; retire one first.", n=spec.limit), "error")
            return redirect(url_for(".listing"))
        set_retired(db.session, option, spec.entity, retiring, current_user.id, utcnow())
        db.session.commit()
        flash(_("Retired: no longer offered; earlier ones keep it.") if retiring else _("Offered again."), "info")
        return redirect(url_for(".listing"))

    return bp
