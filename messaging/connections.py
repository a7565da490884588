"""Each SMTP connection of a sender process: its name, its pause while the server throttles, and its counts.

A server that answers 421 (at any step), or 451 to the sender or the message, asks this client to slow down (the
rate limits of large mailbox providers and relay services). The connection then waits before its next message,
twice as long at each further such answer (up to `PAUSE_CAP`, remembered across ticks) and half as long after each
accepted message; the message goes back to the queue due at once, with no attempt counted, so throttling never
makes mail fail. A 4xx to one recipient (451 greylisting, a full mailbox) is about that message: it is retried
with backoff (messaging.outbox). The counts live in `mail_connections`, so /metrics on any
web host shows the senders of every host.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from kundenpuls.claims import worker_id
from kundenpuls.dialect import insert_new_rows
from messaging.models import MailConnection

PAUSE_FIRST = 1.0  # seconds
PAUSE_CAP = 30.0
FORGET_AFTER = timedelta(days=1)


# A connection's pause outlives the tick: the next tick's connection with the same number starts where it ended.
_pauses: dict[int, float] = {}


def is_throttling(code: int, to_recipient: bool) -> bool:
    """The server's answer is about this client's pace, not about the message."""
    return code == 421 or (code == 451 and not to_recipient)


class Connection:
    """One connection's state in this process; `number` counts from 1 within the process."""

    def __init__(self, session: Session, number: int, now: datetime) -> None:
        self.name, self.number = f"{worker_id()}:{number}", number
        if session.scalar(select(MailConnection.name).where(MailConnection.name == self.name)) is None:
            session.execute(delete(MailConnection).where(MailConnection.updated_at < now - FORGET_AFTER))
            row = {"name": self.name, "sent": 0, "throttled": 0, "started_at": now, "updated_at": now}
            insert_new_rows(session, MailConnection.__table__, [row], "name", ("name",))
            session.commit()

    def record_sent(self, session: Session, count: int, now: datetime) -> None:
        """In the transaction that records the messages as sent."""
        session.execute(
            update(MailConnection)
            .where(MailConnection.name == self.name)
            .values(sent=MailConnection.sent + count, updated_at=now)
        )

    def throttled(self, session: Session, answer: str, now: datetime) -> bool:
        """Count a throttling answer and lengthen the pause; False once the pause is at its cap (the server still
        says no after the longest wait: this connection stops until the next tick)."""
        at_cap = self.pause >= PAUSE_CAP
        self.pause = min(PAUSE_CAP, max(PAUSE_FIRST, self.pause * 2))
        if at_cap:
            self.pause = PAUSE_CAP / 2  # the next tick starts slow, and stops again at once if nothing changed
        session.execute(
            update(MailConnection)
            .where(MailConnection.name == self.name)
            .values(throttled=MailConnection.throttled + 1, last_answer=answer[:300], updated_at=now)
        )
        return not at_cap

    @property
    def pause(self) -> float:
        return _pauses.get(self.number, 0.0)

    @pause.setter
    def pause(self, seconds: float) -> None:
        _pauses[self.number] = seconds

    def wait(self) -> None:
        time.sleep(self.pause)

    def accepted(self) -> None:
        if self.pause:
            self.pause = self.pause / 2 if self.pause > PAUSE_FIRST else 0.0
