"""A customer's lifecycle history, replayed from effective dates when data arrives out of order.

The recompute in `lifecycle.py` moves a customer's phase once per call, as of `now`: right while purchases arrive
as they happen and the scheduler keeps up. A purchase (or cancellation) dated in the past breaks that: an import
of last year's purchases recorded one jump "potential -> inactive" (no "new", no "existing"), and a late purchase
left changes dated before those already recorded. So when data arrives that is older than the customer's latest
recorded change, or older than the shortest rule period (then a change by time may lie between it and now),
the customer's whole history is replayed from the effective dates and the difference written: rows that stay
keep their ids (churn surveys link to them), wrong ones go, missing ones come. The same purchases in any order give
the same history.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from customers.lifecycle import Rules, current_rules
from customers.models import Cancellation, Customer, LifecycleChange, Purchase
from customers.signals import lifecycle_changes_removed
from kundenpuls.dialect import one_of


class Step(NamedTuple):
    from_phase: str | None
    to_phase: str
    changed_at: datetime
    cause: str


def phase_at(t: datetime, purchases: list[datetime], cancellations: list[datetime], rules: Rules) -> str:
    """The phase on the rules of `lifecycle._computed`, from what had happened by `t` (both lists sorted)."""
    count = bisect.bisect_right(purchases, t)
    cancelled = cancellations[bisect.bisect_right(cancellations, t) - 1] if cancellations else None
    if cancelled is not None and cancelled > t:
        cancelled = None
    first, last = (purchases[0], purchases[count - 1]) if count else (None, None)
    if cancelled is not None and (last is None or last <= cancelled):
        return "churned"
    if count == 0:
        return "potential"
    if last <= t - timedelta(days=rules.inactive_after_days):
        return "inactive"
    if count < rules.new_until_purchases and first > t - timedelta(days=rules.new_for_days):
        return "new"
    return "existing"


def replay(purchases: Iterable[datetime], cancellations: Iterable[datetime], rules: Rules, now: datetime) -> list[Step]:
    """Every phase change up to `now`, in order: the phase is evaluated at each moment it can change (a purchase,
    a cancellation, a purchase plus the inactive days, the first purchase plus the new days)."""
    bought = sorted(p for p in purchases if p <= now)
    cancelled = sorted(c for c in cancellations if c <= now)
    causes: dict[datetime, str] = {}
    for p in bought:
        causes.setdefault(p, "purchase")
        causes.setdefault(p + timedelta(days=rules.inactive_after_days), "time")
    if bought:
        causes.setdefault(bought[0] + timedelta(days=rules.new_for_days), "time")
    for c in cancelled:
        causes[c] = "cancellation"
    steps: list[Step] = []
    phase = "potential"
    for t in sorted(moment for moment in causes if moment <= now):
        after = phase_at(t, bought, cancelled, rules)
        if after != phase:
            steps.append(Step(phase, after, t, causes[t]))
            phase = after
    return steps


def may_rewrite(rules: Rules, now: datetime, arrived: datetime, latest_change: datetime | None) -> bool:
    """Whether data dated `arrived` may rewrite a customer's recorded history: it is older than their latest
    recorded change, or so old that a change by time may lie between it and now."""
    horizon = now - timedelta(days=min(rules.new_for_days, rules.inactive_after_days))
    return arrived <= horizon or (latest_change is not None and arrived < latest_change)


def needing_replay(session: Session, rules: Rules, now: datetime, arrived: dict[int, datetime]) -> list[int]:
    """The customers whose arriving data (earliest date per customer) may rewrite recorded history."""
    old = {customer for customer, at in arrived.items() if may_rewrite(rules, now, at, None)}
    rest = [customer for customer in arrived if customer not in old]
    if rest:
        latest = dict(
            session.execute(
                select(LifecycleChange.customer_id, func.max(LifecycleChange.changed_at))
                .where(one_of(session, LifecycleChange.customer_id, rest))
                .group_by(LifecycleChange.customer_id)
            ).all()
        )
        old |= {customer for customer in rest if may_rewrite(rules, now, arrived[customer], latest.get(customer))}
    return sorted(old)


def rebuild_histories(session: Session, rules: Rules, now: datetime, customer_ids: list[int]) -> int:
    """Replay these customers' histories and write the difference; returns rows inserted plus removed."""
    if not customer_ids:
        return 0
    purchases: dict[int, list[datetime]] = defaultdict(list)
    for customer_id, at in session.execute(
        select(Purchase.customer_id, Purchase.purchased_at).where(Purchase.customer_id.in_(customer_ids))
    ):
        purchases[customer_id].append(at)
    cancellations: dict[int, list[datetime]] = defaultdict(list)
    for customer_id, at in session.execute(
        select(Cancellation.customer_id, Cancellation.cancelled_at).where(Cancellation.customer_id.in_(customer_ids))
    ):
        cancellations[customer_id].append(at)
    recorded: dict[int, list[LifecycleChange]] = defaultdict(list)
    for change in session.scalars(
        select(LifecycleChange)
        .where(LifecycleChange.customer_id.in_(customer_ids))
        .order_by(LifecycleChange.changed_at, LifecycleChange.id)
    ):
        recorded[change.customer_id].append(change)
    written, removed = 0, []
    for customer_id in customer_ids:
        steps = replay(purchases[customer_id], cancellations[customer_id], rules, now)
        wanted = {(s.from_phase, s.to_phase, s.changed_at): s for s in steps}
        for change in recorded[customer_id]:
            key = (change.from_phase, change.to_phase, change.changed_at)
            if key in wanted:
                step = wanted.pop(key)
                change.cause = step.cause
            else:
                removed.append(change.id)
        for step in wanted.values():
            session.add(
                LifecycleChange(
                    customer_id=customer_id, from_phase=step.from_phase, to_phase=step.to_phase,
                    changed_at=step.changed_at, recorded_at=now, cause=step.cause,
                )
            )  # fmt: skip
            written += 1
        if steps:
            session.execute(
                update(Customer)
                .where(Customer.id == customer_id, Customer.lifecycle_phase == steps[-1].to_phase)
                .values(phase_since=steps[-1].changed_at)
                .execution_options(synchronize_session=False)
            )
    if removed:
        lifecycle_changes_removed.send(None, session=session, change_ids=removed)
        session.execute(
            delete(LifecycleChange).where(LifecycleChange.id.in_(removed)).execution_options(synchronize_session=False)
        )
    session.flush()
    return written + len(removed)


def replay_if_out_of_order(session: Session, now: datetime, arrived: dict[int, datetime]) -> int:
    """After a recompute for arriving purchases or cancellations: replay where they may rewrite history."""
    rules = current_rules(session)
    return rebuild_histories(session, rules, now, needing_replay(session, rules, now, arrived))
