"""The sender: claims due outbox rows, sends them, and records what happened to each."""

from __future__ import annotations

import logging
import os
import smtplib
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import case, select, update
from sqlalchemy.orm import Session

from customers.models import Customer
from kundenpuls.dbpool import record_with_retry
from surveys.mail import SURVEY_MAIL_KINDS, envelope_sender, with_date
from surveys.models import Invitation, OutboxMessage
from surveys.sendwindow import next_window_start
from surveys.signals import invitations_sent
from surveys.transport import DevMailboxTransport, SmtpTransport

log = logging.getLogger(__name__)

BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=2)
# Accepted messages are recorded in runs of this size: fewer commits, a small resend window on a crash.
MARK_EVERY = 100


@dataclass
class DispatchCounts:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    cancelled: int = 0
    deferred: int = 0


def backoff(attempts: int, cap: timedelta = BACKOFF_CAP) -> timedelta:
    """1, 2, 4 ... minutes, capped (two hours for mail: SMTP outages rarely last long)."""
    return min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), cap)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def claim_batch(
    session: Session, now: datetime, limit: int, claim_timeout: timedelta, model: type = OutboxMessage
) -> list[int]:
    """Mark up to `limit` due rows as ours; rows left 'sending' by a crashed sender are taken over first.

    `model` is any outbox table with status, next_attempt_at, claimed_at and claimed_by (mail, webhooks), indexed
    on (status, next_attempt_at). Two queries, one per status: with both conditions OR-ed, PostgreSQL read and
    sorted every due row for each batch (100 ms a batch with 100,000 waiting, 4 ms apart)."""

    def due(condition, size: int):
        ordered = select(model.id).where(condition).order_by(model.next_attempt_at, model.id).limit(size)
        return ordered.with_for_update(skip_locked=True)

    stale = (model.status == "sending") & (model.claimed_at <= now - claim_timeout)
    ids = list(session.scalars(due(stale, limit)))
    if len(ids) < limit:
        ids += session.scalars(due((model.status == "pending") & (model.next_attempt_at <= now), limit - len(ids)))
    if ids:
        session.execute(
            update(model).where(model.id.in_(ids)).values(status="sending", claimed_at=now, claimed_by=worker_id())
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
    transport = make_transport(session, now)
    try:
        while True:
            ids = claim_batch(session, now, batch_size, claim_timeout)
            if not ids or not _send_batch(session, transport, ids, now, counts):
                return counts
    finally:
        transport.close()


def _send_batch(session: Session, transport, ids: list[int], now: datetime, counts: DispatchCounts) -> bool:
    """Send one claimed batch over the open transport; False when the server went away (the rest is released)."""
    sender = envelope_sender()
    rows = session.execute(
        select(
            OutboxMessage.id,
            OutboxMessage.kind,
            OutboxMessage.recipient,
            OutboxMessage.subject,
            OutboxMessage.raw,
            OutboxMessage.message_id,
            OutboxMessage.attempts,
            OutboxMessage.invitation_id,
            OutboxMessage.customer_id,
            OutboxMessage.window_tz,
            OutboxMessage.window_weekdays,
            OutboxMessage.window_start,
            OutboxMessage.window_end,
            Customer.unsubscribed_at,
            Invitation.status.label("invitation_status"),
        )
        .outerjoin(Customer, Customer.id == OutboxMessage.customer_id)
        .outerjoin(Invitation, Invitation.id == OutboxMessage.invitation_id)
        .where(OutboxMessage.id.in_(ids))
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
    ).all()
    try:
        transport.open()
    except (OSError, smtplib.SMTPException) as exc:
        _release(session, rows, now, f"cannot connect: {exc}", counts)
        return False
    sent: list = []
    for index, row in enumerate(rows):
        if row.kind in SURVEY_MAIL_KINDS and (
            row.unsubscribed_at is not None or row.invitation_status not in ("pending", "sent")
        ):
            reason = "unsubscribed" if row.unsubscribed_at else f"invitation {row.invitation_status}"
            _set(session, row.id, status="cancelled", last_error=reason)
            counts.cancelled += 1
            continue
        opens = _window_opens(row, now)
        if opens > now:
            _set(session, row.id, status="pending", next_attempt_at=opens)
            counts.deferred += 1
            continue
        try:
            transport.send(sender, row.recipient, with_date(row.raw, now), row.message_id, row.subject)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reason = next(iter(exc.recipients.values()))
            if 400 <= code < 500:
                _retry(session, row, now, f"{code} {_text(reason)}", counts)
            else:
                _fail(session, row, now, f"{code} {_text(reason)}", counts, bad_address=True)
        except smtplib.SMTPResponseException as exc:
            error = f"{exc.smtp_code} {_text(exc.smtp_error)}"
            if 400 <= exc.smtp_code < 500:
                _retry(session, row, now, error, counts)
            else:
                _fail(session, row, now, error, counts)
        except (OSError, smtplib.SMTPException) as exc:
            _mark_sent(session, sent, now, counts)
            _release(session, rows[index:], now, f"connection lost: {exc}", counts)
            return False
        else:
            sent.append(row)
            if len(sent) >= MARK_EVERY:
                _mark_sent(session, sent, now, counts)
    _mark_sent(session, sent, now, counts)
    return True


def _text(reason: bytes | str) -> str:
    return reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)


def _window_opens(row, now: datetime) -> datetime:
    if row.window_start is None or row.window_end is None:
        return now
    weekdays = {int(d) for d in (row.window_weekdays or "").split(",") if d.strip()}
    return next_window_start(now, row.window_tz, weekdays, row.window_start, row.window_end)


def _set(session: Session, message_id: int, **values) -> None:
    session.execute(update(OutboxMessage).where(OutboxMessage.id == message_id).values(**values))


def _mark_sent(session: Session, rows: list, now: datetime, counts: DispatchCounts) -> None:
    """Record a run of accepted messages in two statements (and the rollup's count) and commit.

    The SMTP server has these messages, so the record is retried while the database is unreachable (a restart):
    giving up would leave them claimed, and the sender that takes the claim over would send them again. Only a
    crash of this process before the commit resends them, with the same Message-ID, so receivers can tell.
    """
    if not rows:
        session.commit()
        return
    sent_ids = [row.id for row in rows]
    mailed = [row.invitation_id for row in rows if row.invitation_id is not None]
    first = [row.invitation_id for row in rows if row.invitation_id is not None and row.kind == "invitation"]

    def record(session: Session) -> None:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(sent_ids))
            .values(status="sent", sent_at=now, attempts=OutboxMessage.attempts + 1, last_error=None)
        )
        if mailed:
            # One UPDATE: each row updated twice (a first mail) left two new row versions and their index entries.
            first_mail = Invitation.id.in_(first) & (Invitation.status == "pending")
            session.execute(
                update(Invitation)
                .where(Invitation.id.in_(mailed))
                .values(
                    last_mailed_at=now,
                    status=case((first_mail, "sent"), else_=Invitation.status),
                    sent_at=case((first_mail, now), else_=Invitation.sent_at),
                )
            )
        if first:
            invitations_sent.send(None, session=session, invitation_ids=first, now=now)

    record_with_retry(session, record)
    counts.sent += len(rows)
    rows.clear()


def _retry(session: Session, row, now: datetime, error: str, counts: DispatchCounts) -> None:
    attempts = row.attempts + 1
    _set(
        session,
        row.id,
        status="pending",
        attempts=attempts,
        next_attempt_at=now + backoff(attempts),
        last_error=error[:1000],
    )
    counts.retried += 1


def _fail(session: Session, row, now: datetime, error: str, counts: DispatchCounts, bad_address: bool = False) -> None:
    _set(session, row.id, status="failed", attempts=row.attempts + 1, last_error=error[:1000])
    counts.failed += 1
    log.warning("outbox message %s failed for good: %s", row.id, error)
    if bad_address and row.customer_id is not None:
        session.execute(
            update(Customer)
            .where(Customer.id == row.customer_id, Customer.email == row.recipient)
            .values(email_invalid_at=now, email_invalid_reason=error[:500])
        )


def _release(session: Session, rows: list, now: datetime, error: str, counts: DispatchCounts) -> None:
    """Give claimed rows back for a later attempt, after a backoff."""
    log.warning("SMTP unavailable, %d messages wait for a retry: %s", len(rows), error)
    for row in rows:
        _retry(session, row, now, error, counts)
    session.commit()
