"""Webhook endpoints, their deliveries (an outbox for HTTP, like the mail outbox) and the alert settings."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from kundenpuls.extensions import db
from kundenpuls.timeutil import UTCDateTime

EVENTS = (
    "response.created",
    "response.follow_ups",
    "detractor.created",
    "case.opened",
    "case.resolved",
    "customer.churned",
)


class WebhookEndpoint(db.Model):
    """An HTTPS address that receives the events it subscribed to; never deleted, only switched off,
    so its delivery log stays readable."""

    __tablename__ = "webhook_endpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(String(200))
    secret: Mapped[str] = mapped_column(String(80))
    events: Mapped[str] = mapped_column(String(300))  # ",response.created,case.opened,"
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    @property
    def event_list(self) -> list[str]:
        return [event for event in self.events.split(",") if event]


class WebhookDelivery(db.Model):
    """One event for one endpoint. The (endpoint, event) pair is unique, so an event is queued once; the
    sender claims due rows with SKIP LOCKED, so two schedulers never post the same row."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_deliveries_event"),
        Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_endpoint", "endpoint_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id"))
    event_id: Mapped[str] = mapped_column(String(80))
    event: Mapped[str] = mapped_column(String(40))
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending sending delivered failed cancelled
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    last_status: Mapped[int | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(String(1000))
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    endpoint: Mapped[WebhookEndpoint] = relationship()


class AlertSettings(db.Model):
    """The built-in detractor alert: one row, edited by admins next to the webhooks."""

    __tablename__ = "alert_settings"

    id: Mapped[int] = mapped_column(primary_key=True)
    detractor_alerts: Mapped[bool] = mapped_column(default=True)
    to_managers: Mapped[bool] = mapped_column(default=True)
    recipients: Mapped[str] = mapped_column(String(1000), default="")  # comma-separated addresses

    @property
    def recipient_list(self) -> list[str]:
        return [address.strip() for address in self.recipients.split(",") if address.strip()]
