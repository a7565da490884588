"""App processes that tests start against the test database: scheduler ticks and gunicorn, as on a server."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import text, update

from surveys.models import Survey
from tests.smtp import free_port

ROOT = Path(__file__).resolve().parent.parent


def tick(env: dict, now: datetime) -> subprocess.Popen:
    """`flask scheduler tick --now` in its own process; read its output with communicate()."""
    command = [sys.executable, "-m", "flask", "--app", "wsgi", "scheduler", "tick", "--now", now.isoformat()]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def gunicorn(env: dict, workers: int) -> tuple[subprocess.Popen, str]:
    """gunicorn with the production settings file on a free port; returns the process and its base URL once
    /healthz answers."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "-c",
        "gunicorn.conf.py",
        "-w",
        str(workers),
        "-b",
        f"127.0.0.1:{port}",
    ]
    proc = subprocess.Popen([*command, "wsgi:app"], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=1)
            return proc, base
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("gunicorn did not start")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    proc.wait(timeout=30)


def last_weekday_morning(now: datetime) -> datetime:
    """10:00 Berlin on the latest weekday before `now` (inside the default send window, at most 3 days back)."""
    day = now.astimezone(ZoneInfo("Europe/Berlin")).replace(hour=10, minute=0, second=0, microsecond=0)
    while day >= now or day.weekday() >= 5:
        day -= timedelta(days=1)
    return day.astimezone(UTC)


def seed_due_purchases(session, when: datetime, customers: int) -> None:
    """`customers` customers with one purchase each, due for the NPS survey at `when` (SQL, no ORM); the survey
    sends no reminders, so every mail that arrives is a first invitation."""
    bought = when - timedelta(days=3, hours=1)
    session.execute(
        text(
            "INSERT INTO customers (external_id, email, locale, created_at, lifecycle_phase, purchase_count)"
            " SELECT 'S' || g, 's' || g || '@example.com', 'de', :at, 'new', 1 FROM generate_series(1, :n) g"
        ),
        {"at": bought, "n": customers},
    )
    session.execute(
        text(
            "INSERT INTO purchases (order_id, customer_id, amount, currency, purchased_at, created_at)"
            " SELECT 'SO-' || id, id, 49.90, 'EUR', :at, :at FROM customers"
        ),
        {"at": bought},
    )
    session.execute(update(Survey).where(Survey.kind == "nps").values(reminder_count=0))
    session.commit()
