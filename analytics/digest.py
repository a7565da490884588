"""The weekly digest for managers: last week's NPS and trend, what changed, detractor themes, queue health.

Sent on Mondays from 07:00 UTC for the week before, once per week and recipient (the outbox key is unique,
so a second scheduler or a second tick the same week adds nothing). The trend is a table with bars made of
HTML cells, readable in every mail client without images.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session

from analytics.drivers import recent_comments
from analytics.queries import ReportFilter, nps_report
from analytics.themes import themes
from feedback.models import OPEN, Case
from kundenpuls.models import User
from messaging.mail import queue_mail
from messaging.models import OutboxMessage
from surveys.kinds import NPS
from surveys.models import surveys_of_kind

# The mail this module queues, as staff pages name it (registered with messaging by the app factory).
MAIL_KINDS = {"digest": _l("weekly digest")}


SEND_HOUR_UTC = 7
WEEKS = 8


def digest_recipients(session: Session) -> list[str]:
    return list(
        session.scalars(
            select(User.email).where(User.role.in_(("manager", "admin")), User.active.is_(True)).order_by(User.email)
        )
    )


def digest_content(session: Session, now: datetime) -> dict:
    """Everything the digest shows, for the full week (Monday to Sunday) before `now`."""
    this_monday = (now - timedelta(days=now.weekday())).date()
    last_week = this_monday - timedelta(days=7)
    report = nps_report(
        session, last_week - timedelta(weeks=WEEKS - 1), last_week + timedelta(days=6), "week", ReportFilter()
    )
    week = report.periods[-1]
    significant = [p for p in report.periods if p.change is not None and p.change.significant]
    detractor_themes = themes(
        recent_comments(session, last_week, last_week + timedelta(days=6), ReportFilter(), False, 5000)
    )
    open_cases, overdue = session.execute(
        select(
            func.count().filter(Case.status.in_(OPEN)),
            func.count().filter(and_(Case.status.in_(OPEN), Case.next_due_at < now)),
        ).select_from(Case)
    ).one()
    return {
        "week_start": last_week,
        "surveys": surveys_of_kind(session, NPS),
        "week": week,
        "periods": report.periods,
        "significant": significant,
        "themes": detractor_themes[:8],
        "open_cases": open_cases,
        "overdue": overdue,
        "link": f"{current_app.config['BASE_URL']}/reports/nps?interval=week",
    }


def send_weekly_digest(session: Session, now: datetime) -> int | None:
    """Queue the digest for every manager; None when it is not digest time. Returns mails queued."""
    if now.weekday() != 0 or now.hour < SEND_HOUR_UTC:
        return None
    recipients = digest_recipients(session)
    iso_year, iso_week, _weekday = (now.date() - timedelta(days=7)).isocalendar()
    week_key = f"{iso_year}-W{iso_week:02d}"
    existing = set(
        session.scalars(select(OutboxMessage.recipient).where(OutboxMessage.key.like(f"digest:{week_key}:%")))
    )
    todo = [r for r in recipients if r not in existing]
    if not todo:
        return 0
    content = digest_content(session, now)
    with force_locale(current_app.config["BABEL_DEFAULT_LOCALE"]):
        nps = content["week"].figure.nps
        subject = _("Weekly NPS %(week)s: %(nps)s", week=week_key, nps="—" if nps is None else f"{nps:+.0f}")
        text = render_template("emails/digest.txt", **content)
        html = render_template("emails/digest.html", **content)
    for recipient in todo:
        queue_mail(session, f"digest:{week_key}:{recipient}", "digest", recipient, subject, text, now, html=html)
    session.commit()
    return len(todo)
