"""Admin pages for a survey's web widgets: create, set where and when they show, replace a leaked secret."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import BooleanField, IntegerField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, ValidationError

from kundenpuls.auth import role_required
from kundenpuls.extensions import db
from kundenpuls.timeutil import utcnow
from surveys.channels import WIDGET, survey_for_channel_or_404
from surveys.models import Invitation, Survey
from surveys.widget_models import Widget
from surveys.widget_views import script_url
from surveys.widgets import EDITABLE, change_widget, create_widget, new_secret

bp = Blueprint("widget_admin", __name__, url_prefix="/surveys")


def _origins(_form, field) -> None:
    for line in (field.data or "").splitlines():
        origin = line.strip().rstrip("/")
        if origin and not (origin.startswith(("https://", "http://")) and "/" not in origin.split("://", 1)[1]):
            raise ValidationError(_("An origin is a scheme and a host, like https://shop.example.de: %(o)s", o=origin))


class WidgetForm(FlaskForm):
    label = StringField(_l("Where it runs"), validators=[DataRequired(), Length(max=200)])
    origins = TextAreaField(
        _l("Websites that may embed it (one origin per line, empty: any)"), validators=[_origins, Length(max=2000)]
    )
    url_patterns = TextAreaField(
        _l("Pages to show it on (one path per line, * for anything, empty: every page)"),
        validators=[Length(max=2000)],
    )
    after_page_views = IntegerField(
        _l("Show from the visitor's page view number"), default=1, validators=[InputRequired(), NumberRange(1, 100)]
    )
    after_seconds = IntegerField(
        _l("Show after seconds on the page"), default=0, validators=[InputRequired(), NumberRange(0, 600)]
    )
    allow_anonymous = BooleanField(_l("Ask visitors who are not signed in (their answers stay anonymous)"))
    once_per_days = IntegerField(
        _l("Do not ask an anonymous visitor again within days"),
        default=90,
        validators=[InputRequired(), NumberRange(1, 365)],
    )

    def values(self) -> dict:
        return {
            "label": self.label.data.strip(),
            "origins": "\n".join(o.strip().rstrip("/") for o in (self.origins.data or "").splitlines() if o.strip()),
            "url_patterns": "\n".join(p.strip() for p in (self.url_patterns.data or "").splitlines() if p.strip()),
            "after_page_views": self.after_page_views.data,
            "after_seconds": self.after_seconds.data,
            "allow_anonymous": self.allow_anonymous.data,
            "once_per_days": self.once_per_days.data,
        }


def _edit_form(widget: Widget, formdata=None) -> WidgetForm:
    return WidgetForm(formdata=formdata, prefix=f"w{widget.id}", **{name: getattr(widget, name) for name in EDITABLE})


def _page(survey: Survey, form: WidgetForm, code: int = 200):
    widgets = db.session.scalars(select(Widget).where(Widget.survey_id == survey.id).order_by(Widget.id)).all()
    counts = dict(
        db.session.execute(
            select(Invitation.status, func.count())
            .where(Invitation.survey_id == survey.id, Invitation.channel == WIDGET)
            .group_by(Invitation.status)
        ).all()
    )
    page = render_template(
        "surveys/admin_widgets.html",
        survey=survey,
        widgets=widgets,
        form=form,
        edits={widget.id: _edit_form(widget) for widget in widgets},
        counts=counts,
        script=script_url(),
    )
    return page, code


@bp.get("/<int:survey_id>/widgets")
@role_required("admin")
def widgets(survey_id: int):
    return _page(survey_for_channel_or_404(survey_id), WidgetForm(formdata=None))


@bp.post("/<int:survey_id>/widgets")
@role_required("admin")
def create(survey_id: int):
    survey = survey_for_channel_or_404(survey_id)
    form = WidgetForm()
    if not form.validate():
        return _page(survey, form, 422)
    create_widget(db.session, survey, form.values(), current_user.id, utcnow())
    db.session.commit()
    flash(_("Widget created."), "info")
    return redirect(url_for(".widgets", survey_id=survey.id))


@bp.post("/widgets/<int:widget_id>")
@role_required("admin")
def update(widget_id: int):
    widget = db.get_or_404(Widget, widget_id)
    form = _edit_form(widget, formdata=request.form)
    if not form.validate():
        return _page(widget.survey, WidgetForm(formdata=None), 422)
    change_widget(db.session, widget, form.values(), current_user.id, utcnow())
    db.session.commit()
    flash(_("Widget saved."), "info")
    return redirect(url_for(".widgets", survey_id=widget.survey_id))


@bp.post("/widgets/<int:widget_id>/active")
@role_required("admin")
def toggle(widget_id: int):
    widget = db.get_or_404(Widget, widget_id)
    change_widget(db.session, widget, {"active": not widget.active}, current_user.id, utcnow())
    db.session.commit()
    flash(_("Widget switched on.") if widget.active else _("Widget switched off."), "info")
    return redirect(url_for(".widgets", survey_id=widget.survey_id))


@bp.post("/widgets/<int:widget_id>/secret")
@role_required("admin")
def replace_secret(widget_id: int):
    widget = db.get_or_404(Widget, widget_id)
    new_secret(db.session, widget, current_user.id, utcnow())
    db.session.commit()
    flash(_("New secret made: signatures made with the old one no longer work."), "info")
    return redirect(url_for(".widgets", survey_id=widget.survey_id))
