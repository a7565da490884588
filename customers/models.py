"""Customer and Purchase."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from sqlalchemy import ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kundenpuls.extensions import db
from kundenpuls.timeutil import UTCDateTime

LOCALES = ("de", "en")
# potential: no purchase yet; new; existing (Bestandskunde); inactive: no purchase for a long time;
# churned: cancelled (a purchase after the cancellation reactivates).
PHASES = ("potential", "new", "existing", "inactive", "churned")
PHASE_LABELS = {
    "potential": _l("potential"),
    "new": _l("new"),
    "existing": _l("existing"),
    "inactive": _l("inactive"),
    "churned": _l("churned"),
}


CAUSE_LABELS = {
    "purchase": _l("purchase"),
    "time": _l("time passed"),
    "cancellation": _l("cancellation"),
    "rules": _l("rules changed"),
    "backfill": _l("history"),
}


def phase_label(phase: str | None) -> str:
    """The phase in the reader's language."""
    return str(PHASE_LABELS.get(phase or "", phase or "–"))


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
    # Without a known potential: revenue x the potential/revenue ratio of known customers of the same value
    # class (customers.values.refresh_values); shown as an estimate.
    potential_estimate: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    # Refreshed by customers.values.refresh_values: revenue and margin of the last 12 months, ABC class.
    revenue_12m: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    margin_12m: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))
    value_class: Mapped[str | None] = mapped_column(String(1), index=True)
    values_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Kept by customers.lifecycle.recompute_phases from the purchases: phase, since when, and the
    # purchase figures the rules (and the reports) read.
    lifecycle_phase: Mapped[str] = mapped_column(String(10), default="potential")
    phase_since: Mapped[datetime | None] = mapped_column(UTCDateTime())
    purchase_count: Mapped[int] = mapped_column(default=0)
    first_purchase_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_purchase_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The latest cancellation the shop reported.
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # Erased on request (GDPR Art. 17): no name, email or external id left; scores and purchases stay anonymous.
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    purchases: Mapped[list[Purchase]] = relationship(back_populates="customer")


class Purchase(db.Model):
    __tablename__ = "purchases"
    __table_args__ = (
        Index("ix_purchases_purchased_at", "purchased_at"),
        Index("ix_purchases_customer_time", "customer_id", "purchased_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[str] = mapped_column(String(100), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    margin: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    category: Mapped[str | None] = mapped_column(String(100))
    purchased_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    customer: Mapped[Customer] = relationship(back_populates="purchases")


class LifecycleRules(db.Model):
    """The phase thresholds, one row: they depend on the business (a car dealer counts in years)."""

    __tablename__ = "lifecycle_rules"

    id: Mapped[int] = mapped_column(primary_key=True)
    # "new" until this many purchases or this many days after the first, whichever comes first.
    new_until_purchases: Mapped[int] = mapped_column(default=2)
    new_for_days: Mapped[int] = mapped_column(default=180)
    inactive_after_days: Mapped[int] = mapped_column(default=365)
    recomputed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class ValueSettings(db.Model):
    """How customer value is judged, one row: ABC thresholds and the rates of the simple CLV."""

    __tablename__ = "value_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    # A: the customers making the first a_share percent of revenue; B: the next b_share percent; C: the rest.
    a_share: Mapped[int] = mapped_column(default=80)
    b_share: Mapped[int] = mapped_column(default=15)
    # CLV = yearly margin x r / (1 + d - r): r the share of customers who buy again next year, d the discount rate.
    retention_rate: Mapped[Decimal] = mapped_column(Numeric(4, 3), default=Decimal("0.800"))
    discount_rate: Mapped[Decimal] = mapped_column(Numeric(4, 3), default=Decimal("0.100"))
    # Portfolio: high current value from this revenue per year, high potential from this demand per year.
    portfolio_value_min: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("1000"))
    portfolio_potential_min: Mapped[Decimal] = mapped_column(Numeric(12, 2), default=Decimal("2000"))


class LifecycleChange(db.Model):
    """A customer moved from one phase to another: the history behind the lifecycle flow report."""

    __tablename__ = "lifecycle_changes"
    __table_args__ = (
        Index("ix_lifecycle_changes_customer", "customer_id", "changed_at"),
        Index("ix_lifecycle_changes_recorded", "to_phase", "recorded_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    from_phase: Mapped[str | None] = mapped_column(String(10))
    to_phase: Mapped[str] = mapped_column(String(10))
    # When the change took effect by the rules (e.g. last purchase + inactive days) ...
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # ... and when Kundenpuls noticed it.
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # purchase | time | cancellation | rules (an admin changed the thresholds) | backfill
    cause: Mapped[str] = mapped_column(String(12))


class Cancellation(db.Model):
    """A cancellation the shop reported (POST /api/v1/cancellations)."""

    __tablename__ = "cancellations"
    __table_args__ = (UniqueConstraint("customer_id", "cancelled_at", name="uq_cancellations_customer_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    cancelled_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reason: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())

    customer: Mapped[Customer] = relationship()


class CustomerDescription(db.Model):
    """The five-field description of a (B2B) customer: company, buying centre (CustomerContact), what they
    value in our offer, needs/demand/potential, finance. Each customer is an individual, not only a class."""

    __tablename__ = "customer_descriptions"

    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True, autoincrement=False)
    # 1. The company
    legal_form: Mapped[str | None] = mapped_column(String(100))
    company_group: Mapped[str | None] = mapped_column(String(200))
    industry: Mapped[str | None] = mapped_column(String(200))
    business_units: Mapped[str | None] = mapped_column(Text)
    # 3. What fascinates them in our offer
    what_they_value: Mapped[str | None] = mapped_column(Text)
    # 4. Needs, demand and potential (the potential figure itself is Customer.potential_value)
    needs: Mapped[str | None] = mapped_column(Text)
    # 5. Finance (revenue and margins per offer come from the purchases)
    credit_rating: Mapped[str | None] = mapped_column(String(50))
    payment_terms: Mapped[str | None] = mapped_column(String(200))
    pricing: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


# The classic buying-centre roles: who decides together on a purchase.
BUYING_ROLES = ("decider", "buyer", "user", "influencer", "gatekeeper", "initiator")
BUYING_ROLE_LABELS = {
    "decider": _l("decider"),
    "buyer": _l("buyer (purchasing)"),
    "user": _l("user"),
    "influencer": _l("influencer"),
    "gatekeeper": _l("gatekeeper"),
    "initiator": _l("initiator"),
}


class CustomerContact(db.Model):
    """A person of the customer's buying centre and the role they play in it."""

    __tablename__ = "customer_contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    job_title: Mapped[str | None] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(50))
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ImportRun(db.Model):
    """A CSV file imported in the browser: what it held, what came of it, and the failed rows to download."""

    __tablename__ = "import_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))  # customers | purchases
    filename: Mapped[str] = mapped_column(String(255))
    created: Mapped[int] = mapped_column(default=0)
    unchanged: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    # The failed rows as CSV (line, error, the file's columns): the CLI's error report.
    errors_csv: Mapped[str | None] = mapped_column(Text)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def rows(self) -> int:
        return self.created + self.unchanged + self.failed
