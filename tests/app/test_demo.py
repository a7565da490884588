"""Demo data: what `demo seed` promises a first look at the product shows - a fitted purchase model, customers
at risk, detractors leaving sooner than promoters, and cases and suggestions to work."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from analytics.leaving import leaving_report
from analytics.models import ModelFit
from analytics.queries import ReportFilter
from app.demo import seed_demo
from retention.models import CustomerSegment

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def test_demo_data_makes_the_model_pages_meaningful(session):
    summary = seed_demo(session, NOW, customers=1200, seed=3)
    assert summary["customers"] == 1200 and summary["purchases"] > 2000 and summary["responses"] > 300
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
    again = None
    try:
        seed_demo(session, NOW, customers=10, seed=3)
    except ValueError as refused:
        again = str(refused)
    assert again == "demo data is already there"
