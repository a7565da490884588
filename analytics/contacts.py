"""Interactions as data in a report (issue 24): per segment, the most frequent contact reasons and central problems
(root causes) of the cases opened in the range, with their count per month and the latest cases behind them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from analytics.queries import day_bounds, segment_filters
from feedback.models import Case, ContactReason
from kundenpuls.dialect import period_start_text

TOP = 5
LATEST_CASES = 5


@dataclass
class Frequent:
    key: str
    cases: int
    per_month: dict[str, int] = field(default_factory=dict)  # "YYYY-MM-01" -> cases
    latest: list[int] = field(default_factory=list)  # case ids, newest first
    reason: ContactReason | None = None  # for contact reasons: its labels


@dataclass
class ContactReport:
    start: date
    end: date
    months: list[str]
    cases: int
    reasons: list[Frequent]
    problems: list[Frequent]


def _scope(statement, start: date, end: date, value_class: str | None, phase: str | None):
    since, until = day_bounds(start, end)
    statement = statement.where(Case.created_at >= since, Case.created_at < until)
    return segment_filters(statement, Case.customer_id, value_class, phase)


def _frequent(session: Session, column, start, end, value_class, phase) -> list[Frequent]:
    """The TOP values of `column` by cases, with their months and latest cases."""
    counted = _scope(select(column, func.count()).where(column.is_not(None)), start, end, value_class, phase)
    top = session.execute(counted.group_by(column).order_by(func.count().desc(), column).limit(TOP)).all()
    found = {value: Frequent(str(value), int(n)) for value, n in top}
    if not found:
        return []
    month = period_start_text(session, Case.created_at, "month")
    monthly = _scope(select(column, month, func.count()).where(column.in_(found)), start, end, value_class, phase)
    for value, period, n in session.execute(monthly.group_by(column, month)):
        found[value].per_month[period] = int(n)
    latest = _scope(select(column, Case.id).where(column.in_(found)), start, end, value_class, phase)
    for value, case_id in session.execute(latest.order_by(Case.created_at.desc(), Case.id.desc())):
        if len(found[value].latest) < LATEST_CASES:
            found[value].latest.append(case_id)
    return list(found.values())


def contact_report(
    session: Session, start: date, end: date, value_class: str | None = None, phase: str | None = None
) -> ContactReport:
    cases = session.scalar(_scope(select(func.count()).select_from(Case), start, end, value_class, phase)) or 0
    reasons = _frequent(session, Case.contact_reason_id, start, end, value_class, phase)
    labels = {r.id: r for r in session.scalars(select(ContactReason))}
    for item in reasons:
        item.reason = labels[int(item.key)]
        item.key = item.reason.key
    problems = _frequent(session, Case.root_cause, start, end, value_class, phase)
    months, moment = [], start.replace(day=1)
    while moment <= end:
        months.append(moment.isoformat())
        moment = date(moment.year + (moment.month == 12), moment.month % 12 + 1, 1)
    return ContactReport(start, end, months, cases, reasons, problems)
