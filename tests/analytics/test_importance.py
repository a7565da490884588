"""Shapley importance of R^2 (LMG): equal to a brute force over every order of the attributes, summing to the full
model's R^2, recovering known weights from simulated data, with a reproducible bootstrap (issue 24)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from analytics.importance import importance, quadrant, shapley, subset_r2


def r2_by_regression(x: np.ndarray, y: np.ndarray) -> float:
    """R^2 of an ordinary least-squares fit with an intercept: the independent computation."""
    if x.shape[1] == 0:
        return 0.0
    design = np.column_stack([np.ones(len(y)), x])
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    residual = y - design @ coef
    return 1 - residual @ residual / ((y - y.mean()) @ (y - y.mean()))


def brute_force_lmg(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """LMG by definition: the mean over all k! orders of each attribute's R^2 gain when it enters."""
    k = x.shape[1]
    gains = np.zeros(k)
    for order in itertools.permutations(range(k)):
        entered: list[int] = []
        for j in order:
            before = r2_by_regression(x[:, entered], y)
            entered.append(j)
            gains[j] += r2_by_regression(x[:, entered], y) - before
    return gains / math.factorial(k)


def simulated(n: int, weights, seed: int, noise: float = 2.0) -> np.ndarray:
    """Correlated ratings 1-5 and a score 0-10 that depends on them with the given weights."""
    rng = np.random.default_rng(seed)
    k = len(weights)
    common = rng.normal(size=(n, 1))
    latent = 0.5 * common + rng.normal(size=(n, k))
    ratings = np.clip(np.round(3 + latent), 1, 5)
    score = np.clip(np.round(2 + ratings @ np.array(weights) + rng.normal(scale=noise, size=n)), 0, 10)
    return np.column_stack([ratings, score])


@pytest.mark.parametrize("k", [1, 3, 5])
def test_shapley_values_equal_the_brute_force_and_sum_to_r2(k):
    rows = simulated(400, [0.6, 0.3, 0.1, 0.05, 0.0][:k], seed=k)
    x, y = rows[:, :k], rows[:, k]
    corr = np.corrcoef(rows, rowvar=False)
    r2 = subset_r2(corr)
    values = shapley(r2, k)
    assert values == pytest.approx(brute_force_lmg(x, y), abs=1e-9)
    assert values.sum() == pytest.approx(r2_by_regression(x, y), abs=1e-9)
    for mask in range(1 << k):
        members = [j for j in range(k) if mask >> j & 1]
        assert r2[mask] == pytest.approx(r2_by_regression(x[:, members], y), abs=1e-9)


def test_known_weights_are_recovered_in_order():
    weights = [1.0, 0.6, 0.3, 0.1, 0.0, 0.0]
    result = importance(simulated(20_000, weights, seed=11), seed=3, resamples=200)
    assert list(np.argsort(-result.values)[:4]) == [0, 1, 2, 3]
    assert result.values.sum() == pytest.approx(result.r2)
    assert all(result.low <= result.values) and all(result.values <= result.high)
    assert result.high[4] < result.low[2]  # a driver with no weight is told apart from a real one


def test_the_bootstrap_is_reproducible_with_its_seed_and_matches_a_plain_bootstrap():
    rows = simulated(1500, [0.8, 0.4, 0.0], seed=5)
    first, again = importance(rows, seed=9, resamples=300), importance(rows, seed=9, resamples=300)
    assert np.array_equal(first.low, again.low) and np.array_equal(first.high, again.high)
    assert not np.array_equal(first.low, importance(rows, seed=10, resamples=300).low)
    # Under MAX_GROUPS answers every answer is its own group: a plain bootstrap of the rows. Its spread agrees
    # with one done the slow way, row by row (different draws, so only roughly).
    rng = np.random.default_rng(1)
    plain = np.array([
        shapley(subset_r2(np.corrcoef(rows[rng.integers(0, len(rows), len(rows))], rowvar=False)), 3)
        for _ in range(300)
    ])  # fmt: skip
    low, high = np.percentile(plain, [2.5, 97.5], axis=0)
    assert first.high - first.low == pytest.approx(high - low, rel=0.3)


def test_a_constant_attribute_explains_nothing():
    rows = simulated(300, [0.7, 0.2], seed=2)
    rows = np.column_stack([rows[:, :2], np.full(len(rows), 4.0), rows[:, 2]])
    result = importance(rows, seed=1, resamples=50)
    assert result.values[2] == pytest.approx(0.0, abs=1e-12)


def test_the_quadrants():
    assert quadrant(0.3, 0.2, 3.1, 3.8) == "invest_here"
    assert quadrant(0.3, 0.2, 4.1, 3.8) == "keep_it_up"
    assert quadrant(0.1, 0.2, 4.1, 3.8) == "save_there"
    assert quadrant(0.1, 0.2, 3.1, 3.8) == "low_priority"
