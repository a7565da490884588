"""Scheduled survey work, as plain functions of `now`. Each is idempotent and commits itself."""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from customers.models import Customer, LifecycleChange, Purchase
from kundenpuls.locks import INVITE_LOCK, try_job_lock
from messaging.models import OutboxMessage
from messaging.privacy import forget_old_texts
from surveys.audience import conditions as audience_conditions
from surveys.audience import due_window, mailable, quiet, reachable
from surveys.channels import LINK
from surveys.kinds import CHURN, SCORED_KEYS
from surveys.mail import queue_survey_mail
from surveys.models import Invitation, Response, Survey, new_token

CHUNK = 500


def _due_purchases(session: Session, survey: Survey, now: datetime, limit: int) -> list[tuple[int, int, int | None]]:
    """Latest eligible purchase per customer: past the delay, not history, customer mailable and quiet; with the
    id of its printed link's invitation when one was handed out and never mailed (the mail then delivers it)."""
    oldest, newest = due_window(survey, now)
    printed = aliased(Invitation)
    ranked = (
        select(
            Purchase.id.label("purchase_id"),
            Purchase.customer_id.label("customer_id"),
            printed.id.label("printed_id"),
            func.row_number()
            .over(partition_by=Purchase.customer_id, order_by=(Purchase.purchased_at.desc(), Purchase.id.desc()))
            .label("rank"),
        )
        .join(Customer, Customer.id == Purchase.customer_id)
        .outerjoin(printed, (printed.survey_id == survey.id) & (printed.purchase_id == Purchase.id))
        .where(
            Purchase.purchased_at <= newest,
            Purchase.purchased_at > oldest,
            Customer.lifecycle_phase != "churned",
            *mailable(),
            quiet(survey, now, Purchase.customer_id, apart_from=printed.id),
            or_(printed.id.is_(None), _unmailed_print(printed, now)),
            *audience_conditions(survey.audience, Purchase.category),
        )
        .subquery()
    )
    rows = session.execute(
        select(ranked.c.purchase_id, ranked.c.customer_id, ranked.c.printed_id)
        .where(ranked.c.rank == 1)
        .order_by(ranked.c.purchase_id)
        .limit(limit)
    )
    return [(row.purchase_id, row.customer_id, row.printed_id) for row in rows]


def _unmailed_print(printed, now: datetime):
    """A printed link's invitation still open that no mail has delivered (or is about to)."""
    return and_(
        printed.channel == LINK,
        printed.status == "sent",
        printed.last_mailed_at.is_(None),
        printed.expires_at > now,
        ~exists().where(OutboxMessage.invitation_id == printed.id),
    )


# A due row naming an existing invitation instead of the event to create one for.
REUSE = "invitation_id"


def _invite(session: Session, survey: Survey, due: list[tuple[str, int, int]], now: datetime) -> int:
    """Create invitations for (link column, link id, customer id) rows, their mails in the same transaction; a
    REUSE row's invitation (a printed link) is mailed as it is, valid for the survey's expiry from now on."""
    customers = {c.id: c for c in session.scalars(select(Customer).where(Customer.id.in_([c for *_, c in due])))}
    reused = {
        i.id: i
        for i in session.scalars(select(Invitation).where(Invitation.id.in_([i for k, i, _ in due if k == REUSE])))
    }
    invitations = []
    for link, link_id, customer_id in due:
        if link == REUSE:
            invitation = reused[link_id]
            invitation.expires_at = max(invitation.expires_at, now + timedelta(days=survey.expiry_days))
            invitations.append(invitation)
            continue
        customer = customers[customer_id]
        invitation = Invitation(
            token=new_token(survey.kind),
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


def _invite_due(session: Session, kinds: tuple[str, ...], find_due, now: datetime) -> int:
    """For each active survey of these kinds: invite in chunks, committing each, under the creation lock."""
    created = 0
    surveys = select(Survey).where(Survey.active.is_(True), Survey.kind.in_(kinds)).order_by(Survey.id)
    for survey in session.scalars(surveys).all():
        while True:
            # One scheduler creates invitations at a time: the quiet period is per customer.
            if not try_job_lock(session, INVITE_LOCK):
                session.rollback()
                return created
            due = find_due(session, survey, now, CHUNK)
            if not due:
                session.commit()
                break
            created += _invite(session, survey, due, now)
            session.commit()
    return created


# trigger name -> finder(session, survey, now, limit) -> [(link column, link id, customer id)], registered by the
# packages that own the trigger's data (feedback: "case_resolved"), so that surveys imports none of them.
_finders: dict[str, Callable] = {}


def register_trigger(name: str, finder: Callable) -> None:
    _finders[name] = finder


def _due_for_survey(session: Session, survey: Survey, now: datetime, limit: int) -> list[tuple[str, int, int]]:
    if survey.trigger == "purchase":
        return [
            ("purchase_id", purchase, customer) if printed is None else (REUSE, printed, customer)
            for purchase, customer, printed in _due_purchases(session, survey, now, limit)
        ]
    finder = _finders.get(survey.trigger)
    return finder(session, survey, now, limit) if finder else []


def create_due_invitations(session: Session, now: datetime) -> int:
    """Invite the customers whose purchase (or resolved case) is `delay_days` old, for every scored survey (NPS,
    CSAT, CES): which event a survey follows is its trigger, not its kind."""
    return _invite_due(session, SCORED_KEYS, _due_for_survey, now)


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
    oldest, newest = due_window(survey, now)
    same = aliased(Invitation)
    rows = session.execute(
        select(LifecycleChange.id, LifecycleChange.customer_id)
        .join(Customer, Customer.id == LifecycleChange.customer_id)
        .where(
            LifecycleChange.to_phase.in_(phases),
            LifecycleChange.cause.in_(CHURN_TRIGGER_CAUSES),
            LifecycleChange.recorded_at <= newest,
            LifecycleChange.recorded_at > oldest,
            # Noticed now but in effect long ago (a replayed history, an import): too late to ask why.
            LifecycleChange.changed_at > oldest,
            Customer.lifecycle_phase == LifecycleChange.to_phase,  # a purchase since then: no need to ask
            *reachable(survey, now, LifecycleChange.customer_id),
            ~exists().where(same.survey_id == survey.id, same.lifecycle_change_id == LifecycleChange.id),
            *audience_conditions(survey.audience),
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
    return _invite_due(session, (CHURN.key,), _due_churn_changes, now)


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


def months_before(now: datetime, months: int) -> datetime:
    """The same day and time `months` calendar months earlier (the month's last day when it is shorter)."""
    years, month0 = divmod(now.month - 1 - months, 12)
    year, month = now.year + years, month0 + 1
    return now.replace(year=year, month=month, day=min(now.day, calendar.monthrange(year, month)[1]))


PURGE_HOUR = 3  # UTC


def purge_old_comments(session: Session, now: datetime) -> dict[str, int] | None:
    """COMMENT_RETENTION_MONTHS: comments (and churn come-back texts) older than that are erased, as are the texts
    of finished mail that could quote them. Scores stay. Off (None) when the setting is 0.

    Once a day, in the ticks between 03:00 and 03:10 UTC: the sweep reads every old row, which a tick a minute
    need not repeat (a day's grace on a retention of months)."""
    months = current_app.config["COMMENT_RETENTION_MONTHS"]
    if not months or now.astimezone(UTC).hour != PURGE_HOUR or now.minute >= 10:
        return None
    cutoff = months_before(now, months)
    comments = session.execute(
        update(Response)
        .where(Response.created_at < cutoff, or_(Response.comment.is_not(None), Response.comeback.is_not(None)))
        .values(comment=None, comeback=None)
    ).rowcount
    forgotten = forget_old_texts(session, cutoff)
    session.commit()
    return {"comments": comments, **forgotten}


JOBS = (
    ("expire_invitations", expire_invitations),
    ("create_invitations", create_due_invitations),
    ("create_churn_invitations", create_churn_invitations),
    ("queue_reminders", queue_reminders),
    ("purge_old_comments", purge_old_comments),
)
