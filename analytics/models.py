"""The daily rollups (counts per day and filter dimension, kept in the answer's own transaction), the answers
waiting for the scheduler, and the facts the drivers report compares per answer."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, Float, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from kundenpuls.extensions import db
from kundenpuls.timeutil import UTCDateTime

SHARDS = 16  # rows per key that concurrent answers spread over (rollups, segment cells)


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


class PendingAnswer(db.Model):
    """An answer stored but not yet applied to its customer's segment, the cockpit cells and the retention rules.

    The answer's own statement writes the row (no extra round trip on the busiest request there is); the
    scheduler's apply_answers job works the rows off in order and deletes them. No foreign key: a key check per
    answer buys nothing, as responses are never deleted (erasure keeps the scores)."""

    __tablename__ = "pending_answers"

    response_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    # An answer that could not be applied stays, with the error, and is tried again after RETRY_FAILED.
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(String(500))


class AnswerFact(db.Model):
    """An NPS answer with the attributes the drivers report compares, as they were when it was applied: order
    value, margin and category of the purchase it answers, the customer's purchases per year and days since the
    first purchase, days from purchase to answer. One narrow row per answer, so the report reads a million
    answers without joining invitations, purchases and customers (that join was three quarters of its time).

    Written by analytics.facts.record_facts: for each batch of applied answers, and nightly for any answer
    stored some other way (bulk loads)."""

    __tablename__ = "answer_facts"
    __table_args__ = (Index("ix_answer_facts_answered_at", "answered_at"),)

    response_id: Mapped[int] = mapped_column(ForeignKey("responses.id"), primary_key=True, autoincrement=False)
    survey_id: Mapped[int] = mapped_column()
    customer_id: Mapped[int | None] = mapped_column()
    locale: Mapped[str] = mapped_column(String(5))
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    score: Mapped[int] = mapped_column()
    category: Mapped[str | None] = mapped_column(String(100))
    order_value: Mapped[float | None] = mapped_column(Float())
    margin: Mapped[float | None] = mapped_column(Float())
    purchases_per_year: Mapped[float | None] = mapped_column(Float())
    tenure_days: Mapped[float | None] = mapped_column(Float())
    answer_delay_days: Mapped[float | None] = mapped_column(Float())
