"""Lifecycle phases: computed from purchases and cancellations by rules the business sets.

One set-based recompute serves every occasion: a purchase or cancellation (one customer), the scheduler
(time passes: "new" turns "existing", silence turns "inactive") and a rule change (everyone). Each phase
change is stored with the date it took effect by the rules, so reports can show flows between phases.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import and_, bindparam, case, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session

from customers.models import Customer, LifecycleChange, LifecycleRules, Purchase
from kundenpuls import audit
from kundenpuls.dialect import is_postgresql, least, plus_days, set_local
from kundenpuls.locks import LIFECYCLE_LOCK, try_job_lock
from kundenpuls.timeutil import UTCDateTime

# The scheduler recomputes all phases this often (phases move by days, not minutes).
RECOMPUTE_EVERY = timedelta(hours=1)
CAUSES = ("purchase", "time", "cancellation", "rules", "backfill")


def current_rules(session: Session) -> LifecycleRules:
    """The one row of rules (created with the defaults if a database lacks it)."""
    rules = session.get(LifecycleRules, 1)
    if rules is None:
        rules = LifecycleRules(id=1, new_until_purchases=2, new_for_days=180, inactive_after_days=365)
        session.add(rules)
        session.flush()
    return rules


class RuleSet(NamedTuple):
    """The thresholds of the rules row, read along with other data (customers.one_purchase) instead of by
    `current_rules`: everything the recompute and the replay read of the rules."""

    new_until_purchases: int
    new_for_days: int
    inactive_after_days: int


Rules = LifecycleRules | RuleSet


class Moment(NamedTuple):
    """`now` and the two cut-offs the rules derive from it: values, or bound parameters in a cached statement."""

    now: object
    inactive_before: object
    new_after: object


def moment(rules: Rules, now: datetime) -> Moment:
    return Moment(now, now - timedelta(days=rules.inactive_after_days), now - timedelta(days=rules.new_for_days))


BOUND = Moment(*(bindparam(name, type_=UTCDateTime()) for name in Moment._fields))


def _computed(
    session: Session,
    rules: Rules,
    at: Moment,
    customer_ids,
    id_range: tuple[int, int] | None = None,
):
    """Per customer whose phase or purchase figures are out of date: the new phase, since when, the figures.

    `customer_ids` (a list, or an expanding bound parameter) limits it to some customers, `id_range` (inclusive)
    to a slice of all of them.
    """
    now = at.now
    stats = select(
        Purchase.customer_id,
        func.count().label("purchases"),
        func.min(Purchase.purchased_at).label("first"),
        func.max(Purchase.purchased_at).label("last"),
    ).where(Purchase.purchased_at <= now)
    if customer_ids is not None:
        stats = stats.where(Purchase.customer_id.in_(customer_ids))
    if id_range is not None:
        stats = stats.where(Purchase.customer_id.between(*id_range))
    stats = stats.group_by(Purchase.customer_id).subquery("stats")
    count = func.coalesce(stats.c.purchases, 0)
    first, last = stats.c.first, stats.c.last
    phase = case(
        (and_(Customer.cancelled_at.is_not(None), or_(last.is_(None), last <= Customer.cancelled_at)), "churned"),
        (count == 0, "potential"),
        (last <= at.inactive_before, "inactive"),
        (and_(count < rules.new_until_purchases, first > at.new_after), "new"),
        else_="existing",
    )
    nth_purchase = (
        select(Purchase.purchased_at)
        .where(Purchase.customer_id == Customer.id, Purchase.purchased_at <= now)
        .order_by(Purchase.purchased_at)  # ties give the same time: no tie-breaker, the index gives the order
        .offset(max(rules.new_until_purchases - 1, 0))
        .limit(1)
        .scalar_subquery()
    )
    new_days_over = plus_days(session, first, rules.new_for_days)
    reactivated = and_(Customer.lifecycle_phase.in_(("inactive", "churned")), phase.in_(("new", "existing")))
    since = case(
        (phase == "churned", Customer.cancelled_at),
        (phase == "potential", Customer.created_at),
        (phase == "inactive", plus_days(session, last, rules.inactive_after_days)),
        (reactivated, last),  # a purchase after churn or inactivity starts the phase anew
        (phase == "new", first),
        (count >= rules.new_until_purchases, least(session, nth_purchase, new_days_over)),
        else_=new_days_over,
    )
    query = (
        select(
            Customer.id.label("customer_id"),
            Customer.lifecycle_phase.label("old_phase"),
            phase.label("phase"),
            since.label("since"),
            count.label("purchases"),
            first.label("first"),
            last.label("last"),
        )
        .select_from(Customer)
        .outerjoin(stats, stats.c.customer_id == Customer.id)
        .where(
            or_(
                Customer.lifecycle_phase != phase,
                Customer.purchase_count != count,
                # Purchase times never are NULL when there are purchases, so comparing the counts and
                # (coalesced) dates covers an import of older purchases too.
                func.coalesce(Customer.first_purchase_at, now) != func.coalesce(first, now),
                func.coalesce(Customer.last_purchase_at, now) != func.coalesce(last, now),
            )
        )
    )
    if customer_ids is not None:
        query = query.where(Customer.id.in_(customer_ids))
    if id_range is not None:
        query = query.where(Customer.id.between(*id_range))
    return query


def _set_customer(computed) -> dict:
    return {
        Customer.lifecycle_phase: computed.c.phase,
        Customer.phase_since: case(
            (Customer.lifecycle_phase == computed.c.phase, Customer.phase_since), else_=computed.c.since
        ),
        Customer.purchase_count: computed.c.purchases,
        Customer.first_purchase_at: computed.c.first,
        Customer.last_purchase_at: computed.c.last,
    }


def _change_columns() -> list[str]:
    return ["customer_id", "from_phase", "to_phase", "changed_at", "recorded_at", "cause"]


def recompute_phases(
    session: Session, now: datetime, cause: str, customer_ids: list[int] | None = None, rules: Rules | None = None
) -> int:
    """Bring phases and purchase figures up to date as of `now`; returns how many phase changes were recorded.
    `rules` spares the read of the rules row for some customers when the caller has read it along with its data.

    Everyone (customer_ids None) is done in slices of CHUNK customer ids, one statement each in the caller's
    transaction: a slice's purchases come from the (customer, time) index in order, so memory stays flat
    however many customers there are.
    """
    if cause not in CAUSES:
        raise ValueError(f"unknown cause {cause!r}")
    if customer_ids is not None and not customer_ids:
        return 0
    if rules is None or customer_ids is None:
        rules = current_rules(session)
    if customer_ids is not None and is_postgresql(session):
        statement = _for_customers(session, rules, cause)
        recorded = session.execute(statement, {"ids": list(customer_ids), **moment(rules, now)._asdict()}).scalar_one()
    elif customer_ids is not None:
        recorded = _recompute(session, rules, now, cause, customer_ids, None)
    else:
        # JIT compiling the statement costs more than it saves (two thirds of a slice). This transaction only.
        set_local(session, "jit", "off")
        low, high = session.execute(select(func.min(Customer.id), func.max(Customer.id))).one()
        recorded = 0
        for start in range(low or 0, (high or -1) + 1, CHUNK):
            recorded += _recompute(session, rules, now, cause, None, (start, start + CHUNK - 1))
        rules.recomputed_at = now
    _expire(session, customer_ids)
    return recorded


CHUNK = 50_000


def _recompute(
    session: Session,
    rules: Rules,
    now: datetime,
    cause: str,
    customer_ids: list[int] | None,
    id_range: tuple[int, int] | None,
) -> int:
    """One statement on PostgreSQL (UPDATE ... RETURNING inside a CTE feeds the history INSERT); on SQLite the
    history INSERT, then the UPDATE, from the same computation in the same transaction."""
    computed = _computed(session, rules, moment(rules, now), customer_ids, id_range).cte("computed")
    # The same limits on the updated table: the planner does not carry them over from the CTE, and without them
    # it walks the customers from the first id to the slice.
    target = [Customer.id == computed.c.customer_id]
    if customer_ids is not None:
        target.append(Customer.id.in_(customer_ids))
    if id_range is not None:
        target.append(Customer.id.between(*id_range))
    recorded_at = literal(now, LifecycleChange.recorded_at.type)
    if is_postgresql(session):
        return session.execute(_counted_changes(computed, target, recorded_at, cause)).scalar_one()
    recorded = len(
        session.execute(
            insert(LifecycleChange)
            .from_select(_change_columns(), _changes_from(computed, recorded_at, cause))
            .add_cte(computed)
            .returning(LifecycleChange.id)
        ).all()
    )
    session.execute(
        update(Customer)
        .where(*target)
        .values(_set_customer(computed))
        .add_cte(computed)
        .execution_options(synchronize_session=False)
    )
    return recorded


def _changes_from(source, recorded_at, cause: str):
    """History rows for the customers whose phase changed."""
    return select(
        source.c.customer_id, source.c.old_phase, source.c.phase, source.c.since, recorded_at, literal(cause)
    ).where(source.c.old_phase != source.c.phase)


def _counted_changes(computed, target: list, recorded_at, cause: str):
    """PostgreSQL: UPDATE ... RETURNING inside a CTE feeds the history INSERT; the statement counts the changes."""
    updated = (
        update(Customer)
        .where(*target)
        .values(_set_customer(computed))
        # The new phase_since is the computed one wherever the phase changed: no second evaluation.
        .returning(computed.c.customer_id, computed.c.old_phase, computed.c.phase, Customer.phase_since.label("since"))
        .cte("updated")
    )
    inserted = (
        insert(LifecycleChange)
        .from_select(_change_columns(), _changes_from(updated, recorded_at, cause))
        .returning(LifecycleChange.id)
        .cte("inserted")
    )
    return select(func.count()).select_from(inserted)


_STATEMENTS: dict[tuple, object] = {}


def _for_customers(session: Session, rules: Rules, cause: str):
    """PostgreSQL, some customers (a purchase, a cancellation): the recompute statement of `_recompute`, built
    once per rule set and cause with `now` and the ids as bound parameters. Building it took a quarter of an
    API purchase."""
    key = (rules.new_until_purchases, rules.new_for_days, rules.inactive_after_days, cause)
    statement = _STATEMENTS.get(key)
    if statement is None:
        ids = bindparam("ids", expanding=True)
        computed = _computed(session, rules, BOUND, ids).cte("computed")
        target = [Customer.id == computed.c.customer_id, Customer.id.in_(ids)]
        statement = _STATEMENTS[key] = _counted_changes(computed, target, BOUND.now, cause)
    return statement


def _expire(session: Session, customer_ids: list[int] | None) -> None:
    """Loaded customers show the new phase (the UPDATE ran in SQL, past the identity map)."""
    wanted = None if customer_ids is None else set(customer_ids)
    for obj in list(session.identity_map.values()):
        if isinstance(obj, Customer) and (wanted is None or obj.id in wanted):
            session.expire(obj, list(_FIGURES))


_FIGURES = ("lifecycle_phase", "phase_since", "purchase_count", "first_purchase_at", "last_purchase_at")


def refresh_phases(session: Session, now: datetime) -> int:
    """Scheduler job: recompute every phase once an hour. The first run after install is the backfill."""
    if not try_job_lock(session, LIFECYCLE_LOCK):
        session.rollback()
        return 0
    rules = current_rules(session)
    if rules.recomputed_at is not None and rules.recomputed_at > now - RECOMPUTE_EVERY:
        session.commit()
        return 0
    recorded = recompute_phases(session, now, "backfill" if rules.recomputed_at is None else "time")
    session.commit()
    return recorded


RULE_FIELDS = ("new_until_purchases", "new_for_days", "inactive_after_days")


def update_rules(session: Session, values: dict, actor_id: int | None, now: datetime) -> int | None:
    """Change the thresholds and recompute every phase at once; returns the changes recorded (None: no edit).

    Changes from a rule edit are recorded with cause "rules" and send no churn survey.
    """
    rules = current_rules(session)
    before, after = audit.apply_changes(rules, values, RULE_FIELDS)
    if not after:
        return None
    session.flush()
    audit.record(session, "lifecycle_rules", rules.id, "changed", actor_id, now, before, after)
    return recompute_phases(session, now, "rules")


def phase_counts(session: Session) -> dict[str, int]:
    rows = session.execute(select(Customer.lifecycle_phase, func.count()).group_by(Customer.lifecycle_phase))
    return dict(rows.all())
