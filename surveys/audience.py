"""Who a survey asks: limits by value class, lifecycle phase, satisfaction (the latest NPS answer), language,
product category and earlier answers, as SQL conditions the invitation jobs add to their queries.

An audience is a dict stored on the survey (None: everyone). Conditions that need data of packages further
up (a resolved case lives in feedback) are registered here at start-up, so surveys imports none of them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, exists, func, literal, or_, select, true
from sqlalchemy.orm import Session, aliased

from customers.models import Customer, Purchase
from surveys.kinds import NPS
from surveys.models import Invitation, Response, Survey

VALUE_CLASSES = ("A", "B", "C")
SATISFACTION = ("promoter", "passive", "detractor", "unknown")
LOCALES = ("de", "en")
KEYS = ("value_classes", "phases", "satisfaction", "locales", "categories", "after_resolved_case")

# name -> function(customer id column) -> condition; e.g. feedback's "their latest case was resolved".
_conditions: dict[str, Callable[[ColumnElement], ColumnElement[bool]]] = {}


def register_condition(name: str, condition: Callable[[ColumnElement], ColumnElement[bool]]) -> None:
    _conditions[name] = condition


def clean(values: dict) -> dict | None:
    """The stored form: only the limits that are set; None when the survey asks everyone."""
    audience = {}
    for key in KEYS[:-1]:
        chosen = sorted({str(v).strip() for v in values.get(key) or [] if str(v).strip()})
        if chosen:
            audience[key] = chosen
    if values.get("after_resolved_case"):
        audience["after_resolved_case"] = True
    return audience or None


def latest_nps_class(customer_id: ColumnElement) -> ColumnElement[str]:
    """The class of the customer's latest NPS answer, "unknown" when never answered."""
    nps = aliased(Survey)
    score = (
        select(Response.score)
        .join(nps, nps.id == Response.survey_id)
        .where(Response.customer_id == customer_id, nps.kind == "nps", Response.score.is_not(None))
        .order_by(Response.created_at.desc(), Response.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return NPS.sql_class(score, otherwise=literal("unknown"))


def conditions(audience: dict | None, purchase_category: ColumnElement | None = None) -> list[ColumnElement[bool]]:
    """WHERE conditions on a query that joins Customer (and, for purchase surveys, the triggering Purchase).

    A category limit looks at the triggering purchase when there is one, else at any purchase of the customer.
    """
    if not audience:
        return []
    found: list[ColumnElement[bool]] = []
    if audience.get("value_classes"):
        found.append(Customer.value_class.in_(audience["value_classes"]))
    if audience.get("phases"):
        found.append(Customer.lifecycle_phase.in_(audience["phases"]))
    if audience.get("locales"):
        found.append(Customer.locale.in_(audience["locales"]))
    if audience.get("satisfaction"):
        found.append(latest_nps_class(Customer.id).in_(audience["satisfaction"]))
    if audience.get("categories"):
        if purchase_category is not None:
            found.append(purchase_category.in_(audience["categories"]))
        else:
            bought = aliased(Purchase)
            found.append(exists().where(bought.customer_id == Customer.id, bought.category.in_(audience["categories"])))
    if audience.get("after_resolved_case"):
        condition = _conditions.get("after_resolved_case")
        found.append(condition(Customer.id) if condition else true())
    return found


def mailable() -> list[ColumnElement[bool]]:
    """Conditions on Customer: an address we may write to (not unsubscribed, not bounced; erased customers have
    none)."""
    return [Customer.email.is_not(None), Customer.unsubscribed_at.is_(None), Customer.email_invalid_at.is_(None)]


def due_window(survey: Survey, now: datetime) -> tuple[datetime, datetime]:
    """(oldest, newest): events in (oldest, newest] are due for the survey now, past its delay and not older
    than its catch-up period (history is never mailed)."""
    newest = now - timedelta(days=survey.delay_days)
    return newest - timedelta(days=survey.catchup_days), newest


def quiet(
    survey: Survey,
    now: datetime,
    customer_id: ColumnElement,
    apart_from: ColumnElement | None = None,
    since: ColumnElement | None = None,
) -> ColumnElement[bool]:
    """No invitation of any survey, by any channel, within the survey's quiet period; apart from the invitation
    `apart_from` names (a printed link's, which the mail then delivers again) when it is not NULL. `since`, a bound
    parameter, stands for the period's start in a statement built once and run many times (the widget's check)."""
    earlier = aliased(Invitation)
    start = since if since is not None else now - timedelta(days=survey.quiet_days)
    found = [earlier.customer_id == customer_id, earlier.created_at > start]
    if apart_from is not None:
        found.append(or_(apart_from.is_(None), earlier.id != apart_from))
    return ~exists().where(*found)


def reachable(survey: Survey, now: datetime, customer_id: ColumnElement) -> list[ColumnElement[bool]]:
    """What every invitation job asks of a customer: mailable, and quiet (see `quiet`)."""
    return [*mailable(), quiet(survey, now, customer_id)]


def preview(session: Session, audience: dict | None, kind: str, now: datetime) -> dict[str, int]:
    """How many customers the audience holds now, and how many of them could be mailed (address known and valid,
    not unsubscribed, not erased; NPS surveys skip churned customers). Counted in the database."""
    matching = select(Customer.id).where(Customer.erased_at.is_(None), *conditions(audience))
    can_mail = matching.where(*mailable(), or_(literal(kind == "churn"), Customer.lifecycle_phase != "churned"))
    return {
        "matching": session.scalar(select(func.count()).select_from(matching.subquery())) or 0,
        "mailable": session.scalar(select(func.count()).select_from(can_mail.subquery())) or 0,
    }


def describe(audience: dict | None) -> list[tuple[str, str]]:
    """(limit, values) pairs for pages; empty when everyone is asked."""
    if not audience:
        return []
    return [(key, ", ".join(audience[key]) if isinstance(audience[key], list) else "yes") for key in audience]
