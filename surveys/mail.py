"""Survey mail: invitations and reminders rendered in the customer's language and queued in the outbox."""

from __future__ import annotations

import functools
from datetime import datetime

from flask import current_app, render_template
from flask_babel import force_locale
from sqlalchemy import bindparam, case, select, update
from sqlalchemy.orm import Session, joinedload

from customers.models import Customer
from messaging.mail import compose, mail_domain
from messaging.models import OutboxMessage
from messaging.sendwindow import next_window_start
from surveys.kinds import KINDS
from surveys.models import Invitation
from surveys.signals import invitations_sent

SURVEY_MAIL_KINDS = ("invitation", "reminder")


def survey_links(invitation: Invitation) -> dict:
    """The survey page, a one-click link per point of the survey kind's scale, and the unsubscribe link."""
    base = current_app.config["BASE_URL"]
    return {
        "survey": f"{base}/s/{invitation.token}",
        "scores": [(n, f"{base}/s/{invitation.token}?score={n}") for n in KINDS[invitation.survey.kind].scale],
        "unsubscribe": f"{base}/u/{invitation.token}",
    }


def render_survey_mail(survey, customer, invitation, locale: str, kind: str) -> tuple[str, str, str, dict]:
    """Subject, text, HTML and the unsubscribe link of an invitation or reminder (also for previews)."""
    links = survey_links(invitation)
    context = {
        "survey": survey,
        "locale": locale,
        "customer": customer,
        "links": links,
        "reminder": kind == "reminder",
        "kind": KINDS[survey.kind],
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


def withdrawn_survey_mail(session: Session, rows: list) -> dict[int, str]:
    """Outbox check (messaging.outbox.add_withdrawal_check): survey mail is not sent once its invitation was
    answered, expired or cancelled, or its customer unsubscribed."""
    ids = {row.invitation_id for row in rows if row.invitation_id is not None}
    states = {
        invitation_id: (status, unsubscribed)
        for invitation_id, status, unsubscribed in session.execute(
            select(Invitation.id, Invitation.status, Customer.unsubscribed_at)
            .join(Customer, Customer.id == Invitation.customer_id)
            .where(Invitation.id.in_(ids))
        )
    }
    withdrawn = {}
    for row in rows:
        status, unsubscribed = states.get(row.invitation_id, ("missing", None))
        if unsubscribed is not None:
            withdrawn[row.id] = "unsubscribed"
        elif status not in ("pending", "sent"):
            withdrawn[row.id] = f"invitation {status}"
    return withdrawn


@functools.cache
def _record_mailed():
    """One UPDATE per run of sent survey mail, built once (a run is a few messages). Each row updated twice (a first
    mail) left two new row versions and their index entries."""
    now = bindparam("sent_now", type_=Invitation.sent_at.type)
    first_mail = Invitation.id.in_(bindparam("first_ids", expanding=True)) & Invitation.sent_at.is_(None)
    return (
        update(Invitation)
        .where(Invitation.id.in_(bindparam("mailed_ids", expanding=True)))
        .values(
            last_mailed_at=now,
            status=case((first_mail & (Invitation.status == "pending"), "sent"), else_=Invitation.status),
            sent_at=case((first_mail, now), else_=Invitation.sent_at),
        )
    )


def on_messages_sent(_sender, session: Session, rows: list, now: datetime, **_: object) -> None:
    """Sent survey mail marks its invitation mailed, in the transaction that records the sending. An invitation
    answered before its first mail was recorded still gets its `sent_at` (and counts as mailed in the rollup)."""
    mailed = [row.invitation_id for row in rows if row.invitation_id is not None]
    if not mailed:
        return
    first = [row.invitation_id for row in rows if row.invitation_id is not None and row.kind == "invitation"]
    session.execute(_record_mailed(), {"mailed_ids": mailed, "first_ids": first or [-1], "sent_now": now})
    if first:
        invitations_sent.send(None, session=session, invitation_ids=first, now=now)
