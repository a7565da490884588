"""The webhook sender: claims due deliveries, posts them signed, and records each outcome.

Signatures follow the Standard Webhooks scheme, which receivers can check with existing libraries:
`webhook-id`, `webhook-timestamp` (Unix seconds) and `webhook-signature: v1,<base64 HMAC-SHA256 of
"id.timestamp.body">` with the endpoint's secret. The timestamp is inside the signed text, so a receiver that
refuses timestamps older than a few minutes cannot be fed a replayed request.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import urllib3
from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from integrations.models import WebhookDelivery, WebhookEndpoint
from integrations.outbound import AddressRefused, check_host, guarded_pool_manager
from kundenpuls.claims import Claim, claim_batch
from kundenpuls.dbpool import record_with_retry
from messaging.outbox import backoff

log = logging.getLogger(__name__)

# Retries after 1, 2, 4 ... minutes, as for mail, but up to six hours apart: with the default 12 attempts a
# receiver may be away about a day.
BACKOFF_CAP = timedelta(hours=6)
USER_AGENT = "Kundenpuls-Webhooks/1"
# One pool per process: keep-alive connections to each receiver, no retries or redirects of its own
# (the outbox retries, and a redirect could lead a signed body somewhere else).
# Every connection is checked against private addresses (integrations/outbound.py).
_pool = guarded_pool_manager(num_pools=20, maxsize=2, retries=False, block=False)


@dataclass
class DeliveryCounts:
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    cancelled: int = 0


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The `webhook-signature` header value for one request."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def deliver_due(session: Session, now: datetime, limit: int = 100) -> DeliveryCounts:
    """Post every due delivery, batch after batch, until none is due."""
    counts = DeliveryCounts()
    config = current_app.config
    claim_timeout = timedelta(seconds=config["WEBHOOK_CLAIM_TIMEOUT_SECONDS"])
    while (claim := claim_batch(session, now, limit, claim_timeout, WebhookDelivery)).ids:
        rows = session.execute(
            select(
                WebhookDelivery.id,
                WebhookDelivery.event_id,
                WebhookDelivery.payload,
                WebhookDelivery.attempts,
                WebhookEndpoint.url,
                WebhookEndpoint.secret,
                WebhookEndpoint.active,
            )
            .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
            .where(WebhookDelivery.id.in_(claim.ids))
            .order_by(WebhookDelivery.id)
        ).all()
        lost: set[int] = set()
        for index, row in enumerate(rows):
            if claim.due_for_renewal():
                remaining = [r.id for r in rows[index:]]
                lost |= set(remaining) - claim.renew(session, remaining)
            if row.id in lost:
                log.warning("webhook delivery %s was taken over by another sender; not posting it", row.id)
                continue
            _deliver(session, claim, row, now, counts, config)
            session.commit()
    return counts


def _deliver(session: Session, claim: Claim, row, now: datetime, counts: DeliveryCounts, config) -> None:
    if not row.active:
        _set(session, claim, row.id, status="cancelled", last_error="endpoint switched off")
        counts.cancelled += 1
        return
    body = row.payload.encode()
    # The signature's timestamp is the wall clock at sending (what the receiver compares with its own), not
    # the job's `now`, which tests move.
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "webhook-id": row.event_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(row.secret, row.event_id, timestamp, body),
    }
    attempts = row.attempts + 1
    target = urlsplit(row.url)
    try:
        check_host(target.hostname or "", target.port or (443 if target.scheme == "https" else 80))
    except (AddressRefused, ValueError):
        _set(
            session, claim, row.id, status="failed", attempts=attempts, last_error="refused: the address is not public"
        )
        counts.failed += 1
        return
    try:
        answer = _pool.request(
            "POST",
            row.url,
            body=body,
            headers=headers,
            timeout=urllib3.Timeout(connect=5, read=config["WEBHOOK_TIMEOUT_SECONDS"]),
            redirect=False,
            preload_content=False,
        )
        status = answer.status
        answer.drain_conn()
        answer.release_conn()
    except urllib3.exceptions.HTTPError as exc:
        _again(session, claim, row.id, attempts, now, None, f"no answer: {exc}", counts, config)
        return
    if 200 <= status < 300:
        # The receiver has it: a fact, recorded even across a database restart (or a later sender would post it
        # again) and even if another sender took the claim over meanwhile (not fenced, unlike every other write).
        record_with_retry(
            session,
            lambda s: s.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == row.id, WebhookDelivery.status != "delivered")
                .values(
                    status="delivered", attempts=attempts, last_status=status, delivered_at=now, last_error=None,
                    claimed_at=None,
                )
            ),
        )  # fmt: skip
        counts.delivered += 1
    else:
        _again(session, claim, row.id, attempts, now, status, f"HTTP {status}", counts, config)


def _again(
    session: Session, claim: Claim, delivery_id: int, attempts: int, now: datetime, status, error, counts, config
) -> None:
    """Retry after a backoff, or give up after WEBHOOK_MAX_ATTEMPTS (kept as failed; an admin can resend)."""
    if attempts >= config["WEBHOOK_MAX_ATTEMPTS"]:
        _set(
            session, claim, delivery_id, status="failed", attempts=attempts, last_status=status, last_error=error[:1000]
        )
        log.warning("webhook delivery %s failed for good: %s", delivery_id, error)
        counts.failed += 1
        return
    _set(
        session, claim, delivery_id, status="pending", attempts=attempts, last_status=status, last_error=error[:1000],
        next_attempt_at=now + backoff(attempts, BACKOFF_CAP),
    )  # fmt: skip
    counts.retried += 1


def _set(session: Session, claim: Claim, delivery_id: int, **values) -> None:
    """Write an outcome on a delivery we still hold (fenced by the claim token)."""
    session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id, claim.held()).values(**values))


def resend(session: Session, delivery: WebhookDelivery, now: datetime) -> bool:
    """Queue a delivery again at once (an admin's button); one still being sent is left alone."""
    if delivery.status in ("pending", "sending"):
        return False
    delivery.status = "pending"
    delivery.next_attempt_at = now
    delivery.claimed_at = None
    return True


@dataclass(frozen=True)
class WebhookHealth:
    """Webhooks at a glance for the admin's home page."""

    endpoints: int  # active endpoints
    waiting: int  # deliveries not yet through (first try or retries)
    retrying: int  # of those, the ones that already failed at least once
    failed: int  # gave up after WEBHOOK_MAX_ATTEMPTS


def webhook_health(session: Session) -> WebhookHealth:
    d = WebhookDelivery
    waiting = d.status.in_(("pending", "sending"))
    endpoints = session.scalar(select(func.count()).where(WebhookEndpoint.active.is_(True))) or 0
    pending, retrying, failed = session.execute(
        select(
            func.count().filter(waiting),
            func.count().filter(waiting & (d.attempts > 0)),
            func.count().filter(d.status == "failed"),
        ).where(d.status.in_(("pending", "sending", "failed")))
    ).one()
    return WebhookHealth(int(endpoints), int(pending), int(retrying), int(failed))
