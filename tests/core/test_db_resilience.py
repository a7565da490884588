"""A PostgreSQL connection that dies (server restart, failover, idle timeout) loses no answer."""

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from sqlalchemy import select

from app import create_app
from integrations.events import subscribers
from kundenpuls.extensions import db
from surveys.jobs import create_due_invitations
from surveys.models import Invitation, Response
from tests.conftest import PG_ADMIN, csrf_token

APP_NAME = "kp-resilience-test"


@pytest.fixture
def invitation(session, buy, postgresql_only):
    now = datetime.now(UTC)
    buy(purchased_at=now - timedelta(days=3, hours=1))
    create_due_invitations(session, now)
    session.commit()
    return session.scalars(select(Invitation)).one()


def second_app(database_url: str, idle_seconds: float):
    """An app with its own pool whose connections can be told apart by application_name."""
    return create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SQLALCHEMY_ENGINE_OPTIONS": {"connect_args": {"application_name": APP_NAME}},
            "SECRET_KEY": "test-secret",
            "DB_PING_IDLE_SECONDS": idle_seconds,
        }
    )


def kill_pool_connections(database_url: str) -> int:
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        return len(
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s",
                (APP_NAME,),
            ).fetchall()
        )


@pytest.mark.parametrize("score", [4, 10], ids=["with its case", "alone"])
def test_answer_is_stored_after_the_connection_was_killed(database_url, session, invitation, score):
    other = second_app(database_url, idle_seconds=3600)
    try:
        client = other.test_client()
        page = client.get(f"/s/{invitation.token}")
        with other.app_context():
            subscribers(db.session, "response.created")  # read and kept, as in a worker that has been running
            db.session.remove()
        assert kill_pool_connections(database_url) >= 1
        thanks = client.post(f"/s/{invitation.token}", data={"score": score, "csrf_token": csrf_token(page.text)})
        assert thanks.status_code == 200
        assert "Vielen Dank" in thanks.text
    finally:
        with other.app_context():
            db.engine.dispose()
    assert [r.score for r in session.scalars(select(Response))] == [score]


def test_idle_connection_is_checked_before_use(database_url, invitation):
    other = second_app(database_url, idle_seconds=0)
    try:
        client = other.test_client()
        assert client.get(f"/s/{invitation.token}").status_code == 200
        assert kill_pool_connections(database_url) >= 1
        page = client.get(f"/s/{invitation.token}")
        assert page.status_code == 200
    finally:
        with other.app_context():
            db.engine.dispose()


def allow_connections(database_url: str, allowed: bool) -> None:
    """Let the server refuse (or accept again) new connections to the test database, superusers included."""
    name = database_url.rsplit("/", 1)[1]
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allowed).lower()}')


def test_lost_database_gives_a_retry_page_not_a_crash(database_url, invitation):
    other = second_app(database_url, idle_seconds=3600)
    try:
        client = other.test_client()
        assert client.get(f"/s/{invitation.token}").status_code == 200
        allow_connections(database_url, False)
        kill_pool_connections(database_url)
        page = client.get(f"/s/{invitation.token}", headers={"Accept-Language": "en"})
        assert page.status_code == 503
        assert page.headers["Retry-After"] == "5"
        assert "Nothing was lost" in page.text
        allow_connections(database_url, True)
        assert client.get(f"/s/{invitation.token}").status_code == 200
    finally:
        allow_connections(database_url, True)
        with other.app_context():
            db.engine.dispose()


def test_the_first_request_after_a_restart_replaces_the_dead_connection(database_url, invitation, api_key, staff):
    """Connections that died while they sat in the pool for less than DB_PING_IDLE_SECONDS (a quick database
    restart): the first statement of a page, an API call or a staff page fails, and runs again on a new one."""
    other = second_app(database_url, idle_seconds=3600)
    try:
        client = other.test_client()
        api = {"Authorization": f"Bearer {api_key}"}
        form = {"email": staff.email, "password": "correct horse battery", "csrf_token": ""}
        form["csrf_token"] = csrf_token(client.get("/login").text)
        assert client.post("/login", data=form).status_code == 302
        for request in (
            lambda: client.get(f"/s/{invitation.token}"),  # a survey page: the invitation is read first
            lambda: client.get("/api/v1/customers/C-1", headers=api),  # the API key is read first
            lambda: client.get("/queue"),  # the signed-in user is read first
        ):
            assert request().status_code == 200
            assert kill_pool_connections(database_url) >= 1
            assert request().status_code == 200
    finally:
        with other.app_context():
            db.engine.dispose()
