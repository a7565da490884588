"""The nightly refresh: every customer's segment and every rule on every customer, slice by slice, logged as a run
(the per-customer refresh after an answer or a root cause is retention/segments.py)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from analytics.facts import record_facts
from customers.models import Customer
from kundenpuls.dialect import is_postgresql, set_local
from kundenpuls.locks import SEGMENT_LOCK, try_job_lock
from kundenpuls.timeutil import utcnow
from retention import cells, offers
from retention.models import CustomerSegment, SegmentRun
from retention.segments import CHUNK, expire_segments, refresh_scope


def _due(session: Session, now: datetime, hour: int) -> bool:
    """Once a day after `hour` UTC; the first run after install at once (the backfill)."""
    last = session.scalar(select(func.max(SegmentRun.started_at)).where(SegmentRun.finished_at.is_not(None)))
    if last is None:
        return True
    boundary = now.replace(hour=hour, minute=0, second=0, microsecond=0)
    if now < boundary:
        boundary -= timedelta(days=1)
    return last < boundary


def _slice(session: Session, now: datetime, id_range: tuple[int, int]) -> tuple[int, int]:
    """One slice of the full refresh: segments, then the rules; returns (moves, suggestions)."""
    from retention.suggestions import suggest

    written = refresh_scope(session, now, "nightly", None, id_range)
    return written.moves, suggest(session, now, id_range=id_range)


def _analyze(session: Session) -> None:
    """After a mass insert the planner still believes the tables are small and picks nested loops that turn
    quadratic (8 s instead of 0.1 s for 30,000 customers): tell it what is there."""
    session.execute(text("ANALYZE customer_segments"))
    session.execute(text("ANALYZE suggestions"))


def refresh_all(session: Session, now: datetime, workers: int = 1) -> SegmentRun:
    """Every customer's segment, then every rule on every customer, slice by slice; logged as a run.

    On PostgreSQL with `workers` > 1, the slices after the first run in that many connections at once, each
    slice its own transaction (customers are independent; memory stays one slice per worker). The cells are
    rebuilt at the end, in the caller's transaction."""
    set_local(session, "jit", "off")
    run = SegmentRun(started_at=now)
    session.add(run)
    low, high = session.execute(select(func.min(Customer.id), func.max(Customer.id))).one()
    ranges = [(start, start + CHUNK - 1) for start in range(low or 0, (high or -1) + 1, CHUNK)]
    if not is_postgresql(session) or workers <= 1 or len(ranges) <= 1:
        for id_range in ranges:
            moved, made = _slice(session, now, id_range)
            if is_postgresql(session) and id_range == ranges[0]:
                _analyze(session)  # ANALYZE sees this transaction's own rows
            run.changes += moved
            run.suggestions += made
    else:
        engine = session.get_bind()
        app = current_app._get_current_object()

        def work(id_range: tuple[int, int]) -> tuple[int, int]:
            # Each worker thread has its own session and the app's context (the facts read settings).
            with app.app_context(), Session(engine) as own:
                set_local(own, "jit", "off")
                result = _slice(own, now, id_range)
                own.commit()
                return result

        run.changes, run.suggestions = work(ranges[0])
        with Session(engine) as own:
            _analyze(own)
            own.commit()
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for moved, made in pool.map(work, ranges[1:]):
                run.changes += moved
                run.suggestions += made
    cells.rebuild(session, now)
    offers.refresh_evidence(session, now)
    run.customers = session.scalar(select(func.count()).select_from(CustomerSegment)) or 0
    run.finished_at = utcnow()
    expire_segments(session, None)
    session.flush()
    return run


def last_run(session: Session) -> SegmentRun | None:
    """The latest finished full refresh (the cockpit says how fresh its figures are)."""
    finished = select(SegmentRun).where(SegmentRun.finished_at.is_not(None))
    return session.scalars(finished.order_by(SegmentRun.started_at.desc()).limit(1)).first()


def nightly_refresh(session: Session, now: datetime) -> int | None:
    """Scheduler job: the full refresh once a night (NIGHTLY_HOUR UTC); one scheduler at a time."""
    if not try_job_lock(session, SEGMENT_LOCK) or not _due(session, now, NIGHTLY_HOUR):
        session.rollback()
        return None
    run = refresh_all(session, now, current_app.config["SEGMENT_REFRESH_WORKERS"])
    record_facts(session)  # answers loaded in bulk, past apply_answers
    session.commit()
    return run.changes


NIGHTLY_HOUR = 2
