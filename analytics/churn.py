"""Why customers leave: churn rates, reasons and lifecycle flows, counted in the database.

Everything is read from the stored history (lifecycle changes with their effective dates, churn answers
with their reason rows), so a month's figures do not move when a customer's phase changes later. The value
class is the customer's current one.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from analytics.drivers import two_by_two_test
from analytics.queries import day_bounds, next_period
from customers.models import Customer, LifecycleChange
from kundenpuls.dialect import period_start_text
from surveys.models import ChurnReason, Invitation, Response, ResponseReason, Survey

ACTIVE = ("new", "existing", "inactive")  # customers who count in the base of the churn rate
CLASSES = ("A", "B", "C", "")  # "" = not classified yet
OPEN_TEXTS_LIMIT = 300


def months(first: date, end: date) -> list[date]:
    """First days of the months from `first`'s month to `end`'s month."""
    moment, result = first.replace(day=1), []
    while moment <= end:
        result.append(moment)
        moment = next_period(moment, "month")
    return result


def _key(bucket) -> str:
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
    by_month = {(_key(row[0]), row[1]): tuple(int(v or 0) for v in row[2:]) for row in movements}

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


def _churn_answers(start: date, end: date, segment: str | None):
    """Churn answers in the range with their customer (optionally of one value class), to add columns to."""
    since, until = day_bounds(start, end)
    statement = (
        select(Response.id)
        .join(Survey, Survey.id == Response.survey_id)
        .outerjoin(Customer, Customer.id == Response.customer_id)
        .where(Survey.kind == "churn", Response.created_at >= since, Response.created_at < until)
    )
    if segment is not None:
        statement = statement.where(func.coalesce(Customer.value_class, "") == segment)
    return statement


@dataclass
class ReasonFigure:
    reason: ChurnReason
    mentions: int
    main: int
    answers: int
    previous_mentions: int = 0
    previous_answers: int = 0
    p_value: float | None = None

    @property
    def share(self) -> float | None:
        """Share of churn answers that ticked the reason, in percent."""
        return round(100 * self.mentions / self.answers, 1) if self.answers else None

    @property
    def main_share(self) -> float | None:
        return round(100 * self.main / self.answers, 1) if self.answers else None

    @property
    def previous_share(self) -> float | None:
        return round(100 * self.previous_mentions / self.previous_answers, 1) if self.previous_answers else None

    @property
    def change(self) -> float | None:
        """Change of the share against the previous period of the same length, in percentage points."""
        if self.share is None or self.previous_share is None:
            return None
        return round(self.share - self.previous_share, 1)

    @property
    def significant(self) -> bool:
        return self.p_value is not None and self.p_value < 0.05


def _reason_counts(session: Session, start: date, end: date, segment: str | None) -> tuple[int, dict]:
    answers_statement = _churn_answers(start, end, segment)
    answers = session.scalar(answers_statement.with_only_columns(func.count()).order_by(None)) or 0
    counted = answers_statement.with_only_columns(
        ResponseReason.reason_id, func.count(), func.count().filter(ResponseReason.main.is_(True))
    ).join(ResponseReason, ResponseReason.response_id == Response.id)
    rows = session.execute(counted.group_by(ResponseReason.reason_id)).all()
    return int(answers), {reason_id: (int(m), int(main)) for reason_id, m, main in rows}


def reason_ranking(session: Session, start: date, end: date, segment: str | None = None) -> list[ReasonFigure]:
    """Every reason mentioned now or in the previous period of the same length, most mentioned first.

    Shares are per churn answer (several reasons may be ticked). The change against the previous period is
    tested on the 2x2 table of answers with and without the reason (chi-square, Fisher exact when small).
    """
    previous_end = start - timedelta(days=1)
    previous_start = previous_end - (end - start)
    answers, now_counts = _reason_counts(session, start, end, segment)
    previous_answers, before_counts = _reason_counts(session, previous_start, previous_end, segment)
    ids = set(now_counts) | set(before_counts)
    reasons = {r.id: r for r in session.scalars(select(ChurnReason).where(ChurnReason.id.in_(ids)))}
    figures = []
    for reason_id in ids:
        mentions, main = now_counts.get(reason_id, (0, 0))
        before = before_counts.get(reason_id, (0, 0))[0]
        figure = ReasonFigure(reasons[reason_id], mentions, main, answers, before, previous_answers)
        if answers and previous_answers:
            table = np.array([[mentions, answers - mentions], [before, previous_answers - before]])
            if (table.sum(axis=0) > 0).all():
                figure.p_value = two_by_two_test(table)[1]
        figures.append(figure)
    figures.sort(key=lambda f: (-f.mentions, -f.main, f.reason.position, f.reason.id))
    return figures


@dataclass
class ReasonTable:
    """Mentions of each reason per row (a month or a value class), with the churn answers of the row."""

    rows: list[str] = field(default_factory=list)
    reasons: list[ChurnReason] = field(default_factory=list)
    answers: dict[str, int] = field(default_factory=dict)
    mentions: dict[tuple[str, int], int] = field(default_factory=dict)

    def share(self, row: str, reason_id: int) -> float | None:
        answers = self.answers.get(row, 0)
        return round(100 * self.mentions.get((row, reason_id), 0) / answers, 1) if answers else None


def _reason_table(session: Session, start: date, end: date, segment: str | None, key, rows: list[str]):
    answers_statement = _churn_answers(start, end, segment)
    answers = session.execute(answers_statement.with_only_columns(key, func.count()).group_by(key)).all()
    mentions = session.execute(
        answers_statement.with_only_columns(key, ResponseReason.reason_id, func.count())
        .join(ResponseReason, ResponseReason.response_id == Response.id)
        .group_by(key, ResponseReason.reason_id)
    ).all()
    table = ReasonTable(rows=rows)
    table.answers = {_key(k): int(n) for k, n in answers}
    table.mentions = {(_key(k), reason_id): int(n) for k, reason_id, n in mentions}
    ids = {reason_id for _, reason_id in table.mentions}
    table.reasons = list(
        session.scalars(select(ChurnReason).where(ChurnReason.id.in_(ids)).order_by(ChurnReason.position))
    )
    return table


def reasons_by_month(session: Session, start: date, end: date, segment: str | None = None) -> ReasonTable:
    """Share of each reason per month: how the reasons move over time."""
    bucket = period_start_text(session, Response.created_at, "month").label("bucket")
    rows = [m.isoformat() for m in months(start, end)]
    return _reason_table(session, start, end, segment, bucket, rows)


def reasons_by_class(session: Session, start: date, end: date) -> ReasonTable:
    """Share of each reason per customer value class (A, B, C, not classified)."""
    value_class = func.coalesce(Customer.value_class, "").label("value_class")
    return _reason_table(session, start, end, None, value_class, list(CLASSES))


@dataclass
class OpenText:
    response_id: int
    customer_id: int | None
    created_at: object
    comment: str | None
    comeback: str | None
    value_class: str | None


def open_texts(
    session: Session, start: date, end: date, segment: str | None = None, limit: int = OPEN_TEXTS_LIMIT
) -> list[tuple[ChurnReason | None, list[OpenText]]]:
    """The newest open-text churn answers, grouped by their main reason (or their only reason).

    Answers with several reasons and no main one are listed under "no main reason" (None).
    """
    main = (
        select(ResponseReason.reason_id)
        .where(ResponseReason.response_id == Response.id, ResponseReason.main.is_(True))
        .limit(1)
        .scalar_subquery()
    )
    statement = (
        _churn_answers(start, end, segment)
        .with_only_columns(
            Response.id,
            Response.customer_id,
            Response.created_at,
            Response.comment,
            Response.comeback,
            Customer.value_class,
            main,
        )
        .where((Response.comment.is_not(None)) | (Response.comeback.is_not(None)))
    )
    rows = session.execute(statement.order_by(Response.created_at.desc(), Response.id.desc()).limit(limit)).all()
    groups: dict[int | None, list[OpenText]] = defaultdict(list)
    for *values, reason_id in rows:
        groups[reason_id].append(OpenText(*values))
    reasons = {r.id: r for r in session.scalars(select(ChurnReason).where(ChurnReason.id.in_(set(groups) - {None})))}
    ordered = sorted(groups, key=lambda rid: (rid is None, -len(groups[rid]), reasons[rid].position if rid else 0))
    return [(reasons.get(rid), groups[rid]) for rid in ordered]


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
    counts = {(_key(m), f, t): int(n) for m, f, t, n in session.execute(statement)}
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


def _reason_name(reason: ChurnReason | None) -> str:
    if reason is None:
        return "no main reason"
    return reason.label_en + (" (retired)" if reason.retired_at else "")


def churn_csv_rows(session: Session, table: str, start: date, end: date, segment: str | None):
    """The rows of one churn table as CSV, header first (English labels, as in the other exports)."""
    if table == "rates":
        yield ("month", "value_class", "base", "churned", "churn_rate", "turned_inactive", "reactivated")
        for m in churn_rates(session, start, end, segment):
            klass = "all" if m.value_class is None else (m.value_class or "unclassified")
            yield (m.start.isoformat(), klass, m.base, m.churned, m.rate, m.turned_inactive, m.reactivated)
    elif table == "reasons":
        yield ("reason_key", "reason", "mentions", "main", "answers", "share", "main_share",
               "previous_mentions", "previous_answers", "previous_share", "change_pp", "p_value")  # fmt: skip
        for f in reason_ranking(session, start, end, segment):
            p_value = None if f.p_value is None else round(f.p_value, 6)
            yield (f.reason.key, _reason_name(f.reason), f.mentions, f.main, f.answers, f.share, f.main_share,
                   f.previous_mentions, f.previous_answers, f.previous_share, f.change, p_value)  # fmt: skip
    elif table in ("reasons_by_month", "reasons_by_class"):
        if table == "reasons_by_month":
            grid = reasons_by_month(session, start, end, segment)
        else:
            grid = reasons_by_class(session, start, end)
        label = "month" if table == "reasons_by_month" else "value_class"
        yield (label, "reason_key", "reason", "mentions", "answers", "share")
        for row in grid.rows:
            for reason in grid.reasons:
                mentions = grid.mentions.get((row, reason.id), 0)
                yield (row or "unclassified", reason.key, _reason_name(reason), mentions,
                       grid.answers.get(row, 0), grid.share(row, reason.id))  # fmt: skip
    elif table == "texts":
        yield ("main_reason", "response_id", "customer_id", "answered_at", "value_class", "comment", "comeback")
        for reason, texts in open_texts(session, start, end, segment):
            for t in texts:
                yield (_reason_name(reason), t.response_id, t.customer_id, t.created_at.isoformat(),
                       t.value_class, t.comment, t.comeback)  # fmt: skip
    elif table == "flow":
        flow = lifecycle_flow(session, start, end, segment)
        yield ("month", "from_phase", "to_phase", "customers")
        for month in flow.months:
            for transition in flow.transitions:
                yield (month.isoformat(), transition[0] or "none", transition[1], flow.count(month, transition))
    else:
        raise ValueError(table)
