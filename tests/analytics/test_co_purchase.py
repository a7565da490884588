"""What else a segment buys (issue 24): support, confidence and lift of category pairs, and the next category
customers move to, checked against a plain Python count of the same purchases."""

from __future__ import annotations

import itertools
import random
import statistics
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest

from analytics.co_purchase import baskets, bought_together, moves
from customers.models import Customer, Purchase

START = datetime(2026, 1, 5, 10, tzinfo=UTC)
CATEGORIES = ("Kitchen", "Garden", "Tools", "Toys")


@pytest.fixture
def histories(session):
    """300 customers; Kitchen buyers often buy Garden within weeks; value classes A and B."""
    rng = random.Random(4)
    bought: dict[int, list[tuple[datetime, str]]] = {}
    for n in range(300):
        customer = Customer(external_id=f"K{n}", email=f"k{n}@example.com", created_at=START,
                            value_class="A" if n % 2 else "B")  # fmt: skip
        session.add(customer)
        session.flush()
        first = rng.choice(CATEGORIES)
        at = START + timedelta(days=rng.randint(0, 100))
        history = [(at, first)]
        if first == "Kitchen" and rng.random() < 0.7:
            history.append((at + timedelta(days=rng.randint(5, 40), minutes=1), "Garden"))
        for extra in range(rng.randint(0, 2)):  # distinct minutes: no two purchases of a customer at one moment
            history.append((at + timedelta(days=rng.randint(1, 200), minutes=2 + extra), rng.choice(CATEGORIES)))
        bought[customer.id] = history
        for k, (when, category) in enumerate(history):
            session.add(Purchase(order_id=f"O{n}-{k}", customer_id=customer.id, amount=10, currency="EUR",
                                 category=category, purchased_at=when, created_at=when))  # fmt: skip
    session.commit()
    return bought


def test_support_confidence_and_lift_equal_a_plain_count(session, histories):
    year = baskets(session, date(2026, 1, 1), date(2026, 12, 31))
    customers, pairs = bought_together(year, min_support=0.0)
    sets = {customer: {category for _, category in history} for customer, history in histories.items()}
    assert customers == len(sets)
    single = Counter(category for categories in sets.values() for category in categories)
    together = Counter(pair for categories in sets.values() for pair in itertools.combinations(sorted(categories), 2))
    assert {(p.first, p.second) for p in pairs} == set(together)
    for pair in pairs:
        both = together[(pair.first, pair.second)]
        assert pair.both == both and pair.support == pytest.approx(both / customers)
        assert pair.confidence == pytest.approx(both / single[pair.first])
        assert pair.lift == pytest.approx(both * customers / (single[pair.first] * single[pair.second]))
    best = pairs[0]
    assert (best.first, best.second) == ("Garden", "Kitchen") and best.lift > 1.1
    customers_a, _ = bought_together(baskets(session, date(2026, 1, 1), date(2026, 12, 31), value_class="A"))
    assert customers_a == 150
    _, strict = bought_together(year, min_support=0.2)
    assert all(p.support >= 0.2 for p in strict) and len(strict) < len(pairs)


def test_the_next_category_and_its_median_days_equal_a_plain_walk(session, histories):
    year = baskets(session, date(2026, 1, 1), date(2026, 12, 31))
    found = {(m.first, m.next): m for m in moves(session, date(2026, 1, 1), date(2026, 12, 31), year)}
    expected: dict[tuple[str, str], list[int]] = {}
    starters = Counter()
    for history in histories.values():
        ordered = sorted(history)
        first_at, first = ordered[0]
        starters[first] += 1
        later = [(when, category) for when, category in ordered[1:] if category != first]
        if later:
            when, category = later[0]
            expected.setdefault((first, category), []).append((when.date() - first_at.date()).days)
    assert set(found) == set(expected)
    for key, days in expected.items():
        assert found[key].customers == len(days)
        assert found[key].share == pytest.approx(len(days) / starters[key[0]])
        assert found[key].median_days == statistics.median_low(days)
    kitchen = found[("Kitchen", "Garden")]
    assert kitchen.share > 0.5 and kitchen.median_days <= 40


def test_the_basket_page_and_csv(client, session, histories):
    import csv
    import io

    from tests.feedback_helpers import make_user, sign_in

    sign_in(client, make_user(session, "chefin@example.com", "manager"))
    page = client.get("/reports/basket?from=2026-01-01&to=2026-12-31&min_support=5")
    assert page.status_code == 200 and "Garden + Kitchen" in page.text and 'data-table="moves"' in page.text
    sheet = client.get("/reports/basket.csv?from=2026-01-01&to=2026-12-31&min_support=0")
    rows = list(csv.DictReader(io.StringIO(sheet.text)))
    assert rows[0]["first"] == "Garden" and rows[0]["second"] == "Kitchen"
    moved = list(csv.DictReader(io.StringIO(client.get("/reports/basket.csv?table=moves&from=2026-01-01").text)))
    assert ("Kitchen", "Garden") in {(row["first"], row["next"]) for row in moved}
    assert client.get("/reports/basket?min_support=abc").status_code == 422
