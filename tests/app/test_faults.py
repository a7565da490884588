"""Faults on PostgreSQL: the database restarted in the middle of a mail batch, and stopped under a running web
app. Nothing is lost or sent twice; the app answers 503 while the database is away and recovers by itself.

(SMTP stopped mid-batch: tests/messaging/test_mail_delivery.py; a webhook receiver answering 500 then 200:
tests/integrations/test_webhooks.py.)"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from kundenpuls.extensions import db as _db
from messaging.models import OutboxMessage
from tests.conftest import purchase_payload
from tests.processes import gunicorn, last_weekday_morning, seed_due_purchases, stop, tick

BATCH = 1_500


def pg_ctl(action: str) -> None:
    if shutil.which("pg_ctlcluster") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("pg_ctlcluster is missing: the fault tests cannot restart PostgreSQL")
        pytest.skip("needs pg_ctlcluster to stop and start the local PostgreSQL")
    version = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True, check=True).stdout.split()[0]
    command = ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action]
    subprocess.run(command, check=True, timeout=120, capture_output=True)


def database_back() -> None:
    pg_ctl("start")
    for _ in range(100):
        if subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"]).returncode == 0:
            break
        time.sleep(0.2)
    _db.session.remove()
    _db.engine.dispose()  # the test's own pooled connections died with the server


def test_a_database_restart_mid_batch_loses_and_doubles_nothing(postgresql_only, session, smtp, process_env):
    env = process_env
    when = last_weekday_morning(datetime.now(UTC) - timedelta(minutes=5))
    seed_due_purchases(session, when, BATCH)
    smtp.delay = 0.004  # about six seconds for the batch

    sender = tick(env, when)
    deadline = time.monotonic() + 120
    while len(smtp.messages) < 300 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(smtp.messages) >= 300, "the batch never started"
    pg_ctl("stop")  # mid-batch: the sender holds mail the server accepted but the database has not recorded
    time.sleep(3)
    database_back()
    out, _ = sender.communicate(timeout=300)
    # Whatever the tick could not finish (a claim it lost with the connection) a later tick takes over.
    later = tick(env, when + timedelta(minutes=11))
    later_out, _ = later.communicate(timeout=300)
    assert later.returncode == 0, later_out.decode()

    recipients = Counter(str(message["To"]) for message in smtp.messages)
    assert len(recipients) == BATCH, (out.decode()[-2000:], later_out.decode()[-2000:])
    assert set(recipients.values()) == {1}, [r for r, n in recipients.items() if n > 1][:5]
    statuses = dict(session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())
    assert statuses == {"sent": BATCH}


def test_the_web_app_answers_503_while_the_database_is_down_and_recovers(
    postgresql_only, session, api_key, process_env
):
    web, base = gunicorn(process_env, 2)

    def get(path: str) -> tuple[int, dict, bytes]:
        try:
            with urllib.request.urlopen(base + path, timeout=10) as answer:
                return answer.status, dict(answer.headers), answer.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def purchase(order: str) -> tuple[int, dict, bytes]:
        body = json.dumps(purchase_payload(order, "C-F", "f@example.com", datetime.now(UTC) - timedelta(hours=1)))
        request = urllib.request.Request(
            base + "/api/v1/purchases",
            data=body.encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {api_key}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                return answer.status, dict(answer.headers), answer.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    try:
        assert purchase("F-1")[0] == 201
        stopper = threading.Thread(target=pg_ctl, args=("stop",))
        stopper.start()
        stopper.join()
        assert get("/healthz")[0] == 200  # the process itself is fine
        status, headers, _ = get("/readyz")
        assert status == 503 and headers["Retry-After"] == "5"
        status, headers, body = purchase("F-2")
        assert status == 503 and headers["Content-Type"] == "application/problem+json", body
        assert get("/s/no-such-token")[0] == 503  # a page that needs the database: the friendly 503 page
        database_back()
        for _ in range(50):
            if get("/readyz")[0] == 200:
                break
            time.sleep(0.2)
        assert get("/readyz")[0] == 200  # the same workers, no restart
        assert purchase("F-2")[0] == 201  # the shop's retry goes through
        assert get("/s/no-such-token")[0] == 404
    finally:
        if subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"]).returncode != 0:
            database_back()
        stop(web)
