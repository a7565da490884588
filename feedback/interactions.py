"""The interaction as data (issue 24): on each case the agent records why the customer got in touch (a contact
reason, a list kept as data), what mattered most to the customer and the measure taken; the central problem is the
case's root cause. Audited like every change to a case."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from feedback.models import Case, ContactReason
from feedback.services import _check_version
from kundenpuls import audit
from kundenpuls.models import User

MAX_PRIORITY, MAX_MEASURE = 300, 1000


def contact_reasons(session: Session, keep: int | None = None) -> list[ContactReason]:
    """The reasons on offer, in order (plus `keep`, a retired one a case still has)."""
    statement = select(ContactReason).order_by(ContactReason.position, ContactReason.id)
    return [r for r in session.scalars(statement) if r.retired_at is None or r.id == keep]


def set_interaction(
    session: Session, case: Case, reason_id: int | None, priority: str | None, measure: str | None, actor: User,
    now: datetime, version: int | None,
) -> bool:  # fmt: skip
    """Record the interaction's fields; False when nothing changed."""
    priority, measure = (priority or "").strip() or None, (measure or "").strip() or None
    if reason_id is not None and reason_id not in {r.id for r in contact_reasons(session, case.contact_reason_id)}:
        raise ValueError("unknown or retired contact reason")
    if priority is not None and len(priority) > MAX_PRIORITY or measure is not None and len(measure) > MAX_MEASURE:
        raise ValueError("text too long")
    _check_version(case, version)
    before = {"contact_reason_id": case.contact_reason_id, "customer_priority": case.customer_priority,
              "measure_taken": case.measure_taken}  # fmt: skip
    after = {"contact_reason_id": reason_id, "customer_priority": priority, "measure_taken": measure}
    if before == after:
        return False
    case.contact_reason_id, case.customer_priority, case.measure_taken = reason_id, priority, measure
    session.flush()
    audit.record(session, "case", case.id, "interaction", actor.id, now, before, after)
    return True
