"""Time-to-event statistics for "does dissatisfaction predict leaving?": Kaplan-Meier curves with Greenwood's
variance and log-log intervals and the k-sample log-rank test (Wilson intervals come from surveys.kinds).

Plain NumPy/SciPy on arrays. Durations are days; an event is "left" (cancelled or turned inactive), a censored
duration is a customer still active when observation ended.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

Z95 = float(stats.norm.ppf(0.975))


@dataclass(frozen=True)
class Curve:
    """The survival function at each distinct event time (a step function from 1 at day 0)."""

    times: np.ndarray
    survival: np.ndarray
    at_risk: np.ndarray
    events: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    n: int
    total_events: int

    def at(self, day: float) -> float:
        """S(day): the last step at or before ``day``."""
        index = np.searchsorted(self.times, day, side="right") - 1
        return 1.0 if index < 0 else float(self.survival[index])


def kaplan_meier(durations, events) -> Curve:
    """S(t) = prod over event times t_i <= t of (1 - d_i / n_i); Greenwood's variance; the 95% interval on the
    log(-log S) scale (Kalbfleisch & Prentice), which stays inside [0, 1]."""
    durations, events = np.asarray(durations, dtype=float), np.asarray(events, dtype=bool)
    if durations.shape != events.shape or (durations < 0).any():
        raise ValueError("durations must be >= 0, one event flag each")
    times = np.unique(durations[events])
    order = np.sort(durations)
    at_risk = len(durations) - np.searchsorted(order, times, side="left")
    died = np.array([np.count_nonzero(durations[events] == t) for t in times]) if len(times) else np.zeros(0)
    survival = np.cumprod(1 - died / at_risk)
    with np.errstate(divide="ignore", invalid="ignore"):
        greenwood = np.cumsum(died / (at_risk * (at_risk - died)))
        log_s = np.log(survival)
        spread = Z95 * np.sqrt(greenwood) / np.abs(log_s)
        low = survival ** np.exp(spread)
        high = survival ** np.exp(-spread)
    # Where S is 1 or 0 the log-log interval is undefined: the estimate itself bounds it.
    low = np.where(np.isfinite(low), low, survival)
    high = np.where(np.isfinite(high), high, survival)
    return Curve(times, survival, at_risk, died, low, high, len(durations), int(events.sum()))


@dataclass(frozen=True)
class LogRank:
    statistic: float
    df: int
    p_value: float
    observed: np.ndarray
    expected: np.ndarray


def logrank(durations, events, groups) -> LogRank:
    """The k-sample log-rank test (Mantel 1966): at each event time the events expected per group under one common
    hazard, O - E summed, and the statistic (O - E)' V^-1 (O - E) over k - 1 groups, chi-square with k - 1 df."""
    durations, events = np.asarray(durations, dtype=float), np.asarray(events, dtype=bool)
    groups = np.asarray(groups)
    labels = np.unique(groups)
    k = len(labels)
    if k < 2:
        raise ValueError("the log-rank test needs two groups or more")
    member = np.stack([groups == label for label in labels])  # k x n
    times = np.unique(durations[events])
    observed = np.zeros(k)
    expected = np.zeros(k)
    variance = np.zeros((k, k))
    for t in times:
        risk = member[:, durations >= t].sum(axis=1).astype(float)
        died = member[:, (durations == t) & events].sum(axis=1).astype(float)
        n, d = risk.sum(), died.sum()
        observed += died
        expected += d * risk / n
        if n > 1:
            share = risk / n
            variance += d * (n - d) / (n - 1) * (np.diag(share) - np.outer(share, share))
    difference = (observed - expected)[:-1]
    statistic = float(difference @ np.linalg.solve(variance[:-1, :-1], difference))
    return LogRank(statistic, k - 1, float(stats.chi2.sf(statistic, k - 1)), observed, expected)
