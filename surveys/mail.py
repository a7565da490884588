"""Composing survey mail into the outbox, and turning outbox rows into MIME messages."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr

from flask import current_app, render_template
from flask_babel import force_locale
from sqlalchemy.orm import Session

from surveys.models import Invitation, OutboxMessage
from surveys.sendwindow import next_window_start

SURVEY_MAIL_KINDS = ("invitation", "reminder")


def _mail_domain() -> str:
    address = parseaddr(current_app.config["MAIL_FROM"])[1]
    return address.rpartition("@")[2] or "localhost"


def survey_links(invitation: Invitation) -> dict:
    base = current_app.config["BASE_URL"]
    return {
        "scores": [(n, f"{base}/s/{invitation.token}?score={n}") for n in range(11)],
        "survey": f"{base}/s/{invitation.token}",
        "unsubscribe": f"{base}/u/{invitation.token}",
    }


def queue_survey_mail(session: Session, invitation: Invitation, kind: str, seq: int, now: datetime) -> OutboxMessage:
    """Render the invitation or reminder mail and queue it for the next open send window."""
    survey, customer = invitation.survey, invitation.customer
    locale = invitation.locale
    links = survey_links(invitation)
    context = {
        "survey": survey,
        "locale": locale,
        "customer": customer,
        "links": links,
        "reminder": kind == "reminder",
        "text": lambda name: survey.text(locale, name),
    }
    with force_locale(locale):
        subject = survey.text(locale, "reminder_subject" if kind == "reminder" else "subject")
        body_text = render_template("emails/survey.txt", **context)
        body_html = render_template("emails/survey.html", **context)
    key = f"{kind}:{invitation.id}:{seq}"
    message = OutboxMessage(
        key=key,
        kind=kind,
        invitation_id=invitation.id,
        customer_id=customer.id,
        recipient=customer.email,
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        headers={
            "List-Unsubscribe": f"<{links['unsubscribe']}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        message_id=f"<kp.{kind}.{invitation.id}.{seq}.{invitation.token[:10]}@{_mail_domain()}>",
        window_tz=customer.timezone,
        window_weekdays=survey.send_weekdays,
        window_start=survey.send_start,
        window_end=survey.send_end,
        next_attempt_at=next_window_start(now, customer.timezone, survey.weekdays, survey.send_start, survey.send_end),
        status="pending",
        created_at=now,
    )
    session.add(message)
    return message


def build_email(message: OutboxMessage, mail_from: str, now: datetime) -> EmailMessage:
    """The MIME message for an outbox row: text first, HTML as the alternative."""
    email = EmailMessage()
    email["From"] = mail_from
    email["To"] = formataddr(("", message.recipient))
    email["Subject"] = message.subject
    email["Message-ID"] = message.message_id
    email["Date"] = format_datetime(now)
    email["Auto-Submitted"] = "auto-generated"
    for name, value in (message.headers or {}).items():
        email[name] = value
    email.set_content(message.body_text)
    if message.body_html:
        email.add_alternative(message.body_html, subtype="html")
    return email
