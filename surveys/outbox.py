"""The sender: claims due outbox rows, sends them, and records what happened to each."""

from __future__ import annotations

import logging
import os
import smtplib
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from customers.models import Customer
from surveys.mail import SURVEY_MAIL_KINDS, build_email
from surveys.models import Invitation, OutboxMessage
from surveys.sendwindow import next_window_start
from surveys.transport import DevMailboxTransport, SmtpTransport

log = logging.getLogger(__name__)

BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=2)


@dataclass
class DispatchCounts:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    cancelled: int = 0
    deferred: int = 0


def backoff(attempts: int) -> timedelta:
    """1, 2, 4 ... minutes, capped at two hours: SMTP outages rarely last long."""
    return min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), BACKOFF_CAP)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def claim_batch(session: Session, now: datetime, limit: int, claim_timeout: timedelta) -> list[int]:
    """Mark up to `limit` due rows as ours; rows left 'sending' by a crashed sender are taken over."""
    due = (
        select(OutboxMessage.id)
        .where(
            or_(
                (OutboxMessage.status == "pending") & (OutboxMessage.next_attempt_at <= now),
                (OutboxMessage.status == "sending") & (OutboxMessage.claimed_at <= now - claim_timeout),
            )
        )
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    ids = list(session.scalars(due))
    if ids:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids))
            .values(status="sending", claimed_at=now, claimed_by=worker_id())
        )
    session.commit()
    return ids


def make_transport(session: Session, now: datetime):
    url = current_app.config.get("SMTP_URL")
    if url:
        return SmtpTransport(url, timeout=current_app.config["SMTP_TIMEOUT_SECONDS"])
    return DevMailboxTransport(session, lambda: now)


def dispatch_due(session: Session, now: datetime, limit: int | None = None) -> DispatchCounts:
    """Send every due message, batch after batch, until none is due or the server is away."""
    counts = DispatchCounts()
    batch_size = limit or current_app.config["OUTBOX_BATCH_SIZE"]
    claim_timeout = timedelta(seconds=current_app.config["OUTBOX_CLAIM_TIMEOUT_SECONDS"])
    while True:
        ids = claim_batch(session, now, batch_size, claim_timeout)
        if not ids:
            return counts
        if not _send_batch(session, ids, now, counts):
            return counts


def _send_batch(session: Session, ids: list[int], now: datetime, counts: DispatchCounts) -> bool:
    """Send one claimed batch; False when the server went away (the rest is released)."""
    mail_from = current_app.config["MAIL_FROM"]
    rows = session.execute(
        select(OutboxMessage, Customer.unsubscribed_at, Invitation.status)
        .outerjoin(Customer, Customer.id == OutboxMessage.customer_id)
        .outerjoin(Invitation, Invitation.id == OutboxMessage.invitation_id)
        .where(OutboxMessage.id.in_(ids))
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
    ).all()
    transport = make_transport(session, now)
    try:
        transport.open()
    except (OSError, smtplib.SMTPException) as exc:
        _release(session, [row[0] for row in rows], now, f"cannot connect: {exc}", counts)
        return False
    try:
        for index, (message, unsubscribed_at, invitation_status) in enumerate(rows):
            if message.kind in SURVEY_MAIL_KINDS and (
                unsubscribed_at is not None or invitation_status not in ("pending", "sent")
            ):
                message.status = "cancelled"
                message.last_error = "unsubscribed" if unsubscribed_at else f"invitation {invitation_status}"
                counts.cancelled += 1
                session.commit()
                continue
            opens = _window_opens(message, now)
            if opens > now:
                message.status, message.next_attempt_at = "pending", opens
                counts.deferred += 1
                session.commit()
                continue
            try:
                transport.send(build_email(message, mail_from, now))
            except smtplib.SMTPRecipientsRefused as exc:
                code, reason = next(iter(exc.recipients.values()))
                if 400 <= code < 500:
                    _retry(message, now, f"{code} {reason!r}", counts)
                else:
                    _fail(session, message, now, f"{code} {_text(reason)}", counts, bad_address=True)
            except smtplib.SMTPResponseException as exc:
                if 400 <= exc.smtp_code < 500:
                    _retry(message, now, f"{exc.smtp_code} {_text(exc.smtp_error)}", counts)
                else:
                    _fail(session, message, now, f"{exc.smtp_code} {_text(exc.smtp_error)}", counts)
            except (OSError, smtplib.SMTPException) as exc:
                session.rollback()
                _release(session, [row[0] for row in rows[index:]], now, f"connection lost: {exc}", counts)
                return False
            else:
                _mark_sent(session, message, now)
                counts.sent += 1
            session.commit()
    finally:
        transport.close()
    return True


def _text(reason: bytes | str) -> str:
    return reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)


def _window_opens(message: OutboxMessage, now: datetime) -> datetime:
    if message.window_start is None or message.window_end is None:
        return now
    weekdays = {int(d) for d in (message.window_weekdays or "").split(",") if d.strip()}
    return next_window_start(now, message.window_tz, weekdays, message.window_start, message.window_end)


def _mark_sent(session: Session, message: OutboxMessage, now: datetime) -> None:
    message.status, message.sent_at, message.last_error = "sent", now, None
    message.attempts += 1
    if message.invitation_id is not None:
        invitation = session.get(Invitation, message.invitation_id)
        invitation.last_mailed_at = now
        if message.kind == "invitation" and invitation.status == "pending":
            invitation.status, invitation.sent_at = "sent", now


def _retry(message: OutboxMessage, now: datetime, error: str, counts: DispatchCounts) -> None:
    message.attempts += 1
    message.status = "pending"
    message.next_attempt_at = now + backoff(message.attempts)
    message.last_error = error[:1000]
    counts.retried += 1


def _fail(
    session: Session,
    message: OutboxMessage,
    now: datetime,
    error: str,
    counts: DispatchCounts,
    bad_address: bool = False,
) -> None:
    message.attempts += 1
    message.status, message.last_error = "failed", error[:1000]
    counts.failed += 1
    log.warning("outbox message %s failed for good: %s", message.id, error)
    if bad_address and message.customer_id is not None:
        customer = session.get(Customer, message.customer_id)
        if customer is not None and customer.email == message.recipient:
            customer.email_invalid_at = now
            customer.email_invalid_reason = error[:500]


def _release(
    session: Session, messages: list[OutboxMessage], now: datetime, error: str, counts: DispatchCounts
) -> None:
    """Give claimed rows back for a later attempt, after a backoff."""
    log.warning("SMTP unavailable, %d messages wait for a retry: %s", len(messages), error)
    for message in messages:
        if message.status == "sending":
            _retry(message, now, error, counts)
    session.commit()
