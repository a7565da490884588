"""The sender: claims due outbox rows, sends them, and records what happened to each."""

from __future__ import annotations

import functools
import logging
import smtplib
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam, case, select, update
from sqlalchemy.orm import Session

from customers.models import Customer
from kundenpuls.claims import Claim, claim_batch
from kundenpuls.dbpool import record_with_retry
from surveys.mail import SURVEY_MAIL_KINDS, envelope_sender, with_date
from surveys.models import Invitation, OutboxMessage
from surveys.sendwindow import next_window_start
from surveys.signals import invitations_sent
from surveys.transport import DevMailboxTransport, SmtpTransport

log = logging.getLogger(__name__)

BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=2)
# Accepted messages are recorded at least this often; how many at most per run is OUTBOX_RECORD_EVERY (default 10):
# a killed sender resends at most that run (same Message-ID).
MARK_WITHIN_SECONDS = 1.0


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
            claim = claim_batch(session, now, batch_size, claim_timeout, OutboxMessage)
            if not claim.ids or not _send_batch(session, transport, claim, now, counts):
                return counts
    finally:
        transport.close()


def _send_batch(session: Session, transport, claim: Claim, now: datetime, counts: DispatchCounts) -> bool:
    """Send one claimed batch over the open transport; False when the server went away (the rest is released).

    Before half the claim timeout has passed the claim is renewed, and rows another sender took over meanwhile
    are skipped: a sender that lost its claim sends nothing more of it."""
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
        .where(OutboxMessage.id.in_(claim.ids))
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
    ).all()
    try:
        transport.open()
    except (OSError, smtplib.SMTPException) as exc:
        _release(session, claim, rows, now, f"cannot connect: {exc}", counts)
        return False
    sent = _Recorder(session, now, counts)
    try:
        return _send_rows(session, transport, sender, claim, rows, sent, now, counts)
    finally:
        sent.close()
        session.commit()


def _send_rows(session: Session, transport, sender: str, claim: Claim, rows, sent, now: datetime, counts) -> bool:
    lost: set[int] = set()
    for index, row in enumerate(rows):
        if claim.due_for_renewal():
            sent.flush()
            held = claim.renew(session, [r.id for r in rows[index:]])
            lost |= {r.id for r in rows[index:]} - held
        if row.id in lost:
            log.warning("outbox message %s was taken over by another sender; not sending it", row.id)
            continue
        if row.kind in SURVEY_MAIL_KINDS and (
            row.unsubscribed_at is not None or row.invitation_status not in ("pending", "sent")
        ):
            reason = "unsubscribed" if row.unsubscribed_at else f"invitation {row.invitation_status}"
            _set(session, claim, row.id, status="cancelled", last_error=reason)
            counts.cancelled += 1
            continue
        opens = _window_opens(row, now)
        if opens > now:
            _set(session, claim, row.id, status="pending", next_attempt_at=opens)
            counts.deferred += 1
            continue
        try:
            transport.send(sender, row.recipient, with_date(row.raw, now), row.message_id, row.subject)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reason = next(iter(exc.recipients.values()))
            if 400 <= code < 500:
                _retry(session, claim, row, now, f"{code} {_text(reason)}", counts)
            else:
                _fail(session, claim, row, now, f"{code} {_text(reason)}", counts, bad_address=True)
        except smtplib.SMTPResponseException as exc:
            error = f"{exc.smtp_code} {_text(exc.smtp_error)}"
            if 400 <= exc.smtp_code < 500:
                _retry(session, claim, row, now, error, counts)
            else:
                _fail(session, claim, row, now, error, counts)
        except (OSError, smtplib.SMTPException) as exc:
            sent.flush()
            _release(session, claim, rows[index:], now, f"connection lost: {exc}", counts)
            return False
        else:
            sent.add(row)
    sent.flush()
    return True


def _text(reason: bytes | str) -> str:
    return reason.decode(errors="replace") if isinstance(reason, bytes) else str(reason)


def _window_opens(row, now: datetime) -> datetime:
    if row.window_start is None or row.window_end is None:
        return now
    weekdays = {int(d) for d in (row.window_weekdays or "").split(",") if d.strip()}
    return next_window_start(now, row.window_tz, weekdays, row.window_start, row.window_end)


def _set(session: Session, claim: Claim, message_id: int, **values) -> None:
    """Write an outcome on a row we still hold (fenced by the claim token)."""
    session.execute(update(OutboxMessage).where(OutboxMessage.id == message_id, claim.held()).values(**values))


@functools.cache
def _record_statements() -> tuple:
    """The two UPDATEs that record a run of accepted mail, built once: a run is a few messages, and
    building the statements anew cost more Python time than the database took to run them (bench/dispatch)."""
    now = bindparam("sent_now", type_=OutboxMessage.sent_at.type)
    record_sent = (
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(bindparam("sent_ids", expanding=True)), OutboxMessage.status != "sent")
        .values(status="sent", sent_at=now, attempts=OutboxMessage.attempts + 1, last_error=None)
    )
    # One UPDATE: each row updated twice (a first mail) left two new row versions and their index entries.
    first_mail = Invitation.id.in_(bindparam("first_ids", expanding=True)) & Invitation.sent_at.is_(None)
    record_mailed = (
        update(Invitation)
        .where(Invitation.id.in_(bindparam("mailed_ids", expanding=True)))
        .values(
            last_mailed_at=now,
            status=case((first_mail & (Invitation.status == "pending"), "sent"), else_=Invitation.status),
            sent_at=case((first_mail, now), else_=Invitation.sent_at),
        )
    )
    return record_sent, record_mailed


class _Recorder:
    """Accepted messages not recorded yet: recorded in runs of at most OUTBOX_RECORD_EVERY, or MARK_WITHIN_SECONDS
    old. Each run costs three statements and a commit (about 3.5 ms of database time): runs of 10 send about a fifth
    fewer messages per second than runs of 100 (bench/dispatch), the price of a small resend window.

    Recording from a second connection in a thread while the sender talks SMTP was tried and measured: no faster
    (the work is CPU, not waiting, on a machine that also runs the database), so it is not done."""

    def __init__(self, session: Session, now: datetime, counts: DispatchCounts) -> None:
        self.session, self.now, self.counts = session, now, counts
        self.every = current_app.config["OUTBOX_RECORD_EVERY"]
        self.rows: list = []
        self.since = 0.0

    def add(self, row) -> None:
        if not self.rows:
            self.since = time.monotonic()
        self.rows.append(row)
        if len(self.rows) >= self.every or time.monotonic() - self.since >= MARK_WITHIN_SECONDS:
            self.flush()

    def flush(self) -> None:
        _mark_sent(self.session, self.rows, self.now, self.counts)
        self.rows = []

    def close(self) -> None:
        self.flush()


def _mark_sent(session: Session, rows: list, now: datetime, counts: DispatchCounts) -> None:
    """Record a run of accepted messages (and the rollup's count) and commit.

    The SMTP server has these messages, so the record is a fact: it is retried while the database is unreachable
    (a restart), and it is the one write not fenced by the claim token: a message another sender took over
    meanwhile was still delivered, so it is recorded `sent`, never left `cancelled`. An invitation answered before
    its first mail was recorded still gets its `sent_at` (and counts as sent in the rollup).
    """
    if not rows:
        session.commit()
        return
    sent_ids = [row.id for row in rows]
    mailed = [row.invitation_id for row in rows if row.invitation_id is not None]
    first = [row.invitation_id for row in rows if row.invitation_id is not None and row.kind == "invitation"]
    record_sent, record_mailed = _record_statements()

    def record(session: Session) -> None:
        session.execute(record_sent, {"sent_ids": sent_ids, "sent_now": now})
        if mailed:
            session.execute(record_mailed, {"mailed_ids": mailed, "first_ids": first or [-1], "sent_now": now})
        if first:
            invitations_sent.send(None, session=session, invitation_ids=first, now=now)

    record_with_retry(session, record)
    counts.sent += len(rows)


def _retry(session: Session, claim: Claim, row, now: datetime, error: str, counts: DispatchCounts) -> None:
    attempts = row.attempts + 1
    _set(
        session,
        claim,
        row.id,
        status="pending",
        attempts=attempts,
        next_attempt_at=now + backoff(attempts),
        last_error=error[:1000],
    )
    counts.retried += 1


def _fail(
    session: Session, claim: Claim, row, now: datetime, error: str, counts: DispatchCounts, bad_address: bool = False
) -> None:
    _set(session, claim, row.id, status="failed", attempts=row.attempts + 1, last_error=error[:1000])
    counts.failed += 1
    log.warning("outbox message %s failed for good: %s", row.id, error)
    if bad_address and row.customer_id is not None:
        session.execute(
            update(Customer)
            .where(Customer.id == row.customer_id, Customer.email == row.recipient)
            .values(email_invalid_at=now, email_invalid_reason=error[:500])
        )


def _release(session: Session, claim: Claim, rows: list, now: datetime, error: str, counts: DispatchCounts) -> None:
    """Give claimed rows back for a later attempt, after a backoff."""
    log.warning("SMTP unavailable, %d messages wait for a retry: %s", len(rows), error)
    for row in rows:
        _retry(session, claim, row, now, error, counts)
    session.commit()
