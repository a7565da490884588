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
            "day", "survey_id", "locale", "category", "segment", "phase", "channel", "shard", name="uq_nps_daily_key"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date())  # UTC day of the answer
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"))
    locale: Mapped[str] = mapped_column(String(5))
    category: Mapped[str] = mapped_column(String(100), default="")  # "" when the purchase had none
    segment: Mapped[str] = mapped_column(String(1), default="")  # value class at answer time; "" unknown
    phase: Mapped[str] = mapped_column(String(10), default="")  # lifecycle phase at answer time
    channel: Mapped[str] = mapped_column(String(16), default="email", server_default="email")  # the answer's path
    # Concurrent answers with the same key would queue on one row; they spread over SHARDS rows instead,
    # which the scheduler folds back into shard 0 once the day is over (analytics.rollup.compact).
    shard: Mapped[int] = mapped_column(default=0)
    # Answers in the survey kind's three classes, best first (surveys.kinds): for NPS promoters, passives,
    # detractors; for CSAT satisfied, neutral, dissatisfied; for CES easy, neutral, hard.
    promoters: Mapped[int] = mapped_column(default=0)
    passives: Mapped[int] = mapped_column(default=0)
    detractors: Mapped[int] = mapped_column(default=0)
    # The sum of the scores and of their squares: a mean score (CES) and its t interval from the rollup alone.
    score_sum: Mapped[int] = mapped_column(default=0, server_default="0")
    score_squares: Mapped[int] = mapped_column(default=0, server_default="0")


class InvitationsDaily(db.Model):
    """Invitations delivered per day (the day the first mail went out, or the printed link was handed out) and how
    many of them were answered (by any path)."""

    __tablename__ = "invitations_daily"
    __table_args__ = (
        UniqueConstraint(
            "day",
            "survey_id",
            "locale",
            "category",
            "segment",
            "phase",
            "channel",
            "shard",
            name="uq_invitations_daily_key",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date())
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"))
    locale: Mapped[str] = mapped_column(String(5))
    category: Mapped[str] = mapped_column(String(100), default="")
    segment: Mapped[str] = mapped_column(String(1), default="")
    phase: Mapped[str] = mapped_column(String(10), default="")  # lifecycle phase when the first mail went out
    # The invitation's channel (the first delivery): a response rate per channel where one is defined.
    channel: Mapped[str] = mapped_column(String(16), default="email", server_default="email")
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
    channel: Mapped[str] = mapped_column(String(16), default="email", server_default="email")  # the answer's path
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    score: Mapped[int] = mapped_column()
    category: Mapped[str | None] = mapped_column(String(100))
    order_value: Mapped[float | None] = mapped_column(Float())
    margin: Mapped[float | None] = mapped_column(Float())
    purchases_per_year: Mapped[float | None] = mapped_column(Float())
    tenure_days: Mapped[float | None] = mapped_column(Float())
    answer_delay_days: Mapped[float | None] = mapped_column(Float())


FIT_STATUSES = ("good", "failed")


class ModelFit(db.Model):
    """One fit of the purchase-behaviour models (analytics.model_fits): BG/NBD for purchases and dropout,
    Gamma-Gamma for spend per purchase, on purchases up to the end of ``as_of`` (UTC). Every finished attempt
    is kept, good or failed with its reason; the latest good one is in use. A fit and its scores are written in
    one transaction, so one cut short by a restart leaves nothing behind and the previous fit stays in use."""

    __tablename__ = "model_fits"
    __table_args__ = (Index("ix_model_fits_status", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    as_of: Mapped[date] = mapped_column(Date())
    data_from: Mapped[date | None] = mapped_column(Date())  # the earliest purchase day in the fit
    status: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str | None] = mapped_column(String(500))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    seconds: Mapped[float | None] = mapped_column(Float())
    customers: Mapped[int] = mapped_column(default=0)  # in the fit: first purchase on or before as_of
    repeat_customers: Mapped[int] = mapped_column(default=0)  # with 2+ purchase days
    purchase_days: Mapped[int] = mapped_column(default=0)
    r: Mapped[float | None] = mapped_column(Float())
    alpha: Mapped[float | None] = mapped_column(Float())  # per day
    a: Mapped[float | None] = mapped_column(Float())
    b: Mapped[float | None] = mapped_column(Float())
    log_likelihood: Mapped[float | None] = mapped_column(Float())
    converged: Mapped[bool] = mapped_column(default=False)
    spend_p: Mapped[float | None] = mapped_column(Float())
    spend_q: Mapped[float | None] = mapped_column(Float())
    spend_gamma: Mapped[float | None] = mapped_column(Float())
    spend_customers: Mapped[int] = mapped_column(default=0)
    spend_log_likelihood: Mapped[float | None] = mapped_column(Float())
    spend_left_out: Mapped[int] = mapped_column(default=0)  # repeat purchase days with no positive amount
    margin_share: Mapped[float | None] = mapped_column(Float())  # of all purchases with a known margin
    std_errors: Mapped[str | None] = mapped_column(String(500))  # JSON: each parameter's standard error


class CustomerOutlook(db.Model):
    """A customer's purchase summary and outlook as of a fit's calibration end, written for every customer in
    the fit after it succeeds: what the customer page, the API and the segments read (P(alive), expected CLV).

    No foreign keys and no index beyond the key: every fit rewrites all rows, and those checks cost 10 of 17 s per
    million customers (migration 0027). The fit writes only customer ids it read in the same transaction, erasure
    deletes the row, and customers and fits are never deleted."""

    __tablename__ = "customer_outlooks"

    customer_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    model_id: Mapped[int] = mapped_column()
    x: Mapped[int] = mapped_column()  # repeat purchase days
    t_x: Mapped[int] = mapped_column()  # days from the first to the last purchase day
    age: Mapped[int] = mapped_column()  # T: days from the first purchase day to as_of
    repeat_spend: Mapped[float] = mapped_column(Float(), default=0.0)  # average amount of positive repeat days
    spend_days: Mapped[int] = mapped_column(default=0)  # repeat days the average is over
    margin_share: Mapped[float | None] = mapped_column(Float())  # the customer's own, where margins are known
    p_alive: Mapped[float] = mapped_column(Float())
    expected_purchases: Mapped[float] = mapped_column(Float())  # next HORIZON days
    expected_spend: Mapped[float | None] = mapped_column(Float())
    clv: Mapped[float | None] = mapped_column(Float())
    clv_class: Mapped[str | None] = mapped_column(String(1))  # A/B/C by clv, with the value settings' shares
