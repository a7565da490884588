"""The customer's side: the survey page, answering once, unsubscribing."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, func, select

from analytics.models import NpsDaily, PendingAnswer
from feedback.models import Case
from integrations.events import forget_endpoints, subscribers
from integrations.models import WebhookDelivery, WebhookEndpoint
from messaging.models import OutboxMessage
from messaging.outbox import dispatch_due
from surveys.forms import answer_form_token
from surveys.jobs import create_due_invitations
from surveys.models import Invitation, Response
from surveys.signals import response_submitted
from tests.conftest import csrf_token, next_business_morning


@pytest.fixture
def invitation(session, buy):
    """An invitation created just now, so it is open in real time."""
    now = datetime.now(UTC)
    buy(purchased_at=now - timedelta(days=3, hours=1))
    create_due_invitations(session, now)
    return session.scalars(select(Invitation)).one()


def answer(client, token, score, comment="", with_csrf=True):
    data = {"score": score, "comment": comment}
    if with_csrf:
        data["csrf_token"] = csrf_token(client.get(f"/s/{token}").text)
    return client.post(f"/s/{token}", data=data)


def responses(session):
    return session.scalars(select(Response)).all()


def test_page_in_customer_language_with_score_preselected(client, invitation):
    page = client.get(f"/s/{invitation.token}?score=8")
    assert page.status_code == 200
    assert '<html lang="de">' in page.text
    assert "Wie wahrscheinlich ist es, dass Sie uns einem Freund oder Kollegen weiterempfehlen?" in page.text
    assert 'value="8" required checked' in page.text
    assert page.text.count("checked") == 1
    assert 'name="viewport"' in page.text
    assert page.headers["Referrer-Policy"] == "no-referrer"


def test_get_never_stores_anything(client, session, invitation):
    for score in range(11):
        assert client.get(f"/s/{invitation.token}?score={score}").status_code == 200
    assert responses(session) == []
    assert session.get(Invitation, invitation.id).status == "pending"


def test_answer_is_stored_once_and_stops_reminders(client, session, invitation):
    received = []

    def listen(response, **_):
        received.append(response.score)

    token = csrf_token(client.get(f"/s/{invitation.token}").text)
    # Only this test's receiver comes and goes: the app's own receivers (cases, rollup) stay connected.
    with response_submitted.connected_to(listen):
        page = client.post(
            f"/s/{invitation.token}", data={"score": 3, "comment": "Lieferung kam zu spät", "csrf_token": token}
        )
    assert page.status_code == 200
    assert "Vielen Dank für Ihre Antwort!" in page.text
    [stored] = responses(session)
    assert (stored.score, stored.comment, stored.locale, stored.nps_class) == (
        3,
        "Lieferung kam zu spät",
        "de",
        "detractor",
    )
    assert received == [3]
    assert session.get(Invitation, invitation.id).status == "answered"
    assert dispatch_due(session, next_business_morning(datetime.now(UTC))).cancelled == 1  # no mail after answering

    again = client.post(f"/s/{invitation.token}", data={"score": 10, "csrf_token": token})
    assert again.status_code == 409
    assert "bereits beantwortet" in again.text
    assert [(r.score, r.comment) for r in responses(session)] == [(3, "Lieferung kam zu spät")]
    assert "bereits beantwortet" in client.get(f"/s/{invitation.token}").text


def test_comment_is_optional(client, session, invitation):
    assert answer(client, invitation.token, 10).status_code == 200
    assert responses(session)[0].comment is None


def test_score_out_of_range_or_missing_is_refused_with_a_message(client, session, invitation):
    for bad in (11, -1, "zehn"):
        page = answer(client, invitation.token, bad)
        assert page.status_code == 422
        assert "Bitte wählen Sie einen Wert von 0 bis 10." in page.text
    page = client.post(
        f"/s/{invitation.token}", data={"csrf_token": csrf_token(client.get(f"/s/{invitation.token}").text)}
    )
    assert page.status_code == 422
    assert responses(session) == []


def test_oversized_comment_is_refused_and_kept_in_the_form(client, session, invitation):
    long_comment = "x" * 5001
    page = answer(client, invitation.token, 6, long_comment)
    assert page.status_code == 422
    assert "weniger als 5000 Zeichen" in page.text
    assert long_comment in page.text
    assert responses(session) == []


def test_survey_pages_set_no_cookie(client, invitation):
    """Customers get no session: nothing to consent to, nothing a shared phone keeps."""
    page = client.get(f"/s/{invitation.token}?score=9")
    assert "Set-Cookie" not in page.headers
    thanks = client.post(f"/s/{invitation.token}", data={"score": 9, "csrf_token": csrf_token(page.text)})
    assert thanks.status_code == 200
    assert "Set-Cookie" not in thanks.headers
    assert client.get_cookie("session") is None


def test_form_token_of_another_invitation_is_refused(client, session, buy, invitation):
    other_token = csrf_token(client.get(f"/s/{invitation.token}").text)
    buy(
        order_id="O-2",
        external_id="C-2",
        email="zweite@example.com",
        purchased_at=datetime.now(UTC) - timedelta(days=3, hours=1),
    )
    create_due_invitations(session, datetime.now(UTC))
    second = session.scalars(select(Invitation).where(Invitation.id != invitation.id)).one()
    page = client.post(f"/s/{second.token}", data={"score": 9, "csrf_token": other_token})
    assert page.status_code == 400
    assert responses(session) == []


def test_missing_csrf_token_is_refused(client, session, invitation):
    page = answer(client, invitation.token, 9, with_csrf=False)
    assert page.status_code == 400
    assert "Formular ist abgelaufen" in page.text or "form has expired" in page.text
    assert responses(session) == []


def test_comment_with_markup_is_shown_as_text(client, session, invitation):
    answer(client, invitation.token, 2, '<script>alert("x")</script>')
    assert responses(session)[0].comment == '<script>alert("x")</script>'


def test_unknown_token_is_404_page(client):
    page = client.get("/s/no-such-token", headers={"Accept-Language": "de"})
    assert page.status_code == 404
    assert "Diese Seite gibt es nicht." in page.text


def test_expired_invitation_is_410_page(client, session, invitation):
    token = csrf_token(client.get(f"/s/{invitation.token}").text)
    invitation.expires_at = datetime.now(UTC) - timedelta(minutes=1)
    session.commit()
    page = client.get(f"/s/{invitation.token}?score=5")
    assert page.status_code == 410
    assert "Diese Umfrage ist beendet." in page.text
    assert client.post(f"/s/{invitation.token}", data={"score": 5, "csrf_token": token}).status_code == 410
    assert responses(session) == []


def test_one_click_unsubscribe_without_csrf(client, session, invitation):
    assert client.get(f"/u/{invitation.token}").status_code == 200
    assert invitation.customer.unsubscribed_at is None  # GET changes nothing
    page = client.post(f"/u/{invitation.token}", data={"List-Unsubscribe": "One-Click"})
    assert page.status_code == 200
    assert "Sie sind abgemeldet." in page.text
    session.expire_all()
    assert session.get(Invitation, invitation.id).customer.unsubscribed_at is not None
    assert session.scalars(select(OutboxMessage.status)).all() == ["cancelled"]
    assert client.post(f"/u/{invitation.token}").status_code == 200  # twice is fine


def test_english_customer_sees_english(client, session, buy):
    now = datetime.now(UTC)
    buy(purchased_at=now - timedelta(days=3, hours=1), locale="en")
    create_due_invitations(session, now)
    token = session.scalars(select(Invitation.token)).one()
    page = client.get(f"/s/{token}")
    assert '<html lang="en">' in page.text
    assert "How likely are you to recommend us to a friend or colleague?" in page.text
    assert "Send answer" in page.text


def test_healthz(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_answers_counted_once_under_a_race(session, invitation):
    from surveys.services import AlreadyAnswered, record_response

    now = datetime.now(UTC)
    record_response(session, invitation, 9, None, now)
    session.commit()
    invitation.status = "sent"  # a second request that read the invitation before the first committed
    with pytest.raises(AlreadyAnswered):
        record_response(session, invitation, 4, None, now)
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Response)) == 1


def post_answer_alone(client, session, token, score, comment=""):
    """Post an answer with the session at rest, as in production, where each request has a session of its own, and
    with the webhook subscriptions read, as in a worker that has been running."""
    form_token = csrf_token(client.get(f"/s/{token}").text)
    subscribers(session, "response.created")
    session.commit()
    return client.post(f"/s/{token}", data={"score": score, "comment": comment, "csrf_token": form_token})


def test_an_answer_nothing_else_is_written_for_is_stored_counted_and_queued(client, session, invitation):
    modes = []  # on PostgreSQL it runs in autocommit mode: the connection must go back to the pool without it

    def checked_in(dbapi_connection, record):
        modes.append(getattr(dbapi_connection, "autocommit", False))

    event.listen(session.get_bind(), "checkin", checked_in)
    try:
        page = post_answer_alone(client, session, invitation.token, 10, "Alles bestens")
    finally:
        event.remove(session.get_bind(), "checkin", checked_in)
    assert modes and not any(modes)
    assert page.status_code == 200 and "Vielen Dank" in page.text
    [stored] = responses(session)
    assert (stored.score, stored.comment) == (10, "Alles bestens")
    assert session.get(Invitation, invitation.id).status == "answered"
    assert session.scalar(select(func.sum(NpsDaily.promoters))) == 1
    assert session.scalars(select(PendingAnswer.response_id)).all() == [stored.id]
    assert session.scalar(select(func.count()).select_from(Case)) == 0
    again = client.post(f"/s/{invitation.token}", data={"score": 3, "csrf_token": answer_form_token(invitation.token)})
    assert again.status_code == 409
    assert [r.score for r in responses(session)] == [10]


def test_an_answer_and_its_case_are_stored_together_or_not_at_all(client, session, invitation, monkeypatch):
    def fail(*args, **kwargs):
        raise RuntimeError("audit trail unavailable")

    monkeypatch.setattr("feedback.services.audit.record", fail)
    assert post_answer_alone(client, session, invitation.token, 3, "Zu spät").status_code == 500
    session.rollback()
    assert responses(session) == []
    assert session.get(Invitation, invitation.id).status == "pending"
    assert session.scalar(select(func.count()).select_from(NpsDaily)) == 0

    monkeypatch.undo()
    assert post_answer_alone(client, session, invitation.token, 3, "Zu spät").status_code == 200
    [stored] = responses(session)
    assert session.scalars(select(Case.response_id)).all() == [stored.id]


def test_a_promoter_answer_and_its_webhook_event_are_stored_together(client, session, invitation, monkeypatch):
    session.add(
        WebhookEndpoint(
            url="http://127.0.0.1:9/hook", secret="s", events=",response.created,", created_at=datetime.now(UTC)
        )
    )
    session.commit()
    forget_endpoints()

    def fail(*args, **kwargs):
        raise RuntimeError("event queue unavailable")

    monkeypatch.setattr("integrations.events.emit", fail)
    assert post_answer_alone(client, session, invitation.token, 10).status_code == 500
    session.rollback()
    assert responses(session) == []

    monkeypatch.undo()
    assert post_answer_alone(client, session, invitation.token, 10).status_code == 200
    [stored] = responses(session)
    assert session.scalars(select(WebhookDelivery.event_id)).all() == [f"response.created.{stored.id}"]
