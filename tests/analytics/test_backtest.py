"""The backtest on data drawn from the model's own process: the model tracks it, the actual counts are the
purchases as generated, and the page, CSV and bad input behave."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import numpy as np
import pytest

from analytics.backtest import BacktestError, run_backtest
from tests.analytics.test_purchase_models import AS_OF, load, simulated_histories
from tests.feedback_helpers import make_user, sign_in

CALIBRATION = AS_OF - timedelta(days=140)


def test_the_model_tracks_data_from_its_own_process(session):
    histories = simulated_histories(3000, seed=21)
    load(session, histories)
    result = run_backtest(session, CALIBRATION, AS_OF, 200)

    # Actual weekly counts are the generated repeat purchase days of the cohort, week by week.
    firsts = {}
    expected_days = []
    for history in histories.values():
        days = sorted({moment.date() for moment, _, _ in history if moment.date() <= AS_OF})
        if days[0] <= CALIBRATION:
            expected_days.extend(days[1:])
            firsts[days[0]] = firsts.get(days[0], 0) + 1
    start = min(firsts)
    assert result.weeks[0].start == start
    per_week = {}
    for day in expected_days:
        per_week[(day - start).days // 7] = per_week.get((day - start).days // 7, 0) + 1
    assert [w.actual for w in result.weeks] == [per_week.get(i, 0) for i in range(len(result.weeks))]
    assert result.customers == sum(firsts.values())

    # Drawn from the model: the holdout prediction is close, and so is each well-filled frequency group.
    assert result.holdout_error is not None and abs(result.holdout_error) < 0.08
    for group in result.groups:
        if group.customers >= 150:
            assert group.predicted == pytest.approx(group.actual, abs=0.1 + 0.1 * group.actual), group
    assert result.weeks[-1].predicted_cumulative == pytest.approx(sum(w.predicted for w in result.weeks), rel=1e-9)
    assert [g.label for g in result.groups] == ["0", "1", "2", "3", "4", "5", "6", "7+"]


def test_too_little_data_says_so(session):
    load(session, simulated_histories(100, seed=2))
    with pytest.raises(BacktestError, match="too little data"):
        run_backtest(session, CALIBRATION, AS_OF, 200)


def test_page_csv_and_bad_input(session, client):
    load(session, simulated_histories(1500, seed=8))
    sign_in(client, make_user(session, "chef@example.com", "manager", "Chef"))
    query = f"end={CALIBRATION.isoformat()}&until={AS_OF.isoformat()}"
    page = client.get(f"/reports/model-check?{query}", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    assert 'data-table="frequency"' in page.text and "<svg" in page.text and "equation 7" in page.text
    weeks = list(csv.DictReader(io.StringIO(client.get(f"/reports/model-check.csv?{query}").text)))
    assert weeks and {w["period"] for w in weeks} == {"calibration", "holdout"}
    groups = list(csv.DictReader(io.StringIO(client.get(f"/reports/model-check.csv?table=frequency&{query}").text)))
    assert groups[0]["calibration_purchases"] == "0"
    for bad in ("end=2026-02-30", "until=2999-01-01", f"end={AS_OF}&until={CALIBRATION}", "end=x"):
        assert client.get(f"/reports/model-check?{bad}").status_code == 422, bad
    assert client.get(f"/reports/model-check.csv?table=nope&{query}").status_code == 422
    early = client.get(f"/reports/model-check?end={date(2020, 1, 1)}&until={date(2020, 6, 1)}")
    assert early.status_code == 200 and "too little data" in early.text
    assert np.isfinite(float(weeks[-1]["predicted_cumulative"]))
