"""Admin pages for surveys: list, create, edit, and previews of the mail and the page."""

from __future__ import annotations

from types import SimpleNamespace

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from kundenpuls import audit
from kundenpuls.auth import role_required
from kundenpuls.extensions import db
from kundenpuls.timeutil import utcnow
from surveys.admin_forms import NewSurveyForm, SurveyForm
from surveys.forms import NpsForm
from surveys.mail import render_survey_mail
from surveys.models import Survey
from surveys.settings import LOCALES, SETTINGS, TEXT_NAMES, create_survey, update_survey

bp = Blueprint("survey_admin", __name__, url_prefix="/surveys")


@bp.get("")
@role_required("admin")
def index():
    surveys = db.session.scalars(select(Survey).order_by(Survey.id)).all()
    return render_template("surveys/admin_list.html", surveys=surveys, form=NewSurveyForm())


@bp.post("")
@role_required("admin")
def create():
    form = NewSurveyForm()
    if not form.validate_on_submit():
        surveys = db.session.scalars(select(Survey).order_by(Survey.id)).all()
        return render_template("surveys/admin_list.html", surveys=surveys, form=form), 422
    if db.session.scalar(select(Survey.id).where(Survey.key == form.key.data)) is not None:
        form.key.errors.append(_("This key is taken."))
        surveys = db.session.scalars(select(Survey).order_by(Survey.id)).all()
        return render_template("surveys/admin_list.html", surveys=surveys, form=form), 422
    survey = create_survey(db.session, form.name.data.strip(), form.key.data, current_user.id, utcnow())
    db.session.commit()
    flash(_("Survey created (paused). Check the texts, then activate it."), "info")
    return redirect(url_for("survey_admin.edit", survey_id=survey.id))


def _form_for(survey: Survey) -> SurveyForm:
    data = {name: getattr(survey, name) for name in SETTINGS}
    data["send_weekdays"] = [d.strip() for d in survey.send_weekdays.split(",") if d.strip()]
    for locale in LOCALES:
        data[f"texts_{locale}"] = {name: (survey.texts.get(locale) or {}).get(name, "") for name in TEXT_NAMES}
    return SurveyForm(data=data)


@bp.route("/<int:survey_id>", methods=["GET", "POST"])
@role_required("admin")
def edit(survey_id: int):
    survey = db.get_or_404(Survey, survey_id)
    form = SurveyForm() if request.method == "POST" else _form_for(survey)
    if request.method == "POST":
        if not form.validate_on_submit():
            return _edit_page(survey, form, 422)
        changes = {name: getattr(form, name).data for name in SETTINGS}
        changes["name"] = changes["name"].strip()
        changes["send_weekdays"] = ",".join(sorted(form.send_weekdays.data))
        changes["texts"] = {locale: dict(getattr(form, f"texts_{locale}").data) for locale in LOCALES}
        for locale in LOCALES:
            changes["texts"][locale].pop("csrf_token", None)
        rerendered = update_survey(db.session, survey, changes, current_user.id, utcnow())
        db.session.commit()
        flash(_("Saved. %(n)s queued mails now use the new settings.", n=rerendered), "info")
        return redirect(url_for("survey_admin.edit", survey_id=survey.id))
    return _edit_page(survey, form)


def _edit_page(survey: Survey, form: SurveyForm, code: int = 200):
    history = audit.trail(db.session, "survey", survey.id)[-20:]
    return render_template("surveys/admin_edit.html", survey=survey, form=form, history=history), code


def _sample(survey: Survey, locale: str):
    """A stand-in invitation and customer for previews: nothing is stored, the links lead nowhere."""
    customer = SimpleNamespace(name="Anna Becker" if locale == "de" else "Anna Baker", email="anna@example.com")
    invitation = SimpleNamespace(token="preview", survey=survey, locale=locale, customer=customer)
    return customer, invitation


def _preview_locale() -> str:
    locale = request.args.get("locale", "de")
    if locale not in LOCALES:
        abort(404)
    return locale


def _preview_mail(survey_id: int) -> tuple[Survey, str, str, tuple]:
    """The survey, language, kind and rendered (subject, text, html, links) the preview asks for."""
    survey = db.get_or_404(Survey, survey_id)
    locale = _preview_locale()
    kind = "reminder" if request.args.get("reminder") == "1" else "invitation"
    customer, invitation = _sample(survey, locale)
    return survey, locale, kind, render_survey_mail(survey, customer, invitation, locale, kind)


@bp.get("/<int:survey_id>/preview/mail")
@role_required("admin")
def preview_mail(survey_id: int):
    survey, locale, kind, (subject, text, _html, _links) = _preview_mail(survey_id)
    return render_template(
        "surveys/admin_preview_mail.html", survey=survey, locale=locale, kind=kind, subject=subject, text=text
    )


@bp.get("/<int:survey_id>/preview/mail.html")
@role_required("admin")
def preview_mail_html(survey_id: int):
    """The HTML part alone, framed by the preview page; mail HTML needs inline styles, so its own CSP."""
    html = _preview_mail(survey_id)[3][2]
    headers = {
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'; sandbox",
        "X-Frame-Options": "SAMEORIGIN",
    }
    return html, 200, headers


@bp.get("/<int:survey_id>/preview/page")
@role_required("admin")
def preview_page(survey_id: int):
    survey = db.get_or_404(Survey, survey_id)
    locale = _preview_locale()
    g.locale = locale
    _customer, invitation = _sample(survey, locale)
    form = NpsForm(csrf_token="preview")
    form.score.data = 9
    return render_template("surveys/survey.html", form=form, invitation=invitation, preview=True)
