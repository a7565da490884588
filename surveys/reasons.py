"""The churn-reason taxonomy as data: admins add, rename, retire and restore reasons, audited (surveys.options,
with the win-back measure as more fields).

Answers point at a reason's id, so a rename changes how old answers read (the reason meant the same
thing) and a retired reason is no longer offered but still shows and counts in old answers.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from surveys.models import ChurnReason
from surveys.options import add_option, all_options, update_option
from surveys.options import set_retired as retire_option

ENTITY = "churn_reason"
FIELDS = ("label_de", "label_en", "position", "recoverable", "measure_de", "measure_en")


def all_reasons(session: Session) -> list[ChurnReason]:
    """Active reasons first in the admin's order, then retired ones."""
    return all_options(session, ChurnReason)


def add_reason(session: Session, values: dict, actor_id: int, now: datetime) -> ChurnReason:
    return add_option(session, ChurnReason, ENTITY, values, actor_id, now, FIELDS)


def update_reason(session: Session, reason: ChurnReason, values: dict, actor_id: int, now: datetime) -> bool:
    return update_option(session, reason, ENTITY, values, actor_id, now, FIELDS)


def set_retired(session: Session, reason: ChurnReason, retired: bool, actor_id: int, now: datetime) -> None:
    """Retire (no longer offered) or restore a reason; its answers stay untouched either way."""
    retire_option(session, reason, ENTITY, retired, actor_id, now)
