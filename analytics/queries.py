"""NPS per period, counted in the database: one GROUP BY per report, empty periods filled in afterwards."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from analytics.models import InvitationsDaily, NpsDaily
from analytics.nps import MIN_ANSWERS, Change, NpsFigure, change, figure
from customers.models import Customer, Purchase
from kundenpuls.dialect import period_start_day, period_start_text
from surveys.kinds import sql_position_flags
from surveys.models import Invitation, Response, Survey

INTERVALS = ("week", "month")
ONE_DAY = timedelta(days=1)


@dataclass(frozen=True)
class ReportFilter:
    survey_id: int | None = None
    locale: str | None = None
    category: str | None = None
    segment: str | None = None  # value class A/B/C
    phase: str | None = None  # lifecycle phase (at answer time in the rollup, today's in the raw rows)
    # Answers that came by this channel; invitations (the response rate) that it first delivered (surveys.channels)
    channel: str | None = None

    def as_query(self) -> dict:
        return {k: v for k, v in vars(self).items() if v not in (None, "")}


@dataclass
class Period:
    """One week or month of the report. A period the range cuts (it starts or ends inside it) counts only the days
    in the range, `first_day` to `last_day`, and is `partial`."""

    start: date
    figure: NpsFigure
    sent: int = 0
    answered: int = 0
    change: Change | None = None
    interval: str = "month"
    first_day: date | None = None
    last_day: date | None = None

    @property
    def partial(self) -> bool:
        whole = (self.start, next_period(self.start, self.interval) - ONE_DAY)
        return self.first_day is not None and (self.first_day, self.last_day) != whole

    @property
    def response_rate(self) -> float | None:
        return round(100 * self.answered / self.sent, 1) if self.sent else None


@dataclass
class NpsReport:
    interval: str
    start: date
    end: date
    periods: list[Period] = field(default_factory=list)
    total: NpsFigure | None = None


def period_start(day: date, interval: str) -> date:
    return day - timedelta(days=day.weekday()) if interval == "week" else day.replace(day=1)


def next_period(start: date, interval: str) -> date:
    if interval == "week":
        return start + timedelta(days=7)
    return date(start.year + (start.month == 12), start.month % 12 + 1, 1)


def _nps_surveys_select():
    return select(Survey.id).where(Survey.kind == "nps")


def _nps_surveys():
    """Without a chosen survey, the NPS figures cover every NPS survey (churn surveys have no score and
    their mailings must not dilute the response rate)."""
    return _nps_surveys_select().scalar_subquery()


def segment_filters(statement, customer_id, value_class: str | None, phase: str | None):
    """Only the customers of a value class and lifecycle phase (today's): joins Customer on `customer_id` when
    asked to. Every report that cuts by segment uses it."""
    if value_class or phase:
        statement = statement.join(Customer, Customer.id == customer_id)
        if value_class:
            statement = statement.where(Customer.value_class == value_class)
        if phase:
            statement = statement.where(Customer.lifecycle_phase == phase)
    return statement


def _customer_filters(statement, filters: ReportFilter, customer_id):
    """Value class and lifecycle phase are the customer's (today's, in the raw rows)."""
    return segment_filters(statement, customer_id, filters.segment, filters.phase)


def survey_filters(statement, filters: ReportFilter, survey_id, locale):
    """The chosen survey (else every NPS survey) and language, on the columns of the table read."""
    if filters.survey_id:
        statement = statement.where(survey_id == filters.survey_id)
    else:
        statement = statement.where(survey_id.in_(_nps_surveys()))
    if filters.locale:
        statement = statement.where(locale == filters.locale)
    return statement


def _answer_filters(statement, filters: ReportFilter):
    statement = survey_filters(statement, filters, Response.survey_id, Response.locale)
    statement = _customer_filters(statement, filters, Response.customer_id)
    if filters.channel:
        statement = statement.where(Response.channel == filters.channel)
    if filters.category:
        statement = (
            statement.join(Invitation, Invitation.id == Response.invitation_id)
            .join(Purchase, Purchase.id == Invitation.purchase_id)
            .where(Purchase.category == filters.category)
        )
    return statement


def _sent_filters(statement, filters: ReportFilter):
    statement = survey_filters(statement, filters, Invitation.survey_id, Invitation.locale)
    statement = _customer_filters(statement, filters, Invitation.customer_id)
    if filters.channel:
        statement = statement.where(Invitation.channel == filters.channel)
    if filters.category:
        statement = statement.join(Purchase, Purchase.id == Invitation.purchase_id).where(
            Purchase.category == filters.category
        )
    return statement


def day_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    return datetime.combine(start, time(), UTC), datetime.combine(end + timedelta(days=1), time(), UTC)


def raw_counts(session: Session, first: date, end: date, interval: str, filters: ReportFilter) -> dict:
    """Answers in the kind's three classes (promoters, passives, detractors for NPS), the sum of the scores and of
    their squares, per period, straight from the answers (the rollup's reference)."""
    since, until = day_bounds(first, end)
    bucket = period_start_text(session, Response.created_at, interval)
    flags = sql_position_flags(Survey.kind, Response.score)
    answers = _answer_filters(
        select(
            bucket.label("bucket"),
            *(func.sum(flag) for flag in flags),
            func.sum(Response.score),
            func.sum(Response.score * Response.score),
        )
        .join(Survey, Survey.id == Response.survey_id)
        .where(Response.created_at >= since, Response.created_at < until, Response.score.is_not(None)),
        filters,
    ).group_by(bucket)
    return {row[0]: tuple(int(v or 0) for v in row[1:]) for row in session.execute(answers)}


def nps_survey_ids(session: Session) -> list[int]:
    return list(session.scalars(_nps_surveys_select()))


def rollup_where(statement, session: Session, model, first: date, end: date, filters: ReportFilter, survey_ids):
    """The report's range and filters on a daily rollup table.

    Without a chosen survey, `survey_ids` are the NPS surveys (looked up once per report, or here if None).
    """
    statement = statement.where(model.day >= first, model.day <= end)
    for name, value in (
        ("survey_id", filters.survey_id),
        ("locale", filters.locale),
        ("category", filters.category),
        ("segment", filters.segment),
        ("phase", filters.phase),
        ("channel", filters.channel),
    ):
        if value:
            statement = statement.where(getattr(model, name) == value)
    if not filters.survey_id:
        # The few NPS survey ids as values: the planner then scans the rollup instead of looping over surveys.
        statement = statement.where(model.survey_id.in_(survey_ids or nps_survey_ids(session)))
    return statement


def _rollup(
    session: Session, model, columns: tuple, first: date, end: date, interval: str, filters, survey_ids
) -> dict:
    """Sums of `columns` per period from a daily rollup table, with the report's filters."""
    bucket = period_start_day(session, model.day, interval)
    statement = rollup_where(
        select(bucket, *(func.sum(column) for column in columns)), session, model, first, end, filters, survey_ids
    )
    rows = session.execute(statement.group_by(bucket))
    return {_key(row[0]): tuple(int(v) for v in row[1:]) for row in rows}


def rollup_counts(
    session: Session, first: date, end: date, interval: str, filters: ReportFilter, survey_ids=None
) -> dict:
    """The same counts as raw_counts from the daily rollup: a few rows per day instead of every answer."""
    columns = (NpsDaily.promoters, NpsDaily.passives, NpsDaily.detractors, NpsDaily.score_sum, NpsDaily.score_squares)
    return _rollup(session, NpsDaily, columns, first, end, interval, filters, survey_ids)


def _key(bucket) -> str:
    """Period keys as 'YYYY-MM-DD' whether the database gave a date or text."""
    return bucket if isinstance(bucket, str) else bucket.isoformat()


def raw_sent(session: Session, first: date, end: date, interval: str, filters: ReportFilter) -> dict:
    since, until = day_bounds(first, end)
    sent_bucket = period_start_text(session, Invitation.sent_at, interval)
    sent = _sent_filters(
        select(sent_bucket, func.count(), func.count().filter(Invitation.status == "answered")).where(
            Invitation.sent_at >= since, Invitation.sent_at < until
        ),
        filters,
    ).group_by(sent_bucket)
    return {row[0]: tuple(row[1:]) for row in session.execute(sent)}


def rollup_sent(
    session: Session, first: date, end: date, interval: str, filters: ReportFilter, survey_ids=None
) -> dict:
    columns = (InvitationsDaily.sent, InvitationsDaily.answered)
    return _rollup(session, InvitationsDaily, columns, first, end, interval, filters, survey_ids)


def nps_report(
    session: Session,
    start: date,
    end: date,
    interval: str,
    filters: ReportFilter,
    source: str = "rollup",
    min_answers: int = MIN_ANSWERS,
) -> NpsReport:
    """NPS, interval and response rate per period from `start` to `end` (inclusive, UTC days), oldest first.

    Both ends cut the same way: the first and last periods count only the days inside the range (and are marked
    partial when that is less than the whole period)."""
    if interval not in INTERVALS:
        raise ValueError(f"interval must be one of {INTERVALS}")
    first, last = period_start(start, interval), period_start(end, interval)
    if source == "rollup":
        survey_ids = None if filters.survey_id else nps_survey_ids(session)
        counts = rollup_counts(session, start, end, interval, filters, survey_ids)
        mailed = rollup_sent(session, start, end, interval, filters, survey_ids)
    else:
        counts = raw_counts(session, start, end, interval, filters)
        mailed = raw_sent(session, start, end, interval, filters)

    report = NpsReport(interval, start, end)
    moment, previous = first, None
    while moment <= last:
        key = moment.isoformat()
        promoters, passives, detractors, *_sums = counts.get(key, (0, 0, 0, 0, 0))
        sent_count, answered = mailed.get(key, (0, 0))
        current = figure(promoters, passives, detractors, min_answers=min_answers)
        days = (max(moment, start), min(next_period(moment, interval) - ONE_DAY, end))
        period = Period(moment, current, sent_count, answered, interval=interval, first_day=days[0], last_day=days[1])
        period.change = change(current, previous) if previous is not None else None
        report.periods.append(period)
        previous, moment = current, next_period(moment, interval)
    report.total = figure(
        sum(p.figure.promoters for p in report.periods),
        sum(p.figure.passives for p in report.periods),
        sum(p.figure.detractors for p in report.periods),
        min_answers=min_answers,
    )
    return report


def categories(session: Session) -> list[str]:
    return list(
        session.scalars(
            select(Purchase.category).where(Purchase.category.is_not(None)).distinct().order_by(Purchase.category)
        )
    )


def recent_months_start(today: date, months: int) -> date:
    """The first day of the month `months - 1` months before today's."""
    first = today.replace(day=1)
    for _ in range(months - 1):
        first = (first - ONE_DAY).replace(day=1)
    return first


def recent_months(session: Session, today: date, months: int = 12, min_answers: int = MIN_ANSWERS) -> NpsReport:
    """NPS per calendar month over the last `months` months, this (partial) month last: the home page's figure
    against last month, with the trend beside it."""
    first = recent_months_start(today, months)
    return nps_report(session, first, today, "month", ReportFilter(), min_answers=min_answers)


def segment_months(
    session: Session, today: date, months: int = 12
) -> dict[tuple[str, str], list[tuple[date, NpsFigure]]]:
    """NPS per month of the last `months` months for every value class x phase (both at answer time), in one
    grouped query over the daily rollup: the cockpit's sparklines. Months without answers are kept (no figure)."""
    first = recent_months_start(today, months)
    bucket = period_start_day(session, NpsDaily.day, "month")
    statement = rollup_where(
        select(NpsDaily.segment, NpsDaily.phase, bucket, func.sum(NpsDaily.promoters), func.sum(NpsDaily.passives),
               func.sum(NpsDaily.detractors)),
        session, NpsDaily, first, today, ReportFilter(), None,
    )  # fmt: skip
    counts: dict[tuple[str, str], dict[str, tuple[int, int, int]]] = {}
    for segment, phase, month, promoters, passives, detractors in session.execute(
        statement.group_by(NpsDaily.segment, NpsDaily.phase, bucket)
    ):
        counts.setdefault((segment, phase), {})[_key(month)] = (int(promoters), int(passives), int(detractors))
    starts, moment = [], first
    while moment <= today:
        starts.append(moment)
        moment = next_period(moment, "month")
    return {
        cell: [(start, figure(*by_month.get(start.isoformat(), (0, 0, 0)))) for start in starts]
        for cell, by_month in counts.items()
    }
