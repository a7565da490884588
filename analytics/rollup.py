"""Keeping the daily rollup right: one upsert per answer, and a rebuild from the raw rows.

The upsert is a receiver of surveys' response_submitted signal, so it runs in the answer's transaction:
the rollup can never count an answer that was rolled back, nor miss one that was committed.
"""

from __future__ import annotations

import functools
from datetime import datetime

from sqlalchemy import and_, bindparam, case, cast, delete, func, literal, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session
from sqlalchemy.types import Date, Integer

from analytics.models import SHARDS, InvitationsDaily, NpsDaily
from customers.models import Customer, Purchase
from kundenpuls.dialect import POSTGRESQL, day_of, is_postgresql, name_of, upsert_insert
from surveys.kinds import sql_position_flags
from surveys.models import Invitation, Response, Survey

KEY = ("day", "survey_id", "locale", "category", "segment", "phase", "channel")
# The kind's three classes, best first (for NPS promoters, passives, detractors), and the sums for a mean score.
COUNTS = ("promoters", "passives", "detractors", "score_sum", "score_squares")


def _counted(kind, score) -> tuple:
    """One answer's contribution to COUNTS, from its survey's kind and its score."""
    best, middle, worst = sql_position_flags(kind, score)
    return (
        best.label("promoters"),
        middle.label("passives"),
        worst.label("detractors"),
        score.label("score_sum"),
        (score * score).label("score_squares"),
    )


def _source(dialect: str, *where, shard=0):
    """Raw answers with their rollup key; one row per answer."""
    return (
        select(
            day_of(dialect, Response.created_at).label("day"),
            Response.survey_id,
            Response.locale,
            func.coalesce(Purchase.category, "").label("category"),
            func.coalesce(Customer.value_class, "").label("segment"),
            func.coalesce(Customer.lifecycle_phase, "").label("phase"),
            Response.channel,
            _shard(shard),
            *_counted(Survey.kind, Response.score),
        )
        .select_from(Response)
        .join(Survey, Survey.id == Response.survey_id)
        .join(Invitation, Invitation.id == Response.invitation_id)
        .outerjoin(Purchase, Purchase.id == Invitation.purchase_id)
        .outerjoin(Customer, Customer.id == Response.customer_id)
        .where(Response.score.is_not(None), *where)
    )


def _shard(value):
    return (value if hasattr(value, "label") else literal(value)).label("shard")


def _upsert(dialect: str, table, columns: tuple[str, ...], source):
    statement = upsert_insert(dialect)(table).from_select([*KEY, "shard", *columns], source)
    return statement.on_conflict_do_update(
        index_elements=[*KEY, "shard"],
        set_={name: table.c[name] + statement.excluded[name] for name in columns},
    )


def _sent_source(dialect: str, *where, answered_only: bool = False, shard=0):
    """Delivered invitations with their rollup key (day of the first mail or of the printed link, the invitation's
    channel); `answered_only` counts one answer."""
    return (
        select(
            day_of(dialect, Invitation.sent_at).label("day"),
            Invitation.survey_id,
            Invitation.locale,
            func.coalesce(Purchase.category, "").label("category"),
            func.coalesce(Customer.value_class, "").label("segment"),
            func.coalesce(Customer.lifecycle_phase, "").label("phase"),
            Invitation.channel,
            _shard(shard),
            (literal(0) if answered_only else literal(1)).label("sent"),
            (literal(1) if answered_only else case((Invitation.status == "answered", 1), else_=0)).label("answered"),
        )
        .select_from(Invitation)
        .outerjoin(Purchase, Purchase.id == Invitation.purchase_id)
        .outerjoin(Customer, Customer.id == Invitation.customer_id)
        .where(Invitation.sent_at.is_not(None), *where)
    )


@functools.cache
def _answer_statements(dialect: str) -> tuple:
    """The two upserts for one answer on SQLite, with bind parameters for the answer and its invitation."""
    response_id, invitation_id = bindparam("rollup_response_id"), bindparam("rollup_invitation_id")
    answer = _upsert(dialect, NpsDaily.__table__, COUNTS, _source(dialect, Response.id == response_id))
    mailed = _upsert(
        dialect,
        InvitationsDaily.__table__,
        ("sent", "answered"),
        _sent_source(dialect, Invitation.id == invitation_id, answered_only=True),
    )
    return answer, mailed


def count_answer(session: Session, response: Response) -> None:
    """Add one answer to its day's NPS row (if it has a score) and to its invitation's mailing day.

    Shard 0: SQLite has one writer, and on PostgreSQL only churn answers come here.
    """
    params = {"rollup_response_id": response.id, "rollup_invitation_id": response.invitation_id}
    answer, mailed = _answer_statements(name_of(session))
    if response.score is not None:
        session.execute(answer, params)
    session.execute(mailed, params)


@functools.cache
def _count_sent_statement(dialect: str):
    """Built once: the sender records a run of mail every few messages, and building this statement cost more
    than running it."""
    source = _sent_source(
        dialect,
        Invitation.id.in_(bindparam("sent_ids", expanding=True)),
        Invitation.sent_at == bindparam("sent_now", type_=Invitation.sent_at.type),
        shard=bindparam("sent_shard", type_=Integer()),
    ).subquery()
    grouped = select(
        *(source.c[k] for k in KEY),
        source.c.shard,
        func.sum(source.c.sent).label("sent"),
        func.sum(source.c.answered).label("answered"),
    ).group_by(*(source.c[k] for k in KEY), source.c.shard)
    return _upsert(dialect, InvitationsDaily.__table__, ("sent", "answered"), grouped)


def count_sent(session: Session, invitation_ids: list[int], now: datetime) -> None:
    """Invitations whose first mail was just accepted: one more `sent` on their day's row."""
    dialect = name_of(session)
    shard = invitation_ids[0] % SHARDS if dialect == POSTGRESQL else 0
    params = {"sent_ids": list(invitation_ids), "sent_now": now, "sent_shard": shard}
    session.execute(_count_sent_statement(dialect), params)


def on_invitations_sent(_sender, session: Session, invitation_ids: list[int], now: datetime, **_: object) -> None:
    count_sent(session, invitation_ids, now)


def on_response_submitted(response: Response, session: Session, now: datetime, **_: object) -> None:
    """Count an answer. NPS answers on PostgreSQL are counted inside their own statement (ANSWER_PARTS);
    churn answers (no score) are stored by the ORM and only add to their mailing day's answered count."""
    if is_postgresql(session) and response.score is not None:
        return
    count_answer(session, response)


def _answer_joins(claimed, inserted):
    return (
        inserted.join(claimed, inserted.c.invitation_id == claimed.c.id)
        .outerjoin(Purchase, Purchase.id == claimed.c.purchase_id)
        .outerjoin(Customer, Customer.id == claimed.c.customer_id)
    )


def _answer_key(claimed, inserted, day_column, channel_column) -> tuple:
    return (
        cast(day_column, Date).label("day"),
        claimed.c.survey_id,
        claimed.c.locale,
        func.coalesce(Purchase.category, "").label("category"),
        func.coalesce(Customer.value_class, "").label("segment"),
        func.coalesce(Customer.lifecycle_phase, "").label("phase"),
        channel_column.label("channel"),
        (inserted.c.id % SHARDS).label("shard"),
    )


def nps_part(claimed, inserted):
    """For surveys' answer statement on PostgreSQL: count the new answer from the statement's own CTEs
    (a row inserted by the same statement is not visible to its other parts)."""
    source = (
        select(
            *_answer_key(claimed, inserted, inserted.c.created_at, inserted.c.channel),
            *_counted(claimed.c.kind, inserted.c.score),
        )
        .select_from(_answer_joins(claimed, inserted))
        .where(inserted.c.score.is_not(None))
    )
    return _upsert("postgresql", NpsDaily.__table__, COUNTS, source)


def mailed_part(claimed, inserted):
    """For surveys' answer statement on PostgreSQL: one more answered invitation on its delivery day and channel."""
    source = (
        select(
            *_answer_key(claimed, inserted, claimed.c.sent_at, claimed.c.invitation_channel),
            literal(0).label("sent"),
            literal(1).label("answered"),
        )
        .select_from(_answer_joins(claimed, inserted))
        .where(claimed.c.sent_at.is_not(None), inserted.c.score.is_not(None))
    )
    return _upsert("postgresql", InvitationsDaily.__table__, ("sent", "answered"), source)


ANSWER_PARTS = (nps_part, mailed_part)


def rebuild(session: Session) -> int:
    """Recount everything from the raw rows (after bulk loads that bypass the signals); returns rows."""
    dialect = name_of(session)
    for model, columns, source in (
        (NpsDaily, COUNTS, _source(dialect).subquery()),
        (InvitationsDaily, ("sent", "answered"), _sent_source(dialect).subquery()),
    ):
        session.execute(delete(model))
        grouped = select(
            *(source.c[name] for name in KEY),
            literal(0).label("shard"),
            *(func.sum(source.c[name]).label(name) for name in columns),
        ).group_by(*(source.c[name] for name in KEY))
        session.execute(upsert_insert(dialect)(model.__table__).from_select([*KEY, "shard", *columns], grouped))
        if dialect == POSTGRESQL:
            # Fresh statistics after the bulk load: with none, the planner expects one row and walks the index
            # for every one of the tens of thousands the reports read.
            session.execute(text(f"ANALYZE {model.__tablename__}"))
    session.flush()
    return session.scalar(select(func.count()).select_from(NpsDaily))


def disagreements(session: Session) -> int:
    """Keys whose rollup counts differ from the raw answers (0 when all is well): for tests and checks.

    The segment and the phase are left out of the comparison: the rollup keeps the value class and lifecycle
    phase an answer had when it came in, while the raw rows only know today's.
    """
    keys = [k for k in KEY if k not in ("segment", "phase")]
    source = _source(name_of(session)).subquery()
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


def compact(session: Session, now: datetime) -> int:
    """Fold the shards of finished days back into shard 0, so reports read one row per key and day.

    DELETE ... RETURNING takes the rows' locks and their latest values, and the INSERT adds them to shard 0
    in the same statement: an answer counted meanwhile waits for the lock and then writes a fresh shard row,
    so nothing is lost. Only PostgreSQL shards; SQLite has one writer and always uses shard 0.
    """
    if not is_postgresql(session):
        return 0
    today = now.date()
    folded = 0
    for model, columns in ((NpsDaily, COUNTS), (InvitationsDaily, ("sent", "answered"))):
        table = model.__table__
        moved = (
            delete(table)
            .where(table.c.shard > 0, table.c.day < today)
            .returning(*(table.c[k] for k in KEY), *(table.c[c] for c in columns))
            .cte("moved")
        )
        grouped = select(
            *(moved.c[k] for k in KEY), literal(0).label("shard"), *(func.sum(moved.c[c]).label(c) for c in columns)
        ).group_by(*(moved.c[k] for k in KEY))
        statement = pg_insert(table).from_select([*KEY, "shard", *columns], grouped)
        statement = statement.on_conflict_do_update(
            index_elements=[*KEY, "shard"], set_={c: table.c[c] + statement.excluded[c] for c in columns}
        )
        folded += len(session.execute(statement.returning(table.c.id)).all())
    session.commit()
    return folded
