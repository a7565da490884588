"""NPS statistics on counts: the adjusted-Wald interval and a two-sample test, with SciPy's normal law.

Adjusted-Wald (Rocks, The American Statistician 2016): add 3 to n and 0.75 to the promoter and detractor
counts; p = P'/n', d = D'/n', SE = sqrt((p + d - (p - d)^2) / n'); interval (p - d) +- z * SE, clipped to
[-100, 100]. It stays honest for small n, where the plain Wald interval collapses (all promoters: width 0).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

from scipy.stats import norm

MIN_ANSWERS = 30  # below this a period is shown, marked "too few answers"


@dataclass(frozen=True)
class NpsFigure:
    n: int
    promoters: int
    passives: int
    detractors: int
    nps: float | None
    ci_low: float | None
    ci_high: float | None

    @property
    def too_few(self) -> bool:
        return self.n < MIN_ANSWERS

    def as_dict(self) -> dict:
        return {
            "n": self.n,
            "promoters": self.promoters,
            "passives": self.passives,
            "detractors": self.detractors,
            "nps": self.nps,
            "ci_low": self.ci_low,
            "ci_high": self.ci_high,
            "too_few": self.too_few,
        }


def _adjusted(promoters: int, detractors: int, n: int) -> tuple[float, float]:
    """NPS' and its standard error (both as fractions), from the adjusted counts."""
    n_adj = n + 3
    p, d = (promoters + 0.75) / n_adj, (detractors + 0.75) / n_adj
    return p - d, math.sqrt((p + d - (p - d) ** 2) / n_adj)


@functools.lru_cache(maxsize=8)
def _z(confidence: float) -> float:
    """The normal quantile, computed once per confidence level (SciPy's ppf costs more than the rest)."""
    return float(norm.ppf(0.5 + confidence / 2))


def figure(promoters: int, passives: int, detractors: int, confidence: float = 0.95) -> NpsFigure:
    """NPS (plain, from the counts) and the adjusted-Wald interval, in points (-100..100); None without answers."""
    n = promoters + passives + detractors
    if n == 0:
        return NpsFigure(0, 0, 0, 0, None, None, None)
    z = _z(confidence)
    center, se = _adjusted(promoters, detractors, n)
    low, high = max(-1.0, center - z * se), min(1.0, center + z * se)
    nps = (promoters - detractors) / n
    return NpsFigure(n, promoters, passives, detractors, round(nps * 100, 2), round(low * 100, 2), round(high * 100, 2))


@dataclass(frozen=True)
class Change:
    delta: float  # NPS points, this period minus the previous one
    p_value: float
    significant: bool


def change(current: NpsFigure, previous: NpsFigure, alpha: float = 0.05) -> Change | None:
    """Two-sample z-test on NPS with the adjusted-Wald standard errors; None if either side has no answers."""
    if current.n == 0 or previous.n == 0:
        return None
    c_center, c_se = _adjusted(current.promoters, current.detractors, current.n)
    p_center, p_se = _adjusted(previous.promoters, previous.detractors, previous.n)
    z = (c_center - p_center) / math.sqrt(c_se**2 + p_se**2)
    p_value = float(2 * norm.sf(abs(z)))
    return Change(round(current.nps - previous.nps, 2), p_value, p_value < alpha)
