"""Operations that change customers and purchases. They flush; the caller commits."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from customers.bulk import CREATED, ERASED, apply_contact, store_purchases
from customers.history import replay_if_out_of_order
from customers.lifecycle import recompute_phases
from customers.models import Cancellation, Customer, Purchase
from customers.schemas import CancellationIn, CustomerIn, PurchaseIn
from customers.signals import customer_churned
from kundenpuls import audit


class CustomerErased(ValueError):
    """The external id names an erased customer's stub: nothing personal may be written to it again."""

    def __init__(self, external_id: str) -> None:
        super().__init__(f"the customer {external_id!r} was erased; no data can be added to it")
        self.external_id = external_id


def upsert_customer(session: Session, data: CustomerIn, now: datetime) -> tuple[Customer, bool]:
    """Find the customer by the shop's id and refresh the contact data the shop sent (never an erased one's)."""
    customer = session.scalars(select(Customer).where(Customer.external_id == data.external_id)).one_or_none()
    if customer is not None and customer.erased_at is not None:
        raise CustomerErased(data.external_id)
    created = customer is None
    if customer is None:
        customer = Customer(external_id=data.external_id, created_at=now, locale=data.locale or "de")
        try:
            with session.begin_nested():
                session.add(customer)
        except IntegrityError:  # created concurrently by another request
            customer = session.scalars(select(Customer).where(Customer.external_id == data.external_id)).one()
            created = False
    apply_contact(customer, data)
    return customer, created


def record_purchase(session: Session, data: PurchaseIn, now: datetime) -> tuple[Purchase, bool]:
    """Store a purchase once per order id and move the customer's phase; returns (purchase, created).

    A batch of one (customers.bulk), for callers that want the stored row (the tests' fixtures); the API calls
    store_purchases itself and answers from what it stored.
    """
    (outcome,) = store_purchases(session, [data], now)
    if outcome.status == ERASED:
        raise CustomerErased(data.customer.external_id)
    return session.get(Purchase, outcome.purchase_id), outcome.status == CREATED


def record_cancellation(
    session: Session, customer: Customer, data: CancellationIn, now: datetime
) -> tuple[Cancellation, bool]:
    """Mark the customer churned; returns (cancellation, created).

    Idempotent: while the customer is churned (no purchase since), a repeated cancellation returns the
    one on record and changes nothing, so a shop that retries or sends twice triggers one churn survey.
    """
    if customer.erased_at is not None:
        raise CustomerErased(customer.external_id)
    latest = session.scalars(
        select(Cancellation).where(Cancellation.customer_id == customer.id).order_by(Cancellation.cancelled_at.desc())
    ).first()
    if latest is not None and customer.lifecycle_phase == "churned":
        return latest, False
    cancellation = Cancellation(
        customer_id=customer.id, cancelled_at=data.cancelled_at, reason=data.reason, received_at=now
    )
    try:
        with session.begin_nested():
            session.add(cancellation)
    except IntegrityError:  # the same cancellation arrived concurrently
        existing = session.scalars(
            select(Cancellation).where(
                Cancellation.customer_id == customer.id, Cancellation.cancelled_at == data.cancelled_at
            )
        ).one()
        return existing, False
    if customer.cancelled_at is None or data.cancelled_at > customer.cancelled_at:
        customer.cancelled_at = data.cancelled_at
    session.flush()
    recompute_phases(session, now, "cancellation", [customer.id])
    replay_if_out_of_order(session, now, {customer.id: data.cancelled_at})
    if customer.lifecycle_phase == "churned":
        customer_churned.send(customer, session=session, now=now)
    return cancellation, True


def set_potential(
    session: Session, customer: Customer, value: Decimal | None, actor_id: int | None, now: datetime
) -> None:
    """A manager states the customer's potential (None: not known, the estimate applies again); audited."""
    before = customer.potential_value
    if before == value:
        return
    customer.potential_value = value
    if value is not None:
        customer.potential_estimate = None
    audit.record(
        session, "customer", customer.id, "potential", actor_id, now,
        {"potential": None if before is None else str(before)}, {"potential": None if value is None else str(value)},
    )  # fmt: skip
