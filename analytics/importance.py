"""Key-driver statistics: how much each rated attribute explains the score, and how well it is rated.

- **Importance**: the Shapley decomposition of R^2 of the linear regression of the score on the attribute ratings
  (Lindeman, Merenda & Gold 1980, "LMG"; Groemping 2006, relaimpo): each attribute's R^2 gain when it joins a
  subset of the others, averaged over all orders, computed exactly over all 2^k subsets (k up to 10). The values
  sum to the full model's R^2. Every R^2 comes from the correlation matrix: R^2(S) = r_S' R_SS^-1 r_S.
- **Intervals**: a seeded bootstrap. The answers are dealt at random into G groups (every answer its own group up
  to MAX_GROUPS answers), each group keeps its sums (counts, sums and cross-products), and a resample draws G
  groups with replacement: the sums of iid groups resample like the sums of the answers, and 1,000 resamples cost
  1,000 small matrix sums instead of 1,000 passes over a million answers.
- **Performance**: an attribute's mean rating with Student's t interval (surveys.kinds.mean_estimate).
- **Missing ratings** ("does not apply", not rated): the regression uses the answers that rated every attribute
  (complete cases, as relaimpo does); performance uses every rating of its attribute. Both n are reported.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

MAX_ATTRIBUTES = 10
MAX_GROUPS = 5000
RESAMPLES = 1000


def subset_r2(corr: np.ndarray) -> np.ndarray:
    """R^2 of every subset of the k predictors, indexed by its bit mask; `corr` is a (k+1)x(k+1) correlation
    matrix with the score last, or a stack of them (B, k+1, k+1) for the bootstrap, solved together per subset
    size. A singular subset (a constant or duplicated attribute) gets its least-squares R^2 (pseudo-inverse)."""
    stacked = corr if corr.ndim == 3 else corr[None]
    batch, k = stacked.shape[0], stacked.shape[1] - 1
    r2 = np.zeros((batch, 1 << k))
    for size in range(1, k + 1):
        combos = np.array(list(itertools.combinations(range(k), size)))
        masks = (1 << combos).sum(axis=1)
        sub = stacked[:, combos[:, :, None], combos[:, None, :]]  # (B, C, s, s)
        r = stacked[:, combos, k]  # (B, C, s)
        try:
            solved = np.linalg.solve(sub, r[..., None])[..., 0]
        except np.linalg.LinAlgError:
            solved = (np.linalg.pinv(sub) @ r[..., None])[..., 0]
        r2[:, masks] = np.einsum("bcs,bcs->bc", r, solved)
    return r2 if corr.ndim == 3 else r2[0]


def shapley(r2: np.ndarray, k: int) -> np.ndarray:
    """Each predictor's Shapley value of R^2: the weighted mean of its gains over the subsets without it, with
    weight |S|! (k - |S| - 1)! / k!. `r2` may be a stack (B, 2^k)."""
    stacked = r2 if r2.ndim == 2 else r2[None]
    masks = np.arange(1 << k)
    sizes = np.array([int(m).bit_count() for m in masks])
    weight = np.array([math.factorial(s) * math.factorial(k - s - 1) / math.factorial(k) if s < k else 0.0
                       for s in sizes])  # fmt: skip
    values = np.empty((stacked.shape[0], k))
    for j in range(k):
        without = masks[(masks >> j) & 1 == 0]
        values[:, j] = (stacked[:, without | (1 << j)] - stacked[:, without]) @ weight[without]
    return values if r2.ndim == 2 else values[0]


def correlation(sums: Moments) -> np.ndarray:
    """The correlation matrix from accumulated moments (n, sums, cross-products); stacks of moments give a stack.
    A constant column correlates 0 with everything (it explains nothing)."""
    n = np.asarray(sums.n, dtype=float)[..., None]
    mean = sums.total / n
    cov = sums.cross / n[..., None] - mean[..., :, None] * mean[..., None, :]
    scale = np.sqrt(np.clip(np.diagonal(cov, axis1=-2, axis2=-1), 0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = cov / (scale[..., :, None] * scale[..., None, :])
    corr[~np.isfinite(corr)] = 0.0
    index = np.arange(corr.shape[-1])
    corr[..., index, index] = 1.0
    return corr


@dataclass(frozen=True)
class Moments:
    """Sufficient statistics of rows (attributes..., score): enough for every R^2. One set (n a count, total
    (k+1,), cross (k+1, k+1)) or a stack of them with a leading axis (per group, or per bootstrap resample)."""

    n: float | np.ndarray
    total: np.ndarray
    cross: np.ndarray


@dataclass(frozen=True)
class Importance:
    n: int  # complete cases used
    r2: float
    values: np.ndarray  # Shapley values, summing to r2
    low: np.ndarray  # 95% bootstrap percentile interval
    high: np.ndarray
    share_low: np.ndarray  # the same for each attribute's share of R^2 (values / r2), resample by resample
    share_high: np.ndarray


def importance(rows: np.ndarray, seed: int = 0, resamples: int = RESAMPLES) -> Importance:
    """Shapley importance of the k attribute columns for the last column (the score), with bootstrap intervals.

    `rows` holds complete cases only (n x (k+1)); the groups for the bootstrap are dealt with `seed`."""
    n, width = rows.shape
    if not 1 <= width - 1 <= MAX_ATTRIBUTES:
        raise ValueError(f"1 to {MAX_ATTRIBUTES} attributes")
    rng = np.random.default_rng(seed)
    groups = min(n, MAX_GROUPS)
    label = rng.permutation(n) % groups
    order = np.argsort(label, kind="stable")
    bounds = np.searchsorted(label[order], np.arange(groups + 1))
    ordered = rows[order]
    counts = np.diff(bounds).astype(float)
    totals = np.add.reduceat(ordered, bounds[:-1], axis=0)
    # Cross-products per group: each group's small product over its own answers (at most MAX_GROUPS of them).
    cross = np.stack([ordered[a:b].T @ ordered[a:b] for a, b in itertools.pairwise(bounds)])
    return grouped_importance(Moments(counts, totals, cross), rng, resamples)


def grouped_importance(groups: Moments, rng: np.random.Generator, resamples: int = RESAMPLES) -> Importance:
    """Importance and its bootstrap from the moments of G groups of answers (counts (G,), sums (G, k+1),
    cross-products (G, k+1, k+1)): from numpy above, or summed in SQL for large segments
    (analytics.importance_report), where a million answers become a few thousand rows."""
    k = groups.total.shape[1] - 1
    full = Moments(groups.n.sum(), groups.total.sum(axis=0), groups.cross.sum(axis=0))
    r2 = subset_r2(correlation(full))
    values = shapley(r2, k)
    count = len(groups.n)
    picks = np.stack([np.bincount(rng.integers(0, count, count), minlength=count) for _ in range(resamples)])
    picks = picks.astype(float)
    sample = Moments(picks @ groups.n, picks @ groups.total, np.tensordot(picks, groups.cross, axes=1))
    draws = shapley(subset_r2(correlation(sample)), k)
    low, high = np.percentile(draws, [2.5, 97.5], axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = np.nan_to_num(draws / draws.sum(axis=1, keepdims=True))
    share_low, share_high = np.percentile(shares, [2.5, 97.5], axis=0)
    return Importance(int(full.n), float(r2[-1]), values, low, high, share_low, share_high)


QUADRANTS = ("invest_here", "keep_it_up", "save_there", "low_priority")


def quadrant(importance_share: float, mean_importance: float, rating: float, mean_rating: float) -> str:
    """Where an attribute sits against the lines at the means: important and rated low, invest here; important
    and rated high, keep it up; unimportant and rated high, save there (possible overkill); else low priority."""
    important, rated_high = importance_share >= mean_importance, rating >= mean_rating
    if important:
        return "keep_it_up" if rated_high else "invest_here"
    return "save_there" if rated_high else "low_priority"
