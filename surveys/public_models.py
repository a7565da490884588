"""Anonymous survey links (/l/<slug>) for places where the customer is not known, and the answers held for review.

An answer through a public link is an invitation without a customer (channel "anonymous") answered at once, so it
takes the one answer path (checks, rollup, cases, webhooks). Answers over the per-network threshold are held here
instead, outside every report, until a manager accepts them (they then take the same path) or rejects them.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kundenpuls.extensions import db
from kundenpuls.timeutil import UTCDateTime
from surveys.models import Survey


class PublicLink(db.Model):
    __tablename__ = "public_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"), index=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    # Where it hangs or goes out ("Ladentheke Filiale Mitte", "Newsletter Dezember"): staff pages only.
    label: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Offer an optional "who are you?" address, tied to a known customer only once confirmed by mail.
    ask_email: Mapped[bool] = mapped_column(default=False)
    # One answer per browser and survey within this many days (a signed cookie, set only by an answer).
    once_per_days: Mapped[int] = mapped_column(default=30)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    survey: Mapped[Survey] = relationship()

    def open_at(self, now: datetime) -> bool:
        return self.active and self.survey.active and (self.expires_at is None or now < self.expires_at)


class HeldAnswer(db.Model):
    """An anonymous answer from a network over the threshold: kept out of every report until a manager decides."""

    __tablename__ = "held_answers"
    __table_args__ = (Index("ix_held_answers_open", "decided_at", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    public_link_id: Mapped[int] = mapped_column(ForeignKey("public_links.id"))
    network: Mapped[str] = mapped_column(String(16))
    score: Mapped[int] = mapped_column()
    comment: Mapped[str | None] = mapped_column(Text)
    locale: Mapped[str] = mapped_column(String(5))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    accepted: Mapped[bool | None] = mapped_column()
    response_id: Mapped[int | None] = mapped_column(ForeignKey("responses.id"))  # once accepted

    public_link: Mapped[PublicLink] = relationship()
