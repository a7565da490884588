"""Inputs that used to end in a 500: each gets a clear 4xx (problem+json under /api/, a page elsewhere) and
changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from customers.models import Customer, Purchase
from surveys.forms import answer_form_token
from surveys.jobs import create_due_invitations
from surveys.models import Invitation, Response
from tests.conftest import purchase_payload
from tests.feedback_helpers import make_user, sign_in

DEEP = "[" * 100_000 + "]" * 100_000
OVERFLOWING = "0001-01-01T00:00:00+14:00"
HUGE = "99999999999999999999"


def api_post(client, api_key, path, body: str):
    return client.post(
        path, data=body, headers={"Authorization": f"Bearer {api_key}", "Content-Type": "application/json"}
    )


def assert_problem(answer, *statuses):
    assert answer.status_code in statuses, (answer.status_code, answer.text[:300])
    assert answer.mimetype == "application/problem+json"


def test_json_nested_too_deep_is_a_400(client, api_key):
    assert_problem(api_post(client, api_key, "/api/v1/purchases", DEEP), 400)
    assert_problem(api_post(client, api_key, "/api/v1/cancellations", '{"a":' * 50_000 + "1" + "}" * 50_000), 400)


@pytest.mark.parametrize(
    "change",
    [
        {"customer": {"name": "Anna\x00Becker"}},
        {"order_id": "O-\x00"},
        {"category": "Haus\x00halt"},
        {"customer": {"external_id": "C\x001"}},
    ],
)
def test_a_nul_character_in_api_text_is_refused(client, api_key, session, change):
    import json

    payload = purchase_payload(purchased_at=datetime.now(UTC) - timedelta(hours=1))
    for key, value in change.items():
        payload[key] = {**payload[key], **value} if isinstance(value, dict) else value
    assert_problem(api_post(client, api_key, "/api/v1/purchases", json.dumps(payload)), 400, 422)
    assert session.scalar(select(func.count()).select_from(Purchase)) == 0


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/customers/C%001",
        "/api/v1/nps?from=2026-01-01%00",
        "/api/v1/responses?since=2026%00",
        "/api/v1/nps?segment=A%00",
    ],
)
def test_a_nul_character_in_a_path_or_query_is_refused(api, path):
    assert_problem(api.get(path), 400, 404, 422)


@pytest.mark.parametrize("field", ["purchased_at", "cancelled_at"])
def test_a_date_that_overflows_with_its_offset_is_a_422(api, buy, field):
    if field == "purchased_at":
        answer = api.post("/api/v1/purchases", purchase_payload(purchased_at=datetime.now(UTC)) | {field: OVERFLOWING})
    else:
        buy()
        answer = api.post("/api/v1/cancellations", {"customer_external_id": "C-1", field: OVERFLOWING})
    assert_problem(answer, 422)


@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/responses?since={OVERFLOWING.replace('+', '%2B')}",
        "/api/v1/responses?since=9999-12-31T23:59:59-14:00",
        "/api/v1/nps?from=0001-01-01&to=0001-01-02&interval=week",
        "/api/v1/nps?from=9999-12-01&to=9999-12-31",
        f"/api/v1/responses?limit={HUGE}",
        f"/api/v1/nps?survey={HUGE}",
    ],
)
def test_dates_and_numbers_out_of_range_in_the_api_are_a_4xx(api, path):
    answer = api.get(path)
    assert answer.status_code in (200, 400, 404, 422), (path, answer.status_code, answer.text[:300])
    if answer.status_code != 200:
        assert answer.mimetype == "application/problem+json"


@pytest.fixture
def invitation(session, buy):
    now = datetime.now(UTC)
    buy(purchased_at=now - timedelta(days=3, hours=1))
    create_due_invitations(session, now)
    session.commit()
    return session.scalars(select(Invitation)).one()


@pytest.mark.parametrize(
    ("score", "comment"), [("²", ""), ("٣", ""), ("1" + HUGE, ""), ("9", "gut\x00"), ("-1", ""), (" 9", "")]
)
def test_a_strange_answer_is_refused_with_the_form_kept(client, session, invitation, score, comment):
    answer = client.post(
        f"/s/{invitation.token}",
        data={"score": score, "comment": comment, "csrf_token": answer_form_token(invitation.token)},
    )
    assert 400 <= answer.status_code < 500, (score, answer.status_code)
    assert "text/html" in answer.headers["Content-Type"]
    assert session.scalar(select(func.count()).select_from(Response)) == 0


@pytest.mark.parametrize(
    "path",
    ["/s/abc%00def", "/u/abc%00def", "/s/x?score=%C2%B2", f"/s/x?score={HUGE}", "/login?next=%00"],
)
def test_strange_public_urls_are_a_4xx_page(client, invitation, path):
    path = path.replace("/s/x", f"/s/{invitation.token}")
    answer = client.get(path)
    assert answer.status_code in (200, 400, 404), (path, answer.status_code)


@pytest.mark.parametrize(
    "path",
    [
        f"/cases/{HUGE}",
        f"/customers/{HUGE}",
        f"/queue?survey={HUGE}",
        f"/queue?owner={HUGE}",
        f"/queue?page={HUGE}",
        f"/suggestions?rule={HUGE}",
        f"/suggestions?page={HUGE}",
        f"/cockpit/rules/{HUGE}",
        f"/settings/webhooks/{HUGE}",
        f"/cockpit/customers?page={HUGE}",
        f"/reports/nps?survey={HUGE}",
        "/reports/nps?from=9999-12-01&to=9999-12-31",
        "/reports/churn?from=0001-01-01&to=0001-02-01",
        "/queue?q=%00",
        "/reports/nps?segment=%00",
    ],
)
def test_numbers_dates_and_nul_out_of_range_on_staff_pages_are_a_4xx(client, session, path):
    sign_in(client, make_user(session, "admin@example.com", "admin"))
    answer = client.get(path)
    assert answer.status_code in (200, 400, 404, 422), (path, answer.status_code)


def test_nothing_was_written_by_the_refused_requests(session):
    assert session.scalar(select(func.count()).select_from(Customer)) == 0
