"""One customer on one page: phase and its history, purchases, answers with churn reasons, cases, win-back."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from analytics.purchase_models import CustomerModelView, customer_outlook, outlook_json
from customers.description import contacts_of, description_of, revenue_by_offer
from customers.models import Cancellation, Customer, CustomerContact, CustomerDescription, LifecycleChange, Purchase
from customers.values import clv, current_value_settings
from feedback.models import OPEN, Case
from feedback.services import NOTE_KINDS
from kundenpuls.audit import AuditEvent
from retention.models import CustomerSegment, SegmentChange, SegmentStrategy, Suggestion
from retention.rules import sentence
from retention.suggestions import customer_suggestions
from surveys.kinds import NPS
from surveys.models import ChurnReason, Response, ResponseReason, answers_of, nps_class

LATEST = 20


@dataclass
class WinBack:
    """A recoverable reason the customer gave when leaving, with the measure an admin suggests for it."""

    reason: ChurnReason
    main: bool
    answered_at: datetime


@dataclass
class Satisfaction:
    """The customer's latest NPS answer and how it moved. Never asked is "unknown", never "neutral"."""

    nps_class: str  # promoter | passive | detractor | unknown
    score: int | None = None
    previous_score: int | None = None
    answered_at: datetime | None = None

    @property
    def trend(self) -> int | None:
        """Latest score minus the one before (None with fewer than two answers)."""
        if self.score is None or self.previous_score is None:
            return None
        return self.score - self.previous_score


def satisfaction(session: Session, customer_id: int) -> Satisfaction:
    latest = session.execute(
        select(Response.score, Response.created_at)
        .where(Response.customer_id == customer_id, Response.score.is_not(None), answers_of(NPS))
        .order_by(Response.created_at.desc(), Response.id.desc())
        .limit(2)
    ).all()
    if not latest:
        return Satisfaction("unknown")
    score, at = latest[0]
    return Satisfaction(nps_class(score) or "unknown", score, latest[1][0] if len(latest) > 1 else None, at)


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
    satisfaction: Satisfaction = field(default_factory=lambda: Satisfaction("unknown"))
    retention_rate: Decimal = Decimal("0.8")
    discount_rate: Decimal = Decimal("0.1")
    segment: CustomerSegment | None = None
    strategy: SegmentStrategy | None = None
    segment_history: list[SegmentChange] = field(default_factory=list)
    suggestions: list[Suggestion] = field(default_factory=list)
    description: CustomerDescription | None = None
    contacts: list[CustomerContact] = field(default_factory=list)
    revenue_by_offer: list[tuple[str | None, float, float | None]] = field(default_factory=list)
    notes: list[AuditEvent] = field(default_factory=list)
    model: CustomerModelView | None = None  # the purchase-behaviour models' outlook, when a fit covers the customer

    @property
    def segment_key(self) -> tuple[str, str, str]:
        """Value class x phase x satisfaction; before the first refresh, from the customer and their answers."""
        if self.segment is not None:
            return self.segment.key
        return (self.customer.value_class or "C", self.customer.lifecycle_phase, self.satisfaction.nps_class)

    @property
    def clv(self) -> Decimal | None:
        return clv(self.customer.margin_12m, self.retention_rate, self.discount_rate)

    @property
    def clv_formula(self) -> str:
        """The CLV with its numbers, so nobody has to trust a black box."""
        margin = self.customer.margin_12m
        r, d = self.retention_rate, self.discount_rate
        return f"{margin or 0:.2f} × {r:.2f} / (1 + {d:.2f} − {r:.2f})"

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
    profile.satisfaction = satisfaction(session, customer.id)
    settings = current_value_settings(session)
    profile.retention_rate, profile.discount_rate = settings.retention_rate, settings.discount_rate
    profile.segment = session.get(CustomerSegment, customer.id)
    profile.strategy = session.get(SegmentStrategy, profile.segment_key)
    profile.segment_history = session.scalars(
        select(SegmentChange)
        .where(SegmentChange.customer_id == customer.id)
        .order_by(SegmentChange.changed_at.desc(), SegmentChange.id.desc())
        .limit(LATEST)
    ).all()
    profile.suggestions = customer_suggestions(session, customer.id)
    profile.description = description_of(session, customer.id)
    profile.contacts = contacts_of(session, customer.id)
    profile.revenue_by_offer = revenue_by_offer(session, customer.id, now)
    profile.notes = case_notes(session, [case.id for case in profile.cases])
    profile.model = customer_outlook(session, customer.id)
    return profile


def case_notes(session: Session, case_ids: list[int]) -> list[AuditEvent]:
    """Notes, contacts, the customer's answers and replies recorded on the customer's cases, newest first."""
    if not case_ids:
        return []
    return list(
        session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.entity == "case",
                AuditEvent.entity_id.in_(case_ids),
                AuditEvent.action.in_((*NOTE_KINDS, "reply")),
            )
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
            .limit(LATEST)
        )
    )


def _money(value) -> float | None:
    return None if value is None else float(value)


def customer_json(profile: CustomerProfile) -> dict:
    """The API's view of a customer: phase, value, segment dimensions, satisfaction, churn reasons, cases."""
    c, sat = profile.customer, profile.satisfaction
    churn_answers = [r for r in profile.answers if r.score is None]
    return {
        "external_id": c.external_id,
        "name": c.name,
        "email": c.email,
        "locale": c.locale,
        "lifecycle_phase": c.lifecycle_phase,
        "phase_since": c.phase_since.isoformat() if c.phase_since else None,
        "purchases": {
            "count": profile.purchase_count,
            "first": c.first_purchase_at.isoformat() if c.first_purchase_at else None,
            "last": c.last_purchase_at.isoformat() if c.last_purchase_at else None,
        },
        "value": _value_json(profile),
        "outlook": outlook_json(profile.model) if profile.model else None,
        "segment": _segment_json(profile),
        "satisfaction": {
            "nps_class": sat.nps_class,
            "score": sat.score,
            "previous_score": sat.previous_score,
            "trend": sat.trend,
            "answered_at": sat.answered_at.isoformat() if sat.answered_at else None,
        },
        "churn_reasons": [
            {"key": rr.reason.key, "main": rr.main, "answered_at": answer.created_at.isoformat()}
            for answer in churn_answers
            for rr in answer.reasons
        ],
        "win_back": [{"reason": w.reason.key, "measure": w.reason.measure("en")} for w in profile.win_back],
        "open_cases": sum(1 for case in profile.cases if case.status in OPEN),
        "description": description_json(profile),
        "interactions": [
            {"case_id": n.entity_id, "kind": n.action, "at": n.at.isoformat(), "text": n.note} for n in profile.notes
        ],
        "suggestions": [_suggestion_json(s) for s in profile.suggestions],
    }


def _value_json(profile: CustomerProfile) -> dict:
    c = profile.customer
    return {
        "revenue_12m": float(profile.revenue_12m),
        "margin_12m": _money(c.margin_12m),
        "potential": _money(c.potential_value),
        "potential_estimate": _money(c.potential_estimate),
        "value_class": c.value_class,
        "clv": _money(profile.clv),
        "clv_formula": "margin_12m * r / (1 + d - r)",
        "clv_rates": {"r": float(profile.retention_rate), "d": float(profile.discount_rate)},
    }


def _segment_json(profile: CustomerProfile) -> dict:
    return {
        "value_class": profile.segment_key[0],
        "lifecycle_phase": profile.segment_key[1],
        "satisfaction": profile.segment_key[2],
        "portfolio": profile.segment.portfolio if profile.segment else None,
        "strategy": profile.strategy.direction if profile.strategy else None,
        "service_level": profile.strategy.service_level if profile.strategy else None,
        "history": [
            {
                "changed_at": h.changed_at.isoformat(),
                "from": [h.from_value_class, h.from_phase, h.from_satisfaction] if h.from_satisfaction else None,
                "to": [h.to_value_class, h.to_phase, h.to_satisfaction],
                "cause": h.cause,
            }
            for h in profile.segment_history
        ],
    }


def _suggestion_json(s) -> dict:
    return {
        "id": s.id,
        "rule": s.rule.name,
        "status": s.status,
        "measure": s.rule.measure("en"),
        "owner_role": s.rule.owner_role,
        "due_days": s.rule.due_days,
        "why": sentence(s.rule, "en", s, s.conditions),
        "created_at": s.created_at.isoformat(),
        "case_id": s.case_id,
        "dismiss_reason": s.dismiss_reason,
    }


def description_json(profile: CustomerProfile) -> dict:
    """The five fields: company, buying centre, what they value, needs/demand/potential, finance."""
    d, c = profile.description, profile.customer
    text = lambda name: getattr(d, name) if d is not None else None  # noqa: E731
    return {
        "company": {
            "legal_form": text("legal_form"),
            "group": text("company_group"),
            "industry": text("industry"),
            "business_units": text("business_units"),
        },
        "buying_centre": [
            {"name": p.name, "role": p.role, "job_title": p.job_title, "email": p.email, "phone": p.phone}
            for p in profile.contacts
        ],
        "what_they_value": text("what_they_value"),
        "needs": {
            "text": text("needs"),
            "potential": _money(c.potential_value),
            "potential_estimate": _money(c.potential_estimate),
        },
        "finance": {
            "revenue_by_offer": [
                {"category": category, "revenue_12m": revenue, "margin_12m": margin}
                for category, revenue, margin in profile.revenue_by_offer
            ],
            "margin_12m": _money(c.margin_12m),
            "credit_rating": text("credit_rating"),
            "payment_terms": text("payment_terms"),
            "pricing": text("pricing"),
        },
    }
