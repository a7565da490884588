"""Measures of type "offer": offer category Y to customers who have bought X but not Y, and say why.

The why is the share of the customer's segment (value class x phase) who bought Y within OFFER_DAYS of their first
purchase in X, with its 95 % Wilson interval ("64 % (58-70 %) of A x existing customers who bought Kitchen also
bought Garden within 180 days; this customer has not"). Counted by analytics.co_purchase.follows over customers
whose whole window lies in the past, kept on the rule at every full refresh and every save (the answer path only
reads it). Under MIN_CUSTOMERS in the segment the share over all customers stands in, and says so.
"""

from __future__ import annotations

from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from analytics.co_purchase import follows
from customers.models import phase_label
from retention.models import RetentionRule
from surveys.kinds import wilson

OFFER_DAYS = 180
MIN_CUSTOMERS = 30  # fewer customers in a segment than this: its share is too rough to quote


def clean_offer(value, conditions: dict[str, list[str]], allowed: dict, errors: dict[str, str]) -> str | None:
    """The offered category, checked against the rule's conditions, which gain it as "but not" (never offer
    what the customer has). Problems go to `errors` under offer_category."""
    offer = " ".join(str(value or "").split()) or None
    if offer is None:
        return None
    if offer not in allowed["not_bought"]:
        errors["offer_category"] = _("No purchase has the category %(name)s.", name=offer)
    elif not conditions.get("bought"):
        errors["offer_category"] = _('An offer needs the categories a customer has bought ("Has bought").')
    elif offer not in conditions.get("not_bought", []):
        not_bought = {*conditions.get("not_bought", []), offer}
        conditions["not_bought"] = [v for v in allowed["not_bought"] if v in not_bought]
    return offer


def _key(value_class: str, phase: str) -> str:
    return f"{value_class} {phase}"


def evidence(session: Session, now: datetime, rule: RetentionRule) -> dict | None:
    """How often the offered category followed the bought ones, per segment and overall, as kept on the rule."""
    bought = rule.conditions.get("bought")
    if not rule.offer_category or not bought:
        return None
    counts = follows(session, now, bought, rule.offer_category, OFFER_DAYS)
    everyone = counts.pop(None)
    return {
        "days": OFFER_DAYS,
        "computed_at": now.isoformat(),
        "all": list(everyone),
        "segments": {_key(*segment): list(pair) for segment, pair in counts.items()},
    }


def refresh_evidence(session: Session, now: datetime) -> int:
    """Every active offer rule's evidence anew (the full refresh runs this); returns the rules counted."""
    rules = session.scalars(
        select(RetentionRule).where(RetentionRule.active.is_(True), RetentionRule.offer_category.is_not(None))
    ).all()
    for rule in rules:
        rule.offer_evidence = evidence(session, now, rule)
    return len(rules)


def share(rule: RetentionRule, value_class: str, phase: str) -> tuple[int, int, bool] | None:
    """(customers, followed, for the segment itself) to quote for a customer in this segment, or None."""
    kept = rule.offer_evidence or {}
    mine = kept.get("segments", {}).get(_key(value_class, phase))
    if mine and mine[0] >= MIN_CUSTOMERS:
        return mine[0], mine[1], True
    everyone = kept.get("all")
    if everyone and everyone[0] >= MIN_CUSTOMERS:
        return everyone[0], everyone[1], False
    return None


def _percent(value: float) -> str:
    return f"{100 * value:.0f}"


def why(rule: RetentionRule, value_class: str, phase: str) -> str | None:
    """The offer's why for a customer of this segment, in words; None for a rule that offers nothing."""
    if not rule.offer_category:
        return None
    bought = _(" or ").join(rule.conditions.get("bought", []))
    quoted = share(rule, value_class, phase)
    days = (rule.offer_evidence or {}).get("days", OFFER_DAYS)
    if quoted is None:
        return _(
            "Too few customers bought %(bought)s long enough ago to say how often %(offer)s follows.",
            bought=bought, offer=rule.offer_category,
        )  # fmt: skip
    n, k, own = quoted
    low, high = wilson(k, n)
    figures = {"share": _percent(k / n), "low": _percent(low), "high": _percent(high), "bought": bought,
               "offer": rule.offer_category, "days": days, "n": n}  # fmt: skip
    if own:
        return _(
            "%(share)s %% (%(low)s-%(high)s %%) of %(segment)s customers who bought %(bought)s also bought %(offer)s "
            "within %(days)s days (%(n)s customers); this customer has not.",
            segment=f"{value_class} × {phase_label(phase)}", **figures,
        )  # fmt: skip
    return _(
        "%(share)s %% (%(low)s-%(high)s %%) of all customers who bought %(bought)s also bought %(offer)s within "
        "%(days)s days (%(n)s customers; too few in this segment to say for it); this customer has not.",
        **figures,
    )  # fmt: skip
