"""Composing survey mail into the outbox, as finished MIME messages."""

from __future__ import annotations

import hashlib
from datetime import datetime
from email.charset import QP, Charset
from email.header import Header
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, parseaddr

from flask import current_app, render_template
from flask_babel import force_locale
from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from surveys.models import Invitation, OutboxMessage
from surveys.sendwindow import next_window_start

SURVEY_MAIL_KINDS = ("invitation", "reminder")


def mail_domain() -> str:
    address = parseaddr(current_app.config["MAIL_FROM"])[1]
    return address.rpartition("@")[2] or "localhost"


def envelope_sender() -> str:
    return parseaddr(current_app.config["MAIL_FROM"])[1]


def survey_links(invitation: Invitation) -> dict:
    base = current_app.config["BASE_URL"]
    return {
        "survey": f"{base}/s/{invitation.token}",
        "scores": [(n, f"{base}/s/{invitation.token}?score={n}") for n in range(11)],
        "unsubscribe": f"{base}/u/{invitation.token}",
    }


def _utf8_qp() -> Charset:
    charset = Charset("utf-8")
    charset.header_encoding = charset.body_encoding = QP
    return charset


def _header(value: str) -> str:
    """Header values never carry line breaks (no header injection from texts or data)."""
    return " ".join(value.split())


def compose(recipient: str, subject: str, text: str, html: str | None, message_id: str, headers: dict[str, str]) -> str:
    """A multipart (text + HTML) message as ASCII text, ready for SMTP; Date is added when sent.

    Built with the stdlib's email.mime classes: three times faster than EmailMessage's header registry,
    which matters when a job renders a hundred thousand invitations.
    """
    charset = _utf8_qp()
    message = MIMEMultipart("alternative") if html else MIMEText(text, "plain", charset)
    if html:
        message.attach(MIMEText(text, "plain", charset))
        message.attach(MIMEText(html, "html", charset))
    message["From"] = formataddr(parseaddr(_header(current_app.config["MAIL_FROM"])), charset="utf-8")
    message["To"] = _header(recipient)
    subject = _header(subject)
    message["Subject"] = subject if subject.isascii() else Header(subject, charset).encode()
    message["Message-ID"] = _header(message_id)
    message["Auto-Submitted"] = "auto-generated"
    for name, value in headers.items():
        message[name] = _header(value)
    return message.as_string()


def with_date(raw: str, now: datetime) -> bytes:
    """The stored message with its Date header, as sent."""
    return f"Date: {format_datetime(now)}\n{raw}".replace("\r\n", "\n").replace("\n", "\r\n").encode("ascii")


def render_survey_mail(survey, customer, invitation, locale: str, kind: str) -> tuple[str, str, str, dict]:
    """Subject, text, HTML and the unsubscribe link of an invitation or reminder (also for previews)."""
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
        template = "emails/churn" if survey.kind == "churn" else "emails/survey"
        text = render_template(f"{template}.txt", **context)
        html = render_template(f"{template}.html", **context)
    return subject, text, html, links


def _message_id(invitation: Invitation, kind: str, seq: int) -> str:
    return f"<kp.{kind}.{invitation.id}.{seq}.{invitation.token[:10]}@{mail_domain()}>"


def _compose_survey_mail(invitation: Invitation, kind: str, message_id: str) -> tuple[str, str]:
    subject, text, html, links = render_survey_mail(
        invitation.survey, invitation.customer, invitation, invitation.locale, kind
    )
    raw = compose(
        invitation.customer.email,
        subject,
        text,
        html,
        message_id,
        {
            "List-Unsubscribe": f"<{links['unsubscribe']}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    return subject, raw


def queue_survey_mail(session: Session, invitation: Invitation, kind: str, seq: int, now: datetime) -> OutboxMessage:
    """Render the invitation or reminder mail and queue it for the next open send window."""
    survey, customer = invitation.survey, invitation.customer
    message_id = _message_id(invitation, kind, seq)
    subject, raw = _compose_survey_mail(invitation, kind, message_id)
    message = OutboxMessage(
        key=f"{kind}:{invitation.id}:{seq}",
        kind=kind,
        invitation_id=invitation.id,
        customer_id=customer.id,
        recipient=customer.email,
        subject=subject,
        raw=raw,
        message_id=message_id,
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


def queue_mail(
    session: Session,
    key: str,
    kind: str,
    recipient: str,
    subject: str,
    text: str,
    now: datetime,
    html: str | None = None,
    headers: dict[str, str] | None = None,
    customer_id: int | None = None,
) -> OutboxMessage:
    """Queue a mail that is not a survey (a reply, an escalation, a digest): due at once, no send window.

    The unique `key` keeps it from being queued twice; its Message-ID is derived from the key, so it is stable.
    """
    message_id = f"<kp.{kind}.{hashlib.sha256(key.encode()).hexdigest()[:16]}@{mail_domain()}>"
    message = OutboxMessage(
        key=key,
        kind=kind,
        customer_id=customer_id,
        recipient=recipient,
        subject=subject,
        raw=compose(recipient, subject, text, html, message_id, headers or {}),
        message_id=message_id,
        next_attempt_at=now,
        status="pending",
        created_at=now,
    )
    session.add(message)
    return message


def rerender_pending(session: Session, survey_id: int, now: datetime) -> int:
    """Survey edits reach mail not yet sent: pending invitations and reminders are rendered again.

    Same key and Message-ID, new text and send window; mail already sent or being sent is left alone.
    """
    rows = session.execute(
        select(OutboxMessage, Invitation)
        .join(Invitation, Invitation.id == OutboxMessage.invitation_id)
        .where(
            Invitation.survey_id == survey_id,
            OutboxMessage.status == "pending",
            OutboxMessage.kind.in_(SURVEY_MAIL_KINDS),
        )
        .options(joinedload(Invitation.customer), joinedload(Invitation.survey))
    )
    count = 0
    for message, invitation in rows:
        survey = invitation.survey
        message.subject, message.raw = _compose_survey_mail(invitation, message.kind, message.message_id)
        message.window_weekdays = survey.send_weekdays
        message.window_start, message.window_end = survey.send_start, survey.send_end
        message.next_attempt_at = max(
            message.next_attempt_at,
            next_window_start(now, message.window_tz, survey.weekdays, survey.send_start, survey.send_end),
        )
        count += 1
    session.flush()
    return count
