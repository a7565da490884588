"""Mail over real SMTP: what arrives, and that nothing is lost or doubled when the server misbehaves."""

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urlparse

from sqlalchemy import func, select

from customers.models import Customer
from messaging.models import DevMail, OutboxMessage
from messaging.outbox import dispatch_due
from surveys.jobs import create_due_invitations
from surveys.models import Invitation

BOUGHT = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
SEND = BOUGHT + timedelta(days=3)  # Thursday 10:30 Berlin


def invite_all(session, buy, n, locale="de"):
    for i in range(n):
        buy(f"O-{i}", f"C-{i}", f"kunde{i}@example.com", purchased_at=BOUGHT, locale=locale)
    assert create_due_invitations(session, SEND) == n


def test_invitation_mail_as_received(session, buy, smtp, client):
    buy(purchased_at=BOUGHT, name="Anna Becker")
    create_due_invitations(session, SEND)
    counts = dispatch_due(session, SEND)
    assert counts.sent == 1
    [mail] = smtp.messages
    invitation = session.scalars(select(Invitation)).one()
    assert mail["To"] == "anna@example.com"
    assert mail["From"] == "Kundenpuls <umfrage@kundenpuls.test>"
    assert mail["Subject"] == "Wie zufrieden sind Sie mit uns? Eine Frage, ein Klick"
    assert mail["Message-ID"] == f"<kp.invitation.{invitation.id}.0.{invitation.token[:10]}@kundenpuls.test>"
    assert mail["List-Unsubscribe"] == f"<http://kundenpuls.test/u/{invitation.token}>"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail.get_content_type() == "multipart/alternative"
    text = mail.get_body(("plain",)).get_content()
    html = mail.get_body(("html",)).get_content()
    assert "Guten Tag Anna Becker" in text
    assert "Wie wahrscheinlich ist es, dass Sie uns einem Freund oder Kollegen weiterempfehlen?" in html
    for part in (text, html):
        links = re.findall(r"http://kundenpuls\.test/s/[\w-]+\?score=(\d+)", part)
        assert links == [str(n) for n in range(11)]
    # The links work: score 7 opens the survey with 7 chosen.
    link = re.search(r"(http://kundenpuls\.test/s/[\w-]+\?score=7)", text).group(1)
    parsed = urlparse(link)
    page = client.get(f"{parsed.path}?{parsed.query}")
    assert page.status_code == 200
    assert re.search(r'value="7"\s+required\s+checked', page.text)
    assert session.get(Invitation, invitation.id).status == "sent"


def test_weekend_invitation_is_mailed_on_monday_morning(session, buy, smtp):
    buy(purchased_at=datetime(2026, 11, 4, 12, 0, tzinfo=UTC))
    saturday = datetime(2026, 11, 7, 12, 0, tzinfo=UTC)
    create_due_invitations(session, saturday)
    assert dispatch_due(session, saturday).sent == 0
    assert dispatch_due(session, datetime(2026, 11, 9, 6, 59, tzinfo=UTC)).sent == 0
    assert dispatch_due(session, datetime(2026, 11, 9, 7, 0, tzinfo=UTC)).sent == 1
    assert len(smtp.messages) == 1


def test_a_due_mail_found_after_hours_waits_for_the_next_window(session, buy, smtp):
    buy(purchased_at=BOUGHT)
    create_due_invitations(session, SEND)
    evening = datetime(2026, 11, 5, 19, 0, tzinfo=UTC)  # Thursday 20:00 Berlin: the sender ran late
    counts = dispatch_due(session, evening)
    assert (counts.sent, counts.deferred) == (0, 1)
    assert smtp.messages == []
    assert session.scalars(select(OutboxMessage)).one().next_attempt_at == datetime(2026, 11, 6, 7, 0, tzinfo=UTC)
    assert dispatch_due(session, datetime(2026, 11, 6, 7, 0, tzinfo=UTC)).sent == 1


def test_smtp_stopped_mid_batch_loses_and_doubles_nothing(session, buy, smtp):
    invite_all(session, buy, 12)
    smtp.stop_after = 5
    counts = dispatch_due(session, SEND)
    # The server's "421 shutting down" sends its message back as is; the rest wait for the server with backoff.
    assert (counts.sent, counts.throttled, counts.retried) == (5, 1, 6)
    assert len(smtp.messages) == 5
    # Still down: the rows wait, nothing is marked sent.
    assert dispatch_due(session, SEND + timedelta(minutes=5)).sent == 0
    smtp.start()
    counts = dispatch_due(session, SEND + timedelta(hours=3))
    assert counts.sent == 7
    ids = [m["Message-ID"] for m in smtp.messages]
    assert len(ids) == 12 and len(set(ids)) == 12
    assert sorted(m["To"] for m in smtp.messages) == sorted(f"kunde{i}@example.com" for i in range(12))
    statuses = session.scalars(select(OutboxMessage.status)).all()
    assert statuses == ["sent"] * 12


def test_temporary_failure_is_retried_with_backoff(session, buy, smtp):
    """A 4xx about one recipient (greylisting) is about that message: it waits and counts an attempt."""
    invite_all(session, buy, 1)
    smtp.reject["kunde0@example.com"] = "451 4.7.1 greylisted, try again later"
    counts = dispatch_due(session, SEND)
    assert counts.retried == 1
    message = session.scalars(select(OutboxMessage)).one()
    assert message.status == "pending" and message.attempts == 1
    assert message.last_error.startswith("451")
    assert message.next_attempt_at == SEND + timedelta(minutes=1)
    assert dispatch_due(session, SEND + timedelta(seconds=30)).retried == 0  # not due yet
    del smtp.reject["kunde0@example.com"]
    assert dispatch_due(session, SEND + timedelta(minutes=1)).sent == 1
    assert len(smtp.messages) == 1


def test_permanent_refusal_marks_failed_and_stops_mailing_the_address(session, buy, smtp):
    invite_all(session, buy, 2)
    smtp.reject["kunde0@example.com"] = "550 5.1.1 mailbox unknown"
    counts = dispatch_due(session, SEND)
    assert (counts.sent, counts.failed) == (1, 1)
    failed = session.scalars(select(OutboxMessage).where(OutboxMessage.status == "failed")).one()
    assert "550" in failed.last_error and "mailbox unknown" in failed.last_error
    customer = session.scalars(select(Customer).where(Customer.email == "kunde0@example.com")).one()
    assert customer.email_invalid_at == SEND


def test_without_smtp_mail_goes_to_the_dev_mailbox(session, buy, client, staff):
    buy(purchased_at=BOUGHT)
    create_due_invitations(session, SEND)
    assert dispatch_due(session, SEND).sent == 1
    stored = session.scalars(select(DevMail)).one()
    assert stored.recipient == "anna@example.com"
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in stored.raw
    from tests.conftest import csrf_token

    token = csrf_token(client.get("/login").text)
    client.post("/login", data={"email": staff.email, "password": "correct horse battery", "csrf_token": token})
    page = client.get("/mailbox")
    assert page.status_code == 200 and stored.subject in page.text
    detail = client.get(f"/mailbox/{stored.id}")
    assert "/s/" in detail.text and "?score=10" in detail.text


def test_two_senders_at_once_send_every_mail_exactly_once(app, session, buy, smtp, concurrently, postgresql_only):
    invite_all(session, buy, 120)
    app.config["OUTBOX_BATCH_SIZE"] = 10
    results = concurrently(lambda s: dispatch_due(s, SEND).sent, 2)
    assert sum(results) == 120
    assert all(r > 0 for r in results), results
    ids = [m["Message-ID"] for m in smtp.messages]
    assert len(ids) == 120 and len(set(ids)) == 120
    assert session.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "sent")) == 120


def test_staff_see_failed_mail_with_reason_and_can_send_it_again(session, buy, smtp, client, staff):
    from tests.conftest import csrf_token, next_business_morning

    invite_all(session, buy, 2)
    smtp.reject["kunde1@example.com"] = "550 5.1.1 mailbox unknown"
    dispatch_due(session, SEND)
    token = csrf_token(client.get("/login").text)
    client.post("/login", data={"email": staff.email, "password": "correct horse battery", "csrf_token": token})
    page = client.get("/outbox")
    assert page.status_code == 200
    assert "kunde1@example.com" in page.text and "550 mailbox unknown" in page.text.replace("5.1.1 ", "")
    failed = session.scalars(select(OutboxMessage).where(OutboxMessage.status == "failed")).one()
    del smtp.reject["kunde1@example.com"]
    client.post(f"/outbox/{failed.id}/retry", data={"csrf_token": token})
    session.expire_all()
    assert dispatch_due(session, next_business_morning(datetime.now(UTC))).sent == 1
    assert sorted(m["To"] for m in smtp.messages) == ["kunde0@example.com", "kunde1@example.com"]
