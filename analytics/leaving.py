"""Does dissatisfaction predict leaving? Per NPS class of each customer's latest answer in the range: how long
they stayed after it (Kaplan-Meier, log-rank between the classes) and how many bought again within N days.

- Who: customers (not erased) with an NPS answer in the range; their latest one there gives the class.
- Leaving: the first lifecycle change after the answer into "churned" (a cancellation) or "inactive" (no purchase
  for the inactivity period); time is days from the answer. Customers who have not left are censored at ``now``.
- Bought again: a purchase within N days after the answer, among customers answered at least N days ago (the
  others could not have had the full N days yet); a Wilson interval per class.
It shows association, not cause: detractors may differ from promoters in ways that also make them leave.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np
from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from analytics.queries import ReportFilter, day_bounds
from analytics.survival import Curve, LogRank, kaplan_meier, logrank
from customers.models import Customer, LifecycleChange, Purchase
from kundenpuls.dialect import days_between, plus_days
from surveys.kinds import NPS, wilson
from surveys.models import Response, Survey

NPS_CLASSES = ("promoter", "passive", "detractor")
LEFT = ("churned", "inactive")
MARKS = (30, 90, 180, 365)  # days at which the table reads each curve


@dataclass(frozen=True)
class ClassResult:
    nps_class: str
    curve: Curve | None
    bought: int
    eligible: int
    rate_low: float
    rate_high: float

    @property
    def rate(self) -> float | None:
        return self.bought / self.eligible if self.eligible else None


@dataclass(frozen=True)
class LeavingReport:
    start: date
    end: date
    days: int
    classes: list[ClassResult]
    test: LogRank | None
    customers: int

    @property
    def by_class(self) -> dict[str, ClassResult]:
        return {c.nps_class: c for c in self.classes}


def leaving_report(session: Session, start: date, end: date, filters: ReportFilter, days: int, now: datetime
                   ) -> LeavingReport:  # fmt: skip
    since, until = day_bounds(start, end)
    answered = (
        select(
            Response.customer_id.label("customer_id"),
            Response.score.label("score"),
            Response.created_at.label("answered_at"),
            func.row_number()
            .over(partition_by=Response.customer_id, order_by=(Response.created_at.desc(), Response.id.desc()))
            .label("n"),
        )
        .join(Survey, Survey.id == Response.survey_id)
        .where(
            Survey.kind == "nps",
            Response.score.is_not(None),
            Response.customer_id.is_not(None),
            Response.created_at >= since,
            Response.created_at < until,
        )  # fmt: skip
    )
    if filters.survey_id is not None:
        answered = answered.where(Response.survey_id == filters.survey_id)
    if filters.locale is not None:
        answered = answered.where(Response.locale == filters.locale)
    latest = answered.subquery()
    left_at = (
        select(func.min(LifecycleChange.changed_at))
        .where(
            LifecycleChange.customer_id == latest.c.customer_id,
            LifecycleChange.changed_at > latest.c.answered_at,
            LifecycleChange.to_phase.in_(LEFT),
        )
        .correlate(latest)
        .scalar_subquery()
    )
    bought = exists().where(
        Purchase.customer_id == latest.c.customer_id,
        Purchase.purchased_at > latest.c.answered_at,
        Purchase.purchased_at <= plus_days(session, latest.c.answered_at, days),
    )
    query = (
        select(
            latest.c.score,
            days_between(session, func.coalesce(left_at, now), latest.c.answered_at),
            left_at.is_not(None),
            bought,
            latest.c.answered_at <= now - timedelta(days=days),
        )
        .join(Customer, Customer.id == latest.c.customer_id)
        .where(latest.c.n == 1, Customer.erased_at.is_(None))
    )
    if filters.segment is not None:
        query = query.where(Customer.value_class == filters.segment)
    rows = session.execute(query).all()
    return _report(start, end, days, rows)


def _report(start: date, end: date, days: int, rows) -> LeavingReport:
    if not rows:
        return LeavingReport(start, end, days, [ClassResult(c, None, 0, 0, float("nan"), float("nan"))
                                                 for c in NPS_CLASSES], None, 0)  # fmt: skip
    classes = np.array([NPS.classify(int(r[0])) for r in rows])
    durations = np.maximum(np.array([float(r[1]) for r in rows]), 0.0)
    events = np.array([bool(r[2]) for r in rows])
    bought = np.array([bool(r[3]) for r in rows])
    eligible = np.array([bool(r[4]) for r in rows])
    results = []
    for name in NPS_CLASSES:
        mine = classes == name
        curve = kaplan_meier(durations[mine], events[mine]) if mine.any() else None
        k, n = int((bought & eligible & mine).sum()), int((eligible & mine).sum())
        results.append(ClassResult(name, curve, k, n, *wilson(k, n)))
    present = [c for c in NPS_CLASSES if (classes == c).any()]
    test = logrank(durations, events, classes) if len(present) >= 2 and events.any() else None
    return LeavingReport(start, end, days, results, test, len(rows))


def curve_rows(report: LeavingReport) -> list[dict]:
    """Every step of every curve, for the table view and the CSV."""
    rows = []
    for result in report.classes:
        curve = result.curve
        if curve is None:
            continue
        for i, day in enumerate(curve.times):
            rows.append({
                "nps_class": result.nps_class, "day": float(day), "at_risk": int(curve.at_risk[i]),
                "left": int(curve.events[i]), "still_customer": float(curve.survival[i]),
                "ci_low": float(curve.ci_low[i]), "ci_high": float(curve.ci_high[i]),
            })  # fmt: skip
    return rows


def summary_sentences(report: LeavingReport) -> list[str]:
    """What the data shows, in words (English; the page translates its own)."""
    by = report.by_class
    sentences = []
    marks = [m for m in MARKS if all(by[c].curve is not None for c in ("promoter", "detractor"))]
    for mark in marks[1:2]:
        p, d = by["promoter"].curve.at(mark), by["detractor"].curve.at(mark)
        sentences.append(
            f"{mark} days after their answer, {p:.0%} of promoters and {d:.0%} of detractors were still customers."
        )
    if report.test is not None:
        verdict = "differ" if report.test.p_value < 0.05 else "do not differ detectably"
        sentences.append(
            f"The classes' curves {verdict} (log-rank chi-square {report.test.statistic:.1f}, "
            f"{report.test.df} df, p = {report.test.p_value:.3g})."
        )
    return sentences
