"""One customer on one page: phase and its history, purchases, answers with churn reasons, cases, win-back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from customers.models import Cancellation, Customer, LifecycleChange, Purchase
from feedback.models import Case
from surveys.models import ChurnReason, Response, ResponseReason

LATEST = 20


@dataclass
class WinBack:
    """A recoverable reason the customer gave when leaving, with the measure an admin suggests for it."""

    reason: ChurnReason
    main: bool
    answered_at: datetime


@dataclass
class CustomerProfile:
    customer: Customer
    purchase_count: int = 0
    revenue_12m: Decimal = Decimal(0)
    purchases: list[Purchase] = field(default_factory=list)
    history: list[LifecycleChange] = field(default_factory=list)
    cancellations: list[Cancellation] = field(default_factory=list)
    answers: list[Response] = field(default_factory=list)
    cases: list[Case] = field(default_factory=list)
    win_back: list[WinBack] = field(default_factory=list)

    @property
    def gone(self) -> bool:
        return self.customer.lifecycle_phase in ("inactive", "churned")


def win_back(session: Session, customer: Customer) -> list[WinBack]:
    """Recoverable reasons from the customer's latest churn answer, main reason first.

    Only while the customer is inactive or churned: once they buy again the measure has done its job.
    """
    if customer.lifecycle_phase not in ("inactive", "churned"):
        return []
    latest = (
        select(Response.id, Response.created_at)
        .where(Response.customer_id == customer.id, Response.score.is_(None))
        .order_by(Response.created_at.desc(), Response.id.desc())
        .limit(1)
    ).subquery()
    rows = session.execute(
        select(ChurnReason, ResponseReason.main, latest.c.created_at)
        .join(ResponseReason, ResponseReason.reason_id == ChurnReason.id)
        .join(latest, latest.c.id == ResponseReason.response_id)
        .where(ChurnReason.recoverable.is_(True))
        .order_by(ResponseReason.main.desc(), ChurnReason.position)
    ).all()
    return [WinBack(reason, main, at) for reason, main, at in rows]


def customer_profile(session: Session, customer: Customer, now: datetime) -> CustomerProfile:
    profile = CustomerProfile(customer)
    count, revenue = session.execute(
        select(
            func.count(Purchase.id),
            func.coalesce(func.sum(Purchase.amount).filter(Purchase.purchased_at > now - timedelta(days=365)), 0),
        ).where(Purchase.customer_id == customer.id)
    ).one()
    profile.purchase_count, profile.revenue_12m = int(count), Decimal(revenue)
    profile.purchases = session.scalars(
        select(Purchase)
        .where(Purchase.customer_id == customer.id)
        .order_by(Purchase.purchased_at.desc(), Purchase.id.desc())
        .limit(LATEST)
    ).all()
    profile.history = session.scalars(
        select(LifecycleChange)
        .where(LifecycleChange.customer_id == customer.id)
        .order_by(LifecycleChange.changed_at.desc(), LifecycleChange.id.desc())
    ).all()
    profile.cancellations = session.scalars(
        select(Cancellation).where(Cancellation.customer_id == customer.id).order_by(Cancellation.cancelled_at.desc())
    ).all()
    profile.answers = session.scalars(
        select(Response)
        .where(Response.customer_id == customer.id)
        .options(selectinload(Response.reasons))
        .order_by(Response.created_at.desc(), Response.id.desc())
        .limit(LATEST)
    ).all()
    profile.cases = session.scalars(
        select(Case).where(Case.customer_id == customer.id).order_by(Case.created_at.desc())
    ).all()
    profile.win_back = win_back(session, customer)
    return profile
