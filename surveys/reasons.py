"""The churn-reason taxonomy as data: admins add, rename, retire and restore reasons, audited.

Answers point at a reason's id, so a rename changes how old answers read (the reason meant the same
thing) and a retired reason is no longer offered but still shows and counts in old answers.
"""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from kundenpuls import audit
from surveys.models import ChurnReason

FIELDS = ("label_de", "label_en", "position", "recoverable", "measure_de", "measure_en")


def all_reasons(session: Session) -> list[ChurnReason]:
    """Active reasons first in the admin's order, then retired ones."""
    return list(
        session.scalars(
            select(ChurnReason).order_by(ChurnReason.retired_at.is_not(None), ChurnReason.position, ChurnReason.id)
        )
    )


def _key_for(session: Session, label: str) -> str:
    base = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")[:30] or "reason"
    key, number = base, 1
    while session.scalar(select(ChurnReason.id).where(ChurnReason.key == key)) is not None:
        number += 1
        key = f"{base}_{number}"
    return key


def add_reason(session: Session, values: dict, actor_id: int, now: datetime) -> ChurnReason:
    position = values.get("position")
    if position is None:
        position = (session.scalar(select(func.max(ChurnReason.position))) or 0) + 10
    reason = ChurnReason(key=_key_for(session, values["label_en"]), **{**values, "position": position})
    session.add(reason)
    session.flush()
    audit.record(session, "churn_reason", reason.id, "created", actor_id, now, after=_plain(reason))
    return reason


def update_reason(session: Session, reason: ChurnReason, values: dict, actor_id: int, now: datetime) -> bool:
    before, after = audit.apply_changes(reason, values, FIELDS)
    if after:
        session.flush()
        audit.record(session, "churn_reason", reason.id, "changed", actor_id, now, before, after)
    return bool(after)


def set_retired(session: Session, reason: ChurnReason, retired: bool, actor_id: int, now: datetime) -> None:
    """Retire (no longer offered) or restore a reason; its answers stay untouched either way."""
    if (reason.retired_at is not None) == retired:
        return
    reason.retired_at = now if retired else None
    session.flush()
    audit.record(session, "churn_reason", reason.id, "retired" if retired else "restored", actor_id, now)


def _plain(reason: ChurnReason) -> dict:
    return {name: getattr(reason, name) for name in ("key", *FIELDS)}
