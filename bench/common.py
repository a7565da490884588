"""Shared pieces of the benchmarks: a throwaway PostgreSQL database and a migrated app on it."""

from __future__ import annotations

import contextlib
import os
import resource
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_ADMIN = os.environ.get("KP_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextlib.contextmanager
def throwaway_database(prefix: str):
    """Yield a SQLAlchemy URL of a fresh PostgreSQL database, dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def psycopg_url(sqlalchemy_url: str) -> str:
    return sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(server_pid: int) -> dict[str, float]:
    """CPU seconds (user and system) used so far by a server process with its children (gunicorn's master and
    workers) and by the PostgreSQL processes, from /proc (Linux): where a closed loop's time goes, per request."""
    used = {"app": 0.0, "postgres": 0.0}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name, _, rest = (entry / "stat").read_text().rpartition(")")
        except OSError:
            continue  # the process ended meanwhile
        fields = rest.split()
        ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))
        if int(entry.name) == server_pid or int(fields[1]) == server_pid:  # fields[1]: the parent's pid
            used["app"] += ticks / _TICKS
        elif name.endswith("(postgres"):
            used["postgres"] += ticks / _TICKS
    return used


def migrated(url: str, secret: str = "bench-secret") -> dict[str, str]:
    """Migrate the database at `url` (flask db upgrade, as on a server); returns the app's environment."""
    env = {"DATABASE_URL": url, "SECRET_KEY": secret, "KUNDENPULS_ENV": "development"}
    subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
        cwd=ROOT, env={**os.environ, **env}, check=True, capture_output=True,
    )  # fmt: skip
    return env


def seconds_each(fn, runs: int) -> list[float]:
    """Wall-clock seconds of `runs` calls of `fn` (callers take the min or the median)."""
    samples = []
    for _ in range(runs):
        begin = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - begin)
    return samples


def new_api_key(app) -> str:
    """A new API key named "bench" in `app`'s database; returns the key to send."""
    from datetime import UTC, datetime

    from kundenpuls.extensions import db
    from kundenpuls.models import ApiKey

    with app.app_context():
        key = ApiKey.generate()
        db.session.add(
            ApiKey(name="bench", prefix=key[:10], key_hash=ApiKey.hash_key(key), created_at=datetime.now(UTC))
        )
        db.session.commit()
    return key


def signed_in_agent(app):
    """A test client of `app` signed in as a new agent (agent@example.com), through the real login form."""
    import re
    from datetime import UTC, datetime

    from kundenpuls.extensions import db
    from kundenpuls.models import User

    with app.app_context():
        agent = User(email="agent@example.com", role="agent", created_at=datetime.now(UTC))
        agent.set_password("bench-password")
        db.session.add(agent)
        db.session.commit()
    client = app.test_client()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/login").text).group(1)
    signed_in = client.post(
        "/login", data={"email": "agent@example.com", "password": "bench-password", "csrf_token": token}
    )
    assert signed_in.status_code == 302
    return client
