"""The analytics part of a customer's data export and erasure (receivers of the customers' signals): the outlook
the purchase-behaviour models wrote about them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.orm import Session

from analytics.models import CustomerOutlook
from customers.models import Customer
from customers.privacy import row_dict


def on_customer_export(customer: Customer, session: Session, **_: object) -> dict:
    found = session.get(CustomerOutlook, customer.id)
    return {"purchase_outlook": row_dict(found, exclude=("customer_id",)) if found else None}


def on_customer_erasure(customer: Customer, session: Session, now: datetime, **_: object) -> dict[str, int]:
    """The outlook is a judgement about one person: it goes. The fits keep only parameters and counts."""
    removed = session.execute(delete(CustomerOutlook).where(CustomerOutlook.customer_id == customer.id)).rowcount
    return {"purchase_outlooks": removed}
