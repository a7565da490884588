"""What a segment holds: the facts of each customer that the cockpit and the retention rules read, as one
SELECT over customers, their answers, purchases, reasons and purchase-model outlook (retention.segments writes
them). Latest and previous NPS score, portfolio group, purchases in the last 180 days and the 180 before, the
reasons given in the last year, the categories bought in the last two years, and from the purchase models a
P(alive) band, the at-risk flag and a CLV class.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, case, func, literal, select, union
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.orm import Session

from analytics.co_purchase import SEPARATOR
from analytics.models import CustomerOutlook
from analytics.purchase_models import AT_RISK_PHASES
from customers.models import Customer, Purchase
from customers.values import current_value_settings
from feedback.models import Case
from kundenpuls.dialect import is_postgresql
from retention.cockpit import ALIVE_BANDS, ALIVE_BOUNDS, portfolio_column
from retention.models import CustomerSegment
from surveys.kinds import NPS
from surveys.models import ChurnReason, Response, ResponseReason, answers_of

HALF_YEAR = timedelta(days=180)
KEY = ("value_class", "phase", "satisfaction")
FACTS = (
    *KEY, "score", "previous_score", "answered_at", "portfolio", "revenue_12m", "potential", "purchases_recent",
    "purchases_before", "reasons", "categories", "alive_band", "at_risk", "clv_class",
)  # fmt: skip
# How far back a reason the customer gave (churn answer, or the root cause of their case) still counts.
REASON_DAYS = 365
# How far back a purchase's category counts for "has bought X but not Y": a shop's offer built on a purchase
# older than two years is stale, and "not Y" then means "not Y in two years".
CATEGORY_DAYS = 730


def scope(column, customer_ids: list[int] | None, id_range: tuple[int, int] | None) -> list:
    conditions = []
    if customer_ids is not None:
        conditions.append(column.in_(customer_ids))
    if id_range is not None:
        conditions.append(column.between(*id_range))
    return conditions


def computed_facts(session: Session, now: datetime, customer_ids, id_range):
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
        .where(Response.score.is_not(None), answers_of(NPS), *scope(Response.customer_id, customer_ids, id_range))
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
    bought, categories = _purchases(session, now, customer_ids, id_range)
    given = _reasons(session, now, customer_ids, id_range)
    settings = current_value_settings(session)
    score = scores.c.score
    facts = (
        select(
            Customer.id.label("customer_id"),
            func.coalesce(Customer.value_class, "C").label("value_class"),
            Customer.lifecycle_phase.label("phase"),
            NPS.sql_class(score, otherwise="unknown").label("satisfaction"),
            score.label("score"),
            scores.c.previous_score.label("previous_score"),
            scores.c.answered_at.label("answered_at"),
            portfolio_column(settings.portfolio_value_min, settings.portfolio_potential_min).label("portfolio"),
            func.coalesce(Customer.revenue_12m, 0).label("revenue_12m"),
            func.coalesce(Customer.potential_value, Customer.potential_estimate).label("potential"),
            func.coalesce(bought.c.recent, 0).label("purchases_recent"),
            func.coalesce(bought.c.before, 0).label("purchases_before"),
            given.c.reasons.label("reasons"),
            categories.c.categories.label("categories"),
            _alive_band(CustomerOutlook.p_alive).label("alive_band"),
            _at_risk(CustomerOutlook.p_alive, Customer.lifecycle_phase).label("at_risk"),
            CustomerOutlook.clv_class.label("clv_class"),
            literal(now, CustomerSegment.refreshed_at.type).label("refreshed_at"),
        )
        .select_from(Customer)
        .outerjoin(CustomerOutlook, CustomerOutlook.customer_id == Customer.id)
        .outerjoin(scores, scores.c.customer_id == Customer.id)
        .outerjoin(bought, bought.c.customer_id == Customer.id)
        .outerjoin(given, given.c.customer_id == Customer.id)
        .where(*scope(Customer.id, customer_ids, id_range))
    )
    if categories is not bought:
        facts = facts.outerjoin(categories, categories.c.customer_id == Customer.id)
    return facts


def _alive_band(p_alive):
    bounded = [(p_alive < upper, band) for band, upper in zip(ALIVE_BANDS, ALIVE_BOUNDS, strict=False)]
    return case(*bounded, (p_alive.is_not(None), ALIVE_BANDS[-1]), else_=None)


def _at_risk(p_alive, phase):
    """True for a new or existing customer below AT_RISK_P_ALIVE; None without an outlook."""
    return case(
        (p_alive.is_(None), None),
        (and_(phase.in_(AT_RISK_PHASES), p_alive < current_app.config["AT_RISK_P_ALIVE"]), True),
        else_=False,
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
        .where(*scope(Response.customer_id, customer_ids, id_range))
    )
    cases = select(Case.customer_id, Case.root_cause).where(
        Case.created_at > since, Case.root_cause.is_not(None), *scope(Case.customer_id, customer_ids, id_range)
    )
    distinct = union(churn, cases).subquery("given")  # UNION: each reason once per customer
    return _framed_list(session, distinct, "reason", ",", "reasons")


def _purchases(session: Session, now: datetime, customer_ids, id_range):
    """Per customer: purchases in the last half-year and in the one before (bought.c.recent, .before), and the
    categories bought in the last CATEGORY_DAYS as one sorted text framed by co_purchase.SEPARATOR (category names
    may hold commas), which a rule matches with LIKE (categories.c.categories).

    On PostgreSQL one pass over the purchases gives all three (string_agg(DISTINCT ... ORDER BY)): a second pass
    for the categories took the full refresh of bench/cockpit.py from 59.6 s to 63.2 s. SQLite's group_concat
    takes no separator with DISTINCT, so there the categories are a subquery of their own."""
    recent_from, before_from = now - HALF_YEAR, now - 2 * HALF_YEAR
    in_scope = scope(Purchase.customer_id, customer_ids, id_range)
    counts = [
        Purchase.customer_id.label("customer_id"),
        func.count().filter(Purchase.purchased_at > recent_from).label("recent"),
        func.count().filter(Purchase.purchased_at <= recent_from, Purchase.purchased_at > before_from).label("before"),
    ]
    if is_postgresql(session):
        in_order = aggregate_order_by(literal(SEPARATOR), Purchase.category)
        joined = func.string_agg(Purchase.category.distinct(), in_order)
        bought = (
            select(*counts, (literal(SEPARATOR) + joined + literal(SEPARATOR)).label("categories"))
            .where(Purchase.purchased_at > now - timedelta(days=CATEGORY_DAYS), Purchase.purchased_at <= now, *in_scope)
            .group_by(Purchase.customer_id)
            .subquery("bought")
        )
        return bought, bought
    bought = (
        select(*counts)
        .where(Purchase.purchased_at > before_from, Purchase.purchased_at <= now, *in_scope)
        .group_by(Purchase.customer_id)
        .subquery("bought")
    )
    return bought, _categories(session, now, in_scope)


def _categories(session: Session, now: datetime, in_scope: list):
    """The categories column of _purchases as a subquery of its own (SQLite)."""
    distinct = (
        select(Purchase.customer_id.label("customer_id"), Purchase.category.label("category"))
        .where(Purchase.category.is_not(None), Purchase.purchased_at > now - timedelta(days=CATEGORY_DAYS))
        .where(Purchase.purchased_at <= now, *in_scope)
        .distinct()
        .subquery("bought_categories")
    )
    return _framed_list(session, distinct, "category", SEPARATOR, "categories")


def _framed_list(session: Session, distinct, name: str, separator: str, label: str):
    """Per customer_id of `distinct` (each value once per customer), its values of column `name` sorted and
    joined, with the separator before, between and after them: a value is then matched as separator + value +
    separator, never as part of a longer one."""
    value = distinct.c[name]
    if is_postgresql(session):
        joined = func.string_agg(value, aggregate_order_by(literal(separator), value))
    else:
        ordered = select(distinct).order_by(distinct.c.customer_id, value).subquery(f"sorted_{label}")
        distinct, joined = ordered, func.group_concat(ordered.c[name], separator)
    return (
        select(distinct.c.customer_id, (literal(separator) + joined + literal(separator)).label(label))
        .group_by(distinct.c.customer_id)
        .subquery(label)
    )
