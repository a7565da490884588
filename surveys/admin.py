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
from surveys.admin_forms import (
    SHORT_KIND_LABELS,
    TRIGGER_LABELS,
    NewSurveyForm,
    ReasonForm,
    SurveyForm,
    survey_form_class,
)
from surveys.audience import preview as preview_audience
from surveys.forms import ChurnForm, score_form
from surveys.kinds import KINDS
from surveys.mail import render_survey_mail
from surveys.models import ChurnReason, Survey
from surveys.reasons import add_reason, all_reasons, set_retired, update_reason
from surveys.services import active_reasons
from surveys.settings import LOCALES, TEXT_NAMES, create_survey, settings_for, update_survey
from surveys.views import after_the_score

bp = Blueprint("survey_admin", __name__, url_prefix="/surveys")


def _list_page(form: NewSurveyForm, code: int = 200):
    surveys = db.session.scalars(select(Survey).order_by(Survey.id)).all()
    page = render_template(
        "surveys/admin_list.html", surveys=surveys, form=form, survey_triggers=TRIGGER_LABELS, kinds=SHORT_KIND_LABELS
    )
    return page, code


@bp.get("")
@role_required("admin")
def index():
    return _list_page(NewSurveyForm())


@bp.post("")
@role_required("admin")
def create():
    form = NewSurveyForm()
    if not form.validate_on_submit():
        return _list_page(form, 422)
    if db.session.scalar(select(Survey.id).where(Survey.key == form.key.data)) is not None:
        form.key.errors.append(_("This key is taken."))
        return _list_page(form, 422)
    survey = create_survey(
        db.session, form.name.data.strip(), form.key.data, current_user.id, utcnow(), kind=form.kind.data
    )
    db.session.commit()
    flash(_("Survey created (paused). Check the texts, then activate it."), "info")
    return redirect(url_for("survey_admin.edit", survey_id=survey.id))


def _form_for(survey: Survey) -> SurveyForm:
    data = {name: getattr(survey, name) for name in settings_for(survey.kind)}
    data["send_weekdays"] = [d.strip() for d in survey.send_weekdays.split(",") if d.strip()]
    for locale in LOCALES:
        texts = survey.texts.get(locale) or {}
        data[f"texts_{locale}"] = {name: texts.get(name, "") for name in TEXT_NAMES[survey.kind]}
    audience = survey.audience or {}
    for key in ("value_classes", "phases", "satisfaction", "locales"):
        data[f"audience_{key}"] = audience.get(key, [])
    data["audience_categories"] = ", ".join(audience.get("categories", []))
    data["audience_after_resolved_case"] = bool(audience.get("after_resolved_case"))
    return survey_form_class(survey.kind)(data=data)


@bp.route("/<int:survey_id>", methods=["GET", "POST"])
@role_required("admin")
def edit(survey_id: int):
    survey = db.get_or_404(Survey, survey_id)
    form = survey_form_class(survey.kind)() if request.method == "POST" else _form_for(survey)
    if request.method == "POST":
        if not form.validate_on_submit():
            return _edit_page(survey, form, 422)
        if "count" in request.form:  # "Count customers": the audience as entered, nothing saved
            return _edit_page(
                survey, form, counted=preview_audience(db.session, form.audience(), survey.kind, utcnow())
            )
        changes = {name: getattr(form, name).data for name in settings_for(survey.kind)}
        changes["name"] = changes["name"].strip()
        changes["name_de"] = (changes["name_de"] or "").strip() or None
        changes["send_weekdays"] = ",".join(sorted(form.send_weekdays.data))
        changes["texts"] = {locale: dict(getattr(form, f"texts_{locale}").data) for locale in LOCALES}
        changes["audience"] = form.audience()
        for locale in LOCALES:
            changes["texts"][locale].pop("csrf_token", None)
        rerendered = update_survey(db.session, survey, changes, current_user.id, utcnow())
        db.session.commit()
        flash(_("Saved. %(n)s queued mails now use the new settings.", n=rerendered), "info")
        return redirect(url_for("survey_admin.edit", survey_id=survey.id))
    return _edit_page(survey, form)


def _edit_page(survey: Survey, form: SurveyForm, code: int = 200, counted: dict | None = None):
    history = audit.trail(db.session, "survey", survey.id)[-20:]
    saved = preview_audience(db.session, survey.audience, survey.kind, utcnow())
    return render_template(
        "surveys/admin_edit.html", survey=survey, form=form, history=history, counted=counted, saved=saved
    ), code


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
    if survey.kind == "churn":
        form = ChurnForm(formdata=None, csrf_token="preview")
        form.offer(active_reasons(db.session), locale, _("Please choose"))
        return render_template("surveys/churn.html", form=form, invitation=invitation, preview=True)
    kind = KINDS[survey.kind]
    form = score_form(kind, csrf_token="preview")
    form.score.data = kind.high
    return render_template(
        "surveys/survey.html", form=form, invitation=invitation, preview=True, **after_the_score(survey)
    )


def _reasons_page(new_form: ReasonForm, code: int = 200, failed: tuple[int, ReasonForm] | None = None):
    reasons = all_reasons(db.session)
    forms = {reason.id: ReasonForm(formdata=None, obj=reason, prefix=f"r{reason.id}") for reason in reasons}
    if failed is not None:
        forms[failed[0]] = failed[1]
    return render_template("surveys/admin_reasons.html", reasons=reasons, forms=forms, new_form=new_form), code


@bp.get("/reasons")
@role_required("admin")
def reasons():
    return _reasons_page(ReasonForm(formdata=None, prefix="new"))


@bp.post("/reasons")
@role_required("admin")
def reason_create():
    form = ReasonForm(prefix="new")
    if not form.validate_on_submit():
        return _reasons_page(form, 422)
    add_reason(db.session, form.values(), current_user.id, utcnow())
    db.session.commit()
    flash(_("Reason added. Churn surveys offer it from now on."), "info")
    return redirect(url_for("survey_admin.reasons"))


@bp.post("/reasons/<int:reason_id>")
@role_required("admin")
def reason_update(reason_id: int):
    reason = db.get_or_404(ChurnReason, reason_id)
    form = ReasonForm(prefix=f"r{reason.id}")
    if not form.validate_on_submit():
        return _reasons_page(ReasonForm(formdata=None, prefix="new"), 422, (reason.id, form))
    if update_reason(db.session, reason, form.values(), current_user.id, utcnow()):
        db.session.commit()
        flash(_("Saved. Earlier answers show the new wording."), "info")
    return redirect(url_for("survey_admin.reasons"))


@bp.post("/reasons/<int:reason_id>/retire")
@role_required("admin")
def reason_retire(reason_id: int):
    reason = db.get_or_404(ChurnReason, reason_id)
    retire = request.form.get("retire") == "1"
    if retire and len(active_reasons(db.session)) <= 1:
        flash(_("At least one reason must stay on offer."), "error")
        return redirect(url_for("survey_admin.reasons"))
    set_retired(db.session, reason, retire, current_user.id, utcnow())
    db.session.commit()
    flash(_("Retired: no longer offered; earlier answers keep it.") if retire else _("Offered again."), "info")
    return redirect(url_for("survey_admin.reasons"))
