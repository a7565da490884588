"""Cancellations via the API, the churn-reason survey, and the reason taxonomy as data."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from app.scheduler import tick
from customers.models import Cancellation, Customer
from feedback.models import Case
from messaging.models import OutboxMessage
from surveys.models import ChurnReason, Invitation, Response, Survey
from surveys.reasons import set_retired, update_reason
from tests.conftest import next_business_morning


def cancel(api, external_id="C-1", at=None, reason="contract ended"):
    body = {"customer_external_id": external_id, "cancelled_at": (at or datetime.now(UTC)).isoformat()}
    if reason is not None:
        body["reason"] = reason
    return api.post("/api/v1/cancellations", body)


def churn_invitation(session) -> Invitation:
    return session.scalars(
        select(Invitation).join(Survey, Survey.id == Invitation.survey_id).where(Survey.kind == "churn")
    ).one()


def reason_ids(session, *keys) -> list[int]:
    return [session.scalars(select(ChurnReason.id).where(ChurnReason.key == key)).one() for key in keys]


def test_a_cancellation_sends_exactly_one_churn_survey_mail(session, api, buy, smtp):
    buy(purchased_at=datetime.now(UTC) - timedelta(days=200), name="Anna Becker")
    first = cancel(api)
    again = cancel(api, at=datetime.now(UTC) - timedelta(minutes=5))
    assert first.status_code == 201, first.json
    assert first.json["lifecycle_phase"] == "churned"
    assert again.status_code == 200
    assert again.json["id"] == first.json["id"]
    assert session.scalar(select(func.count()).select_from(Cancellation)) == 1

    morning = next_business_morning(datetime.now(UTC))
    tick(morning)
    tick(morning + timedelta(minutes=5))
    [mail] = smtp.messages
    invitation = churn_invitation(session)
    assert mail["To"] == "anna@example.com"
    assert mail["Subject"] == "Schade, dass Sie gehen – verraten Sie uns, warum?"
    assert mail["List-Unsubscribe"] == f"<http://kundenpuls.test/u/{invitation.token}>"
    text = mail.get_body(("plain",)).get_content()
    assert "Guten Tag Anna Becker" in text
    assert f"Gründe angeben: http://kundenpuls.test/s/{invitation.token}" in text
    assert "?score=" not in text
    assert invitation.lifecycle_change.to_phase == "churned"


def test_cancellation_errors_are_problem_json(session, api, buy):
    buy()
    unknown = cancel(api, external_id="NOBODY")
    assert unknown.status_code == 404
    assert unknown.mimetype == "application/problem+json"
    assert "NOBODY" in unknown.json["detail"]
    future = cancel(api, at=datetime.now(UTC) + timedelta(days=2))
    assert future.status_code == 422
    assert future.json["errors"] == [{"field": "cancelled_at", "message": "cancelled_at lies in the future"}]
    missing = api.post("/api/v1/cancellations", {"cancelled_at": datetime.now(UTC).isoformat()})
    assert missing.status_code == 422
    assert missing.json["errors"][0]["field"] == "customer_external_id"
    bad_date = api.post("/api/v1/cancellations", {"customer_external_id": "C-1", "cancelled_at": "gestern"})
    assert bad_date.status_code == 422
    assert session.scalar(select(func.count()).select_from(Cancellation)) == 0
    assert session.scalars(select(Customer.lifecycle_phase)).one() == "new"


def test_no_churn_survey_for_unsubscribed_customers_or_when_turned_off(session, api, buy, client):
    buy()
    buy("O-2", "C-2", "ben@example.com")
    session.scalars(select(Customer).where(Customer.external_id == "C-2")).one().unsubscribed_at = datetime.now(UTC)
    session.commit()
    cancel(api, "C-1")
    cancel(api, "C-2")
    survey = session.scalars(select(Survey).where(Survey.kind == "churn")).one()
    survey.trigger_cancellation = False
    session.commit()
    tick(next_business_morning(datetime.now(UTC)))
    survey = session.scalars(select(Survey).where(Survey.kind == "churn")).one()
    assert session.scalar(select(func.count()).select_from(Invitation).where(Invitation.survey_id == survey.id)) == 0
    survey.trigger_cancellation = True
    session.commit()
    tick(next_business_morning(datetime.now(UTC)))
    assert churn_invitation(session).customer.external_id == "C-1"


def test_cancelling_stops_nps_mail_not_sent_yet(session, api, buy):
    from surveys.jobs import create_due_invitations

    buy(purchased_at=datetime.now(UTC) - timedelta(days=3, hours=1))
    create_due_invitations(session, datetime.now(UTC))
    session.commit()
    nps = session.scalars(select(Invitation)).one()
    assert nps.status == "pending"
    cancel(api)
    session.refresh(nps)
    assert nps.status == "cancelled"
    mail = session.scalars(select(OutboxMessage).where(OutboxMessage.invitation_id == nps.id)).one()
    assert (mail.status, mail.last_error) == ("cancelled", "customer cancelled")


def answer_page(client, session, api, buy, locale="de"):
    buy(locale=locale)
    cancel(api)
    tick(next_business_morning(datetime.now(UTC)))
    invitation = churn_invitation(session)
    page = client.get(f"/s/{invitation.token}")
    assert page.status_code == 200
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    return invitation, page, token


def test_churn_page_offers_the_reasons_in_the_customers_language(session, api, buy, client):
    _, page, _ = answer_page(client, session, api, buy, locale="en")
    assert "Why do you no longer buy from us?" in page.text
    labels = re.findall(r'type="checkbox" value="\d+"> <span>([^<]+)</span>', page.text)
    assert labels == [
        "Price",
        "Product quality",
        "Service / support",
        "Delivery",
        "Switched to a competitor",
        "No longer needed",
        "Missing feature or product",
        "Other",
    ]
    assert "Would you come back if …?" in page.text


def test_an_empty_churn_answer_gets_a_friendly_message_and_stores_nothing(session, api, buy, client):
    invitation, _, token = answer_page(client, session, api, buy)
    page = client.post(f"/s/{invitation.token}", data={"csrf_token": token, "comment": "  "})
    assert page.status_code == 422
    assert "Bitte kreuzen Sie mindestens einen Grund an oder schreiben Sie uns in eigenen Worten." in page.text
    assert session.scalar(select(func.count()).select_from(Response)) == 0
    unknown = client.post(f"/s/{invitation.token}", data={"csrf_token": token, "reasons": "9999"})
    assert unknown.status_code == 422
    assert session.scalar(select(func.count()).select_from(Response)) == 0


def test_a_churn_answer_is_stored_once_and_opens_a_case(session, api, buy, client):
    invitation, _, token = answer_page(client, session, api, buy)
    price, competitor = reason_ids(session, "price", "competitor")
    form = {
        "csrf_token": token,
        "reasons": [str(price), str(competitor)],
        "main": str(competitor),
        "comment": "Beim Wettbewerber 20 % günstiger",
        "comeback": "Wenn der Versand kostenlos wäre",
    }
    page = client.post(f"/s/{invitation.token}", data=form)
    assert page.status_code == 200
    assert "Vielen Dank für Ihre Offenheit!" in page.text
    again = client.post(f"/s/{invitation.token}", data=form)
    assert again.status_code == 409
    response = session.scalars(select(Response)).one()
    assert response.score is None
    assert (response.comment, response.comeback) == (
        "Beim Wettbewerber 20 % günstiger",
        "Wenn der Versand kostenlos wäre",
    )
    assert sorted((r.reason.key, r.main) for r in response.reasons) == [("competitor", True), ("price", False)]
    case = session.scalars(select(Case).where(Case.response_id == response.id)).one()
    assert case.kind == "churn"
    # An NPS-shaped post cannot answer a churn invitation.
    assert client.post(f"/s/{invitation.token}", data={"csrf_token": "x", "score": "3"}).status_code == 400


def test_a_single_ticked_reason_is_the_main_one(session, api, buy, client):
    invitation, _, token = answer_page(client, session, api, buy)
    [delivery] = reason_ids(session, "delivery")
    assert (
        client.post(f"/s/{invitation.token}", data={"csrf_token": token, "reasons": str(delivery)}).status_code == 200
    )
    [(key, main)] = [(r.reason.key, r.main) for r in session.scalars(select(Response)).one().reasons]
    assert (key, main) == ("delivery", True)


def test_renaming_and_retiring_a_reason_keeps_old_answers(session, api, buy, client, staff):
    staff_id = staff.id
    invitation, _, token = answer_page(client, session, api, buy)
    [price] = reason_ids(session, "price")
    client.post(f"/s/{invitation.token}", data={"csrf_token": token, "reasons": str(price)})
    reason = session.get(ChurnReason, price)
    now = datetime.now(UTC)
    update_reason(session, reason, {"label_de": "Preis zu hoch", "label_en": "Too expensive"}, staff_id, now)
    set_retired(session, reason, True, staff_id, now)
    session.commit()
    response = session.scalars(select(Response)).one()
    assert [r.reason.label("en") for r in response.reasons] == ["Too expensive"]
    # No longer offered to the next customer ...
    buy("O-2", "C-2", "ben@example.com")
    cancel(api, "C-2")
    tick(next_business_morning(datetime.now(UTC)) + timedelta(days=8))
    second = session.scalars(
        select(Invitation).join(Customer, Customer.id == Invitation.customer_id).where(Customer.external_id == "C-2")
    ).one()
    page = client.get(f"/s/{second.token}")
    assert "Preis zu hoch" not in page.text and "Produktqualität" in page.text
    token2 = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    assert client.post(f"/s/{second.token}", data={"csrf_token": token2, "reasons": str(price)}).status_code == 422


def test_the_answer_shows_on_the_case_and_the_customer_page_with_the_win_back_measure(session, api, buy, client, staff):
    from types import SimpleNamespace

    import flask
    import flask_babel

    from analytics.models import InvitationsDaily
    from tests.feedback_helpers import sign_in

    staff = SimpleNamespace(email=staff.email)  # the scheduler's tick ends the test's session
    invitation, _, token = answer_page(client, session, api, buy)
    price, competitor = reason_ids(session, "price", "competitor")
    form = {
        "csrf_token": token,
        "reasons": [str(price), str(competitor)],
        "main": str(competitor),
        "comment": "Zu teuer",
    }
    assert client.post(f"/s/{invitation.token}", data=form).status_code == 200
    survey_id, customer_id = invitation.survey_id, invitation.customer_id
    case = session.scalars(select(Case)).one()
    # The churn survey's mailing day counts the answer; the NPS figures stay untouched.
    sent, answered = session.execute(
        select(func.sum(InvitationsDaily.sent), func.sum(InvitationsDaily.answered)).where(
            InvitationsDaily.survey_id == survey_id
        )
    ).one()
    assert (sent, answered) == (1, 1)

    flask.g.pop("locale", None)  # requests in a test share one app context: forget the survey page's language
    flask_babel.refresh()
    sign_in(client, staff)
    case_page = client.get(f"/cases/{case.id}", headers={"Accept-Language": "en"}).text
    assert "<strong>Switched to a competitor</strong> (main)" in case_page
    assert f'href="/customers/{customer_id}"' in case_page
    customer_page = client.get(f"/customers/{customer_id}", headers={"Accept-Language": "en"})
    assert customer_page.status_code == 200
    text = customer_page.text
    assert 'data-phase="churned"' in text
    assert "Win-back offer sized to the former customer value" in text
    assert "Offer a loyalty discount or a price match on the next order" in text
    assert text.index('data-reason="competitor"') < text.index('data-reason="price"')  # main reason first
    assert f'href="/cases/{case.id}"' in text
    assert client.get("/customers/999999").status_code == 404
    # Buying again ends the win-back: the customer is reactivated and the measure disappears.
    buy("O-9", purchased_at=datetime.now(UTC))
    again = client.get(f"/customers/{customer_id}", headers={"Accept-Language": "en"}).text
    assert 'data-phase="existing"' in again
    assert "Win-back offer" not in again


def test_an_admin_renames_and_retires_a_churn_reason_on_its_page(session, client):
    """The churn reasons' page uses the shared list parts (templates/surveys/_options.html): its forms post to
    the reason's own actions."""
    from tests.conftest import csrf_token
    from tests.feedback_helpers import make_user, sign_in

    sign_in(client, make_user(session, "admin@example.com", "admin"))
    [price] = reason_ids(session, "price")
    page = client.get("/surveys/reasons", headers={"Accept-Language": "en"}).text
    assert f'action="/surveys/reasons/{price}/retire"' in page and f'action="/surveys/reasons/{price}"' in page
    token = csrf_token(page)
    assert client.post(f"/surveys/reasons/{price}/retire", data={"csrf_token": token, "retire": "1"}).status_code == 302
    session.expire_all()
    assert session.get(ChurnReason, price).retired_at is not None
    assert "Offer again" in client.get("/surveys/reasons", headers={"Accept-Language": "en"}).text
