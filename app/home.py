"""The staff home page: what each role looks at first in the morning, every figure a link to its page.

Agents see their open cases, what falls due today and new cases nobody took; managers also NPS this month against
last (with its interval and the test of the change), the customers at risk and the detractors per value class,
queue health and open suggestions; admins also outgoing mail and webhooks. It lives in the roof because it reads
from every package; each package answers with one small query of its own.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, current_app, redirect, render_template, url_for
from flask_login import current_user

from analytics.chart import nps_point, sparkline
from analytics.queries import recent_months
from feedback.queries import agent_overview, queue_health_counts
from integrations.delivery import webhook_health
from kundenpuls.extensions import db
from kundenpuls.timeutil import utcnow
from messaging.queries import mail_health
from retention.cockpit import by_value_class
from retention.suggestions import open_count

bp = Blueprint("home", __name__)


def day_end(now: datetime, timezone: str) -> datetime:
    """The end of the staff's calendar day (midnight in STAFF_TIMEZONE), in UTC."""
    local = now.astimezone(ZoneInfo(timezone))
    midnight = datetime.combine(local.date() + timedelta(days=1), time(), tzinfo=local.tzinfo)
    return midnight.astimezone(UTC)


@bp.get("/")
def index():
    if not current_user.is_authenticated:  # the start address: straight to sign-in, no "please log in" alarm
        return redirect(url_for("auth.login"))
    now, session, config = utcnow(), db.session, current_app.config
    today = now.astimezone(ZoneInfo(config["STAFF_TIMEZONE"])).date()
    page = {"agent": agent_overview(session, current_user.id, now, day_end(now, config["STAFF_TIMEZONE"]))}
    if current_user.has_role("manager"):
        months = recent_months(session, today, min_answers=config["NPS_MIN_ANSWERS"])
        points = [nps_point(p.start, p.figure) for p in months.periods]
        page |= {
            "this_month": months.periods[-1],
            "last_month": months.periods[-2],
            "trend": sparkline(points, "NPS", -100, 100),
            "classes": by_value_class(session),
            "queue": queue_health_counts(session, now),
            "suggestions": open_count(session),
        }
    if current_user.has_role("admin"):
        page |= {"mail": mail_health(session, now), "webhooks": webhook_health(session)}
    return render_template("staff/home.html", now=now, **page)
