"""Purchases in bulk: a shop's Black-Friday hour, or its first year of history, in a few statements per batch.

The batch API and the CSV import store purchases here, and so does the single purchase call wherever the
one-statement path of `one_purchase` does not apply (SQLite, a known order, an erased customer, a race). A batch
costs the same handful of statements whether it holds one purchase or a thousand: the known orders in one SELECT,
the customers in one SELECT, the new customers and the new purchases each in one INSERT ... ON CONFLICT DO NOTHING
(a shop that sends the same order twice at once gets one row and two "200 same order" answers, never an error),
the changed contact data in one executemany UPDATE, and one lifecycle recompute for every customer the batch
touched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from types import SimpleNamespace

from sqlalchemy import select
from sqlalchemy.orm import Session

from customers.history import replay_if_out_of_order
from customers.lifecycle import recompute_phases
from customers.models import Customer, Purchase
from customers.schemas import CustomerIn, PurchaseIn
from kundenpuls.dialect import insert_new_rows, one_of
from kundenpuls.problems import problem_body

MAX_BATCH = 1000  # items per API call (the CSV import stores its rows in batches of csv_import.COMMIT_EVERY)

CREATED, KNOWN, ERASED, INVALID = 201, 200, 409, 422


@dataclass
class Outcome:
    """What became of one purchase of a batch: `status` as the API reports it, the purchase's id when stored."""

    order_id: str | None
    status: int
    purchase_id: int | None = None
    customer: Contact | None = None  # of a purchase stored now: the customer as it stands after the batch
    problem: dict | None = None


def erased_problem(external_id: str) -> dict:
    return problem_body(
        ERASED,
        "Customer erased",
        f"The customer {external_id!r} was erased at their request; no data can be added to it.",
    )


def apply_contact(customer, data: CustomerIn) -> None:
    """Refresh the contact data the shop sent on a customer (a loaded row, or the values of one to insert): a new
    address clears the mark of an undeliverable old one; fields the shop left out stay as they are."""
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
    if data.potential is not None:
        customer.potential_value = data.potential


# A customer as this module hands it on: a loaded row, or the values of one just inserted (same attribute names).
Contact = Customer | SimpleNamespace

_NEW_CUSTOMER = ("email", "email_invalid_at", "email_invalid_reason", "name", "locale", "timezone", "potential_value")


def upsert_customers(session: Session, contacts: Sequence[CustomerIn], now: datetime) -> dict[str, Contact | None]:
    """The customers these contacts name, created where new, their contact data refreshed in the order given;
    external id -> the customer (a loaded row, or the values of one just inserted), None for an erased one (nothing
    may be written to it). New customers are not read back: the INSERT returns their ids."""
    wanted = list(dict.fromkeys(contact.external_id for contact in contacts))
    known = select(Customer).where(one_of(session, Customer.external_id, wanted))
    found: dict[str, Contact] = {c.external_id: c for c in session.scalars(known)}
    new: dict[str, SimpleNamespace] = {}
    for contact in contacts:
        if contact.external_id in found:
            continue
        values = new.get(contact.external_id)
        if values is None:
            values = new[contact.external_id] = SimpleNamespace(**{**dict.fromkeys(_NEW_CUSTOMER), "locale": "de"})
        apply_contact(values, contact)
    raced: list[str] = []
    if new:
        # In the order of the key: two batches that share new customers then wait for each other, never deadlock.
        rows = [{"external_id": key, "created_at": now, **vars(values)} for key, values in sorted(new.items())]
        ids = dict(insert_new_rows(session, Customer.__table__, rows, "external_id", ("external_id", "id")))
        for key, values in new.items():
            if key in ids:
                found[key] = SimpleNamespace(id=ids[key], external_id=key, erased_at=None, **vars(values))
            else:
                raced.append(key)
        if raced:  # created by a concurrent request meanwhile: refreshed below like any known customer
            found.update(
                (c.external_id, c)
                for c in session.scalars(select(Customer).where(one_of(session, Customer.external_id, raced)))
            )
    for contact in contacts:
        customer = found[contact.external_id]
        if isinstance(customer, Customer) and customer.erased_at is None:
            apply_contact(customer, contact)
    return {external_id: (None if c.erased_at is not None else c) for external_id, c in found.items()}


def store_purchases(session: Session, items: Sequence[PurchaseIn], now: datetime) -> list[Outcome]:
    """Store each purchase once per order id; one Outcome per item, in order. Flushes; the caller commits.

    An order id already stored, or repeated within the batch, is "200 same order" and changes nothing (as the
    single call: a shop that retries never creates a second purchase or invitation). Phases move once per batch,
    not once per purchase; histories that older purchases rewrite are replayed.
    """
    if not items:
        return []
    order_ids = list(dict.fromkeys(item.order_id for item in items))
    known = _stored(session, order_ids)
    first: dict[str, int] = {}
    for index, item in enumerate(items):
        if item.order_id not in known:
            first.setdefault(item.order_id, index)
    customers = upsert_customers(session, [items[index].customer for index in first.values()], now)
    session.flush()  # the contact changes of known customers, in one executemany UPDATE
    rows, outcomes, owner = [], {}, {}
    for order_id, index in first.items():
        item = items[index]
        customer = customers[item.customer.external_id]
        if customer is None:
            outcomes[index] = Outcome(order_id, ERASED, problem=erased_problem(item.customer.external_id))
            continue
        owner[order_id] = customer
        rows.append(
            {
                "order_id": order_id,
                "customer_id": customer.id,
                "amount": item.amount,
                "margin": item.margin,
                "currency": item.currency,
                "category": item.category,
                "purchased_at": item.purchased_at,
                "created_at": now,
            }
        )
    stored: dict[str, int] = {}
    if rows:
        rows.sort(key=lambda row: row["order_id"])  # the same lock order in every batch, as for the customers
        stored = dict(insert_new_rows(session, Purchase.__table__, rows, "order_id", ("order_id", "id")))
        lost = [row["order_id"] for row in rows if row["order_id"] not in stored]
        if lost:  # the same orders arrived concurrently and are stored: "same order" here too
            known.update(_stored(session, lost))
    touched: dict[int, datetime] = {}
    for row in rows:
        if row["order_id"] in stored:
            earlier = touched.get(row["customer_id"])
            touched[row["customer_id"]] = min(earlier, row["purchased_at"]) if earlier else row["purchased_at"]
            order_id = row["order_id"]
            outcomes[first[order_id]] = Outcome(order_id, CREATED, stored[order_id], owner[order_id])
    if touched:
        recompute_phases(session, now, "purchase", sorted(touched))
        replay_if_out_of_order(session, now, touched)
    return [outcomes.get(index) or _known(item, known, stored) for index, item in enumerate(items)]


def _stored(session: Session, order_ids: list[str]) -> dict[str, int]:
    query = select(Purchase.order_id, Purchase.id).where(one_of(session, Purchase.order_id, order_ids))
    return dict(session.execute(query).all())


def _known(item: PurchaseIn, known: dict[str, int], stored: dict[str, int]) -> Outcome:
    return Outcome(item.order_id, KNOWN, known.get(item.order_id) or stored.get(item.order_id))
