"""Admins edit surveys on /surveys; edits are audited and reach mail not yet sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from kundenpuls.audit import AuditEvent
from messaging.models import OutboxMessage
from surveys.jobs import create_due_invitations
from surveys.models import Invitation, Survey
from tests.conftest import csrf_token
from tests.feedback_helpers import make_user, sign_in


@pytest.fixture
def admin(session):
    return make_user(session, "admin@example.com", "admin", "Ada Admin")


def form_data(page_text: str, survey: Survey, **overrides) -> dict:
    data = {
        "csrf_token": csrf_token(page_text),
        "name": survey.name,
        "active": "y",
        "delay_days": survey.delay_days,
        "reminder_count": survey.reminder_count,
        "reminder_after_days": survey.reminder_after_days,
        "expiry_days": survey.expiry_days,
        "quiet_days": survey.quiet_days,
        "send_weekdays": survey.send_weekdays.split(","),
        "send_start": survey.send_start.strftime("%H:%M"),
        "send_end": survey.send_end.strftime("%H:%M"),
    }
    for locale in ("de", "en"):
        for name, value in survey.texts[locale].items():
            data[f"texts_{locale}-{name}"] = value
    data.update(overrides)
    return data


def test_only_admins_reach_the_survey_pages(client, session):
    agent = make_user(session, "agent@example.com", "agent")
    assert "/login" in client.get("/surveys").headers["Location"]
    sign_in(client, agent)
    assert client.get("/surveys").status_code == 403
    assert client.get("/surveys/1").status_code == 403


def test_edit_applies_to_queued_mail_and_is_audited(client, session, buy, admin):
    now = datetime.now(UTC)
    buy(purchased_at=now - timedelta(days=3, hours=1))
    create_due_invitations(session, now)
    session.commit()
    survey = session.scalars(select(Survey).where(Survey.kind == "nps")).one()
    sign_in(client, admin)
    page = client.get(f"/surveys/{survey.id}")
    assert page.status_code == 200 and "Wie zufrieden sind Sie mit uns?" in page.text
    data = form_data(page.text, survey, **{"texts_de-subject": "Neue Frage: Wie war Ihr Einkauf?", "send_end": "17:00"})
    saved = client.post(f"/surveys/{survey.id}", data=data, follow_redirects=True)
    assert "1 queued mails now use the new settings" in saved.text
    session.expire_all()
    message = session.scalars(select(OutboxMessage)).one()
    assert message.subject == "Neue Frage: Wie war Ihr Einkauf?"
    assert message.window_end.strftime("%H:%M") == "17:00"
    assert "Wie war Ihr Einkauf?" in message.raw or "=?utf-8?" in message.raw
    event = session.scalars(select(AuditEvent).where(AuditEvent.entity == "survey")).one()
    assert event.actor_id == admin.id
    assert event.before["de.subject"].startswith("Wie zufrieden") and event.after["send_end"] == "17:00"
    assert "de.subject" in client.get(f"/surveys/{survey.id}").text


def test_invalid_settings_are_refused_with_a_message(client, session, admin):
    survey = session.scalars(select(Survey).where(Survey.kind == "nps")).one()
    sign_in(client, admin)
    page = client.get(f"/surveys/{survey.id}")
    bad = form_data(page.text, survey, send_start="18:00", send_end="08:00", **{"texts_en-question": ""})
    answer = client.post(f"/surveys/{survey.id}", data=bad, headers={"Accept-Language": "en"})
    assert answer.status_code == 422
    assert "The window must end after it starts." in answer.text
    assert "This field is required." in answer.text
    session.expire_all()
    assert session.get(Survey, survey.id).send_end.strftime("%H:%M") == "18:00"
    assert session.scalar(select(AuditEvent)) is None


def test_paused_survey_invites_nobody(client, session, buy, admin):
    survey = session.scalars(select(Survey).where(Survey.kind == "nps")).one()
    sign_in(client, admin)
    page = client.get(f"/surveys/{survey.id}")
    data = form_data(page.text, survey)
    del data["active"]
    client.post(f"/surveys/{survey.id}", data=data)
    now = datetime.now(UTC)
    buy(purchased_at=now - timedelta(days=3, hours=1))
    create_due_invitations(session, now)
    assert session.scalar(select(Invitation)) is None


def test_previews_of_mail_and_page(client, session, admin):
    survey = session.scalars(select(Survey).where(Survey.kind == "nps")).one()
    sign_in(client, admin)
    mail = client.get(f"/surveys/{survey.id}/preview/mail?locale=en")
    assert "How are we doing? One question, one click" in mail.text
    assert "/s/preview?score=10" in mail.text
    html = client.get(f"/surveys/{survey.id}/preview/mail.html?locale=de&reminder=1")
    assert "vor einigen Tagen haben wir Sie" in html.text
    assert "sandbox" in html.headers["Content-Security-Policy"]
    page = client.get(f"/surveys/{survey.id}/preview/page?locale=de")
    assert "Wie wahrscheinlich ist es" in page.text and "disabled" in page.text


def test_new_survey_starts_paused_with_the_default_texts(client, session, admin):
    sign_in(client, admin)
    token = csrf_token(client.get("/surveys").text)
    created = client.post("/surveys", data={"csrf_token": token, "name": "Service-Umfrage", "key": "service"})
    assert created.status_code == 302
    survey = session.scalars(select(Survey).where(Survey.key == "service")).one()
    assert survey.active is False and survey.texts["de"]["question"].startswith("Wie wahrscheinlich")
    again = client.post("/surveys", data={"csrf_token": token, "name": "Doppelt", "key": "service"})
    assert again.status_code == 422 and "This key is taken." in again.text
