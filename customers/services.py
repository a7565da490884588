"""Operations that change customers and purchases. They flush; the caller commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from customers.models import Customer, Purchase
from customers.schemas import CustomerIn, PurchaseIn


def upsert_customer(session: Session, data: CustomerIn, now: datetime) -> tuple[Customer, bool]:
    """Find the customer by the shop's id and refresh the contact data the shop sent."""
    customer = session.scalars(select(Customer).where(Customer.external_id == data.external_id)).one_or_none()
    created = customer is None
    if customer is None:
        customer = Customer(external_id=data.external_id, created_at=now, locale=data.locale or "de")
        try:
            with session.begin_nested():
                session.add(customer)
        except IntegrityError:  # created concurrently by another request
            customer = session.scalars(select(Customer).where(Customer.external_id == data.external_id)).one()
            created = False
    if data.email and data.email.lower() != (customer.email or "").lower():
        customer.email = data.email
        customer.email_invalid_at = None
        customer.email_invalid_reason = None
    if data.name is not None:
        customer.name = data.name
    if data.locale is not None:
        customer.locale = data.locale
    if data.timezone is not None:
        customer.timezone = data.timezone
    return customer, created


def record_purchase(session: Session, data: PurchaseIn, now: datetime) -> tuple[Purchase, bool]:
    """Store a purchase once per order id; returns (purchase, created)."""
    existing = session.scalars(select(Purchase).where(Purchase.order_id == data.order_id)).one_or_none()
    if existing is not None:
        return existing, False
    customer, _ = upsert_customer(session, data.customer, now)
    purchase = Purchase(
        order_id=data.order_id,
        customer_id=customer.id,
        amount=data.amount,
        margin=data.margin,
        currency=data.currency,
        category=data.category,
        purchased_at=data.purchased_at,
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(purchase)
    except IntegrityError:  # the same order arrived concurrently
        existing = session.scalars(select(Purchase).where(Purchase.order_id == data.order_id)).one()
        return existing, False
    return purchase, True
