"""Results per survey kind (issue 21): CSAT %, the CES mean and share easy, their intervals and change tests,
checked against SciPy on the raw scores; the API, the page and the CSV read the same figures."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from scipy import stats
from sqlalchemy import select

from analytics.queries import ReportFilter
from analytics.results import NONE, Counts, kind_change, kind_figure, survey_results
from customers.models import Customer
from surveys.kinds import CES, CSAT, NPS
from surveys.models import Invitation, Survey, new_token
from surveys.services import submit_answer
from surveys.settings import create_survey
from tests.feedback_helpers import make_user, sign_in


def counts(kind, scores) -> Counts:
    per_class = kind.counts(scores)
    return Counts(tuple(per_class[name] for name in kind.classes), sum(scores), sum(s * s for s in scores))


def wilson(successes: int, n: int) -> tuple[float, float]:
    ci = stats.binomtest(successes, n).proportion_ci(0.95, method="wilson")
    return 100 * ci.low, 100 * ci.high


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_csat_percent_and_its_change_match_scipy(seed):
    rng = np.random.default_rng(seed)
    before = list(rng.choice([1, 2, 3, 4, 5], size=80, p=[0.1, 0.1, 0.2, 0.3, 0.3]))
    after = list(rng.choice([1, 2, 3, 4, 5], size=60, p=[0.05, 0.05, 0.1, 0.4, 0.4]))
    old, new = kind_figure(CSAT, counts(CSAT, before), 30), kind_figure(CSAT, counts(CSAT, after), 30)
    satisfied = sum(s >= 4 for s in after)
    assert new.value.value == pytest.approx(100 * satisfied / 60)
    assert (new.value.ci_low, new.value.ci_high) == pytest.approx(wilson(satisfied, 60))
    table = [[satisfied, 60 - satisfied], [sum(s >= 4 for s in before), 80 - sum(s >= 4 for s in before)]]
    moved = kind_change(new, old)
    assert moved.p_value == pytest.approx(stats.chi2_contingency(table, correction=False).pvalue)
    assert moved.delta == pytest.approx(new.value.value - old.value.value, abs=0.005)


@pytest.mark.parametrize("seed", [4, 5])
def test_ces_mean_share_easy_and_welch_change_match_scipy(seed):
    rng = np.random.default_rng(seed)
    before = list(int(s) for s in rng.integers(1, 8, size=45))
    after = list(int(s) for s in rng.choice(range(1, 8), size=35, p=[0.05, 0.05, 0.1, 0.1, 0.2, 0.3, 0.2]))
    old, new = kind_figure(CES, counts(CES, before), 30), kind_figure(CES, counts(CES, after), 30)
    assert new.value.value == pytest.approx(np.mean(after))
    low, high = stats.t.interval(0.95, len(after) - 1, loc=np.mean(after), scale=stats.sem(after))
    assert (new.value.ci_low, new.value.ci_high) == pytest.approx((low, high))
    easy = sum(s >= 5 for s in after)
    assert (new.share_easy.value, new.share_easy.ci_low, new.share_easy.ci_high) == pytest.approx(
        (100 * easy / 35, *wilson(easy, 35))
    )
    assert kind_change(new, old).p_value == pytest.approx(stats.ttest_ind(after, before, equal_var=False).pvalue)


def test_nps_results_are_the_nps_reports_figures():
    scores = [10, 9, 9, 8, 7, 6, 3, 0, 10, 9] * 4
    figure = kind_figure(NPS, counts(NPS, scores), 30)
    assert figure.value.value == pytest.approx(100 * (20 - 12) / 40)
    assert figure.as_dict()["classes"] == {"promoter": 20, "passive": 8, "detractor": 12}


def test_small_periods_show_no_p_value_and_empty_ones_no_change():
    few = kind_figure(CSAT, counts(CSAT, [5, 4, 1]), 30)
    many = kind_figure(CSAT, counts(CSAT, [5] * 40), 30)
    assert kind_change(many, few).p_value is None
    assert kind_change(many, kind_figure(CSAT, NONE, 30)) is None
    same = kind_figure(CES, counts(CES, [6] * 40), 30)
    assert kind_change(same, same).p_value == 1.0  # no spread on either side: exactly equal


def _answers(session, survey: Survey, scored: list[tuple[datetime, int]]) -> None:
    """One customer, invitation and answer per (time, score), answered through the real answer path."""
    for n, (at, score) in enumerate(scored):
        customer = Customer(external_id=f"K-{survey.key}-{n}", email=f"k{n}@example.com", created_at=at)
        invitation = Invitation(
            token=new_token(), survey=survey, customer=customer, locale="de" if n % 3 else "en", status="sent",
            created_at=at - timedelta(days=1), sent_at=at - timedelta(days=1), expires_at=at + timedelta(days=30),
        )  # fmt: skip
        session.add(invitation)
        session.flush()
        submit_answer(session, invitation.token, score, None, at)
    session.commit()


@pytest.fixture
def ces_survey(session):
    admin = make_user(session, "admin@example.com", "admin")
    survey = create_survey(session, "Aufwand Service", "ces-service", admin.id, datetime.now(UTC), kind="ces")
    rng = np.random.default_rng(7)
    october = [(datetime(2026, 10, 1 + i % 28, 12, tzinfo=UTC), int(rng.integers(1, 8))) for i in range(40)]
    november = [(datetime(2026, 11, 1 + i % 28, 12, tzinfo=UTC), int(rng.integers(3, 8))) for i in range(50)]
    _answers(session, survey, october + november)
    return survey, [s for _, s in october], [s for _, s in november]


def test_the_results_api_gives_every_period_and_total_equal_to_scipy(session, api, ces_survey):
    survey, october, november = ces_survey
    got = api.get(f"/api/v1/surveys/{survey.id}/results?from=2026-10-01&to=2026-11-30&interval=month")
    assert got.status_code == 200, got.text
    body = got.get_json()
    assert (body["kind"], body["metric"]) == ("ces", "ces_mean")
    assert [p["start"] for p in body["periods"]] == ["2026-10-01", "2026-11-01"]
    oct_, nov = body["periods"]
    assert oct_["n"] == 40 and nov["n"] == 50
    assert nov["classes"] == {"easy": sum(s >= 5 for s in november), "neutral": november.count(4),
                              "hard": sum(s <= 3 for s in november)}  # fmt: skip
    assert nov["value"] == pytest.approx(np.mean(november), abs=0.005)
    low, high = stats.t.interval(0.95, 49, loc=np.mean(november), scale=stats.sem(november))
    assert (nov["ci_low"], nov["ci_high"]) == pytest.approx((low, high), abs=0.005)
    assert nov["change"]["p_value"] == pytest.approx(stats.ttest_ind(november, october, equal_var=False).pvalue)
    everything = october + november
    assert body["total"]["value"] == pytest.approx(np.mean(everything), abs=0.005)
    easy = sum(s >= 5 for s in everything)
    assert body["total"]["share_easy"]["value"] == pytest.approx(100 * easy / 90, abs=0.005)

    # The rollup and the raw answers agree, figure for figure.
    filters = ReportFilter()
    rolled = survey_results(session, survey, date(2026, 10, 1), date(2026, 11, 30), "month", filters, 30)
    raw = survey_results(session, survey, date(2026, 10, 1), date(2026, 11, 30), "month", filters, 30, "raw")
    assert [p.figure.as_dict() for p in rolled.periods] == [p.figure.as_dict() for p in raw.periods]

    english = api.get(f"/api/v1/surveys/{survey.id}/results?from=2026-10-01&to=2026-11-30&language=en")
    assert english.get_json()["total"]["n"] == sum(1 for n in range(90) if n % 3 == 0)


def test_results_api_errors_are_problem_json(session, api, ces_survey):
    survey, _, _ = ces_survey
    churn = session.scalars(select(Survey).where(Survey.kind == "churn")).one()
    bad = api.get(f"/api/v1/surveys/{survey.id}/results?interval=day")
    assert bad.status_code == 422 and bad.headers["Content-Type"] == "application/problem+json"
    assert api.get("/api/v1/surveys/999999/results").status_code == 404
    assert api.get(f"/api/v1/surveys/{churn.id}/results").status_code == 409
    wrong = api.get(f"/api/v1/nps?survey={survey.id}")
    assert wrong.status_code == 422 and f"/api/v1/surveys/{survey.id}/results" in wrong.get_json()["detail"]


def test_the_report_page_and_csv_show_the_kinds_figures(client, session, ces_survey):
    survey, october, november = ces_survey
    sign_in(client, make_user(session, "manager@example.com", "manager"))
    moved = client.get(f"/reports/nps?survey={survey.id}&from=2026-10-01")
    assert moved.status_code == 303 and f"/reports/surveys/{survey.id}" in moved.headers["Location"]
    page = client.get(f"/reports/surveys/{survey.id}?from=2026-10-01&to=2026-11-30")
    assert page.status_code == 200
    assert f"{np.mean(october + november):.2f}" in page.text
    assert "Welch" in page.text and 'data-table="ces"' in page.text
    assert page.text.count("<circle ") == 2 and '<title id="chart-title">ces_mean</title>' in page.text
    assert "Aufwand Service (CES)" in client.get("/reports/nps").text
    sheet = client.get(f"/reports/surveys/{survey.id}.csv?from=2026-10-01&to=2026-11-30")
    rows = list(csv.reader(io.StringIO(sheet.text)))
    assert rows[0][:6] == ["period_start", "n", "easy", "neutral", "hard", "metric"]
    assert [row[0] for row in rows[1:]] == ["2026-10-01", "2026-11-01"]
    assert float(rows[2][rows[0].index("value")]) == pytest.approx(np.mean(november), abs=0.005)
    assert client.get("/reports/surveys/999999").status_code == 404
