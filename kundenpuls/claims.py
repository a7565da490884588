"""Claimed work: rows a sender takes for itself, with a fencing token and the database's clock.

Every outbox-like table (mail, webhook deliveries) has `status`, `next_attempt_at`, `claimed_at` and
`claimed_by`. A sender claims a batch ('sending'), works through it and records each outcome. Three rules keep
two healthy senders from doing the same work twice:

- A claim is stamped with the database's clock, never the job's `now` (which a tick fixes when it starts and a
  test moves). A second sender takes a claim over only when it is older than the claim timeout by that clock.
- A claim carries a fencing token (`claimed_by`: host, process and a number per claim). Every later write checks
  the token, so a sender whose claim was taken over cannot overwrite the new holder's record.
- A sender renews its claim before half the timeout has passed and drops the rows it no longer holds, so it stops
  before sending a message that another sender now owns.
"""

from __future__ import annotations

import itertools
import os
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from kundenpuls.dialect import is_postgresql
from kundenpuls.timeutil import utcnow

_claims = itertools.count(1)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def database_clock(session: Session) -> datetime:
    """The database server's wall clock (PostgreSQL), so claims compare on one clock across hosts; SQLite runs on
    this host, whose clock it is."""
    return session.scalar(select(func.clock_timestamp())) if is_postgresql(session) else utcnow()


@dataclass
class Claim:
    """The rows one sender holds, under one fencing token."""

    model: type
    token: str
    timeout: timedelta
    ids: list[int] = field(default_factory=list)
    renewed: float = field(default_factory=time.monotonic)

    def held(self):
        """The condition every write on a claimed row adds: still 'sending' and still ours."""
        return (self.model.status == "sending") & (self.model.claimed_by == self.token)

    def due_for_renewal(self) -> bool:
        return time.monotonic() - self.renewed >= self.timeout.total_seconds() / 2

    def renew(self, session: Session, ids: list[int]) -> set[int]:
        """Stamp the rows still ours with the database's clock and commit; returns the ids we still hold (a row
        missing from it was taken over, or finished by someone else, and must not be sent)."""
        if not ids:
            self.renewed = time.monotonic()
            return set()
        clock = database_clock(session)
        result = session.execute(
            update(self.model)
            .where(self.model.id.in_(ids), self.held())
            .values(claimed_at=clock)
            .returning(self.model.id)
        )
        still = set(result.scalars())
        session.commit()
        self.renewed = time.monotonic()
        return still


def claim_batch(session: Session, now: datetime, limit: int, claim_timeout: timedelta, model: type) -> Claim:
    """Mark up to `limit` due rows as ours; rows whose claim went stale (a crashed sender) are taken over first.

    Due means `next_attempt_at <= now` (the job's time: when a message may go out is business logic). Stale means
    claimed longer ago than `claim_timeout` by the database's clock. Two queries, one per status: with both
    conditions OR-ed, PostgreSQL read and sorted every due row for each batch (100 ms a batch with 100,000
    waiting, 4 ms apart)."""

    def due(condition, size: int):
        ordered = select(model.id).where(condition).order_by(model.next_attempt_at, model.id).limit(size)
        return ordered.with_for_update(skip_locked=True)

    clock = database_clock(session)
    claim = Claim(model=model, token=f"{worker_id()}:{next(_claims)}", timeout=claim_timeout)
    stale = (model.status == "sending") & (model.claimed_at <= clock - claim_timeout)
    ids = list(session.scalars(due(stale, limit)))
    if len(ids) < limit:
        ids += session.scalars(due((model.status == "pending") & (model.next_attempt_at <= now), limit - len(ids)))
    if ids:
        session.execute(
            update(model).where(model.id.in_(ids)).values(status="sending", claimed_at=clock, claimed_by=claim.token)
        )
    session.commit()
    claim.ids = ids
    claim.renewed = time.monotonic()
    return claim
