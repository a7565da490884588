"""Keeping the daily rollup right: one upsert per answer, and a rebuild from the raw rows.

The upsert is a receiver of surveys' response_submitted signal, so it runs in the answer's transaction:
the rollup can never count an answer that was rolled back, nor miss one that was committed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, case, cast, delete, func, literal, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session
from sqlalchemy.types import Date

from analytics.models import InvitationsDaily, NpsDaily
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


def _upsert(session: Session, table, columns: tuple[str, ...], source):
    statement = _insert(session)(table).from_select([*KEY, *columns], source)
    return statement.on_conflict_do_update(
        index_elements=list(KEY),
        set_={name: table.c[name] + statement.excluded[name] for name in columns},
    )


def _sent_source(session: Session, *where, answered_only: bool = False):
    """Mailed invitations with their rollup key (day of the first mail); `answered_only` counts one answer."""
    return (
        select(
            _day(session, Invitation.sent_at).label("day"),
            Invitation.survey_id,
            Invitation.locale,
            func.coalesce(Purchase.category, "").label("category"),
            func.coalesce(Customer.value_class, "").label("segment"),
            (literal(0) if answered_only else literal(1)).label("sent"),
            (literal(1) if answered_only else case((Invitation.status == "answered", 1), else_=0)).label("answered"),
        )
        .select_from(Invitation)
        .outerjoin(Purchase, Purchase.id == Invitation.purchase_id)
        .outerjoin(Customer, Customer.id == Invitation.customer_id)
        .where(Invitation.sent_at.is_not(None), *where)
    )


def count_answer(session: Session, response: Response) -> None:
    """Add one answer to its day's NPS row and to its invitation's mailing day (insert or increment).

    PostgreSQL does both upserts in one statement (the second as a CTE); SQLite runs two.
    """
    if response.score is None:
        return
    answer = _upsert(session, NpsDaily.__table__, COUNTS, _source(session, Response.id == response.id))
    mailed = _upsert(
        session,
        InvitationsDaily.__table__,
        ("sent", "answered"),
        _sent_source(session, Invitation.id == response.invitation_id, answered_only=True),
    )
    if session.get_bind().dialect.name == "postgresql":
        session.execute(mailed.add_cte(answer.cte("counted_answer")))
    else:
        session.execute(answer)
        session.execute(mailed)


def count_sent(session: Session, invitation_ids: list[int], now: datetime) -> None:
    """Invitations whose first mail was just accepted: one more `sent` on their day's row."""
    source = _sent_source(session, Invitation.id.in_(invitation_ids), Invitation.sent_at == now).subquery()
    grouped = select(
        *(source.c[k] for k in KEY),
        func.sum(source.c.sent).label("sent"),
        func.sum(source.c.answered).label("answered"),
    ).group_by(*(source.c[k] for k in KEY))
    session.execute(_upsert(session, InvitationsDaily.__table__, ("sent", "answered"), grouped))


def on_invitations_sent(_sender, session: Session, invitation_ids: list[int], now: datetime, **_: object) -> None:
    count_sent(session, invitation_ids, now)


def on_response_submitted(response: Response, session: Session, now: datetime, **_: object) -> None:
    count_answer(session, response)


def rebuild(session: Session) -> int:
    """Recount everything from the raw rows (after bulk loads that bypass the signals); returns rows."""
    for model, columns, source in (
        (NpsDaily, COUNTS, _source(session).subquery()),
        (InvitationsDaily, ("sent", "answered"), _sent_source(session).subquery()),
    ):
        session.execute(delete(model))
        grouped = select(
            *(source.c[name] for name in KEY), *(func.sum(source.c[name]).label(name) for name in columns)
        ).group_by(*(source.c[name] for name in KEY))
        session.execute(_insert(session)(model.__table__).from_select([*KEY, *columns], grouped))
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
