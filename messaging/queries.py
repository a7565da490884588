"""Read queries for staff pages, aggregated in the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

from flask_babel import lazy_gettext as _l
from sqlalchemy import case, func, literal, null, or_, select
from sqlalchemy.orm import Session

from messaging.models import OutboxMessage

STATUSES = ("pending", "sending", "sent", "failed", "cancelled")
STATUS_LABELS = {
    "pending": _l("waiting"),
    "sending": _l("being sent"),
    "sent": _l("sent"),
    "failed": _l("failed"),
    "cancelled": _l("cancelled"),
}


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
    """From the outbox page's grouping (`waiting`), so why a mail waits has one definition."""
    groups = waiting(session, now)

    def count(*reasons: str) -> int:
        return sum(w.count for w in groups if w.reason in reasons)

    failed = session.scalar(select(func.count()).where(OutboxMessage.status == "failed")) or 0
    next_at = min((w.next_at for w in groups), default=None)
    return MailHealth(count("due"), count("window", "later"), count("retry"), int(failed), next_at)


REASONS = ("due", "retry", "window", "later")


@dataclass(frozen=True)
class Waiting:
    """Waiting mail of one kind and one reason: due now, a retry after a temporary error, held for its send
    window (which one), or scheduled for later; with the earliest send time."""

    kind: str
    reason: str
    count: int
    next_at: datetime
    window_tz: str | None = None
    window_weekdays: str | None = None
    window_start: time | None = None
    window_end: time | None = None

    def weekdays(self) -> list[int]:
        return [int(d) for d in (self.window_weekdays or "").split(",") if d.strip()]


def waiting(session: Session, now: datetime) -> list[Waiting]:
    """The waiting mail grouped by kind and reason (and by send window for those held by one), counted in SQL:
    what the outbox page explains, whatever the queue's size."""
    m = OutboxMessage
    reason = case(
        (m.next_attempt_at <= now, literal("due")),
        (m.last_error.is_not(None), literal("retry")),
        (m.window_start.is_not(None), literal("window")),
        else_=literal("later"),
    ).label("reason")
    held = reason == "window"
    window = [case((held, column), else_=null()).label(column.key) for column in (m.window_tz, m.window_weekdays,
              m.window_start, m.window_end)]  # fmt: skip
    rows = session.execute(
        select(m.kind, reason, func.count(), func.min(m.next_attempt_at), *window)
        .where(m.status == "pending")
        .group_by(m.kind, reason, *window)
    ).all()
    found = [Waiting(*row) for row in rows]
    return sorted(found, key=lambda w: (REASONS.index(w.reason), w.next_at, w.kind))
