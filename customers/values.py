"""Customer value in the database: revenue and margin of the last 12 months, and the ABC class.

ABC by cumulative share: customers sorted by revenue, the ones that make the first 80% of revenue are A,
the next 15% B, the rest C (thresholds are settings). One UPDATE with a window function, no Python loop.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import Numeric, and_, case, cast, func, literal, select, update
from sqlalchemy.orm import Session

from customers.models import Customer, Purchase, ValueSettings
from kundenpuls import audit
from kundenpuls.locks import VALUES_LOCK, try_job_lock

YEAR = timedelta(days=365)


def revenue_12m(session: Session, customer_id: int, now: datetime) -> Decimal:
    """One customer's revenue in the 12 months before `now`, straight from the purchases."""
    total = session.scalar(
        select(func.coalesce(func.sum(Purchase.amount), 0)).where(
            Purchase.customer_id == customer_id, Purchase.purchased_at > now - YEAR, Purchase.purchased_at <= now
        )
    )
    return Decimal(total or 0)


VALUE_FIELDS = (
    "a_share", "b_share", "retention_rate", "discount_rate", "portfolio_value_min", "portfolio_potential_min",
)  # fmt: skip


def current_value_settings(session: Session) -> ValueSettings:
    """The one row of value settings (created with the defaults if a database lacks it)."""
    settings = session.get(ValueSettings, 1)
    if settings is None:
        settings = ValueSettings(
            id=1,
            a_share=80,
            b_share=15,
            retention_rate=Decimal("0.800"),
            discount_rate=Decimal("0.100"),
            portfolio_value_min=Decimal("1000"),
            portfolio_potential_min=Decimal("2000"),
        )
        session.add(settings)
        session.flush()
    return settings


def clv(margin_12m: Decimal | None, retention_rate: Decimal, discount_rate: Decimal) -> Decimal | None:
    """The simple customer lifetime value: this year's margin, repeated with probability r each year and
    discounted at d, summed: m x r / (1 + d - r). None without a margin."""
    if margin_12m is None:
        return None
    return (Decimal(margin_12m) * retention_rate / (1 + discount_rate - retention_rate)).quantize(Decimal("0.01"))


def update_value_settings(session: Session, values: dict, actor_id: int | None, now: datetime) -> int | None:
    """Change the thresholds or rates (audited); new ABC thresholds reclassify everyone at once.

    Returns the customers refreshed, 0 when only the CLV rates changed, None when nothing changed."""
    settings = current_value_settings(session)
    before, after = audit.apply_changes(settings, values, VALUE_FIELDS)
    if not after:
        return None
    session.flush()
    audit.record(
        session, "value_settings", settings.id, "changed", actor_id, now,
        {k: str(v) for k, v in before.items()}, {k: str(v) for k, v in after.items()},
    )  # fmt: skip
    if {"a_share", "b_share"} & set(before):
        return refresh_values(session, now)
    return 0


def refresh_values(session: Session, now: datetime, thresholds: tuple[int, int] | None = None) -> int:
    """Recompute revenue, margin and ABC class of every customer as of `now`; returns customers with revenue.

    The thresholds (percent of revenue for A and for B) come from the value settings unless given. They are
    compared as whole percents (revenue x 100 < total x percent): 0.80 + 0.15 in floating point is just over
    0.95, which put the customer at exactly 95% into B.
    """
    if thresholds is None:
        settings = current_value_settings(session)
        thresholds = (settings.a_share, settings.b_share)
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
                (ranked.c.before * 100 < ranked.c.total * a_share, "A"),
                (ranked.c.before * 100 < ranked.c.total * (a_share + b_share), "B"),
                else_="C",
            ),
        ),
        execution_options={"synchronize_session": False},
    )
    estimate_potentials(session)
    session.flush()
    return result.rowcount


def potential_ratios(session: Session) -> dict[str | None, Decimal]:
    """Potential per euro of revenue among customers whose potential is known, per value class and overall
    (key None): similar customers by value, counted in SQL."""
    known = and_(Customer.potential_value.is_not(None), Customer.revenue_12m > 0)
    ratio = func.avg(Customer.potential_value / Customer.revenue_12m)
    per_class = session.execute(select(Customer.value_class, ratio).where(known).group_by(Customer.value_class)).all()
    ratios = {value_class: Decimal(value) for value_class, value in per_class if value is not None}
    overall = session.scalar(select(ratio).where(known))
    if overall is not None:
        ratios[None] = Decimal(overall)
    return ratios


def estimate_potentials(session: Session) -> None:
    """Customers without a known potential get revenue x their class's ratio (the overall one when their class
    has no known potentials); without revenue or without any known potential there is no estimate."""
    # Floats as bind values: SQLite has no decimal type, and the estimate is rounded to cents anyway.
    ratios = {key: float(value) for key, value in potential_ratios(session).items()}
    fallback = ratios.get(None)
    by_class = [(Customer.value_class == value_class, ratio) for value_class, ratio in ratios.items() if value_class]
    ratio = case(*by_class, else_=fallback) if by_class else literal(fallback)
    estimate = case(
        (
            and_(Customer.potential_value.is_(None), Customer.revenue_12m > 0),
            func.round(cast(Customer.revenue_12m * ratio, Numeric(14, 4)), 2),
        ),
        else_=None,
    )
    session.execute(
        update(Customer).values(potential_estimate=estimate if ratios else None),
        execution_options={"synchronize_session": False},
    )


def refresh_values_if_stale(session: Session, now: datetime, max_age: timedelta = timedelta(hours=6)) -> int | None:
    """The scheduler's job: a full refresh at most every `max_age` (it reads a year of purchases), by one
    scheduler at a time."""
    if not try_job_lock(session, VALUES_LOCK):
        session.rollback()
        return None
    last = session.scalar(select(func.max(Customer.values_at)))
    if last is not None and now - last < max_age:
        session.commit()
        return None
    refreshed = refresh_values(session, now)
    session.commit()
    return refreshed


def class_summary(session: Session) -> list[tuple[str, int, Decimal]]:
    """Customers and revenue (last 12 months) per value class, A first."""
    rows = session.execute(
        select(Customer.value_class, func.count(), func.coalesce(func.sum(Customer.revenue_12m), 0))
        .where(Customer.value_class.is_not(None))
        .group_by(Customer.value_class)
        .order_by(Customer.value_class)
    ).all()
    return [(value_class, int(count), Decimal(revenue)) for value_class, count, revenue in rows]
