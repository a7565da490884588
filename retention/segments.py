"""Each customer's segment (value class x lifecycle phase x satisfaction), kept in SQL, with its history.

A refresh computes every fact the cockpit and the retention rules read (retention.segment_facts) and writes only
what changed: the segment row by upsert, and a history row whenever the segment itself moved. It runs for
everyone each night, in slices of CHUNK customer ids so memory stays flat, and for one customer when a churn
answer or a case's root cause arrives. An NPS answer of a placed customer takes a shorter path: the score moves,
the rest waits for the night.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import NamedTuple

from sqlalchemy import (
    JSON,
    String,
    bindparam,
    column,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from analytics.models import SHARDS
from customers.models import Customer
from kundenpuls.dialect import POSTGRESQL, is_postgresql, name_of, set_local, upsert_insert
from kundenpuls.timeutil import UTCDateTime
from retention import cells
from retention.models import CustomerSegment, SegmentChange
from retention.segment_facts import FACTS, KEY, computed_facts
from retention.suggestions import earlier_suggestion
from surveys.models import nps_class

CHUNK = 50_000


def refresh_scope(session: Session, now: datetime, cause: str, customer_ids, id_range) -> Written:
    """History rows for every moved segment, then the upsert of every changed row.

    PostgreSQL runs both in one statement (the history INSERT is a data-modifying CTE and sees the rows as
    they were before the upsert); SQLite runs the same two statements in turn."""
    dialect = name_of(session)
    computed = computed_facts(session, now, customer_ids, id_range).cte("computed")
    old = CustomerSegment.__table__.alias("old")
    history = _history(computed, old, cause)
    insert = upsert_insert(dialect)
    table = CustomerSegment.__table__
    # "WHERE true": SQLite would otherwise read the upsert's ON CONFLICT as a join condition.
    base = insert(table).from_select(["customer_id", *FACTS, "refreshed_at"], select(computed).where(text("true")))
    upsert = base.on_conflict_do_update(
        index_elements=[table.c.customer_id],
        set_={name: base.excluded[name] for name in (*FACTS, "refreshed_at")},
        where=or_(*(table.c[name].is_distinct_from(base.excluded[name]) for name in FACTS)),
    )
    if dialect == POSTGRESQL:
        moves = history.cte("moves")
        upserted = upsert.returning(table.c.customer_id).cte("upserted")
        counts = select(
            select(func.count()).select_from(moves).scalar_subquery(),
            select(func.count()).select_from(upserted).scalar_subquery(),
        )
        moved, written = session.execute(counts).one()
        return Written(moved, written)
    recorded = len(session.execute(history.add_cte(computed)).all())
    written = session.execute(upsert.add_cte(computed)).rowcount
    return Written(recorded, written)


def _history(computed, old, cause: str):
    """The history rows for segments whose key moved. A first placement is not a move: the history holds
    moves only (the segment row says where one stands)."""
    moved = or_(*(computed.c[k] != old.c[k] for k in KEY))
    return (
        SegmentChange.__table__.insert()
        .from_select(
            [
                "customer_id",
                "changed_at",
                "from_value_class",
                "from_phase",
                "from_satisfaction",
                "to_value_class",
                "to_phase",
                "to_satisfaction",
                "cause",
            ],  # fmt: skip
            select(
                computed.c.customer_id,
                computed.c.refreshed_at,
                old.c.value_class,
                old.c.phase,
                old.c.satisfaction,
                computed.c.value_class,
                computed.c.phase,
                computed.c.satisfaction,
                literal(cause, String(10)),
            )
            .select_from(computed.join(old, old.c.customer_id == computed.c.customer_id))
            .where(moved),
        )
        .returning(SegmentChange.id)
    )


class Written(NamedTuple):
    moves: int  # history rows: customers whose segment changed
    rows: int  # segment rows inserted or changed


def refresh_segments(
    session: Session, now: datetime, cause: str = "nightly", customer_ids: list[int] | None = None
) -> int:
    """Bring segments up to date as of `now` (everyone when `customer_ids` is None); returns moves recorded.

    A few customers move between the cockpit's cells by difference; everyone rebuilds the cells."""
    if customer_ids is not None:
        if not customer_ids:
            return 0
        before = cells.cells_of(session, customer_ids, lock=True)
        moved = refresh_scope(session, now, cause, customer_ids, None).moves
        cells.move(session, before, cells.cells_of(session, customer_ids))
    else:
        set_local(session, "jit", "off")
        low, high = session.execute(select(func.min(Customer.id), func.max(Customer.id))).one()
        moved = 0
        for start in range(low or 0, (high or -1) + 1, CHUNK):
            moved += refresh_scope(session, now, cause, None, (start, start + CHUNK - 1)).moves
        cells.rebuild(session, now)
    expire_segments(session, customer_ids)
    return moved


def expire_segments(session: Session, customer_ids: list[int] | None) -> None:
    """Loaded segment rows show what the upsert wrote past the identity map."""
    wanted = None if customer_ids is None else set(customer_ids)
    for obj in list(session.identity_map.values()):
        if isinstance(obj, CustomerSegment) and (wanted is None or obj.customer_id in wanted):
            session.expire(obj)


def apply_answer(session: Session, response, now: datetime) -> None:
    """An answer moves its customer's segment and the rules fire for the customer (retention.answers runs this
    for each stored answer in order, in the scheduler). `response` needs customer_id, score and created_at.
    An answer the segment already holds (the nightly refresh read it first) recomputes the customer from the
    raw rows, which changes nothing twice."""
    from retention.rules import rule_specs
    from retention.suggestions import suggest_one

    if response.customer_id is None:
        return
    facts = _score_moves(session, response, now) if response.score is not None else None
    if facts is None:
        _refresh_one(session, now, "answer", response.customer_id)
    else:
        suggest_one(session, now, response.customer_id, rule_specs(session, now), facts)


_FACT_SQL = ", ".join(FACTS)
_CELL_UPSERT = (
    "INSERT INTO segment_cells (value_class, phase, satisfaction, portfolio, shard, customers, revenue) "
    "SELECT value_class, phase, {satisfaction}, portfolio, :shard, {sign}1, {sign}coalesce(revenue_12m, 0) FROM old "
    "WHERE satisfaction IS DISTINCT FROM CAST(:cls AS VARCHAR) "
    "ON CONFLICT (value_class, phase, satisfaction, portfolio, shard) DO UPDATE SET "
    "customers = segment_cells.customers + excluded.customers, revenue = segment_cells.revenue + excluded.revenue "
    "RETURNING 1"
)
# The whole move of an NPS answer in one round trip on PostgreSQL: lock and read the segment row, move the score,
# and when the satisfaction changes write the history row and shift the customer between cockpit cells (the
# same sums as retention.cells.move); the customer's earlier suggestions come along for the rules. Data-modifying
# CTEs run whether or not the main query reads them.
_MOVE_SCORE = (
    text(
        f"WITH old AS (SELECT customer_id, {_FACT_SQL} FROM customer_segments WHERE customer_id = :cid "
        "AND (answered_at IS NULL OR answered_at < :answered) FOR UPDATE), "
        "moved AS (UPDATE customer_segments AS s SET previous_score = old.score, score = :score, satisfaction = :cls, "
        "answered_at = :answered, refreshed_at = :now FROM old WHERE s.customer_id = old.customer_id "
        "RETURNING s.customer_id), "
        "history AS (INSERT INTO segment_changes (customer_id, changed_at, cause, from_value_class, from_phase, "
        "from_satisfaction, to_value_class, to_phase, to_satisfaction) SELECT customer_id, :now, 'answer', "
        "value_class, phase, satisfaction, value_class, phase, :cls FROM old "
        "WHERE satisfaction IS DISTINCT FROM CAST(:cls AS VARCHAR) RETURNING id), "
        f"cell_out AS ({_CELL_UPSERT.format(satisfaction='satisfaction', sign='-')}), "
        f"cell_in AS ({_CELL_UPSERT.format(satisfaction='CAST(:cls AS VARCHAR)', sign='')}) "
        f"SELECT {_FACT_SQL}, (SELECT coalesce(json_agg(json_build_array(id, rule_id, status, done_at, decided_at)), "
        "'[]') FROM suggestions WHERE customer_id = :cid) AS earlier FROM old"
    )
    .bindparams(bindparam("answered", type_=UTCDateTime()), bindparam("now", type_=UTCDateTime()))
    .columns(*(getattr(CustomerSegment, k) for k in FACTS), column("earlier", JSON()))
)


def _score_moves(session: Session, response, now: datetime) -> SimpleNamespace | None:
    """The answer path for a placed customer's NPS answer: the new score is the latest, the old one becomes the
    previous; value class, phase and purchases stay as the nightly refresh left them. One statement on
    PostgreSQL (three on SQLite) instead of recomputing the customer from the raw rows (every answer comes this
    way, at the rate customers answer), plus the cell move when the satisfaction changes.

    Returns the segment's facts as they are now, or None when the customer is not placed yet or the segment
    already holds this answer or a later one (the caller refreshes them in full)."""
    now_class = nps_class(response.score)
    params = {"cid": response.customer_id, "score": response.score, "cls": now_class,
              "answered": response.created_at, "now": now}  # fmt: skip
    if is_postgresql(session):
        # One round trip: lock and read the row, move the score, and write the history row when the
        # satisfaction changes (data-modifying CTEs run whether or not the main query reads them).
        row = session.execute(_MOVE_SCORE, {**params, "shard": response.customer_id % SHARDS}).one_or_none()
        if row is None:
            return None
        *facts, earlier = row
        before = SimpleNamespace(customer_id=response.customer_id, **dict(zip(FACTS, facts, strict=True)))
        after = SimpleNamespace(**{**vars(before), "previous_score": before.score, "score": response.score,
                                   "satisfaction": now_class, "answered_at": response.created_at})  # fmt: skip
        after.earlier = [earlier_suggestion(*item) for item in earlier]
        expire_segments(session, [response.customer_id])
        return after
    before = _move_score_portable(session, response, now_class, now)
    if before is None:
        return None
    after = SimpleNamespace(**{**vars(before), "previous_score": before.score, "score": response.score,
                               "satisfaction": now_class, "answered_at": response.created_at})  # fmt: skip
    if now_class != before.satisfaction:
        revenue = Decimal(before.revenue_12m or 0)
        cell = (before.value_class, before.phase)
        cells.move(
            session,
            {response.customer_id: ((*cell, before.satisfaction, before.portfolio), revenue)},
            {response.customer_id: ((*cell, now_class, before.portfolio), revenue)},
        )
    expire_segments(session, [response.customer_id])
    return after


def _move_score_portable(session: Session, response, now_class: str, now: datetime) -> SimpleNamespace | None:
    """_score_moves in three statements (SQLite): lock and read, move the score, history row on a change."""
    row = session.execute(
        select(*(getattr(CustomerSegment, k) for k in FACTS))
        .where(
            CustomerSegment.customer_id == response.customer_id,
            or_(CustomerSegment.answered_at.is_(None), CustomerSegment.answered_at < response.created_at),
        )
        .with_for_update()
    ).one_or_none()
    if row is None:
        return None
    before = SimpleNamespace(customer_id=response.customer_id, **dict(zip(FACTS, row, strict=True)))
    session.execute(
        update(CustomerSegment)
        .where(CustomerSegment.customer_id == response.customer_id)
        .values(previous_score=before.score, score=response.score, satisfaction=now_class,
                answered_at=response.created_at, refreshed_at=now),
        execution_options={"synchronize_session": False},
    )  # fmt: skip
    if now_class != before.satisfaction:
        session.execute(
            insert(SegmentChange).values(
                customer_id=response.customer_id, changed_at=now, cause="answer",
                from_value_class=before.value_class, from_phase=before.phase,
                from_satisfaction=before.satisfaction, to_value_class=before.value_class,
                to_phase=before.phase, to_satisfaction=now_class,
            )
        )  # fmt: skip
    return before


def on_root_cause_set(case, session: Session, now: datetime, **_: object) -> None:
    """Receiver of feedback.signals.root_cause_set: a root cause is a reason the rules read ("detractor citing
    price"), so the customer's segment and suggestions follow at once."""
    if case.customer_id is not None:
        _refresh_one(session, now, "case", case.customer_id)


def _refresh_one(session: Session, now: datetime, cause: str, customer_id: int) -> None:
    """One customer's whole segment from the raw rows, then the rules on them."""
    from retention.suggestions import suggest

    refresh_segments(session, now, cause, [customer_id])
    suggest(session, now, [customer_id])
