"""Lifecycle phases against hand-made purchase histories, at the boundary dates of the rules."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from customers.lifecycle import recompute_phases, refresh_phases, update_rules
from customers.models import Customer, LifecycleChange
from customers.schemas import CancellationIn, PurchaseIn
from customers.services import record_cancellation, record_purchase, upsert_customer
from tests.conftest import purchase_payload

T0 = datetime(2025, 1, 6, 10, 0, tzinfo=UTC)
DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)


def buy_at(session, n: int, at: datetime, customer: str = "C-1") -> None:
    payload = purchase_payload(f"O-{customer}-{n}", customer, f"{customer.lower()}@example.com", at)
    record_purchase(session, PurchaseIn.model_validate(payload), at)
    session.commit()


def phase_at(session, now: datetime, customer: str = "C-1") -> tuple[str, datetime | None]:
    recompute_phases(session, now, "time")
    session.commit()
    row = session.scalars(select(Customer).where(Customer.external_id == customer)).one()
    return row.lifecycle_phase, row.phase_since


def history(session, customer: str = "C-1") -> list[tuple]:
    rows = session.execute(
        select(LifecycleChange.from_phase, LifecycleChange.to_phase, LifecycleChange.changed_at, LifecycleChange.cause)
        .join(Customer, Customer.id == LifecycleChange.customer_id)
        .where(Customer.external_id == customer)
        .order_by(LifecycleChange.id)
    )
    return [tuple(row) for row in rows]


def test_a_customer_without_purchases_is_a_potential_customer(session):
    from customers.schemas import CustomerIn

    upsert_customer(session, CustomerIn(external_id="C-9", email="lead@example.com"), T0)
    session.commit()
    assert phase_at(session, T0 + DAY, "C-9")[0] == "potential"


def test_new_until_180_days_after_the_first_purchase_then_existing(session):
    buy_at(session, 1, T0)
    assert phase_at(session, T0) == ("new", T0)
    assert phase_at(session, T0 + 180 * DAY - SECOND) == ("new", T0)
    assert phase_at(session, T0 + 180 * DAY) == ("existing", T0 + 180 * DAY)
    assert history(session) == [
        ("potential", "new", T0, "purchase"),
        ("new", "existing", T0 + 180 * DAY, "time"),
    ]


def test_the_second_purchase_makes_an_existing_customer_on_its_date(session):
    buy_at(session, 1, T0)
    buy_at(session, 2, T0 + 30 * DAY)
    assert phase_at(session, T0 + 31 * DAY) == ("existing", T0 + 30 * DAY)
    assert [change[1] for change in history(session)] == ["new", "existing"]


def test_inactive_365_days_after_the_last_purchase_and_reactivated_by_a_purchase(session):
    buy_at(session, 1, T0)
    buy_at(session, 2, T0 + 10 * DAY)
    last = T0 + 10 * DAY
    assert phase_at(session, last + 365 * DAY - SECOND)[0] == "existing"
    assert phase_at(session, last + 365 * DAY) == ("inactive", last + 365 * DAY)
    comeback = last + 400 * DAY
    buy_at(session, 3, comeback)
    customer = session.scalars(select(Customer).where(Customer.external_id == "C-1")).one()
    assert (customer.lifecycle_phase, customer.phase_since, customer.purchase_count) == ("existing", comeback, 3)
    assert history(session)[-1] == ("inactive", "existing", comeback, "purchase")


def test_a_cancellation_churns_and_a_later_purchase_reactivates(session):
    buy_at(session, 1, T0)
    customer = session.scalars(select(Customer).where(Customer.external_id == "C-1")).one()
    cancelled = T0 + 20 * DAY
    _, created = record_cancellation(
        session, customer, CancellationIn(customer_external_id="C-1", cancelled_at=cancelled), cancelled + DAY
    )
    session.commit()
    assert created
    assert (customer.lifecycle_phase, customer.phase_since) == ("churned", cancelled)
    # Time passing does not move a churned customer.
    assert phase_at(session, cancelled + 800 * DAY) == ("churned", cancelled)
    buy_at(session, 2, cancelled + 900 * DAY)
    assert phase_at(session, cancelled + 900 * DAY) == ("existing", cancelled + 900 * DAY)
    assert [change[1:4:2] for change in history(session)] == [
        ("new", "purchase"),
        ("churned", "cancellation"),
        ("existing", "purchase"),
    ]


def test_purchases_in_the_future_of_now_do_not_count_yet(session):
    buy_at(session, 1, T0)
    buy_at(session, 2, T0 + 50 * DAY)
    assert phase_at(session, T0 + 10 * DAY) == ("new", T0)


def test_changing_the_rules_recomputes_every_phase(session):
    for n, customer in enumerate(("C-1", "C-2", "C-3")):
        buy_at(session, 1, T0 + n * 100 * DAY, customer)
    now = T0 + 320 * DAY
    phases = {c: phase_at(session, now, c)[0] for c in ("C-1", "C-2", "C-3")}
    assert phases == {"C-1": "existing", "C-2": "existing", "C-3": "new"}

    recorded = update_rules(
        session, {"new_until_purchases": 2, "new_for_days": 60, "inactive_after_days": 200}, None, now
    )
    session.commit()
    assert recorded == 3
    after = {c.external_id: c.lifecycle_phase for c in session.scalars(select(Customer).order_by(Customer.external_id))}
    # C-1 bought 320 days ago (inactive after 200), C-2 220 days ago (inactive), C-3 120 days ago (existing after 60).
    assert after == {"C-1": "inactive", "C-2": "inactive", "C-3": "existing"}
    assert {row[3] for row in history(session, "C-2")[-1:]} == {"rules"}
    assert (
        update_rules(session, {"new_until_purchases": 2, "new_for_days": 60, "inactive_after_days": 200}, None, now)
        is None
    )


@pytest.mark.parametrize("threshold", [1, 3])
def test_new_until_the_nth_purchase(session, threshold):
    update_rules(session, {"new_until_purchases": threshold, "new_for_days": 180, "inactive_after_days": 365}, None, T0)
    buy_at(session, 1, T0)
    buy_at(session, 2, T0 + DAY)
    expected = "existing" if threshold <= 2 else "new"
    assert phase_at(session, T0 + 2 * DAY)[0] == expected
    buy_at(session, 3, T0 + 2 * DAY)
    assert phase_at(session, T0 + 3 * DAY) == ("existing", T0 + (0 if threshold == 1 else 2) * DAY)


def test_the_scheduler_backfills_once_then_recomputes_hourly(session):
    buy_at(session, 1, T0)
    now = T0 + 400 * DAY
    refresh_phases(session, now)
    assert history(session)[-1][1:] == ("inactive", T0 + 365 * DAY, "backfill")
    assert refresh_phases(session, now + timedelta(minutes=30)) == 0
    buy_at(session, 2, now + timedelta(minutes=40))
    refresh_phases(session, now + timedelta(hours=2))
    assert phase_at(session, now + timedelta(hours=2))[0] == "existing"


def test_everyone_is_recomputed_slice_by_slice(session, monkeypatch):
    import customers.lifecycle as lifecycle

    monkeypatch.setattr(lifecycle, "CHUNK", 2)  # five customers: slices of two ids, the last one short
    for n in range(5):
        buy_at(session, 1, T0 - n * 100 * DAY, customer=f"C-{n}")
    session.execute(Customer.__table__.update().values(lifecycle_phase="potential", purchase_count=0))
    session.commit()
    assert recompute_phases(session, T0 + DAY, "time") == 5
    session.commit()
    phases = dict(session.execute(select(Customer.external_id, Customer.lifecycle_phase)).all())
    assert phases == {"C-0": "new", "C-1": "new", "C-2": "existing", "C-3": "existing", "C-4": "inactive"}


NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
# Two years of one customer: new, a second purchase (existing), a year of silence (inactive), back (existing),
# a cancellation (churned), a purchase after it (reactivated), and one purchase two weeks ago.
STORY = [
    datetime(2024, 3, 1, 9, tzinfo=UTC),
    datetime(2024, 5, 20, 9, tzinfo=UTC),
    datetime(2025, 7, 1, 9, tzinfo=UTC),
    datetime(2025, 12, 1, 9, tzinfo=UTC),
    datetime(2026, 11, 16, 9, tzinfo=UTC),
]
CANCELLED = datetime(2025, 10, 1, 9, tzinfo=UTC)


def feed(session, order: list[int], customer: str = "C-1", cancel_after: int | None = None) -> None:
    """The STORY's purchases in this order, each recorded as the API would at NOW; the cancellation after the
    `cancel_after`-th of them."""
    for step, n in enumerate(order):
        payload = purchase_payload(f"O-{customer}-{n}", customer, f"{customer.lower()}@example.com", STORY[n])
        record_purchase(session, PurchaseIn.model_validate(payload), NOW)
        session.commit()
        if cancel_after == step:
            stored = session.scalars(select(Customer).where(Customer.external_id == customer)).one()
            data = CancellationIn(customer_external_id=customer, cancelled_at=CANCELLED)
            record_cancellation(session, stored, data, NOW)
            session.commit()


EXPECTED = [
    ("potential", "new", STORY[0], "purchase"),
    ("new", "existing", STORY[1], "purchase"),  # the second purchase
    ("existing", "inactive", STORY[1] + timedelta(days=365), "time"),
    ("inactive", "existing", STORY[2], "purchase"),  # back after a year
    ("existing", "churned", CANCELLED, "cancellation"),
    ("churned", "existing", STORY[3], "purchase"),
]


def sorted_history(session, customer: str = "C-1") -> list[tuple]:
    return sorted(history(session, customer), key=lambda row: row[2])


def test_purchases_in_any_order_give_the_same_history(session):
    """Before, an import of old purchases recorded one jump (potential -> inactive), and a late purchase left
    changes dated before those already recorded."""
    import random

    orders = [[0, 1, 2, 3, 4], [4, 3, 2, 1, 0]] + [random.Random(seed).sample(range(5), 5) for seed in range(4)]
    results = []
    for index, order in enumerate(orders):
        customer = f"C-{index}"
        feed(session, order, customer, cancel_after=index % 5)
        rows = sorted_history(session, customer)
        stored = session.scalars(select(Customer).where(Customer.external_id == customer)).one()
        results.append((rows, stored.lifecycle_phase, stored.phase_since))
    assert results[0][0] == EXPECTED
    assert all(result == results[0] for result in results), [
        order for order, r in zip(orders, results, strict=True) if r != results[0]
    ]
    assert results[0][1:] == ("existing", STORY[3])


def test_the_history_is_a_chain_in_time(session):
    feed(session, [3, 0, 4, 1, 2], cancel_after=1)
    rows = sorted_history(session)
    assert [row[2] for row in rows] == sorted(row[2] for row in rows)
    assert all(before[1] == after[0] for before, after in itertools.pairwise(rows))
    assert rows[0][0] == "potential"


def test_a_first_purchase_from_last_year_is_a_new_customer_then(session):
    bought = datetime(2025, 10, 1, 9, tzinfo=UTC)
    payload = purchase_payload("O-1", "C-1", "c-1@example.com", bought)
    record_purchase(session, PurchaseIn.model_validate(payload), NOW)
    session.commit()
    assert sorted_history(session) == [
        ("potential", "new", bought, "purchase"),
        ("new", "existing", bought + timedelta(days=180), "time"),
        ("existing", "inactive", bought + timedelta(days=365), "time"),
    ]


def test_a_history_kept_live_by_the_scheduler_equals_the_replay(session):
    """Purchases recorded as they happen and the scheduler's recompute every few days give the history a replay
    of the same purchases gives: the two ways of computing it agree."""
    from customers.history import replay
    from customers.lifecycle import current_rules

    moment, purchases = STORY[0] - DAY, iter(STORY)
    upcoming = next(purchases)
    while moment <= NOW:
        while upcoming is not None and upcoming <= moment:
            payload = purchase_payload(f"O-{upcoming:%Y%m%d}", "C-1", "c-1@example.com", upcoming)
            record_purchase(session, PurchaseIn.model_validate(payload), upcoming + timedelta(hours=1))
            upcoming = next(purchases, None)
        recompute_phases(session, moment, "time")
        session.commit()
        moment += timedelta(days=3)
    recompute_phases(session, NOW, "time")
    session.commit()
    live = [row[:3] for row in sorted_history(session)]
    replayed = [step[:3] for step in replay(STORY, [], current_rules(session), NOW)]
    assert live == replayed and len(live) >= 4


def test_a_churn_survey_is_not_sent_for_a_change_long_past(session):
    """A replay records past changes now; a survey about an inactivity that began a year ago would be absurd."""
    from surveys.jobs import create_churn_invitations
    from surveys.models import Survey

    survey = session.scalars(select(Survey).where(Survey.kind == "churn")).one()
    survey.trigger_inactive = True
    session.commit()
    feed(session, [2, 0, 1])  # last purchase 2025-07-01: inactive since 2026-07-01, recorded now
    assert ("existing", "inactive", STORY[2] + timedelta(days=365), "time") in sorted_history(session)
    assert create_churn_invitations(session, NOW + timedelta(days=3)) == 0
