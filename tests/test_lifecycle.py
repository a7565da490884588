"""Lifecycle phases against hand-made purchase histories, at the boundary dates of the rules."""

from __future__ import annotations

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
