"""Answering and unsubscribing: what a customer's click changes. They flush; the caller commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.attributes import set_committed_value

from surveys.mail import SURVEY_MAIL_KINDS
from surveys.models import Invitation, OutboxMessage, Response
from surveys.signals import response_submitted

MAX_COMMENT = 5000
# An invitation in one of these states can still be answered (cancelled: mail not sent before an unsubscribe).
OPEN_STATUSES = ("pending", "sent", "cancelled")


class AlreadyAnswered(Exception):
    """The invitation has its one answer already."""


class InvitationExpired(Exception):
    """The invitation can no longer be answered."""


def invitation_by_token(session: Session, token: str) -> Invitation | None:
    """The invitation with its survey (every page needs the survey's texts)."""
    if not token or len(token) > 64:
        return None
    return session.scalars(
        select(Invitation).options(joinedload(Invitation.survey)).where(Invitation.token == token)
    ).one_or_none()


def is_expired(invitation: Invitation, now: datetime) -> bool:
    return invitation.status == "expired" or (invitation.status != "answered" and invitation.expires_at <= now)


def record_response(
    session: Session, invitation: Invitation, score: int, comment: str | None, now: datetime
) -> Response:
    """Store the one answer of an invitation; no reminder goes out after it.

    The conditional UPDATE is the guard against a double submit: a second request waits for the first
    one's row lock and then finds the invitation answered. The unique invitation_id of responses backs it up.
    """
    if invitation.status == "answered":
        raise AlreadyAnswered
    if is_expired(invitation, now):
        raise InvitationExpired
    if not 0 <= score <= 10:
        raise ValueError("score must be between 0 and 10")
    comment = (comment or "").strip() or None
    if comment is not None and len(comment) > MAX_COMMENT:
        raise ValueError(f"comment longer than {MAX_COMMENT} characters")
    values = {
        "invitation_id": invitation.id,
        "survey_id": invitation.survey_id,
        "customer_id": invitation.customer_id,
        "score": score,
        "comment": comment,
        "locale": invitation.locale,
        "created_at": now,
    }
    claim = (
        update(Invitation.__table__)
        .where(Invitation.id == invitation.id, Invitation.status.in_(OPEN_STATUSES))
        .values(status="answered", answered_at=now)
    )
    try:
        response_id = _claim_and_insert(session, claim, values)
    except IntegrityError:
        response_id = None
    if response_id is None:
        session.rollback()
        raise AlreadyAnswered
    # What the database now holds, without a second UPDATE at commit.
    set_committed_value(invitation, "status", "answered")
    set_committed_value(invitation, "answered_at", now)
    response = Response(id=response_id, **values)
    # A reminder still queued is cancelled by the sender, which sends nothing for answered invitations.
    response_submitted.send(response, session=session, now=now)
    return response


def _claim_and_insert(session: Session, claim, values: dict) -> int | None:
    """Mark the invitation answered and insert the response; None when it was answered already.

    PostgreSQL does both in one statement (a data-modifying CTE): the answer POST is the hot path.
    """
    responses = Response.__table__
    if session.get_bind().dialect.name == "postgresql":
        claimed = claim.returning(Invitation.id).cte("claimed")
        columns = [column for column in values if column != "invitation_id"]
        insert_answer = (
            insert(responses)
            .from_select(
                ["invitation_id", *columns],
                select(claimed.c.id, *(literal(values[c], responses.c[c].type) for c in columns)),
            )
            .returning(responses.c.id)
        )
        return session.execute(insert_answer).scalar_one_or_none()
    if session.execute(claim).rowcount != 1:
        return None
    return session.execute(insert(responses).values(values).returning(responses.c.id)).scalar_one()


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


def _cancel_pending(session: Session, condition, reason: str) -> None:
    session.execute(
        update(OutboxMessage)
        .where(condition, OutboxMessage.kind.in_(SURVEY_MAIL_KINDS), OutboxMessage.status == "pending")
        .values(status="cancelled", last_error=reason)
        .execution_options(synchronize_session=False)
    )


def retry_failed(session: Session, message: OutboxMessage, now: datetime) -> bool:
    """Staff send a failed mail again, unchanged, e.g. after the receiving side fixed a mailbox."""
    if message.status != "failed":
        return False
    message.status, message.next_attempt_at = "pending", now
    session.flush()
    return True
