"""Survey kinds, one definition each: the scale, the classes and their bounds, the headline metric with its
confidence interval, and which answers open a case (issue 21).

- NPS: 0-10; promoter 9-10, passive 7-8, detractor 0-6; NPS = % promoters - % detractors, adjusted-Wald interval
  (Rocks 2016: add 3 answers, 0.75 promoters and 0.75 detractors).
- CSAT: 1-5 ("How satisfied were you with ..."); satisfied 4-5, neutral 3, dissatisfied 1-2; CSAT % = share
  satisfied, Wilson interval.
- CES: 1-7 ("... made it easy for me to ..."); easy 5-7, neutral 4, hard 1-3; the mean with a t interval, and the
  share easy with a Wilson interval.
- Churn: no scale; reasons instead.
Every place that needs a scale, a class or a metric asks its kind; the statistics are tested against SciPy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats
from sqlalchemy import and_, case, literal, or_

Z95 = float(stats.norm.ppf(0.975))


@dataclass(frozen=True)
class Band:
    """A class of answers: its name and the scores it covers (inclusive)."""

    name: str
    low: int
    high: int


@dataclass(frozen=True)
class Kind:
    key: str
    low: int | None  # the scale's ends; None for a kind without a score
    high: int | None
    bands: tuple[Band, ...]  # best class first
    case_classes: tuple[str, ...]  # answers in these classes open a case

    @property
    def scored(self) -> bool:
        return self.low is not None

    @property
    def scale(self) -> range:
        return range(self.low, self.high + 1) if self.low is not None else range(0)

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(band.name for band in self.bands)

    def classify(self, score: int | None) -> str | None:
        """The class of a score on this kind's scale; None without a score (ValueError off the scale)."""
        if score is None:
            return None
        for band in self.bands:
            if band.low <= score <= band.high:
                return band.name
        raise ValueError(f"{score} is not on the {self.key} scale {self.low}-{self.high}")

    @property
    def middle(self) -> str:
        """The class between content and unhappy (passive, neutral): with a comment it may open a low case."""
        return self.bands[1].name

    def position(self, score: int) -> int:
        """0 for the best class, 1 for the middle, 2 for the case class: how the rollup and the pages count."""
        return self.classes.index(self.classify(score))

    def unhappiness(self, score: int) -> float:
        """How deep in the case class a score lies, 1/width (its top) to 1 (the scale's bottom): the priority's
        answer points scale with it, so NPS 0 and CSAT 1 weigh the same."""
        worst = self.bands[-1]
        return (worst.high + 1 - score) / (worst.high + 1 - worst.low)

    def band(self, name: str) -> Band:
        return next(band for band in self.bands if band.name == name)

    def is_in(self, score: int | None, name: str) -> bool:
        """Whether a score lies in the named class (False without a score)."""
        return score is not None and self.band(name).low <= score <= self.band(name).high

    def sql_in(self, column, name: str):
        """SQL: the score column lies in the named class."""
        band = self.band(name)
        return column.between(band.low, band.high)

    def sql_class(self, column, otherwise=None):
        """SQL: the class name of the score column (``otherwise`` without a score)."""
        return case(*((column.between(b.low, b.high), literal(b.name)) for b in self.bands), else_=otherwise)

    def counts(self, scores) -> dict[str, int]:
        """Answers per class, every class present."""
        counted = dict.fromkeys(self.classes, 0)
        for score in scores:
            counted[self.classify(score)] += 1
        return counted


NPS = Kind("nps", 0, 10, (Band("promoter", 9, 10), Band("passive", 7, 8), Band("detractor", 0, 6)), ("detractor",))
CSAT = Kind(
    "csat", 1, 5, (Band("satisfied", 4, 5), Band("neutral", 3, 3), Band("dissatisfied", 1, 2)), ("dissatisfied",)
)
CES = Kind("ces", 1, 7, (Band("easy", 5, 7), Band("neutral", 4, 4), Band("hard", 1, 3)), ("hard",))
CHURN = Kind("churn", None, None, (), ())
KINDS = {kind.key: kind for kind in (NPS, CSAT, CES, CHURN)}
SCORED = tuple(kind for kind in KINDS.values() if kind.scored)
SCORED_KEYS = tuple(kind.key for kind in SCORED)
# Every score any scored kind accepts: the answer POST checks this before it knows the survey (its SQL then
# checks the survey's own scale, see sql_on_scale).
LOWEST, HIGHEST = min(kind.low for kind in SCORED), max(kind.high for kind in SCORED)


def sql_on_scale(kind_column, score):
    """SQL: the score lies on the scale of the survey kind in `kind_column`."""
    return or_(*(and_(kind_column == kind.key, score.between(kind.low, kind.high)) for kind in SCORED))


def sql_position_flags(kind_column, score) -> tuple:
    """SQL: three 0/1 columns, the answer is in its kind's best, middle or case class (the rollup's counts)."""
    return tuple(
        case(*((and_(kind_column == kind.key, kind.sql_in(score, kind.bands[i].name)), 1) for kind in SCORED), else_=0)
        for i in range(3)
    )


def may_be_case_class(score: int | None) -> bool:
    """Whether a score could open a case under some scored kind (the answer POST asks before it knows which)."""
    return score is None or any(kind.classify(score) in kind.case_classes for kind in SCORED if score in kind.scale)


def may_be_middle(score: int) -> bool:
    return any(kind.is_in(score, kind.middle) for kind in SCORED)


@dataclass(frozen=True)
class Estimate:
    """A metric with its 95% interval; None throughout without answers."""

    n: int
    value: float | None
    ci_low: float | None
    ci_high: float | None


def nps_estimate(promoters: int, passives: int, detractors: int, z: float = Z95) -> Estimate:
    """NPS in points (-100..100) from the counts, with the adjusted-Wald interval (clipped to the range)."""
    n = promoters + passives + detractors
    if n == 0:
        return Estimate(0, None, None, None)
    n_adj = n + 3
    p, d = (promoters + 0.75) / n_adj, (detractors + 0.75) / n_adj
    centre, se = p - d, math.sqrt((p + d - (p - d) ** 2) / n_adj)
    return Estimate(n, 100 * (promoters - detractors) / n, 100 * max(-1.0, centre - z * se),
                    100 * min(1.0, centre + z * se))  # fmt: skip


def wilson(successes: int, n: int, z: float = Z95) -> tuple[float, float]:
    """The Wilson score interval for a share (Wilson 1927): good at small n and near 0 or 1."""
    if n == 0:
        return float("nan"), float("nan")
    share = successes / n
    centre = (share + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * math.sqrt(share * (1 - share) / n + z**2 / (4 * n**2))
    return max(0.0, centre - half), min(1.0, centre + half)


def share_estimate(successes: int, n: int) -> Estimate:
    """A share in percent (CSAT %: satisfied answers; CES: the share easy) with its Wilson interval."""
    if n == 0:
        return Estimate(0, None, None, None)
    low, high = wilson(successes, n)
    return Estimate(n, 100 * successes / n, 100 * low, 100 * high)


def mean_estimate(total: float, total_squares: float, n: int) -> Estimate:
    """A mean score (CES) from the sum and the sum of squares, with Student's t interval (n - 1 df); a single
    answer has no interval."""
    if n == 0:
        return Estimate(0, None, None, None)
    mean = total / n
    if n == 1:
        return Estimate(1, mean, None, None)
    variance = max(0.0, (total_squares - n * mean**2) / (n - 1))
    half = float(stats.t.ppf(0.975, n - 1)) * math.sqrt(variance / n)
    return Estimate(n, mean, mean - half, mean + half)
