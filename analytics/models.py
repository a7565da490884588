"""The daily NPS rollup: counts per day and filter dimension, kept in the answer's own transaction."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Date, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kundenpuls.extensions import db

SHARDS = 16


class NpsDaily(db.Model):
    __tablename__ = "nps_daily"
    __table_args__ = (
        UniqueConstraint(
            "day", "survey_id", "locale", "category", "segment", "phase", "shard", name="uq_nps_daily_key"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date())  # UTC day of the answer
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"))
    locale: Mapped[str] = mapped_column(String(5))
    category: Mapped[str] = mapped_column(String(100), default="")  # "" when the purchase had none
    segment: Mapped[str] = mapped_column(String(1), default="")  # value class at answer time; "" unknown
    phase: Mapped[str] = mapped_column(String(10), default="")  # lifecycle phase at answer time
    # Concurrent answers with the same key would queue on one row; they spread over SHARDS rows instead,
    # which the scheduler folds back into shard 0 once the day is over (analytics.rollup.compact).
    shard: Mapped[int] = mapped_column(default=0)
    promoters: Mapped[int] = mapped_column(default=0)
    passives: Mapped[int] = mapped_column(default=0)
    detractors: Mapped[int] = mapped_column(default=0)


class InvitationsDaily(db.Model):
    """Invitations mailed per day (the day the first mail went out) and how many of them were answered."""

    __tablename__ = "invitations_daily"
    __table_args__ = (
        UniqueConstraint(
            "day", "survey_id", "locale", "category", "segment", "phase", "shard", name="uq_invitations_daily_key"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date())
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"))
    locale: Mapped[str] = mapped_column(String(5))
    category: Mapped[str] = mapped_column(String(100), default="")
    segment: Mapped[str] = mapped_column(String(1), default="")
    phase: Mapped[str] = mapped_column(String(10), default="")  # lifecycle phase when the first mail went out
    shard: Mapped[int] = mapped_column(default=0)
    sent: Mapped[int] = mapped_column(default=0)
    answered: Mapped[int] = mapped_column(default=0)
