"""The cockpit's counts per segment and portfolio group, kept next to the segments (analytics.models.SegmentCell).

A full refresh rebuilds them with one GROUP BY; a refresh of a few customers (an answer) moves those customers
between cells by the difference of their rows before and after, in the same transaction. The cockpit then
sums a few hundred rows instead of grouping every customer.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from sqlalchemy import delete, func, insert, literal, select, text
from sqlalchemy.orm import Session

from analytics.models import SHARDS
from customers.values import current_value_settings
from retention.models import CustomerSegment, SegmentCell, SegmentCellBuild

CellKey = tuple[str, str, str, str]  # value class, phase, satisfaction, portfolio
_COLUMNS = (
    CustomerSegment.value_class,
    CustomerSegment.phase,
    CustomerSegment.satisfaction,
    CustomerSegment.portfolio,
)


def rebuild(session: Session, now: datetime) -> None:
    """All cells from the segments as they are (shard 0), with the portfolio thresholds they were placed by."""
    session.execute(delete(SegmentCell))
    session.execute(
        insert(SegmentCell).from_select(
            ["value_class", "phase", "satisfaction", "portfolio", "shard", "customers", "revenue"],
            select(*_COLUMNS, literal(0), func.count(), func.coalesce(func.sum(CustomerSegment.revenue_12m), 0))
            .group_by(*_COLUMNS),
        )
    )  # fmt: skip
    settings = current_value_settings(session)
    build = session.get(SegmentCellBuild, 1) or SegmentCellBuild(id=1)
    build.built_at = now
    build.portfolio_value_min = settings.portfolio_value_min
    build.portfolio_potential_min = settings.portfolio_potential_min
    session.add(build)
    session.flush()


def cells_of(session: Session, customer_ids: list[int], lock: bool = False) -> dict[int, tuple[CellKey, Decimal]]:
    """Where these customers count now. `lock` holds their segment rows until commit, so that the difference
    taken after the refresh is against what is really there (a nightly refresh may be writing them)."""
    statement = select(CustomerSegment.customer_id, *_COLUMNS, CustomerSegment.revenue_12m).where(
        CustomerSegment.customer_id.in_(customer_ids)
    )
    if lock:
        statement = statement.with_for_update()
    return {row[0]: (tuple(row[1:5]), Decimal(row[5] or 0)) for row in session.execute(statement)}


def move(session: Session, before: dict, after: dict) -> None:
    """Take the customers out of their old cells and into their new ones (one upsert per touched cell row)."""
    deltas: dict[tuple[CellKey, int], list] = defaultdict(lambda: [0, Decimal(0)])
    for customer_id in before.keys() | after.keys():
        old, new = before.get(customer_id), after.get(customer_id)
        if old == new:
            continue
        shard = customer_id % SHARDS
        if old is not None:
            deltas[(old[0], shard)][0] -= 1
            deltas[(old[0], shard)][1] -= old[1]
        if new is not None:
            deltas[(new[0], shard)][0] += 1
            deltas[(new[0], shard)][1] += new[1]
    rows = [
        {"value_class": k[0], "phase": k[1], "satisfaction": k[2], "portfolio": k[3], "shard": shard,
         "customers": count, "revenue": float(revenue)}
        for (k, shard), (count, revenue) in sorted(deltas.items()) if count or revenue
    ]  # fmt: skip
    if not rows:
        return
    session.execute(_MOVE, rows)


# Plain SQL that PostgreSQL and SQLite both read: SQLAlchemy compiles an ON CONFLICT ... excluded statement
# anew on every call, which cost more than running it on the answer path.
_MOVE = text(
    "INSERT INTO segment_cells (value_class, phase, satisfaction, portfolio, shard, customers, revenue) "
    "VALUES (:value_class, :phase, :satisfaction, :portfolio, :shard, :customers, :revenue) "
    "ON CONFLICT (value_class, phase, satisfaction, portfolio, shard) DO UPDATE SET "
    "customers = segment_cells.customers + excluded.customers, revenue = segment_cells.revenue + excluded.revenue"
)


def built(session: Session) -> SegmentCellBuild | None:
    return session.get(SegmentCellBuild, 1)
