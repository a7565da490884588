"""Follow-up answers in the reports: each choice in the drivers report (tested as SciPy tests its 2x2 table), and
the breakdown per question and class on the survey's results page (issue 21)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pytest
from scipy.stats import chi2_contingency
from sqlalchemy import select

from analytics.drivers import driver_report
from analytics.follow_up_reports import breakdown
from analytics.queries import ReportFilter
from surveys.follow_up_settings import QuestionSpec, add_question
from surveys.follow_ups import Given, store_follow_ups
from surveys.models import Response, Survey
from tests.analytics.test_survey_results import _answers
from tests.feedback_helpers import make_user, sign_in

DAY = datetime(2026, 11, 10, 12, tzinfo=UTC)


@pytest.fixture
def asked(session):
    """40 promoters and 40 detractors of the NPS survey; 30 of each answer "what mattered most?"."""
    nps = session.scalars(select(Survey).where(Survey.kind == "nps")).one()
    question = add_question(
        session, nps,
        QuestionSpec("multiple", "Was war Ihnen wichtig?", "What mattered?",
                     choices=[("Preis", "Price"), ("Service", "Service"), ("Auswahl", "Range")]),
        None, DAY,
    )  # fmt: skip
    _answers(session, nps, [(DAY, 10)] * 40 + [(DAY, 3)] * 40)
    price, service, range_ = (choice.id for choice in question.choices)
    responses = session.scalars(select(Response).order_by(Response.id)).all()
    promoters, detractors = responses[:30], responses[40:70]
    # Promoters: 20 service, 10 range (5 of them range and price); detractors: 24 price, 6 service.
    chosen = {}
    for n, response in enumerate(promoters):
        chosen[response.id] = (service,) if n < 20 else ((range_, price) if n < 25 else (range_,))
    for n, response in enumerate(detractors):
        chosen[response.id] = (price,) if n < 24 else (service,)
    for response_id, choices in chosen.items():
        store_follow_ups(session, response_id, [question], {question.id: Given(choices=choices)}, DAY)
    session.commit()
    return nps, question


def test_each_choice_is_a_driver_tested_among_those_who_answered_the_question(session, asked):
    nps, question = asked
    report = driver_report(session, date(2026, 11, 1), date(2026, 11, 30), ReportFilter())
    found = {f.level: f for f in report.findings if f.attribute == "follow_up"}
    price, service, range_ = (f"{question.id}:{choice.id}" for choice in question.choices)
    assert set(found) == {price, service, range_}
    # Price: 5 of 30 answering promoters, 24 of 30 answering detractors.
    table = np.array([[5, 25], [24, 6]])
    assert found[price].p_value == pytest.approx(chi2_contingency(table).pvalue)
    assert (found[price].promoters_value, found[price].detractors_value) == pytest.approx((5 / 30, 24 / 30))
    assert found[price].test == "chi-square" and found[price].significant


def test_the_breakdown_counts_each_choice_per_class(session, client, asked):
    nps, question = asked
    [item] = breakdown(session, nps, date(2026, 11, 1), date(2026, 11, 30), ReportFilter())
    assert item.answered == {"promoter": 30, "passive": 0, "detractor": 30}
    rows = {
        choice.key: (per_class["promoter"], per_class["detractor"], total) for choice, per_class, total in item.rows
    }
    assert rows == {"price": (5, 24, 29), "service": (20, 6, 26), "range": (10, 0, 10)}

    sign_in(client, make_user(session, "manager@example.com", "manager"))
    page = client.get(f"/reports/surveys/{nps.id}?from=2026-11-01&to=2026-11-30")
    assert page.status_code == 200 and f'data-follow-up="{question.id}"' in page.text
    assert "What mattered?" in page.text or "Was war Ihnen wichtig?" in page.text
    drivers = client.get("/reports/drivers?from=2026-11-01&to=2026-11-30")
    assert "Price" in drivers.text or "Preis" in drivers.text
