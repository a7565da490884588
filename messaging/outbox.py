"""The sender: claims due outbox rows, sends them, and records what happened to each."""

from __future__ import annotations

import dataclasses
import functools
import logging
import smtplib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from customers.models import Customer
from kundenpuls.claims import Claim, claim_batch
from kundenpuls.dbpool import record_with_retry
from kundenpuls.dialect import is_postgresql
from kundenpuls.extensions import db
from messaging.connections import Connection, is_throttling
from messaging.mail import envelope_sender, with_date
from messaging.models import OutboxMessage
from messaging.sendwindow import next_window_start
from messaging.signals import messages_sent
from messaging.transport import DevMailboxTransport, SmtpTransport

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
    throttled: int = 0  # sent back to the queue because the server asked to slow down (421, 451)


def backoff(attempts: int, cap: timedelta = BACKOFF_CAP) -> timedelta:
    """1, 2, 4 ... minutes, capped (two hours for mail: SMTP outages rarely last long)."""
    return min(BACKOFF_BASE * (2 ** max(attempts - 1, 0)), cap)


def make_transport(session: Session, now: datetime):
    url = current_app.config.get("SMTP_URL")
    if url:
        return SmtpTransport(url, timeout=current_app.config["SMTP_TIMEOUT_SECONDS"])
    return DevMailboxTransport(session, lambda: now)


def dispatch_due(session: Session, now: datetime, limit: int | None = None) -> DispatchCounts:
    """Send every due message, batch after batch, until none is due or the server is away; over SMTP_CONNECTIONS
    connections at once, each in its own thread with its own database session and its own claims.

    One connection on SQLite (one writer at a time) and for the dev mailbox."""
    connections = current_app.config["SMTP_CONNECTIONS"]
    if connections == 1 or not current_app.config.get("SMTP_URL") or not is_postgresql(session):
        return _dispatch(session, now, limit, 1)
    app = current_app._get_current_object()
    results: list = [None] * connections

    def work(number: int) -> None:
        with app.app_context():
            try:
                results[number - 1] = _dispatch(db.session, now, limit, number)
            except BaseException as error:  # raised again in the calling thread
                results[number - 1] = error
            finally:
                db.session.remove()

    threads = [threading.Thread(target=work, args=(n,), name=f"smtp-{n}") for n in range(2, connections + 1)]
    for thread in threads:
        thread.start()
    try:
        results[0] = _dispatch(session, now, limit, 1)
    finally:
        for thread in threads:
            thread.join()
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return DispatchCounts(*(sum(getattr(r, f.name) for r in results) for f in dataclasses.fields(DispatchCounts)))


def _dispatch(session: Session, now: datetime, limit: int | None, number: int) -> DispatchCounts:
    """One connection's sending: batch after batch until none is due, the server is away or keeps throttling."""
    counts = DispatchCounts()
    batch_size = limit or current_app.config["OUTBOX_BATCH_SIZE"]
    claim_timeout = timedelta(seconds=current_app.config["OUTBOX_CLAIM_TIMEOUT_SECONDS"])
    transport = make_transport(session, now)
    connection = Connection(session, number, now)
    try:
        while True:
            claim = claim_batch(session, now, batch_size, claim_timeout, OutboxMessage)
            if not claim.ids or not _send_batch(session, transport, connection, claim, now, counts):
                return counts
    finally:
        transport.close()


def _send_batch(
    session: Session, transport, connection: Connection, claim: Claim, now: datetime, counts: DispatchCounts
) -> bool:
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
        )
        .where(OutboxMessage.id.in_(claim.ids))
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
    ).all()
    try:
        transport.open()
    except (OSError, smtplib.SMTPException) as exc:
        _release(session, claim, rows, now, f"cannot connect: {exc}", counts)
        return False
    withdrawn = _withdrawn(session, rows)
    sent = _Recorder(session, now, counts, connection)
    try:
        return _send_rows(session, transport, connection, sender, claim, rows, withdrawn, sent, now, counts)
    finally:
        sent.flush()  # what the server accepted is recorded, whatever ended the batch
        session.commit()


def _send_rows(
    session: Session,
    transport,
    connection: Connection,
    sender: str,
    claim: Claim,
    rows,
    withdrawn: dict,
    sent,
    now: datetime,
    counts,
) -> bool:
    lost: set[int] = set()
    for index, row in enumerate(rows):
        if claim.due_for_renewal():
            sent.flush()
            held = claim.renew(session, [r.id for r in rows[index:]])
            lost |= {r.id for r in rows[index:]} - held
        if row.id in lost:
            log.warning("outbox message %s was taken over by another sender; not sending it", row.id)
            continue
        if row.id in withdrawn:
            _set(session, claim, row.id, status="cancelled", last_error=withdrawn[row.id])
            counts.cancelled += 1
            continue
        opens = _window_opens(row, now)
        if opens > now:
            _set(session, claim, row.id, status="pending", next_attempt_at=opens)
            counts.deferred += 1
            continue
        try:
            transport.send(sender, row.recipient, with_date(row.raw, now), row.message_id, row.subject)
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPResponseException) as exc:
            code, reason = _answer(exc)
            if is_throttling(code, to_recipient=isinstance(exc, smtplib.SMTPRecipientsRefused)):
                if not _throttled(
                    session, transport, connection, claim, rows[index:], f"{code} {_text(reason)}", now, sent
                ):
                    counts.throttled += len(rows) - index
                    return False
                counts.throttled += 1
            elif 400 <= code < 500:
                _retry(session, claim, row, now, f"{code} {_text(reason)}", counts)
            else:
                bad_address = isinstance(exc, smtplib.SMTPRecipientsRefused)
                _fail(session, claim, row, now, f"{code} {_text(reason)}", counts, bad_address=bad_address)
        except (OSError, smtplib.SMTPException) as exc:
            sent.flush()
            _release(session, claim, rows[index:], now, f"connection lost: {exc}", counts)
            return False
        else:
            connection.accepted()
            sent.add(row)
    return True


def _answer(exc: smtplib.SMTPException) -> tuple[int, bytes | str]:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return next(iter(exc.recipients.values()))
    return exc.smtp_code, exc.smtp_error


def _throttled(
    session: Session, transport, connection: Connection, claim: Claim, rows: list, answer: str, now: datetime, sent
) -> bool:
    """The server asked to slow down: the message goes back to the queue as it was (no attempt counted), and the
    connection pauses (after a 421 the server has closed it: the next message opens a new one). When the pause is
    at its cap already, the rest of the batch goes back too and this connection stops: False."""
    going_on = connection.throttled(session, answer, now)
    for row in rows[: 1 if going_on else len(rows)]:
        _set(session, claim, row.id, status="pending", next_attempt_at=now, last_error=answer[:1000])
    sent.flush()
    session.commit()  # nothing held while waiting
    log.warning("SMTP server throttles (%s); %s pauses %.0f s", answer, connection.name, connection.pause)
    if answer.startswith("421"):
        transport.close()
    if going_on:
        connection.wait()
    return going_on


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
def _record_sent():
    """The UPDATE that records a run of accepted messages, built once: a run is a few messages, and building the
    statement anew cost more Python time than the database took to run it (bench/dispatch)."""
    return (
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(bindparam("sent_ids", expanding=True)), OutboxMessage.status != "sent")
        .values(
            status="sent",
            sent_at=bindparam("sent_now", type_=OutboxMessage.sent_at.type),
            attempts=OutboxMessage.attempts + 1,
            last_error=None,
        )
    )


WithdrawalCheck = Callable[[Session, list], dict[int, str]]
_WITHDRAWAL_CHECKS: dict[str, WithdrawalCheck] = {}


def add_withdrawal_check(kinds: tuple[str, ...], check: WithdrawalCheck) -> None:
    """Messages of these kinds are offered to `check(session, rows)` before they go out; it returns {row id:
    reason} for those that must not be sent any more (surveys: the invitation was answered, the customer
    unsubscribed). One query per batch, not per message."""
    for kind in kinds:
        _WITHDRAWAL_CHECKS[kind] = check


def _withdrawn(session: Session, rows) -> dict[int, str]:
    by_check: dict[WithdrawalCheck, list] = {}
    for row in rows:
        check = _WITHDRAWAL_CHECKS.get(row.kind)
        if check is not None:
            by_check.setdefault(check, []).append(row)
    withdrawn: dict[int, str] = {}
    for check, checked in by_check.items():
        withdrawn.update(check(session, checked))
    return withdrawn


class _Recorder:
    """Accepted messages not recorded yet: recorded in runs of at most OUTBOX_RECORD_EVERY, or MARK_WITHIN_SECONDS
    old. Each run costs three statements and a commit (about 3.5 ms of database time): runs of 10 send about a fifth
    fewer messages per second than runs of 100 (bench/dispatch), the price of a small resend window.

    Recording from a second connection in a thread while the sender talks SMTP was tried and measured: no faster
    (the work is CPU, not waiting, on a machine that also runs the database), so it is not done."""

    def __init__(self, session: Session, now: datetime, counts: DispatchCounts, connection: Connection) -> None:
        self.session, self.now, self.counts, self.connection = session, now, counts, connection
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
        if self.rows:
            _mark_sent(self.session, self.rows, self.now, self.counts, self.connection)
            self.rows = []


def _mark_sent(session: Session, rows: list, now: datetime, counts: DispatchCounts, connection: Connection) -> None:
    """Record a run of accepted messages, let packages above record what it means to them, and commit.

    The SMTP server has these messages, so the record is a fact: it is retried while the database is unreachable
    (a restart), and it is the one write not fenced by the claim token: a message another sender took over
    meanwhile was still delivered, so it is recorded `sent`, never left `cancelled`.
    """
    sent_ids = [row.id for row in rows]

    def record(session: Session) -> None:
        session.execute(_record_sent(), {"sent_ids": sent_ids, "sent_now": now})
        connection.record_sent(session, len(sent_ids), now)
        messages_sent.send(None, session=session, rows=rows, now=now)

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
