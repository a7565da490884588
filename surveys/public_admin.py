"""Admin pages for anonymous survey links (per survey) and the managers' review of held answers."""

from __future__ import annotations

from datetime import UTC, datetime, time

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import BooleanField, DateField, IntegerField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from kundenpuls.auth import role_required
from kundenpuls.extensions import db
from kundenpuls.timeutil import utcnow
from surveys.channels import survey_for_channel_or_404
from surveys.models import Invitation, Survey
from surveys.public_links import change_link, create_link, decide, held_answers
from surveys.public_models import HeldAnswer, PublicLink

bp = Blueprint("public_admin", __name__, url_prefix="/surveys")


class LinkForm(FlaskForm):
    label = StringField(_l("Where it is used"), validators=[DataRequired(), Length(max=200)])
    expires = DateField(_l("Open until (end of the day, UTC)"), validators=[Optional()])
    ask_email = BooleanField(_l("Offer an optional email address (confirmed by mail)"))
    once_per_days = IntegerField(
        _l("One answer per browser within days"), default=30, validators=[InputRequired(), NumberRange(1, 365)]
    )


def _end_of(day) -> datetime | None:
    return datetime.combine(day, time(23, 59, 59), UTC) if day else None


def _page(survey: Survey, form: LinkForm, code: int = 200):
    links = db.session.scalars(select(PublicLink).where(PublicLink.survey_id == survey.id).order_by(PublicLink.id))
    links = links.all()
    ids = [link.id for link in links]
    answers = dict(
        db.session.execute(
            select(Invitation.public_link_id, func.count())
            .where(Invitation.public_link_id.in_(ids), Invitation.status == "answered")
            .group_by(Invitation.public_link_id)
        ).all()
    )
    held = dict(
        db.session.execute(
            select(HeldAnswer.public_link_id, func.count())
            .where(HeldAnswer.public_link_id.in_(ids), HeldAnswer.decided_at.is_(None))
            .group_by(HeldAnswer.public_link_id)
        ).all()
    )
    edits = {link.id: _edit_form(link) for link in links}
    page = render_template(
        "surveys/admin_public_links.html",
        survey=survey,
        links=links,
        form=form,
        edits=edits,
        answers=answers,
        held=held,
        now=utcnow(),
    )
    return page, code


def _edit_form(link: PublicLink, formdata=None) -> LinkForm:
    expires = link.expires_at.date() if link.expires_at else None
    return LinkForm(
        formdata=formdata,
        prefix=f"l{link.id}",
        label=link.label,
        expires=expires,
        ask_email=link.ask_email,
        once_per_days=link.once_per_days,
    )


@bp.get("/<int:survey_id>/links")
@role_required("admin")
def links(survey_id: int):
    return _page(survey_for_channel_or_404(survey_id), LinkForm(formdata=None))


@bp.post("/<int:survey_id>/links")
@role_required("admin")
def create(survey_id: int):
    survey = survey_for_channel_or_404(survey_id)
    form = LinkForm()
    if not form.validate():
        return _page(survey, form, 422)
    create_link(
        db.session, survey, form.label.data, current_user.id, utcnow(),
        expires_at=_end_of(form.expires.data), ask_email=form.ask_email.data, once_per_days=form.once_per_days.data,
    )  # fmt: skip
    db.session.commit()
    flash(_("Link created."), "info")
    return redirect(url_for(".links", survey_id=survey.id))


@bp.post("/links/<int:link_id>")
@role_required("admin")
def update(link_id: int):
    link = db.get_or_404(PublicLink, link_id)
    form = _edit_form(link, formdata=request.form)
    if not form.validate():
        return _page(link.survey, LinkForm(formdata=None), 422)
    values = {
        "label": form.label.data.strip(),
        "expires_at": _end_of(form.expires.data),
        "ask_email": form.ask_email.data,
        "once_per_days": form.once_per_days.data,
    }
    change_link(db.session, link, values, current_user.id, utcnow())
    db.session.commit()
    flash(_("Link saved."), "info")
    return redirect(url_for(".links", survey_id=link.survey_id))


@bp.post("/links/<int:link_id>/active")
@role_required("admin")
def toggle(link_id: int):
    link = db.get_or_404(PublicLink, link_id)
    change_link(db.session, link, {"active": not link.active}, current_user.id, utcnow())
    db.session.commit()
    flash(_("Link opened.") if link.active else _("Link closed."), "info")
    return redirect(url_for(".links", survey_id=link.survey_id))


@bp.get("/held")
@role_required("manager")
def held():
    return render_template("surveys/held.html", held=held_answers(db.session))


@bp.post("/held/<int:held_id>/<any(accept, reject):decision>")
@role_required("manager")
def decide_held(held_id: int, decision: str):
    answer = db.get_or_404(HeldAnswer, held_id)
    if answer.decided_at is not None:
        flash(_("Someone decided on this answer already."), "error")
        return redirect(url_for(".held"))
    decide(db.session, answer, decision == "accept", current_user.id, utcnow())
    db.session.commit()
    flash(_("Answer accepted: it now counts.") if decision == "accept" else _("Answer rejected."), "info")
    return redirect(url_for(".held"))
