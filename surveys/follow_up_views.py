"""The follow-up step of the survey page: questions after the score, inline with JavaScript or as one more page
without it (POST /s/<token>/more). The score is stored before any of this runs."""

from __future__ import annotations

import hmac

from flask import Blueprint, abort, g, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy import select

from kundenpuls.extensions import csrf, db
from kundenpuls.timeutil import utcnow
from surveys.follow_ups import (
    FollowUpError,
    FollowUpQuestion,
    FollowUpsGiven,
    Given,
    questions_for,
    store_follow_ups,
)
from surveys.forms import answer_form_token
from surveys.models import Invitation, Response
from surveys.rating_grid import grid_values, store_ratings
from surveys.services import invitation_by_token

bp = Blueprint("follow_ups", __name__)

MESSAGES = {
    "choice": lambda: _("Please choose one of the answers offered."),
    "one": lambda: _("Please choose one answer."),
    "rating": lambda: _("Please choose from 1 to 5."),
    "long": lambda: _("Please keep this under %(max)d characters.", max=500),
}


def follow_up_token(survey_token: str) -> str:
    return answer_form_token(survey_token, b"follow-up")


def _ids(values: list[str]) -> tuple[int, ...]:
    """Posted choice ids; anything that is no small whole number becomes -1 (no choice has it: refused)."""
    return tuple(int(v) if v.isascii() and v.isdigit() and len(v) < 10 else -1 for v in values if v)


def given_from(form, questions: list[FollowUpQuestion]) -> dict[int, Given]:
    """What the form holds for each question (fields q<id> and q<id>_other)."""
    given = {}
    for question in questions:
        field = f"q{question.id}"
        values = form.getlist(field)
        if question.type == "text":
            given[question.id] = Given(text=(form.get(field) or "").strip() or None)
        elif question.type == "rating":
            rating = _ids(values[:1])
            given[question.id] = Given(rating=rating[0] if rating else None)
        else:
            other = (form.get(f"{field}_other") or "").strip() or None
            given[question.id] = Given(choices=_ids(values), other=other)
    return given


def step_page(invitation: Invitation, questions: list[FollowUpQuestion], errors: dict | None = None, code=200):
    """The follow-up questions as their own page (no JavaScript, or an inline answer that needs correcting)."""
    messages = {field: MESSAGES[key]() for field, key in (errors or {}).items()}
    page = render_template(
        "surveys/follow_up.html",
        invitation=invitation,
        questions=questions,
        errors=messages,
        csrf=follow_up_token(invitation.token),
    )
    return page, code, {"Cache-Control": "no-store"}


def after_score(token: str, response: Response, kind: str, thanks_page):
    """Right after a stored score of a survey with a rating grid or follow-up questions: store the grid's ratings
    (checked before the score was stored) and the inline answers (JavaScript showed them), or show the step;
    `thanks_page()` when nothing more is asked."""
    ratings = grid_values(request.form)
    if ratings and store_ratings(db.session, response.id, ratings):
        db.session.commit()
    questions = questions_for(db.session, response.survey_id, kind, response.score)
    if not questions:
        return thanks_page()
    invitation = invitation_by_token(db.session, token)
    g.locale = invitation.locale
    if request.form.get("follow_ups_inline") != "1":
        return step_page(invitation, questions)
    return _stored(invitation, response, questions) or thanks_page()


def _stored(invitation: Invitation, response: Response, questions: list[FollowUpQuestion]):
    """Store the posted follow-up answers; the step again (422) with what is wrong, None when stored (or given
    before: a second submit changes nothing)."""
    try:
        store_follow_ups(db.session, response.id, questions, given_from(request.form, questions), utcnow())
        db.session.commit()
    except FollowUpError as exc:
        db.session.rollback()
        return step_page(invitation, questions, exc.errors, 422)
    except FollowUpsGiven:
        db.session.rollback()
    return None


@bp.post("/s/<token>/more")
@csrf.exempt
def more(token: str):
    """The follow-up step's answers; the invitation must have its score already."""
    if not hmac.compare_digest(request.form.get("csrf_token", ""), follow_up_token(token)):
        raise CSRFError(_("The form is missing its security token."))
    invitation = invitation_by_token(db.session, token)
    if invitation is None:
        abort(404)
    g.locale = invitation.locale
    response = db.session.scalars(select(Response).where(Response.invitation_id == invitation.id)).one_or_none()
    if response is None:
        abort(404)
    questions = questions_for(db.session, response.survey_id, invitation.survey.kind, response.score)
    refused = _stored(invitation, response, questions)
    if refused is not None:
        return refused
    page = render_template("surveys/thanks.html", thanks=invitation.survey.text(invitation.locale, "thanks"))
    return page, 200, {"Cache-Control": "no-store"}
