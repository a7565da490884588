"""The answer path: how one survey answer is stored, and the one place other packages join it.

An answer is the hot path (hundreds per second at a campaign's peak), so on PostgreSQL it is one statement and one
round trip: a data-modifying CTE claims the open invitation (`claimed`), inserts the response (`inserted`), and
runs every registered *part* in the same statement. SQLite has no data-modifying CTEs: there the claim and the
insert are two statements, and the same work is done by the receivers of `surveys.signals.response_submitted`,
in the same transaction. Two extension points, both registered by the application (app/__init__.py):

- `add_answer_part(builder)`: `builder(claimed, inserted)` returns an INSERT or UPDATE built from the two CTEs
  (the rollup's counts, the queue of answers for the scheduler). Its receiver of `response_submitted` must do the
  same work on SQLite and skip it on PostgreSQL; `tests/surveys/test_answer_path.py` proves both leave the same rows.
- `add_answer_writer(check)`: `check(session, score, comment, kind)` is True when a receiver of
  `response_submitted` may write for such an answer (a case, a webhook event); `kind` is the survey kind the token
  names, or None when it names none (then the check must hold for every kind). On PostgreSQL an answer no check
  claims, in a session with nothing under way, commits by its own statement in autocommit mode (no BEGIN and
  COMMIT round trips); any other answer waits for the caller's commit together with the receivers' writes.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC

from sqlalchemy import Connection, Engine, String, bindparam, exists, insert, or_, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, scoped_session
from sqlalchemy.pool import PoolProxiedConnection

from kundenpuls.dialect import POSTGRESQL
from surveys.follow_ups import has_questions
from surveys.kinds import sql_on_scale
from surveys.models import OPEN_STATUSES, Invitation, Response, Survey, kind_in_token


def claim_invitation(session: Session, token: str, now) -> tuple | None:
    """Mark the open invitation answered (a churn answer, stored by the ORM with its reasons); None if none is open.
    Returns (invitation id, survey id, customer id, locale, survey texts, purchase id, sent at, survey kind,
    whether follow-up questions come, the invitation's channel)."""
    return session.execute(_CLAIM, {"by_token": token, "at_now": now}).one_or_none()


def store_answer(session: Session, params: dict) -> tuple | None:
    """Claim the invitation and store the response; returns (response id, invitation id, survey id, customer id,
    locale, survey texts, survey kind, whether follow-up questions come), or None when no open invitation with the
    score on its survey's scale has the token."""
    bind = session.get_bind()
    if bind.dialect.name != POSTGRESQL:
        return _claim_then_insert(session, params)
    if _stands_alone(session, params["new_score"], params["new_comment"], kind_in_token(params["by_token"])):
        return _claim_and_insert_alone(bind, params)
    return _claim_and_insert(session.connection(), params)


def _answer_statements():
    """Built once: the answer POST is the hot path, and a statement built per request costs more than its SQL.

    `claim` marks an open, unexpired invitation answered and returns what the response row needs; `scored_claim`
    also asks that the score lies on the survey kind's scale (CSAT 1-5, CES 1-7, NPS 0-10); on PostgreSQL
    `claim_and_insert` also inserts the response in the same statement (a data-modifying CTE).
    """
    invitations, surveys, responses = Invitation.__table__, Survey.__table__, Response.__table__
    now = bindparam("at_now", type_=invitations.c.answered_at.type)
    score = bindparam("new_score", type_=responses.c.score.type)
    # Subqueries, not UPDATE ... FROM: SQLite's RETURNING sees only the updated table.
    kind = select(surveys.c.kind).where(surveys.c.id == invitations.c.survey_id).scalar_subquery()
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
            select(surveys.c.texts).where(surveys.c.id == invitations.c.survey_id).scalar_subquery().label("texts"),
            invitations.c.purchase_id,
            invitations.c.sent_at,
            kind.label("kind"),
            or_(
                has_questions(invitations.c.survey_id),
                select(surveys.c.rating_grid).where(surveys.c.id == invitations.c.survey_id).scalar_subquery(),
            ).label("asks_more"),
            invitations.c.channel.label("invitation_channel"),
        )
    )
    # One lookup of the survey row, not one per kind the OR names.
    scored_claim = claim.where(
        exists().where(surveys.c.id == invitations.c.survey_id, sql_on_scale(surveys.c.kind, score))
    )
    claimed = scored_claim.cte("claimed")
    inserted = (
        insert(responses)
        .from_select(
            ["invitation_id", "survey_id", "customer_id", "score", "comment", "locale", "created_at", "channel"],
            select(
                claimed.c.id,
                claimed.c.survey_id,
                claimed.c.customer_id,
                score,
                bindparam("new_comment", type_=responses.c.comment.type),
                claimed.c.locale,
                bindparam("new_created_at", type_=responses.c.created_at.type),
                bindparam("new_channel", type_=responses.c.channel.type),
            ),
        )
        .returning(
            responses.c.id, responses.c.invitation_id, responses.c.score, responses.c.created_at, responses.c.channel
        )
        .cte("inserted")
    )
    claim_and_insert = select(
        inserted.c.id,
        claimed.c.id,
        claimed.c.survey_id,
        claimed.c.customer_id,
        claimed.c.locale,
        claimed.c.texts,
        claimed.c.kind,
        claimed.c.asks_more,
    ).join_from(inserted, claimed, inserted.c.invitation_id == claimed.c.id)
    insert_one = insert(responses).returning(responses.c.id)
    return claim, scored_claim, claim_and_insert, insert_one, claimed, inserted


_CLAIM, _SCORED_CLAIM, _CLAIM_AND_INSERT, _INSERT, _CLAIMED, _INSERTED = _answer_statements()

# Data-modifying statements other packages add to the answer's one PostgreSQL statement, built from the
# `claimed` invitation and the `inserted` response CTEs: their work costs no extra round trip.
_answer_parts: list[Callable] = []


# Checks other packages register: `check(session, score, comment)` is True when their receiver of response_submitted
# may write for such an answer, so that the answer and those writes share one transaction.
_answer_writers: list[Callable[[Session, int, str | None, str | None], bool]] = []


def add_answer_writer(check: Callable[[Session, int, str | None, str | None], bool]) -> None:
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


def _stands_alone(session: Session, score: int, comment: str | None, kind: str | None) -> bool:
    """Nothing else will be written with this answer: no receiver claims it and the session has nothing under way."""
    if any(check(session, score, comment, kind) for check in _answer_writers):
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


_ANSWER_VALUES = ("by_token", "at_now", "new_score", "new_comment", "new_created_at", "new_channel")
_TIMES = ("at_now", "new_created_at")


def _claim_then_insert(session: Session, params: dict) -> tuple | None:
    """SQLite has no data-modifying CTE: the same claim, then the insert."""
    claimed = session.execute(_SCORED_CLAIM, params).one_or_none()
    if claimed is None:
        return None
    invitation_id, survey_id, customer_id, locale, texts, _purchase, _sent, kind, asks_more, _channel = claimed
    values = {
        "invitation_id": invitation_id,
        "survey_id": survey_id,
        "customer_id": customer_id,
        "score": params["new_score"],
        "comment": params["new_comment"],
        "locale": locale,
        "created_at": params["new_created_at"],
        "channel": params["new_channel"],
    }
    response_id = session.execute(_INSERT, values).scalar_one()
    return response_id, invitation_id, survey_id, customer_id, locale, texts, kind, asks_more
