"""Invest here, save there: per segment, how much each rated attribute explains the score (importance) and how well
it is rated (performance), with intervals, quadrants and a sentence each (issue 24). The statistics are
analytics.importance; this module reads the answers of a segment and puts the figures together."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
from sqlalchemy import case, exists, func, select
from sqlalchemy.orm import Session

from analytics.importance import MAX_GROUPS, Moments, grouped_importance, quadrant
from analytics.queries import ReportFilter, day_bounds, segment_filters, survey_filters
from surveys.audience import latest_nps_class
from surveys.kinds import mean_estimate
from surveys.models import Response
from surveys.rating_grid import AttributeRating, RatingAttribute

MIN_ANSWERS = 50  # complete answers below which a segment's figures are not shown
SEED = 20261201  # the bootstrap's seed: the same data gives the same intervals


@dataclass(frozen=True)
class Segment:
    survey_id: int | None = None
    value_class: str | None = None
    phase: str | None = None
    satisfaction: str | None = None  # the NPS class of the customer's latest answer

    def as_query(self) -> dict:
        return {k: v for k, v in vars(self).items() if v not in (None, "")}


@dataclass
class AttributeFigures:
    attribute: RatingAttribute
    rated: int  # answers that rated it (performance)
    importance: float | None = None  # Shapley share of the score's variance (sums to r2 over the attributes)
    importance_low: float | None = None
    importance_high: float | None = None
    performance: float | None = None
    performance_low: float | None = None
    performance_high: float | None = None
    quadrant: str | None = None

    share_low: float | None = None  # the bootstrap interval of the share of R^2
    share_high: float | None = None

    @property
    def share_of_r2(self) -> float | None:
        """The attribute's part of what the ratings explain together (importance / R^2)."""
        return None if self.importance is None or not self.r2 else self.importance / self.r2

    r2: float | None = None


@dataclass
class ImportanceReport:
    start: date
    end: date
    segment: Segment
    n: int  # answers with a score and at least one rating
    complete: int  # answers that rated every attribute: the regression's
    min_answers: int
    r2: float | None = None
    attributes: list[AttributeFigures] = field(default_factory=list)

    @property
    def shown(self) -> bool:
        return self.r2 is not None


def _answers(start: date, end: date, segment: Segment):
    """The segment's scored answers in range: (id, score), as a subquery."""
    since, until = day_bounds(start, end)
    statement = select(Response.id, Response.score).where(
        Response.created_at >= since, Response.created_at < until, Response.score.is_not(None)
    )
    statement = survey_filters(statement, ReportFilter(segment.survey_id), Response.survey_id, Response.locale)
    statement = segment_filters(statement, Response.customer_id, segment.value_class, segment.phase)
    if segment.satisfaction:
        statement = statement.where(latest_nps_class(Response.customer_id) == segment.satisfaction)
    return statement.subquery("answers")


def _performance(session: Session, answers) -> dict[int, tuple[int, int, int]]:
    """Per attribute rated in the segment: (ratings, their sum, the sum of their squares)."""
    rows = session.execute(
        select(
            AttributeRating.attribute_id,
            func.count(AttributeRating.rating),
            func.sum(AttributeRating.rating),
            func.sum(AttributeRating.rating * AttributeRating.rating),
        )
        .join(answers, answers.c.id == AttributeRating.response_id)
        .where(AttributeRating.rating.is_not(None))
        .group_by(AttributeRating.attribute_id)
    )
    return {attribute_id: (int(n), int(total), int(squares)) for attribute_id, n, total, squares in rows}


def _group_moments(session: Session, answers, order: list[int]) -> Moments | None:
    """The moments of the answers that rated every attribute in `order`, summed in SQL per group of answers
    (id modulo MAX_GROUPS): a million answers come back as a few thousand rows (analytics.importance)."""
    ratings = [
        func.max(case((AttributeRating.attribute_id == attribute_id, AttributeRating.rating))).label(f"a{n}")
        for n, attribute_id in enumerate(order)
    ]
    rated = func.count(AttributeRating.rating).filter(AttributeRating.attribute_id.in_(order))
    pivot = (
        select(answers.c.id, answers.c.score.label("y"), *ratings)
        .join(AttributeRating, AttributeRating.response_id == answers.c.id)
        .group_by(answers.c.id, answers.c.score)
        .having(rated == len(order))
        .subquery("complete")
    )
    columns = [pivot.c[f"a{n}"] for n in range(len(order))] + [pivot.c.y]
    pairs = [(i, j) for i in range(len(columns)) for j in range(i, len(columns))]
    group = (pivot.c.id % MAX_GROUPS).label("g")
    rows = session.execute(
        select(
            group,
            func.count(),
            *(func.sum(column) for column in columns),
            *(func.sum(columns[i] * columns[j]) for i, j in pairs),
        ).group_by(group)
    ).all()
    if not rows:
        return None
    width = len(columns)
    data = np.array([[float(v or 0) for v in row[1:]] for row in rows])
    cross = np.zeros((len(rows), width, width))
    for n, (i, j) in enumerate(pairs):
        cross[:, i, j] = cross[:, j, i] = data[:, 1 + width + n]
    return Moments(data[:, 0], data[:, 1 : 1 + width], cross)


def importance_report(
    session: Session, start: date, end: date, segment: Segment, min_answers: int = MIN_ANSWERS, resamples: int = 1000
) -> ImportanceReport:
    answers = _answers(start, end, segment)
    n = session.scalar(select(func.count()).select_from(answers).where(
        exists().where(AttributeRating.response_id == answers.c.id)
    ))  # fmt: skip
    rated = _performance(session, answers)
    attributes = {a.id: a for a in session.scalars(select(RatingAttribute).where(RatingAttribute.id.in_(rated)))}
    order = sorted(attributes, key=lambda i: (attributes[i].position, i))
    report = ImportanceReport(start, end, segment, n or 0, 0, min_answers)
    for attribute_id in order:
        count, total, squares = rated[attribute_id]
        estimate = mean_estimate(total, squares, count)
        figures = AttributeFigures(attributes[attribute_id], count, performance=estimate.value)
        figures.performance_low, figures.performance_high = estimate.ci_low, estimate.ci_high
        report.attributes.append(figures)
    if not order:
        return report
    groups = _group_moments(session, answers, order)
    report.complete = int(groups.n.sum()) if groups is not None else 0
    if report.complete < max(min_answers, len(order) + 2):
        return report
    result = grouped_importance(groups, np.random.default_rng(SEED), resamples)
    report.r2 = result.r2
    for n, figure in enumerate(report.attributes):
        figure.importance, figure.r2 = float(result.values[n]), result.r2
        figure.importance_low, figure.importance_high = float(result.low[n]), float(result.high[n])
        figure.share_low, figure.share_high = float(result.share_low[n]), float(result.share_high[n])
    mean_importance = float(np.mean(result.values))
    mean_rating = float(np.mean([f.performance for f in report.attributes]))
    for figure in report.attributes:
        figure.quadrant = quadrant(figure.importance, mean_importance, figure.performance, mean_rating)
    return report
