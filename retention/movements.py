"""Movements between segments month by month, from the segment history (first placements are not moves)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from analytics.queries import day_bounds
from kundenpuls.dialect import period_start_text
from retention.models import SegmentChange

SATISFACTION_RANK = {"detractor": 0, "passive": 1, "promoter": 2}
VALUE_RANK = {"C": 0, "B": 1, "A": 2}


@dataclass(frozen=True)
class Movement:
    month: str  # YYYY-MM-01
    source: tuple[str, str, str]
    target: tuple[str, str, str]
    customers: int

    @property
    def direction(self) -> str:
        """better / worse by satisfaction, then by value class; else sideways (a phase change only)."""
        for rank, index in ((SATISFACTION_RANK, 2), (VALUE_RANK, 0)):
            a, b = rank.get(self.source[index]), rank.get(self.target[index])
            if a is not None and b is not None and a != b:
                return "better" if b > a else "worse"
        return "sideways"


def movements(session: Session, start: date, end: date) -> list[Movement]:
    """Moves per month and (from, to) segment, counted in SQL; most frequent first within each month."""
    since, until = day_bounds(start, end)
    month = period_start_text(session, SegmentChange.changed_at, "month")
    c = SegmentChange
    keys = (c.from_value_class, c.from_phase, c.from_satisfaction, c.to_value_class, c.to_phase, c.to_satisfaction)
    rows = session.execute(
        select(month, *keys, func.count())
        .where(c.changed_at >= since, c.changed_at < until, c.from_satisfaction.is_not(None))
        .group_by(month, *keys)
        .order_by(month, func.count().desc())
    ).all()
    return [Movement(str(row[0]), tuple(row[1:4]), tuple(row[4:7]), int(row[7])) for row in rows]
