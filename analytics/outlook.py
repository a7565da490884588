"""A customer's outlook from the purchase-behaviour models: P(alive), purchases to expect, spend per purchase and
CLV, the numbers the customer page, the API and the cockpit show.

CLV over H months: the expected purchases in each month (differences of E[Y(t) | x, t_x, T] at month ends,
t = 365.25/12 days per month), times the expected spend per purchase (Gamma-Gamma), times the customer's margin
share (their own where margins are known, else the shop's, else 1: revenue), each month discounted at the yearly
discount rate of the value settings, (1 + d)^(-m/12). The fit's calibration end is "now" for every figure.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analytics import bgnbd
from analytics import gamma_gamma as gg

HORIZON_DAYS = 90  # "expected purchases" in pages and the outlook API without ?days
MONTH_DAYS = 365.25 / 12


@dataclass(frozen=True)
class Scores:
    p_alive: np.ndarray
    expected_purchases: np.ndarray
    expected_spend: np.ndarray
    clv: np.ndarray


def score(purchase_params, spend_params, data, days: int, horizon_months: int, discount_rate: float,
          shop_margin_share: float | None) -> Scores:  # fmt: skip
    """Every customer of ``data`` (analytics.purchase_summary.PurchaseData) at once. Customers with the same
    (x, t_x, T) share one evaluation: the hypergeometric function is the expensive part, and day-level histories
    repeat often."""
    first, inverse = bgnbd.unique_rows(data.x, data.t_x, data.T)
    x, t_x, T = data.x[first], data.t_x[first], data.T[first]
    alive = bgnbd.p_alive(purchase_params, x, t_x, T)
    ahead = bgnbd.conditional_expected_purchases(purchase_params, days, x, t_x, T)
    discounted = discounted_purchases(purchase_params, x, t_x, T, horizon_months, discount_rate)
    spend = gg.expected_spend(spend_params, data.spend_days, data.repeat_spend)
    share = np.where(np.isnan(data.margin_share), 1.0 if shop_margin_share is None else shop_margin_share,
                     data.margin_share)  # fmt: skip
    return Scores(alive[inverse], ahead[inverse], spend, discounted[inverse] * spend * share)


def discounted_purchases(purchase_params, x, t_x, T, horizon_months: int, discount_rate: float) -> np.ndarray:
    """Sum over months m = 1..H of (E[Y(m)] - E[Y(m-1)]) (1 + d)^(-m/12)."""
    total = np.zeros(np.shape(x), dtype=float)
    before = np.zeros(np.shape(x), dtype=float)
    for month in range(1, horizon_months + 1):
        upto = bgnbd.conditional_expected_purchases(purchase_params, month * MONTH_DAYS, x, t_x, T)
        total += (upto - before) * (1 + discount_rate) ** (-month / 12)
        before = upto
    return total


@dataclass(frozen=True)
class Outlook:
    p_alive: float
    expected_purchases: float
    expected_spend_per_purchase: float
    clv: float
    horizon_days: int


def one(purchase_params, spend_params, x: int, t_x: int, T: int, spend_days: int, repeat_spend: float,
        margin_share: float, days: int, horizon_months: int, discount_rate: float) -> Outlook:  # fmt: skip
    """One customer, for the API's ?days=N (the stored outlook holds HORIZON_DAYS only)."""
    alive = float(bgnbd.p_alive(purchase_params, [x], [t_x], [T])[0])
    ahead = float(bgnbd.conditional_expected_purchases(purchase_params, days, x, t_x, T))
    spend = float(gg.expected_spend(spend_params, spend_days, repeat_spend))
    discounted = float(discounted_purchases(purchase_params, x, t_x, T, horizon_months, discount_rate))
    return Outlook(alive, ahead, spend, discounted * spend * margin_share, days)


def abc_classes(values: np.ndarray, a_share: float, b_share: float) -> np.ndarray:
    """A for the customers making the first a_share % of the total, B for the next b_share %, C for the rest: the
    same cut as the revenue classes (customers.values.refresh_values), here over the model's CLV."""
    values = np.asarray(values, dtype=float)
    order = np.argsort(-values, kind="stable")
    before = np.cumsum(values[order]) - values[order]
    total = values.sum()
    b_or_c = np.where(before * 100 < total * (a_share + b_share), "B", "C")
    ranked = np.where(before * 100 < total * a_share, "A", b_or_c)
    classes = np.empty(len(values), dtype="<U1")
    classes[order] = ranked
    return classes
