"""Scheduled work of the integrations: post due webhook deliveries."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from integrations.delivery import deliver_due


def deliver_webhooks(session: Session, now: datetime) -> dict:
    counts = deliver_due(session, now)
    return vars(counts)


JOBS = (("deliver_webhooks", deliver_webhooks),)
