"""Survey mail: invitations and reminders rendered in the customer's language and queued in the outbox."""

from __future__ import annotations

import functools
import secrets
import uuid
from datetime import datetime
from types import SimpleNamespace
from typing import NamedTuple

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from markupsafe import escape
from sqlalchemy import bindparam, case, select, update
from sqlalchemy.orm import Session, joinedload

from customers.models import Customer
from messaging.mail import mail_domain
from messaging.mail_template import MailTemplate
from messaging.models import OutboxMessage
from messaging.sendwindow import next_window_start
from surveys.kinds import KINDS
from surveys.models import Invitation, Survey
from surveys.signals import invitations_sent

# The mail this module queues, as staff pages name it (registered with messaging by the app factory).
MAIL_KINDS = {"invitation": _l("survey invitation"), "reminder": _l("survey reminder")}


SURVEY_MAIL_KINDS = tuple(MAIL_KINDS)


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


class Recipient(NamedTuple):
    """What a survey mail needs of its invitation and customer."""

    invitation_id: int
    token: str
    locale: str
    customer_id: int
    email: str
    name: str | None
    timezone: str | None


UNSUBSCRIBE_HEADERS = ("List-Unsubscribe", "List-Unsubscribe-Post")


class SurveyMails:
    """Survey mail rendered once per survey x mail kind x language (x with or without a name x token length), then
    filled in per invitation (messaging.mail_template): Jinja and the MIME tree were two thirds of creating an
    invitation (240 a second, profiled). The token and the name are rendered as markers; the result is the mail
    `render_survey_mail` and `compose` write (tests/surveys/test_campaign_mail.py). One per job run, so an edited
    survey is rendered afresh next time."""

    def __init__(self) -> None:
        self._name = f"kpname{uuid.uuid4().hex}"
        self._templates: dict[tuple, MailTemplate] = {}
        self._windows: dict[tuple, datetime] = {}
        self._domain = mail_domain()
        self._base = current_app.config["BASE_URL"]

    def _template(self, survey: Survey, locale: str, kind: str, named: bool, token_length: int) -> MailTemplate:
        key = (survey.id, locale, kind, named, token_length)
        if key not in self._templates:
            token = secrets.token_hex(token_length)[:token_length]
            customer = SimpleNamespace(name=self._name if named else None)
            invitation = SimpleNamespace(token=token, survey=survey)
            subject, text, html, _ = render_survey_mail(survey, customer, invitation, locale, kind)
            self._templates[key] = MailTemplate(subject, UNSUBSCRIBE_HEADERS, text, html, token, self._name)
        return self._templates[key]

    def message(
        self, survey: Survey, to: Recipient, kind: str, seq: int, message_id: str | None = None
    ) -> tuple[str, str, str]:
        """Subject, Message-ID (a queued mail keeps its own) and the finished message of one invitation's mail."""
        mail = self._template(survey, to.locale, kind, bool(to.name), len(to.token))
        message_id = message_id or f"<kp.{kind}.{to.invitation_id}.{seq}.{to.token[:10]}@{self._domain}>"
        unsubscribe = f"<{self._base}/u/{to.token}>"
        name = to.name or ""
        raw = mail.fill(
            to.email, message_id, (unsubscribe, "List-Unsubscribe=One-Click"), to.token, name, str(escape(name))
        )
        return mail.subject, message_id, raw

    def window_start(self, survey: Survey, timezone: str | None, now: datetime) -> datetime:
        key = (survey.id, timezone, now)
        if key not in self._windows:
            self._windows[key] = next_window_start(now, timezone, survey.weekdays, survey.send_start, survey.send_end)
        return self._windows[key]

    def outbox_row(self, survey: Survey, to: Recipient, kind: str, seq: int, now: datetime) -> dict:
        """The outbox row of an invitation or reminder, due at the next open send window in the customer's zone."""
        subject, message_id, raw = self.message(survey, to, kind, seq)
        return {
            "key": f"{kind}:{to.invitation_id}:{seq}",
            "kind": kind,
            "invitation_id": to.invitation_id,
            "customer_id": to.customer_id,
            "recipient": to.email,
            "subject": subject,
            "raw": raw,
            "message_id": message_id,
            "window_tz": to.timezone,
            "window_weekdays": survey.send_weekdays,
            "window_start": survey.send_start,
            "window_end": survey.send_end,
            "next_attempt_at": self.window_start(survey, to.timezone, now),
            "status": "pending",
            "created_at": now,
        }


def recipient(invitation: Invitation) -> Recipient:
    customer = invitation.customer
    return Recipient(
        invitation.id,
        invitation.token,
        invitation.locale,
        customer.id,
        customer.email,
        customer.name,
        customer.timezone,
    )


def queue_survey_mail(
    session: Session, invitation: Invitation, kind: str, seq: int, now: datetime, mails: SurveyMails
) -> OutboxMessage:
    """Queue the invitation or reminder mail for the next open send window."""
    message = OutboxMessage(**mails.outbox_row(invitation.survey, recipient(invitation), kind, seq, now))
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
    count, mails = 0, SurveyMails()
    for message, invitation in rows:
        survey = invitation.survey
        message.subject, _, message.raw = mails.message(
            survey, recipient(invitation), message.kind, 0, message_id=message.message_id
        )
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
