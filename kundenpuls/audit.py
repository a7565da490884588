"""The audit trail: who changed what, when, with the values before and after.

One table for every package (cases, surveys, settings), written in the same transaction as the
change it records, so the trail and the data can never disagree.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from kundenpuls.extensions import db
from kundenpuls.models import User
from kundenpuls.timeutil import UTCDateTime


class AuditEvent(db.Model):
    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_entity", "entity", "entity_id", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    entity: Mapped[str] = mapped_column(String(30))  # "case", "survey", ...
    entity_id: Mapped[int] = mapped_column()
    action: Mapped[str] = mapped_column(String(30))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # None: the system (scheduler)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    before: Mapped[dict | None] = mapped_column(JSON)
    after: Mapped[dict | None] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(Text)

    actor: Mapped[User | None] = relationship()


def record(
    session: Session,
    entity: str,
    entity_id: int,
    action: str,
    actor_id: int | None,
    now: datetime,
    before: dict | None = None,
    after: dict | None = None,
    note: str | None = None,
) -> AuditEvent:
    event = AuditEvent(
        entity=entity,
        entity_id=entity_id,
        action=action,
        actor_id=actor_id,
        at=now,
        before=before,
        after=after,
        note=note,
    )
    session.add(event)
    return event


def trail(session: Session, entity: str, entity_id: int) -> list[AuditEvent]:
    """Everything recorded about one thing, oldest first."""
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.entity == entity, AuditEvent.entity_id == entity_id)
            .order_by(AuditEvent.at, AuditEvent.id)
        )
    )


def apply_changes(obj: object, values: dict, fields: tuple[str, ...]) -> tuple[dict, dict]:
    """Set the given fields whose value differs; returns (before, after) of exactly those, for `record`."""
    before, after = {}, {}
    for name in fields:
        if name in values and values[name] != getattr(obj, name):
            before[name], after[name] = getattr(obj, name), values[name]
            setattr(obj, name, values[name])
    return before, after
