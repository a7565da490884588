"""Answering and unsubscribing: what a customer's click changes. They flush; the caller commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

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
    claimed = session.execute(
        update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.status.in_(OPEN_STATUSES))
        .values(status="answered", answered_at=now)
    )
    if claimed.rowcount != 1:
        session.rollback()
        raise AlreadyAnswered
    values = {
        "invitation_id": invitation.id,
        "survey_id": invitation.survey_id,
        "customer_id": invitation.customer_id,
        "score": score,
        "comment": comment,
        "locale": invitation.locale,
        "created_at": now,
    }
    try:
        response_id = session.execute(insert(Response.__table__).values(values).returning(Response.id)).scalar_one()
    except IntegrityError:
        session.rollback()
        raise AlreadyAnswered from None
    response = Response(id=response_id, **values)
    # A reminder still queued is cancelled by the sender, which sends nothing for answered invitations.
    response_submitted.send(response, session=session, now=now)
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
