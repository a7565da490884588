"""Webhook deliveries carry answers and comments: an erased customer's are emptied, pending ones cancelled."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import case, update
from sqlalchemy.orm import Session

from customers.models import Customer
from integrations.models import WebhookDelivery


def on_customer_erasure(customer: Customer, session: Session, now: datetime, **_: object) -> dict[str, int]:
    needle = '"customer_external_id":' + json.dumps(customer.external_id, ensure_ascii=False)
    erased = session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.payload.contains(needle, autoescape=True))
        .values(
            payload='{"erased":true}',
            status=case((WebhookDelivery.status == "pending", "cancelled"), else_=WebhookDelivery.status),
            last_error="customer erased",
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    return {"webhook_deliveries": erased}
