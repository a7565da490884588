"""The staff home page per role: each figure as the person would count it, each a link to its page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import flask_babel
from sqlalchemy import func, select, update

from app.home import day_end
from feedback.models import Case
from integrations.models import WebhookDelivery, WebhookEndpoint
from messaging.models import OutboxMessage
from retention.segments import refresh_segments
from tests.conftest import csrf_token
from tests.feedback_helpers import answered, make_user, sign_in


def figure(page: str, name: str) -> str:
    found = re.search(rf'data-figure="{re.escape(name)}"[^>]*>([^<]*)<', page)
    assert found, f"no figure {name}"
    return found.group(1).strip()


def link_of(page: str, name: str) -> str:
    """The href of the link that holds (or is) the figure."""
    at = page.index(f'data-figure="{name}"')
    return re.findall(r'href="([^"]+)"', page[:at])[-1].replace("&amp;", "&")


def test_a_visitor_goes_to_sign_in_without_an_alarm(client):
    first = client.get("/")
    assert first.status_code == 302 and first.headers["Location"].endswith("/login")
    assert "Please log in" not in client.get("/login").text


def test_an_agent_sees_their_cases_what_is_due_today_and_new_ones(session, client, app):
    now = datetime.now(UTC)
    agent = make_user(session, "agentin@example.com", "agent", name="Agentin")
    other = make_user(session, "kollege@example.com", "agent")
    cases = [answered(session, n, 2, now=now) for n in range(5)]
    end = day_end(now, app.config["STAFF_TIMEZONE"])
    plan = [
        (agent.id, now - timedelta(hours=1)),  # mine, overdue
        (agent.id, now + (end - now) / 2),  # mine, due today
        (agent.id, end + timedelta(days=2)),  # mine, later
        (None, now - timedelta(hours=2)),  # nobody's, overdue
        (other.id, now + timedelta(minutes=5)),  # a colleague's
    ]
    for case, (owner, due) in zip(cases, plan, strict=True):
        session.execute(update(Case).where(Case.id == case.id).values(owner_id=owner, next_due_at=due))
    session.commit()

    sign_in(client, agent)
    page = client.get("/", headers={"Accept-Language": "en"}).text
    assert figure(page, "mine") == "3"
    assert "1 overdue" in page
    assert figure(page, "due-today") == "1"
    assert figure(page, "unassigned") == "1"
    assert link_of(page, "mine") == "/queue?owner=me"
    assert link_of(page, "unassigned") == "/queue?owner=none"
    # The agent's most urgent cases, the overdue one first, each linked.
    listed = re.findall(r'href="/cases/(\d+)"', page)
    assert listed[0] == str(cases[0].id) and set(listed) == {str(c.id) for c in cases[:3]}
    assert "Satisfaction" not in page and "Mail and webhooks" not in page
    assert "<title>Home · Kundenpuls</title>" in page


def test_a_manager_sees_nps_against_last_month_value_classes_and_the_queue(session, client):
    now = datetime.now(UTC)
    last_month = now.replace(day=1, hour=12) - timedelta(days=1)
    scores_now, scores_before = [10, 10, 9, 7, 3], [10, 6, 5, 2]
    n = 0
    for when, scores in ((now, scores_now), (last_month, scores_before)):
        for score in scores:
            answered(session, n, score, now=when)
            n += 1
    refresh_segments(session, now)
    session.commit()

    sign_in(client, make_user(session, "chefin@example.com", "manager"))
    page = client.get("/", headers={"Accept-Language": "en"}).text
    assert figure(page, "nps-month") == "+40"  # (3 promoters - 1 detractor) / 5
    assert figure(page, "nps-last-month") == "-50"  # (1 - 3) / 4
    assert figure(page, "nps-change") == "+90.0"
    assert "too few answers to test" in page  # 5 and 4 answers: no p-value is claimed
    assert link_of(page, "nps-month") == "/reports/nps?interval=month"
    assert '<svg class="sparkline"' in page
    detractors = session.scalar(select(func.count()).select_from(Case).where(Case.status.in_(("new",))))
    assert figure(page, "open-cases") == str(detractors)
    assert link_of(page, "detractors-C").startswith("/cockpit/customers?")
    listed = client.get(link_of(page, "detractors-C"))
    assert listed.status_code == 200
    shown = int(figure(page, "detractors-A")) + int(figure(page, "detractors-B")) + int(figure(page, "detractors-C"))
    assert shown == 4  # each customer's latest answer: one detractor this month, three last month
    assert "Mail and webhooks" not in page
    client.post("/logout", data={"csrf_token": csrf_token(page)})


def test_an_admin_also_sees_mail_and_webhooks(session, client):
    now = datetime.now(UTC)
    for n in range(3):
        answered(session, n, 9, now=now)
    waiting = session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "pending"))
    assert waiting == 3  # the three invitations, not sent yet
    first = session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).first()
    first.status, first.last_error = "failed", "550 no such user"
    endpoint = WebhookEndpoint(
        url="https://hooks.example.com/x", secret="s" * 32, events=",case.opened,", created_at=now
    )
    session.add(endpoint)
    session.flush()
    for status, attempts in (("pending", 0), ("pending", 2), ("failed", 12)):
        session.add(
            WebhookDelivery(
                endpoint_id=endpoint.id, event_id=f"e-{status}-{attempts}", event="case.opened", payload="{}",
                status=status, attempts=attempts, next_attempt_at=now, created_at=now,
            )
        )  # fmt: skip
    session.commit()

    sign_in(client, make_user(session, "admin@example.com", "admin"))
    page = client.get("/", headers={"Accept-Language": "en"}).text
    assert figure(page, "mail-waiting") == "2"
    assert figure(page, "mail-failed") == "1"
    assert link_of(page, "mail-failed") == "/outbox"
    assert figure(page, "webhooks-waiting") == "2" and "1 after a failed try" in page
    assert figure(page, "webhooks-failed") == "1"
    assert link_of(page, "webhooks-failed") == "/settings/webhooks"
    assert "Satisfaction" in page


def test_the_home_page_speaks_german(session, client):
    sign_in(client, make_user(session, "leitung@example.com", "admin"))
    flask_babel.refresh()  # the tests' requests share one app context, and Flask-Babel keeps the locale there
    page = client.get("/", headers={"Accept-Language": "de"}).text
    assert "Ihre Arbeit" in page
    for english in ("Your work", "open cases of yours", "Satisfaction", "Mail and webhooks", "NPS this month"):
        assert english not in page
