"""Each customer's segment (value class x lifecycle phase x satisfaction), kept in SQL, with its history.

A refresh computes every fact the cockpit and the retention rules read (latest and previous score, portfolio
group, purchases in the last 180 days and the 180 before) and writes only what changed: the segment row by
upsert, and a history row whenever the segment itself moved. It runs for one customer when an answer
arrives and for everyone each night, in slices of CHUNK customer ids so memory stays flat.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import String, case, func, literal, or_, select, text, union
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session

from analytics import cells
from analytics.cockpit import portfolio_column
from analytics.models import CustomerSegment, SegmentChange, SegmentRun
from customers.models import Customer, Purchase
from customers.values import current_value_settings
from feedback.models import Case
from kundenpuls.timeutil import utcnow
from surveys.models import ChurnReason, Response, ResponseReason

CHUNK = 50_000
HALF_YEAR = timedelta(days=180)
SEGMENT_LOCK = 0x5E6_0001
KEY = ("value_class", "phase", "satisfaction")
FACTS = (
    *KEY, "score", "previous_score", "answered_at", "portfolio", "revenue_12m", "potential", "purchases_recent",
    "purchases_before", "reasons",
)  # fmt: skip
# How far back a reason the customer gave (churn answer, or the root cause of their case) still counts.
REASON_DAYS = 365


def _scope(column, customer_ids: list[int] | None, id_range: tuple[int, int] | None) -> list:
    conditions = []
    if customer_ids is not None:
        conditions.append(column.in_(customer_ids))
    if id_range is not None:
        conditions.append(column.between(*id_range))
    return conditions


def _computed(session: Session, now: datetime, customer_ids, id_range):
    """The segment facts of the customers in scope, as a SELECT (one row per customer)."""
    ranked = (
        select(
            Response.customer_id.label("customer_id"),
            Response.score.label("score"),
            Response.created_at.label("created_at"),
            func.row_number()
            .over(partition_by=Response.customer_id, order_by=(Response.created_at.desc(), Response.id.desc()))
            .label("rank"),
        )
        .where(Response.score.is_not(None), *_scope(Response.customer_id, customer_ids, id_range))
        .subquery("ranked")
    )
    scores = (
        select(
            ranked.c.customer_id,
            func.max(case((ranked.c.rank == 1, ranked.c.score))).label("score"),
            func.max(case((ranked.c.rank == 2, ranked.c.score))).label("previous_score"),
            func.max(case((ranked.c.rank == 1, ranked.c.created_at))).label("answered_at"),
        )
        .where(ranked.c.rank <= 2)
        .group_by(ranked.c.customer_id)
        .subquery("scores")
    )
    recent_from, before_from = now - HALF_YEAR, now - 2 * HALF_YEAR
    bought = (
        select(
            Purchase.customer_id.label("customer_id"),
            func.count().filter(Purchase.purchased_at > recent_from).label("recent"),
            func.count().filter(Purchase.purchased_at <= recent_from).label("before"),
        )
        .where(
            Purchase.purchased_at > before_from,
            Purchase.purchased_at <= now,
            *_scope(Purchase.customer_id, customer_ids, id_range),
        )
        .group_by(Purchase.customer_id)
        .subquery("bought")
    )
    given = _reasons(session, now, customer_ids, id_range)
    settings = current_value_settings(session)
    score = scores.c.score
    return (
        select(
            Customer.id.label("customer_id"),
            func.coalesce(Customer.value_class, "C").label("value_class"),
            Customer.lifecycle_phase.label("phase"),
            case(
                (score >= 9, "promoter"),
                (score >= 7, "passive"),
                (score.is_not(None), "detractor"),
                else_="unknown",
            ).label("satisfaction"),  # fmt: skip
            score.label("score"),
            scores.c.previous_score.label("previous_score"),
            scores.c.answered_at.label("answered_at"),
            portfolio_column(settings.portfolio_value_min, settings.portfolio_potential_min).label("portfolio"),
            func.coalesce(Customer.revenue_12m, 0).label("revenue_12m"),
            func.coalesce(Customer.potential_value, Customer.potential_estimate).label("potential"),
            func.coalesce(bought.c.recent, 0).label("purchases_recent"),
            func.coalesce(bought.c.before, 0).label("purchases_before"),
            given.c.reasons.label("reasons"),
            literal(now, CustomerSegment.refreshed_at.type).label("refreshed_at"),
        )
        .select_from(Customer)
        .outerjoin(scores, scores.c.customer_id == Customer.id)
        .outerjoin(bought, bought.c.customer_id == Customer.id)
        .outerjoin(given, given.c.customer_id == Customer.id)
        .where(*_scope(Customer.id, customer_ids, id_range))
    )


def _reasons(session: Session, now: datetime, customer_ids, id_range):
    """Per customer, the reasons given in the last REASON_DAYS (churn-answer reasons and the root causes of their
    cases) as one sorted text ",delivery,price,", which a rule matches with LIKE."""
    since = now - timedelta(days=REASON_DAYS)
    churn = (
        select(Response.customer_id.label("customer_id"), ChurnReason.key.label("reason"))
        .join(ResponseReason, ResponseReason.response_id == Response.id)
        .join(ChurnReason, ChurnReason.id == ResponseReason.reason_id)
        .where(Response.created_at > since, Response.created_at <= now)
        .where(*_scope(Response.customer_id, customer_ids, id_range))
    )
    cases = select(Case.customer_id, Case.root_cause).where(
        Case.created_at > since, Case.root_cause.is_not(None), *_scope(Case.customer_id, customer_ids, id_range)
    )
    distinct = union(churn, cases).subquery("given")  # UNION: each reason once per customer
    if session.get_bind().dialect.name == "postgresql":
        joined = func.string_agg(distinct.c.reason, aggregate_order_by(literal(","), distinct.c.reason))
    else:
        ordered = select(distinct).order_by(distinct.c.customer_id, distinct.c.reason).subquery("given")
        distinct, joined = ordered, func.group_concat(ordered.c.reason, ",")
    return (
        select(distinct.c.customer_id, (literal(",") + joined + literal(",")).label("reasons"))
        .group_by(distinct.c.customer_id)
        .subquery("reasons")
    )


def _refresh(session: Session, now: datetime, cause: str, customer_ids, id_range) -> int:
    """History rows for every moved segment, then the upsert of every changed row; returns moves recorded.

    PostgreSQL runs both in one statement (the history INSERT is a data-modifying CTE and sees the rows as
    they were before the upsert); SQLite runs the same two statements in turn."""
    dialect = session.get_bind().dialect.name
    computed = _computed(session, now, customer_ids, id_range).cte("computed")
    old = CustomerSegment.__table__.alias("old")
    # A first placement is not a move: the history holds moves only (the segment row says where one stands).
    moved = or_(*(computed.c[k] != old.c[k] for k in KEY))
    history = (
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
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = CustomerSegment.__table__
    # "WHERE true": SQLite would otherwise read the upsert's ON CONFLICT as a join condition.
    base = insert(table).from_select(["customer_id", *FACTS, "refreshed_at"], select(computed).where(text("true")))
    upsert = base.on_conflict_do_update(
        index_elements=[table.c.customer_id],
        set_={name: base.excluded[name] for name in (*FACTS, "refreshed_at")},
        where=or_(*(table.c[name].is_distinct_from(base.excluded[name]) for name in FACTS)),
    )
    if dialect == "postgresql":
        moves = history.cte("moves")
        upserted = upsert.returning(table.c.customer_id).cte("upserted")
        return session.execute(select(func.count()).select_from(moves).add_cte(upserted)).scalar_one()
    recorded = len(session.execute(history.add_cte(computed)).all())
    session.execute(upsert.add_cte(computed))
    return recorded


def refresh_segments(
    session: Session, now: datetime, cause: str = "nightly", customer_ids: list[int] | None = None
) -> int:
    """Bring segments up to date as of `now` (everyone when `customer_ids` is None); returns moves recorded.

    A few customers move between the cockpit's cells by difference; everyone rebuilds the cells."""
    if customer_ids is not None:
        if not customer_ids:
            return 0
        before = cells.cells_of(session, customer_ids, lock=True)
        moved = _refresh(session, now, cause, customer_ids, None)
        cells.move(session, before, cells.cells_of(session, customer_ids))
    else:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SET LOCAL jit = off"))
        low, high = session.execute(select(func.min(Customer.id), func.max(Customer.id))).one()
        moved = 0
        for start in range(low or 0, (high or -1) + 1, CHUNK):
            moved += _refresh(session, now, cause, None, (start, start + CHUNK - 1))
        cells.rebuild(session, now)
    _expire(session, customer_ids)
    return moved


def _expire(session: Session, customer_ids: list[int] | None) -> None:
    """Loaded segment rows show what the upsert wrote past the identity map."""
    wanted = None if customer_ids is None else set(customer_ids)
    for obj in list(session.identity_map.values()):
        if isinstance(obj, CustomerSegment) and (wanted is None or obj.customer_id in wanted):
            session.expire(obj)


def on_response_submitted(response, session: Session, now: datetime, **_: object) -> None:
    """Receiver of surveys.signals.response_submitted: the answer moves the segment at once and the rules
    fire for this customer, in the answer's transaction."""
    from analytics.suggestions import suggest

    if response.customer_id is None:
        return
    refresh_segments(session, now, "answer", [response.customer_id])
    suggest(session, now, [response.customer_id])


def on_root_cause_set(case, session: Session, now: datetime, **_: object) -> None:
    """Receiver of feedback.signals.root_cause_set: a root cause is a reason the rules read ("detractor citing
    price"), so the customer's segment and suggestions follow at once."""
    from analytics.suggestions import suggest

    if case.customer_id is None:
        return
    refresh_segments(session, now, "case", [case.customer_id])
    suggest(session, now, [case.customer_id])


def _due(session: Session, now: datetime, hour: int) -> bool:
    """Once a day after `hour` UTC; the first run after install at once (the backfill)."""
    last = session.scalar(select(func.max(SegmentRun.started_at)).where(SegmentRun.finished_at.is_not(None)))
    if last is None:
        return True
    boundary = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    if now < boundary:
        boundary -= timedelta(days=1)
    return last < boundary


def _try_lock(session: Session) -> bool:
    if session.get_bind().dialect.name != "postgresql":
        return True
    return bool(session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": SEGMENT_LOCK}).scalar())


def refresh_all(session: Session, now: datetime) -> SegmentRun:
    """Every customer's segment, then every rule on every customer, slice by slice; logged as a run."""
    from analytics.suggestions import suggest

    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL jit = off"))
    run = SegmentRun(started_at=now)
    session.add(run)
    low, high = session.execute(select(func.min(Customer.id), func.max(Customer.id))).one()
    postgresql = session.get_bind().dialect.name == "postgresql"
    for start in range(low or 0, (high or -1) + 1, CHUNK):
        id_range = (start, start + CHUNK - 1)
        moved = _refresh(session, now, "nightly", None, id_range)
        # After a mass insert the planner still believes the tables are small and picks nested loops that
        # turn quadratic (8 s instead of 0.1 s for 30,000 customers): tell it what is there. ANALYZE sees this
        # transaction's own rows.
        if postgresql and moved > CHUNK // 10:
            session.execute(text("ANALYZE customer_segments"))
        made = suggest(session, now, id_range=id_range)
        if postgresql and made > CHUNK // 10:
            session.execute(text("ANALYZE suggestions"))
        run.changes += moved
        run.suggestions += made
    cells.rebuild(session, now)
    run.customers = session.scalar(select(func.count()).select_from(CustomerSegment)) or 0
    run.finished_at = utcnow()
    _expire(session, None)
    session.flush()
    return run


def last_run(session: Session) -> SegmentRun | None:
    """The latest finished full refresh (the cockpit says how fresh its figures are)."""
    finished = select(SegmentRun).where(SegmentRun.finished_at.is_not(None))
    return session.scalars(finished.order_by(SegmentRun.started_at.desc()).limit(1)).first()


def nightly_refresh(session: Session, now: datetime) -> int | None:
    """Scheduler job: the full refresh once a night (NIGHTLY_HOUR UTC); one scheduler at a time."""
    if not _due(session, now, NIGHTLY_HOUR) or not _try_lock(session):
        session.rollback()
        return None
    run = refresh_all(session, now)
    session.commit()
    return run.changes


NIGHTLY_HOUR = 2
