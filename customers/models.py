"""Customer and Purchase."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Index, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kundenpuls.extensions import db
from kundenpuls.timeutil import UTCDateTime

LOCALES = ("de", "en")


class Customer(db.Model):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    external_id: Mapped[str] = mapped_column(String(100), unique=True)
    email: Mapped[str | None] = mapped_column(String(254))
    name: Mapped[str | None] = mapped_column(String(200))
    locale: Mapped[str] = mapped_column(String(5), default="de")
    timezone: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Set when the mail server refuses the address for good (5xx): no more invitations.
    email_invalid_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    email_invalid_reason: Mapped[str | None] = mapped_column(String(500))
    # The demand we could serve per year (imported or edited); None: not known.
    potential_value: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    # Refreshed by customers.values.refresh_values: revenue and margin of the last 12 months, ABC class.
    revenue_12m: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    margin_12m: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    value_class: Mapped[str | None] = mapped_column(String(1), index=True)
    values_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    purchases: Mapped[list[Purchase]] = relationship(back_populates="customer")


class Purchase(db.Model):
    __tablename__ = "purchases"
    __table_args__ = (Index("ix_purchases_purchased_at", "purchased_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[str] = mapped_column(String(100), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    margin: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    category: Mapped[str | None] = mapped_column(String(100))
    purchased_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    customer: Mapped[Customer] = relationship(back_populates="purchases")
