"""Scheduled work of the feedback queue: escalate cases whose SLA ran out."""

from __future__ import annotations

from datetime import datetime

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from feedback.models import OPEN, Case
from kundenpuls import audit
from kundenpuls.models import User
from messaging.mail import queue_mail

# The mail this module queues, as staff pages name it (registered with messaging by the app factory).
MAIL_KINDS = {"escalation": _l("escalation of an overdue case")}


BATCH = 500


def escalation_level(case: Case) -> int:
    """1: first contact is overdue; 2: resolution is overdue."""
    return 1 if case.first_contact_at is None else 2


def escalation_recipients(session: Session) -> list[str]:
    """The managers (admins when there are none), plus the team address if one is set."""
    managers = session.scalars(select(User.email).where(User.role == "manager", User.active.is_(True))).all()
    if not managers:
        managers = session.scalars(select(User.email).where(User.role == "admin", User.active.is_(True))).all()
    extra = current_app.config.get("ESCALATION_EMAIL")
    return sorted(set(managers) | ({extra} if extra else set()))


def escalate_overdue(session: Session, now: datetime) -> int:
    """Mark overdue open cases and mail the managers, once per case and level (also with two schedulers)."""
    overdue = session.scalars(
        select(Case)
        .where(Case.status.in_(OPEN), Case.next_due_at < now, Case.escalation_level < 2)
        .order_by(Case.rank_at)
        .limit(BATCH)
    ).all()
    recipients = escalation_recipients(session) if overdue else []
    escalated = 0
    for case in overdue:
        level = escalation_level(case)
        if case.escalation_level >= level:
            continue
        # The conditional UPDATE is the claim: a second scheduler finds the level already raised.
        claimed = session.execute(
            update(Case.__table__)
            .where(Case.id == case.id, Case.escalation_level < level)
            .values(escalation_level=level)
        ).rowcount
        if not claimed:
            continue
        audit.record(
            session, "case", case.id, "escalated", None, now, {"level": case.escalation_level}, {"level": level}
        )
        _queue_escalation_mails(session, case, level, recipients, now)
        escalated += 1
    session.commit()
    return escalated


def _queue_escalation_mails(session: Session, case: Case, level: int, recipients: list[str], now: datetime) -> None:
    link = f"{current_app.config['BASE_URL']}/cases/{case.id}"
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        subject = _("Case %(id)s is overdue", id=case.id)
        text = render_template("emails/escalation.txt", case=case, level=level, link=link, now=now)
    for recipient in recipients:
        key = f"escalation:{case.id}:{level}:{recipient}"
        queue_mail(session, key, "escalation", recipient, subject, text, now, customer_id=case.customer_id)


JOBS = (("escalate_overdue", escalate_overdue),)
