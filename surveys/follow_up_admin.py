"""Admin pages for a survey's follow-up questions: list, add (with choices), add a choice, retire; the survey's page
preview shows them as customers see them."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from kundenpuls.auth import role_required
from kundenpuls.extensions import db
from kundenpuls.timeutil import utcnow
from surveys.admin_forms import checkboxes
from surveys.follow_up_settings import (
    QuestionInvalid,
    QuestionSpec,
    add_choice,
    add_question,
    retire_choice,
    retire_question,
)
from surveys.follow_ups import MAX_QUESTIONS, FollowUpChoice, FollowUpQuestion, active_questions, all_questions
from surveys.kinds import KINDS
from surveys.models import Survey

bp = Blueprint("follow_up_admin", __name__, url_prefix="/surveys")

TYPE_LABELS = {
    "single": _l("Single choice"),
    "multiple": _l("Multiple choice"),
    "text": _l("Short text"),
    "rating": _l("Rating 1–5"),
}


class QuestionForm(FlaskForm):
    type = SelectField(_l("Kind of question"), choices=[SelectChoice(k, v) for k, v in TYPE_LABELS.items()])
    label_de = StringField(_l("Question (German)"), validators=[DataRequired(), Length(max=300)])
    label_en = StringField(_l("Question (English)"), validators=[DataRequired(), Length(max=300)])
    show_to = checkboxes(_l("Shown to (none ticked: every answer)"), [])
    other_option = BooleanField(_l("Multiple choice: an 'other' box with a short text"))
    choices = TextAreaField(_l("Choices, one per line: German | English"), validators=[Length(max=4000)])

    def spec(self) -> QuestionSpec:
        lines = [line.split("|", 1) for line in (self.choices.data or "").splitlines() if line.strip()]
        pairs = [(parts[0].strip(), parts[1].strip() if len(parts) > 1 else "") for parts in lines]
        return QuestionSpec(self.type.data, self.label_de.data, self.label_en.data, self.show_to.data or None,
                            bool(self.other_option.data), pairs)  # fmt: skip


class ChoiceForm(FlaskForm):
    label_de = StringField(_l("German"), validators=[DataRequired(), Length(max=120)])
    label_en = StringField(_l("English"), validators=[DataRequired(), Length(max=120)])


def _question_form(survey: Survey, **kwargs) -> QuestionForm:
    form = QuestionForm(**kwargs)
    form.show_to.choices = [SelectChoice(name, name) for name in KINDS[survey.kind].classes]
    return form


def _page(survey: Survey, form: QuestionForm, code: int = 200, errors: dict | None = None):
    questions = all_questions(db.session, survey.id)
    asked = len(active_questions(db.session, survey.id))
    page = render_template(
        "surveys/admin_questions.html", survey=survey, questions=questions, form=form, errors=errors or {},
        choice_form=ChoiceForm(formdata=None), type_labels=TYPE_LABELS, room=asked < MAX_QUESTIONS,
    )  # fmt: skip
    return page, code


def _scored(survey_id: int) -> Survey:
    survey = db.get_or_404(Survey, survey_id)
    if not KINDS[survey.kind].scored:
        abort(404)
    return survey


@bp.get("/<int:survey_id>/questions")
@role_required("admin")
def questions(survey_id: int):
    survey = _scored(survey_id)
    return _page(survey, _question_form(survey, formdata=None))


@bp.post("/<int:survey_id>/questions")
@role_required("admin")
def question_create(survey_id: int):
    survey = _scored(survey_id)
    form = _question_form(survey)
    if not form.validate_on_submit():
        return _page(survey, form, 422)
    try:
        add_question(db.session, survey, form.spec(), current_user.id, utcnow())
    except QuestionInvalid as exc:
        db.session.rollback()
        return _page(survey, form, 422, exc.errors)
    db.session.commit()
    flash(_("Question added. Customers see it after their score from now on."), "info")
    return redirect(url_for(".questions", survey_id=survey.id))


def _question(survey_id: int, question_id: int) -> FollowUpQuestion:
    question = db.get_or_404(FollowUpQuestion, question_id)
    if question.survey_id != survey_id:
        abort(404)
    return question


@bp.post("/<int:survey_id>/questions/<int:question_id>/retire")
@role_required("admin")
def question_retire(survey_id: int, question_id: int):
    retire_question(db.session, _question(survey_id, question_id), current_user.id, utcnow())
    db.session.commit()
    flash(_("Retired: no longer asked; earlier answers keep it."), "info")
    return redirect(url_for(".questions", survey_id=survey_id))


@bp.post("/<int:survey_id>/questions/<int:question_id>/choices")
@role_required("admin")
def choice_create(survey_id: int, question_id: int):
    question = _question(survey_id, question_id)
    form = ChoiceForm()
    try:
        if not form.validate_on_submit():
            raise QuestionInvalid({"choices": _("A German and an English label of up to 120 characters.")})
        add_choice(db.session, question, form.label_de.data, form.label_en.data, current_user.id, utcnow())
    except QuestionInvalid as exc:
        db.session.rollback()
        flash("; ".join(exc.errors.values()), "error")
        return redirect(url_for(".questions", survey_id=survey_id))
    db.session.commit()
    return redirect(url_for(".questions", survey_id=survey_id))


@bp.post("/<int:survey_id>/choices/<int:choice_id>/retire")
@role_required("admin")
def choice_retire(survey_id: int, choice_id: int):
    choice = db.get_or_404(FollowUpChoice, choice_id)
    if choice.question.survey_id != survey_id:
        abort(404)
    try:
        retire_choice(db.session, choice, current_user.id, utcnow())
        db.session.commit()
    except QuestionInvalid as exc:
        db.session.rollback()
        flash("; ".join(exc.errors.values()), "error")
    return redirect(url_for(".questions", survey_id=survey_id, _anchor=f"question-{choice.question_id}"))
