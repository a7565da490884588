"""The purchase-behaviour models end to end: purchases in the database -> one SQL summary -> fit -> stored fit and
customer outlooks -> CLI and API, on the database this run uses."""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import numpy as np
import pytest
from sqlalchemy import func, insert, select

from analytics import bgnbd
from analytics import gamma_gamma as gg
from analytics.models import CustomerOutlook, ModelFit
from analytics.purchase_models import fit_models
from analytics.purchase_summary import purchase_data
from customers.models import Customer, Purchase

AS_OF = date(2026, 6, 30)
NOW = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)


def load(session, histories: dict[str, list[tuple[datetime, float, float | None]]]) -> dict[str, int]:
    """Customers with their purchases (moment, amount, margin), in bulk; returns their ids."""
    session.execute(
        insert(Customer),
        [{"external_id": key, "email": f"{key}@example.com", "created_at": min(p[0] for p in history)}
         for key, history in histories.items()],
    )  # fmt: skip
    ids = dict(session.execute(select(Customer.external_id, Customer.id)).all())
    rows = [
        {"order_id": f"{key}-{n}", "customer_id": ids[key], "amount": Decimal(str(amount)),
         "margin": None if margin is None else Decimal(str(margin)), "purchased_at": moment, "created_at": moment}
        for key, history in histories.items()
        for n, (moment, amount, margin) in enumerate(history)
    ]  # fmt: skip
    for start in range(0, len(rows), 5000):
        session.execute(insert(Purchase), rows[start : start + 5000])
    session.commit()
    return ids


def at(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def test_summary_counts_purchase_days_as_the_models_define_them(session):
    d = date(2026, 1, 10)
    ids = load(
        session,
        {
            # two orders on the first day are one purchase; a free repeat day counts as a purchase, not as spend
            "A": [(at(d, 9), 10.0, 2.0), (at(d, 23), 5.0, 1.0), (at(d + timedelta(days=30)), 0.0, None),
                  (at(d + timedelta(days=50)), 40.0, 10.0), (at(d + timedelta(days=50), 1), 20.0, None)],
            "B": [(at(d + timedelta(days=5)), 25.0, None)],
            # a purchase after the calibration day does not count; a customer who starts after it is not in the fit
            "C": [(at(date(2026, 6, 30), 23), 30.0, None), (at(date(2026, 7, 1), 0), 30.0, None)],
            "D": [(at(date(2026, 7, 2)), 30.0, None)],
            "E": [(at(d), 30.0, None), (at(d + timedelta(days=3)), 30.0, None)],
        },
    )  # fmt: skip
    session.get(Customer, ids["E"]).erased_at = NOW  # erased: not in the fit
    session.commit()
    data = purchase_data(session, AS_OF)
    got = {int(c): i for i, c in enumerate(data.customer_id)}
    assert set(got) == {ids["A"], ids["B"], ids["C"]}
    a, b, c = got[ids["A"]], got[ids["B"]], got[ids["C"]]
    assert (data.x[a], data.t_x[a], data.T[a]) == (2, 50, (AS_OF - d).days)
    # repeat days: day 30 (amount 0, left out of spend) and day 50 (40 + 20)
    assert (data.spend_days[a], data.repeat_spend[a], data.left_out) == (1, 60.0, 1)
    assert data.margin_share[a] == pytest.approx((2 + 1 + 10) / (10 + 5 + 40))
    assert (data.x[b], data.t_x[b], data.T[b], data.spend_days[b]) == (0, 0, (AS_OF - d).days - 5, 0)
    assert np.isnan(data.margin_share[b])
    assert (data.x[c], data.t_x[c], data.T[c]) == (0, 0, 0)
    assert data.shop_margin_share == pytest.approx(13 / 55)


def simulated_histories(n: int, seed: int, params=(0.6, 30.0, 0.7, 2.5), spend=(5.0, 4.0, 60.0)):
    """Purchase histories from the models' own process: first purchases over 300 days before AS_OF, purchase
    times continuous (a few land on one day and merge, as in real data), amounts Gamma-Gamma."""
    rng = np.random.default_rng(seed)
    r, alpha, a, b = params
    p, q, gamma = spend
    end = at(AS_OF, 0) + timedelta(days=1)
    histories = {}
    for i in range(n):
        start = end - timedelta(days=float(rng.uniform(1, 300)))
        lam, drop, nu = rng.gamma(r, 1 / alpha), rng.beta(a, b), rng.gamma(q, 1 / gamma)
        moments = [start]
        while True:
            gap = float(rng.exponential(1 / lam))
            if gap >= (end - moments[-1]).total_seconds() / 86400:
                break
            moment = moments[-1] + timedelta(days=gap)
            moments.append(moment)
            if rng.random() < drop:
                break
        histories[f"S-{i:05d}"] = [(m, round(float(rng.gamma(p, 1 / nu)), 2) + 0.01, None) for m in moments]
    return histories


def python_summary(histories):
    """The same summary in plain Python over the same purchases: UTC days, merged per day."""
    x, t_x, T, spend_days, spend = [], [], [], [], []
    for history in histories.values():
        days: dict[date, float] = {}
        for moment, amount, _ in history:
            if moment.date() <= AS_OF:
                days[moment.date()] = days.get(moment.date(), 0.0) + amount
        ordered = sorted(days)
        x.append(len(ordered) - 1)
        t_x.append((ordered[-1] - ordered[0]).days)
        T.append((AS_OF - ordered[0]).days)
        spend_days.append(len(ordered) - 1)
        spend.append(sum(days[d] for d in ordered[1:]) / max(len(ordered) - 1, 1))
    return np.array(x), np.array(t_x), np.array(T), np.array(spend_days), np.array(spend)


def test_fit_from_the_database_equals_the_fit_on_the_same_summary_in_python(session, runner, api):
    histories = simulated_histories(1500, seed=7)
    ids = load(session, histories)
    result = runner.invoke(args=["model", "fit", "--as-of", AS_OF.isoformat()])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert shown["status"] == "good" and shown["as_of"] == AS_OF.isoformat()
    assert shown["customers"] == 1500 and shown["purchases"]["time_unit"] == "day"
    assert shown["data_from"] == min(m for h in histories.values() for m, _, _ in h).date().isoformat()

    x, t_x, T, spend_days, spend = python_summary(histories)
    expected = bgnbd.fit(bgnbd.Summary.of(x, t_x, T))
    got = shown["purchases"]
    assert (got["r"], got["alpha"], got["a"], got["b"]) == pytest.approx(expected.params, rel=1e-6)
    assert got["log_likelihood"] == pytest.approx(expected.log_likelihood, rel=1e-9)
    repeat = spend_days > 0
    expected_spend = gg.fit(spend_days[repeat], spend[repeat])
    assert (shown["spend"]["p"], shown["spend"]["q"], shown["spend"]["gamma"]) == pytest.approx(
        expected_spend.params, rel=1e-5
    )
    assert shown["spend"]["customers"] == int(repeat.sum())

    # Every customer scored; P(alive) and expected purchases are the model's for their own history.
    assert session.scalar(select(func.count()).select_from(CustomerOutlook)) == 1500
    key = next(k for k, i in enumerate(histories) if x[k] >= 2)
    external_id = list(histories)[key]
    response = api.get(f"/api/v1/customers/{external_id}/outlook?days=60")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    params = expected.params
    assert body["p_alive"] == pytest.approx(bgnbd.p_alive(params, [x[key]], [t_x[key]], [T[key]])[0], rel=1e-5)
    assert body["expected_purchases"] == pytest.approx(
        float(bgnbd.conditional_expected_purchases(params, 60, x[key], t_x[key], T[key])), rel=1e-5
    )
    assert body["expected_spend_per_purchase"] == pytest.approx(
        float(gg.expected_spend(expected_spend.params, spend_days[key], spend[key])), rel=1e-4
    )
    assert body["horizon_days"] == 60 and body["as_of"] == AS_OF.isoformat() and body["clv_basis"] == "revenue"
    assert body["model_id"] == shown["id"] and body["clv"] > 0
    stored = session.get(CustomerOutlook, ids[external_id])
    assert stored.p_alive == pytest.approx(body["p_alive"])

    latest = api.get("/api/v1/models/latest")
    assert latest.status_code == 200 and latest.get_json()["id"] == shown["id"]


def test_clv_is_the_discounted_sum_of_monthly_purchases(session):
    """CLV against a direct computation: month by month expected purchases, spend, margin share, discount."""
    from analytics import outlook

    params, spend = (0.6, 30.0, 0.7, 2.5), (5.0, 4.0, 60.0)
    x, t_x, T, days, m_x, share, d = 3, 120, 200, 3, 80.0, 0.25, 0.1
    found = outlook.one(params, spend, x, t_x, T, days, m_x, share, 90, 12, d)
    month = 365.25 / 12
    cumulative = [0.0] + [
        float(bgnbd.conditional_expected_purchases(params, k * month, x, t_x, T)) for k in range(1, 13)
    ]
    per_purchase = (spend[2] + m_x * days) * spend[0] / (spend[0] * days + spend[1] - 1)
    expected = sum((cumulative[k] - cumulative[k - 1]) * (1 + d) ** (-k / 12) for k in range(1, 13))
    assert found.clv == pytest.approx(expected * per_purchase * share, rel=1e-9)
    assert found.expected_spend_per_purchase == pytest.approx(per_purchase)


def test_too_little_data_fails_loudly_and_keeps_the_previous_fit(session, runner, api, app, client):
    assert api.get("/api/v1/models/latest").status_code == 404
    histories = simulated_histories(1200, seed=3)
    load(session, histories)
    good = fit_models(session, NOW, AS_OF)
    assert good.status == "good"

    app.config["MODEL_MIN_REPEAT_CUSTOMERS"] = 100_000
    try:
        result = runner.invoke(args=["model", "fit", "--as-of", AS_OF.isoformat()])
    finally:
        app.config["MODEL_MIN_REPEAT_CUSTOMERS"] = 200
    assert result.exit_code == 1
    assert "too little data" in result.output and "100000 needed" in result.output
    failed = session.scalars(select(ModelFit).order_by(ModelFit.id.desc())).first()
    assert failed.status == "failed" and failed.r is None
    latest = api.get("/api/v1/models/latest").get_json()
    assert latest["id"] == good.id  # the good fit stays in use, its scores too
    assert session.scalar(select(func.count()).select_from(CustomerOutlook).where(CustomerOutlook.model_id == good.id))

    # ...and the pages say so.
    from tests.feedback_helpers import make_user, sign_in

    sign_in(client, make_user(session, "chef@example.com", "manager", "Chef"))
    check = client.get("/reports/model-check", headers={"Accept-Language": "en"}).text
    assert "The latest fit (purchases up to 2026-06-30) failed: too little data" in check
    assert "up to 2026-06-30: 1200 customers" in check and "Fitted on purchases from 2025-" in check
    someone = session.scalars(select(CustomerOutlook)).first()
    page = client.get(f"/customers/{someone.customer_id}", headers={"Accept-Language": "en"}).text
    assert "a newer fit, on purchases up to 2026-06-30, failed" in page


def test_outlook_refuses_bad_input(session, api):
    histories = simulated_histories(800, seed=5)
    ids = load(session, histories)
    external_id = next(iter(histories))
    assert api.get(f"/api/v1/customers/{external_id}/outlook").get_json()["title"] == "No purchase model yet"
    fit_models(session, NOW, AS_OF)
    assert api.get(f"/api/v1/customers/{external_id}/outlook").get_json()["horizon_days"] == 90
    for bad in ("0", "-3", "abc", "1e3", "99999", ""):
        response = api.get(f"/api/v1/customers/{external_id}/outlook?days={bad}")
        assert response.status_code == 422, bad
        assert response.content_type == "application/problem+json"
    assert api.get("/api/v1/customers/nobody/outlook").status_code == 404
    assert api.delete(f"/api/v1/customers/{external_id}").status_code == 200
    assert api.get(f"/api/v1/customers/{external_id}/outlook").status_code == 404
    assert session.get(CustomerOutlook, ids[external_id]) is None  # erasure removes the outlook


def test_model_fit_refuses_bad_days(runner):
    for bad in ("2026-13-01", "yesterday", "3000-01-01", "2999-12-31"):
        result = runner.invoke(args=["model", "fit", "--as-of", bad])
        assert result.exit_code == 2, bad
        assert "--as-of" in result.output


def test_cdnow_published_estimates_through_the_database(session, runner, cdnow_elog):
    """The CDNOW sample's raw event log loaded as purchases, fitted by `model fit --as-of 1997-09-30`."""
    histories: dict[str, list] = {}
    with open(cdnow_elog, newline="") as handle:
        for row in csv.DictReader(handle):
            day = datetime.strptime(row["date"], "%Y%m%d").replace(hour=12, tzinfo=UTC)
            histories.setdefault(f"cdnow-{row['masterid']}", []).append((day, float(row["sales"]), None))
    load(session, histories)
    result = runner.invoke(args=["model", "fit", "--as-of", "1997-09-30"])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    fit = shown["purchases"]
    assert shown["customers"] == 2357
    assert (fit["r"], fit["alpha"] / 7, fit["a"], fit["b"]) == pytest.approx((0.243, 4.414, 0.793, 2.426), rel=5e-3)
    repeat_days = shown["purchase_days"] - shown["customers"]
    assert fit["log_likelihood"] + repeat_days * np.log(7) == pytest.approx(-9582.4, abs=0.05)
    spend = shown["spend"]
    assert (spend["p"], spend["q"], spend["gamma"]) == pytest.approx((6.25, 3.74, 15.44), rel=5e-3)
    assert spend["customers"] == 946


def test_the_customer_page_and_record_say_it_in_words(session, client, api):
    from tests.feedback_helpers import make_user, sign_in

    histories = simulated_histories(900, seed=9)
    ids = load(session, histories)
    fit_models(session, NOW, AS_OF)
    x, t_x, T, *_ = python_summary(histories)
    # a loyal-looking customer and one silent for long after many purchases
    keys = list(histories)
    busy = max(range(len(keys)), key=lambda k: (x[k], t_x[k]))
    stored = session.get(CustomerOutlook, ids[keys[busy]])
    manager = make_user(session, "chef@example.com", "manager", "Chef")
    sign_in(client, manager)
    page = client.get(f"/customers/{ids[keys[busy]]}", headers={"Accept-Language": "en"}).text
    share = round(stored.p_alive * 100)
    words = f"probably still a customer: {share} %" if stored.p_alive >= 0.5 else f"{share} % chance of still"
    assert words in page
    assert f"about {stored.expected_purchases:.1f} purchases expected in the next 90 days" in page
    assert "Customer lifetime value (previous method)" in page
    assert f"fitted on purchases up to {AS_OF.isoformat()}" in page

    record = api.get(f"/api/v1/customers/{keys[busy]}").get_json()
    assert record["outlook"]["p_alive"] == pytest.approx(stored.p_alive)
    assert record["outlook"]["at_risk"] is False  # phases are not computed for these bulk-loaded customers
    assert record["value"]["clv_formula"] == "margin_12m * r / (1 + d - r)"  # the previous method stays


def test_a_fit_cut_short_leaves_the_previous_one_in_use(session, monkeypatch):
    """The process dies half-way through writing the new outlooks: nothing of the new fit stays."""
    from analytics import purchase_models

    load(session, simulated_histories(1200, seed=13))
    good = fit_models(session, NOW, AS_OF)
    before = dict(session.execute(select(CustomerOutlook.customer_id, CustomerOutlook.p_alive)).all())

    def dies_half_way(session_, table, columns, rows):
        rows = list(rows)
        session_.execute(table.insert(), [dict(zip(columns, row, strict=True)) for row in rows[: len(rows) // 2]])
        raise KeyboardInterrupt("the operator pulled the plug")

    monkeypatch.setattr(purchase_models, "bulk_load", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        fit_models(session, NOW + timedelta(days=30), AS_OF + timedelta(days=30))
    session.rollback()  # what the dead process's connection does when it drops
    monkeypatch.undo()
    assert [f.id for f in session.scalars(select(ModelFit))] == [good.id]
    after = dict(session.execute(select(CustomerOutlook.customer_id, CustomerOutlook.p_alive)).all())
    assert after == before
    assert {row.model_id for row in session.scalars(select(CustomerOutlook))} == {good.id}


def test_the_nightly_fit_runs_once_a_day_after_one(session):
    from analytics.purchase_models import nightly_fit

    load(session, simulated_histories(900, seed=14))
    night = datetime(2026, 7, 1, 0, 30, tzinfo=UTC)
    assert nightly_fit(session, night) is None  # before 01:00 UTC
    first = nightly_fit(session, night.replace(hour=1, minute=1))
    assert first == {"status": "good", "customers": 900}
    assert nightly_fit(session, night.replace(hour=5)) is None  # once a day
    fit = session.scalars(select(ModelFit)).one()
    assert fit.as_of == date(2026, 6, 30)
    assert nightly_fit(session, night.replace(day=2, hour=1, minute=5))["status"] == "good"
    assert session.scalar(select(func.count()).select_from(ModelFit)) == 2


def test_a_fit_never_shows_nan():
    """A failed fit may hold a value that is not a number; the JSON shows null, never NaN (invalid JSON)."""
    from analytics.purchase_models import fit_json

    record = ModelFit(id=7, as_of=AS_OF, status="failed", reason="the fit gave a value that is not a number",
                      started_at=NOW, customers=10, r=float("nan"), alpha=float("inf"), a=0.5, b=1.0,
                      log_likelihood=float("nan"), converged=False, spend_customers=0, repeat_customers=3,
                      purchase_days=20, spend_left_out=0, std_errors='{"r": null, "a": 0.1}')  # fmt: skip
    shown = fit_json(record)
    json.dumps(shown, allow_nan=False)
    assert shown["purchases"]["r"] is None and shown["purchases"]["alpha"] is None and shown["purchases"]["a"] == 0.5
