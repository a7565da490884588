"""Reports from a real PostgreSQL streaming replica: report reads go there, writes to the primary; pages and API
answers say how far behind the replica is; a replica that is down means reading the primary, not an error."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import time
from datetime import UTC, datetime

import psycopg
import pytest
from flask import g
from flask_migrate import upgrade
from sqlalchemy import func, select

from app import create_app
from customers.models import Customer
from kundenpuls.extensions import db
from kundenpuls.models import ApiKey
from tests.feedback_helpers import answered, make_user, sign_in
from tests.smtp import free_port

ENGLISH = {"Accept-Language": "en"}


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=lambda p: int(p.split("/")[4]))
    if not found:
        pytest.skip(f"PostgreSQL server binaries ({name}) are not installed")
    return found[-1]


def _run(*command: str) -> None:
    """As the postgres user when run as root (the server refuses to run as root)."""
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    subprocess.run([*prefix, *command], check=True, capture_output=True, timeout=120)


class Cluster:
    def __init__(self, base: str, name: str) -> None:
        self.data, self.port, self.base = f"{base}/{name}", free_port(), base

    def start(self) -> None:
        options = f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off"
        _run(_bin("pg_ctl"), "-D", self.data, "-l", f"{self.data}.log", "-o", options, "-w", "start")

    def stop(self) -> None:
        _run(_bin("pg_ctl"), "-D", self.data, "-m", "fast", "-w", "stop")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def sql(self, statement: str):
        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True) as c:
            return c.execute(statement).fetchone()


@pytest.fixture(scope="module")
def clusters(postgresql_only_module):
    """A primary and its streaming standby (pg_basebackup -R) on two loopback ports, in a temporary directory."""
    base = tempfile.mkdtemp(prefix="kp-replica-")
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    primary, standby = Cluster(base, "primary"), Cluster(base, "standby")
    _run(_bin("initdb"), "-D", primary.data, "-A", "trust", "-U", "postgres", "--no-sync")
    primary.start()
    _run(
        _bin("pg_basebackup"), "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
        "-D", standby.data, "-R", "-X", "stream", "--no-sync",
    )  # fmt: skip
    standby.start()
    try:
        yield primary, standby
    finally:
        for cluster in (standby, primary):
            with contextlib.suppress(subprocess.CalledProcessError):  # stopped by the test already
                cluster.stop()
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def postgresql_only_module():
    if os.environ.get("KP_TEST_DB", "sqlite") != "postgresql":
        pytest.skip("PostgreSQL only: a streaming replica")


def _caught_up(primary: Cluster, standby: Cluster) -> None:
    target = primary.sql("SELECT pg_current_wal_lsn()")[0]
    for _ in range(200):
        if standby.sql(f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn")[0]:
            return
        time.sleep(0.05)
    raise AssertionError("the standby did not catch up in 10 s")


def test_reports_read_the_replica_write_the_primary_and_fall_back_when_it_is_down(clusters):
    primary, standby = clusters
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": primary.url,
            "REPORTS_DATABASE_URL": standby.url,
            "REPORTS_LAG_WARN_SECONDS": 1,
            "SMTP_URL": None,
            "BASE_URL": "http://kundenpuls.test",
            "SECRET_KEY": "test-secret",
            "LOGIN_RATE_LIMIT": "1000 per minute",
        }
    )
    client = app.test_client()
    with app.app_context():
        upgrade()
        key = ApiKey.generate()
        db.session.add(
            ApiKey(name="shop", prefix=key[:10], key_hash=ApiKey.hash_key(key), created_at=datetime.now(UTC))
        )
        sign_in(client, make_user(db.session, "managerin@example.com", "manager"))
        answered(db.session, 1, 9)
        db.session.remove()
    api = {"Authorization": f"Bearer {key}"}

    def answers() -> tuple[int, object]:
        reply = client.get("/api/v1/nps", headers=api)
        assert reply.status_code == 200, reply.text
        return reply.json["total"]["n"], reply.headers.get("Kundenpuls-Replica-Lag")

    _caught_up(primary, standby)
    n, lag = answers()
    assert n == 1 and float(lag) < 1  # read on the replica, which is up to date

    # Replay paused: the primary takes a second answer the replica does not show, and the pages say how far behind.
    standby.sql("SELECT pg_wal_replay_pause()")
    with app.app_context():
        answered(db.session, 2, 3)
        db.session.remove()
    time.sleep(1.5)
    n, lag = answers()
    assert n == 1 and float(lag) > 1
    page = client.get("/reports/nps", headers=ENGLISH)
    assert page.status_code == 200
    assert "These figures come from a replica of the database that is" in page.text and "s behind" in page.text

    # Within a replica request, writes and locking reads still go to the primary.
    with app.test_request_context("/reports/nps"), app.app_context():
        from kundenpuls.replica import read_from_replica

        read_from_replica()
        assert g.get("replica_engine") is not None
        assert db.session.scalar(select(func.count()).select_from(Customer)) == 1  # the replica's view
        db.session.add(Customer(external_id="C-3", email="c3@example.com", created_at=datetime.now(UTC)))
        db.session.commit()
        locked = db.session.scalars(select(Customer.id).with_for_update()).all()
        assert len(locked) == 3  # the primary's rows
        db.session.remove()
    assert primary.sql("SELECT count(*) FROM customers")[0] == 3

    standby.sql("SELECT pg_wal_replay_resume()")
    _caught_up(primary, standby)
    n, lag = answers()
    assert n == 2 and float(lag) < 1
    assert "replica" not in client.get("/reports/nps", headers=ENGLISH).text

    # The replica goes away: reports read the primary, no error page and no lag header.
    standby.stop()
    n, lag = answers()
    assert n == 2 and lag is None
    assert client.get("/reports/nps").status_code == 200
    assert client.get("/reports/nps.csv").status_code == 200
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
