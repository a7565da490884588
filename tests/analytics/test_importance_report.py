"""The importance report over stored answers: figures equal to an independent computation on the same answers, the
quadrants where the simulated weights put them, the minimum number of answers, page, CSV and API (issue 24)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import numpy as np
import pytest
from scipy import stats
from sqlalchemy import select

from analytics.importance_report import Segment, importance_report
from surveys.models import Response, Survey
from surveys.rating_grid import AttributeRating, RatingAttribute
from tests.analytics.test_importance import brute_force_lmg
from tests.analytics.test_survey_results import _answers
from tests.feedback_helpers import make_user, sign_in

DAY = datetime(2026, 11, 12, 12, tzinfo=UTC)
KEYS = ("delivery_speed", "price", "advice")


@pytest.fixture
def rated(session):
    """300 NPS answers: the score follows delivery speed (rated low) strongly, advice a little, price (rated high)
    not at all; every tenth answer says price does not apply."""
    nps = session.scalars(select(Survey).where(Survey.kind == "nps")).one()
    rng = np.random.default_rng(21)
    n = 300
    speed = rng.integers(1, 5, n)  # 1-4: rated low
    price = rng.integers(3, 6, n)  # 3-5: rated high
    advice = rng.integers(1, 6, n)
    score = np.clip(np.round(1.0 + 1.8 * speed + 0.4 * advice + rng.normal(0, 1.2, n)), 0, 10).astype(int)
    _answers(session, nps, [(DAY, int(s)) for s in score])
    attributes = {a.key: a.id for a in session.scalars(select(RatingAttribute).where(RatingAttribute.key.in_(KEYS)))}
    responses = session.scalars(select(Response.id).order_by(Response.id)).all()
    for i, response_id in enumerate(responses):
        for key, values in zip(KEYS, (speed, price, advice), strict=True):
            rating = None if key == "price" and i % 10 == 0 else int(values[i])
            session.add(AttributeRating(response_id=response_id, attribute_id=attributes[key], rating=rating))
    session.commit()
    matrix = np.column_stack([speed, price, advice, score]).astype(float)
    return nps, matrix, np.arange(n) % 10 != 0


def test_the_figures_equal_an_independent_computation_on_the_same_answers(session, rated):
    _nps, matrix, complete = rated
    report = importance_report(session, date(2026, 11, 1), date(2026, 11, 30), Segment(), resamples=200)
    assert (report.n, report.complete) == (300, int(complete.sum()))
    by_key = {f.attribute.key: f for f in report.attributes}
    used = matrix[complete]
    expected = brute_force_lmg(used[:, :3], used[:, 3])
    assert [by_key[k].importance for k in KEYS] == pytest.approx(list(expected), abs=1e-9)
    assert report.r2 == pytest.approx(expected.sum())
    price = matrix[complete, 1]  # the answers that did not say "does not apply"
    assert by_key["price"].rated == len(price)
    low, high = stats.t.interval(0.95, len(price) - 1, loc=price.mean(), scale=stats.sem(price))
    assert (by_key["price"].performance, by_key["price"].performance_low) == pytest.approx((price.mean(), low))
    speed = matrix[:, 0]  # performance uses every rating of the attribute, also of answers left out of the regression
    assert by_key["delivery_speed"].rated == 300 and by_key["delivery_speed"].performance == pytest.approx(speed.mean())
    assert by_key["delivery_speed"].quadrant == "invest_here"
    assert by_key["price"].quadrant == "save_there"
    speed_figures = by_key["delivery_speed"]
    assert speed_figures.share_low <= speed_figures.share_of_r2 <= speed_figures.share_high


def test_a_small_segment_shows_ratings_without_importance(session, rated):
    report = importance_report(session, date(2026, 11, 1), date(2026, 11, 30), Segment(value_class="A"))
    assert report.complete == 0 and not report.shown
    few = importance_report(session, date(2026, 11, 1), date(2026, 11, 30), Segment(), min_answers=1000)
    assert not few.shown and all(f.performance is not None and f.importance is None for f in few.attributes)


def test_page_csv_and_api(client, session, api, rated):
    body = api.get("/api/v1/reports/importance?from=2026-11-01&to=2026-11-30").get_json()
    assert body["n"] == 270 and body["r2"] == pytest.approx(sum(a["importance"] for a in body["attributes"]))
    assert {a["key"]: a["quadrant"] for a in body["attributes"]}["delivery_speed"] == "invest_here"
    bad = api.get("/api/v1/reports/importance?satisfaction=happy")
    assert bad.status_code == 422 and bad.headers["Content-Type"] == "application/problem+json"
    sign_in(client, make_user(session, "chefin@example.com", "manager"))
    page = client.get("/reports/importance?from=2026-11-01&to=2026-11-30")
    assert page.status_code == 200 and 'data-quadrant="invest_here"' in page.text and "<svg" in page.text
    sheet = client.get("/reports/importance.csv?from=2026-11-01&to=2026-11-30")
    rows = list(csv.DictReader(io.StringIO(sheet.text)))
    assert {row["attribute"]: row["quadrant"] for row in rows}["price"] == "save_there"
