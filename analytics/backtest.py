"""Backtest of the purchase model on the shop's own data: fit on the purchases up to a calibration day, then
compare with what happened after it, as Fader, Hardie & Lee (2005) do in their figures 2 to 4:

- tracking: repeat purchases per week of every customer who had made a first purchase by the calibration day,
  actual vs predicted (weekly and cumulative), over calibration and holdout; predicted = the sum over customers
  of E[X(t - their first purchase day)] (equation 7);
- conditional expectations: customers grouped by their repeat purchases in calibration (0, 1, ..., 7+), the mean
  of their actual holdout purchases vs the mean of E[Y(holdout) | x, t_x, T] (equation 10).
Purchases are purchase days (UTC), as in the fit. Customers beyond SAMPLE_LIMIT are fitted on a seeded random
sample (so a page answers in seconds); the tracking counts every customer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from analytics import bgnbd
from analytics.purchase_summary import calibration_end, purchase_data
from customers.models import Customer, Purchase
from kundenpuls.dialect import EPOCH_DAY, day_number

SAMPLE_LIMIT = 100_000
FREQUENCIES = 8  # 0..6 and "7+"


class BacktestError(ValueError):
    """The data cannot support a backtest for this calibration day (the reason says why)."""


@dataclass(frozen=True)
class Week:
    start: date
    holdout: bool
    actual: int
    predicted: float
    actual_cumulative: int
    predicted_cumulative: float


@dataclass(frozen=True)
class FrequencyGroup:
    label: str
    customers: int
    actual: float  # mean holdout purchases
    predicted: float


@dataclass(frozen=True)
class Backtest:
    calibration_end: date
    holdout_end: date
    customers: int
    fitted_on: int
    fit: bgnbd.Fit
    weeks: list[Week]
    groups: list[FrequencyGroup]

    @property
    def holdout_actual(self) -> int:
        return sum(w.actual for w in self.weeks if w.holdout)

    @property
    def holdout_predicted(self) -> float:
        return sum(w.predicted for w in self.weeks if w.holdout)

    @property
    def holdout_error(self) -> float | None:
        """Predicted minus actual, as a share of actual."""
        actual = self.holdout_actual
        return (self.holdout_predicted - actual) / actual if actual else None


def run_backtest(session: Session, calibration: date, holdout_end: date, min_repeat_customers: int) -> Backtest:
    if holdout_end <= calibration:
        raise BacktestError("the holdout must end after the calibration day")
    data = purchase_data(session, calibration)
    repeaters = int((data.x > 0).sum())
    if repeaters < min_repeat_customers:
        raise BacktestError(
            f"too little data before {calibration}: {repeaters} customers with 2 or more purchase days, "
            f"{min_repeat_customers} needed"
        )
    rng = np.random.default_rng(20051)
    chosen = np.arange(data.customers)
    if data.customers > SAMPLE_LIMIT:
        chosen = np.sort(rng.choice(data.customers, SAMPLE_LIMIT, replace=False))
    fit = bgnbd.fit(bgnbd.Summary.of(data.x[chosen], data.t_x[chosen], data.T[chosen]))
    if not fit.converged:
        raise BacktestError(f"the model did not converge on the data before {calibration}: {fit.message}")
    calibration_day = (calibration - EPOCH_DAY).days
    first_days = calibration_day - data.T.astype(int)
    weeks = _tracking(session, fit, first_days, calibration, holdout_end)
    holdout = _holdout_counts(session, data.customer_id, calibration, holdout_end)
    groups = _by_frequency(fit, data, holdout, (holdout_end - calibration).days)
    return Backtest(calibration, holdout_end, data.customers, len(chosen), fit, weeks, groups)


def _tracking(session, fit: bgnbd.Fit, first_days: np.ndarray, calibration: date, holdout_end: date) -> list[Week]:
    """Weekly repeat purchase days of the cohort (first purchase by the calibration day), actual and predicted."""
    start_day = int(first_days.min())
    end_day = (holdout_end - EPOCH_DAY).days
    calibration_day = (calibration - EPOCH_DAY).days
    day = day_number(session, Purchase.purchased_at)
    per_day = (
        select(Purchase.customer_id.label("customer_id"), day.label("day"))
        .join(Customer, Customer.id == Purchase.customer_id)
        .where(Purchase.purchased_at < calibration_end(holdout_end), Customer.erased_at.is_(None))
        .distinct()
        .subquery()
    )
    with_first = select(
        per_day.c.day, func.min(per_day.c.day).over(partition_by=per_day.c.customer_id).label("first")
    ).subquery()
    counts = dict(
        session.execute(
            select(with_first.c.day, func.count())
            .where(with_first.c.day > with_first.c.first, with_first.c.first <= calibration_day)
            .group_by(with_first.c.day)
        ).all()
    )
    firsts, cohort = np.unique(first_days, return_counts=True)
    weeks, actual_total, predicted_total, previous_expected = [], 0, 0.0, 0.0
    for week_start in range(start_day, end_day + 1, 7):
        week_end = min(week_start + 7, end_day + 1)  # exclusive
        actual = sum(int(counts.get(d, 0)) for d in range(week_start, week_end))
        ages = np.maximum(week_end - 1 - firsts, 0)  # days since each first purchase day, at the week's last day
        expected = float(np.dot(cohort, bgnbd.expected_purchases(fit.params, ages)))
        actual_total += actual
        predicted_total = expected
        weeks.append(Week(EPOCH_DAY + timedelta(days=week_start), week_start > calibration_day, actual,
                          expected - previous_expected, actual_total, predicted_total))  # fmt: skip
        previous_expected = expected
    return weeks


def _holdout_counts(session, customer_ids: np.ndarray, calibration: date, holdout_end: date) -> np.ndarray:
    """Purchase days of each customer after the calibration day up to the end of the holdout."""
    day = day_number(session, Purchase.purchased_at)
    rows = dict(
        session.execute(
            select(Purchase.customer_id, func.count(distinct(day)))
            .where(
                Purchase.purchased_at >= calibration_end(calibration),
                Purchase.purchased_at < calibration_end(holdout_end),
            )
            .group_by(Purchase.customer_id)
        ).all()
    )
    return np.array([rows.get(int(c), 0) for c in customer_ids], dtype=float)


def _by_frequency(fit: bgnbd.Fit, data, holdout: np.ndarray, days: int) -> list[FrequencyGroup]:
    expected = bgnbd.conditional_expected_purchases(fit.params, days, data.x, data.t_x, data.T)
    groups = []
    for k in range(FREQUENCIES):
        mine = data.x >= k if k == FREQUENCIES - 1 else data.x == k
        label = f"{k}+" if k == FREQUENCIES - 1 else str(k)
        if mine.any():
            groups.append(FrequencyGroup(label, int(mine.sum()), float(holdout[mine].mean()),
                                         float(expected[mine].mean())))  # fmt: skip
        else:
            groups.append(FrequencyGroup(label, 0, float("nan"), float("nan")))
    return groups
