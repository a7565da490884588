"""The feedback queue's part of a customer's data export and erasure (receivers of the customers' signals)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from customers.models import Customer
from customers.privacy import plain, row_dict
from feedback.models import Case
from kundenpuls.audit import AuditEvent


def _case_ids(customer: Customer):
    return select(Case.id).where(Case.customer_id == customer.id)


def on_customer_export(customer: Customer, session: Session, **_: object) -> dict:
    cases = session.scalars(select(Case).where(Case.customer_id == customer.id).order_by(Case.id)).all()
    events = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.entity == "case", AuditEvent.entity_id.in_([case.id for case in cases]))
        .order_by(AuditEvent.at, AuditEvent.id)
    ).all()
    timeline: dict[int, list[dict]] = {}
    for event in events:
        timeline.setdefault(event.entity_id, []).append(
            {"at": plain(event.at), "action": event.action, "note": event.note, "after": event.after}
        )
    return {
        "cases": [
            {
                **row_dict(case, exclude=("customer_id", "priority_reasons", "version", "rank_at", "owner_id")),
                "timeline": timeline.get(case.id, []),
            }
            for case in cases
        ]
    }


def on_customer_erasure(customer: Customer, session: Session, now: datetime, **_: object) -> dict[str, int]:
    """Notes, replies and the customer's answers recorded on their cases lose their text; the cases, their
    statuses and times stay for the queue figures."""
    notes = session.execute(
        update(AuditEvent)
        .where(AuditEvent.entity == "case", AuditEvent.entity_id.in_(_case_ids(customer)))
        .where(AuditEvent.note.is_not(None) | (AuditEvent.action == "reply"))
        .values(note=None, after=None)
        .execution_options(synchronize_session=False)
    ).rowcount
    return {"case_notes": notes}
