"""Several schedulers at once: a job runs in one of them, and a job that lost a race runs again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import psycopg.errors
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from app import scheduler
from customers.models import Customer, LifecycleChange, LifecycleRules
from kundenpuls.locks import LIFECYCLE_LOCK, VALUES_LOCK


def test_a_job_that_hit_a_deadlock_runs_again_and_a_broken_one_is_reported(session, monkeypatch):
    calls: list[str] = []

    def racing(session, now):
        calls.append("racing")
        if len(calls) == 1:
            raise OperationalError("UPDATE customers", {}, psycopg.errors.DeadlockDetected("deadlock detected"))
        return 7

    def broken(session, now):
        calls.append("broken")
        raise ValueError("bad data")

    monkeypatch.setattr(scheduler, "all_jobs", lambda: (("racing", racing), ("broken", broken)))
    results, failures = scheduler.tick(datetime.now(UTC))
    assert results == {"racing": 7}
    assert failures == ["broken"]
    assert calls == ["racing", "racing", "broken"]  # a real error is not retried


def customers_with_purchases(buy, n: int) -> None:
    for i in range(n):
        buy(order_id=f"O-{i}", external_id=f"C-{i}", email=f"c{i}@example.com",
            purchased_at=datetime.now(UTC) - timedelta(days=400))  # fmt: skip


def test_a_second_scheduler_leaves_a_running_refresh_alone(session, buy, postgresql_only, database_url):
    customers_with_purchases(buy, 3)
    session.query(Customer).update({Customer.values_at: None, Customer.lifecycle_phase: "new"})
    session.get(LifecycleRules, 1).recomputed_at = None
    session.commit()
    dsn = database_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as other:  # the first scheduler, busy with both refreshes
        other.execute("SELECT pg_advisory_lock(%s), pg_advisory_lock(%s)", (VALUES_LOCK, LIFECYCLE_LOCK))
        results, failures = scheduler.tick(datetime.now(UTC))
        assert failures == []
        assert results["refresh_customer_values"] is None and results["refresh_lifecycle_phases"] == 0
        session.expire_all()
        assert session.scalar(select(func.count()).where(Customer.values_at.is_not(None))) == 0
        assert set(session.scalars(select(Customer.lifecycle_phase))) == {"new"}
        other.execute("SELECT pg_advisory_unlock_all()")
    results, failures = scheduler.tick(datetime.now(UTC))
    assert failures == []
    assert results["refresh_customer_values"] == 0  # none bought in the last 12 months, but all were looked at
    assert results["refresh_lifecycle_phases"] == 3
    session.expire_all()
    assert session.scalar(select(func.count()).where(Customer.values_at.is_not(None))) == 3
    assert set(session.scalars(select(Customer.lifecycle_phase))) == {"inactive"}


def test_two_schedulers_at_once_refresh_each_customer_once(session, buy, concurrently, postgresql_only):
    customers_with_purchases(buy, 40)
    session.query(Customer).update({Customer.values_at: None, Customer.lifecycle_phase: "new"})
    session.get(LifecycleRules, 1).recomputed_at = None
    session.commit()
    now = datetime.now(UTC)
    for _results, failures in concurrently(lambda _session: scheduler.tick(now), 4):
        assert failures == []
    session.expire_all()
    assert set(session.scalars(select(Customer.lifecycle_phase))) == {"inactive"}
    moves = session.scalar(select(func.count()).where(LifecycleChange.cause == "backfill"))
    assert moves == 40  # one history row per customer, not one per scheduler
