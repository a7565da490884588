"""The shell: configuration rules, staff sign-in, CLI commands, a fresh database."""

import pytest
from sqlalchemy import func, select

from app import create_app
from kundenpuls.config import ConfigError
from kundenpuls.models import ApiKey, User
from surveys.models import Survey
from tests.conftest import csrf_token


def test_fresh_database_has_an_active_default_nps_survey(session):
    survey = session.scalars(select(Survey).where(Survey.kind == "nps")).one()
    assert (survey.kind, survey.active, survey.delay_days, survey.reminder_count) == ("nps", True, 3, 1)
    assert (survey.reminder_after_days, survey.expiry_days, survey.quiet_days) == (4, 30, 90)
    assert survey.weekdays == {0, 1, 2, 3, 4}
    assert set(survey.texts) == {"de", "en"}


def test_production_refuses_to_start_without_secret_key(monkeypatch):
    monkeypatch.setenv("KUNDENPULS_ENV", "production")
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1/none")
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app()


def test_production_refuses_sqlite_unless_told(monkeypatch):
    monkeypatch.setenv("KUNDENPULS_ENV", "production")
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(ConfigError, match="SQLite"):
        create_app()
    monkeypatch.setenv("KUNDENPULS_ALLOW_SQLITE", "1")
    app = create_app()
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_csrf_is_on_in_the_real_configuration(app):
    assert app.config.get("WTF_CSRF_ENABLED", True) is True


def test_users_create_and_sign_in(runner, client, session):
    result = runner.invoke(
        args=["users", "create", "Maria@Example.com", "--role", "manager", "--password", "Maria plant den Herbst"]
    )
    assert result.exit_code == 0, result.output
    user = session.scalars(select(User)).one()
    assert user.role == "manager" and "Maria plant den Herbst" not in user.password_hash
    token = csrf_token(client.get("/login").text)
    wrong = client.post("/login", data={"email": "maria@example.com", "password": "nope", "csrf_token": token})
    assert wrong.status_code == 401 and "Email or password is wrong." in wrong.text
    ok = client.post(
        "/login", data={"email": "maria@example.com", "password": "Maria plant den Herbst", "csrf_token": token}
    )
    assert ok.status_code == 302
    assert client.get("/").status_code == 200


def test_staff_pages_need_a_login(client):
    response = client.get("/mailbox")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("short", "at least 12"),
        ("12345678", "at least 12"),
        ("123456789012", "too common"),
        ("passwordpassword", "too common"),
        ("qwertzuiopasdf", "too common"),
        ("kundenpuls2026", "too common"),
        ("lea.wagner@example.com", "too common"),
    ],
)
def test_a_short_or_common_password_is_refused(runner, session, password, why):
    """NIST SP 800-63B: at least 12 characters, and none from a list of common or guessable passwords."""
    result = runner.invoke(
        args=["users", "create", "lea.wagner@example.com", "--role", "agent", "--password", password]
    )
    assert result.exit_code == 1 and why in result.output, result.output
    assert session.scalars(select(User)).all() == []


def test_apikeys_revoke_ends_a_key_at_once(runner, session, client):
    key = runner.invoke(args=["apikeys", "create", "Shopware"]).output.strip()
    other = runner.invoke(args=["apikeys", "create", "ERP"]).output.strip()
    bearer = {"Authorization": f"Bearer {key}"}
    assert client.get("/api/v1/customers/nobody", headers=bearer).status_code == 404
    listing = runner.invoke(args=["apikeys", "list"]).output
    assert f"{key[:10]}..." in listing and key not in listing and "active" in listing
    assert runner.invoke(args=["apikeys", "revoke", "kp_unknown"]).exit_code == 1
    revoked = runner.invoke(args=["apikeys", "revoke", f"{key[:10]}..."])
    assert revoked.exit_code == 0 and "revoked key" in revoked.output, revoked.output
    refused = client.get("/api/v1/customers/nobody", headers=bearer)
    assert refused.status_code == 401 and "invalid_token" in refused.headers["WWW-Authenticate"]
    assert client.get("/api/v1/customers/nobody", headers={"Authorization": f"Bearer {other}"}).status_code == 404
    assert "revoked" in runner.invoke(args=["apikeys", "list"]).output
    assert runner.invoke(args=["apikeys", "revoke", key]).exit_code == 1  # revoked already


def test_apikeys_create_prints_the_key_once_and_stores_a_hash(runner, session, client):
    result = runner.invoke(args=["apikeys", "create", "Shopware"])
    key = result.output.strip()
    assert key.startswith("kp_") and len(key) > 40
    stored = session.scalars(select(ApiKey)).one()
    assert stored.key_hash == ApiKey.hash_key(key) and key not in (stored.key_hash, stored.prefix)
    response = client.post("/api/v1/purchases", json={}, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 422  # authorised, then validated


def test_demo_seed_makes_data_with_patterns(runner, session):
    from surveys.models import Response

    result = runner.invoke(args=["demo", "seed", "--customers", "300", "--seed", "7"])
    assert result.exit_code == 0, result.output
    assert "300 customers" in result.output
    scores = session.scalars(select(Response.score).where(Response.score.is_not(None))).all()
    assert len(scores) > 50
    assert {s for s in scores if s <= 6} and {s for s in scores if s >= 9}
    from feedback.models import Case

    statuses = session.scalars(select(Case.status).where(Case.kind != "measure")).all()
    assert "resolved" in statuses and {"new", "in_progress", "waiting"} & set(statuses)
    assert f"{len(statuses)} cases" in result.output
    # Everyone is placed in a segment, the rules made suggestions, and some were worked (accepted ones are
    # measure cases in the queue; done ones have an outcome on the rules page).
    from retention.models import CustomerSegment, Suggestion

    assert session.query(CustomerSegment).count() == 300
    worked = session.scalars(select(Suggestion.status).where(Suggestion.status != "open")).all()
    assert {"done", "dismissed", "accepted"} <= set(worked)
    assert session.query(Case).filter(Case.kind == "measure").count() == worked.count("accepted")
    again = runner.invoke(args=["demo", "seed", "--customers", "300", "--if-empty"])
    assert "no demo data added" in again.output


def test_demo_seed_replays_lifecycle_history_and_churn_answers(runner, session):
    from datetime import date

    from analytics.churn import churn_rates
    from analytics.churn_reasons import reason_ranking
    from customers.models import Customer, LifecycleChange
    from surveys.models import ResponseReason

    result = runner.invoke(args=["demo", "seed", "--customers", "600", "--seed", "3"])
    assert result.exit_code == 0, result.output
    phases = dict(
        session.execute(select(Customer.lifecycle_phase, func.count()).group_by(Customer.lifecycle_phase)).all()
    )
    assert phases.get("churned") and phases.get("existing") and phases.get("inactive")
    causes = set(session.scalars(select(LifecycleChange.cause).distinct()))
    assert {"purchase", "time", "cancellation"} <= causes
    assert session.scalar(select(func.count()).select_from(ResponseReason)) > 0
    today = date.today()
    months = [m for m in churn_rates(session, today.replace(year=today.year - 1), today) if m.value_class is None]
    assert sum(m.churned for m in months) > 0 and all(m.base > 0 for m in months)
    assert reason_ranking(session, today.replace(year=today.year - 2), today)[0].mentions > 0
