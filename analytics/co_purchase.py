"""What else a segment buys (issue 24): categories bought together and the category customers move on to.

- **Bought together**: over the segment's customers with a categorised purchase in the range, for each pair of
  categories A, B: support = customers who bought both / customers; confidence(A -> B) = customers who bought both /
  customers who bought A; lift = confidence(A -> B) / share who bought B (1: independent; above 1: bought together
  more often than chance). Pairs under the minimum support are left out. The database counts customers per basket
  (their set of categories); the pairs are counted over the baskets.
- **Moves on to**: for each customer, the category of the first purchase in the range and the first later purchase
  in another category: per first category, the share of its customers who moved to each next category and the
  median days it took. The days are counted in SQL per (first, next, days), the median (the lower middle value)
  taken from those counts; days are calendar days, UTC. A category's customers are those who moved on from it plus
  those whose basket holds it alone (they never bought anything else): the baskets give them, no pass of its own.

Both reports start from the segment's baskets (`baskets`), read once per page. Over 5,000,000 purchases
(bench/basket.py) a basket is one aggregate per customer in the order of the (customer, time) index, and the moves
one window pass whose order DISTINCT ON keeps (PostgreSQL; SQLite ranks the rows instead).
"""

from __future__ import annotations

import itertools
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, literal, select
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session, aliased

from analytics.queries import day_bounds, segment_filters
from customers.models import Customer, Purchase
from kundenpuls.dialect import day_number, is_postgresql, plus_days, text_list

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


def baskets(
    session: Session, start: date, end: date, value_class: str | None = None, phase: str | None = None
) -> Counter:
    """The segment's baskets (the set of categories a customer bought in the range) with their number of customers.

    A shop's customers share a few thousand baskets, so the pairs are counted over those instead of joining a
    million customers' categories with themselves (bench/basket.py: 23 s for 5,000,000 purchases that way)."""
    since, until = day_bounds(start, end)
    in_range = (Purchase.category.is_not(None), Purchase.purchased_at >= since, Purchase.purchased_at < until)
    if is_postgresql(session):
        # One aggregate per customer over the (customer, time) index: 3.3 s where DISTINCT (customer, category)
        # first, then the list, hashed and spilled 4 million groups (6.8 s).
        separator = aggregate_order_by(literal(SEPARATOR), Purchase.category)  # string_agg(DISTINCT c, s ORDER BY c)
        basket = func.string_agg(Purchase.category.distinct(), separator)
        per_customer = select(basket.label("basket")).where(*in_range).group_by(Purchase.customer_id)
        per_customer = segment_filters(per_customer, Purchase.customer_id, value_class, phase)
    else:
        bought = segment_filters(
            select(Purchase.customer_id, Purchase.category).where(*in_range).distinct(),
            Purchase.customer_id, value_class, phase,
        ).subquery("bought")  # fmt: skip
        per_customer = select(text_list(session, bought.c.category, SEPARATOR).label("basket"))
        per_customer = per_customer.group_by(bought.c.customer_id)
    per_customer = per_customer.subquery("baskets")
    found: Counter = Counter()
    for basket, n in session.execute(select(per_customer.c.basket, func.count()).group_by(per_customer.c.basket)):
        found[frozenset(basket.split(SEPARATOR))] += n
    return found


def bought_together(found: Counter, min_support: float = MIN_SUPPORT) -> tuple[int, list[Pair]]:
    """(customers, pairs by lift) over the baskets `found` (from `baskets`)."""
    customers = sum(found.values())
    if not customers:
        return 0, []
    single: Counter = Counter()
    together: Counter = Counter()
    for categories, n in found.items():
        for category in categories:
            single[category] += n
        for pair in itertools.combinations(sorted(categories), 2):
            together[pair] += n
    pairs = [
        Pair(first, second, both, both / customers, both / single[first], both / single[second],
             both * customers / (single[first] * single[second]))
        for (first, second), both in together.items()
        if both >= min_support * customers
    ]  # fmt: skip
    return customers, sorted(pairs, key=lambda p: (-p.lift, -p.both, p.first, p.second))


def moves(
    session: Session, start: date, end: date, found: Counter, value_class: str | None = None, phase: str | None = None
) -> list:
    """Per first category, where its customers went next (shares and median days), most frequent first; `found`
    are the same segment's baskets (`baskets`), which count the customers who never moved on.

    One window pass over the segment's purchases in customer and time order: each purchase learns its customer's
    first category and time; the customer's move is the first of their purchases in another category."""
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
    days = (day_number(session, purchases.c.purchased_at) - day_number(session, purchases.c.first_at)).label("days")
    moved = select(purchases.c.first, purchases.c.category.label("next"), days).where(
        purchases.c.category != purchases.c.first
    )
    if is_postgresql(session):
        # The rows come in the order DISTINCT ON needs: no sort (4.5 s where ranking them took 6.0 s).
        moved = moved.distinct(purchases.c.customer_id).order_by(
            purchases.c.customer_id, purchases.c.purchased_at, purchases.c.id
        )
    else:
        rank = func.row_number().over(
            partition_by=purchases.c.customer_id, order_by=(purchases.c.purchased_at, purchases.c.id)
        )
        ranked = moved.add_columns(rank.label("rank")).subquery("ranked")
        moved = select(ranked.c.first, ranked.c.next, ranked.c.days).where(ranked.c.rank == 1)
    moved = moved.subquery("moved")
    rows = session.execute(
        select(moved.c.first, moved.c.next, moved.c.days, func.count()).group_by(
            moved.c.first, moved.c.next, moved.c.days
        )
    ).all()
    starters: Counter = Counter({next(iter(basket)): n for basket, n in found.items() if len(basket) == 1})
    by_pair: dict[tuple[str, str], list[tuple[float, int]]] = {}
    for first_category, next_category, day, count in rows:
        starters[first_category] += int(count)
        by_pair.setdefault((first_category, next_category), []).append((float(day), int(count)))
    result = []
    for (first_category, next_category), counts in by_pair.items():
        total = sum(count for _, count in counts)
        result.append(Move(first_category, next_category, total, total / starters[first_category], _median(counts)))
    return sorted(result, key=lambda m: (-m.customers, m.first, m.next))


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
