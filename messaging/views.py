"""Staff pages of the outbox (what failed, sending again) and of the dev mailbox."""

from __future__ import annotations

import re
from email import message_from_string, policy

from babel.dates import get_day_names
from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from kundenpuls.auth import role_required
from kundenpuls.extensions import db
from kundenpuls.timeutil import utcnow
from messaging.mail import KIND_LABELS
from messaging.models import DevMail, OutboxMessage
from messaging.queries import STATUS_LABELS, outbox_counts, outbox_problems, waiting
from messaging.sendwindow import DEFAULT_TZ

bp = Blueprint("messaging", __name__)


def retry_failed(session, message: OutboxMessage, now) -> bool:
    """Staff send a failed mail again, unchanged, e.g. after the receiving side fixed a mailbox."""
    if message.status != "failed":
        return False
    message.status, message.next_attempt_at = "pending", now
    session.flush()
    return True


@bp.route("/outbox")
@login_required
def outbox():
    now = utcnow()
    return render_template(
        "messaging/outbox.html",
        counts=outbox_counts(db.session),
        problems=outbox_problems(db.session),
        waiting=waiting(db.session, now),
        now=now,
        kinds=KIND_LABELS,
        statuses=STATUS_LABELS,
        day_names=get_day_names("abbreviated", locale=get_locale()),
        default_tz=DEFAULT_TZ,
    )


@bp.route("/outbox/<int:message_id>/retry", methods=["POST"])
@login_required
def outbox_retry(message_id: int):
    message = db.get_or_404(OutboxMessage, message_id)
    if retry_failed(db.session, message, utcnow()):
        db.session.commit()
        flash(_("The mail is queued again."), "info")
    return redirect(url_for("messaging.outbox"))


def _dev_mailbox_open() -> bool:
    """The dev mailbox holds live survey links: only without SMTP and never in production (admins only)."""
    config = current_app.config
    return not config.get("SMTP_URL") and config["KUNDENPULS_ENV"] != "production"


@bp.app_template_global("dev_mailbox_link")
def dev_mailbox_link() -> bool:
    """Whether pages offer the dev mailbox to the signed-in user: where it is open, to admins."""
    return _dev_mailbox_open() and current_user.is_authenticated and current_user.has_role("admin")


@bp.route("/mailbox")
@role_required("admin")
def mailbox():
    if not _dev_mailbox_open():
        abort(404)
    mails = db.session.scalars(select(DevMail).order_by(DevMail.id.desc()).limit(200)).all()
    return render_template("messaging/mailbox.html", mails=mails)


@bp.route("/mailbox/<int:mail_id>")
@role_required("admin")
def mailbox_message(mail_id: int):
    if not _dev_mailbox_open():
        abort(404)
    mail = db.get_or_404(DevMail, mail_id)
    parsed = message_from_string(mail.raw, policy=policy.default)
    plain = parsed.get_body(("plain",))
    text = plain.get_content() if plain is not None else ""
    headers = [(name, parsed[name]) for name in ("From", "To", "Subject", "Date", "Message-ID", "List-Unsubscribe")]
    return render_template(
        "messaging/mailbox_message.html", mail=mail, headers=headers, text=text, links=re.findall(r"https?://\S+", text)
    )
