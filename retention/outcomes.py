"""What each retention rule's measures achieved: suggestions by status, and for the measures done, the customers'
satisfaction and purchases after the measure against before it (the rules page)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Float, Subquery, and_, case, cast, func, select
from sqlalchemy.orm import Session

from customers.models import Purchase
from kundenpuls.dialect import plus_days
from retention.models import RetentionRule, Suggestion
from retention.suggestions import OUTCOME_DAYS
from surveys.kinds import NPS
from surveys.models import Response, answers_of


@dataclass
class Outcome:
    """What a rule's measures did: suggestions by status, then for the measures done, the customers'
    satisfaction and purchases after the measure against before it."""

    rule: RetentionRule
    counts: dict[str, int]
    done: int = 0
    # The latest score when the rule fired and the first score answered after the measure was done.
    answered_after: int = 0
    score_before: float | None = None
    score_after: float | None = None
    nps_before: float | None = None
    nps_after: float | None = None
    # Purchases per customer in the OUTCOME_DAYS before the suggestion and after the measure, for the measures
    # done at least that long ago (a shorter window would count too few purchases after).
    settled: int = 0
    purchases_before: float | None = None
    purchases_after: float | None = None
    # Of the settled measures of an offer rule: customers who bought the offered category in the OUTCOME_DAYS after.
    took_offer: int = 0

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def _nps(score):
    return case((NPS.sql_in(score, "promoter"), 100.0), (NPS.sql_in(score, "detractor"), -100.0), else_=0.0)


def rule_outcomes(session: Session, now: datetime) -> list[Outcome]:
    """Per rule, all counted in SQL: suggestions by status, and the before/after figures of done measures."""
    rules = session.scalars(select(RetentionRule).order_by(RetentionRule.position, RetentionRule.id)).all()
    outcomes = {
        rule.id: Outcome(rule, dict.fromkeys(("open", "accepted", "dismissed", "done", "lapsed"), 0)) for rule in rules
    }
    for rule_id, status, count in session.execute(
        select(Suggestion.rule_id, Suggestion.status, func.count()).group_by(Suggestion.rule_id, Suggestion.status)
    ):
        outcomes[rule_id].counts[status] = int(count)
    per_measure = _per_measure(session, now)
    answered = and_(per_measure.c.before.is_not(None), per_measure.c.after.is_not(None))
    rows = session.execute(
        select(
            per_measure.c.rule_id,
            func.count(),
            func.count().filter(answered),
            func.avg(cast(per_measure.c.before, Float)).filter(answered),
            func.avg(cast(per_measure.c.after, Float)).filter(answered),
            func.avg(_nps(per_measure.c.before)).filter(answered),
            func.avg(_nps(per_measure.c.after)).filter(answered),
            func.count(per_measure.c.bought_before),
            func.avg(cast(per_measure.c.bought_before, Float)),
            func.avg(cast(per_measure.c.bought_after, Float)),
            func.count().filter(per_measure.c.took_offer),
        ).group_by(per_measure.c.rule_id)
    ).all()
    for rule_id, done, n_answered, s_before, s_after, n_before, n_after, n_settled, p_before, p_after, took in rows:
        o = outcomes[rule_id]
        o.took_offer = int(took)
        o.done, o.answered_after, o.settled = int(done), int(n_answered), int(n_settled)
        o.score_before, o.score_after = _round(s_before, 1), _round(s_after, 1)
        o.nps_before, o.nps_after = _round(n_before, 0), _round(n_after, 0)
        o.purchases_before, o.purchases_after = _round(p_before, 2), _round(p_after, 2)
    return list(outcomes.values())


def _per_measure(session: Session, now: datetime) -> Subquery:
    """One row per done measure: the score before it, the first score after it, and purchases in the
    OUTCOME_DAYS before it was suggested and after it was done (only once that window has passed)."""
    after = (
        select(Response.score)
        .where(
            Response.customer_id == Suggestion.customer_id,
            Response.score.is_not(None),
            answers_of(NPS),
            Response.created_at > Suggestion.done_at,
        )
        .order_by(Response.created_at, Response.id)
        .limit(1)
        .correlate(Suggestion)
        .scalar_subquery()
    )
    window = timedelta(days=OUTCOME_DAYS)
    days = lambda column, n: plus_days(session, column, n)  # noqa: E731
    bought = lambda start, end: (  # noqa: E731
        select(func.count(Purchase.id))
        .where(
            Purchase.customer_id == Suggestion.customer_id, Purchase.purchased_at > start, Purchase.purchased_at <= end
        )
        .correlate(Suggestion)
        .scalar_subquery()
    )
    settled = Suggestion.done_at <= now - window
    took_offer = (
        select(Purchase.id)
        .where(
            Purchase.customer_id == Suggestion.customer_id,
            Purchase.category == RetentionRule.offer_category,
            Purchase.purchased_at > Suggestion.done_at,
            Purchase.purchased_at <= days(Suggestion.done_at, OUTCOME_DAYS),
        )
        .correlate(Suggestion, RetentionRule)
        .exists()
    )
    return (
        select(
            Suggestion.rule_id,
            Suggestion.score.label("before"),
            after.label("after"),
            case((settled, bought(days(Suggestion.created_at, -OUTCOME_DAYS), Suggestion.created_at))).label(
                "bought_before"
            ),
            case((settled, bought(Suggestion.done_at, days(Suggestion.done_at, OUTCOME_DAYS)))).label("bought_after"),
            and_(settled, RetentionRule.offer_category.is_not(None), took_offer).label("took_offer"),
        )
        .join(RetentionRule, RetentionRule.id == Suggestion.rule_id)
        .where(Suggestion.status == "done")
        .subquery()
    )


def _round(value, digits: int) -> float | None:
    return None if value is None else round(float(value), digits)
