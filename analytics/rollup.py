"""Keeping the daily rollup right: one upsert per answer, and a rebuild from the raw rows.

The upsert is a receiver of surveys' response_submitted signal, so it runs in the answer's transaction:
the rollup can never count an answer that was rolled back, nor miss one that was committed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, case, cast, delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.types import Date

from analytics.models import NpsDaily
from customers.models import Customer, Purchase
from surveys.models import Invitation, Response

KEY = ("day", "survey_id", "locale", "category", "segment")
COUNTS = ("promoters", "passives", "detractors")


def _insert(session: Session):
    return pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert


def _day(session: Session, column):
    if session.get_bind().dialect.name == "postgresql":
        return cast(column, Date)
    return func.date(column)


def _classes(score):
    return (
        case((score >= 9, 1), else_=0),
        case(((score >= 7) & (score <= 8), 1), else_=0),
        case((score <= 6, 1), else_=0),
    )


def _source(session: Session, *where):
    """Raw answers with their rollup key; one row per answer."""
    promoters, passives, detractors = _classes(Response.score)
    return (
        select(
            _day(session, Response.created_at).label("day"),
            Response.survey_id,
            Response.locale,
            func.coalesce(Purchase.category, "").label("category"),
            func.coalesce(Customer.value_class, "").label("segment"),
            promoters.label("promoters"),
            passives.label("passives"),
            detractors.label("detractors"),
        )
        .select_from(Response)
        .join(Invitation, Invitation.id == Response.invitation_id)
        .outerjoin(Purchase, Purchase.id == Invitation.purchase_id)
        .outerjoin(Customer, Customer.id == Response.customer_id)
        .where(Response.score.is_not(None), *where)
    )


def count_answer(session: Session, response: Response) -> None:
    """Add one answer to its day's row (insert or increment), in one statement."""
    if response.score is None:
        return
    table = NpsDaily.__table__
    source = _source(session, Response.id == response.id)
    statement = _insert(session)(table).from_select([*KEY, *COUNTS], source)
    statement = statement.on_conflict_do_update(
        index_elements=list(KEY),
        set_={name: table.c[name] + statement.excluded[name] for name in COUNTS},
    )
    session.execute(statement)


def on_response_submitted(response: Response, session: Session, now: datetime, **_: object) -> None:
    count_answer(session, response)


def rebuild(session: Session) -> int:
    """Recount everything from the raw answers (after bulk loads that bypass the signal); returns rows."""
    session.execute(delete(NpsDaily))
    source = _source(session).subquery()
    grouped = select(
        *(source.c[name] for name in KEY), *(func.sum(source.c[name]).label(name) for name in COUNTS)
    ).group_by(*(source.c[name] for name in KEY))
    session.execute(_insert(session)(NpsDaily.__table__).from_select([*KEY, *COUNTS], grouped))
    session.flush()
    return session.scalar(select(func.count()).select_from(NpsDaily))


def disagreements(session: Session) -> int:
    """Keys whose rollup counts differ from the raw answers (0 when all is well): for tests and checks.

    The segment is left out of the comparison: the rollup keeps the value class an answer had when it came
    in, while the raw rows only know today's class.
    """
    keys = [k for k in KEY if k != "segment"]
    source = _source(session).subquery()
    raw = (
        select(*(source.c[k] for k in keys), *(func.sum(source.c[c]).label(c) for c in COUNTS))
        .group_by(*(source.c[k] for k in keys))
        .subquery()
    )
    table = NpsDaily.__table__
    rolled = (
        select(*(table.c[k] for k in keys), *(func.sum(table.c[c]).label(c) for c in COUNTS))
        .group_by(*(table.c[k] for k in keys))
        .subquery()
    )
    same_key = and_(*(raw.c[k] == rolled.c[k] for k in keys))
    same_counts = and_(*(raw.c[c] == rolled.c[c] for c in COUNTS))
    both = session.scalar(select(func.count()).select_from(raw.join(rolled, same_key)).where(same_counts))
    total_raw = session.scalar(select(func.count()).select_from(raw))
    total_rolled = session.scalar(select(func.count()).select_from(rolled))
    return (total_raw - both) + (total_rolled - both)
