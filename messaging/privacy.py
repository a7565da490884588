"""Messaging's part of a customer's data export and erasure (receivers of the customers' signals): every mail to or
about the customer."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from customers.models import Customer
from customers.privacy import plain
from messaging.models import DevMail, OutboxMessage

ERASED = "[erased]"


def on_customer_export(customer: Customer, session: Session, **_: object) -> dict:
    mails = session.scalars(
        select(OutboxMessage).where(OutboxMessage.customer_id == customer.id).order_by(OutboxMessage.id)
    ).all()
    return {
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
    """Mail not sent is cancelled, and every stored copy of a message to or about the customer loses its text."""
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
    return {"mails": mails, "mailbox": mailbox.rowcount}


def forget_old_texts(session: Session, cutoff: datetime) -> dict[str, int]:
    """The retention period's part in messaging: texts of finished mail created before ``cutoff`` (they may quote a
    comment that is now erased) are blanked, and the dev mailbox forgets what it received before then. Headers,
    status and times stay, so the outbox still shows what was sent when."""
    texts = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.created_at < cutoff,
            OutboxMessage.status.in_(("sent", "failed", "cancelled")),
            OutboxMessage.raw != "",
        )
        .values(raw="")
    ).rowcount
    mailbox = session.execute(delete(DevMail).where(DevMail.received_at < cutoff)).rowcount
    return {"mail_texts": texts, "mailbox": mailbox}
