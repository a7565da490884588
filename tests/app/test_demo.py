"""Demo data: what `demo seed` promises a first look at the product shows - a fitted purchase model, customers
at risk, detractors leaving sooner than promoters, and cases and suggestions to work."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from analytics.channel_report import by_channel
from analytics.co_purchase import baskets, bought_together
from analytics.contacts import contact_report
from analytics.importance_report import Segment, importance_report
from analytics.leaving import leaving_report
from analytics.models import ModelFit
from analytics.queries import ReportFilter
from app.demo import seed_demo
from app.demo_live import RECENT_DAYS
from app.demo_texts import DEMO_CUSTOMERS
from customers.values import current_value_settings
from feedback.jobs import escalate_overdue
from feedback.models import OPEN, Case
from messaging.models import DevMail
from retention.cockpit import portfolio
from retention.models import CustomerSegment, RetentionRule, Suggestion
from retention.rules import sentence

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
# The same data on either database (`make run` seeds SQLite; tests/app/test_shell.py seeds PostgreSQL too): the
# PostgreSQL pass skips this 21-second check.
pytestmark = pytest.mark.one_database


def test_demo_data_makes_the_model_pages_meaningful(session, app):
    """The demo as `make run` seeds it (a smaller or other seed may show the leaving pattern too weakly: its
    log-rank p over 1,200 customers ranged from 0.001 to 0.98 across seeds)."""
    summary = seed_demo(session, NOW)
    assert summary["customers"] == DEMO_CUSTOMERS and summary["purchases"] > 2000 and summary["responses"] > 300
    assert summary["model fit"] == "good"
    fit = session.scalars(select(ModelFit)).one()
    assert fit.status == "good" and fit.as_of == (NOW - timedelta(days=1)).date()
    at_risk = session.scalar(select(func.count()).select_from(CustomerSegment).where(CustomerSegment.at_risk))
    assert at_risk > 20
    report = leaving_report(session, (NOW - timedelta(days=730)).date(), NOW.date(), ReportFilter(), 90, NOW)
    by = report.by_class
    assert by["detractor"].curve.at(180) < by["promoter"].curve.at(180)
    assert report.test is not None and report.test.p_value < 0.05
    assert summary["cases"] > 0 and summary["suggestions"] > 0
    # Channels: printed receipt links answered by QR code, typed link or the following mail; a counter's anonymous
    # link. Each has answers over the last quarter; the printed links and the mail have a response rate.
    quarter = ((NOW - timedelta(days=90)).date(), NOW.date())
    channels = {row.channel: row for row in by_channel(session, *quarter, ReportFilter())}
    assert set(channels) == {"email", "link", "qr", "anonymous"} and all(r.figure.n > 10 for r in channels.values())
    assert channels["email"].response_rate and channels["link"].response_rate and channels["qr"].sent == 0
    # Invest here, save there: the patterns the demo draws show in the reports.
    year = ((NOW - timedelta(days=365)).date(), NOW.date())
    quadrants = {
        vc: {a.attribute.key: a.quadrant for a in importance_report(session, *year, Segment(value_class=vc)).attributes}
        for vc in ("A", "C")
    }
    assert quadrants["A"]["delivery_speed"] == quadrants["C"]["delivery_speed"] == "invest_here"
    assert quadrants["C"]["price"] == "invest_here" and quadrants["A"]["price"] != "invest_here"
    assert quadrants["A"]["range"] == "save_there"
    contacts = contact_report(session, (NOW - timedelta(days=120)).date(), NOW.date())
    assert contacts.reasons[0].key == "delivery_status" and contacts.problems
    customers, pairs = bought_together(baskets(session, (NOW - timedelta(days=730)).date(), NOW.date()))
    garden = next(p for p in pairs if {p.first, p.second} == {"Garten", "Haushalt"})
    assert garden.lift > 1.2 and garden.lift == max(p.lift for p in pairs)
    offer = session.scalars(select(RetentionRule).where(RetentionRule.offer_category == "Garten")).one()
    made = session.scalars(select(Suggestion).where(Suggestion.rule_id == offer.id)).all()
    assert len(made) > 50
    with app.test_request_context(headers={"Accept-Language": "en"}):
        assert "customers who bought Haushalt also bought Garten within 180 days" in sentence(
            offer, "en", made[0], made[0].conditions
        )
    # Alive on the first morning: recent cases due soon, no escalation flood, a portfolio, mail in the mailbox.
    open_cases = session.scalars(select(Case).where(Case.status.in_(OPEN))).all()
    assert any(NOW - timedelta(days=RECENT_DAYS) < c.created_at for c in open_cases)
    assert any(NOW < c.next_due_at < NOW + timedelta(days=2) for c in open_cases)
    late = [c for c in open_cases if c.next_due_at < NOW - timedelta(days=1)]
    assert len(late) < len(open_cases) / 3  # a team that keeps up, mostly
    assert escalate_overdue(session, NOW) == 0
    settings = current_value_settings(session)
    groups = portfolio(session, settings.portfolio_value_min, settings.portfolio_potential_min)
    assert all(groups[name].customers > 0 for name in ("star", "earnings", "question_mark", "take_along"))
    assert session.scalar(select(func.count()).select_from(DevMail)) == summary["survey mails in the mailbox"] == 3
    again = None
    try:
        seed_demo(session, NOW, customers=10)
    except ValueError as refused:
        again = str(refused)
    assert again == "demo data is already there"
