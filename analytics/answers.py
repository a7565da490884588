"""Stored answers reach their customer's segment, the cockpit cells and the retention rules in the scheduler.

The answer POST is the busiest request there is: it only stores the answer, counts it in the rollup, opens a
detractor's case and leaves a row in pending_answers (on PostgreSQL inside its one statement). The scheduler's
apply_answers job then applies the answers in the order they arrived, a batch per transaction, so the cockpit and
the suggestions follow within a tick (a minute) and an answer is applied once even with several schedulers.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from analytics.facts import record_facts
from analytics.models import PendingAnswer
from analytics.segments import apply_answer
from kundenpuls.locks import ANSWERS_LOCK, try_job_lock
from surveys.models import Response

BATCH = 500


def pending_part(claimed, inserted):
    """For surveys' answer statement on PostgreSQL: the new answer waits for apply_answers."""
    source = select(inserted.c.id).join(claimed, inserted.c.invitation_id == claimed.c.id)
    return insert(PendingAnswer).from_select(["response_id"], source.where(claimed.c.customer_id.is_not(None)))


def on_response_submitted(response: Response, session: Session, now: datetime, **_: object) -> None:
    """Receiver of surveys.signals.response_submitted for the answers the statement above did not queue: all on
    SQLite, churn answers (stored by the ORM) on PostgreSQL."""
    if response.customer_id is None:
        return
    if session.get_bind().dialect.name == "postgresql" and response.score is not None:
        return
    session.execute(insert(PendingAnswer).values(response_id=response.id))


def apply_answers(session: Session, now: datetime) -> int:
    """Scheduler job: apply the waiting answers in order and record their facts for the drivers report, BATCH
    per transaction; returns how many. One scheduler at a time, so two answers of one customer are applied in
    the order they came."""
    applied = 0
    while True:
        if not try_job_lock(session, ANSWERS_LOCK):
            session.rollback()
            return applied
        batch = session.execute(
            select(PendingAnswer.response_id, Response.customer_id, Response.score, Response.created_at)
            .outerjoin(Response, Response.id == PendingAnswer.response_id)
            .order_by(PendingAnswer.response_id)
            .limit(BATCH)
        ).all()
        if not batch:
            session.commit()
            return applied
        for answer in batch:
            if answer.customer_id is not None:
                apply_answer(session, answer, now)
        ids = [answer.response_id for answer in batch]
        record_facts(session, ids)
        session.execute(delete(PendingAnswer).where(PendingAnswer.response_id.in_(ids)))
        session.commit()
        applied += len(batch)


def waiting(session: Session) -> int:
    """Answers stored but not applied yet (the cockpit says so next to its figures)."""
    return session.scalar(select(func.count()).select_from(PendingAnswer)) or 0
