"""A case: one piece of negative feedback worked to a recorded resolution."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Numeric, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from customers.models import Customer
from kundenpuls.extensions import db
from kundenpuls.models import User
from kundenpuls.timeutil import UTCDateTime
from surveys.models import Option, Response, Survey

OPEN = ("new", "in_progress", "waiting")
CLOSED = ("resolved", "wont_fix")
STATUSES = OPEN + CLOSED
_OPEN_SQL = "status IN (" + ", ".join(f"'{s}'" for s in OPEN) + ")"
PRIORITIES = ("high", "normal", "low")
ROOT_CAUSES = (
    "product_quality",
    "price",
    "delivery",
    "service",
    "billing",
    "website",
    "communication",
    "other",
)


class ContactReason(Option, db.Model):
    """Why a contact happened (a question about delivery, a complaint, a return, ...): kept as data, retired not
    deleted, chosen by the agent on the case."""

    __tablename__ = "contact_reasons"

    id: Mapped[int] = mapped_column(primary_key=True)


class Case(db.Model):
    __tablename__ = "cases"
    __table_args__ = (
        # The queue's first page: open cases by rank, read from the index in order (no sort).
        Index(
            "ix_cases_open_rank",
            "rank_at",
            "id",
            postgresql_where=text(_OPEN_SQL),
            sqlite_where=text(_OPEN_SQL),
        ),
        Index("ix_cases_owner_status", "owner_id", "status"),
        Index("ix_cases_customer", "customer_id", "created_at"),
        Index("ix_cases_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int | None] = mapped_column(ForeignKey("responses.id"), unique=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    survey_id: Mapped[int | None] = mapped_column(ForeignKey("surveys.id"))
    kind: Mapped[str] = mapped_column(String(12))  # detractor | passive | churn | measure
    # A measure (an accepted retention suggestion) has no answer: its title says what to do.
    title: Mapped[str | None] = mapped_column(String(500))
    score: Mapped[int | None] = mapped_column()
    status: Mapped[str] = mapped_column(String(12), default="new")
    priority: Mapped[str] = mapped_column(String(8))
    priority_points: Mapped[int] = mapped_column()
    # What the priority was made of, shown on the queue ("why here"): [[label key, points, detail], ...]
    priority_reasons: Mapped[list] = mapped_column(db.JSON)
    customer_value: Mapped[Decimal] = mapped_column(Numeric(14, 2), default=0)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    root_cause: Mapped[str | None] = mapped_column(String(30))
    # The interaction as data (issue 24): why the customer got in touch, what mattered most to them, what was done.
    contact_reason_id: Mapped[int | None] = mapped_column(ForeignKey("contact_reasons.id"))
    customer_priority: Mapped[str | None] = mapped_column(String(300))
    measure_taken: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    first_contact_due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    resolution_due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The deadline that counts now (first contact until made, then resolution) and the queue's sort key:
    # that deadline moved earlier by the priority points in hours.
    next_due_at: Mapped[datetime] = mapped_column(UTCDateTime())
    rank_at: Mapped[datetime] = mapped_column(UTCDateTime())
    first_contact_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    escalation_level: Mapped[int] = mapped_column(default=0)
    # Optimistic locking: two agents editing at once cannot overwrite each other unseen.
    version: Mapped[int] = mapped_column(default=1)

    customer: Mapped[Customer | None] = relationship()
    survey: Mapped[Survey | None] = relationship()
    response: Mapped[Response | None] = relationship()
    owner: Mapped[User | None] = relationship()
    contact_reason: Mapped[ContactReason | None] = relationship()

    __mapper_args__ = {"version_id_col": version}

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    def overdue(self, now: datetime) -> bool:
        return self.is_open and self.next_due_at < now
