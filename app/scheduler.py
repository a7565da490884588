"""Every kind of due work, run once (`tick`) or on a clock in its own process (`run`)."""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable, Sequence
from datetime import datetime

from flask import Flask

from kundenpuls.extensions import db
from kundenpuls.locks import is_transient
from kundenpuls.timeutil import utcnow

log = logging.getLogger(__name__)

Job = tuple[str, Callable]


def all_jobs() -> Sequence[Job]:
    """The jobs of every domain package, in the order a tick runs them."""
    from analytics.jobs import JOBS as analytics_jobs
    from customers.jobs import JOBS as customer_jobs
    from feedback.jobs import JOBS as feedback_jobs
    from integrations.jobs import JOBS as integration_jobs
    from messaging.jobs import JOBS as messaging_jobs
    from retention.jobs import JOBS as retention_jobs
    from surveys.jobs import JOBS as survey_jobs

    # Mail queued by any job (invitations, escalations, the digest) goes out in the same tick: sending comes last.
    return (
        *customer_jobs, *survey_jobs, *feedback_jobs, *retention_jobs, *analytics_jobs, *integration_jobs,
        *messaging_jobs,
    )  # fmt: skip


# A job that lost a race with another process (deadlock, serialization failure) runs again this often at once.
TRANSIENT_RETRIES = 3


def tick(now: datetime) -> tuple[dict[str, object], list[str]]:
    """Run each job once as of `now`; a failing job is logged and does not stop the others, and one that lost a
    race with another scheduler or a web worker runs again (its transaction was rolled back whole)."""
    results: dict[str, object] = {}
    failures: list[str] = []
    for name, job in all_jobs():
        for attempt in range(TRANSIENT_RETRIES + 1):
            try:
                results[name] = job(db.session, now)
                break
            except Exception as error:
                db.session.rollback()
                if is_transient(error) and attempt < TRANSIENT_RETRIES:
                    log.warning("job %s lost a race with another process, running it again: %s", name, error.orig)
                    continue
                log.exception("job %s failed", name)
                failures.append(name)
                break
            finally:
                db.session.remove()
    return results, failures


def run_forever(app: Flask, interval_seconds: int = 60) -> None:
    """APScheduler in this process only; web workers never start it."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    scheduler = BlockingScheduler(timezone="UTC")

    def run_tick() -> None:
        with app.app_context():
            results, failures = tick(utcnow())
            log.info("tick: %s%s", results, f" failed: {failures}" if failures else "")

    scheduler.add_job(
        run_tick,
        "interval",
        seconds=interval_seconds,
        id="tick",
        max_instances=1,
        coalesce=True,
        next_run_time=utcnow(),
    )

    def stop(signum: int, _frame: object) -> None:
        """SIGTERM (make run's Ctrl-C, a service manager) or SIGINT: let a running tick finish its transaction."""
        log.info("stopping on signal %s after the running tick", signum)
        scheduler.shutdown(wait=True)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    scheduler.start()
    log.info("scheduler stopped")
