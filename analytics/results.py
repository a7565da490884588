"""A survey's results per period, whatever its kind: the class counts, the kind's headline metric with its 95%
interval, and the change against the period before with a test of exactly the difference shown.

- NPS: NPS points with the adjusted-Wald interval; change: the unpooled two-sample z-test (analytics.nps).
- CSAT: % satisfied (4-5) with the Wilson interval; change: the pooled two-proportion z-test, the same p-value
  as Pearson's chi-square on the 2x2 table without continuity correction.
- CES: the mean score with Student's t interval, and the % easy (5-7) with the Wilson interval; change: Welch's
  t-test on the two means (unequal variances, Welch-Satterthwaite degrees of freedom).
Counted from the daily rollup (class counts and the sums of scores and squares), like the NPS report.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date

from scipy import stats
from sqlalchemy.orm import Session

from analytics.nps import Change, change, figure
from analytics.queries import ONE_DAY, ReportFilter, next_period, period_start, raw_counts, rollup_counts
from surveys.kinds import CES, CSAT, KINDS, NPS, Estimate, Kind, mean_estimate, share_estimate
from surveys.models import Survey

METRICS = {NPS.key: "nps", CSAT.key: "csat_percent", CES.key: "ces_mean"}


@dataclass(frozen=True)
class Counts:
    """One period's answers: per class (best first), and the sums of the scores and of their squares."""

    classes: tuple[int, int, int]
    total: int
    squares: int

    @property
    def n(self) -> int:
        return sum(self.classes)

    def __add__(self, other: Counts) -> Counts:
        return Counts(
            tuple(a + b for a, b in zip(self.classes, other.classes, strict=True)),
            self.total + other.total,
            self.squares + other.squares,
        )


NONE = Counts((0, 0, 0), 0, 0)


@dataclass(frozen=True)
class KindFigure:
    kind: Kind
    counts: Counts
    value: Estimate  # the headline metric: NPS points, CSAT %, CES mean
    share_easy: Estimate | None  # CES only
    min_answers: int

    @property
    def too_few(self) -> bool:
        return self.counts.n < self.min_answers

    def as_dict(self) -> dict:
        result = {
            "n": self.counts.n,
            "classes": dict(zip(self.kind.classes, self.counts.classes, strict=True)),
            "value": _round(self.value.value),
            "ci_low": _round(self.value.ci_low),
            "ci_high": _round(self.value.ci_high),
            "too_few": self.too_few,
        }
        if self.share_easy is not None:
            easy = self.share_easy
            result["share_easy"] = {
                "value": _round(easy.value),
                "ci_low": _round(easy.ci_low),
                "ci_high": _round(easy.ci_high),
            }
        return result


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def kind_figure(kind: Kind, counts: Counts, min_answers: int) -> KindFigure:
    """The kind's metric and interval from one period's counts."""
    best, middle, worst = counts.classes
    if kind is NPS:
        nps = figure(best, middle, worst, min_answers=min_answers)
        return KindFigure(kind, counts, Estimate(nps.n, nps.nps, nps.ci_low, nps.ci_high), None, min_answers)
    if kind is CSAT:
        return KindFigure(kind, counts, share_estimate(best, counts.n), None, min_answers)
    if kind is CES:
        mean = mean_estimate(counts.total, counts.squares, counts.n)
        return KindFigure(kind, counts, mean, share_estimate(best, counts.n), min_answers)
    raise ValueError(f"{kind.key} surveys have no score")


def kind_change(current: KindFigure, previous: KindFigure, alpha: float = 0.05) -> Change | None:
    """The change of the headline metric and the p-value of the test that matches it (see the module docstring);
    None if a side has no answers, no p-value if a side has too few."""
    a, b = current.counts, previous.counts
    if a.n == 0 or b.n == 0:
        return None
    if current.kind is NPS:
        nps_now, nps_before = (figure(*c.classes, min_answers=current.min_answers) for c in (a, b))
        return change(nps_now, nps_before, alpha)
    delta = current.value.value - previous.value.value
    if current.too_few or previous.too_few:
        return Change(round(delta, 2), None, False)
    p_value = _two_proportions(a.classes[0], a.n, b.classes[0], b.n) if current.kind is CSAT else _welch(a, b)
    return Change(round(delta, 2), p_value, p_value < alpha)


def _two_proportions(x1: int, n1: int, x2: int, n2: int) -> float:
    """Pooled two-proportion z-test, two-sided; all-or-nothing on both sides has no noise: 1.0 (same) or 0.0."""
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return 1.0 if x1 / n1 == x2 / n2 else 0.0
    return float(2 * stats.norm.sf(abs(x1 / n1 - x2 / n2) / se))


def _welch(a: Counts, b: Counts) -> float:
    """Welch's t-test from the sums: every figure it needs is in the rollup."""
    means, variances = [], []
    for c in (a, b):
        mean = c.total / c.n
        means.append(mean)
        variances.append(max(0.0, (c.squares - c.n * mean**2) / (c.n - 1)) / c.n)
    se2 = sum(variances)
    if se2 == 0:
        return 1.0 if means[0] == means[1] else 0.0
    df = se2**2 / sum(v**2 / (c.n - 1) for v, c in zip(variances, (a, b), strict=True) if v > 0)
    return float(2 * stats.t.sf(abs(means[0] - means[1]) / math.sqrt(se2), df))


@dataclass
class ResultPeriod:
    start: date
    figure: KindFigure
    change: Change | None
    first_day: date
    last_day: date
    interval: str

    @property
    def partial(self) -> bool:
        return (self.first_day, self.last_day) != (self.start, next_period(self.start, self.interval) - ONE_DAY)


@dataclass
class SurveyResults:
    survey: Survey
    kind: Kind
    interval: str
    start: date
    end: date
    periods: list[ResultPeriod] = field(default_factory=list)
    total: KindFigure | None = None


def survey_results(
    session: Session,
    survey: Survey,
    start: date,
    end: date,
    interval: str,
    filters: ReportFilter,
    min_answers: int,
    source: str = "rollup",
) -> SurveyResults:
    """Per period from `start` to `end` (inclusive; cut periods count only their days inside), oldest first."""
    kind = _scored(survey)
    filters = ReportFilter(survey.id, filters.locale, filters.category, filters.segment, filters.phase, filters.channel)
    read = rollup_counts if source == "rollup" else raw_counts
    rows = read(session, start, end, interval, filters)
    results = SurveyResults(survey, kind, interval, start, end)
    moment, last, previous, overall = period_start(start, interval), period_start(end, interval), None, NONE
    while moment <= last:
        row = rows.get(moment.isoformat())
        counts = Counts(tuple(row[:3]), row[3], row[4]) if row else NONE
        current = kind_figure(kind, counts, min_answers)
        days = (max(moment, start), min(next_period(moment, interval) - ONE_DAY, end))
        moved = kind_change(current, previous) if previous is not None else None
        results.periods.append(ResultPeriod(moment, current, moved, days[0], days[1], interval))
        overall, previous, moment = overall + counts, current, next_period(moment, interval)
    results.total = kind_figure(kind, overall, min_answers)
    return results


def _scored(survey: Survey) -> Kind:
    kind = KINDS[survey.kind]
    if not kind.scored:
        raise ValueError(f"{survey.kind} surveys have no score: see the churn report")
    return kind
