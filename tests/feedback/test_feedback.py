"""The negative-feedback queue: cases open by themselves, rank by urgency and are worked to a resolution."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import flask_babel
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from feedback import services, wording
from feedback.jobs import escalate_overdue
from feedback.models import Case
from kundenpuls.audit import AuditEvent
from messaging.outbox import dispatch_due
from surveys.models import Survey
from tests.conftest import csrf_token
from tests.feedback_helpers import answered, make_user, sign_in


@pytest.fixture
def agent(session):
    return make_user(session, "agent@example.com", "agent", "Alex Agent")


@pytest.fixture
def manager(session):
    return make_user(session, "chefin@example.com", "manager", "Maria Managerin")


def test_detractor_answer_opens_a_case_and_promoter_does_not(session):
    case = answered(session, 1, 3, "Lieferung kam zu spät")
    assert case is not None and case.kind == "detractor" and case.status == "new"
    assert answered(session, 2, 10, "Super") is None
    assert answered(session, 3, 8, "ganz ok, Versand teuer") is None
    assert session.scalar(select(AuditEvent.action).where(AuditEvent.entity_id == case.id)) == "opened"


def test_passive_with_comment_opens_a_low_case_when_the_survey_says_so(session):
    survey = session.scalars(select(Survey).where(Survey.kind == "nps")).one()
    survey.passive_comment_cases = True
    session.commit()
    case = answered(session, 1, 7, "Versandkosten zu hoch")
    assert case.kind == "passive" and case.priority == "low"
    assert answered(session, 2, 8, None) is None


def test_priority_follows_score_and_customer_value(session):
    big = answered(session, 1, 5, amount=25_000)
    small = answered(session, 2, 5, amount=20)
    angry_small = answered(session, 3, 0, amount=20)
    assert big.priority_points > small.priority_points
    assert angry_small.priority_points > small.priority_points
    assert big.priority == "high" and small.priority == "low"
    # A high-priority case has a shorter SLA, and the queue's sort key is earlier still.
    assert big.first_contact_due_at < small.first_contact_due_at
    assert big.rank_at < small.rank_at


def test_queue_lists_most_urgent_first_and_says_why(client, session, agent):
    answered(session, 1, 6, amount=30)
    urgent = answered(session, 2, 2, amount=12_000)
    sign_in(client, agent)
    page = client.get("/queue")
    assert page.status_code == 200
    rows = page.text.split('<tr class="priority-')[1:]
    assert len(rows) == 2
    assert rows[0].startswith("high")
    # The row links to its case page and its Take button posts to the case's take action.
    assert f'href="/cases/{urgent.id}"' in rows[0] and f'action="/cases/{urgent.id}/take"' in rows[0]
    assert "detractor, score 2 (+30)" in rows[0] and "€12,000 revenue in 12 months" in rows[0]
    assert "detractor, score 6 (+6)" in rows[1]


def test_priority_and_sla_words_follow_the_page_language_and_escape_names(app):
    now = datetime(2026, 11, 23, 12, 0)
    with app.test_request_context(headers={"Accept-Language": "de"}):
        reasons = [["detractor", 30, 2], ["measure", 5, "<b>Rückruf</b>"], ["unknown", 1, None]]
        assert str(wording.why(reasons)) == (
            "Kritiker, Bewertung 2 (+30) · Bindungsmaßnahme: &lt;b&gt;Rückruf&lt;/b&gt; (+5)"
        )
        assert str(wording.due("new", now - timedelta(hours=3, minutes=10), now)) == (
            '<strong class="overdue">seit 4 h überfällig</strong>'
        )
        assert str(wording.due("waiting", now + timedelta(hours=5, minutes=59), now)) == "fällig in 5 h"
        assert str(wording.due("resolved", now - timedelta(days=9), now)) == "abgeschlossen"
        # From two days on, the clock counts days.
        assert "seit 111 Tagen überfällig" in str(wording.due("new", now - timedelta(hours=2683), now))
        assert str(wording.due("new", now + timedelta(days=3, hours=1), now)) == "fällig in 3 Tagen"


def test_queue_filters(client, session, agent):
    mine = answered(session, 1, 2)
    answered(session, 2, 3)
    services.take(session, mine, agent, datetime.now(UTC))
    session.commit()
    sign_in(client, agent)
    assert client.get("/queue?owner=me").text.count('<tr class="priority-') == 1
    assert client.get("/queue?owner=none").text.count('<tr class="priority-') == 1
    assert client.get("/queue?overdue=1").text.count('<tr class="priority-') == 0
    assert client.get("/queue?status=closed").text.count('<tr class="priority-') == 0


def test_two_agents_taking_the_same_case_at_once(db, session, agent):
    other = make_user(session, "zweite@example.com", "agent", "Bea Zweite")
    case_id = answered(session, 1, 1).id
    now = datetime.now(UTC)
    first, second = Session(db.engine), Session(db.engine)
    try:
        mine, theirs = first.get(Case, case_id), second.get(Case, case_id)
        services.take(first, mine, first.get(type(agent), agent.id), now)
        first.commit()
        with pytest.raises(StaleDataError):
            services.take(second, theirs, second.get(type(other), other.id), now)
        second.rollback()
        # Loading again, the second agent is told who has it.
        with pytest.raises(services.AlreadyTaken) as taken:
            services.take(second, second.get(Case, case_id), second.get(type(other), other.id), now)
        assert taken.value.owner.email == "agent@example.com"
    finally:
        first.close()
        second.close()
    session.expire_all()
    assert session.get(Case, case_id).owner_id == agent.id


def test_taking_a_case_someone_took_meanwhile_tells_who(client, session, agent):
    case = answered(session, 1, 1)
    other = make_user(session, "zweite@example.com", "agent", "Bea Zweite")
    sign_in(client, agent)
    page = client.get(f"/cases/{case.id}")
    services.take(session, case, other, datetime.now(UTC))
    session.commit()
    result = client.post(f"/cases/{case.id}/take", data={"csrf_token": csrf_token(page.text)}, follow_redirects=True)
    assert "Bea Zweite has already taken this case." in result.text


def test_agent_works_a_case_to_resolution_and_the_reply_arrives(client, session, agent, smtp):
    case = answered(session, 1, 2, "Das Paket war beschädigt")
    sign_in(client, agent)
    page = client.get(f"/cases/{case.id}")
    token = csrf_token(page.text)
    assert client.post(f"/cases/{case.id}/take", data={"csrf_token": token}).status_code == 302
    client.post(f"/cases/{case.id}/note", data={"csrf_token": token, "kind": "note", "text": "Lager fragen"})
    page = client.get(f"/cases/{case.id}")
    reply_key = page.text.split('name="reply_key" type="hidden" value="')[1].split('"')[0]
    reply = {
        "csrf_token": token,
        "reply_key": reply_key,
        "subject": "Ihr beschädigtes Paket",
        "text": "Es tut uns leid. Wir schicken Ersatz.",
    }
    assert client.post(f"/cases/{case.id}/reply", data=reply).status_code == 302
    again = client.post(f"/cases/{case.id}/reply", data=reply, follow_redirects=True)
    assert "This reply was sent already." in again.text
    session.expire_all()
    case = session.get(Case, case.id)
    assert case.status == "waiting" and case.first_contact_at is not None
    assert dispatch_due(session, datetime.now(UTC)).sent == 1
    received = smtp.by_recipient("kunde1@example.com")
    assert [m["Subject"] for m in received] == ["Ihr beschädigtes Paket"]
    assert "Wir schicken Ersatz." in received[0].get_content()
    assert received[0]["Reply-To"] == "agent@example.com"

    refused = client.post(
        f"/cases/{case.id}/status", data={"csrf_token": token, "status": "resolved", "version": case.version}
    )
    assert refused.status_code == 422 and "root cause" in refused.text
    client.post(
        f"/cases/{case.id}/root-cause", data={"csrf_token": token, "root_cause": "delivery", "version": case.version}
    )
    session.expire_all()
    version = session.get(Case, case.id).version
    done = client.post(
        f"/cases/{case.id}/status",
        data={"csrf_token": token, "status": "resolved", "version": version},
        follow_redirects=True,
    )
    assert "Status changed." in done.text
    session.expire_all()
    case = session.get(Case, case.id)
    assert case.status == "resolved" and case.resolved_at is not None and case.root_cause == "delivery"
    trail = session.scalars(select(AuditEvent).where(AuditEvent.entity_id == case.id).order_by(AuditEvent.id)).all()
    actions = [event.action for event in trail]
    assert actions[:2] == ["opened", "assigned"] and "note" in actions and "reply" in actions
    root = next(event for event in trail if event.action == "root_cause")
    assert root.before == {"root_cause": None} and root.after == {"root_cause": "delivery"}
    assert root.actor_id == agent.id
    assert trail[-1].before == {"status": "waiting"} and trail[-1].after == {"status": "resolved"}


def test_stale_form_is_refused_and_changes_nothing(client, session, agent):
    case = answered(session, 1, 2)
    sign_in(client, agent)
    token = csrf_token(client.get(f"/cases/{case.id}").text)
    old_version = case.version
    services.change_status(session, case, "in_progress", agent, datetime.now(UTC), None)
    session.commit()
    page = client.post(
        f"/cases/{case.id}/status",
        data={"csrf_token": token, "status": "wont_fix", "version": old_version},
        follow_redirects=True,
    )
    assert "changed this case a moment ago" in page.text
    session.expire_all()
    assert session.get(Case, case.id).status == "in_progress"


def test_overdue_case_is_escalated_once_per_level(session, manager, smtp):
    case = answered(session, 1, 0, amount=9_000)
    later = case.first_contact_due_at + timedelta(minutes=1)
    assert escalate_overdue(session, later) == 1
    assert escalate_overdue(session, later + timedelta(hours=1)) == 0
    dispatch_due(session, later)
    mails = [m for m in smtp.by_recipient("chefin@example.com") if "overdue" in m["Subject"]]
    assert len(mails) == 1 and f"Case {case.id} is overdue" in mails[0]["Subject"]
    session.expire_all()
    case = session.get(Case, case.id)
    assert case.escalation_level == 1
    # First contact made; later the resolution deadline passes: level 2, one more mail.
    services.add_note(session, case, manager, "angerufen", "contact", later)
    session.commit()
    assert escalate_overdue(session, case.resolution_due_at + timedelta(minutes=1)) == 1
    dispatch_due(session, case.resolution_due_at + timedelta(minutes=2))
    assert len([m for m in smtp.by_recipient("chefin@example.com") if "overdue" in m["Subject"]]) == 2


def test_roles_guard_the_pages(client, session, agent):
    case = answered(session, 1, 2)
    assert client.get("/queue").status_code == 302
    assert "/login" in client.get(f"/cases/{case.id}").headers["Location"]
    sign_in(client, agent)
    assert client.get("/queue").status_code == 200
    assert client.get("/queue/health").status_code == 403
    assert client.get("/cases/export.csv").status_code == 403


def test_forms_without_csrf_token_are_refused(client, session, agent):
    case = answered(session, 1, 2)
    sign_in(client, agent)
    page = client.post(f"/cases/{case.id}/note", data={"kind": "note", "text": "ohne Token"})
    assert page.status_code == 400
    assert session.scalar(select(AuditEvent).where(AuditEvent.action == "note")) is None


def test_a_session_cookie_cannot_be_reused_after_sign_out(app, client, session, agent):
    sign_in(client, agent)
    stolen = client.get_cookie("session").value
    token = csrf_token(client.get("/queue").text)
    client.post("/logout", data={"csrf_token": token})
    thief = app.test_client()
    thief.set_cookie("session", stolen)
    # The cookie is still correctly signed, but sign-out gave the user a new session token.
    page = thief.get("/queue")
    assert page.status_code == 302 and "/login" in page.headers["Location"]


def test_comment_with_markup_is_shown_as_text(client, session, agent):
    case = answered(session, 1, 1, '<script>alert("x")</script><b>laut</b>')
    sign_in(client, agent)
    for path in ("/queue", f"/cases/{case.id}"):
        text = client.get(path).text
        assert "<script>alert" not in text and "<b>laut</b>" not in text
        assert "&lt;script&gt;" in text


def test_manager_sees_queue_health_and_exports_csv(client, session, agent, manager):
    now = datetime.now(UTC)
    first = answered(session, 1, 2, "=HYPERLINK(evil)", now=now)
    answered(session, 2, 4, now=now)
    services.take(session, first, agent, now)
    services.add_note(session, first, agent, "angerufen", "contact", now + timedelta(hours=3))
    services.set_root_cause(session, first, "price", agent, now, None)
    services.change_status(session, first, "resolved", agent, now + timedelta(hours=5), None)
    session.commit()
    sign_in(client, manager)
    page = client.get("/queue/health")
    assert page.status_code == 200
    assert '<strong data-figure="open">1</strong>' in page.text
    assert "Alex Agent" in page.text or "agent@example.com" in page.text
    assert "3.0 h" in page.text and "5.0 h" in page.text
    export = client.get("/cases/export.csv?status=all")
    lines = export.text.strip().splitlines()
    assert export.mimetype == "text/csv" and len(lines) == 3
    assert lines[0].startswith("id,created_at,kind,score,status")
    assert "'=HYPERLINK(evil)" in export.text


def test_login_is_rate_limited(app, client, agent):
    from kundenpuls.extensions import limiter

    app.config["LOGIN_RATE_LIMIT"] = "3 per minute"
    limiter.reset()
    try:
        token = csrf_token(client.get("/login").text)
        codes = [
            client.post("/login", data={"email": agent.email, "password": "wrong", "csrf_token": token}).status_code
            for _ in range(4)
        ]
        assert codes == [401, 401, 401, 429]
    finally:
        limiter.reset()


def test_queue_speaks_german_to_a_german_browser(client, session, agent):
    answered(session, 1, 2, amount=500)
    sign_in(client, agent)
    # Requests in a test share the test's app context and so Flask-Babel's cached locale; forget it.
    flask_babel.refresh()
    page = client.get("/queue", headers={"Accept-Language": "de-DE,de;q=0.9"})
    assert "Warteschlange" in page.text and "Kritiker, Bewertung 2 (+30)" in page.text
    assert "500\xa0€ Umsatz in 12 Monaten" in page.text
