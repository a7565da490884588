"""Why customers leave: churn rates, reasons and lifecycle flows, counted in the database.

Everything is read from the stored history (lifecycle changes with their effective dates, churn answers
with their reason rows), so a month's figures do not move when a customer's phase changes later. The value
class is the customer's current one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from analytics.queries import day_bounds, next_period
from customers.models import Customer, LifecycleChange
from kundenpuls.dialect import period_start_text
from surveys.models import Invitation, Survey

ACTIVE = ("new", "existing", "inactive")  # customers who count in the base of the churn rate
CLASSES = ("A", "B", "C", "")  # "" = not classified yet


def months(first: date, end: date) -> list[date]:
    """First days of the months from `first`'s month to `end`'s month."""
    moment, result = first.replace(day=1), []
    while moment <= end:
        result.append(moment)
        moment = next_period(moment, "month")
    return result


def month_key(bucket) -> str:
    return bucket if isinstance(bucket, str) else bucket.isoformat()


@dataclass
class ChurnMonth:
    start: date
    value_class: str | None  # None = all classes
    base: int = 0  # customers in an active phase at the start of the month
    churned: int = 0  # cancellations that took effect in the month
    turned_inactive: int = 0
    reactivated: int = 0  # a purchase after inactivity or churn

    @property
    def rate(self) -> float | None:
        """Churned in the month per 100 customers active at its start."""
        return round(100 * self.churned / self.base, 2) if self.base else None


def _segment(statement, segment: str | None, customer_column):
    if segment is None:
        return statement
    return statement.join(Customer, Customer.id == customer_column).where(
        func.coalesce(Customer.value_class, "") == segment
    )


def churn_rates(session: Session, first: date, end: date, segment: str | None = None) -> list[ChurnMonth]:
    """Churn rate per month, overall and per value class (a class appears in a month when it has customers
    or movements there).

    The base at a month's start is the running sum of entries into and exits from the active phases before
    it; one GROUP BY gives the opening sums, one the monthly movements.
    """
    since, until = day_bounds(first.replace(day=1), end)
    was_active = func.coalesce(LifecycleChange.from_phase, "").in_(ACTIVE)
    is_active = LifecycleChange.to_phase.in_(ACTIVE)
    delta = case((and_(is_active, ~was_active), 1), else_=0) - case((and_(was_active, ~is_active), 1), else_=0)
    value_class = func.coalesce(Customer.value_class, "").label("value_class")
    moved = select(LifecycleChange).join(Customer, Customer.id == LifecycleChange.customer_id)
    if segment is not None:
        moved = moved.where(func.coalesce(Customer.value_class, "") == segment)

    opening = dict(
        session.execute(
            moved.with_only_columns(value_class, func.sum(delta))
            .where(LifecycleChange.changed_at < since)
            .group_by(value_class)
        ).all()
    )
    bucket = period_start_text(session, LifecycleChange.changed_at, "month")
    reactivated = and_(
        LifecycleChange.cause == "purchase",
        LifecycleChange.from_phase.in_(("inactive", "churned")),
        LifecycleChange.to_phase.in_(("new", "existing")),
    )
    movements = session.execute(
        moved.with_only_columns(
            bucket,
            value_class,
            func.sum(delta),
            func.count().filter(LifecycleChange.to_phase == "churned"),
            func.count().filter(LifecycleChange.to_phase == "inactive"),
            func.count().filter(reactivated),
        )
        .where(LifecycleChange.changed_at >= since, LifecycleChange.changed_at < until)
        .group_by(bucket, value_class)
    ).all()
    by_month = {(month_key(row[0]), row[1]): tuple(int(v or 0) for v in row[2:]) for row in movements}

    return _by_month(first, end, segment, opening, by_month)


def _by_month(first: date, end: date, segment: str | None, opening: dict, by_month: dict) -> list[ChurnMonth]:
    """Walks the months from the opening bases, adding each month's movements after reporting it."""
    classes = [segment] if segment is not None else list(CLASSES)
    running = {c: int(opening.get(c) or 0) for c in classes}
    result = []
    for month in months(first, end):
        rows = []
        for c in classes:
            change, churned, inactive, back = by_month.get((month.isoformat(), c), (0, 0, 0, 0))
            rows.append(ChurnMonth(month, c, running[c], churned, inactive, back))
            running[c] += change
        total = ChurnMonth(month, None)
        for row in rows:
            total.base += row.base
            total.churned += row.churned
            total.turned_inactive += row.turned_inactive
            total.reactivated += row.reactivated
        result.append(total)
        if segment is None:
            result.extend(row for row in rows if row.base or row.churned or row.turned_inactive or row.reactivated)
    return result


@dataclass
class Flow:
    """Phase changes per month: {(from, to): count} for each month, and the transitions that occurred."""

    months: list[date]
    transitions: list[tuple[str, str]]
    counts: dict[tuple[str, str, str], int]

    def count(self, month: date, transition: tuple[str, str]) -> int:
        return self.counts.get((month.isoformat(), *transition), 0)


PHASE_ORDER = {"": 0, "potential": 1, "new": 2, "existing": 3, "inactive": 4, "churned": 5}


def lifecycle_flow(session: Session, start: date, end: date, segment: str | None = None) -> Flow:
    """How many customers moved between which phases per month (effective dates, every cause)."""
    since, until = day_bounds(start.replace(day=1), end)
    bucket = period_start_text(session, LifecycleChange.changed_at, "month")
    source = func.coalesce(LifecycleChange.from_phase, "")
    statement = _segment(
        select(bucket, source, LifecycleChange.to_phase, func.count()).where(
            LifecycleChange.changed_at >= since, LifecycleChange.changed_at < until
        ),
        segment,
        LifecycleChange.customer_id,
    ).group_by(bucket, source, LifecycleChange.to_phase)
    counts = {(month_key(m), f, t): int(n) for m, f, t, n in session.execute(statement)}
    transitions = sorted(
        {(f, t) for _, f, t in counts}, key=lambda ft: (PHASE_ORDER.get(ft[0], 9), PHASE_ORDER.get(ft[1], 9))
    )
    return Flow(months(start, end), transitions, counts)


@dataclass
class SurveyMailing:
    sent: int
    answered: int

    @property
    def response_rate(self) -> float | None:
        return round(100 * self.answered / self.sent, 1) if self.sent else None


def churn_mailing(session: Session, start: date, end: date) -> SurveyMailing:
    """Churn-survey invitations first mailed in the range, and how many of them were answered."""
    since, until = day_bounds(start, end)
    sent, answered = session.execute(
        select(func.count(), func.count().filter(Invitation.status == "answered"))
        .join(Survey, Survey.id == Invitation.survey_id)
        .where(Survey.kind == "churn", Invitation.sent_at >= since, Invitation.sent_at < until)
    ).one()
    return SurveyMailing(int(sent), int(answered))
