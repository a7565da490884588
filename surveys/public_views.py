"""The anonymous link's pages: /l/<slug> to answer, its poster QR code, and the address confirmation.

No cookie while reading: the one that says "this browser answered this survey" is set by the answer, signed, and
sent back to /l/ pages only. Abuse checks: a rate limit per IP network (shared in Redis when REDIS_URL is set), a
honeypot field, and answers beyond a network's threshold held for review (surveys.public_links).
"""

from __future__ import annotations

import functools
import hmac
import time

from email_validator import EmailNotValidError, validate_email
from flask import Blueprint, abort, current_app, g, make_response, render_template, request
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError
from itsdangerous import BadSignature, URLSafeSerializer

from kundenpuls.extensions import csrf, db, limiter
from kundenpuls.timeutil import utcnow
from messaging.mail import queue_mail
from surveys.follow_up_views import after_score
from surveys.forms import answer_form_token, score_form
from surveys.kinds import KINDS
from surveys.link_views import png_response, png_size, svg_response
from surveys.public_links import (
    Held,
    InvalidConfirmation,
    answer_anonymously,
    confirm,
    confirmation_token,
    link_by_slug,
    network_of,
)
from surveys.public_models import PublicLink
from surveys.services import MAX_COMMENT
from surveys.views import SCORE, after_the_score

# The mail this module queues, as staff pages name it (registered with messaging by the app factory).
MAIL_KINDS = {"confirm": _l("confirmation of an anonymous answer")}


bp = Blueprint("public_links", __name__)
csrf.exempt(bp)

ANSWERED = "kp_answered"
NO_STORE = {"Cache-Control": "no-store"}
LOCALES = ("de", "en")


def _network() -> str:
    return network_of(request.remote_addr)


def _limit() -> str:
    return current_app.config["ANONYMOUS_RATE_LIMIT"]


def _open(slug: str) -> PublicLink:
    link = link_by_slug(db.session, slug)
    if link is None:
        abort(404)
    if not link.open_at(utcnow()):
        abort(410)
    g.locale = _locale()
    return link


def _locale() -> str:
    """The browser's language (or ?lang=), German when it names neither."""
    chosen = request.args.get("lang")
    return chosen if chosen in LOCALES else request.accept_languages.best_match(LOCALES) or "de"


def _form_token(slug: str) -> str:
    return answer_form_token(f"public:{slug}")


def _cookie() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="kundenpuls.answered")


def _answered() -> dict[str, int]:
    raw = request.cookies.get(ANSWERED)
    try:
        data = _cookie().loads(raw) if raw else {}
    except BadSignature:
        return {}
    return data if isinstance(data, dict) else {}


def _answered_lately(link: PublicLink) -> bool:
    at = _answered().get(str(link.survey_id))
    return isinstance(at, int) and time.time() - at < link.once_per_days * 86400


def _remember(response, link: PublicLink):
    """The browser answered this survey now: the one cookie these pages set."""
    now = int(time.time())
    kept = {k: v for k, v in _answered().items() if isinstance(v, int) and now - v < 400 * 86400}
    kept[str(link.survey_id)] = now
    response.set_cookie(
        ANSWERED, _cookie().dumps(kept), max_age=link.once_per_days * 86400, path="/l/",
        secure=request.is_secure or current_app.config["KUNDENPULS_ENV"] == "production", httponly=True,
        samesite="Lax",
    )  # fmt: skip
    return response


def _page(link: PublicLink, form, status: int = 200, **context):
    survey = link.survey
    page = render_template(
        "surveys/survey.html",
        survey=survey,
        locale=g.locale,
        action=request.path if request.method == "POST" else f"{request.script_root}/l/{link.slug}",
        anonymous=True,
        ask_email=link.ask_email,
        form=form,
        channel=None,
        **after_the_score(survey),
        **context,
    )
    return page, status, NO_STORE


def _already(link: PublicLink, status: int):
    page = render_template("surveys/already.html", anonymous=True, days=link.once_per_days)
    return page, status, NO_STORE


@bp.get("/l/<slug>")
def survey(slug: str):
    link = _open(slug)
    if _answered_lately(link):
        return _already(link, 200)
    return _page(link, score_form(KINDS[link.survey.kind], csrf_token=_form_token(slug)))


@bp.post("/l/<slug>")
@limiter.limit(_limit, key_func=_network)
def answer(slug: str):
    link = _open(slug)
    if not hmac.compare_digest(request.form.get("csrf_token", ""), _form_token(slug)):
        raise CSRFError(_("The form is missing its security token."))
    kind = KINDS[link.survey.kind]
    thanks = functools.partial(_thanks, link)
    if request.form.get("website"):  # the honeypot: a person never sees it; say thanks, store nothing
        return thanks()
    if _answered_lately(link):
        return _already(link, 409)
    score, comment = request.form.get("score", ""), request.form.get("comment", "")
    email, email_error = _email(link)
    if not (SCORE.fullmatch(score) and int(score) in kind.scale and len(comment) <= MAX_COMMENT) or email_error:
        form = score_form(kind, csrf_token=_form_token(slug))
        form.validate()
        return _page(link, form, 422, email=request.form.get("email", ""), email_error=email_error)
    now = utcnow()
    outcome = answer_anonymously(db.session, link, int(score), comment, g.locale, _network(), now)
    if isinstance(outcome, Held):
        db.session.commit()
        return _remember(make_response(thanks()), link)
    submitted = outcome.submitted
    if email:
        _queue_confirmation(submitted.response.id, email, now)
    more = submitted.asks_more
    page = after_score(outcome.token, submitted.response, submitted.kind, thanks) if more else thanks()
    db.session.commit()
    return _remember(make_response(page), link)


def _thanks(link: PublicLink):
    text = link.survey.text(g.locale, "thanks")
    return render_template("surveys/thanks.html", thanks=text), 200, NO_STORE


def _email(link: PublicLink) -> tuple[str | None, str | None]:
    raw = (request.form.get("email") or "").strip()
    if not raw or not link.ask_email:
        return None, None
    try:
        return validate_email(raw, check_deliverability=False).normalized, None
    except EmailNotValidError:
        return None, _("Please enter a valid email address, or leave the field empty.")


def _queue_confirmation(response_id: int, email: str, now) -> None:
    url = f"{current_app.config['BASE_URL']}/l/confirm/{confirmation_token(response_id, email)}"
    with force_locale(g.locale):
        subject = _("Please confirm your answer")
        text = render_template("emails/confirm_answer.txt", url=url)
    queue_mail(db.session, f"confirm:{response_id}", "confirm", email, subject, text, now)


@bp.get("/l/<slug>/qr.svg")
def poster_svg(slug: str):
    link = _known(slug)
    return svg_response(f"{current_app.config['BASE_URL']}/l/{link.slug}")


@bp.get("/l/<slug>/qr.png")
def poster_png(slug: str):
    size = png_size()
    link = _known(slug)
    return png_response(f"{current_app.config['BASE_URL']}/l/{link.slug}", size)


def _known(slug: str) -> PublicLink:
    link = link_by_slug(db.session, slug)
    if link is None:
        abort(404)
    return link


@bp.get("/l/confirm/<token>")
def confirm_page(token: str):
    """A button, not the change itself: mail scanners open links, and must not confirm for the reader."""
    g.locale = _locale()
    return render_template("surveys/confirm.html", token=token, state="ask"), 200, NO_STORE


@bp.post("/l/confirm/<token>")
def confirm_post(token: str):
    g.locale = _locale()
    try:
        customer = confirm(db.session, token, utcnow())
    except InvalidConfirmation:
        return render_template("surveys/confirm.html", state="invalid"), 400, NO_STORE
    db.session.commit()
    state = "linked" if customer is not None else "unknown"
    return render_template("surveys/confirm.html", state=state), 200, NO_STORE
