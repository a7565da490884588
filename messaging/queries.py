"""Read queries for staff pages, aggregated in the database."""

from __future__ import annotations

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
