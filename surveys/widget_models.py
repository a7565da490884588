"""A web widget: a survey shown on the company's own website or customer portal by one <script> tag.

The public key names the widget in the tag; the secret never leaves the company's server, which signs the
signed-in customer's external id with it (HMAC-SHA256, as Intercom's identity verification does), so nobody can
answer as someone else. How it decides whom to ask, and the answer, is surveys.widgets.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kundenpuls.extensions import db
from kundenpuls.timeutil import UTCDateTime
from surveys.models import Survey


class Widget(db.Model):
    __tablename__ = "widgets"

    id: Mapped[int] = mapped_column(primary_key=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id"), index=True)
    public_key: Mapped[str] = mapped_column(String(40), unique=True)
    secret: Mapped[str] = mapped_column(String(64))
    # Where it runs ("Kundenportal", "Shop Checkout"): staff pages only.
    label: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(default=True)
    # Visitors whose page passes no signed customer id answer anonymously, or are not asked at all.
    allow_anonymous: Mapped[bool] = mapped_column(default=False)
    # Origins of the host pages ("https://shop.example.de"), one per line; empty: any page may embed it.
    origins: Mapped[str] = mapped_column(Text, default="")
    # Shown only on pages whose path matches one of these patterns (* for anything), one per line; empty: all.
    url_patterns: Mapped[str] = mapped_column(Text, default="")
    # Shown from the visitor's n-th page view in this browser tab, and after this many seconds on the page.
    after_page_views: Mapped[int] = mapped_column(default=1)
    after_seconds: Mapped[int] = mapped_column(default=0)
    # An anonymous visitor who answered or closed it is not asked again within this many days (kept in their
    # browser; a signed-in customer's contact is an invitation, so the survey's quiet period covers them).
    once_per_days: Mapped[int] = mapped_column(default=90)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    survey: Mapped[Survey] = relationship()

    def lines(self, name: str) -> list[str]:
        return [line.strip() for line in (getattr(self, name) or "").splitlines() if line.strip()]
