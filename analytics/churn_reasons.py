"""Why customers leave: churn reasons ranked with shares and a tested change, by month and by value class, and the
open texts of churn answers (the churn report's reason tables)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from analytics.churn import CLASSES, month_key, months
from analytics.drivers import two_by_two_test
from analytics.queries import day_bounds
from customers.models import Customer
from kundenpuls.dialect import period_start_text
from surveys.models import ChurnReason, Response, ResponseReason, Survey

OPEN_TEXTS_LIMIT = 300


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
    table.answers = {month_key(k): int(n) for k, n in answers}
    table.mentions = {(month_key(k), reason_id): int(n) for k, reason_id, n in mentions}
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
