"""The surveys' part of a customer's data export and erasure (receivers of the customers' signals)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session, selectinload

from customers.models import Customer
from customers.privacy import plain, row_dict
from messaging.models import DevMail, OutboxMessage
from surveys.models import ERASED_STATUS, OPEN_STATUSES, Invitation, Response, Survey, new_token

ERASED = "[erased]"


def on_customer_export(customer: Customer, session: Session, **_: object) -> dict:
    invitations = session.execute(
        select(Invitation, Survey.key)
        .join(Survey, Survey.id == Invitation.survey_id)
        .where(Invitation.customer_id == customer.id)
        .order_by(Invitation.created_at, Invitation.id)
    ).all()
    responses = session.scalars(
        select(Response)
        .where(Response.customer_id == customer.id)
        .options(selectinload(Response.reasons))
        .order_by(Response.created_at, Response.id)
    ).all()
    mails = session.scalars(
        select(OutboxMessage).where(OutboxMessage.customer_id == customer.id).order_by(OutboxMessage.id)
    ).all()
    return {
        # The token is left out: it is a key to the survey page, not data about the customer.
        "invitations": [
            {**row_dict(invitation, exclude=("token", "customer_id")), "survey": survey_key}
            for invitation, survey_key in invitations
        ],
        "responses": [
            {
                **row_dict(response, exclude=("customer_id",)),
                "reasons": [{"reason": r.reason.key, "main": r.main} for r in response.reasons],
            }
            for response in responses
        ],
        "mails": [
            {
                "kind": mail.kind,
                "recipient": mail.recipient,
                "subject": mail.subject,
                "status": mail.status,
                "created_at": plain(mail.created_at),
                "sent_at": plain(mail.sent_at),
            }
            for mail in mails
        ],
    }


def on_customer_erasure(customer: Customer, session: Session, now: datetime, **_: object) -> dict[str, int]:
    """Comments go, scores stay; survey links stop working; mail not sent is cancelled and every stored copy of a
    message to or about the customer loses its text."""
    responses = session.execute(
        update(Response)
        .where(Response.customer_id == customer.id, or_(Response.comment.is_not(None), Response.comeback.is_not(None)))
        .values(comment=None, comeback=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    invitations = session.execute(
        update(Invitation)
        .where(Invitation.customer_id == customer.id, Invitation.status.in_(OPEN_STATUSES))
        .values(status=ERASED_STATUS)
        .execution_options(synchronize_session=False)
    ).rowcount
    # Every link the customer was sent dies: survey (/s/) and unsubscribe (/u/) links use the invitation's token,
    # and a fresh secret nobody knows replaces it (`erased` is no open status either, so nothing can answer).
    for invitation_id in session.scalars(select(Invitation.id).where(Invitation.customer_id == customer.id)):
        session.execute(update(Invitation).where(Invitation.id == invitation_id).values(token=new_token()))
    own = OutboxMessage.customer_id == customer.id
    message_ids = select(OutboxMessage.message_id).where(own)
    dev_mail = [DevMail.message_id.in_(message_ids)]
    if customer.email:
        dev_mail.append(DevMail.recipient == customer.email)
    mailbox = session.execute(delete(DevMail).where(or_(*dev_mail)).execution_options(synchronize_session=False))
    session.execute(
        update(OutboxMessage)
        .where(own, OutboxMessage.status.in_(("pending", "failed")))
        .values(status="cancelled")
        .execution_options(synchronize_session=False)
    )
    mails = session.execute(
        update(OutboxMessage)
        .where(own)
        .values(recipient=ERASED, subject=ERASED, raw="", last_error="customer erased")
        .execution_options(synchronize_session=False)
    ).rowcount
    return {"comments": responses, "invitations_cancelled": invitations, "mails": mails, "mailbox": mailbox.rowcount}
