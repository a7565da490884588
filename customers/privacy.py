"""Data rights: export everything about a customer (GDPR Art. 15 and 20) and erase a customer (Art. 17).

Each package answers for its own tables through the `customer_export` and `customer_erasure` signals, so this
module needs to know none of them. Erasure keeps the scores, purchases and dates as anonymous rows (the customer
row stays as a stub without name, email or external id), so every report gives the same numbers afterwards.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import String, cast, delete, inspect, literal, select, update
from sqlalchemy.orm import Session

from customers.models import Cancellation, Customer, CustomerContact, CustomerDescription, LifecycleChange, Purchase
from customers.signals import customer_erasure, customer_export
from kundenpuls import audit
from kundenpuls.audit import AuditEvent

FORMAT_VERSION = 1


def plain(value):
    """A column value as JSON: times as ISO 8601 UTC, money as a decimal string."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def row_dict(obj, exclude: tuple[str, ...] = ()) -> dict:
    """Every mapped column of an ORM object, as plain JSON values."""
    return {
        column.key: plain(getattr(obj, column.key))
        for column in inspect(obj).mapper.column_attrs
        if column.key not in exclude
    }


def export_customer(session: Session, customer: Customer, now: datetime) -> dict:
    """Everything stored about the customer, as one JSON document."""
    description = session.get(CustomerDescription, customer.id)
    document = {
        "format": FORMAT_VERSION,
        "exported_at": plain(now),
        "customer": row_dict(customer),
        "purchases": [
            row_dict(p, exclude=("customer_id",))
            for p in session.scalars(select(Purchase).where(Purchase.customer_id == customer.id).order_by(Purchase.id))
        ],
        "cancellations": [
            row_dict(c, exclude=("customer_id",))
            for c in session.scalars(select(Cancellation).where(Cancellation.customer_id == customer.id))
        ],
        "lifecycle_history": [
            row_dict(c, exclude=("customer_id",))
            for c in session.scalars(
                select(LifecycleChange)
                .where(LifecycleChange.customer_id == customer.id)
                .order_by(LifecycleChange.changed_at, LifecycleChange.id)
            )
        ],
        "description": row_dict(description, exclude=("customer_id",)) if description else None,
        "contacts": [
            row_dict(c, exclude=("customer_id",))
            for c in session.scalars(select(CustomerContact).where(CustomerContact.customer_id == customer.id))
        ],
    }
    for _receiver, sections in customer_export.send(customer, session=session):
        document.update(sections or {})
    return document


def erase_customer(
    session: Session, customer: Customer, actor_id: int | None, now: datetime, via: str | None = None
) -> dict[str, int]:
    """Remove the customer's personal data and free text everywhere; record the erasure in the audit trail.

    Pending mail and webhooks about the customer are cancelled; scores stay, so statistics do not change.
    Returns how many rows each part changed (the audit entry holds these counts, nothing personal).
    """
    if customer.erased_at is not None:
        raise ValueError("customer already erased")
    counts: dict[str, int] = {}
    for _receiver, changed in customer_erasure.send(customer, session=session, now=now):
        counts.update(changed or {})
    counts["purchases"] = session.execute(
        update(Purchase)
        .where(Purchase.customer_id == customer.id)
        .values(order_id=literal("erased-") + cast(Purchase.id, String))
        .execution_options(synchronize_session=False)
    ).rowcount
    counts["cancellations"] = session.execute(
        update(Cancellation).where(Cancellation.customer_id == customer.id).values(reason=None)
    ).rowcount
    counts["contacts"] = session.execute(
        delete(CustomerContact).where(CustomerContact.customer_id == customer.id)
    ).rowcount
    counts["description"] = session.execute(
        delete(CustomerDescription).where(CustomerDescription.customer_id == customer.id)
    ).rowcount
    counts["customer_history"] = session.execute(
        update(AuditEvent)
        .where(AuditEvent.entity.in_(("customer", "customer_description")), AuditEvent.entity_id == customer.id)
        .values(before=None, after=None, note=None)
    ).rowcount
    customer.external_id = f"erased-{customer.id}"
    customer.email = None
    customer.name = None
    customer.timezone = None
    customer.email_invalid_reason = None
    customer.unsubscribed_at = customer.unsubscribed_at or now
    customer.erased_at = now
    session.flush()
    session.expire_all()
    audit.record(session, "customer", customer.id, "erased", actor_id, now, after={"rows": counts}, note=via)
    return counts
