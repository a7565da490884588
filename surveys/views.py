"""Public survey and unsubscribe pages (no login), and the staff dev mailbox."""

from __future__ import annotations

import re
from email import message_from_string, policy

from flask import Blueprint, abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_required
from sqlalchemy import select

from kundenpuls.extensions import csrf, db
from kundenpuls.timeutil import utcnow
from surveys.forms import NpsForm
from surveys.models import DevMail, Invitation, OutboxMessage
from surveys.queries import outbox_counts, outbox_problems
from surveys.services import (
    AlreadyAnswered,
    InvitationExpired,
    invitation_by_token,
    is_expired,
    record_response,
    retry_failed,
    unsubscribe,
)

bp = Blueprint("surveys", __name__)


def _load(token: str) -> Invitation:
    invitation = invitation_by_token(db.session, token)
    if invitation is None:
        abort(404)
    g.locale = invitation.locale
    return invitation


def _page(template: str, status: int = 200, **context):
    return render_template(template, **context), status, {"Cache-Control": "no-store"}


@bp.route("/s/<token>", methods=["GET", "POST"])
def survey(token: str):
    invitation = _load(token)
    now = utcnow()
    if invitation.status == "answered":
        return _page("surveys/already.html", 409 if request.method == "POST" else 200, invitation=invitation)
    if is_expired(invitation, now):
        abort(410)
    form = NpsForm()
    if request.method == "GET":
        preselect = request.args.get("score", type=int)
        if preselect is not None and 0 <= preselect <= 10:
            form.score.data = preselect
        return _page("surveys/survey.html", form=form, invitation=invitation)
    if not form.validate_on_submit():
        return _page("surveys/survey.html", 422, form=form, invitation=invitation)
    thanks = invitation.survey.text(invitation.locale, "thanks")
    try:
        record_response(db.session, invitation, form.score.data, form.comment.data, now)
    except AlreadyAnswered:
        return _page("surveys/already.html", 409)
    except InvitationExpired:
        abort(410)
    db.session.commit()
    return _page("surveys/thanks.html", thanks=thanks)


@bp.route("/u/<token>", methods=["GET"])
def unsubscribe_page(token: str):
    invitation = _load(token)
    done = invitation.customer.unsubscribed_at is not None
    return _page("surveys/unsubscribe.html", invitation=invitation, done=done)


@bp.route("/u/<token>", methods=["POST"])
@csrf.exempt
def unsubscribe_post(token: str):
    """RFC 8058 one-click: the mail client posts without a CSRF token; the token authorises."""
    invitation = _load(token)
    unsubscribe(db.session, invitation, utcnow())
    db.session.commit()
    return _page("surveys/unsubscribe.html", invitation=invitation, done=True)


@bp.route("/outbox")
@login_required
def outbox():
    return render_template("staff/outbox.html", counts=outbox_counts(db.session), problems=outbox_problems(db.session))


@bp.route("/outbox/<int:message_id>/retry", methods=["POST"])
@login_required
def outbox_retry(message_id: int):
    message = db.get_or_404(OutboxMessage, message_id)
    if retry_failed(db.session, message, utcnow()):
        db.session.commit()
        flash(_("The mail is queued again."), "info")
    return redirect(url_for("surveys.outbox"))


@bp.route("/mailbox")
@login_required
def mailbox():
    if current_app.config.get("SMTP_URL"):
        abort(404)
    mails = db.session.scalars(select(DevMail).order_by(DevMail.id.desc()).limit(200)).all()
    return render_template("staff/mailbox.html", mails=mails)


@bp.route("/mailbox/<int:mail_id>")
@login_required
def mailbox_message(mail_id: int):
    if current_app.config.get("SMTP_URL"):
        abort(404)
    mail = db.get_or_404(DevMail, mail_id)
    parsed = message_from_string(mail.raw, policy=policy.default)
    plain = parsed.get_body(("plain",))
    text = plain.get_content() if plain is not None else ""
    headers = [(name, parsed[name]) for name in ("From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe")]
    return render_template(
        "staff/mailbox_message.html", mail=mail, headers=headers, text=text, links=re.findall(r"https?://\S+", text)
    )
