"""The "does dissatisfaction predict leaving?" report: the database's curves against the same estimate on the data
as generated, the log-rank test, the repeat-purchase rates, the page, its table and CSV, bad input."""

from __future__ import annotations

import csv
import io
import secrets
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest
from sqlalchemy import insert, select

from analytics.leaving import leaving_report
from analytics.queries import ReportFilter
from analytics.survival import kaplan_meier, logrank
from customers.models import Customer, LifecycleChange, Purchase
from surveys.kinds import wilson
from surveys.models import Invitation, Response, Survey
from tests.feedback_helpers import make_user, sign_in

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
HAZARD = {"promoter": 1 / 900, "passive": 1 / 600, "detractor": 1 / 250}  # per day
SCORES = {"promoter": 9, "passive": 7, "detractor": 3}


def generate(session, n: int = 450, seed: int = 4):
    """Customers with one NPS answer each over the last 400 days, leaving after an exponential time with a
    hazard by class (or censored now), and a purchase 40 days after the answer for some of them. Returns what
    was generated, per customer: class, days followed, left?, bought within 90 days, answered 90+ days ago."""
    rng = np.random.default_rng(seed)
    survey = session.scalars(select(Survey).where(Survey.key == "nps-default")).one()
    classes = rng.choice(list(HAZARD), n)
    answered = [NOW - timedelta(days=float(rng.uniform(5, 400))) for _ in range(n)]
    session.execute(insert(Customer), [
        {"external_id": f"L-{i}", "email": f"l{i}@example.com", "created_at": answered[i] - timedelta(days=30),
         "value_class": "A" if i % 3 == 0 else "B", "lifecycle_phase": "existing"}
        for i in range(n)
    ])  # fmt: skip
    ids = dict(session.execute(select(Customer.external_id, Customer.id)).all())
    tokens = [secrets.token_urlsafe(16) for _ in range(n)]
    session.execute(insert(Invitation), [
        {"token": tokens[i], "survey_id": survey.id, "customer_id": ids[f"L-{i}"], "locale": "de" if i % 2 else "en",
         "status": "answered", "created_at": answered[i], "expires_at": answered[i] + timedelta(days=14),
         "answered_at": answered[i]}
        for i in range(n)
    ])  # fmt: skip
    invitation = dict(session.execute(select(Invitation.token, Invitation.id)).all())
    session.execute(insert(Response), [
        {"invitation_id": invitation[tokens[i]], "survey_id": survey.id, "customer_id": ids[f"L-{i}"],
         "score": SCORES[classes[i]], "locale": "de" if i % 2 else "en", "created_at": answered[i]}
        for i in range(n)
    ])  # fmt: skip
    expected = []
    changes, purchases = [], []
    for i in range(n):
        followed = (NOW - answered[i]).total_seconds() / 86400
        leaves_after = float(rng.exponential(1 / HAZARD[classes[i]]))
        left = leaves_after < followed
        if left:
            changes.append({"customer_id": ids[f"L-{i}"], "from_phase": "existing",
                            "to_phase": "churned" if i % 2 else "inactive", "cause": "cancellation",
                            "changed_at": answered[i] + timedelta(days=leaves_after), "recorded_at": NOW})  # fmt: skip
        bought = rng.random() < (0.6 if classes[i] == "promoter" else 0.3)
        if bought:
            moment = answered[i] + timedelta(days=40)
            if moment < NOW:
                purchases.append({"order_id": f"L-{i}", "customer_id": ids[f"L-{i}"], "amount": Decimal("20"),
                                  "purchased_at": moment, "created_at": moment})  # fmt: skip
        # an earlier departure, before the answer, must not count
        if i % 7 == 0:
            changes.append({"customer_id": ids[f"L-{i}"], "from_phase": "existing", "to_phase": "inactive",
                            "cause": "inactivity", "changed_at": answered[i] - timedelta(days=3),
                            "recorded_at": NOW})  # fmt: skip
        expected.append((classes[i], leaves_after if left else followed, left,
                         bought and followed >= 40, followed >= 90))  # fmt: skip
    session.execute(insert(LifecycleChange), changes)
    if purchases:
        session.execute(insert(Purchase), purchases)
    session.commit()
    return expected


def test_curves_test_and_rates_equal_the_estimates_on_the_generated_data(session):
    expected = generate(session)
    report = leaving_report(session, date(2025, 1, 1), NOW.date(), ReportFilter(), 90, NOW)
    assert report.customers == len(expected)
    classes = np.array([e[0] for e in expected])
    durations = np.array([e[1] for e in expected])
    events = np.array([e[2] for e in expected])
    for result in report.classes:
        mine = classes == result.nps_class
        reference = kaplan_meier(durations[mine], events[mine])
        assert result.curve.n == mine.sum() and result.curve.total_events == events[mine].sum()
        for day in (30, 90, 180, 365):
            assert result.curve.at(day) == pytest.approx(reference.at(day), abs=1e-9)
        eligible = [e for e in expected if e[0] == result.nps_class and e[4]]
        bought = sum(1 for e in eligible if e[3])
        assert (result.bought, result.eligible) == (bought, len(eligible))
        assert (result.rate_low, result.rate_high) == pytest.approx(wilson(bought, len(eligible)))
    reference_test = logrank(durations, events, classes)
    assert report.test.statistic == pytest.approx(reference_test.statistic, rel=1e-6)
    assert report.test.p_value < 0.05  # detractors leave faster in this data
    by = report.by_class
    assert by["detractor"].curve.at(180) < by["promoter"].curve.at(180)


def test_filters_narrow_the_customers(session):
    generate(session, n=120)
    everyone = leaving_report(session, date(2025, 1, 1), NOW.date(), ReportFilter(), 90, NOW).customers
    a_only = leaving_report(session, date(2025, 1, 1), NOW.date(), ReportFilter(segment="A"), 90, NOW).customers
    english = leaving_report(session, date(2025, 1, 1), NOW.date(), ReportFilter(locale="en"), 90, NOW).customers
    assert everyone == 120 and a_only == 40 and english == 60
    recent = leaving_report(session, (NOW - timedelta(days=100)).date(), NOW.date(), ReportFilter(), 90, NOW)
    assert 0 < recent.customers < 120


def test_the_page_table_and_csv(session, client):
    generate(session, n=300)
    manager = make_user(session, "chef@example.com", "manager", "Chef")
    sign_in(client, manager)
    page = client.get("/reports/leaving?from=2025-01-01", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    text = page.text
    assert "<svg" in text and "log-rank test" in text and "association, not a cause" in text
    assert 'data-class="detractor"' in text and "Kaplan-Meier" in text
    table = client.get("/reports/leaving?from=2025-01-01&view=table").text
    assert 'data-table="curves"' in table
    download = client.get("/reports/leaving.csv?from=2025-01-01")
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert download.status_code == 200 and rows
    assert {r["nps_class"] for r in rows} == {"promoter", "passive", "detractor"}
    assert all(0 <= float(r["still_customer"]) <= 1 for r in rows)
    for bad in ("days=0", "days=x", "from=2026-13-01", "segment=Z", "language=fr"):
        assert client.get(f"/reports/leaving?{bad}").status_code == 422, bad
        assert client.get(f"/reports/leaving.csv?{bad}").status_code == 422, bad


def test_an_empty_range_says_so_and_agents_cannot_see_it(session, client):
    manager = make_user(session, "chef@example.com", "manager", "Chef")
    sign_in(client, manager)
    page = client.get("/reports/leaving", headers={"Accept-Language": "en"})
    assert page.status_code == 200 and "No NPS answers in this range" in page.text


def test_agents_are_refused(session, client):
    agent = make_user(session, "agent@example.com", "agent", "Agentin")
    sign_in(client, agent)
    assert client.get("/reports/leaving").status_code == 403
