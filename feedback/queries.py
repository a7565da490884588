"""Read queries of the feedback queue; sorting, counting and medians happen in the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Row, and_, func, literal_column, or_, select
from sqlalchemy import case as sql_case
from sqlalchemy.orm import Session

from customers.models import Customer, Purchase
from feedback.models import CLOSED, OPEN, Case
from kundenpuls.dialect import POSTGRESQL, hours_between, name_of, period_start_text
from kundenpuls.inputs import whole_number
from kundenpuls.models import User
from surveys.models import Response

PAGE_SIZE = 50
# What the queue calls a staff member: the name, else the email address.
STAFF_LABEL = func.coalesce(func.nullif(User.name, ""), User.email)


@dataclass
class QueueFilter:
    status: str = "open"  # open | closed | all | one status
    owner: str = ""  # "" anyone | "me" | "none" | user id
    segment: str = ""  # value class A/B/C
    survey: int | None = None
    overdue: bool = False
    page: int = 1


def _where(filters: QueueFilter, user_id: int, now: datetime) -> list:
    conditions = []
    if filters.status == "open":
        conditions.append(Case.status.in_(OPEN))
    elif filters.status == "closed":
        conditions.append(Case.status.in_(CLOSED))
    elif filters.status != "all":
        conditions.append(Case.status == filters.status)
    if filters.owner == "me":
        conditions.append(Case.owner_id == user_id)
    elif filters.owner == "none":
        conditions.append(Case.owner_id.is_(None))
    elif (owner := _whole(filters.owner)) is not None:
        conditions.append(Case.owner_id == owner)
    if filters.segment:
        conditions.append(Case.customer_id.in_(select(Customer.id).where(Customer.value_class == filters.segment)))
    if filters.survey:
        conditions.append(Case.survey_id == filters.survey)
    if filters.overdue:
        conditions.append(and_(Case.status.in_(OPEN), Case.next_due_at < now))
    return conditions


def queue_page(session: Session, filters: QueueFilter, user_id: int, now: datetime) -> list[Row]:
    """One page of cases, most urgent first, as plain rows of what the queue shows: the open ones come straight
    from the partial index on rank, and no ORM objects are built for them."""
    offset = (max(filters.page, 1) - 1) * PAGE_SIZE
    return list(
        session.execute(
            select(
                Case.id,
                Case.priority,
                Case.priority_points,
                Case.priority_reasons,
                Case.score,
                Case.status,
                Case.next_due_at,
                Case.title,
                STAFF_LABEL.label("owner"),
                func.coalesce(func.nullif(Customer.name, ""), Customer.external_id).label("customer"),
                Customer.value_class,
                Response.comment,
            )
            .outerjoin(Customer, Customer.id == Case.customer_id)
            .outerjoin(User, User.id == Case.owner_id)
            .outerjoin(Response, Response.id == Case.response_id)
            .where(*_where(filters, user_id, now))
            .order_by(Case.rank_at, Case.id)
            .offset(offset)
            .limit(PAGE_SIZE + 1)
        )
    )


COUNT_CAP = 1000


def queue_count(session: Session, filters: QueueFilter, user_id: int, now: datetime) -> int:
    """Matching cases, counted up to COUNT_CAP + 1: "more than 1000" is as useful as the exact figure
    and costs a bounded index scan instead of counting 100,000 rows on every page view."""
    matching = select(Case.id).where(*_where(filters, user_id, now)).limit(COUNT_CAP + 1).subquery()
    return session.scalar(select(func.count()).select_from(matching))


def staff_choices(session: Session) -> list[Row]:
    """Active staff as (id, label) rows, for owner filters and assignment."""
    return list(
        session.execute(select(User.id, STAFF_LABEL.label("label")).where(User.active.is_(True)).order_by(User.email))
    )


@dataclass
class CustomerPicture:
    customer: Customer | None
    purchases: list
    purchase_count: int
    revenue_12m: object
    answers: list
    cases: list


def customer_picture(session: Session, case: Case, now: datetime) -> CustomerPicture:
    """What the agent needs to know about the customer before calling."""
    customer = case.customer
    if customer is None:
        return CustomerPicture(None, [], 0, 0, [], [])
    purchases = session.scalars(
        select(Purchase).where(Purchase.customer_id == customer.id).order_by(Purchase.purchased_at.desc()).limit(10)
    ).all()
    count, revenue = session.execute(
        select(
            func.count(Purchase.id),
            func.coalesce(
                func.sum(sql_case((Purchase.purchased_at > now - timedelta(days=365), Purchase.amount), else_=0)), 0
            ),
        ).where(Purchase.customer_id == customer.id)
    ).one()
    answers = session.scalars(
        select(Response).where(Response.customer_id == customer.id).order_by(Response.created_at.desc()).limit(10)
    ).all()
    cases = session.scalars(
        select(Case).where(Case.customer_id == customer.id, Case.id != case.id).order_by(Case.created_at.desc())
    ).all()
    return CustomerPicture(customer, purchases, count, revenue, answers, cases)


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def queue_health_counts(session: Session, now: datetime) -> tuple[int, int]:
    """Open cases, and how many of them are past their next due time."""
    open_total, overdue = session.execute(
        select(func.count(), func.count().filter(Case.next_due_at < now)).where(Case.status.in_(OPEN))
    ).one()
    return int(open_total), int(overdue)


def queue_health(session: Session, now: datetime, weeks: int = 8) -> dict:
    """Open and overdue cases, and median hours to first contact and to resolution, per owner and per week.

    PostgreSQL computes the medians itself (percentile_cont); SQLite has no median, so there the grouped
    durations come back and the median is taken per group.
    """
    dialect = name_of(session)
    open_total, overdue = queue_health_counts(session, now)
    to_contact = hours_between(session, Case.first_contact_at, Case.created_at)
    to_resolve = hours_between(session, Case.resolved_at, Case.created_at)
    since = now - timedelta(weeks=weeks)
    owner_label = func.coalesce(User.email, literal_column("''"))
    week = period_start_text(session, Case.created_at, "week")
    per_owner = _grouped(session, dialect, owner_label, to_contact, to_resolve, since, now, outer_user=True)
    per_week = _grouped(session, dialect, week, to_contact, to_resolve, since, now)
    return {"open": open_total, "overdue": overdue, "per_owner": per_owner, "per_week": per_week}


def _grouped(session, dialect, key, to_contact, to_resolve, since, now, outer_user=False) -> list[dict]:
    base = select(key.label("key")).select_from(Case)
    if outer_user:
        base = base.outerjoin(User, User.id == Case.owner_id)
    base = base.where(Case.created_at >= since)
    counts = {
        "open": func.count().filter(Case.status.in_(OPEN)),
        "overdue": func.count().filter(and_(Case.status.in_(OPEN), Case.next_due_at < now)),
        "resolved": func.count().filter(Case.status.in_(CLOSED)),
    }
    if dialect == POSTGRESQL:
        rows = session.execute(
            base.add_columns(
                *counts.values(),
                func.percentile_cont(0.5).within_group(to_contact).label("contact"),
                func.percentile_cont(0.5).within_group(to_resolve).label("resolve"),
            )
            .group_by(key)
            .order_by(key)
        ).all()
        return [
            {"key": r.key, "open": r[1], "overdue": r[2], "resolved": r[3], "contact": r.contact, "resolve": r.resolve}
            for r in rows
        ]
    rows = session.execute(base.add_columns(*counts.values()).group_by(key).order_by(key)).all()
    durations = session.execute(
        base.add_columns(to_contact.label("contact"), to_resolve.label("resolve")).where(
            or_(Case.first_contact_at.is_not(None), Case.resolved_at.is_not(None))
        )
    ).all()
    result = []
    for r in rows:
        mine = [d for d in durations if d.key == r.key]
        result.append(
            {
                "key": r.key,
                "open": r[1],
                "overdue": r[2],
                "resolved": r[3],
                "contact": _median([d.contact for d in mine if d.contact is not None]),
                "resolve": _median([d.resolve for d in mine if d.resolve is not None]),
            }
        )
    return result


def export_rows(session: Session, filters: QueueFilter, user_id: int, now: datetime):
    """Rows for the CSV export, fetched in chunks so a large export does not sit in memory."""
    statement = (
        select(
            Case.id,
            Case.created_at,
            Case.kind,
            Case.score,
            Case.status,
            Case.priority,
            Case.priority_points,
            User.email,
            Case.root_cause,
            Customer.external_id,
            Case.customer_value,
            Case.first_contact_due_at,
            Case.first_contact_at,
            Case.resolution_due_at,
            Case.resolved_at,
            Case.escalation_level,
            Response.comment,
        )
        .outerjoin(User, User.id == Case.owner_id)
        .outerjoin(Customer, Customer.id == Case.customer_id)
        .outerjoin(Response, Response.id == Case.response_id)
        .where(*_where(filters, user_id, now))
        .order_by(Case.id)
        .execution_options(yield_per=1000)
    )
    for row in session.execute(statement):
        yield [_csv_value(value) for value in row]


def _csv_value(value):
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value  # no formulas from customer text in spreadsheets
    return "" if value is None else value


def _whole(text: str) -> int | None:
    try:
        return whole_number(text)
    except ValueError:
        return None


@dataclass(frozen=True)
class AgentOverview:
    """What an agent's home page shows: their open cases, what falls due today, new cases nobody took."""

    mine: int
    mine_overdue: int
    mine_due_today: int
    unassigned: int
    unassigned_overdue: int
    next_cases: list[Row]


def agent_overview(session: Session, user_id: int, now: datetime, day_end: datetime, limit: int = 5) -> AgentOverview:
    """Counted in one statement over the open cases; "due today" is due between now and the end of the staff's
    day (`day_end`), overdue ones are counted apart. The agent's most urgent cases come from the queue's order."""
    is_open = Case.status.in_(OPEN)
    mine = Case.owner_id == user_id
    unassigned = Case.owner_id.is_(None)
    counts = session.execute(
        select(
            func.count().filter(mine),
            func.count().filter(and_(mine, Case.next_due_at < now)),
            func.count().filter(and_(mine, Case.next_due_at >= now, Case.next_due_at < day_end)),
            func.count().filter(unassigned),
            func.count().filter(and_(unassigned, Case.next_due_at < now)),
        ).where(is_open)
    ).one()
    next_cases = queue_page(session, QueueFilter(owner="me"), user_id, now)[:limit]
    return AgentOverview(*(int(n) for n in counts), next_cases=next_cases)
