"""The built-in detractor alert: an email per new detractor case to the managers and/or a team address."""

from __future__ import annotations

from datetime import datetime

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from feedback.models import Case
from integrations.models import AlertSettings
from kundenpuls.models import User
from messaging.mail import queue_mail

# The mail this module queues, as staff pages name it (registered with messaging by the app factory).
MAIL_KINDS = {"alert": _l("detractor alert")}


def alert_settings(session: Session) -> AlertSettings:
    """The one settings row (the migration creates it; a missing row means the defaults)."""
    return session.scalar(select(AlertSettings).order_by(AlertSettings.id).limit(1)) or AlertSettings(
        detractor_alerts=True, to_managers=True, recipients=""
    )


def alert_recipients(session: Session, settings: AlertSettings) -> list[str]:
    managers = (
        session.scalars(select(User.email).where(User.role == "manager", User.active.is_(True))).all()
        if settings.to_managers
        else []
    )
    return sorted(set(managers) | set(settings.recipient_list))


def on_case_opened(case: Case, session: Session, now: datetime, **kwargs: object) -> None:
    """Receiver of feedback.signals.case_opened: detractor cases are mailed in the case's own transaction."""
    if case.kind != "detractor":
        return
    settings = alert_settings(session)
    if not settings.detractor_alerts:
        return
    recipients = alert_recipients(session, settings)
    if not recipients:
        return
    link = f"{current_app.config['BASE_URL']}/cases/{case.id}"
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        subject = _("Detractor: score %(score)s from %(customer)s", score=case.score, customer=_customer(case))
        text = render_template("emails/detractor_alert.txt", case=case, link=link, customer=_customer(case))
    for recipient in recipients:
        queue_mail(
            session,
            f"alert:{case.id}:{recipient}",
            "alert",
            recipient,
            subject,
            text,
            now,
            customer_id=case.customer_id,
        )


def _customer(case: Case) -> str:
    customer = case.customer
    return (customer.name or customer.external_id) if customer else "?"
