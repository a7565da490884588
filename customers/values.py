"""Customer value in the database: revenue and margin of the last 12 months, and the ABC class.

ABC by cumulative share: customers sorted by revenue, the ones that make the first 80% of revenue are A,
the next 15% B, the rest C (thresholds are settings). One UPDATE with a window function, no Python loop.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session

from customers.models import Customer, Purchase

YEAR = timedelta(days=365)


def revenue_12m(session: Session, customer_id: int, now: datetime) -> Decimal:
    """One customer's revenue in the 12 months before `now`, straight from the purchases."""
    total = session.scalar(
        select(func.coalesce(func.sum(Purchase.amount), 0)).where(
            Purchase.customer_id == customer_id, Purchase.purchased_at > now - YEAR, Purchase.purchased_at <= now
        )
    )
    return Decimal(total or 0)


def refresh_values(session: Session, now: datetime, thresholds: tuple[float, float] = (0.80, 0.15)) -> int:
    """Recompute revenue, margin and ABC class of every customer as of `now`; returns customers with revenue."""
    a_share, b_share = thresholds
    per_customer = (
        select(
            Purchase.customer_id.label("customer_id"),
            func.sum(Purchase.amount).label("revenue"),
            func.sum(func.coalesce(Purchase.margin, 0)).label("margin"),
        )
        .where(Purchase.purchased_at > now - YEAR, Purchase.purchased_at <= now)
        .group_by(Purchase.customer_id)
        .subquery()
    )
    ranked = select(
        per_customer.c.customer_id,
        per_customer.c.revenue,
        per_customer.c.margin,
        (
            func.sum(per_customer.c.revenue).over(
                order_by=(per_customer.c.revenue.desc(), per_customer.c.customer_id),
                rows=(None, 0),
            )
            - per_customer.c.revenue
        ).label("before"),
        func.sum(per_customer.c.revenue).over().label("total"),
    ).subquery()
    session.execute(
        update(Customer).values(revenue_12m=0, margin_12m=0, value_class="C", values_at=now),
        execution_options={"synchronize_session": False},
    )
    result = session.execute(
        update(Customer)
        .where(Customer.id == ranked.c.customer_id)
        .values(
            revenue_12m=ranked.c.revenue,
            margin_12m=ranked.c.margin,
            value_class=case(
                (ranked.c.total <= 0, "C"),
                (ranked.c.before < ranked.c.total * a_share, "A"),
                (ranked.c.before < ranked.c.total * (a_share + b_share), "B"),
                else_="C",
            ),
        ),
        execution_options={"synchronize_session": False},
    )
    session.flush()
    return result.rowcount


def refresh_values_if_stale(session: Session, now: datetime, max_age: timedelta = timedelta(hours=6)) -> int | None:
    """The scheduler's job: a full refresh at most every `max_age` (it reads a year of purchases)."""
    last = session.scalar(select(func.max(Customer.values_at)))
    if last is not None and now - last < max_age:
        return None
    refreshed = refresh_values(session, now)
    session.commit()
    return refreshed
