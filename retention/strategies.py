"""The strategic direction and service level an admin sets per segment (value class x phase x satisfaction)."""

from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from kundenpuls import audit
from retention.models import SegmentStrategy

DIRECTIONS = {
    "grow": _l("grow"),
    "retain": _l("retain"),
    "develop": _l("develop"),
    "low_cost": _l("serve at low cost"),
}
SERVICE_LEVELS = {
    "premium": _l("premium (personal account manager)"),
    "standard": _l("standard"),
    "basic": _l("basic (low-cost channels)"),
}

Key = tuple[str, str, str]


def all_strategies(session: Session) -> dict[Key, SegmentStrategy]:
    return {s.key: s for s in session.scalars(select(SegmentStrategy))}


def strategy_for(session: Session, value_class: str, phase: str, satisfaction: str) -> SegmentStrategy | None:
    return session.get(SegmentStrategy, (value_class, phase, satisfaction))


def update_strategies(session: Session, wanted: dict[Key, tuple[str, str]], actor_id: int, now: datetime) -> int:
    """Set direction and service level per segment; one audit event lists every segment that changed.

    Raises ValueError for an unknown direction or level (nothing is changed then)."""
    for direction, level in wanted.values():
        if direction not in DIRECTIONS or level not in SERVICE_LEVELS:
            raise ValueError(f"unknown direction or service level: {direction!r}, {level!r}")
    current = all_strategies(session)
    before, after = {}, {}
    for key, (direction, level) in wanted.items():
        strategy = current.get(key)
        if strategy is None:
            strategy = SegmentStrategy(value_class=key[0], phase=key[1], satisfaction=key[2])
            session.add(strategy)
        elif (strategy.direction, strategy.service_level) == (direction, level):
            continue
        name = "/".join(key)
        before[name] = f"{strategy.direction}, {strategy.service_level}" if strategy.direction else None
        strategy.direction, strategy.service_level = direction, level
        after[name] = f"{direction}, {level}"
    if after:
        session.flush()
        audit.record(session, "segment_strategies", 1, "changed", actor_id, now, before, after)
    return len(after)
