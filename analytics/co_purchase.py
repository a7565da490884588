"""What else a segment buys (issue 24): categories bought together and the category customers move on to.

- **Bought together**: over the segment's customers with a categorised purchase in the range, for each pair of
  categories A, B: support = customers who bought both / customers; confidence(A -> B) = customers who bought both /
  customers who bought A; lift = confidence(A -> B) / share who bought B (1: independent; above 1: bought together
  more often than chance). Pairs under the minimum support are left out. The database counts customers per basket
  (their set of categories); the pairs are counted over the baskets.
- **Moves on to**: for each customer, the category of the first purchase in the range and the first later purchase
  in another category: per first category, the share of its customers who moved to each next category and the
  median days it took. The days are counted in SQL per (first, next, days), the median (the lower middle value)
  taken from those counts; days are calendar days, UTC.
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from analytics.queries import day_bounds, segment_filters
from customers.models import Customer, Purchase
from kundenpuls.dialect import day_number, plus_days, text_list

MIN_SUPPORT = 0.01
SEPARATOR = "\x1f"  # the unit separator: no category name holds it


@dataclass(frozen=True)
class Pair:
    first: str
    second: str
    both: int  # customers who bought both
    support: float
    confidence: float  # first -> second
    confidence_back: float  # second -> first
    lift: float


@dataclass(frozen=True)
class Move:
    first: str
    next: str
    customers: int
    share: float  # of the customers whose first category was `first`
    median_days: float


def _bought(start: date, end: date, value_class: str | None, phase: str | None):
    """Distinct (customer, category) of categorised purchases in range, for the segment, as a subquery."""
    since, until = day_bounds(start, end)
    statement = (
        select(Purchase.customer_id, Purchase.category)
        .where(Purchase.category.is_not(None), Purchase.purchased_at >= since, Purchase.purchased_at < until)
        .distinct()
    )
    return segment_filters(statement, Purchase.customer_id, value_class, phase).subquery("bought")


def bought_together(
    session: Session, start: date, end: date, value_class: str | None = None, phase: str | None = None,
    min_support: float = MIN_SUPPORT,
) -> tuple[int, list[Pair]]:  # fmt: skip
    """(customers, pairs by lift) for the segment.

    The database returns each distinct basket (the set of categories a customer bought) with its number of
    customers: a shop's customers share a few thousand baskets, so the pairs are counted over those here instead of
    joining a million customers' categories with themselves (bench/basket.py: 23 s for 5,000,000 purchases that
    way)."""
    bought = _bought(start, end, value_class, phase)
    per_customer = (
        select(text_list(session, bought.c.category, SEPARATOR).label("basket"))
        .group_by(bought.c.customer_id)
        .subquery("baskets")
    )
    baskets: Counter = Counter()
    for basket, n in session.execute(select(per_customer.c.basket, func.count()).group_by(per_customer.c.basket)):
        baskets[frozenset(basket.split(SEPARATOR))] += n
    customers = sum(baskets.values())
    if not customers:
        return 0, []
    single: Counter = Counter()
    together: Counter = Counter()
    for categories, n in baskets.items():
        for category in categories:
            single[category] += n
        for pair in itertools.combinations(sorted(categories), 2):
            together[pair] += n
    found = [
        Pair(first, second, both, both / customers, both / single[first], both / single[second],
             both * customers / (single[first] * single[second]))
        for (first, second), both in together.items()
        if both >= min_support * customers
    ]  # fmt: skip
    return customers, sorted(found, key=lambda p: (-p.lift, -p.both, p.first, p.second))


def moves(session: Session, start: date, end: date, value_class: str | None = None, phase: str | None = None) -> list:
    """Per first category, where its customers went next (shares and median days), most frequent first.

    Two window passes over the segment's purchases, no self-join: each purchase learns its customer's first
    category and time, then the first purchase in another category is the first row of those that differ."""
    since, until = day_bounds(start, end)
    in_order = (Purchase.purchased_at, Purchase.id)
    first_of = {"partition_by": Purchase.customer_id, "order_by": in_order}
    purchases = select(
        Purchase.customer_id,
        Purchase.category,
        Purchase.purchased_at,
        Purchase.id,
        func.first_value(Purchase.category).over(**first_of).label("first"),
        func.first_value(Purchase.purchased_at).over(**first_of).label("first_at"),
    ).where(Purchase.category.is_not(None), Purchase.purchased_at >= since, Purchase.purchased_at < until)
    purchases = segment_filters(purchases, Purchase.customer_id, value_class, phase).subquery("purchases")
    other = (
        select(
            purchases.c.first,
            purchases.c.category,
            (day_number(session, purchases.c.purchased_at) - day_number(session, purchases.c.first_at)).label("days"),
            func.row_number()
            .over(partition_by=purchases.c.customer_id, order_by=(purchases.c.purchased_at, purchases.c.id))
            .label("rank"),
        )
        .where(purchases.c.category != purchases.c.first)
        .subquery("other")
    )
    rows = session.execute(
        select(other.c.first, other.c.category, other.c.days, func.count())
        .where(other.c.rank == 1)
        .group_by(other.c.first, other.c.category, other.c.days)
    ).all()
    starters = dict(
        session.execute(
            select(purchases.c.first, func.count(func.distinct(purchases.c.customer_id))).group_by(purchases.c.first)
        ).all()
    )
    by_pair: dict[tuple[str, str], list[tuple[float, int]]] = {}
    for first_category, next_category, day, count in rows:
        by_pair.setdefault((first_category, next_category), []).append((float(day), int(count)))
    found = []
    for (first_category, next_category), counts in by_pair.items():
        total = sum(count for _, count in counts)
        found.append(Move(first_category, next_category, total, total / starters[first_category], _median(counts)))
    return sorted(found, key=lambda m: (-m.customers, m.first, m.next))


def _median(counts: list[tuple[float, int]]) -> float:
    """The median of values given with their counts (the lower middle value for an even total)."""
    ordered = sorted(counts)
    half, seen = (sum(count for _, count in ordered) - 1) // 2, 0
    for value, count in ordered:
        seen += count
        if seen > half:
            return value
    return ordered[-1][0]


def known_categories(session: Session, limit: int = 1000) -> list[str]:
    """The categories purchases carry, sorted (a rule or a report offers them to choose from)."""
    statement = select(Purchase.category).where(Purchase.category.is_not(None)).distinct()
    return sorted(session.scalars(statement.order_by(Purchase.category).limit(limit)))


def follows(
    session: Session, now: datetime, firsts: list[str], then: str, days: int
) -> dict[tuple[str, str] | None, tuple[int, int]]:
    """How often category `then` follows the first purchase in any of `firsts` within `days` days, per segment.

    Counts customers whose first purchase in `firsts` lies at least `days` days back (so their whole window is
    seen) and, of those, the ones who bought `then` after it and within `days` days; per (value class, phase) the
    customer is in now, and over all of them under None: {segment: (customers, followed)}."""
    first = (
        select(Purchase.customer_id.label("customer_id"), func.min(Purchase.purchased_at).label("first_at"))
        .where(Purchase.category.in_(firsts), Purchase.purchased_at <= now - timedelta(days=days))
        .group_by(Purchase.customer_id)
        .subquery("first_bought")
    )
    later = aliased(Purchase)
    followed = (
        select(later.id)
        .where(
            later.customer_id == first.c.customer_id,
            later.category == then,
            later.purchased_at > first.c.first_at,
            later.purchased_at <= plus_days(session, first.c.first_at, days),
        )
        .exists()
    )
    value_class = func.coalesce(Customer.value_class, "C")
    rows = session.execute(
        select(value_class, Customer.lifecycle_phase, func.count(), func.count().filter(followed))
        .select_from(first)
        .join(Customer, Customer.id == first.c.customer_id)
        .group_by(value_class, Customer.lifecycle_phase)
    ).all()
    counts: dict[tuple[str, str] | None, tuple[int, int]] = {(vc, phase): (int(n), int(k)) for vc, phase, n, k in rows}
    counts[None] = (sum(n for n, _ in counts.values()), sum(k for _, k in counts.values()))
    return counts
