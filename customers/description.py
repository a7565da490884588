"""Staff keep the five-field description and the buying-centre contacts of a customer (audited)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from customers.models import BUYING_ROLES, CustomerContact, CustomerDescription, Purchase
from customers.values import YEAR
from kundenpuls import audit

DESCRIPTION_FIELDS = (
    "legal_form", "company_group", "industry", "business_units", "what_they_value", "needs", "credit_rating",
    "payment_terms", "pricing",
)  # fmt: skip
MAX_TEXT = 5000


def description_of(session: Session, customer_id: int) -> CustomerDescription | None:
    return session.get(CustomerDescription, customer_id)


def update_description(session: Session, customer_id: int, values: dict, actor_id: int, now: datetime) -> bool:
    """Save the fields given (blank: cleared); returns whether anything changed."""
    cleaned = {}
    for name in DESCRIPTION_FIELDS:
        text = (values.get(name) or "").strip()
        if len(text) > MAX_TEXT:
            raise ValueError(name)
        cleaned[name] = text or None
    description = session.get(CustomerDescription, customer_id)
    if description is None:
        description = CustomerDescription(customer_id=customer_id)
        session.add(description)
    before, after = audit.apply_changes(description, cleaned, DESCRIPTION_FIELDS)
    if not after:
        return False
    description.updated_at = now
    session.flush()
    audit.record(session, "customer_description", customer_id, "changed", actor_id, now, before, after)
    return True


def add_contact(session: Session, customer_id: int, values: dict, actor_id: int, now: datetime) -> CustomerContact:
    name = " ".join((values.get("name") or "").split())
    role = values.get("role")
    if not name or len(name) > 200 or role not in BUYING_ROLES:
        raise ValueError("contact")
    contact = CustomerContact(
        customer_id=customer_id,
        name=name,
        role=role,
        job_title=(values.get("job_title") or "").strip()[:200] or None,
        email=(values.get("email") or "").strip()[:254] or None,
        phone=(values.get("phone") or "").strip()[:50] or None,
        note=(values.get("note") or "").strip()[:MAX_TEXT] or None,
        created_at=now,
    )
    session.add(contact)
    session.flush()
    audit.record(
        session, "customer_description", customer_id, "contact_added", actor_id, now,
        after={"contact": name, "role": role},
    )  # fmt: skip
    return contact


def remove_contact(session: Session, contact: CustomerContact, actor_id: int, now: datetime) -> None:
    audit.record(
        session, "customer_description", contact.customer_id, "contact_removed", actor_id, now,
        before={"contact": contact.name, "role": contact.role},
    )  # fmt: skip
    session.delete(contact)
    session.flush()


def contacts_of(session: Session, customer_id: int) -> list[CustomerContact]:
    """Deciders first, then the other buying-centre roles in BUYING_ROLES order."""
    order = (case({role: n for n, role in enumerate(BUYING_ROLES)}, value=CustomerContact.role), CustomerContact.name)
    return list(
        session.scalars(select(CustomerContact).where(CustomerContact.customer_id == customer_id).order_by(*order))
    )


def revenue_by_offer(session: Session, customer_id: int, now: datetime) -> list[tuple[str | None, float, float | None]]:
    """Revenue and margin per product category in the last 12 months, largest first (the finance field)."""
    rows = session.execute(
        select(Purchase.category, func.sum(Purchase.amount), func.sum(Purchase.margin))
        .where(Purchase.customer_id == customer_id, Purchase.purchased_at > now - YEAR, Purchase.purchased_at <= now)
        .group_by(Purchase.category)
        .order_by(func.sum(Purchase.amount).desc())
    ).all()
    return [(category, float(revenue), None if margin is None else float(margin)) for category, revenue, margin in rows]
