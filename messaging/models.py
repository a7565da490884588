"""The outbox (every message to send, with its state) and the dev mailbox."""

from __future__ import annotations

from datetime import datetime, time

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, Time
from sqlalchemy.orm import Mapped, mapped_column

from kundenpuls.extensions import db
from kundenpuls.timeutil import UTCDateTime


class OutboxMessage(db.Model):
    """A mail to send, written in the same transaction as what caused it."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # (invitation, kind, sequence) for survey mail: the same mail can never be queued twice.
    key: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    # The survey invitation a survey mail belongs to (set by surveys; the outbox only carries it).
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("invitations.id"), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    # The finished MIME message (without Date, added at sending): what goes out is fixed when queued. LZ4-compressed
    # on PostgreSQL (migration 0037_mail_lz4).
    raw: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(250), unique=True)
    # pending -> sending (claimed) -> sent | failed | cancelled
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Local send window of the recipient, checked again at send time.
    window_tz: Mapped[str | None] = mapped_column(String(64))
    window_weekdays: Mapped[str | None] = mapped_column(String(20))
    window_start: Mapped[time | None] = mapped_column(Time())
    window_end: Mapped[time | None] = mapped_column(Time())
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DevMail(db.Model):
    """The local mailbox that receives mail when no SMTP server is configured."""

    __tablename__ = "dev_mailbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(250), unique=True)
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    raw: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())


class MailConnection(db.Model):
    """One SMTP connection of a sender process, with what it sent and how often the server asked it to slow down:
    /metrics reads these rows, so the figures of senders on other hosts show on every web host."""

    __tablename__ = "mail_connections"

    # host:pid:number (messaging.outbox); a restarted sender starts new rows, old ones are dropped after a day.
    name: Mapped[str] = mapped_column(String(120), primary_key=True)
    sent: Mapped[int] = mapped_column(BigInteger, default=0)
    # 421 and 451 answers: the server throttles; the connection pauses and the message waits, it does not fail.
    throttled: Mapped[int] = mapped_column(BigInteger, default=0)
    last_answer: Mapped[str | None] = mapped_column(String(300))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
