"""The database away: every kind of request answers 503 with Retry-After (problem+json under /api/), writes
nothing half, and works again once the database is back. Two ways to lose it: the server refuses new connections
(a restart, a failover), and the connection dies in the middle of a request."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from sqlalchemy import event, func, select

from customers.models import Purchase
from feedback.models import Case
from integrations.events import subscribers
from kundenpuls.extensions import db
from surveys.forms import answer_form_token
from surveys.jobs import create_due_invitations
from surveys.models import Invitation, Response
from tests.conftest import PG_ADMIN, csrf_token, purchase_payload
from tests.core.test_db_resilience import allow_connections, kill_pool_connections, second_app


@pytest.fixture
def tokens(session, buy, postgresql_only):
    now = datetime.now(UTC)
    buy("O-1", "C-1", "anna@example.com", purchased_at=now - timedelta(days=3, hours=1))
    buy("O-2", "C-2", "ben@example.com", purchased_at=now - timedelta(days=3, hours=1))
    create_due_invitations(session, now)
    session.commit()
    return list(session.scalars(select(Invitation.token).order_by(Invitation.id)))


@pytest.fixture
def outside(database_url, api_key, staff, tokens):
    """A second app (its own pool), a signed-in staff client, and the requests of every route class."""
    app = second_app(database_url, idle_seconds=3600)
    staff_client, customer, shop = app.test_client(), app.test_client(), app.test_client()
    login_form = {"email": staff.email, "password": "correct horse battery"}
    login_form["csrf_token"] = csrf_token(staff_client.get("/login").text)
    assert staff_client.post("/login", data=login_form).status_code == 302
    with app.app_context():
        subscribers(db.session, "response.created")  # cached, as in a worker that has been running
        db.session.remove()
    bearer = {"Authorization": f"Bearer {api_key}"}
    second_login = app.test_client()
    second_form = {**login_form, "csrf_token": csrf_token(second_login.get("/login").text)}
    with app.test_request_context():
        forms = {token: answer_form_token(token) for token in tokens}
    requests = {
        "survey page": lambda: customer.get(f"/s/{tokens[0]}"),
        "answer with a case": lambda: customer.post(
            f"/s/{tokens[0]}", data={"score": "3", "comment": "kaputt", "csrf_token": forms[tokens[0]]}
        ),
        "answer alone": lambda: customer.post(f"/s/{tokens[1]}", data={"score": "10", "csrf_token": forms[tokens[1]]}),
        "API read": lambda: shop.get("/api/v1/customers/C-1", headers=bearer),
        "API write": lambda: shop.post(
            "/api/v1/purchases",
            json=purchase_payload("O-9", "C-9", "carla@example.com", datetime.now(UTC) - timedelta(hours=1)),
            headers=bearer,
        ),
        "staff page": lambda: staff_client.get("/queue"),
        "login": lambda: second_login.post("/login", data=second_form),
    }
    yield app, requests
    allow_connections(database_url, True)
    with app.app_context():
        db.engine.dispose()


AFTER_RECOVERY = {
    "survey page": 200,
    "answer with a case": 200,
    "answer alone": 200,
    "API read": 200,
    "API write": 201,
    "staff page": 200,
    "login": 302,
}


def assert_unavailable(name: str, answer) -> None:
    assert answer.status_code == 503, (name, answer.status_code, answer.text[:300])
    assert int(answer.headers["Retry-After"]) >= 5, name  # the rate limiter may name its own, later reset
    if name.startswith("API"):
        assert answer.headers["Content-Type"] == "application/problem+json", name
        assert answer.json["status"] == 503
    else:
        assert "text/html" in answer.headers["Content-Type"], name


def written(session) -> tuple[int, int, int]:
    session.expire_all()
    counts = (
        session.scalar(select(func.count()).select_from(Response)),
        session.scalar(select(func.count()).select_from(Case)),
        session.scalar(select(func.count()).select_from(Purchase)),
    )
    session.rollback()
    return counts


def test_every_route_class_answers_503_while_connections_are_refused(database_url, session, outside):
    app, requests = outside
    before = written(session)
    allow_connections(database_url, False)
    kill_pool_connections(database_url)
    for name, request in requests.items():
        assert_unavailable(name, request())
    health = app.test_client()
    assert health.get("/healthz").status_code == 200  # the process is fine
    assert health.get("/readyz").status_code == 503
    assert written(session) == before
    allow_connections(database_url, True)
    for name, request in requests.items():
        assert request().status_code == AFTER_RECOVERY[name], name
    assert written(session) == (before[0] + 2, before[1] + 1, before[2] + 1)


def kill_on(engine, database_url: str, starts_with: str):
    """Kill this connection (and refuse new ones) just before its first statement that starts with `starts_with`:
    the connection dies in the middle of a request, after it read and maybe wrote."""
    fired = []

    @event.listens_for(engine, "before_cursor_execute")
    def kill(conn, cursor, statement, parameters, context, executemany):
        if fired or not statement.lstrip().upper().startswith(starts_with):
            return
        fired.append(statement)
        pid = conn.connection.dbapi_connection.info.backend_pid
        allow_connections(database_url, False)
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        time.sleep(0.2)

    return kill, fired


@pytest.mark.parametrize(
    ("name", "statement"),
    [
        ("answer with a case", "INSERT INTO CASES"),
        ("answer with a case", "INSERT INTO AUDIT"),
        ("API write", "WITH CUSTOMER AS"),  # customers.one_purchase: order, customer and purchase at once
        ("API write", "WITH COMPUTED AS"),  # the lifecycle recompute after it
        ("staff page", "SELECT"),
        ("login", "SELECT"),
    ],
)
def test_a_connection_killed_mid_request_gives_503_and_writes_nothing_half(
    database_url, session, outside, name, statement
):
    app, requests = outside
    before = written(session)
    with app.app_context():
        engine = db.engine
    kill, fired = kill_on(engine, database_url, statement)
    try:
        answer = requests[name]()
    finally:
        event.remove(engine, "before_cursor_execute", kill)
    if not fired:
        pytest.skip(f"{name} ran no statement starting with {statement}")
    assert_unavailable(name, answer)
    assert written(session) == before
    allow_connections(database_url, True)
    assert requests[name]().status_code == AFTER_RECOVERY[name]


def test_a_stored_purchase_is_answered_201_even_if_the_database_goes_away_after_the_commit(
    database_url, session, outside
):
    """A 503 tells the shop to retry; for a purchase that is stored, the right answer is 201 with its body."""
    app, requests = outside
    with app.app_context():
        engine = db.engine
    committed = []
    listen_commit = event.listens_for(engine, "commit")(lambda conn: committed.append(True))
    kill, fired = kill_on(engine, database_url, "")
    fired.append("armed only after the commit")
    disarm = event.listens_for(engine, "commit")(lambda conn: fired.clear())
    try:
        answer = requests["API write"]()
    finally:
        for name, listener in (("commit", listen_commit), ("commit", disarm), ("before_cursor_execute", kill)):
            event.remove(engine, name, listener)
    assert committed
    assert answer.status_code == 201, answer.text
    assert answer.json["order_id"] == "O-9" and answer.json["customer"]["email"] == "carla@example.com"
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(Purchase).where(Purchase.order_id == "O-9")) == 1
