"""Kaplan-Meier and log-rank against SciPy's own implementations and a textbook example."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats

from analytics.survival import kaplan_meier, logrank


def censored(durations, events):
    durations, events = np.asarray(durations, dtype=float), np.asarray(events, dtype=bool)
    return stats.CensoredData(uncensored=durations[events], right=durations[~events])


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kaplan_meier_equals_scipy_with_its_log_log_interval(seed):
    rng = np.random.default_rng(seed)
    lifetimes = rng.exponential(200, 300).round()
    follow_up = rng.uniform(50, 500, 300).round()
    durations, events = np.minimum(lifetimes, follow_up), lifetimes <= follow_up
    curve = kaplan_meier(durations, events)
    reference = stats.ecdf(censored(durations, events)).sf
    assert curve.survival == pytest.approx(reference.evaluate(curve.times), rel=1e-12)
    with warnings.catch_warnings():  # SciPy warns where the interval is undefined (S = 1 or 0); we show S there
        warnings.simplefilter("ignore", RuntimeWarning)
        interval = reference.confidence_interval(0.95, method="log-log")
    low, high = interval.low.evaluate(curve.times), interval.high.evaluate(curve.times)
    defined = np.isfinite(low) & np.isfinite(high)
    assert defined.sum() > len(curve.times) - 3
    assert curve.ci_low[defined] == pytest.approx(low[defined], rel=1e-9)
    assert curve.ci_high[defined] == pytest.approx(high[defined], rel=1e-9)
    assert (curve.ci_low[~defined] == curve.survival[~defined]).all()
    assert curve.at(-1) == 1.0 and curve.at(float(curve.times[-1]) + 1) == curve.survival[-1]


def test_kaplan_meier_textbook_example():
    """Freireich et al. (1963) 6-MP arm, as in Kleinbaum & Klein's Survival Analysis, table 2.2: S(6) = 0.857,
    S(7) = 0.807, S(10) = 0.753, S(13) = 0.690, S(16) = 0.627, S(22) = 0.538, S(23) = 0.448."""
    weeks = [6, 6, 6, 7, 10, 13, 16, 22, 23, 6, 9, 10, 11, 17, 19, 20, 25, 32, 32, 34, 35]
    relapse = [1] * 9 + [0] * 12
    curve = kaplan_meier(weeks, relapse)
    published = {6: 0.857, 7: 0.807, 10: 0.753, 13: 0.690, 16: 0.627, 22: 0.538, 23: 0.448}
    for week, value in published.items():
        assert curve.at(week) == pytest.approx(value, abs=5e-4)


@pytest.mark.parametrize("seed", [4, 5])
def test_two_sample_log_rank_equals_scipy(seed):
    rng = np.random.default_rng(seed)
    a, b = rng.exponential(150, 200).round(), rng.exponential(110, 180).round()
    cut_a, cut_b = rng.uniform(30, 400, 200).round(), rng.uniform(30, 400, 180).round()
    da, ea, db, eb = np.minimum(a, cut_a), a <= cut_a, np.minimum(b, cut_b), b <= cut_b
    ours = logrank(np.concatenate([da, db]), np.concatenate([ea, eb]), ["a"] * 200 + ["b"] * 180)
    reference = stats.logrank(censored(da, ea), censored(db, eb))
    assert ours.statistic == pytest.approx(reference.statistic**2, rel=1e-9)
    assert ours.p_value == pytest.approx(reference.pvalue, rel=1e-7)
    assert ours.df == 1


def test_k_sample_log_rank_matches_its_definition_and_has_the_right_size():
    """Three groups: the statistic against O - E and V built the slow way, and under one common hazard the test
    rejects at 5 % about 5 % of the time."""
    rng = np.random.default_rng(8)
    durations = rng.exponential(100, 90).round()
    events = rng.random(90) < 0.7
    groups = np.repeat(["x", "y", "z"], 30)
    result = logrank(durations, events, groups)
    seen = np.zeros(3)
    E = np.zeros(3)
    V = np.zeros((3, 3))
    for t in np.unique(durations[events]):
        n_j = np.array([np.sum((durations >= t) & (groups == g)) for g in "xyz"], dtype=float)
        d_j = np.array([np.sum((durations == t) & events & (groups == g)) for g in "xyz"], dtype=float)
        n, d = n_j.sum(), d_j.sum()
        seen += d_j
        E += d * n_j / n
        for i in range(3):
            for j in range(3):
                V[i, j] += d * (n - d) / (n - 1) * n_j[i] / n * ((i == j) - n_j[j] / n) if n > 1 else 0
    z = (seen - E)[:2]
    assert result.statistic == pytest.approx(float(z @ np.linalg.inv(V[:2, :2]) @ z), rel=1e-9)
    assert result.df == 2

    rejections = 0
    for _ in range(400):
        durations = rng.exponential(100, 150).round()
        events = rng.random(150) < 0.8
        rejections += logrank(durations, events, np.repeat([0, 1, 2], 50)).p_value < 0.05
    assert 0.025 < rejections / 400 < 0.08
