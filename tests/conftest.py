"""Fixtures: one throwaway database per run (SQLite or PostgreSQL by KP_TEST_DB), emptied after each test."""

from __future__ import annotations

import os
import re
import shutil
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest
from flask_migrate import upgrade
from sqlalchemy import delete, insert, select
from werkzeug.serving import make_server

from app import create_app
from kundenpuls.extensions import db as _db
from kundenpuls.models import ApiKey, User
from tests.smtp import SmtpSink

TEST_DB = os.environ.get("KP_TEST_DB", "sqlite")
PG_ADMIN = os.environ.get("KP_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
ARTIFACTS = Path(__file__).parent / "artifacts"


def pytest_report_header(config):
    return f"database: {TEST_DB}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    if TEST_DB == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
        return
    if TEST_DB != "postgresql":
        raise RuntimeError(f"KP_TEST_DB must be sqlite or postgresql, not {TEST_DB!r}")
    name = f"kp_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{name}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def app(database_url):
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "SMTP_URL": None,
            "BASE_URL": "http://kundenpuls.test",
            "MAIL_FROM": "Kundenpuls <umfrage@kundenpuls.test>",
            "SECRET_KEY": "test-secret",
            "LOGIN_RATE_LIMIT": "1000 per minute",
        }
    )
    with app.app_context():
        upgrade()
        baseline = {
            table: [dict(row._mapping) for row in _db.session.execute(select(table))]
            for table in _db.metadata.sorted_tables
        }
        _db.session.remove()
    app.config["_BASELINE"] = baseline
    yield app
    with app.app_context():
        _db.engine.dispose()


from integrations.events import forget_endpoints  # noqa: E402
from retention.rules import forget_rules  # noqa: E402


@pytest.fixture(autouse=True)
def _ctx(app):
    """An app context per test, and the database back to its migrated state afterwards."""
    original = dict(app.config)
    with app.app_context():
        yield
        _db.session.remove()
        with _db.engine.begin() as conn:
            for table in reversed(_db.metadata.sorted_tables):
                conn.execute(delete(table))
            for table, rows in app.config["_BASELINE"].items():
                if rows:
                    conn.execute(insert(table), rows)
    app.config.clear()
    app.config.update(original)
    forget_rules()  # the answer path's rule cache must not carry one test's rules into the next
    forget_endpoints()  # nor the webhook subscriptions


@pytest.fixture
def db(app):
    return _db


@pytest.fixture
def session(db):
    return db.session


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def api_key(session):
    key = ApiKey.generate()
    session.add(ApiKey(name="test shop", prefix=key[:10], key_hash=ApiKey.hash_key(key), created_at=datetime.now(UTC)))
    session.commit()
    return key


@pytest.fixture
def api(client, api_key):
    """POST/GET/DELETE JSON with the API key."""

    class Api:
        def post(self, path, payload=None, **kwargs):
            return client.post(path, json=payload, headers={"Authorization": f"Bearer {api_key}"}, **kwargs)

        def get(self, path, **kwargs):
            return client.get(path, headers={"Authorization": f"Bearer {api_key}"}, **kwargs)

        def patch(self, path, payload=None, **kwargs):
            return client.patch(path, json=payload, headers={"Authorization": f"Bearer {api_key}"}, **kwargs)

        def delete(self, path, **kwargs):
            return client.delete(path, headers={"Authorization": f"Bearer {api_key}"}, **kwargs)

    return Api()


@pytest.fixture
def staff(session):
    user = User(email="agent@example.com", role="admin", created_at=datetime.now(UTC))
    user.set_password("correct horse battery")
    session.add(user)
    session.commit()
    return user


@pytest.fixture
def smtp(app):
    """A real SMTP server on loopback; the app sends to it."""
    sink = SmtpSink()
    sink.start()
    app.config["SMTP_URL"] = sink.url
    yield sink
    sink.stop()


@pytest.fixture
def process_env(database_url, smtp, tmp_path) -> dict:
    """The environment of app processes a test starts (gunicorn, scheduler ticks): the test database, the
    loopback SMTP server and the test app's secret, so the test can make their form tokens."""
    metrics = tmp_path / "metrics"
    metrics.mkdir()
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "SMTP_URL": smtp.url,
        "SECRET_KEY": "test-secret",
        "BASE_URL": "http://kundenpuls.test",
        "MAIL_FROM": "Kundenpuls <umfrage@kundenpuls.test>",
        "KUNDENPULS_ENV": "development",
        "PROMETHEUS_MULTIPROC_DIR": str(metrics),
    }


def next_business_morning(after: datetime) -> datetime:
    """10:00 Berlin on the next weekday after `after`: inside the default send window."""
    berlin = after.astimezone(ZoneInfo("Europe/Berlin")) + timedelta(days=1)
    while berlin.weekday() >= 5:
        berlin += timedelta(days=1)
    return berlin.replace(hour=10, minute=0, second=0, microsecond=0).astimezone(UTC)


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', html
    )
    assert match, "no CSRF token on the page"
    return match.group(1)


def purchase_payload(
    order_id: str = "O-1",
    external_id: str = "C-1",
    email: str = "anna@example.com",
    purchased_at: datetime | None = None,
    **extra,
) -> dict:
    customer = {"external_id": external_id, "email": email, "name": "Anna Becker", "locale": "de"}
    customer.update(extra.pop("customer", {}))
    payload = {
        "order_id": order_id,
        "customer": customer,
        "amount": 59.90,
        "margin": 14.2,
        "currency": "EUR",
        "category": "Haushalt",
        "purchased_at": (purchased_at or datetime(2026, 11, 2, 9, 30, tzinfo=UTC)).isoformat(),
    }
    payload.update(extra)
    return payload


@pytest.fixture
def buy(session):
    """Record a purchase through the same service the API uses."""
    from customers.schemas import PurchaseIn
    from customers.services import record_purchase

    def _buy(
        order_id="O-1",
        external_id="C-1",
        email="anna@example.com",
        purchased_at=None,
        locale="de",
        timezone=None,
        name="Anna Becker",
    ):
        payload = purchase_payload(
            order_id, external_id, email, purchased_at, customer={"locale": locale, "timezone": timezone, "name": name}
        )
        purchase, _ = record_purchase(session, PurchaseIn.model_validate(payload), datetime.now(UTC))
        session.commit()
        return purchase

    return _buy


@pytest.fixture
def concurrently(app):
    """Run `job(session)` in n threads at once, each with its own app context and session, like n schedulers."""
    import threading

    def _run(job, n):
        results = []

        def worker():
            with app.app_context():
                try:
                    results.append(job(_db.session))
                finally:
                    _db.session.remove()

        threads = [threading.Thread(target=worker) for _ in range(n)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return results

    return _run


def pytest_collection_modifyitems(config, items):
    """Tests marked one_database check layout or demo data, the same on either database: the PostgreSQL pass skips
    them (make test runs both passes, and the staff-page sweep alone takes a minute)."""
    if TEST_DB != "postgresql":
        return
    skip = pytest.mark.skip(reason="one_database: checked in the SQLite pass")
    for item in items:
        if item.get_closest_marker("one_database"):
            item.add_marker(skip)


@pytest.fixture
def postgresql_only(db):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: concurrent processes, row locks or server connections")


CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@pytest.fixture
def chromium():
    executable = shutil.which("chromium")
    if executable is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed; under CI browser tests must run (make test installs it)")
        pytest.skip("chromium is not installed (make test installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def live_server(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}"
    app.config["BASE_URL"] = url
    yield url
    server.shutdown()
    thread.join()


CDNOW_PLACES = ("../shared/data/cdnowElog.csv", "/work/shared/data/cdnowElog.csv")


@pytest.fixture(scope="session")
def cdnow_elog() -> Path:
    """The CDNOW 1/10 sample's raw event log (masterid, sampleid, date, cds, sales; 6,919 rows), which the
    published BG/NBD and Gamma-Gamma estimates come from. It is not ours to commit: KP_CDNOW_ELOG names it, or
    it lies in the steering repo's shared/data/ (README, "Purchase-behaviour models", says where to get it)."""
    root = Path(__file__).resolve().parent.parent
    candidates = [os.environ.get("KP_CDNOW_ELOG", "")] + [str(root / place) for place in CDNOW_PLACES]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    pytest.skip("CDNOW event log not on this machine (set KP_CDNOW_ELOG)")
