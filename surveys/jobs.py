"""Scheduled survey work, as plain functions of `now`. Each is idempotent and commits itself."""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import and_, exists, func, insert, or_, select, update
from sqlalchemy.orm import Session, aliased, contains_eager

from customers.models import Customer, LifecycleChange, Purchase
from kundenpuls.dialect import insert_new_rows, one_of
from kundenpuls.locks import INVITE_LOCK, try_job_lock
from messaging.models import OutboxMessage
from messaging.privacy import forget_old_texts
from surveys.audience import conditions as audience_conditions
from surveys.audience import due_window, mailable, quiet, reachable
from surveys.channels import LINK
from surveys.kinds import CHURN, SCORED_KEYS
from surveys.mail import Recipient, SurveyMails, queue_survey_mail
from surveys.models import Invitation, Response, Survey, new_token

# Invitations (and mails) per transaction: 2,000 halve the time of a 100,000 campaign against 500 (bench/dispatch:
# fewer due-queries and round trips) and hold about 25 MB of finished mail at a time.
CHUNK = 2000


def _due_purchases(
    session: Session, survey: Survey, now: datetime, limit: int, after: int
) -> list[tuple[int, int, int | None]]:
    """Latest eligible purchase per customer: past the delay, not history, customer mailable and quiet; with the
    id of its printed link's invitation when one was handed out and never mailed (the mail then delivers it).
    Customers in id order after `after`, and only as far as `limit` due purchases reach: a chunk of a campaign
    checks its own customers, not all those still ahead (ranking every due purchase again took 0.5 s a chunk with
    100,000 customers, 0.13 s with the rest of them)."""
    oldest, newest = due_window(survey, now)
    while True:
        in_window = (Purchase.customer_id > after, Purchase.purchased_at <= newest, Purchase.purchased_at > oldest)
        upto = session.scalar(
            select(Purchase.customer_id).where(*in_window).order_by(Purchase.customer_id).offset(limit - 1).limit(1)
        )
        within = in_window if upto is None else (*in_window, Purchase.customer_id <= upto)
        rows = _eligible_purchases(session, survey, now, within, limit)
        if rows or upto is None:
            return rows
        after = upto  # none of these customers is due: on to the next ones


def _eligible_purchases(session: Session, survey: Survey, now: datetime, within: tuple, limit: int) -> list:
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
            *within,
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
        .order_by(ranked.c.customer_id)
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


def _recipients(session: Session, survey: Survey, due: list[tuple[str, int, int]], now: datetime) -> list[Recipient]:
    """Create the invitations for (link column, link id, customer id) rows in one INSERT, and make a REUSE row's
    invitation (a printed link) valid for the survey's expiry from now on; who each mail goes to."""
    customers = {
        row.id: row
        for row in session.execute(
            select(Customer.id, Customer.email, Customer.name, Customer.locale, Customer.timezone).where(
                one_of(session, Customer.id, sorted({customer_id for *_, customer_id in due}))
            )
        )
    }
    expires = now + timedelta(days=survey.expiry_days)
    reused = [link_id for link, link_id, _ in due if link == REUSE]
    created: list[tuple[int, str, str, int]] = []
    if reused:
        session.execute(
            update(Invitation)
            .where(Invitation.id.in_(reused), Invitation.expires_at < expires)
            .values(expires_at=expires)
        )
        created += session.execute(
            select(Invitation.id, Invitation.token, Invitation.locale, Invitation.customer_id).where(
                Invitation.id.in_(reused)
            )
        ).all()
    for link in sorted({link for link, *_ in due} - {REUSE}):  # one link column per trigger, so one INSERT
        rows = [
            {
                "token": new_token(survey.kind),
                "survey_id": survey.id,
                "customer_id": customer_id,
                link: link_id,
                "locale": customers[customer_id].locale or "de",
                "status": "pending",
                "created_at": now,
                "expires_at": expires,
            }
            for row_link, link_id, customer_id in due
            if row_link == link
        ]
        ids = dict(insert_new_rows(session, Invitation.__table__, rows, "token", ("token", "id")))
        created += [(ids[row["token"]], row["token"], row["locale"], row["customer_id"]) for row in rows]
    return [
        Recipient(invitation_id, token, locale, customer_id, contact.email, contact.name, contact.timezone)
        for invitation_id, token, locale, customer_id in created
        for contact in (customers[customer_id],)
    ]


def _invite(
    session: Session, survey: Survey, due: list[tuple[str, int, int]], now: datetime, mails: SurveyMails
) -> int:
    """Invitations and their mails for a chunk of due rows, set-based: one INSERT each, in the same transaction."""
    recipients = _recipients(session, survey, due, now)
    rows = [mails.outbox_row(survey, to, "invitation", 0, now) for to in recipients]
    session.execute(insert(OutboxMessage.__table__), rows)  # no RETURNING: psycopg pipelines the rows
    return len(recipients)


def _invite_due(session: Session, kinds: tuple[str, ...], find_due, now: datetime) -> int:
    """For each active survey of these kinds: invite in chunks, committing each, under the creation lock. A finder
    is told the highest customer id of the run's chunks so far (`after`) and may skip the customers up to it."""
    created, mails = 0, SurveyMails()
    surveys = select(Survey).where(Survey.active.is_(True), Survey.kind.in_(kinds)).order_by(Survey.id)
    for survey in session.scalars(surveys).all():
        after = 0
        while True:
            # One scheduler creates invitations at a time: the quiet period is per customer.
            if not try_job_lock(session, INVITE_LOCK):
                session.rollback()
                return created
            due = find_due(session, survey, now, CHUNK, after)
            if not due:
                session.commit()
                break
            after = max(after, *(customer_id for *_, customer_id in due))
            created += _invite(session, survey, due, now, mails)
            session.commit()
    return created


# trigger name -> finder(session, survey, now, limit) -> [(link column, link id, customer id)], registered by the
# packages that own the trigger's data (feedback: "case_resolved"), so that surveys imports none of them.
_finders: dict[str, Callable] = {}


def register_trigger(name: str, finder: Callable) -> None:
    _finders[name] = finder


def _due_for_survey(
    session: Session, survey: Survey, now: datetime, limit: int, after: int
) -> list[tuple[str, int, int]]:
    if survey.trigger == "purchase":
        return [
            ("purchase_id", purchase, customer) if printed is None else (REUSE, printed, customer)
            for purchase, customer, printed in _due_purchases(session, survey, now, limit, after)
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


def _due_churn_changes(
    session: Session, survey: Survey, now: datetime, limit: int, _after: int
) -> list[tuple[str, int, int]]:
    """Fresh cancellations (and, if the survey says so, customers who just turned inactive) still in that phase;
    newest first, all customers each time (a day's cancellations are few)."""
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
    queued, mails = 0, SurveyMails()
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
                .options(contains_eager(Invitation.customer))
                .limit(CHUNK)
                .with_for_update(skip_locked=True, of=Invitation)
            ).all()
            if not batch:
                session.commit()
                break
            for invitation in batch:
                invitation.reminders_queued += 1
                queue_survey_mail(session, invitation, "reminder", invitation.reminders_queued, now, mails)
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
