"""Scheduled survey work, as plain functions of `now`. Each is idempotent and commits itself."""

from __future__ import annotations

import dataclasses
import secrets
from datetime import datetime, timedelta

from sqlalchemy import exists, func, select, text, update
from sqlalchemy.orm import Session, aliased

from customers.models import Customer, LifecycleChange, Purchase
from surveys.mail import queue_survey_mail
from surveys.models import Invitation, OutboxMessage, Survey
from surveys.outbox import dispatch_due

CHUNK = 500
# Arbitrary constant that names "creating invitations" among PostgreSQL advisory locks.
INVITE_LOCK = 4_262_001


def _lock_invitation_creation(session: Session) -> bool:
    """On PostgreSQL only one scheduler creates invitations at a time (quiet period is per customer)."""
    if session.get_bind().dialect.name != "postgresql":
        return True
    return bool(session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": INVITE_LOCK}).scalar())


def _due_purchases(session: Session, survey: Survey, now: datetime, limit: int) -> list[tuple[int, int]]:
    """Latest eligible purchase per customer: past the delay, not history, customer mailable and quiet."""
    newest = now - timedelta(days=survey.delay_days)
    oldest = newest - timedelta(days=survey.catchup_days)
    earlier = aliased(Invitation)
    same = aliased(Invitation)
    ranked = (
        select(
            Purchase.id.label("purchase_id"),
            Purchase.customer_id.label("customer_id"),
            func.row_number()
            .over(partition_by=Purchase.customer_id, order_by=(Purchase.purchased_at.desc(), Purchase.id.desc()))
            .label("rank"),
        )
        .join(Customer, Customer.id == Purchase.customer_id)
        .where(
            Purchase.purchased_at <= newest,
            Purchase.purchased_at > oldest,
            Customer.email.is_not(None),
            Customer.unsubscribed_at.is_(None),
            Customer.email_invalid_at.is_(None),
            Customer.lifecycle_phase != "churned",
            ~exists().where(
                earlier.customer_id == Purchase.customer_id,
                earlier.created_at > now - timedelta(days=survey.quiet_days),
            ),
            ~exists().where(same.survey_id == survey.id, same.purchase_id == Purchase.id),
        )
        .subquery()
    )
    rows = session.execute(
        select(ranked.c.purchase_id, ranked.c.customer_id)
        .where(ranked.c.rank == 1)
        .order_by(ranked.c.purchase_id)
        .limit(limit)
    )
    return [(row.purchase_id, row.customer_id) for row in rows]


def _invite(session: Session, survey: Survey, due: list[tuple[str, int, int]], now: datetime) -> int:
    """Create invitations for (link column, link id, customer id) rows, their mails in the same transaction."""
    customers = {c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_([c for *_, c in due])))}
    invitations = []
    for link, link_id, customer_id in due:
        customer = customers[customer_id]
        invitation = Invitation(
            token=secrets.token_urlsafe(24),
            survey=survey,
            customer=customer,
            locale=customer.locale or "de",
            status="pending",
            created_at=now,
            expires_at=now + timedelta(days=survey.expiry_days),
            **{link: link_id},
        )
        session.add(invitation)
        invitations.append(invitation)
    session.flush()  # one batched INSERT ... RETURNING for the chunk's ids
    for invitation in invitations:
        queue_survey_mail(session, invitation, "invitation", 0, now)
    return len(invitations)


def _invite_due(session: Session, kind: str, find_due, now: datetime) -> int:
    """For each active survey of `kind`: invite in chunks, committing each, under the creation lock."""
    created = 0
    for survey in session.scalars(select(Survey).where(Survey.active.is_(True), Survey.kind == kind)).all():
        while True:
            if not _lock_invitation_creation(session):
                session.rollback()
                return created
            due = find_due(session, survey, now, CHUNK)
            if not due:
                session.commit()
                break
            created += _invite(session, survey, due, now)
            session.commit()
    return created


def create_due_invitations(session: Session, now: datetime) -> int:
    """Invite the customers whose purchase is `delay_days` old."""
    return _invite_due(
        session,
        "nps",
        lambda *args: [("purchase_id", purchase, customer) for purchase, customer in _due_purchases(*args)],
        now,
    )


# Lifecycle changes that send a churn survey. Changes from the first computation after install ("backfill")
# or from an admin's rule change ("rules") do not: they would mail every long-gone customer at once.
CHURN_TRIGGER_CAUSES = ("time", "cancellation")


def _due_churn_changes(session: Session, survey: Survey, now: datetime, limit: int) -> list[tuple[str, int, int]]:
    """Fresh cancellations (and, if the survey says so, customers who just turned inactive) still in that phase."""
    phases = [
        phase for phase, on in (("churned", survey.trigger_cancellation), ("inactive", survey.trigger_inactive)) if on
    ]
    if not phases:
        return []
    newest = now - timedelta(days=survey.delay_days)
    oldest = newest - timedelta(days=survey.catchup_days)
    earlier = aliased(Invitation)
    same = aliased(Invitation)
    rows = session.execute(
        select(LifecycleChange.id, LifecycleChange.customer_id)
        .join(Customer, Customer.id == LifecycleChange.customer_id)
        .where(
            LifecycleChange.to_phase.in_(phases),
            LifecycleChange.cause.in_(CHURN_TRIGGER_CAUSES),
            LifecycleChange.recorded_at <= newest,
            LifecycleChange.recorded_at > oldest,
            Customer.lifecycle_phase == LifecycleChange.to_phase,  # a purchase since then: no need to ask
            Customer.email.is_not(None),
            Customer.unsubscribed_at.is_(None),
            Customer.email_invalid_at.is_(None),
            ~exists().where(
                earlier.customer_id == LifecycleChange.customer_id,
                earlier.created_at > now - timedelta(days=survey.quiet_days),
            ),
            ~exists().where(same.survey_id == survey.id, same.lifecycle_change_id == LifecycleChange.id),
        )
        .order_by(LifecycleChange.id.desc())
        .limit(limit)
    ).all()
    latest: dict[int, int] = {}
    for change_id, customer_id in rows:  # newest first: one survey per customer, for the latest change
        latest.setdefault(customer_id, change_id)
    return [("lifecycle_change_id", change_id, customer_id) for customer_id, change_id in latest.items()]


def create_churn_invitations(session: Session, now: datetime) -> int:
    """Ask customers who cancelled (or went quiet) why; the same outbox, reminders, quiet period and opt-out."""
    return _invite_due(session, "churn", _due_churn_changes, now)


def queue_reminders(session: Session, now: datetime) -> int:
    """Remind those who were mailed but have not answered, up to the survey's number of reminders."""
    queued = 0
    for survey in session.scalars(select(Survey).where(Survey.reminder_count > 0)).all():
        cutoff = now - timedelta(days=survey.reminder_after_days)
        while True:
            batch = session.scalars(
                select(Invitation)
                .join(Customer, Customer.id == Invitation.customer_id)
                .where(
                    Invitation.survey_id == survey.id,
                    Invitation.status == "sent",
                    Invitation.expires_at > now,
                    Invitation.reminders_queued < survey.reminder_count,
                    Invitation.last_mailed_at <= cutoff,
                    Customer.unsubscribed_at.is_(None),
                    Customer.email_invalid_at.is_(None),
                    ~exists().where(
                        OutboxMessage.invitation_id == Invitation.id,
                        OutboxMessage.status.in_(("pending", "sending")),
                    ),
                )
                .order_by(Invitation.id)
                .limit(CHUNK)
                .with_for_update(skip_locked=True, of=Invitation)
            ).all()
            if not batch:
                session.commit()
                break
            for invitation in batch:
                invitation.reminders_queued += 1
                queue_survey_mail(session, invitation, "reminder", invitation.reminders_queued, now)
                queued += 1
            session.commit()
    return queued


def expire_invitations(session: Session, now: datetime) -> int:
    """Close invitations past their expiry and cancel their unsent mail."""
    expiring = select(Invitation.id).where(Invitation.status.in_(("pending", "sent")), Invitation.expires_at <= now)
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.invitation_id.in_(expiring), OutboxMessage.status == "pending")
        .values(status="cancelled", last_error="invitation expired")
    )
    result = session.execute(
        update(Invitation)
        .where(Invitation.status.in_(("pending", "sent")), Invitation.expires_at <= now)
        .values(status="expired")
    )
    session.commit()
    return result.rowcount


def send_mail(session: Session, now: datetime) -> dict[str, int]:
    counts = dispatch_due(session, now)
    return dataclasses.asdict(counts)


JOBS = (
    ("expire_invitations", expire_invitations),
    ("create_invitations", create_due_invitations),
    ("create_churn_invitations", create_churn_invitations),
    ("queue_reminders", queue_reminders),
    ("send_mail", send_mail),
)
