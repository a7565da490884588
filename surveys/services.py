"""Answering and unsubscribing: what a customer's click changes. They flush and the caller commits (a lone answer
on PostgreSQL commits itself: see submit_answer)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, String, bindparam, insert, or_, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, joinedload, scoped_session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.pool import PoolProxiedConnection

from kundenpuls.dialect import POSTGRESQL
from messaging.models import OutboxMessage
from surveys.mail import SURVEY_MAIL_KINDS
from surveys.models import OPEN_STATUSES, ChurnReason, Invitation, Response, ResponseReason, Survey
from surveys.signals import response_submitted

MAX_COMMENT = 5000


class AlreadyAnswered(Exception):
    """The invitation has its one answer already."""


class InvitationExpired(Exception):
    """The invitation can no longer be answered."""


class EmptyChurnAnswer(ValueError):
    """A churn answer with neither a reason ticked nor a word written."""


class UnknownInvitation(LookupError):
    """No invitation has this token."""


def invitation_by_token(session: Session, token: str) -> Invitation | None:
    """The invitation with its survey (every page needs the survey's texts)."""
    if not token or len(token) > 64:
        return None
    return session.scalars(
        select(Invitation).options(joinedload(Invitation.survey)).where(Invitation.token == token)
    ).one_or_none()


def is_expired(invitation: Invitation, now: datetime) -> bool:
    return invitation.status == "expired" or (invitation.status != "answered" and invitation.expires_at <= now)


@dataclass(frozen=True)
class Submitted:
    """A stored answer and the texts of its survey (for the thank-you page)."""

    response: Response
    survey_texts: dict

    def text(self, name: str) -> str:
        texts = self.survey_texts
        return (texts.get(self.response.locale) or texts["en"]).get(name) or texts["en"][name]


def _answer_statements():
    """Built once: the answer POST is the hot path, and a statement built per request costs more than its SQL.

    `claim` marks an open, unexpired invitation answered and returns what the response row needs;
    on PostgreSQL `claim_and_insert` also inserts the response in the same statement (a data-modifying CTE).
    """
    invitations, surveys, responses = Invitation.__table__, Survey.__table__, Response.__table__
    now = bindparam("at_now", type_=invitations.c.answered_at.type)
    claim = (
        update(invitations)
        .where(
            invitations.c.token == bindparam("by_token", type_=String()),
            # Equalities, not IN: an IN list becomes a parameter expanded per execution, and this
            # statement is compiled once and reused as it is.
            or_(*(invitations.c.status == status for status in OPEN_STATUSES)),
            invitations.c.expires_at > now,
        )
        .values(status="answered", answered_at=now)
        .returning(
            invitations.c.id,
            invitations.c.survey_id,
            invitations.c.customer_id,
            invitations.c.locale,
            # A subquery, not UPDATE ... FROM: SQLite's RETURNING sees only the updated table.
            select(surveys.c.texts).where(surveys.c.id == invitations.c.survey_id).scalar_subquery().label("texts"),
            invitations.c.purchase_id,
            invitations.c.sent_at,
        )
    )
    claimed = claim.cte("claimed")
    inserted = (
        insert(responses)
        .from_select(
            ["invitation_id", "survey_id", "customer_id", "score", "comment", "locale", "created_at"],
            select(
                claimed.c.id,
                claimed.c.survey_id,
                claimed.c.customer_id,
                bindparam("new_score", type_=responses.c.score.type),
                bindparam("new_comment", type_=responses.c.comment.type),
                claimed.c.locale,
                bindparam("new_created_at", type_=responses.c.created_at.type),
            ),
        )
        .returning(responses.c.id, responses.c.invitation_id, responses.c.score, responses.c.created_at)
        .cte("inserted")
    )
    claim_and_insert = select(
        inserted.c.id, claimed.c.id, claimed.c.survey_id, claimed.c.customer_id, claimed.c.locale, claimed.c.texts
    ).join_from(inserted, claimed, inserted.c.invitation_id == claimed.c.id)
    insert_one = insert(responses).returning(responses.c.id)
    return claim, claim_and_insert, insert_one, claimed, inserted


_CLAIM, _CLAIM_AND_INSERT, _INSERT, _CLAIMED, _INSERTED = _answer_statements()

# Data-modifying statements other packages add to the answer's one PostgreSQL statement, built from the
# `claimed` invitation and the `inserted` response CTEs: their work costs no extra round trip.
_answer_parts: list[Callable] = []


# Checks other packages register: `check(session, score, comment)` is True when their receiver of response_submitted
# may write for such an answer, so that the answer and those writes share one transaction.
_answer_writers: list[Callable[[Session, int, str | None], bool]] = []


def add_answer_writer(check: Callable[[Session, int, str | None], bool]) -> None:
    """Register a receiver's check; an answer no check claims may be stored in a transaction of its own."""
    if check not in _answer_writers:
        _answer_writers.append(check)


def add_answer_part(builder: Callable) -> None:
    """Register `builder(claimed, inserted) -> INSERT/UPDATE`; it runs inside every answer's statement."""
    if builder not in _answer_parts:
        _answer_parts.append(builder)
        _compiled_answer.cache_clear()


@functools.cache
def _compiled_answer(dialect) -> str:
    """Compiled once: with other packages' parts added, SQLAlchemy can no longer cache the statement.

    The parts' constants (statuses, shard count, 0 and 1 of the counts) are written into the SQL as literals, so
    that an answer sends its own five values only instead of thirty parameters to convert each time.
    """
    statement = _CLAIM_AND_INSERT
    for number, builder in enumerate(_answer_parts):
        statement = statement.add_cte(builder(_CLAIMED, _INSERTED).cte(f"answer_part_{number}"))
    compiled = statement.compile(dialect=dialect)
    if dialect.paramstyle != "pyformat":
        raise NotImplementedError(f"the answer statement is written for pyformat parameters, not {dialect.paramstyle}")
    sql = str(compiled)
    for name, value in compiled.construct_params(dict.fromkeys(_ANSWER_VALUES)).items():
        if name not in _ANSWER_VALUES:
            literal = compiled.render_literal_value(value, compiled.binds[name].type)
            sql = sql.replace(f"%({name})s", literal.replace("%", "%%"))
    return sql


def _driver_values(params: dict) -> dict:
    """The answer's values as the driver takes them: times as naive UTC, like the columns."""
    return {**params, **{name: params[name].astimezone(UTC).replace(tzinfo=None) for name in _TIMES}}


def _claim_and_insert(connection: Connection, params: dict):
    """PostgreSQL: the whole answer in one statement and one round trip."""
    return connection.exec_driver_sql(_compiled_answer(connection.dialect), _driver_values(params)).one_or_none()


def _stands_alone(session: Session, score: int, comment: str | None) -> bool:
    """Nothing else will be written with this answer: no receiver claims it and the session has nothing under way."""
    if any(check(session, score, comment) for check in _answer_writers):
        return False
    return not (session() if isinstance(session, scoped_session) else session).in_transaction()


def _claim_and_insert_alone(engine: Engine, params: dict) -> tuple | None:
    """The answer's one statement as its own transaction, on a pooled connection in autocommit mode: PostgreSQL
    commits it on completion, which saves the BEGIN and COMMIT round trips.

    It goes to the driver's cursor directly: one statement with one row back, where SQLAlchemy's connection and
    result set-up cost about a sixth of the request. Driver errors come back as SQLAlchemy's, a lost connection
    invalidated, as from Connection.execute; the connection goes back to the pool out of autocommit mode.
    """
    dialect = engine.dialect
    sql = _compiled_answer(dialect)
    values = _driver_values(params)
    try:
        connection = engine.raw_connection()
    except dialect.loaded_dbapi.Error as exc:  # the pool could not connect: the same error as Connection's
        raise DBAPIError.instance(
            None, None, exc, dialect.loaded_dbapi.Error, hide_parameters=engine.hide_parameters, dialect=dialect
        ) from exc
    cursor = None
    try:
        connection.driver_connection.autocommit = True
        cursor = connection.cursor()
        cursor.execute(sql, values)
        return cursor.fetchone()
    except dialect.loaded_dbapi.Error as exc:
        lost = dialect.is_disconnect(exc, connection.dbapi_connection, cursor)
        if lost:
            connection.invalidate(exc)
        raise DBAPIError.instance(
            sql,
            values,
            exc,
            dialect.loaded_dbapi.Error,
            hide_parameters=engine.hide_parameters,
            connection_invalidated=lost,
            dialect=dialect,
        ) from exc
    finally:
        _back_to_pool(connection, cursor, dialect.loaded_dbapi.Error)


def _back_to_pool(connection: PoolProxiedConnection, cursor, driver_error: type[Exception]) -> None:
    """Return the connection as the pool lent it: out of autocommit mode, or invalidated if that cannot be known."""
    try:
        if cursor is not None:
            cursor.close()
        if connection.is_valid:
            connection.driver_connection.autocommit = False
    except driver_error as exc:
        connection.invalidate(exc)
    connection.close()


_ANSWER_VALUES = ("by_token", "at_now", "new_score", "new_comment", "new_created_at")
_TIMES = ("at_now", "new_created_at")


def submit_answer(session: Session, token: str, score: int, comment: str | None, now: datetime) -> Submitted:
    """Store the one answer of the invitation with this token; no reminder goes out after it.

    The conditional UPDATE is the guard against a double submit: a second request waits for the first
    one's row lock and then finds the invitation answered. The unique invitation_id of responses backs it up.
    Only when nothing was stored does a second query find out why (unknown, answered or expired).
    On PostgreSQL, an answer no receiver writes for (see add_answer_writer), in a session with nothing under way,
    is committed by its own statement; otherwise it waits for the caller's commit with the receivers' writes.
    """
    if not 0 <= score <= 10:
        raise ValueError("score must be between 0 and 10")
    comment = (comment or "").strip() or None
    if comment is not None and len(comment) > MAX_COMMENT:
        raise ValueError(f"comment longer than {MAX_COMMENT} characters")
    params = {"by_token": token, "at_now": now, "new_score": score, "new_comment": comment, "new_created_at": now}
    bind = session.get_bind()
    try:
        if bind.dialect.name != POSTGRESQL:
            row = _claim_then_insert(session, params)
        elif _stands_alone(session, score, comment):
            row = _claim_and_insert_alone(bind, params)
        else:
            row = _claim_and_insert(session.connection(), params)
    except IntegrityError:
        row = None
    if row is None:
        session.rollback()
        raise _why_not_open(session, token, now)
    response_id, invitation_id, survey_id, customer_id, locale, texts = row
    response = Response(
        id=response_id,
        invitation_id=invitation_id,
        survey_id=survey_id,
        customer_id=customer_id,
        score=score,
        comment=comment,
        locale=locale,
        created_at=now,
    )
    # A reminder still queued is cancelled by the sender, which sends nothing for answered invitations.
    response_submitted.send(response, session=session, now=now)
    return Submitted(response, texts)


def _claim_then_insert(session: Session, params: dict) -> tuple | None:
    """SQLite has no data-modifying CTE: the same claim, then the insert."""
    claimed = session.execute(_CLAIM, params).one_or_none()
    if claimed is None:
        return None
    invitation_id, survey_id, customer_id, locale, texts, *_ = claimed
    values = {
        "invitation_id": invitation_id,
        "survey_id": survey_id,
        "customer_id": customer_id,
        "score": params["new_score"],
        "comment": params["new_comment"],
        "locale": locale,
        "created_at": params["new_created_at"],
    }
    response_id = session.execute(_INSERT, values).scalar_one()
    return response_id, invitation_id, survey_id, customer_id, locale, texts


def _why_not_open(session: Session, token: str, now: datetime) -> Exception:
    invitation = invitation_by_token(session, token)
    if invitation is None:
        return UnknownInvitation(token)
    if invitation.status == "answered":
        return AlreadyAnswered()
    return InvitationExpired()


MAX_COMEBACK = 2000


def active_reasons(session: Session) -> list[ChurnReason]:
    """The reasons a churn survey offers now, in the admin's order."""
    return list(
        session.scalars(
            select(ChurnReason).where(ChurnReason.retired_at.is_(None)).order_by(ChurnReason.position, ChurnReason.id)
        )
    )


def submit_churn_answer(
    session: Session,
    token: str,
    reason_ids: list[int],
    main_id: int | None,
    comment: str | None,
    comeback: str | None,
    now: datetime,
) -> Submitted:
    """Store the one churn answer of an invitation: ticked reasons, the main one, open texts.

    The main reason counts as ticked; with one reason ticked it is the main one. Only reasons on offer
    (not retired) are accepted. Same once-only claim as the NPS answer.
    """
    comment = (comment or "").strip() or None
    comeback = (comeback or "").strip() or None
    if comment is not None and len(comment) > MAX_COMMENT or comeback is not None and len(comeback) > MAX_COMEBACK:
        raise ValueError("text too long")
    chosen = set(reason_ids) | ({main_id} if main_id is not None else set())
    offered = {reason.id for reason in active_reasons(session)}
    if not chosen <= offered:
        raise ValueError(f"unknown or retired reasons: {sorted(chosen - offered)}")
    if not chosen and comment is None:
        raise EmptyChurnAnswer()
    if main_id is None and len(chosen) == 1:
        main_id = next(iter(chosen))
    invitation = invitation_by_token(session, token)
    if invitation is None:
        raise UnknownInvitation(token)
    if invitation.survey.kind != "churn":
        raise ValueError("not a churn survey")
    claimed = session.execute(_CLAIM, {"by_token": token, "at_now": now}).one_or_none()
    if claimed is None:
        session.rollback()
        raise _why_not_open(session, token, now)
    invitation_id, survey_id, customer_id, locale, texts, *_ = claimed
    response = Response(
        invitation_id=invitation_id,
        survey_id=survey_id,
        customer_id=customer_id,
        score=None,
        comment=comment,
        comeback=comeback,
        locale=locale,
        created_at=now,
    )
    response.reasons = [ResponseReason(reason_id=rid, main=rid == main_id) for rid in sorted(chosen)]
    session.add(response)
    session.flush()
    response_submitted.send(response, session=session, now=now)
    return Submitted(response, texts)


def record_response(
    session: Session, invitation: Invitation, score: int, comment: str | None, now: datetime
) -> Response:
    """Answer a loaded invitation (demo data, tests); the object then shows what the database holds."""
    response = submit_answer(session, invitation.token, score, comment, now).response
    set_committed_value(invitation, "status", "answered")
    set_committed_value(invitation, "answered_at", now)
    return response


def unsubscribe(session: Session, invitation: Invitation, now: datetime) -> None:
    """Stop all survey mail to this customer at once, including queued reminders."""
    customer = invitation.customer
    if customer.unsubscribed_at is None:
        customer.unsubscribed_at = now
    _cancel_pending(session, OutboxMessage.customer_id == customer.id, "unsubscribed")
    session.execute(
        update(Invitation)
        .where(Invitation.customer_id == customer.id, Invitation.status == "pending")
        .values(status="cancelled")
    )
    session.flush()


def on_lifecycle_changes_removed(_sender, session: Session, change_ids: list[int], **_: object) -> None:
    """A history replay found these changes wrong: churn invitations sent for them keep everything but the link."""
    session.execute(
        update(Invitation)
        .where(Invitation.lifecycle_change_id.in_(change_ids))
        .values(lifecycle_change_id=None)
        .execution_options(synchronize_session=False)
    )


def on_customer_churned(customer, session: Session, now: datetime, **_: object) -> None:
    """A customer who cancelled gets no more NPS mail that has not gone out; the churn survey asks instead."""
    nps_invitations = (
        select(Invitation.id)
        .join(Survey, Survey.id == Invitation.survey_id)
        .where(Invitation.customer_id == customer.id, Invitation.status == "pending", Survey.kind == "nps")
    )
    _cancel_pending(session, OutboxMessage.invitation_id.in_(nps_invitations), "customer cancelled")
    session.execute(
        update(Invitation)
        .where(Invitation.id.in_(nps_invitations.scalar_subquery()))
        .values(status="cancelled")
        .execution_options(synchronize_session=False)
    )


def _cancel_pending(session: Session, condition, reason: str) -> None:
    session.execute(
        update(OutboxMessage)
        .where(condition, OutboxMessage.kind.in_(SURVEY_MAIL_KINDS), OutboxMessage.status == "pending")
        .values(status="cancelled", last_error=reason)
        .execution_options(synchronize_session=False)
    )
