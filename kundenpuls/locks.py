"""Scheduler jobs that several scheduler processes must not run at once, and database errors worth a retry."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from kundenpuls.dialect import is_postgresql

# Arbitrary constants naming jobs among PostgreSQL advisory locks.
INVITE_LOCK = 4_262_001
LIFECYCLE_LOCK = 4_262_005
VALUES_LOCK = 4_262_006
SEGMENT_LOCK = 0x5E6_0001
ANSWERS_LOCK = 0x5E6_0002
MODEL_LOCK = 0x5E6_0003

# deadlock_detected, serialization_failure: the transaction lost a race and can simply run again.
TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})


def try_job_lock(session: Session, key: int) -> bool:
    """True when this transaction may run the job: on PostgreSQL a transaction-scoped advisory lock, released
    by commit or rollback, so a second scheduler skips the job instead of redoing it on the same rows (and
    deadlocking with the first). Check whether the job is due only after taking it: the other scheduler may have
    just committed the same run. SQLite has one writer at a time anyway."""
    if not is_postgresql(session):
        return True
    return bool(session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key}).scalar())


def is_transient(error: BaseException) -> bool:
    """A deadlock or serialization failure: nothing is wrong with the job, it lost a race."""
    return isinstance(error, DBAPIError) and getattr(error.orig, "sqlstate", None) in TRANSIENT_SQLSTATES


LOCK_NOT_AVAILABLE = "55P03"


def wait_for_job_lock(session: Session, key: int, seconds: float) -> bool:
    """The job's lock for this transaction, waiting at most `seconds` for a running job to release it: for a request
    that must not race the job (a printed link and the invitation job both create a customer's invitation). False
    when the job held it all that time. SQLite has one writer at a time anyway."""
    if not is_postgresql(session):
        return True
    try:
        with session.begin_nested():
            session.execute(text("SELECT set_config('lock_timeout', :ms, true)"), {"ms": f"{int(seconds * 1000)}ms"})
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})
    except DBAPIError as exc:
        if getattr(exc.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
            raise
        return False
    session.execute(text("SET LOCAL lock_timeout TO DEFAULT"))
    return True
