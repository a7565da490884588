"""The retention part of a customer's data export and erasure (receivers of the customers' signals)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from customers.models import Customer
from customers.privacy import row_dict
from kundenpuls.audit import AuditEvent
from retention.models import CustomerSegment, RetentionRule, SegmentChange, Suggestion


def on_customer_export(customer: Customer, session: Session, **_: object) -> dict:
    segment = session.get(CustomerSegment, customer.id)
    changes = session.scalars(
        select(SegmentChange).where(SegmentChange.customer_id == customer.id).order_by(SegmentChange.id)
    ).all()
    suggestions = session.execute(
        select(Suggestion, RetentionRule.name)
        .join(RetentionRule, RetentionRule.id == Suggestion.rule_id)
        .where(Suggestion.customer_id == customer.id)
        .order_by(Suggestion.id)
    ).all()
    return {
        "segment": row_dict(segment, exclude=("customer_id",)) if segment else None,
        "segment_history": [row_dict(change, exclude=("customer_id",)) for change in changes],
        "retention_suggestions": [
            {**row_dict(suggestion, exclude=("customer_id",)), "rule": name} for suggestion, name in suggestions
        ],
    }


def on_customer_erasure(customer: Customer, session: Session, now: datetime, **_: object) -> dict[str, int]:
    """Why a staff member dismissed a suggestion is free text about the customer; the rest is figures."""
    dismissed = session.execute(
        update(Suggestion)
        .where(Suggestion.customer_id == customer.id, Suggestion.dismiss_reason.is_not(None))
        .values(dismiss_reason=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    mine = select(Suggestion.id).where(Suggestion.customer_id == customer.id)
    session.execute(
        update(AuditEvent)
        .where(AuditEvent.entity == "suggestion", AuditEvent.entity_id.in_(mine), AuditEvent.note.is_not(None))
        .values(note=None)
        .execution_options(synchronize_session=False)
    )
    return {"suggestion_notes": dismissed}
