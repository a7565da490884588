"""Customer segments with their history, cells and strategies, and the retention rules with their suggestions."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import JSON, ForeignKey, Index, Numeric, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from analytics.models import SHARDS  # noqa: F401  segment cells spread over shards too
from kundenpuls.extensions import db
from kundenpuls.models import User
from kundenpuls.timeutil import UTCDateTime


class CustomerSegment(db.Model):
    """Where a customer stands now: value class x lifecycle phase x satisfaction, and the facts the retention
    rules read. Kept by retention.segments at each answer and nightly for everyone."""

    __tablename__ = "customer_segments"
    __table_args__ = (
        Index("ix_customer_segments_cell", "value_class", "phase", "satisfaction"),
        # The cockpit counts at-risk customers per cell: an index of them alone.
        Index("ix_customer_segments_at_risk", "value_class", "phase", postgresql_where=text("at_risk"),
              sqlite_where=text("at_risk")),
    )  # fmt: skip

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True, autoincrement=False)
    value_class: Mapped[str] = mapped_column(String(1))
    phase: Mapped[str] = mapped_column(String(10))
    # promoter | passive | detractor by the latest NPS answer; unknown when never asked (never "neutral").
    satisfaction: Mapped[str] = mapped_column(String(10))
    score: Mapped[int | None] = mapped_column()
    previous_score: Mapped[int | None] = mapped_column()
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    portfolio: Mapped[str] = mapped_column(String(20))
    revenue_12m: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=0)
    # Stated potential, else the estimate (None: unknown): the cockpit groups the portfolio from here.
    potential: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    # Purchases in the last 180 days and in the 180 days before: a falling purchase frequency.
    purchases_recent: Mapped[int] = mapped_column(default=0)
    purchases_before: Mapped[int] = mapped_column(default=0)
    # Reasons given in the last year (churn answers, root causes of cases) as ",delivery,price,"; None: none.
    reasons: Mapped[str | None] = mapped_column(String(500))
    # Categories bought in the last two years, framed by analytics.co_purchase.SEPARATOR; None: none.
    categories: Mapped[str | None] = mapped_column(Text)
    # From the latest good purchase-model fit (analytics.purchase_models); None before the first one. Bands, not
    # the probability itself: P(alive) moves a little for everyone every day, a band rarely, so the nightly
    # refresh rewrites only the customers whose band or risk changed.
    alive_band: Mapped[str | None] = mapped_column(String(8))  # retention.segments.ALIVE_BANDS
    at_risk: Mapped[bool | None] = mapped_column()  # new or existing with P(alive) below AT_RISK_P_ALIVE
    clv_class: Mapped[str | None] = mapped_column(String(1))  # A/B/C by the model's CLV, like revenue's classes
    refreshed_at: Mapped[datetime] = mapped_column(UTCDateTime())

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.value_class, self.phase, self.satisfaction)


class SegmentChange(db.Model):
    """A customer moved to another segment (or was placed for the first time: no "from")."""

    __tablename__ = "segment_changes"
    __table_args__ = (
        Index("ix_segment_changes_customer", "customer_id", "changed_at"),
        Index("ix_segment_changes_changed", "changed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    from_value_class: Mapped[str | None] = mapped_column(String(1))
    from_phase: Mapped[str | None] = mapped_column(String(10))
    from_satisfaction: Mapped[str | None] = mapped_column(String(10))
    to_value_class: Mapped[str] = mapped_column(String(1))
    to_phase: Mapped[str] = mapped_column(String(10))
    to_satisfaction: Mapped[str] = mapped_column(String(10))
    cause: Mapped[str] = mapped_column(String(10))  # answer | case (a root cause set) | nightly


class SegmentRun(db.Model):
    """One full segment refresh: when, how long, how many customers moved."""

    __tablename__ = "segment_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    customers: Mapped[int] = mapped_column(default=0)
    changes: Mapped[int] = mapped_column(default=0)
    suggestions: Mapped[int] = mapped_column(default=0)


class SegmentStrategy(db.Model):
    """The strategic direction and service level an admin sets for one segment."""

    __tablename__ = "segment_strategies"

    value_class: Mapped[str] = mapped_column(String(1), primary_key=True)
    phase: Mapped[str] = mapped_column(String(10), primary_key=True)
    satisfaction: Mapped[str] = mapped_column(String(10), primary_key=True)
    direction: Mapped[str] = mapped_column(String(12))  # grow | retain | develop | low_cost
    service_level: Mapped[str] = mapped_column(String(10))  # premium | standard | basic

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.value_class, self.phase, self.satisfaction)


class RetentionRule(db.Model):
    """When a customer's segment and history match `conditions`, suggest `measure` to `owner_role`, due in
    `due_days`. Conditions: {dimension: [allowed values]}; a missing dimension matches everyone."""

    __tablename__ = "retention_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(default=0)
    active: Mapped[bool] = mapped_column(default=True)
    name: Mapped[str] = mapped_column(String(120))
    name_de: Mapped[str | None] = mapped_column(String(120))  # shown on German pages; `name` elsewhere
    conditions: Mapped[dict] = mapped_column(JSON)
    measure_de: Mapped[str] = mapped_column(String(500))
    measure_en: Mapped[str] = mapped_column(String(500))
    owner_role: Mapped[str] = mapped_column(String(16))  # agent | manager
    due_days: Mapped[int] = mapped_column(default=3)
    # The same rule suggests nothing again to a customer for this long after the last suggestion was settled.
    repeat_after_days: Mapped[int] = mapped_column(default=90)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # A measure of type "offer": the category to offer (the rule then needs "has bought" conditions and
    # never fires for a customer who bought it), and how often it follows the bought ones per segment
    # (retention.offers keeps it at every full refresh and every save).
    offer_category: Mapped[str | None] = mapped_column(String(100))
    offer_evidence: Mapped[dict | None] = mapped_column(JSON)

    def measure(self, locale: str) -> str:
        return self.measure_de if locale == "de" else self.measure_en


SUGGESTION_OPEN = ("open", "accepted")
LIVE_SQL = "status IN ('open', 'accepted')"  # the predicate of the one-live-suggestion index
SUGGESTION_STATUSES = ("open", "accepted", "dismissed", "done", "lapsed")


class Suggestion(db.Model):
    """A retention measure suggested for one customer by one rule, with the facts that made it fire."""

    __tablename__ = "suggestions"
    __table_args__ = (
        # One live suggestion per customer and rule.
        Index(
            "uq_suggestions_live",
            "customer_id",
            "rule_id",
            unique=True,
            postgresql_where=text(LIVE_SQL),
            sqlite_where=text(LIVE_SQL),
        ),
        Index("ix_suggestions_rule_status", "rule_id", "status"),
        Index("ix_suggestions_status_created", "status", "created_at"),
        Index("ix_suggestions_customer", "customer_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    rule_id: Mapped[int] = mapped_column(ForeignKey("retention_rules.id"))
    status: Mapped[str] = mapped_column(String(10), default="open")  # see SUGGESTION_STATUSES
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The rule's conditions when it fired, and the customer's facts then: "why" stays true after edits.
    conditions: Mapped[dict] = mapped_column(JSON)
    value_class: Mapped[str] = mapped_column(String(1))
    phase: Mapped[str] = mapped_column(String(10))
    satisfaction: Mapped[str] = mapped_column(String(10))
    score: Mapped[int | None] = mapped_column()
    previous_score: Mapped[int | None] = mapped_column()
    portfolio: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(40))
    purchases_recent: Mapped[int] = mapped_column(default=0)
    purchases_before: Mapped[int] = mapped_column(default=0)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    dismiss_reason: Mapped[str | None] = mapped_column(String(500))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    rule: Mapped[RetentionRule] = relationship()
    decided_by: Mapped[User | None] = relationship()


class SegmentCell(db.Model):
    """Customers and revenue per segment and portfolio group: the cockpit's figures without scanning a million
    segment rows. Rebuilt by every full refresh; between refreshes each moved customer adjusts it, spread over
    SHARDS rows per key so that concurrent answers do not queue on one row."""

    __tablename__ = "segment_cells"

    value_class: Mapped[str] = mapped_column(String(1), primary_key=True)
    phase: Mapped[str] = mapped_column(String(10), primary_key=True)
    satisfaction: Mapped[str] = mapped_column(String(10), primary_key=True)
    portfolio: Mapped[str] = mapped_column(String(20), primary_key=True)
    shard: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    customers: Mapped[int] = mapped_column(default=0)
    revenue: Mapped[Decimal] = mapped_column(Numeric(16, 2), default=0)


class SegmentCellBuild(db.Model):
    """When the cells were last rebuilt and with which portfolio thresholds (one row)."""

    __tablename__ = "segment_cell_builds"

    id: Mapped[int] = mapped_column(primary_key=True)
    built_at: Mapped[datetime] = mapped_column(UTCDateTime())
    portfolio_value_min: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    portfolio_potential_min: Mapped[Decimal] = mapped_column(Numeric(12, 2))
