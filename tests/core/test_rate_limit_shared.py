"""Sign-in limits are shared by every worker through Redis: two processes count against one limit."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import uuid

import pytest

from kundenpuls.config import ROOT
from tests.feedback_helpers import make_user

# Redis shares the limit, whatever the database: the PostgreSQL pass of make test skips it (11 s each).
pytestmark = pytest.mark.one_database

WORKER = """
import json, re, sys
from app import create_app
app = create_app(json.loads(sys.argv[1]))
client = app.test_client()
token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/login").text).group(1)
codes = [
    client.post("/login", data={"email": "agent@example.com", "password": "wrong", "csrf_token": token}).status_code
    for _ in range(int(sys.argv[2]))
]
print(json.dumps(codes))
"""


def redis_is_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
        return True
    except OSError:
        return False


def attempts(config: dict, count: int) -> list[int]:
    result = subprocess.run(
        [sys.executable, "-c", WORKER, json.dumps(config), str(count)],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=60,
    )  # fmt: skip
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_two_workers_share_one_login_limit(database_url, session):
    if not redis_is_up():
        pytest.fail("Redis is not answering on 127.0.0.1:6379; make test starts it (see the services target)")
    make_user(session, "agent@example.com", "agent")
    config = {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": "test-secret",
        "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/15",
        "RATELIMIT_KEY_PREFIX": f"kp-test-{uuid.uuid4().hex[:8]}",
        "LOGIN_RATE_LIMIT": "3 per minute",
    }
    assert attempts(config, 2) == [401, 401]
    # Another process, as another gunicorn worker would be: it sees the first one's attempts.
    assert attempts(config, 2) == [401, 429]
    # Without the shared store each worker counts alone, which is what REDIS_URL exists to prevent.
    memory = {**config, "RATELIMIT_STORAGE_URI": "memory://"}
    assert attempts(memory, 2) == [401, 401]
