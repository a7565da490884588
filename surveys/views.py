"""Public survey and unsubscribe pages (no login)."""

from __future__ import annotations

import functools
import hmac
import re

from flask import Blueprint, abort, g, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError

from kundenpuls.dbpool import first_statement, is_disconnect
from kundenpuls.extensions import csrf, db
from kundenpuls.inputs import query_int
from kundenpuls.timeutil import utcnow
from surveys.channels import EMAIL, LINK, PATHS, PERSONAL, QR
from surveys.follow_up_views import after_score
from surveys.follow_ups import active_questions
from surveys.forms import ChurnForm, answer_form_token, churn_form_token, score_form
from surveys.kinds import HIGHEST, KINDS, LOWEST, NPS, SCORED, Kind
from surveys.models import Invitation
from surveys.rating_grid import active_attributes, grid_values
from surveys.services import (
    MAX_COMMENT,
    AlreadyAnswered,
    EmptyChurnAnswer,
    InvitationExpired,
    OffScale,
    Submitted,
    UnknownInvitation,
    active_reasons,
    invitation_by_token,
    is_expired,
    submit_answer,
    submit_churn_answer,
    unsubscribe,
)

bp = Blueprint("surveys", __name__)


@bp.app_template_filter("nps_class")
def nps_class_filter(score: int | None) -> str | None:
    """`{{ score|nps_class }}` in any template: the class from surveys.kinds, so no template knows 9, 7 or 6."""
    return NPS.classify(score)


@bp.app_template_global("survey_kind")
def survey_kind(key: str) -> Kind:
    """`{% set kind = survey_kind(survey.kind) %}`: the scale, classes and positions for a template."""
    return KINDS[key]


@bp.app_template_test("unhappy")
def unhappy_test(case_kind: str) -> bool:
    """`{% if case.kind is unhappy %}`: the case was opened by an answer in its kind's case class."""
    return case_kind in UNHAPPY


UNHAPPY = frozenset(name for kind in SCORED for name in kind.case_classes)
# A score as the form sends it: ASCII digits from the lowest to the highest point any kind has (str.isdigit also
# takes "²" and "٣", which int() refuses); the answer's SQL then checks the survey's own scale.
SCORE = re.compile("|".join(str(n) for n in range(HIGHEST, LOWEST - 1, -1)))


def _load(token: str) -> Invitation:
    invitation = first_statement(db.session, lambda: invitation_by_token(db.session, token))
    if invitation is None:
        abort(404)
    g.locale = invitation.locale
    return invitation


NO_STORE = {"Cache-Control": "no-store"}


def _page(template: str, status: int = 200, **context):
    return render_template(template, **context), status, {"Cache-Control": "no-store"}


@bp.route("/s/<token>", methods=["GET"])
def survey(token: str):
    """The mailed link."""
    return _survey_page(token, EMAIL)


@bp.get(f"/{PATHS[LINK]}/<token>")
def printed(token: str):
    """The printed link, typed in: the same page, the answer recorded as come by that channel."""
    return _survey_page(token, LINK)


@bp.get(f"/{PATHS[QR]}/<token>")
def scanned(token: str):
    """The printed QR code, scanned."""
    return _survey_page(token, QR)


def _survey_page(token: str, channel: str):
    invitation = _load(token)
    closed = _closed(invitation, 200)
    if closed is not None:
        return closed
    if invitation.survey.kind == "churn":
        form = churn_form(invitation, formdata=None, csrf_token=churn_form_token(token))
        return _page("surveys/churn.html", form=form, invitation=invitation)
    kind = KINDS[invitation.survey.kind]
    form = score_form(kind, csrf_token=answer_form_token(token))
    preselect = request.args.get("score", type=query_int)
    if preselect is not None and preselect in kind.scale:
        form.score.data = preselect
    return _page(
        "surveys/survey.html", form=form, invitation=invitation, channel=channel, **after_the_score(invitation.survey)
    )


@bp.post("/s/<token>")
@csrf.exempt
def answer(token: str):
    """The hot path: a valid answer is stored by token in one statement; errors look the invitation up.

    The two fields are checked directly (a tenth of the request's time went to building the WTForms form);
    the form, with its translated messages, is built only to show what is wrong.
    """
    if not hmac.compare_digest(request.form.get("csrf_token", ""), answer_form_token(token)):
        if hmac.compare_digest(request.form.get("csrf_token", ""), churn_form_token(token)):
            return _answer_churn(token)
        raise CSRFError(_("The form is missing its security token."))
    score, comment = request.form.get("score", ""), request.form.get("comment", "")
    channel = request.form.get("channel", EMAIL)
    if (
        not (SCORE.fullmatch(score) and len(comment) <= MAX_COMMENT and channel in PERSONAL)
        or grid_values(request.form) is None
    ):
        return _invalid_answer(token, channel)
    try:
        submitted = _submit_committed(token, int(score), comment, channel)
    except UnknownInvitation:
        abort(404)
    except AlreadyAnswered:
        return _page("surveys/already.html", 409)
    except InvitationExpired:
        abort(410)
    except OffScale:
        return _invalid_answer(token, channel)
    locale = g.locale = submitted.response.locale
    thanks = functools.partial(_thanks_page, locale, submitted.text("thanks"), request.script_root)
    if submitted.asks_more:
        return after_score(token, submitted.response, submitted.kind, lambda: (thanks(), 200, NO_STORE))
    return thanks(), 200, NO_STORE


def _invalid_answer(token: str, channel: str = EMAIL):
    """The form again with what is wrong (a score off the survey's scale, a comment too long); nothing stored."""
    invitation = _load(token)
    closed = _closed(invitation, 409)
    if closed is not None:
        return closed
    if invitation.survey.kind == "churn":
        form = churn_form(invitation, formdata=None, csrf_token=churn_form_token(token))
        return _page("surveys/churn.html", 422, form=form, invitation=invitation)
    form = score_form(KINDS[invitation.survey.kind], csrf_token=answer_form_token(token))
    form.validate()
    channel = channel if channel in PERSONAL else EMAIL
    return _page(
        "surveys/survey.html",
        422,
        form=form,
        invitation=invitation,
        channel=channel,
        **after_the_score(invitation.survey),
    )


def _closed(invitation: Invitation, code: int):
    """The page for an invitation that takes no answer any more (already answered: `code`; expired: 410), else
    None."""
    if invitation.status == "answered":
        return _page("surveys/already.html", code, invitation=invitation)
    if is_expired(invitation, utcnow()):
        abort(410)
    return None


def after_the_score(survey) -> dict:
    """What the score page shows after the score (the page, its 422 and the admin's preview): the rating grid if
    the survey has it, and the follow-up questions (JavaScript shows those for the chosen class)."""
    attributes = active_attributes(db.session) if survey.rating_grid else []
    return {"questions": active_questions(db.session, survey.id), "attributes": attributes}


def churn_form(invitation, **kwargs) -> ChurnForm:
    """The churn form with the reasons on offer, labelled in the invitation's language."""
    form = ChurnForm(**kwargs)
    return form.offer(active_reasons(db.session), invitation.locale, _("Please choose"))


def _answer_churn(token: str):
    """The churn-reason form: not the hot path, so the invitation is loaded first and the form validated."""
    invitation = _load(token)
    closed = _closed(invitation, 409)
    if closed is not None:
        return closed
    if invitation.survey.kind != "churn":
        raise CSRFError(_("The form is missing its security token."))
    form = churn_form(invitation)
    if not form.validate():
        return _page("surveys/churn.html", 422, form=form, invitation=invitation)
    try:
        submitted = submit_churn_answer(
            db.session,
            token,
            [int(value) for value in form.reasons.data or []],
            int(form.main.data) if form.main.data else None,
            form.comment.data,
            form.comeback.data,
            utcnow(),
        )
        db.session.commit()
    except EmptyChurnAnswer:
        db.session.rollback()
        form.reasons.errors = [_("Please tick at least one reason or tell us in your own words.")]
        return _page("surveys/churn.html", 422, form=form, invitation=invitation)
    except AlreadyAnswered:
        return _page("surveys/already.html", 409, invitation=invitation)
    except InvitationExpired:
        abort(410)
    page = _thanks_page(submitted.response.locale, submitted.text("thanks"), request.script_root)
    return page, 200, {"Cache-Control": "no-store"}


def _submit_committed(token: str, score: int, comment: str | None, channel: str) -> Submitted:
    """Store and commit; once more on a fresh connection if the database connection was lost meanwhile.

    Running again is safe: the claim only succeeds for an unanswered invitation, so an answer whose
    COMMIT did reach the database before the connection dropped comes back as "already answered".
    """
    try:
        submitted = submit_answer(db.session, token, score, comment, utcnow(), channel)
        _commit_if_begun()
    except DBAPIError as exc:
        if not is_disconnect(exc):
            raise
        db.session.rollback()
        submitted = submit_answer(db.session, token, score, comment, utcnow(), channel)
        _commit_if_begun()
    return submitted


def _commit_if_begun() -> None:
    """A lone answer committed itself (see submit_answer): the session has nothing to commit unless something began
    a transaction in it, and Session.commit would begin one just to end it."""
    if db.session().in_transaction():
        db.session.commit()


@functools.lru_cache(maxsize=256)
def _thanks_page(locale: str, thanks: str, script_root: str = "") -> str:
    """The same page for every answer in one language of one survey text: rendered once per worker."""
    return render_template("surveys/thanks.html", thanks=thanks)


def _personal(token: str) -> Invitation:
    """The invitation of a known customer: an anonymous link's answer has no one to unsubscribe."""
    invitation = _load(token)
    if invitation.customer is None:
        abort(404)
    return invitation


@bp.route("/u/<token>", methods=["GET"])
def unsubscribe_page(token: str):
    invitation = _personal(token)
    done = invitation.customer.unsubscribed_at is not None
    return _page("surveys/unsubscribe.html", invitation=invitation, done=done)


@bp.route("/u/<token>", methods=["POST"])
@csrf.exempt
def unsubscribe_post(token: str):
    """RFC 8058 one-click: the mail client posts without a CSRF token; the token authorises."""
    invitation = _personal(token)
    unsubscribe(db.session, invitation, utcnow())
    db.session.commit()
    return _page("surveys/unsubscribe.html", invitation=invitation, done=True)
