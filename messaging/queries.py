"""Read queries for staff pages, aggregated in the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from messaging.models import OutboxMessage

STATUSES = ("pending", "sending", "sent", "failed", "cancelled")


def outbox_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all()
    counts = dict.fromkeys(STATUSES, 0)
    counts.update({status: n for status, n in rows})
    return counts


def outbox_problems(session: Session, limit: int = 100) -> list[OutboxMessage]:
    """Failed mails, and waiting ones that already had an error, newest first."""
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(
                or_(
                    OutboxMessage.status == "failed",
                    (OutboxMessage.status == "pending") & OutboxMessage.last_error.is_not(None),
                )
            )
            .order_by(OutboxMessage.id.desc())
            .limit(limit)
        )
    )


@dataclass(frozen=True)
class MailHealth:
    """Outgoing mail at a glance: what waits and why, what failed, when the next mail is due."""

    due: int  # waiting and due now: the next sender run takes them
    held: int  # waiting for their send window (or a later send time) without an error
    retrying: int  # waiting after a temporary error, retried later
    failed: int
    next_at: datetime | None  # the earliest waiting mail's send time


def mail_health(session: Session, now: datetime) -> MailHealth:
    m = OutboxMessage
    pending = m.status == "pending"
    due, held, retrying, failed, next_at = session.execute(
        select(
            func.count().filter(pending & (m.next_attempt_at <= now)),
            func.count().filter(pending & (m.next_attempt_at > now) & m.last_error.is_(None)),
            func.count().filter(pending & (m.next_attempt_at > now) & m.last_error.is_not(None)),
            func.count().filter(m.status == "failed"),
            func.min(m.next_attempt_at).filter(pending),
        ).where(m.status.in_(("pending", "failed")))
    ).one()
    return MailHealth(int(due), int(held), int(retrying), int(failed), next_at)
