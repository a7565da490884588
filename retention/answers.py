"""Stored answers reach their customer's segment, the cockpit cells and the retention rules in the scheduler.

The answer POST is the busiest request there is: it only stores the answer, counts it in the rollup, opens a
detractor's case and leaves a row in pending_answers (on PostgreSQL inside its one statement). The scheduler's
apply_answers job then applies the answers in the order they arrived, a batch per transaction, so the cockpit and
the suggestions follow within a tick (a minute) and an answer is applied once even with several schedulers.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.orm import Session

from analytics.facts import record_facts
from analytics.models import PendingAnswer
from kundenpuls.dialect import is_postgresql
from kundenpuls.locks import ANSWERS_LOCK, is_transient, try_job_lock
from retention.segments import apply_answer
from surveys.kinds import CHURN, NPS
from surveys.models import Response, Survey

log = logging.getLogger(__name__)
BATCH = 500
SEGMENT_KINDS = (NPS.key, CHURN.key)
RETRY_FAILED = timedelta(hours=1)


def pending_part(claimed, inserted):
    """For surveys' answer statement on PostgreSQL: the new answer waits for apply_answers."""
    source = select(inserted.c.id).join(claimed, inserted.c.invitation_id == claimed.c.id)
    return insert(PendingAnswer).from_select(["response_id"], source.where(claimed.c.customer_id.is_not(None)))


def on_response_submitted(response: Response, session: Session, now: datetime, **_: object) -> None:
    """Receiver of surveys.signals.response_submitted for the answers the statement above did not queue: all on
    SQLite, churn answers (stored by the ORM) on PostgreSQL."""
    if response.customer_id is None:
        return
    if is_postgresql(session) and response.score is not None:
        return
    session.execute(insert(PendingAnswer).values(response_id=response.id))


def on_answer_identified(response: Response, session: Session, now: datetime, **_: object) -> None:
    """Receiver of surveys.signals.answer_identified: an anonymous answer whose writer confirmed their address now
    belongs to a customer, and reaches their segment like any answer."""
    session.execute(insert(PendingAnswer).values(response_id=response.id))


def apply_answers(session: Session, now: datetime) -> int:
    """Scheduler job: apply the waiting answers in order and record their facts for the drivers report, BATCH
    per transaction; returns how many it worked through. One scheduler at a time, so two answers of one
    customer are applied in the order they came. An answer that fails stays with its error (logged, counted in
    /metrics) and is tried again after RETRY_FAILED; the others go on."""
    applied = 0
    while True:
        if not try_job_lock(session, ANSWERS_LOCK):
            session.rollback()
            return applied
        due = or_(PendingAnswer.failed_at.is_(None), PendingAnswer.failed_at <= now - RETRY_FAILED)
        batch = session.execute(
            select(PendingAnswer.response_id, Response.customer_id, Response.score, Response.created_at, Survey.kind)
            .outerjoin(Response, Response.id == PendingAnswer.response_id)
            .outerjoin(Survey, Survey.id == Response.survey_id)
            .where(due)
            .order_by(PendingAnswer.response_id)
            .limit(BATCH)
        ).all()
        if not batch:
            session.commit()
            return applied
        try:
            _apply(session, batch, now)
        except Exception as error:
            session.rollback()
            if is_transient(error):
                raise
            # One of them is broken: one at a time now, each in a savepoint, to keep the others going.
            if not try_job_lock(session, ANSWERS_LOCK):
                session.rollback()
                return applied
            for answer in batch:
                try:
                    with session.begin_nested():
                        _apply(session, [answer], now)
                except Exception as single:
                    if is_transient(single):
                        raise
                    log.exception("answer %s could not be applied", answer.response_id)
                    session.execute(
                        update(PendingAnswer)
                        .where(PendingAnswer.response_id == answer.response_id)
                        .values(failed_at=now, error=f"{type(single).__name__}: {single}"[:500])
                    )
        session.commit()
        applied += len(batch)


def _apply(session: Session, batch: list, now: datetime) -> None:
    """NPS and churn answers move the segment (its satisfaction is the latest NPS class) and NPS answers are the
    drivers report's facts; CSAT and effort answers leave only their row here (they have their own reports)."""
    segment_answers = [answer for answer in batch if answer.kind in SEGMENT_KINDS]
    for answer in segment_answers:
        if answer.customer_id is not None:
            apply_answer(session, answer, now)
    record_facts(session, [answer.response_id for answer in segment_answers if answer.kind == NPS.key])
    ids = [answer.response_id for answer in batch]
    session.execute(delete(PendingAnswer).where(PendingAnswer.response_id.in_(ids)))


def waiting(session: Session, failed: bool = False) -> int:
    """Answers stored but not applied yet (the cockpit says so next to its figures); with `failed`, those
    that could not be applied."""
    pending = select(func.count()).select_from(PendingAnswer)
    return session.scalar(pending.where(PendingAnswer.failed_at.is_not(None)) if failed else pending) or 0
